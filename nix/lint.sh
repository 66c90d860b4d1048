#!/usr/bin/env bash
# Nix hygiene on a machine without a working Nix store (tests/run.sh step): every .nix file of the
# repository parses, has no dead bindings, and is formatted by the flake's formatter (nixpkgs-fmt).
# With Nix, `nix flake check` runs the same tools as the tinyweb-deadnix and -nixpkgs-fmt checks.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in nix-instantiate deadnix nixpkgs-fmt; do
  command -v "$tool" >/dev/null || { echo "nix/lint.sh: $tool not found (.ci/install.sh installs it)" >&2; exit 1; }
done

# Tracked files plus new ones not yet committed; ignored build output is skipped.
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.nix')
[ "${#files[@]}" -gt 0 ] || { echo "nix/lint.sh: no .nix files found" >&2; exit 1; }

# Debian's nix-bin names a build group that a plain install lacks; parsing needs no builds.
for f in "${files[@]}"; do
  NIX_CONFIG='build-users-group =' nix-instantiate --parse "$f" >/dev/null
done
deadnix --fail "${files[@]}"
nixpkgs-fmt --check "${files[@]}"
echo "nix/lint.sh: ${#files[@]} files parse, have no dead code, and are formatted"
