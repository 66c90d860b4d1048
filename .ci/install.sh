#!/usr/bin/env bash
# Installs everything the test command needs on a fresh Debian bookworm machine (idempotent).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

# upx-ucl 4.x lives in bookworm-backports; deb-src lets us build a musl tini from Debian's source.
cat > /etc/apt/sources.list.d/tinyweb.sources <<'SRC'
Types: deb deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC

apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  musl-tools dpkg-dev cmake nix-bin wrk jq util-linux python3 \
  golang-go golang-github-labstack-echo-dev >/dev/null
apt-get install -y -qq --no-install-recommends -t bookworm-backports upx-ucl >/dev/null

rustup target add x86_64-unknown-linux-musl
rustup component add clippy rustfmt

for tool in deadnix nixpkgs-fmt cargo-deny cargo-fuzz; do
  command -v "$tool" >/dev/null || cargo install --locked --quiet "$tool"
done
