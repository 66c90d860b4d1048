#!/usr/bin/env bash
# Builds a static musl tini 0.19.0 (what nixpkgs' pkgsStatic.tini is) from Debian's source package:
# Debian's own tini-static links glibc and weighs ~700 KB, more than our whole UPX'd service.
# Usage: docker/tini.sh OUT_DIR [ARCH]   -> OUT_DIR/tini (kept as a cache; delete it to rebuild).
# ARCH aarch64 cross-compiles: musl-gcc builds only for the host, so Debian's cross gcc
# (gcc-aarch64-linux-gnu) is pointed at Debian's multiarch musl-dev:arm64 through the specs file
# that package ships for this (what musl-gcc does natively); the result runs under qemu-user-static.
set -euo pipefail

out_dir=$(realpath "$1")
arch=${2:-$(uname -m)}
tini="$out_dir/tini"
version=0.19.0
if [[ "$arch" == "$(uname -m)" ]]; then
  cc=(musl-gcc)
  run=()
else
  specs=/usr/lib/$arch-linux-musl/musl-gcc.specs
  if [[ ! -f "$specs" ]] || ! command -v "$arch-linux-gnu-gcc" >/dev/null; then
    echo "tini.sh: need gcc-$arch-linux-gnu and musl-dev for $arch ($specs) (.ci/install.sh)" >&2
    exit 1
  fi
  cc=("$arch-linux-gnu-gcc" -specs "$specs")
  run=("qemu-$arch-static")
fi

if [[ -x "$tini" ]] && "${run[@]}" "$tini" --version | grep -qx "tini version $version"; then
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# apt checks the files against the signed Sources index, so dpkg-source need not (it has no keyring).
if ! (cd "$work" && apt-get source --download-only -qq tini &&
  dpkg-source --no-check -x tini_*.dsc src) >"$work/log" 2>&1; then
  cat "$work/log" >&2
  echo "tini.sh: could not fetch Debian's tini source (is a deb-src entry configured?)" >&2
  exit 1
fi
src="$work/src"

# What tini's CMakeLists.txt would configure; done by hand so the flags (-Os, static musl) are ours.
# TINI_GIT is empty as in any build outside tini's own git checkout.
major=$(sed -n 's/^set (tini_VERSION_MAJOR \([0-9]*\))$/\1/p' "$src/CMakeLists.txt")
minor=$(sed -n 's/^set (tini_VERSION_MINOR \([0-9]*\))$/\1/p' "$src/CMakeLists.txt")
patch=$(sed -n 's/^set (tini_VERSION_PATCH \([0-9]*\))$/\1/p' "$src/CMakeLists.txt")
if [[ "$major.$minor.$patch" != "$version" ]]; then
  echo "tini.sh: Debian's tini source is $major.$minor.$patch, expected $version" >&2
  exit 1
fi
sed -e "s/@tini_VERSION_MAJOR@/$major/; s/@tini_VERSION_MINOR@/$minor/" \
  -e "s/@tini_VERSION_PATCH@/$patch/; s/@tini_VERSION_GIT@//" \
  "$src/src/tiniConfig.h.in" >"$src/src/tiniConfig.h"

# Upstream's warning and hardening flags, with -Os instead of -O2: size is the point here.
# (Upstream's -D_FORTIFY_SOURCE=2 is left out: musl has no fortified functions.)
mkdir -p "$out_dir"
"${cc[@]}" -std=gnu99 -Werror -Wextra -Wall -pedantic-errors -Wformat \
  -Os -fstack-protector --param=ssp-buffer-size=4 \
  -static -s -Wl,-z,relro \
  -o "$tini.tmp" "$src/src/tini.c"
"${run[@]}" "$tini.tmp" --version | grep -qx "tini version $version"
mv "$tini.tmp" "$tini"
