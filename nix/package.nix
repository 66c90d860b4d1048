# The crane builds of tinyweb as a static musl binary: `nix build .#tinyweb` (profile release,
# stripped), `.#tinyweb-debug` (profile debuginfo) and `.#tinyweb-minimal` (profile minimal, std
# rebuilt for size; the recipe is docker/minimal.sh's, flag for flag).
# Returns a set (the packages plus the shared arguments the checks reuse), so it is imported.
{ lib, craneLib, cargo-auditable, target, src, stdLock, rustSrc, releaseRustflags }:
let
  crate = craneLib.crateNameFromCargoToml { inherit src; };

  commonArgs = {
    src = craneLib.cleanCargoSource src;
    strictDeps = true;
    # musl targets link statically (crt-static) by default; any rustflags live in .cargo/config.toml.
    CARGO_BUILD_TARGET = target;
    # nix/image.json's releaseRustflags, for the release and debuginfo builds (Cargo.toml's
    # profiles, as docker/build.sh passes them); minimalArgs replaces them with the minimal rung's.
    ${targetRustflagsVar} = lib.concatStringsSep " " releaseRustflags;
    meta.mainProgram = "tinyweb";
  };

  # Dependencies built once per profile and shared by the package and the cargo checks.
  cargoArtifacts = craneLib.buildDepsOnly commonArgs;

  debugArgs = commonArgs // {
    # crane's cargoWithProfile turns this into `--profile debuginfo` (Cargo.toml: release + debug info).
    CARGO_PROFILE = "debuginfo";
  };

  # Target rustflags by environment variable, as docker/minimal.sh passes them: Cargo joins them with
  # .cargo/config.toml's, where RUSTFLAGS would replace those; and they reach the rebuilt std but
  # never build scripts or proc macros (host code, unwinding std).
  targetRustflagsVar = "CARGO_TARGET_${builtins.replaceStrings [ "-" ] [ "_" ] (lib.toUpper target)}_RUSTFLAGS";

  minimalArgs = commonArgs // {
    pname = "tinyweb-minimal";
    CARGO_PROFILE = "minimal";
    # std's own dependencies are vendored too, from the checked-in copy of the toolchain's
    # library/Cargo.lock (crane's examples/build-std; reading the toolchain's would be
    # import-from-derivation). The tinyweb-std-lock check keeps the copy honest.
    cargoVendorDir = craneLib.vendorMultipleCargoDeps {
      inherit (craneLib.findCargoFiles commonArgs.src) cargoConfigs;
      cargoLockList = [ (src + "/Cargo.lock") stdLock ];
    };
    cargoExtraArgs = "--locked -Z build-std=std,panic_abort -Z build-std-features=optimize_for_size";
    ${targetRustflagsVar} = "-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Cforce-unwind-tables=no";
    # The stable compiler accepts the -Z flags above only with this: it is set for this rung (and
    # tiniest, which packs it) alone, so `tinyweb` stays a stable-only build.
    RUSTC_BOOTSTRAP = 1;
    # As docker/remap.sh does, std's sources (rebuilt here from rust-src) are named /rustc/COMMIT, as
    # the prebuilt std's are, not by a store path: by the toolchain's sysroot or by the rust-src
    # component it links to, whichever path reaches rustc. Computed here, identically for the
    # dependencies and the package, so Cargo's fingerprints agree.
    preBuild = ''
      commit=$(rustc -vV | sed -n 's/^commit-hash: //p')
      export ${targetRustflagsVar}="''$${targetRustflagsVar} --remap-path-prefix=$(rustc --print sysroot)/lib/rustlib/src/rust=/rustc/$commit --remap-path-prefix=${rustSrc}/lib/rustlib/src/rust=/rustc/$commit"
    '';
    # Tests need the unwinding test harness, which this std does not have; buildDepsOnly would
    # otherwise build the test targets too.
    doCheck = false;
  };

  # The shipped binaries (`tinyweb` and `tinyweb-minimal`, which tiniest packs) carry their
  # dependency list in a .dep-v0 section, as docker/build.sh's do (`cargo auditable`; about 1 KB).
  # Only the packages' own build runs through it: its wrapper touches workspace crates alone, so the
  # dependencies built by buildDepsOnly stay fresh. `--profile release` is what `--release` means.
  auditableArgs = {
    nativeBuildInputs = [ cargo-auditable ];
    cargoBuildCommand = "cargo auditable build --profile $CARGO_PROFILE";
  };

  tinyweb = craneLib.buildPackage (commonArgs // auditableArgs // {
    inherit cargoArtifacts;
    # The test suite runs once, in the tinyweb-test check.
    doCheck = false;
  });

  tinyweb-debug = craneLib.buildPackage (debugArgs // {
    pname = "tinyweb-debug";
    cargoArtifacts = craneLib.buildDepsOnly debugArgs;
    doCheck = false;
    # The article's "debug info: yes" rung: stdenv's fixup would otherwise strip the DWARF the
    # profile keeps. crane's remapPathPrefixHook (which dontStrip would arm) is not added here, so
    # sources are not pulled into the closure; the tinyweb-debug-closure check holds it to that.
    dontStrip = true;
    # The DWARF is compressed at link time (.cargo/config.toml), which hides the vendored sources'
    # store paths from crane's scrubbing hooks (postInstallHooks, run after this postInstall):
    # decompress so they are scrubbed, and compress again once they are (postFixup comes last).
    postInstall = "$OBJCOPY --decompress-debug-sections $out/bin/tinyweb";
    postFixup = "$OBJCOPY --compress-debug-sections=zlib $out/bin/tinyweb";
  });

  tinyweb-minimal = craneLib.buildPackage (minimalArgs // auditableArgs // {
    cargoArtifacts = craneLib.buildDepsOnly minimalArgs;
  });
in
{
  inherit commonArgs cargoArtifacts tinyweb tinyweb-debug tinyweb-minimal;
  inherit (crate) version;
}
