#!/usr/bin/env bash
# Builds the flake's images without Nix, from the same ingredients: the binaries from the same
# Cargo profiles and compiler (rust-toolchain.toml), UPX with the flake's flags, a static musl
# tini 0.19.0 (UPX-packed for tiniest), and the image config from nix/image.json. Packs each
# variant as a reproducible docker-archive tarball in build/images/ and loads it with
# `docker load`, giving tinyweb:scratch, :stripped, :minimal, :tiniest. Every binary is built with
# docker/remap.sh's path remapping: the tarballs do not depend on where the checkout, CARGO_HOME
# or the toolchain live (docker/repro.sh proves it).
# Usage: bash docker/build.sh [--no-load]   (--no-load: tarballs only)
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-musl
definition=nix/image.json
bin=build/bin
images=build/images

json() {
  python3 -c "import json, sys; $1" "$definition"
}

bash docker/deps.sh

load=true
if [[ "${1:-}" == --no-load ]]; then
  load=false
fi

# shellcheck source=docker/remap.sh
source docker/remap.sh
export "$(rustflags_var "$target")=$(remap_flags) $(release_rustflags)"
cargo auditable build --locked --quiet --release --target "$target"
cargo build --locked --quiet --profile debuginfo --target "$target"
target_dir=$(cargo metadata --locked --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
mkdir -p "$bin" "$images"
install -m 0755 "$target_dir/$target/release/tinyweb" "$bin/tinyweb"
install -m 0755 "$target_dir/$target/debuginfo/tinyweb" "$bin/tinyweb-debug"
bash docker/minimal.sh "$target" "$bin/tinyweb-minimal"

mapfile -t upx_flags < <(json 'print(*json.load(open(sys.argv[1]))["upxFlags"], sep="\n")')
# UPX has broken static-pie binaries before (upx/upx#877): each packed one must still run.
pack_upx() {
  rm -f "$2"
  upx -q "${upx_flags[@]}" -o "$2" "$1" >/dev/null
  upx -q -t "$2" >/dev/null
  if [[ "$("$2" --version)" != "$("$1" --version)" ]]; then
    echo "build.sh: $2 does not run like $1" >&2
    exit 1
  fi
}
pack_upx "$bin/tinyweb-minimal" "$bin/tinyweb-upx"

bash docker/tini.sh build
pack_upx build/tini build/tini-upx

revision=$(bash docker/revision.sh)

mapfile -t variants < <(json '
for name, variant in json.load(open(sys.argv[1]))["variants"].items():
    print(name, variant["binary"], "build/tini-upx" if variant["tiniUpx"] else "build/tini")')
for line in "${variants[@]}"; do
  read -r variant binary tini <<<"$line"
  for output in "$images/$variant.tar" "$images/$variant.again.tar"; do
    python3 docker/pack.py "$definition" "$variant" "$tini" "$bin/$binary" Cargo.toml \
      "$revision" "$output"
  done
  if ! cmp -s "$images/$variant.tar" "$images/$variant.again.tar"; then
    echo "build.sh: packing $variant twice gave different tarballs" >&2
    exit 1
  fi
  rm "$images/$variant.again.tar"
  echo "$variant: packed twice, byte-identical: $(sha256sum "$images/$variant.tar" | cut -d' ' -f1)"
done

echo
echo "| File | Bytes |"
echo "|---|--:|"
for file in build/tini build/tini-upx "$bin"/tinyweb* "$images"/*.tar; do
  echo "| $file | $(stat -c %s "$file") |"
done
echo

if [[ "$load" == false ]]; then
  exit 0
fi
if ! docker info >/dev/null 2>&1; then
  if [[ "${CI:-}" == true ]]; then
    echo "build.sh: no Docker engine to load the images into (CI=true)" >&2
    exit 1
  fi
  echo "build.sh: SKIP loading the images: no Docker engine (tarballs are in $images/)"
  exit 0
fi
echo "| Image | docker inspect .Size |"
echo "|---|--:|"
for line in "${variants[@]}"; do
  read -r variant _ <<<"$line"
  image="$(json 'print(json.load(open(sys.argv[1]))["name"])'):$variant"
  previous=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
  docker load -q -i "$images/$variant.tar" >/dev/null
  # The image this tag replaced would stay behind untagged at every rebuild; one that a
  # container still uses is left alone (docker refuses), which is why the error is ignored.
  if [[ -n "$previous" && "$previous" != "$(docker image inspect -f '{{.Id}}' "$image")" &&
    -z "$(docker image inspect -f '{{join .RepoTags ""}}' "$previous")" ]]; then
    docker image rm "$previous" >/dev/null 2>&1 || true
  fi
  echo "| $image | $(docker image inspect -f '{{.Size}}' "$image") |"
done
