#!/usr/bin/env bash
# Proves the images do not depend on where things live: builds every image a second time from a
# second clone at another path, with another CARGO_HOME and the toolchain at another location (a
# hard-linked copy registered with `rustup toolchain link`), and compares the tarballs byte for
# byte with build/images/ from docker/build.sh. Run docker/build.sh first.
# Costs a full second build (every profile, std for size, tini); nothing is downloaded, because the
# second CARGO_HOME's registry and the toolchain copy are hard links to this machine's.
# Usage: bash docker/repro.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd -P)

if ! compgen -G "build/images/*.tar" >/dev/null; then
  echo "repro.sh: no build/images/*.tar: run docker/build.sh first" >&2
  exit 1
fi

work=$(mktemp -d /tmp/tinyweb-repro.XXXXXX)
toolchain=tinyweb-repro-$$
cleanup() {
  rustup toolchain uninstall "$toolchain" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
if [[ -n "${TINYWEB_REPRO_KEEP:-}" ]]; then
  trap 'rustup toolchain uninstall "$toolchain" >/dev/null 2>&1 || true; echo "kept $work"' EXIT
fi

# The second clone: HEAD plus this tree's uncommitted changes to tracked files, so a dirty tree is
# compared with itself (both builds then label the images `dirty`).
clone="$work/somewhere/else/tinyweb-second-clone"
git clone -q --shared "$root" "$clone"
git diff HEAD --binary | git -C "$clone" apply --allow-empty
# An untracked but built file would make the first build differ from a clean clone's.
if [[ "$(bash docker/revision.sh)" != "$(cd "$clone" && bash docker/revision.sh)" ]]; then
  echo "repro.sh: the second clone's revision differs from this tree's" >&2
  exit 1
fi

# Another CARGO_HOME holding the same crates, and the pinned toolchain at another path.
cargo_home="$work/other-cargo-home"
mkdir -p "$cargo_home"
cp -al "${CARGO_HOME:-$HOME/.cargo}/registry" "$cargo_home/registry"
sysroot=$(rustc --print sysroot)
cp -al "$sysroot/." "$work/toolchain-copy"
rustup toolchain link "$toolchain" "$work/toolchain-copy"

echo "repro.sh: second build in $clone (CARGO_HOME $cargo_home, toolchain $work/toolchain-copy)"
started=$SECONDS
(cd "$clone" && CARGO_HOME="$cargo_home" RUSTUP_TOOLCHAIN="$toolchain" \
  bash docker/build.sh --no-load >/dev/null)
echo "repro.sh: second build took $((SECONDS - started)) s"

different=0
# The binaries first: when an image differs, they say which ingredient did.
for first in build/tini build/tini-upx build/bin/*; do
  if ! cmp -s "$first" "$clone/$first"; then
    echo "repro.sh: $first differs between the two builds" >&2
  fi
done
for first in build/images/*.tar; do
  second="$clone/$first"
  if cmp -s "$first" "$second"; then
    echo "$(basename "$first" .tar): byte-identical from both clones: $(sha256sum "$first" | cut -d' ' -f1)"
  else
    echo "repro.sh: $(basename "$first" .tar) differs between $root and $clone" >&2
    different=1
  fi
done
exit "$different"
