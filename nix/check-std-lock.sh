#!/usr/bin/env bash
# The flake's `minimal` rung rebuilds std, so std's own dependencies must be vendored too, from the
# toolchain's library/Cargo.lock. Nix would need import-from-derivation to read that file out of the
# toolchain, so the flake reads nix/std-Cargo.lock, a checked-in copy (crane's examples/build-std
# names this way out). This step fails when the copy and the lock of the rust-toolchain.toml release
# differ; the flake's tinyweb-std-lock check compares the same two files inside Nix.
set -euo pipefail
cd "$(dirname "$0")/.."

copy=nix/std-Cargo.lock
lock=$(rustc --print sysroot)/lib/rustlib/src/rust/library/Cargo.lock
[ -f "$lock" ] || { echo "nix/check-std-lock.sh: $lock missing; rust-src is not installed (.ci/install.sh adds it)" >&2; exit 1; }
if ! cmp -s "$copy" "$lock"; then
  diff -u "$copy" "$lock" | head -n 40 >&2 || true
  echo "nix/check-std-lock.sh: $copy is not the lock of $(rustc --version); refresh it: cp '$lock' $copy" >&2
  exit 1
fi
echo "nix/check-std-lock.sh: $copy is std's lock of $(rustc --version)"
