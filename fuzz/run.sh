#!/usr/bin/env bash
# Fuzzes the running service with arbitrary bytes over loopback TCP for SECONDS (default 60).
# CI runs the default; by hand, run longer: `bash fuzz/run.sh 3600`. New inputs that reach new
# code are kept in fuzz/corpus/raw_tcp; a crash or hang is saved in fuzz/artifacts/raw_tcp and
# reproduced with `cargo fuzz run -s none raw_tcp <that file>` (run from fuzz/).
# cargo-fuzz runs on stable Rust here: with no sanitizer (-s none) it needs no nightly flags.
set -euo pipefail
cd "$(dirname "$0")"

seconds=${1:-60}
if ! command -v cargo-fuzz >/dev/null; then
  if [ "${CI:-}" = true ]; then
    echo "fuzz: cargo-fuzz is missing (.ci/install.sh installs it)" >&2
    exit 1
  fi
  echo "fuzz: SKIP, cargo-fuzz is not installed (cargo install --locked cargo-fuzz)"
  exit 0
fi

mkdir -p corpus/raw_tcp
# The shared target dir keeps build output in one git-ignored place.
cargo fuzz run --sanitizer none --target-dir ../target/fuzz raw_tcp corpus/raw_tcp seeds/raw_tcp -- \
  -dict=http.dict -max_total_time="$seconds" -timeout=20 -print_final_stats=1
