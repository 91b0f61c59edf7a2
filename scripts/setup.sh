#!/usr/bin/env bash
# Installs what SMTP Desk needs on a Debian/Ubuntu machine, skipping what is already there.
#   scripts/setup.sh run    what building and running the app needs
#   scripts/setup.sh test   that, plus what the tests need (Xvfb, WebKitWebDriver, tauri-driver,
#                           gnome-keyring, real SMTP servers: aiosmtpd and Postfix's smtp-sink;
#                           swaks, hyperfine, msmtp, strace and pflogsumm for benchmarks;
#                           Cyrus SASL's NTLM plugin and saslpasswd2 for the AUTH NTLM test's Postfix;
#                           desktop-file-utils, appstream, man-db and dpkg-repack for the package tests
#                           and python3-jwt for the OAuth2 test server's token check; npm oauth2-mock-server
#                           comes with the root package.json)
set -euo pipefail
purpose=${1:-run}
root=$(cd "$(dirname "$0")/.." && pwd)

say() { printf '== %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# systemd (systemd-creds), passwd (useradd) and util-linux (runuser): the system-mode test.
# util-linux (unshare) and iproute2 (ip): the port-25 tests run in a network namespace of their own.
# ca-certificates: the system trust store the server certificate is checked against (the tests
# also install a test CA into it with update-ca-certificates).
build_packages=(build-essential pkg-config curl file ca-certificates libwebkit2gtk-4.1-dev libxdo-dev libssl-dev
  libayatana-appindicator3-dev librsvg2-dev libdbus-1-dev)
test_packages=(xvfb xauth webkit2gtk-driver gnome-keyring dbus-x11 libsecret-tools libglib2.0-bin
  python3 python3-aiosmtpd python3-xlib swaks hyperfine openssl rpm msmtp strace pflogsumm
  libsasl2-modules sasl2-bin systemd passwd util-linux dnsmasq python3-jwt python3-cryptography
  desktop-file-utils appstream man-db dpkg-repack iproute2)
packages=("${build_packages[@]}")
[ "$purpose" = test ] && packages+=("${test_packages[@]}")

# Postfix only for its test tools (smtp-sink, smtp-source) and benchmark figures: installed as
# "No configuration", so no main.cf is written, no daemon is configured or started and port 25
# stays free. Installing it would remove another mail transport agent (Postfix conflicts with
# mail-transport-agent), so a machine that has one keeps it, and the tests that need smtp-sink say so.
if [ "$purpose" = test ] && ! dpkg-query -W -f='${Status}' postfix 2>/dev/null | grep -q "install ok installed"; then
  other_mta=$(dpkg-query -W -f='${Package} ${Provides} ${Status}\n' 2>/dev/null | awk '/mail-transport-agent/ && /install ok installed/ {print $1}' | head -n1)
  if [ -n "$other_mta" ]; then
    say "not installing postfix: it would replace this machine's mail transport agent ($other_mta); the crash test needs /usr/sbin/smtp-sink"
  else
    echo "postfix postfix/main_mailer_type select No configuration" | as_root debconf-set-selections
    packages+=(postfix)
  fi
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  [ -x "$HOME/.cargo/bin/cargo" ] || {
    say "installing the Rust toolchain (rustup)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  }
  export PATH="$HOME/.cargo/bin:$PATH"
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  say "Node.js 20 or newer is needed (found: ${node_major}); installing Debian's nodejs and npm"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi

# npm ci only when the lock file changed since the last install: it wipes node_modules.
for dir in "$root" "$root/ui"; do
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    say "npm ci in ${dir#"$root"/}"
    # A registry mirror may lack other platforms' optional builds (e.g. the Tauri CLI for macOS),
    # which npm ci counts as a lock mismatch; npm install keeps the locked versions and skips them.
    (cd "$dir" && { npm ci --no-audit --no-fund --loglevel=error 2>/dev/null || npm install --no-audit --no-fund --loglevel=error; })
  fi
done

if [ "$purpose" = test ] && ! command -v tauri-driver >/dev/null; then
  say "installing tauri-driver (WebDriver for the window tests)"
  cargo install tauri-driver --locked --version 2.1.0 --quiet
fi
