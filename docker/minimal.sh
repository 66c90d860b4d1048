#!/usr/bin/env bash
# The `minimal` rung's recipe, the one place it is written down (the flake mirrors it flag for
# flag): [profile.minimal] (= the release profile), with std and panic_abort rebuilt from the
# pinned toolchain's rust-src for size, panics that abort at once without formatting a message,
# no file/line/column strings for panic locations, and no unwind tables (nothing unwinds once
# panics abort at once; about 65 KB of .eh_frame):
#   RUSTC_BOOTSTRAP=1 cargo build --profile minimal --target TARGET \
#     -Z build-std=std,panic_abort -Z build-std-features=optimize_for_size
#   with target rustflags -Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none
#   -Cforce-unwind-tables=no
#   (plus docker/remap.sh's path remapping, and .cargo/config.toml's musl flags, joined by Cargo).
# RUSTC_BOOTSTRAP=1 lets the pinned stable compiler accept these nightly-only flags (dated
# nightlies cannot be installed here). It is set for this one command only: `stripped` is built
# without it and stays a stable-only rung; `tiniest` is this binary packed with UPX.
# Usage: bash docker/minimal.sh TARGET OUT   (OUT: where to put the binary)
set -euo pipefail
cd "$(dirname "$0")/.."
target=$1
out=$2
# shellcheck source=docker/remap.sh
source docker/remap.sh

flags="$(remap_flags) -Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Cforce-unwind-tables=no"
env RUSTC_BOOTSTRAP=1 "$(rustflags_var "$target")=$flags" \
  cargo auditable build --locked --quiet --profile minimal --target "$target" \
  -Z build-std=std,panic_abort -Z build-std-features=optimize_for_size
target_dir=$(cargo metadata --locked --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
install -m 0755 "$target_dir/$target/minimal/tinyweb" "$out"
