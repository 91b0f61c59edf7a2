#!/usr/bin/env bash
# Tauri's beforeBuildCommand: builds the front end, and for a release build also the `smtp-desk`
# command, which the .deb and .rpm install as /usr/bin/smtp-desk (see src-tauri/tauri.conf.json).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
npm --prefix "$root/ui" run build
if [ "${TAURI_ENV_DEBUG:-false}" != true ]; then
  cargo build --release --bin smtp-desk --manifest-path "$root/Cargo.toml"
fi
