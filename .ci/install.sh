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
  nix-bin wrk jq util-linux python3 g++ golang-go golang-github-labstack-echo-dev >/dev/null

rustup component add clippy rustfmt

# Pinned to the versions CI was proven with, so a new release cannot break a new machine.
for tool in deadnix@1.3.1 nixpkgs-fmt@1.3.0 cargo-deny@0.20.2 cargo-fuzz@0.13.2 cargo-cyclonedx@0.5.9; do
  command -v "${tool%@*}" >/dev/null || cargo install --locked --quiet "$tool"
done

# Issue 11 (deploy): the registry, the second engine and Compose from Debian; the static
# Kubernetes validators from PyPI in a venv of their own (checkov pins boto3 and friends, which
# would clash with other Python tools), pinned to the versions proven here.
apt-get install -y -qq --no-install-recommends \
  docker-compose skopeo podman buildah docker-registry >/dev/null
deploy_tools=/opt/tinyweb-deploy-tools
[[ -x "$deploy_tools/bin/pip" ]] || python3 -m venv "$deploy_tools"
# A no-op when these exact versions are already there.
"$deploy_tools/bin/pip" install -q --disable-pip-version-check checkov==3.3.30 \
  kubernetes-validate==1.37.0 'cyclonedx-python-lib[json-validation]==7.6.2'
