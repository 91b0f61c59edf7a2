#!/usr/bin/env bash
# Runs every test of SMTP Desk, installing what they need first (scripts/setup.sh test):
# the front end's unit tests, then the Rust tests (model, settings file, CLI, keyring, SMTP
# against real and misbehaving servers, and the real window through WebDriver) inside a private
# desktop session (scripts/session.sh: Xvfb, D-Bus, an unlocked throwaway gnome-keyring).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh test
export PATH="$HOME/.cargo/bin:$PATH"

echo "== front end: type check and unit tests" >&2
npm --prefix ui run --silent typecheck
npm --prefix ui test

echo "== contract: the window's generated TypeScript types match its Rust structs" >&2
cargo test -p smtp-desk-app --quiet

echo "== building the app (debug, with the built front end)" >&2
npx tauri build --debug --no-bundle

echo "== Rust tests, in a private desktop session" >&2
mkdir -p test-output
export SMTP_DESK_APP="$root/target/debug/smtp-desk-app"
# The session's own services (D-Bus activation, portals) chatter on stderr; keep it in a log.
scripts/session.sh cargo test -p smtp-desk --no-fail-fast 2> >(grep -v -E 'dbus-daemon|portal|Gtk-WARNING|Gcr-WARNING|pw\.conf|PipeWire|max threads|^$' >&2)

echo "== window screenshots are in test-output/:" >&2
ls test-output/*.png >&2

echo "== packages: .deb and .rpm (contents, desktop entry, AppStream, man pages, units), then install and remove the .deb" >&2
scripts/package.sh
