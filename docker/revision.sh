#!/usr/bin/env bash
# Prints the revision label for images built from this tree, like a flake's self.rev: the commit,
# or `dirty` when tracked files changed (untracked files are not part of the build).
set -euo pipefail
if git diff --quiet HEAD --; then
  git rev-parse HEAD
else
  echo dirty
fi
