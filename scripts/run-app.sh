#!/usr/bin/env bash
# Builds and starts SMTP Desk's window, installing what it needs first (scripts/setup.sh run).
# Also builds the `smtp-desk` command beside it: target/release/smtp-desk.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh run
export PATH="$HOME/.cargo/bin:$PATH"
npx tauri build --no-bundle # scripts/before-build.sh builds the front end and the command
echo "== the command line: $root/target/release/smtp-desk" >&2
exec "$root/target/release/smtp-desk-app" "$@"
