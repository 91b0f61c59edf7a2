#!/usr/bin/env bash
# Builds the .deb and .rpm (release) and checks them: file names without spaces; each holds the
# app, the `smtp-desk` command, the man pages (rendered from the CLI's clap definition), the desktop
# entry io.github.smtpdesk.SmtpDesk with its icons, the AppStream metainfo and the systemd units
# (user and system), and depends on the system's CA certificates; the desktop entry passes
# desktop-file-validate and the metainfo `appstreamcli validate`. Then the smtp-desk-sendmail
# package (scripts/package-sendmail.sh), and the .deb is installed, used and removed on this
# machine (scripts/package-test.sh; root).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"
app_id=io.github.smtpdesk.SmtpDesk
for tool in desktop-file-validate appstreamcli rpm; do
  command -v "$tool" >/dev/null || { echo "package.sh needs $tool: run scripts/setup.sh test" >&2; exit 1; }
done
# scripts/before-build.sh builds target/release/smtp-desk and its man pages, which the bundles install.
npx tauri build --bundles deb rpm

deb=$(ls -t target/release/bundle/deb/*.deb | grep -v /smtp-desk-sendmail_ | head -n1)
rpm=$(ls -t target/release/bundle/rpm/*.rpm | grep -v /smtp-desk-sendmail- | head -n1)
status=0
fail() { echo "FAIL: $*" >&2; status=1; }
for f in "$deb" "$rpm"; do
  case $(basename "$f") in *" "*) fail "package file name has a space: $f" ;; esac
done
expect=(usr/bin/smtp-desk usr/bin/smtp-desk-app
  usr/share/man/man1/smtp-desk.1.gz usr/share/man/man1/smtp-desk-config.1.gz usr/share/man/man1/smtp-desk-sendmail.1.gz
  "usr/share/applications/$app_id.desktop" "usr/share/metainfo/$app_id.metainfo.xml"
  "usr/share/icons/hicolor/128x128/apps/$app_id.png" "usr/share/icons/hicolor/scalable/apps/$app_id.svg"
  usr/lib/systemd/user/smtp-desk-deliver.service usr/lib/systemd/system/smtp-desk.service)
deb_list=$(dpkg-deb -c "$deb")
rpm_list=$(rpm -qlp "$rpm" 2>/dev/null)
for f in "${expect[@]}"; do
  grep -qE "(^| |/)${f//./\\.}\$" <<<"$deb_list" || fail "missing in $deb: /$f"
  grep -qE "^/${f//./\\.}\$" <<<"$rpm_list" || fail "missing in $rpm: /$f"
done
# TLS checks use the system trust store (rustls-platform-verifier): both packages must pull it in.
dpkg-deb -f "$deb" Depends | grep -q ca-certificates || fail "$deb does not depend on ca-certificates"
rpm -qRp "$rpm" 2>/dev/null | grep -q ca-certificates || fail "$rpm does not require ca-certificates"
[ "$(dpkg-deb -f "$deb" Package)" = smtp-desk ] || fail "$deb: the package is not named smtp-desk"

# The desktop entries and the metainfo as packaged: every .desktop the .deb ships validates (Tauri's
# own, named after productName, stays out of the menus), and only ours is shown.
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
dpkg-deb -x "$deb" "$unpacked"
for entry in "$unpacked"/usr/share/applications/*.desktop; do
  out=$(desktop-file-validate "$entry" 2>&1) || fail "desktop-file-validate $(basename "$entry"): $out"
  [ -z "$out" ] || echo "desktop-file-validate $(basename "$entry"): $out" >&2
done
shown=$(grep -L '^NoDisplay=true' "$unpacked"/usr/share/applications/*.desktop | xargs -n1 basename)
[ "$shown" = "$app_id.desktop" ] || fail "the menus would show: ${shown//$'\n'/ } (expected $app_id.desktop alone)"
grep -qx 'Categories=Network;Email;Settings;' "$unpacked/usr/share/applications/$app_id.desktop" || fail "$app_id.desktop: Categories is not Network;Email;Settings;"
grep -q '^Keywords=' "$unpacked/usr/share/applications/$app_id.desktop" || fail "$app_id.desktop: no Keywords"
grep -qx "Icon=$app_id" "$unpacked/usr/share/applications/$app_id.desktop" || fail "$app_id.desktop: Icon is not $app_id"
exec_bin=$(sed -n 's/^Exec=\([^ ]*\).*/\1/p' "$unpacked/usr/share/applications/$app_id.desktop")
[ -x "$unpacked/usr/bin/$exec_bin" ] || fail "$app_id.desktop: Exec=$exec_bin is not in the package's /usr/bin"
appstreamcli validate --no-net "$unpacked/usr/share/metainfo/$app_id.metainfo.xml" >&2 || fail "appstreamcli validate $app_id.metainfo.xml"
grep -q "<id>$app_id</id>" "$unpacked/usr/share/metainfo/$app_id.metainfo.xml" || fail "the metainfo's id is not $app_id"
[ "$status" -eq 0 ] || exit 1

# The optional package that makes smtp-desk the system's sendmail (symlinks only).
mapfile -t sendmail_pkgs < <(scripts/package-sendmail.sh target/release/bundle)
dpkg-deb -c "${sendmail_pkgs[0]}" | grep -q 'usr/sbin/sendmail -> ../bin/smtp-desk' || { echo "${sendmail_pkgs[0]}: no sendmail link" >&2; exit 1; }
ls -l "$deb" "$rpm" "${sendmail_pkgs[@]}"
echo "packages ok: app, smtp-desk command, man pages, desktop entry $app_id (validated), icons, AppStream metainfo (validated)"
echo "and systemd user and system units in both; each depends on ca-certificates; smtp-desk-sendmail built"

# Install, use and remove the .deb on this machine.
scripts/package-test.sh "$deb"
