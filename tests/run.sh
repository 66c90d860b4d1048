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
step cargo deny check bans licenses sources
step bash docker/build.sh
step python3 tests/image/acceptance.py tinyweb:scratch tinyweb:stripped tinyweb:tiniest
step python3 bench/run.py --quick
step python3 bench/instructions.py --quick
