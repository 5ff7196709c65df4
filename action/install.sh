#!/usr/bin/env bash
# Installs desktag for the GitHub Action (action.yml), unless it is on PATH already.
#
# 1. The prebuilt binary of the release named by the action's own ref (DESKTAG_ACTION_REF, e.g.
#    v0.3.0), for this runner, verified against the release's SHA-256 checksum. A checksum that
#    does not match fails the step: it is never installed, nor replaced by a build.
# 2. When there is no such release (a branch or commit ref, or a platform without a binary),
#    `cargo install` from the action's checkout into DESKTAG_INSTALL_DIR, which action.yml caches.
#
# DESKTAG_RELEASE_BASE_URL overrides where releases are downloaded from (tests use file://).
set -euo pipefail

if command -v desktag >/dev/null 2>&1; then
  echo "desktag is on PATH already: $(command -v desktag)"
  exit 0
fi

install_dir=${DESKTAG_INSTALL_DIR:?}
bin_dir="$install_dir/bin"
mkdir -p "$bin_dir"
add_to_path() {
  if [ -n "${GITHUB_PATH:-}" ]; then echo "$bin_dir" >>"$GITHUB_PATH"; fi
}
if [ -x "$bin_dir/desktag" ] || [ -x "$bin_dir/desktag.exe" ]; then
  echo "desktag from the cache: $bin_dir"
  add_to_path
  exit 0
fi

case "${RUNNER_OS:-Linux}/${RUNNER_ARCH:-X64}" in
  Linux/X64) target=x86_64-unknown-linux-musl ;;
  Linux/ARM64) target=aarch64-unknown-linux-musl ;;
  macOS/X64) target=x86_64-apple-darwin ;;
  macOS/ARM64) target=aarch64-apple-darwin ;;
  Windows/X64) target=x86_64-pc-windows-msvc ;;
  *) target="" ;;
esac

ref=${DESKTAG_ACTION_REF:-}
repository=${DESKTAG_ACTION_REPOSITORY:-}
base=${DESKTAG_RELEASE_BASE_URL:-https://github.com/$repository/releases/download}
asset="desktag-$target.tar.gz"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -n "$target" ] && [ -n "$ref" ] && [ -n "$repository$DESKTAG_RELEASE_BASE_URL" ] &&
  curl -fsSL --retry 3 -o "$work/$asset" "$base/$ref/$asset" &&
  curl -fsSL --retry 3 -o "$work/$asset.sha256" "$base/$ref/$asset.sha256"; then
  expected=$(awk '{print $1; exit}' "$work/$asset.sha256")
  if command -v sha256sum >/dev/null 2>&1; then
    actual=$(sha256sum "$work/$asset" | awk '{print $1}')
  else
    actual=$(shasum -a 256 "$work/$asset" | awk '{print $1}')
  fi
  if [ "$expected" != "$actual" ]; then
    echo "::error::desktag $ref ($target): the download's SHA-256 is $actual, the release says $expected; not installing it"
    exit 1
  fi
  tar -xzf "$work/$asset" -C "$bin_dir"
  echo "desktag $ref ($target) from the release, checksum verified"
else
  echo "no prebuilt desktag for ref '${ref:-?}' on ${RUNNER_OS:-?}/${RUNNER_ARCH:-?}: building it (cached for later runs)"
  cargo install --locked --path "${GITHUB_ACTION_PATH:?}" --root "$install_dir"
fi
add_to_path
