#!/usr/bin/env bash
# Builds tinyweb's static musl binaries for another architecture, the way docker/build.sh builds
# them for this one (same profiles, docker/minimal.sh, docker/remap.sh, UPX flags), and runs each
# under qemu-user-static: it must print its version, serve GET / over loopback and exit 0 on
# SIGTERM. Linker: Debian's gcc-aarch64-linux-gnu (GNU ld takes .cargo/config.toml's
# -Wl,--compress-debug-sections=zlib; rust-lld would reject -Wl flags); libc: the musl that
# rustup ships with the target (self-contained crt objects). Each binary must be static-pie like
# the x86_64 build (address randomisation kept) where rustc's target supports it, and static in
# any case: rustc 1.95.0's aarch64-unknown-linux-musl has no static-pie support, so its binaries
# are static non-PIE (README, "aarch64"); the script says which and fails on anything dynamic.
# Usage: bash docker/cross.sh ARCH [--smoke]   e.g. aarch64 -> build/aarch64/bin/
#   --smoke: only the stripped binary (what CI runs: the cheap proof that the cross build works)
set -euo pipefail
cd "$(dirname "$0")/.."

arch=${1:?usage: docker/cross.sh ARCH [--smoke]}
smoke=false
if [[ "${2:-}" == --smoke ]]; then
  smoke=true
fi
target=$arch-unknown-linux-musl
bin=build/$arch/bin
qemu=qemu-$arch-static

for tool in "$arch-linux-gnu-gcc" "$qemu" upx file; do
  if ! command -v "$tool" >/dev/null; then
    echo "cross.sh: $tool is missing (.ci/install.sh installs gcc-$arch-linux-gnu and qemu-user-static)" >&2
    exit 1
  fi
done
if ! rustup target list --installed | grep -qx "$target"; then
  rustup target add "$target"
fi

# shellcheck source=docker/remap.sh
source docker/remap.sh
export "$(rustflags_var "$target")=$(remap_flags) $(release_rustflags)"
export "CARGO_TARGET_$(echo "$target" | tr 'a-z-' 'A-Z_')_LINKER=$arch-linux-gnu-gcc"
target_dir=$(cargo metadata --locked --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
mkdir -p "$bin"

cargo auditable build --locked --quiet --release --target "$target"
install -m 0755 "$target_dir/$target/release/tinyweb" "$bin/tinyweb"
binaries=(tinyweb)
if [[ "$smoke" == false ]]; then
  cargo build --locked --quiet --profile debuginfo --target "$target"
  install -m 0755 "$target_dir/$target/debuginfo/tinyweb" "$bin/tinyweb-debug"
  bash docker/minimal.sh "$target" "$bin/tinyweb-minimal"
  mapfile -t upx_flags < <(python3 -c 'import json; print(*json.load(open("nix/image.json"))["upxFlags"], sep="\n")')
  rm -f "$bin/tinyweb-upx"
  upx -q "${upx_flags[@]}" -o "$bin/tinyweb-upx" "$bin/tinyweb-minimal" >/dev/null
  binaries+=(tinyweb-debug tinyweb-minimal tinyweb-upx)
fi

# Serves one GET / under qemu on a free loopback port, then SIGTERM must end it with status 0.
run_under_qemu() {
  local binary=$1 port log pid status
  "$qemu" "$binary" --version | grep -q '^tinyweb '
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  log=$(mktemp)
  HOST=127.0.0.1 PORT=$port "$qemu" "$binary" 2>"$log" &
  pid=$!
  local body=""
  for _ in $(seq 100); do
    body=$(python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$port/', timeout=2).read().decode())" 2>/dev/null) && break
    sleep 0.1
  done
  kill -TERM "$pid"
  status=0
  wait "$pid" || status=$?
  if [[ "$body" != "Hello, World!" || $status -ne 0 ]]; then
    echo "cross.sh: $binary under $qemu answered ${body:-nothing}, exit status $status; log:" >&2
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

if RUSTC_BOOTSTRAP=1 rustc -Z unstable-options --print target-spec-json --target "$target" |
  grep -q '"static-position-independent-executables": true'; then
  kind=static-pie
else
  kind="statically linked"
  echo "cross.sh: rustc's $target has no static-pie support: static non-PIE binaries (no ASLR of the program image)"
fi
echo "| $arch binary | bytes | file |"
echo "|---|--:|---|"
for name in "${binaries[@]}"; do
  description=$(file -b "$bin/$name")
  # UPX-packed files have no dynamic section for file(1) to read; their stub is static.
  if [[ "$name" != tinyweb-upx && "$description" != *"$kind"* ]]; then
    echo "cross.sh: $bin/$name is not $kind: $description" >&2
    exit 1
  fi
  run_under_qemu "$bin/$name"
  echo "| $bin/$name | $(stat -c %s "$bin/$name") | ${description%%, BuildID*} |"
done
