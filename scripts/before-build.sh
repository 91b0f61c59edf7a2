#!/usr/bin/env bash
# Tauri's beforeBuildCommand: builds the front end, and for a release build also the `smtp-desk`
# command, which the .deb and .rpm install as /usr/bin/smtp-desk, and its manual pages, rendered from
# the command's clap definition (`smtp-desk man DIR`) into target/release/man/ for /usr/share/man/man1
# (see src-tauri/tauri.conf.json).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
npm --prefix "$root/ui" run build
if [ "${TAURI_ENV_DEBUG:-false}" != true ]; then
  cargo build --release --bin smtp-desk --manifest-path "$root/Cargo.toml"
  rm -rf "$root/target/release/man"
  "$root/target/release/smtp-desk" man "$root/target/release/man"
  gzip -9n "$root/target/release/man"/*.1
fi
