#!/usr/bin/env bash
# Regenerates ui/src/generated/ (the TypeScript side of the IPC contract) from the Rust types:
# the core's types and default values, then (with the core's again) the window's own IPC structs,
# which also removes files no type makes any more. Run it after changing
# any type that crosses IPC; the contract tests fail until you do.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
UPDATE_BINDINGS=1 cargo test -p smtp-desk --test contract -- --quiet typescript_bindings_are_current
UPDATE_BINDINGS=1 cargo test -p smtp-desk-app -- --quiet contract::
echo "ui/src/generated/ is up to date; now: npm --prefix ui run typecheck" >&2
