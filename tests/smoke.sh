#!/usr/bin/env bash
# Smoke test for one tinyweb binary, the same in the Nix build sandbox (the *-smoke checks) and
# in CI: it serves `Hello, World!` on loopback and exits 0 on SIGTERM.
# Usage: tests/smoke.sh BINARY   (needs curl; SMOKE_PORT picks the port, else a random high one)
set -euo pipefail

binary=${1:?usage: tests/smoke.sh BINARY}
[ -x "$binary" ] || { echo "smoke: $binary is not an executable file" >&2; exit 2; }
port=${SMOKE_PORT:-$((20000 + RANDOM % 20000))}
expected='Hello, World!'
log=$(mktemp)
pid=

cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$log"
}
trap cleanup EXIT

fail() {
  echo "smoke: FAIL $binary: $*" >&2
  echo "smoke: service log:" >&2
  sed 's/^/  | /' "$log" >&2
  exit 1
}

PORT=$port HOST=127.0.0.1 "$binary" 2>"$log" &
pid=$!

# Up to 10 s for the listener; a service that exits early is reported at once.
for _ in $(seq 100); do
  curl -fs --max-time 1 -o /dev/null "http://127.0.0.1:$port/" && break
  kill -0 "$pid" 2>/dev/null || fail "exited before listening on 127.0.0.1:$port"
  sleep 0.1
done

# The trailing dot keeps a trailing newline in the body, so the comparison is byte-exact.
body=$(curl -fsS --max-time 5 "http://127.0.0.1:$port/" && printf .) || fail "GET / on port $port failed"
body=${body%.}
[ "$body" = "$expected" ] || fail "GET / returned '$body', expected '$expected'"

kill -TERM "$pid"
for _ in $(seq 100); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$pid" 2>/dev/null && fail "still running 10 s after SIGTERM"
status=0
wait "$pid" || status=$?
pid=
[ "$status" -eq 0 ] || fail "exit status $status after SIGTERM, expected 0"
echo "smoke: ok $binary (GET / = '$expected', SIGTERM -> exit 0)"
