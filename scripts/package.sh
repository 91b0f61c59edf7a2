#!/usr/bin/env bash
# Builds the .deb and .rpm (release) and checks that each holds the app, the `smtp-desk` command,
# the desktop entry, the icons and the delivery agent's systemd user unit, and depends on the
# system's CA certificates; then the smtp-desk-sendmail package (scripts/package-sendmail.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"
# scripts/before-build.sh builds target/release/smtp-desk, which the bundles install.
npx tauri build --bundles deb rpm

deb=$(ls -t target/release/bundle/deb/*.deb | grep -v /smtp-desk-sendmail_ | head -n1)
rpm=$(ls -t target/release/bundle/rpm/*.rpm | grep -v /smtp-desk-sendmail- | head -n1)
expect=(usr/bin/smtp-desk usr/bin/smtp-desk-app "usr/share/applications/SMTP Desk.desktop" usr/share/icons/hicolor/128x128/apps/smtp-desk-app.png
  usr/lib/systemd/user/smtp-desk-deliver.service)
deb_list=$(dpkg-deb -c "$deb")
rpm_list=$(rpm -qlp "$rpm" 2>/dev/null)
status=0
for f in "${expect[@]}"; do
  grep -qE "(^| |/)${f}\$" <<<"$deb_list" || { echo "missing in $deb: /$f" >&2; status=1; }
  grep -qE "^/${f}\$" <<<"$rpm_list" || { echo "missing in $rpm: /$f" >&2; status=1; }
done
# TLS checks use the system trust store (rustls-platform-verifier): both packages must pull it in.
dpkg-deb -f "$deb" Depends | grep -q ca-certificates || { echo "$deb does not depend on ca-certificates" >&2; status=1; }
rpm -qRp "$rpm" 2>/dev/null | grep -q ca-certificates || { echo "$rpm does not require ca-certificates" >&2; status=1; }
[ "$status" -eq 0 ] || exit 1
# The optional package that makes smtp-desk the system's sendmail (symlinks only).
mapfile -t sendmail_pkgs < <(scripts/package-sendmail.sh target/release/bundle)
dpkg-deb -c "${sendmail_pkgs[0]}" | grep -q 'usr/sbin/sendmail -> ../bin/smtp-desk' || { echo "${sendmail_pkgs[0]}: no sendmail link" >&2; exit 1; }
ls -l "$deb" "$rpm" "${sendmail_pkgs[@]}"
echo "packages ok: app, smtp-desk command, desktop entry, icons and systemd user unit in both, and each depends on ca-certificates; smtp-desk-sendmail built"
