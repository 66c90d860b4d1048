#!/usr/bin/env bash
# Measures what each size lever does to the static musl binary: starts from Cargo's default
# release profile and adds the levers of [profile.release] one at a time (through Cargo's
# CARGO_PROFILE_RELEASE_* overrides), then the alternatives we rejected, then UPX.
# Usage: bash bench/size-levers.sh [OUT.md]   (about 1-2 minutes of build per row on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-bench/size-levers.md}
target=x86_64-unknown-linux-musl
upx_flags=$(python3 -c 'import json; print(" ".join(json.load(open("nix/image.json"))["upxFlags"]))')

# Each row: name | profile overrides (VAR=value ...) | extra RUSTFLAGS
rows=(
  "cargo default --release|OPT_LEVEL=3 LTO=false CODEGEN_UNITS=16 PANIC=unwind STRIP=debuginfo|"
  "+ strip = true|OPT_LEVEL=3 LTO=false CODEGEN_UNITS=16 PANIC=unwind STRIP=symbols|"
  "+ opt-level = \"z\"|OPT_LEVEL=z LTO=false CODEGEN_UNITS=16 PANIC=unwind STRIP=symbols|"
  "+ lto = true|OPT_LEVEL=z LTO=true CODEGEN_UNITS=16 PANIC=unwind STRIP=symbols|"
  "+ codegen-units = 1|OPT_LEVEL=z LTO=true CODEGEN_UNITS=1 PANIC=unwind STRIP=symbols|"
  "+ panic = \"abort\" (= [profile.release])|OPT_LEVEL=z LTO=true CODEGEN_UNITS=1 PANIC=abort STRIP=symbols|"
  "alternative: opt-level = \"s\"|OPT_LEVEL=s LTO=true CODEGEN_UNITS=1 PANIC=abort STRIP=symbols|"
  "alternative: opt-level = 3|OPT_LEVEL=3 LTO=true CODEGEN_UNITS=1 PANIC=abort STRIP=symbols|"
  "alternative: non-PIE (relocation-model=static)|OPT_LEVEL=z LTO=true CODEGEN_UNITS=1 PANIC=abort STRIP=symbols|-C relocation-model=static"
)

{
  echo "| build | bytes | + UPX ${upx_flags} |"
  echo "|---|--:|--:|"
} >"$out.tmp"
for row in "${rows[@]}"; do
  IFS='|' read -r name overrides rustflags <<<"$row"
  dir="target/levers/$(echo "$name" | tr -c 'a-zA-Z0-9' '_')"
  env_args=()
  for o in $overrides; do env_args+=("CARGO_PROFILE_RELEASE_$o"); done
  env "${env_args[@]}" RUSTFLAGS="$rustflags" CARGO_TARGET_DIR="$dir" \
    cargo build --quiet --locked --release --target "$target"
  bin="$dir/$target/release/tinyweb"
  rm -f "$bin.upx"
  # shellcheck disable=SC2086 # the flags are words
  upx -q $upx_flags -o "$bin.upx" "$bin" >/dev/null
  printf '| %s | %s | %s |\n' "$name" "$(stat -c %s "$bin")" "$(stat -c %s "$bin.upx")" | tee -a "$out.tmp"
done
mv "$out.tmp" "$out"
echo "wrote $out ($(date -u +%F), rustc $(rustc --version | cut -d' ' -f2))"
