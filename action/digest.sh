#!/usr/bin/env bash
# Prints `digest=<16 hex digits>`: the SHA-256 of the action's Rust sources and Cargo files, which
# keys the cache of a built desktag (hashFiles cannot read outside the workspace).
set -euo pipefail
cd "${GITHUB_ACTION_PATH:?}"
sum() { if command -v sha256sum >/dev/null 2>&1; then sha256sum; else shasum -a 256; fi; }
digest=$(find . -path ./target -prune -o -type f \( -name '*.rs' -o -name 'Cargo.*' \) -print |
  LC_ALL=C sort | while IFS= read -r f; do printf '%s\n' "$f"; cat "$f"; done | sum | cut -c1-16)
echo "digest=$digest"
