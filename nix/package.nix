# The crane build of tinyweb as a static musl binary, once per Cargo profile:
# `nix build .#tinyweb` (profile release, stripped) and `nix build .#tinyweb-debug` (profile debuginfo).
# Returns a set (the two packages plus the shared arguments the checks reuse), so it is imported.
{ craneLib, target, src }:
let
  crate = craneLib.crateNameFromCargoToml { inherit src; };

  commonArgs = {
    src = craneLib.cleanCargoSource src;
    strictDeps = true;
    # musl targets link statically (crt-static) by default; any rustflags live in .cargo/config.toml.
    CARGO_BUILD_TARGET = target;
    meta.mainProgram = "tinyweb";
  };

  # Dependencies built once per profile and shared by the package and the cargo checks.
  cargoArtifacts = craneLib.buildDepsOnly commonArgs;

  debugArgs = commonArgs // {
    # crane's cargoWithProfile turns this into `--profile debuginfo` (Cargo.toml: release + debug info).
    CARGO_PROFILE = "debuginfo";
  };

  tinyweb = craneLib.buildPackage (commonArgs // {
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
  });
in
{
  inherit commonArgs cargoArtifacts tinyweb tinyweb-debug;
  inherit (crate) version;
}
