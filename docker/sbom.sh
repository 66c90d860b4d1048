#!/usr/bin/env bash
# Writes a CycloneDX SBOM next to each image tarball of docker/build.sh and docker/arm64.sh:
# build/images/VARIANT.cdx.json and build/images/arm64/VARIANT.cdx.json. cargo-cyclonedx lists
# the crates; docker/sbom.py adds the Rust standard library, musl (rustc's, in tinyweb; Debian's,
# in tini), tini and, for UPX-packed binaries, UPX's stub, with the versions of this build.
# Usage: bash docker/sbom.sh   (after bash docker/build.sh, and docker/arm64.sh for arm64)
set -euo pipefail
cd "$(dirname "$0")/.."

definition=nix/image.json
images=build/images

if ! cargo cyclonedx --version >/dev/null 2>&1; then
  echo "sbom.sh: cargo-cyclonedx is not installed (.ci/install.sh installs the pinned version)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rust=$(rustc --version | cut -d' ' -f2)
upx=$(upx --version | sed -n '1s/^upx //p')
mapfile -t variants < <(python3 -c 'import json, sys; print(*json.load(open(sys.argv[1]))["variants"], sep="\n")' "$definition")

# One SBOM set per architecture whose images exist: amd64 in build/images, arm64 in
# build/images/arm64 (docker/arm64.sh).
for arch in amd64 arm64; do
  case $arch in
    amd64) target=x86_64-unknown-linux-musl dir=$images tini_dir=build run=() ;;
    arm64) target=aarch64-unknown-linux-musl dir=$images/arm64 tini_dir=build/aarch64 run=(qemu-aarch64-static) ;;
  esac
  if [[ $arch == arm64 && ! -d "$dir" ]]; then
    continue
  fi
  # cargo-cyclonedx writes next to Cargo.toml; the file is moved out at once.
  cargo cyclonedx --quiet --format json --spec-version 1.5 --target "$target" --no-build-deps \
    --override-filename tinyweb.cargo.cdx
  mv tinyweb.cargo.cdx.json "$work/$arch.cdx.json"
  # rustc's self-contained musl records its version as a string in libc.a.
  rust_musl=$(strings "$(rustc --print sysroot)/lib/rustlib/$target/lib/self-contained/libc.a" |
    grep -xE '1\.[0-9]+\.[0-9]+' | sort -u)
  if [[ ! "$rust_musl" =~ ^1\.[0-9]+\.[0-9]+$ ]]; then
    echo "sbom.sh: cannot tell the version of rustc's musl for $target (found: ${rust_musl:-nothing})" >&2
    exit 1
  fi
  # tini links Debian's musl-dev of that architecture (docker/tini.sh).
  tini_musl=$(dpkg-query -W -f '${Version}' "musl-dev:$arch" | cut -d- -f1)
  tini=$("${run[@]}" "$tini_dir/tini" --version | sed -n 's/^tini version \([0-9.]*\).*/\1/p')
  for variant in "${variants[@]}"; do
    python3 docker/sbom.py "$work/$arch.cdx.json" "$definition" "$variant" "$dir/$variant.tar" \
      "$dir/$variant.cdx.json" --checkout "$PWD" --rust "$rust" --rust-musl "$rust_musl" \
      --tini "$tini" --tini-musl "$tini_musl" --upx "$upx"
    echo "$dir/$variant.cdx.json"
  done
done
