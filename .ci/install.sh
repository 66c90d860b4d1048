#!/usr/bin/env bash
# Installs everything the test command needs on a fresh Debian bookworm machine (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive

# The image build's own needs (musl target, musl-gcc, Debian's tini source, UPX 4 from
# bookworm-backports), and the apt sources they take.
bash docker/deps.sh

apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  nix-bin wrk jq util-linux python3 g++ golang-go golang-github-labstack-echo-dev \
  nginx valgrind strace >/dev/null

rustup component add clippy rustfmt

# Pinned to the versions CI was proven with, so a new release cannot break a new machine.
for tool in deadnix@1.3.1 nixpkgs-fmt@1.3.0 cargo-deny@0.20.2 cargo-fuzz@0.13.2; do
  command -v "${tool%@*}" >/dev/null || cargo install --locked --quiet "$tool"
done
