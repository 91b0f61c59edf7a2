#!/usr/bin/env bash
# Runs a command inside a private desktop session: its own D-Bus session bus, an unlocked
# gnome-keyring (the real Secret Service) and an Xvfb display. Nothing touches the user's own
# keyring, settings or log: data, config, cache and state dirs are temporary.
set -euo pipefail
if [ "$#" -eq 0 ]; then
  echo "usage: scripts/session.sh COMMAND [ARGS...]" >&2
  exit 2
fi
scratch=$(mktemp -d -t smtp-desk-session.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
export XDG_DATA_HOME="$scratch/data" XDG_CONFIG_HOME="$scratch/config" XDG_CACHE_HOME="$scratch/cache"
export XDG_STATE_HOME="$scratch/state" XDG_RUNTIME_DIR="$scratch/run"
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_STATE_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
export NO_AT_BRIDGE=1 WEBKIT_DISABLE_COMPOSITING_MODE=1
# This password only unlocks this throwaway keyring; the locked-keyring test uses it to unlock again.
export SMTP_DESK_SESSION_KEYRING_PASSWORD="session-keyring"
exec xvfb-run --auto-servernum --server-args="-screen 0 1280x1024x24" dbus-run-session -- \
  bash -c 'printf "%s" "$SMTP_DESK_SESSION_KEYRING_PASSWORD" | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "$@"' session "$@"
