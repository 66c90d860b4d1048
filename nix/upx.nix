# The tiniest rung's two binaries, packed with UPX (`upxFlags` in nix/image.json): tinyweb-upx
# (tinyweb-minimal packed) and tini-upx (the static tini packed). `nix build .#tinyweb-upx`.
# Packed in runCommand, whose builder runs no fixup phase: strip or patchelf on a packed file
# breaks it (upx/upx#712). UPX has a record of broken output on static binaries (upx/upx#877), so
# each build runs its packed binary. Returns a set of two packages, so it is imported.
{ lib, runCommand, upx, bash, upxFlags, tinyweb-minimal, tini }:
let
  # `verify` is a shell command on "$packed" that fails unless the packed binary works.
  pack = { pname, package, verify }:
    runCommand "${pname}-${lib.getVersion package}"
      {
        nativeBuildInputs = [ upx ];
        meta.mainProgram = package.meta.mainProgram;
        # The closure checks run on this input: references inside the packed bytes are invisible.
        passthru.unpacked = package;
      }
      ''
        mkdir -p $out/bin
        packed=$out/bin/${package.meta.mainProgram}
        upx ${lib.escapeShellArgs upxFlags} -o "$packed" ${lib.getExe package}
        upx -t "$packed"
        ${verify}
      '';
in
{
  tinyweb-upx = pack {
    pname = "tinyweb-upx";
    package = tinyweb-minimal;
    verify = ''[ "$("$packed" --version)" = "$(${lib.getExe tinyweb-minimal} --version)" ]'';
  };

  # Not PID 1 here, so run as a subreaper (-s): it must start its child and pass on its status.
  tini-upx = pack {
    pname = "tini-upx";
    package = tini;
    verify = ''
      status=0
      "$packed" -s -- ${lib.getExe bash} -c 'exit 3' || status=$?
      [ "$status" -eq 3 ] || { echo "packed tini: child's exit status 3 came back as $status"; exit 1; }
    '';
  };
}
