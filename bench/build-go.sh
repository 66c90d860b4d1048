#!/usr/bin/env bash
# Builds the benchmark's baseline, the article's Go/echo hello world, offline from Debian's
# golang-go and golang-github-labstack-echo-dev, the article's three ways: static (debug info),
# `-ldflags='-s -w'`, and that packed with `upx --brute`. Packs each with the same static tini
# into a scratch image the way docker/build.sh packs tinyweb's, and loads go-echo:scratch,
# :stripped and :tiniest.
# Usage: bash bench/build-go.sh [--quick]
#   --quick packs with `upx --best --lzma`, which gave a byte-identical binary to `--brute` with
#   Go 1.19.8 and UPX 4.2.2 here in a thirtieth of the time (the flags used are recorded).
set -euo pipefail
cd "$(dirname "$0")/.."

definition=bench/go/image.json
out=build/bench/go
images=build/bench/images

json() {
  python3 -c "import json, sys; $1" "$definition"
}

mapfile -t upx_flags < <(json 'print(*json.load(open(sys.argv[1]))["upxFlags"], sep="\n")')
if [[ "${1:-}" == --quick ]]; then
  upx_flags=(--best --lzma)
elif [[ $# -gt 0 ]]; then
  echo "build-go.sh: unknown argument $1 (usage: build-go.sh [--quick])" >&2
  exit 2
fi

for tool in go upx; do
  if ! command -v "$tool" >/dev/null; then
    echo "build-go.sh: $tool not found; run .ci/install.sh" >&2
    exit 1
  fi
done
echo_version=$(dpkg-query -W -f '${Version}' golang-github-labstack-echo-dev 2>/dev/null) || {
  echo "build-go.sh: golang-github-labstack-echo-dev is not installed; run .ci/install.sh" >&2
  exit 1
}

# Go modules cannot resolve Debian's source tree (some of echo's dependencies ship without
# go.mod), so build in GOPATH mode: echo's import path github.com/labstack/echo/v4 then resolves
# to Debian's github.com/labstack/echo. -trimpath keeps the checkout's path out of the binaries.
gopath=$PWD/build/bench/gopath
mkdir -p "$gopath/src/hello" "$out" "$images"
cp bench/go/main.go bench/go/go.mod "$gopath/src/hello/"
gobuild() {
  (cd "$gopath/src/hello" &&
    GO111MODULE=off GOPROXY=off GOFLAGS= CGO_ENABLED=0 GOPATH="$gopath:/usr/share/gocode" \
      go build -trimpath "$@")
}
gobuild -o "$PWD/$out/go-echo-debug"
gobuild -ldflags='-s -w' -o "$PWD/$out/go-echo"

# --brute takes minutes: keep each packing, keyed by the input and the flags.
packed="$out/upx-cache/$( (sha256sum <"$out/go-echo" && echo "${upx_flags[*]}") | sha256sum | cut -c1-16)"
if [[ ! -f "$packed" ]]; then
  mkdir -p "$out/upx-cache"
  rm -f "$packed.tmp"
  upx -q "${upx_flags[@]}" -o "$packed.tmp" "$out/go-echo" >/dev/null
  mv "$packed.tmp" "$packed"
fi
install -m 0755 "$packed" "$out/go-echo-upx"
printf '%s\n' "${upx_flags[*]}" >"$out/upx-flags"

bash docker/tini.sh build

revision=$(bash docker/revision.sh)

mapfile -t variants < <(json '
for name, variant in json.load(open(sys.argv[1]))["variants"].items():
    print(name, variant["binary"])')
name=$(json 'print(json.load(open(sys.argv[1]))["name"])')
for line in "${variants[@]}"; do
  read -r variant binary <<<"$line"
  python3 -B docker/pack.py --server-name server --version "$echo_version" "$definition" "$variant" \
    build/tini "$out/$binary" Cargo.toml "$revision" "$images/$name-$variant.tar"
  docker load -q -i "$images/$name-$variant.tar" >/dev/null
  echo "$name:$variant: $(stat -c %s "$out/$binary") bytes of server, image $(docker image inspect -f '{{.Size}}' "$name:$variant") bytes"
done
