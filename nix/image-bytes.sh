#!/usr/bin/env bash
# Prints a docker-archive tarball's size as `docker inspect` counts it: the bytes of the files in
# its layers, without the tar headers and padding around them. The flake's size table and size
# checks use it, so their figures and budgets compare directly with the Docker-built images'.
# Usage: nix/image-bytes.sh IMAGE.tar[.gz]   (needs GNU tar and jq)
set -euo pipefail
archive=${1:?usage: nix/image-bytes.sh IMAGE.tar[.gz]}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xf "$archive" -C "$work"
bytes=0
for layer in $(jq -r '.[0].Layers[]' "$work/manifest.json"); do
  bytes=$((bytes + $(tar -tvf "$work/$layer" | awk '{ s += $3 } END { print s + 0 }')))
done
echo "$bytes"
