# Everything `nix flake check` builds: the cargo checks (crane), Nix hygiene, closure, layout and
# size claims on the binaries and images, a sandbox smoke test of each binary, and the NixOS VM
# test (the only one that needs KVM). Returns a set of checks, so it is imported.
{ pkgs, craneLib, crate, binaries, images, imageSpec, tini, advisory-db, flakeRoot, stdLock, rustSrc }:
let
  inherit (pkgs) lib runCommand;
  inherit (crate) commonArgs cargoArtifacts;
  inherit (commonArgs) src;

  cargoChecks = {
    tinyweb-clippy = craneLib.cargoClippy (commonArgs // {
      inherit cargoArtifacts;
      cargoClippyExtraArgs = "--all-targets -- --deny warnings";
    });
    tinyweb-fmt = craneLib.cargoFmt { inherit src; };
    # Integration tests spawn the built binary and talk to it over loopback, which the sandbox has;
    # the PID 1 test runs it under `unshare --map-root-user --fork --pid` (util-linux).
    tinyweb-test = craneLib.cargoTest (commonArgs // {
      inherit cargoArtifacts;
      nativeBuildInputs = [ pkgs.util-linux ];
    });
    tinyweb-audit = craneLib.cargoAudit { inherit src advisory-db; };
    # `bans licenses sources` (crane's default) against deny.toml, as tests/run.sh runs it.
    tinyweb-deny = craneLib.cargoDeny { inherit src; };
  };

  nixFiles = lib.sources.sourceFilesBySuffices flakeRoot [ ".nix" ];
  hygieneChecks = {
    # The flake's `formatter`, in check mode; nix/lint.sh runs the same tools without Nix.
    tinyweb-nixpkgs-fmt = runCommand "tinyweb-nixpkgs-fmt" { nativeBuildInputs = [ pkgs.nixpkgs-fmt ]; } ''
      nixpkgs-fmt --check ${nixFiles}
      touch $out
    '';
    tinyweb-deadnix = runCommand "tinyweb-deadnix" { nativeBuildInputs = [ pkgs.deadnix ]; } ''
      deadnix --fail ${nixFiles}
      touch $out
    '';
  };

  # "Closure is only the binary": Nix registers no other store path, and the bytes hold no store
  # path text at all (crane's checks/illegalReferences.nix test), which also rules out the
  # self-reference that would pull a store layer into an image. crane's scrubbed placeholder
  # (eeee...) is allowed. Compressed debug sections would hide paths from Nix and `strings` alike
  # (crane's remap hook turns compression off for that reason), so a decompressed copy is scanned.
  # The UPX inputs are scanned, not the packed files: packed bytes would hide references.
  closureCheck = name: drv: runCommand "${name}-closure"
    {
      nativeBuildInputs = [ pkgs.binutils-unwrapped ];
      closure = pkgs.writeClosure [ drv ];
    } ''
    echo "runtime closure of ${name}:"
    cat $closure
    [ "$(wc -l < $closure)" -eq 1 ] || { echo "FAIL: ${name} references other store paths"; exit 1; }
    mkdir scan
    for bin in ${drv}/bin/*; do
      objcopy --decompress-debug-sections "$bin" "scan/$(basename "$bin")"
    done
    if strings scan/* | grep -o '${builtins.storeDir}/[a-z0-9]\{32\}' | grep -v '/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee$'; then
      echo "FAIL: ${name} holds the store paths above"
      exit 1
    fi
    touch $out
  '';

  # Starts the binary inside the build sandbox and gets `Hello, World!` from it over loopback.
  smokeCheck = name: drv: runCommand "${name}-smoke" { nativeBuildInputs = [ pkgs.curl ]; } ''
    bash ${../tests/smoke.sh} ${lib.getExe drv}
    touch $out
  '';

  # Size budgets live in nix/image.json, per system (sizeBudgetBytes), in the unit `docker inspect`
  # reports: the bytes of the files in the layers (nix/image-bytes.sh), so the tar headers and the
  # padding to 10 240-byte records that GNU tar adds (4 to 11 kB on these images) do not count.
  budgets = imageSpec.sizeBudgetBytes.${pkgs.stdenv.hostPlatform.system};
  imageCheck = tag: image: runCommand "image-${tag}-layout-and-size"
    { nativeBuildInputs = [ pkgs.jq ]; } ''
    mkdir image
    tar -xzf ${image} -C image
    repoTags=$(jq -r '.[0].RepoTags | join(" ")' image/manifest.json)
    [ "$repoTags" = "${imageSpec.name}:${tag}" ] || { echo "FAIL: image is '$repoTags'"; exit 1; }

    for layer in $(jq -r '.[0].Layers[]' image/manifest.json); do
      tar -tf "image/$layer"
    done | sed -e 's|^\./||' -e 's|/$||' -e '/^\.\?$/d' | sort -u > tree
    printf '%s\n' bin bin/tini bin/tinyweb > expected
    diff -u expected tree || { echo "FAIL: the image tree is not exactly /bin/tini and /bin/tinyweb"; exit 1; }

    total=$(bash ${./image-bytes.sh} ${image})
    echo "image-${tag}: $total bytes, budget ${toString budgets.${tag}}"
    [ "$total" -le ${toString budgets.${tag}} ] || { echo "FAIL: over budget"; exit 1; }
    touch $out
  '';

  # image-naive (the toolchain image, gigabytes) is left out: it is only the size table's 100 % row.
  ladder = lib.filterAttrs (name: _: name != "image-naive") images;
in
binaries // ladder // cargoChecks // hygieneChecks // {
  tinyweb-closure = closureCheck "tinyweb" binaries.tinyweb;
  tinyweb-debug-closure = closureCheck "tinyweb-debug" binaries.tinyweb-debug;
  tinyweb-minimal-closure = closureCheck "tinyweb-minimal" binaries.tinyweb-minimal;
  tini-closure = closureCheck "tini" tini;
  tinyweb-smoke = smokeCheck "tinyweb" binaries.tinyweb;
  tinyweb-debug-smoke = smokeCheck "tinyweb-debug" binaries.tinyweb-debug;
  tinyweb-minimal-smoke = smokeCheck "tinyweb-minimal" binaries.tinyweb-minimal;
  tinyweb-upx-smoke = smokeCheck "tinyweb-upx" binaries.tinyweb-upx;
  # tinyweb-minimal vendors std's dependencies from nix/std-Cargo.lock: it must be the lock of
  # the toolchain's own rust-src (nix/check-std-lock.sh compares the same files without Nix).
  tinyweb-std-lock = runCommand "tinyweb-std-lock" { } ''
    cmp ${stdLock} ${rustSrc}/lib/rustlib/src/rust/library/Cargo.lock ||
      { echo "FAIL: nix/std-Cargo.lock is not the toolchain's library/Cargo.lock; copy that file over it"; exit 1; }
    touch $out
  '';
  tinyweb-vm-docker = pkgs.callPackage ./vm-test.nix {
    inherit (images) image-tiniest image-minimal image-stripped;
  };
}
  // lib.mapAttrs' (tag: _: lib.nameValuePair "image-${tag}-layout-and-size" (imageCheck tag images."image-${tag}")) imageSpec.variants
