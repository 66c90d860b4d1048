# `nix build .#sbom`: a CycloneDX 1.5 SBOM per image, result/VARIANT.cdx.json, the Docker path's
# recipe (docker/sbom.sh) with this flake's own ingredients: cargo-cyclonedx lists the crates of
# the build's target from the vendored Cargo.lock; docker/sbom.py adds the Rust standard library,
# rustc's musl, pkgsStatic.tini and its musl (pkgsStatic's libc), and UPX where nix/image.json packs a binary, and
# makes each image (its config digest) the SBOM's subject.
{ lib, craneLib, commonArgs, target, images, imageSpec, cargo-cyclonedx, python3, binutils-unwrapped, upx, pkgsStatic }:
craneLib.mkCargoDerivation (commonArgs // {
  pnameSuffix = "-sbom";
  # Nothing is compiled: cargo-cyclonedx reads Cargo.toml and the vendored Cargo.lock only.
  cargoArtifacts = null;
  doInstallCargoArtifacts = false;
  nativeBuildInputs = [ cargo-cyclonedx python3 binutils-unwrapped ];
  buildPhaseCargoCommand = ''
    cargo cyclonedx --format json --spec-version 1.5 --target ${target} --no-build-deps \
      --override-filename tinyweb.cargo.cdx
  '';
  installPhaseCommand = ''
    mkdir -p $out
    rust=$(rustc --version | cut -d' ' -f2)
    # rustc's self-contained musl records its version as a string in libc.a.
    rust_musl=$(strings "$(rustc --print sysroot)/lib/rustlib/${target}/lib/self-contained/libc.a" |
      grep -xE '1\.[0-9]+\.[0-9]+' | sort -u)
    ${lib.concatMapStrings (variant: ''
      python3 ${../docker/sbom.py} tinyweb.cargo.cdx.json ${./image.json} ${variant} \
        ${images."image-${variant}"} $out/${variant}.cdx.json --checkout "$PWD" \
        --rust "$rust" --rust-musl "$rust_musl" --tini ${lib.getVersion pkgsStatic.tini} \
        --tini-musl ${lib.getVersion pkgsStatic.musl} --upx ${lib.getVersion upx}
    '') (lib.attrNames imageSpec.variants)}
  '';
})
