#!/usr/bin/env bash
# Measures what each size lever does to the static musl binary, one at a time: Cargo's default
# release profile, then each lever of [profile.release] added in turn (through Cargo's
# CARGO_PROFILE_RELEASE_* overrides) on the tree without the regex patch, then the patch, then
# tinyweb's crate at "s" with releaseRustflags (= the stripped rung), then the `minimal` rung's
# levers one by one on the all-"z" profile (docker/minimal.sh), then the
# alternatives we rejected, then tini; each row also packed with UPX. Every build uses
# docker/remap.sh's path remapping, as the shipped binaries do.
# Usage: bash bench/size-levers.sh [OUT.md]   (about 1-2 minutes of build per row on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd -P)

out=${1:-bench/size-levers.md}
target=x86_64-unknown-linux-musl
upx_flags=$(python3 -c 'import json; print(" ".join(json.load(open("nix/image.json"))["upxFlags"]))')
# shellcheck source=docker/remap.sh
source docker/remap.sh

# This tree without the [patch.crates-io] section: env_logger gets the real regex again.
unpatched="$root/target/levers/unpatched-tree"
rm -rf "$unpatched"
mkdir -p "$unpatched"
git ls-files -z | xargs -0 cp --parents -t "$unpatched"
python3 - "$unpatched/Cargo.toml" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
stripped = re.sub(r"\n(#[^\n]*\n)*\[patch\.crates-io\]\n[^\[]*", "\n", text)
assert "[patch" not in stripped, "the [patch.crates-io] section is still there"
# Cargo's defaults for the first rows: every crate at the row's opt-level, not the dependencies
# at "z" that Cargo.toml's package override sets.
stripped = re.sub(r"\n(#[^\n]*\n)*\[profile\.release\.package\.\"\*\"\]\n[^\[]*", "\n", stripped)
assert "\n[profile.release.package" not in stripped, "the package override is still there"
open(path, "w").write(stripped)
PY

profile="OPT_LEVEL=z LTO=true CODEGEN_UNITS=1 PANIC=abort STRIP=symbols"
std="-Z build-std=std,panic_abort"
small_std="$std -Z build-std-features=optimize_for_size"
# Each row: name | profile overrides (VAR=value ...) | extra target rustflags | extra cargo
# arguments (-Z ones are built with RUSTC_BOOTSTRAP=1, as docker/minimal.sh does) | tree
rows=(
  "cargo default --release|OPT_LEVEL=3 LTO=false CODEGEN_UNITS=16 PANIC=unwind STRIP=debuginfo|||unpatched"
  "+ strip = true|OPT_LEVEL=3 LTO=false CODEGEN_UNITS=16 PANIC=unwind STRIP=symbols|||unpatched"
  "+ opt-level = \"z\"|OPT_LEVEL=z LTO=false CODEGEN_UNITS=16 PANIC=unwind STRIP=symbols|||unpatched"
  "+ lto = true|OPT_LEVEL=z LTO=true CODEGEN_UNITS=16 PANIC=unwind STRIP=symbols|||unpatched"
  "+ codegen-units = 1|OPT_LEVEL=z LTO=true CODEGEN_UNITS=1 PANIC=unwind STRIP=symbols|||unpatched"
  "+ panic = \"abort\" (= [profile.release], with the real regex)|$profile|||unpatched"
  "+ regex patched to regex-lite|$profile|||"
  "+ tinyweb's crate at \"s\", one inline threshold (releaseRustflags) (= stripped rung)|OPT_LEVEL=s LTO=true CODEGEN_UNITS=1 PANIC=abort STRIP=symbols|$(release_rustflags)||"
  "+ std rebuilt (-Z build-std=std,panic_abort)|$profile||$std|"
  "+ build-std-features=optimize_for_size|$profile||$small_std|"
  "+ -Cpanic=immediate-abort|$profile|-Zunstable-options -Cpanic=immediate-abort|$small_std|"
  "+ -Zlocation-detail=none|$profile|-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none|$small_std|"
  "+ -Cforce-unwind-tables=no (= minimal rung)|$profile|-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Cforce-unwind-tables=no|$small_std|"
  "alternative to minimal: + -Zfmt-debug=none|$profile|-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Cforce-unwind-tables=no -Zfmt-debug=none|$small_std|"
  "alternative to stripped: tinyweb's crate at \"s\" without the inline threshold|OPT_LEVEL=s LTO=true CODEGEN_UNITS=1 PANIC=abort STRIP=symbols|||"
  "alternative to stripped: tinyweb's crate at 3|OPT_LEVEL=3 LTO=true CODEGEN_UNITS=1 PANIC=abort STRIP=symbols|||"
  "alternative to stripped: non-PIE (relocation-model=static)|$profile|-C relocation-model=static||"
)

{
  echo "| build | bytes | + UPX ${upx_flags} |"
  echo "|---|--:|--:|"
} >"$out.tmp"
for row in "${rows[@]}"; do
  IFS='|' read -r name overrides rustflags cargo_args tree <<<"$row"
  dir="$root/target/levers/$(echo "$name" | tr -c 'a-zA-Z0-9' '_')"
  env_args=()
  for o in $overrides; do env_args+=("CARGO_PROFILE_RELEASE_$o"); done
  if [[ "$cargo_args" == *-Z* ]]; then env_args+=(RUSTC_BOOTSTRAP=1); fi
  lock=(--locked)
  source_dir=$root
  if [[ "$tree" == unpatched ]]; then
    # Its lock must gain the real regex crates: resolved offline from this machine's registry.
    lock=(--offline)
    source_dir=$unpatched
  fi
  # shellcheck disable=SC2086 # the arguments are words
  (cd "$source_dir" && env "${env_args[@]}" \
    "$(rustflags_var "$target")=$(remap_flags) $rustflags" CARGO_TARGET_DIR="$dir" \
    cargo build --quiet "${lock[@]}" --release --target "$target" $cargo_args)
  bin="$dir/$target/release/tinyweb"
  rm -f "$bin.upx"
  # shellcheck disable=SC2086 # the flags are words
  upx -q $upx_flags -o "$bin.upx" "$bin" >/dev/null
  printf '| %s | %s | %s |\n' "$name" "$(stat -c %s "$bin")" "$(stat -c %s "$bin.upx")" | tee -a "$out.tmp"
done

bash docker/tini.sh build
rm -f build/tini.levers-upx
# shellcheck disable=SC2086 # the flags are words
upx -q $upx_flags -o build/tini.levers-upx build/tini >/dev/null
printf '| %s | %s | %s |\n' "tini 0.19.0 (docker/tini.sh: musl-gcc -Os, static)" \
  "$(stat -c %s build/tini)" "$(stat -c %s build/tini.levers-upx)" | tee -a "$out.tmp"
rm build/tini.levers-upx
mv "$out.tmp" "$out"
echo "wrote $out ($(date -u +%F), rustc $(rustc --version | cut -d' ' -f2))"
