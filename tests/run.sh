#!/usr/bin/env bash
# The one test command for machines without Nix (README "Testing"): lint, unit and integration
# tests, Nix hygiene, the Docker-built images and their acceptance test, and the quick benchmark.
# Docker-dependent steps skip with a message outside CI and fail under CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."

step() {
  echo "==> $*"
  "$@"
}

step cargo fmt --all -- --check
step cargo clippy --locked --all-targets -- -D warnings
step cargo test --locked
step bash fuzz/run.sh 60
step bash nix/lint.sh
step bash nix/check-std-lock.sh
step cargo deny check bans licenses sources
step env PATH="/opt/tinyweb-deploy-tools/bin:$PATH" python3 tests/deploy/validate.py
step bash docker/build.sh
step python3 tests/image/auditable.py build/bin/tinyweb build/bin/tinyweb-minimal
step bash docker/repro.sh
step bash docker/cross.sh aarch64
step python3 tests/image/auditable.py --target aarch64-unknown-linux-musl build/aarch64/bin/tinyweb \
  build/aarch64/bin/tinyweb-minimal
step bash docker/arm64.sh
step bash docker/sbom.sh
step env PATH="/opt/tinyweb-deploy-tools/bin:$PATH" python3 tests/image/sbom.py build/images build/images/arm64
step python3 tests/image/acceptance.py tinyweb:scratch tinyweb:stripped tinyweb:minimal tinyweb:tiniest
step python3 tests/image/acceptance.py build/images/arm64/scratch.tar build/images/arm64/stripped.tar \
  build/images/arm64/minimal.tar build/images/arm64/tiniest.tar
step python3 tests/image/compose.py build/images/stripped.tar
step python3 tests/image/any_uid.py build/images build/images/arm64
step python3 tests/image/registry.py build/images build/images/arm64
step python3 tests/image/podman.py build/images
step python3 bench/run.py --quick
step python3 tests/image/floods.py tinyweb:tiniest --smoke tinyweb:stripped tinyweb:minimal tinyweb:scratch
step python3 tests/rolling/rolling_restart.py
step python3 bench/instructions.py --quick
