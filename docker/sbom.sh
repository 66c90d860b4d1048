#!/usr/bin/env bash
# Writes a CycloneDX SBOM next to each image tarball of docker/build.sh:
# build/images/VARIANT.cdx.json. cargo-cyclonedx lists the crates; docker/sbom.py adds the Rust
# standard library, musl (rustc's, in tinyweb; Debian's, in tini), tini and, for UPX-packed
# binaries, UPX's stub, with the versions that went into this build.
# Usage: bash docker/sbom.sh   (after bash docker/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-musl
definition=nix/image.json
images=build/images

if ! cargo cyclonedx --version >/dev/null 2>&1; then
  echo "sbom.sh: cargo-cyclonedx is not installed (.ci/install.sh installs the pinned version)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# cargo-cyclonedx writes next to Cargo.toml; the file is moved out at once.
cargo cyclonedx --quiet --format json --spec-version 1.5 --target "$target" --no-build-deps \
  --override-filename tinyweb.cargo.cdx
mv tinyweb.cargo.cdx.json "$work/"

rust=$(rustc --version | cut -d' ' -f2)
# rustc's self-contained musl records its version as a string in libc.a.
rust_musl=$(strings "$(rustc --print sysroot)/lib/rustlib/$target/lib/self-contained/libc.a" |
  grep -xE '1\.[0-9]+\.[0-9]+' | sort -u)
if [[ ! "$rust_musl" =~ ^1\.[0-9]+\.[0-9]+$ ]]; then
  echo "sbom.sh: cannot tell the version of rustc's musl (found: ${rust_musl:-nothing})" >&2
  exit 1
fi
tini=$(build/tini --version | sed -n 's/^tini version \([0-9.]*\).*/\1/p')
tini_musl=$(dpkg-query -W -f '${Version}' musl-dev | cut -d- -f1)
upx=$(upx --version | sed -n '1s/^upx //p')

mapfile -t variants < <(python3 -c 'import json, sys; print(*json.load(open(sys.argv[1]))["variants"], sep="\n")' "$definition")
for variant in "${variants[@]}"; do
  tarball=$images/$variant.tar
  python3 docker/sbom.py "$work/tinyweb.cargo.cdx.json" "$definition" "$variant" "$tarball" \
    "$images/$variant.cdx.json" --checkout "$PWD" --rust "$rust" --rust-musl "$rust_musl" \
    --tini "$tini" --tini-musl "$tini_musl" --upx "$upx"
  echo "$images/$variant.cdx.json"
done
