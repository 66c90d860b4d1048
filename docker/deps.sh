#!/usr/bin/env bash
# Makes sure this machine has what docker/build.sh needs beyond cargo: musl-gcc and dpkg-source
# (for the static tini), Debian's tini source package, and UPX 4 from bookworm-backports (the
# flake's UPX flags need 4.x; bookworm itself has 3.96). Installs only what is missing.
set -euo pipefail

target=x86_64-unknown-linux-musl

upx_major() {
  upx --version 2>/dev/null | sed -n '1s/^upx \([0-9]*\)\..*/\1/p'
}

has_tini_source() {
  apt-cache showsrc tini 2>/dev/null | grep -q '^Package: tini$'
}

if ! rustup target list --installed | grep -qx "$target"; then
  rustup target add "$target"
fi

if command -v musl-gcc >/dev/null && command -v dpkg-source >/dev/null &&
  [[ "$(upx_major)" -ge 4 ]] 2>/dev/null && has_tini_source; then
  exit 0
fi

if [[ $EUID -ne 0 ]]; then
  echo "deps.sh: need musl-tools, dpkg-dev, upx-ucl 4 (bookworm-backports) and a deb-src entry; run as root or run .ci/install.sh" >&2
  exit 1
fi

# Binaries from bookworm-backports (bookworm itself is already a source), and bookworm's sources.
cat >/etc/apt/sources.list.d/tinyweb.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends musl-tools dpkg-dev >/dev/null
apt-get install -y -qq --no-install-recommends -t bookworm-backports upx-ucl >/dev/null
