# The article's size table for the flake's own images (`nix build .#size-table && cat result`):
# each image's bytes as Docker counts them (nix/image-bytes.sh), as a percentage of the
# article's 968 212 150-byte golang image; image-naive is our own 100 % row beside it.
# Rows in the ladder's order, largest first.
{ lib, runCommand, jq, images, imageSpec }:
let
  articleBaselineBytes = 968212150;
  rows = [{ tag = "naive"; debugInfo = true; upx = false; }]
    ++ lib.mapAttrsToList (tag: variant: { inherit tag; inherit (variant) debugInfo upx; }) imageSpec.variants;
  yesNo = b: if b then "yes" else "no";
  row = { tag, debugInfo, upx }: ''
    bytes=$(bash ${./image-bytes.sh} ${images."image-${tag}"})
    awk -v b="$bytes" 'BEGIN { printf "| tinyweb:${tag} | ${yesNo debugInfo} | ${yesNo upx} | %d | %.2f %% |\n", b, 100 * b / ${toString articleBaselineBytes} }' >> rows
  '';
in
runCommand "tinyweb-size-table" { nativeBuildInputs = [ jq ]; } ''
  cat > $out <<'TABLE'
  | Image | Debug info | UPX | Size (bytes) | Percentage |
  |---|:-:|:-:|--:|--:|
  | golang:1.16 (the article, quoted) | yes | no | ${toString articleBaselineBytes} | 100.00 % |
  TABLE
  ${lib.concatMapStrings row rows}
  sort -t '|' -k 5,5nr rows >> $out
''
