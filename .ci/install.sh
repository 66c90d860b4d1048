#!/usr/bin/env bash
# Installs everything the test command needs on a fresh Debian bookworm machine (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive

# The compiler rust-toolchain.toml pins, with its components and targets. rustup >= 1.28 no
# longer installs it on first use; `toolchain install` with no name reads the file. Checked after,
# because an existing toolchain of that name (a link, say) can lack what the file asks for.
rustup toolchain install
toolchain=$(sed -n 's/^channel = "\(.*\)"$/\1/p' rust-toolchain.toml)
for component in rust-src clippy rustfmt; do
  rustup component list --installed --toolchain "$toolchain" | grep -q "^$component" ||
    rustup component add --toolchain "$toolchain" "$component"
done
for target in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
  rustup target list --installed --toolchain "$toolchain" | grep -qx "$target" ||
    rustup target add --toolchain "$toolchain" "$target"
done

# The image build's own needs (musl target, musl-gcc, Debian's tini source, UPX 4 from
# bookworm-backports), and the apt sources they take.
bash docker/deps.sh

apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  nix-bin wrk jq util-linux python3 g++ golang-go golang-github-labstack-echo-dev \
  haproxy slowhttptest gcc-aarch64-linux-gnu qemu-user-static file nginx valgrind strace >/dev/null

# Pinned to the versions CI was proven with, so a new release cannot break a new machine.
for tool in deadnix@1.3.1 nixpkgs-fmt@1.3.0 cargo-deny@0.20.2 cargo-fuzz@0.13.2 cargo-cyclonedx@0.5.9 \
  cargo-auditable@0.7.7 rust-audit-info@0.5.4; do
  command -v "${tool%@*}" >/dev/null || cargo install --locked --quiet "$tool"
done

# The deploy tests ("Deploy" in the README): the registry, the second engine and Compose.
apt-get install -y -qq --no-install-recommends \
  docker-compose skopeo podman buildah docker-registry >/dev/null
# The arm64 tini links Debian's musl for arm64 (docker/tini.sh): multiarch.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
  apt-get update -qq
fi
apt-get install -y -qq --no-install-recommends musl-dev:arm64 >/dev/null
# Docker runs the arm64 images through qemu-user-static: the kernel must know qemu for aarch64
# ELF files, with the F flag (Debian's binfmt.d entry) so it works inside containers too.
if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
if [[ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
  grep -v '^#' /usr/lib/binfmt.d/qemu-aarch64.conf | grep . >/proc/sys/fs/binfmt_misc/register
fi
# The static Kubernetes validators and the SBOM schema check from PyPI, pinned to the versions
# proven here, in a venv of their own: checkov pins boto3 and friends, which would clash with
# other Python tools (here it downgraded awscli's s3transfer when installed globally).
deploy_tools=/opt/tinyweb-deploy-tools
[[ -x "$deploy_tools/bin/pip" ]] || python3 -m venv "$deploy_tools"
# A no-op when these exact versions are already there.
"$deploy_tools/bin/pip" install -q --disable-pip-version-check checkov==3.3.30 \
  kubernetes-validate==1.37.0 'cyclonedx-python-lib[json-validation]==7.6.2'
