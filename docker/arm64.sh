#!/usr/bin/env bash
# Packs the linux/arm64 images of every variant: the aarch64 binaries of `docker/cross.sh aarch64`
# (build/aarch64/bin/), a static arm64 tini from `docker/tini.sh build/aarch64 aarch64` (UPX-packed
# where nix/image.json says tiniUpx), and `docker/pack.py --arch arm64`, into
# build/images/arm64/VARIANT.tar: the same tree and configuration as the amd64 images, packed twice
# and compared byte for byte. Not loaded into Docker: the registry test pushes them and pulls them
# back with --platform linux/arm64.
# Usage: bash docker/arm64.sh   (after bash docker/cross.sh aarch64)
set -euo pipefail
cd "$(dirname "$0")/.."

definition=nix/image.json
bin=build/aarch64/bin
images=build/images/arm64

bash docker/tini.sh build/aarch64 aarch64
mapfile -t upx_flags < <(python3 -c 'import json, sys; print(*json.load(open(sys.argv[1]))["upxFlags"], sep="\n")' "$definition")
rm -f build/aarch64/tini-upx
upx -q "${upx_flags[@]}" -o build/aarch64/tini-upx build/aarch64/tini >/dev/null
if [[ "$(qemu-aarch64-static build/aarch64/tini-upx --version)" != "$(qemu-aarch64-static build/aarch64/tini --version)" ]]; then
  echo "arm64.sh: build/aarch64/tini-upx does not run like build/aarch64/tini" >&2
  exit 1
fi

revision=$(bash docker/revision.sh)
mkdir -p "$images"
mapfile -t variants < <(python3 -c '
import json, sys
for name, variant in json.load(open(sys.argv[1]))["variants"].items():
    print(name, variant["binary"], "tini-upx" if variant.get("tiniUpx") else "tini")' "$definition")
for line in "${variants[@]}"; do
  read -r variant binary tini <<<"$line"
  if [[ ! -f "$bin/$binary" ]]; then
    echo "arm64.sh: no $bin/$binary (run bash docker/cross.sh aarch64 without --smoke)" >&2
    exit 1
  fi
  for output in "$images/$variant.tar" "$images/$variant.again.tar"; do
    python3 docker/pack.py --arch arm64 "$definition" "$variant" "build/aarch64/$tini" \
      "$bin/$binary" Cargo.toml "$revision" "$output"
  done
  if ! cmp -s "$images/$variant.tar" "$images/$variant.again.tar"; then
    echo "arm64.sh: packing $variant twice gave different tarballs" >&2
    exit 1
  fi
  rm "$images/$variant.again.tar"
  echo "| arm64 $variant | $(stat -c %s "$images/$variant.tar") bytes | $(sha256sum "$images/$variant.tar" | cut -d' ' -f1) |"
done
