# tinyweb-upx: the stripped tinyweb packed with UPX, the article's last rung (`nix build .#tinyweb-upx`).
# Packed in runCommand, whose builder runs no fixup phase: strip or patchelf on a packed file
# breaks it (upx/upx#712). UPX on Rust static-pie has a record of broken output (upx/upx#877),
# so the build itself runs the packed binary; the tinyweb-upx-smoke check then serves from it.
{ lib, runCommand, upx, tinyweb, version, upxFlags }:
runCommand "tinyweb-upx-${version}"
{
  nativeBuildInputs = [ upx ];
  meta.mainProgram = "tinyweb";
  # The closure check runs on this input: references inside the packed bytes are invisible.
  passthru.unpacked = tinyweb;
}
  ''
    mkdir -p $out/bin
    upx ${lib.escapeShellArgs upxFlags} -o $out/bin/tinyweb ${lib.getExe tinyweb}
    upx -t $out/bin/tinyweb
    $out/bin/tinyweb --version
  ''
