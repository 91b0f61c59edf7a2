#!/usr/bin/env bash
# Installs the smtp-desk .deb on this machine, checks what a user gets, and removes it again:
#   - `smtp-desk --version` runs from PATH and reports the package's version;
#   - `man smtp-desk` (and a subcommand's page) is found;
#   - the desktop entry io.github.smtpdesk.SmtpDesk is in /usr/share/applications and validates,
#     the AppStream metainfo is in /usr/share/metainfo and validates;
#   - the systemd user and system units are installed and pass `systemd-analyze verify`;
#   - `dpkg -r` removes the command, the desktop entry, the metainfo and the man page and leaves a
#     user's settings file (written by the installed command) byte for byte as it was.
# The machine is left as it was: SMTP Desk packages installed before the test (smtp-desk,
# smtp-desk-sendmail) are saved with dpkg-repack and put back afterwards, even when a check fails.
#
#   scripts/package-test.sh target/release/bundle/deb/smtp-desk_0.1.0_amd64.deb
#
# Needs root (it installs a package). In CI (CI=true) not being root is a failure; a developer who
# is not root gets a SKIPPED line with the reason.
set -euo pipefail
deb=$(realpath "${1:?usage: package-test.sh PATH/TO/smtp-desk_VERSION_ARCH.deb}")
app_id=io.github.smtpdesk.SmtpDesk
if [ "$(id -u)" -ne 0 ]; then
  if [ "${CI:-}" = true ]; then
    echo "FAIL: package-test.sh must run as root in CI (it installs and removes $deb)" >&2
    exit 1
  fi
  echo "SKIPPED: package-test.sh installs and removes a .deb: run it as root (sudo $0 $deb)" >&2
  exit 0
fi
for tool in dpkg-repack desktop-file-validate appstreamcli man; do
  command -v "$tool" >/dev/null || { echo "package-test.sh needs $tool: run scripts/setup.sh test" >&2; exit 1; }
done

work=$(mktemp -d)
saved=()
installed_before() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
# smtp-desk-sendmail depends on smtp-desk: it goes first and comes back last.
for pkg in smtp-desk-sendmail smtp-desk; do
  if installed_before "$pkg"; then
    echo "== $pkg $(dpkg-query -W -f='${Version}' "$pkg") is installed: saving it (dpkg-repack) to put it back after the test" >&2
    (cd "$work" && dpkg-repack "$pkg" >/dev/null)
    saved+=("$pkg")
  fi
done
restore() {
  local rc=$?
  set +e
  dpkg -r smtp-desk-sendmail smtp-desk >/dev/null 2>&1
  for pkg in smtp-desk smtp-desk-sendmail; do
    if [[ " ${saved[*]} " == *" $pkg "* ]]; then
      dpkg -i "$work/${pkg}"_*.deb >/dev/null || { echo "FAIL: could not put back $pkg from $work" >&2; rc=1; }
    fi
  done
  [ "$rc" -ne 0 ] || rm -rf "$work"
  exit "$rc"
}
trap restore EXIT
if [ "${#saved[@]}" -gt 0 ]; then
  dpkg -r "${saved[@]}" >/dev/null
fi

status=0
fail() { echo "FAIL: $*" >&2; status=1; }

echo "== installing $(basename "$deb")" >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$deb" >/dev/null
hash -r
version=$(dpkg-deb -f "$deb" Version)

# The command, from PATH.
[ "$(command -v smtp-desk)" = /usr/bin/smtp-desk ] || fail "smtp-desk is not on PATH as /usr/bin/smtp-desk (found: $(command -v smtp-desk || echo nothing))"
got=$(smtp-desk --version) || fail "smtp-desk --version failed"
[ "$got" = "smtp-desk $version" ] || fail "smtp-desk --version says '$got', the package is $version"

# The man pages.
page=$(man -w smtp-desk 2>&1) || fail "man -w smtp-desk: $page"
[ "$page" = /usr/share/man/man1/smtp-desk.1.gz ] || fail "man -w smtp-desk found '$page'"
man -w smtp-desk-config >/dev/null 2>&1 || fail "man -w smtp-desk-config finds no page"
MANWIDTH=80 man smtp-desk 2>/dev/null | grep -q 'smtp-desk-sendmail(1)' || fail "man smtp-desk does not list the sendmail subcommand"

# The desktop entry and the AppStream metadata, where desktops and software centres look.
entry=/usr/share/applications/$app_id.desktop
metainfo=/usr/share/metainfo/$app_id.metainfo.xml
[ -f "$entry" ] || fail "no $entry"
[ -f "$entry" ] && { desktop-file-validate "$entry" || fail "desktop-file-validate $entry"; }
exec_bin=$(sed -n 's/^Exec=\([^ ]*\).*/\1/p' "$entry" 2>/dev/null)
command -v "$exec_bin" >/dev/null || fail "$entry: Exec=$exec_bin is not on PATH"
[ -f "$metainfo" ] || fail "no $metainfo"
[ -f "$metainfo" ] && { appstreamcli validate --no-net "$metainfo" >/dev/null || fail "appstreamcli validate $metainfo"; }
[ -f "/usr/share/icons/hicolor/128x128/apps/$app_id.png" ] || fail "no icon $app_id in hicolor"

# The systemd units: installed and well-formed now that their command and man page exist.
for unit in /usr/lib/systemd/user/smtp-desk-deliver.service /usr/lib/systemd/system/smtp-desk.service; do
  [ -f "$unit" ] || { fail "no $unit"; continue; }
  if command -v systemd-analyze >/dev/null; then
    out=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify $unit: $out"
  fi
done

# A user's settings, written by the installed command, must survive removal.
user_home=$work/home
mkdir -p "$user_home"
settings=$(env -u XDG_CONFIG_HOME -u XDG_DATA_HOME HOME="$user_home" smtp-desk config path)
env -u XDG_CONFIG_HOME -u XDG_DATA_HOME HOME="$user_home" smtp-desk config set relay.host smtp.example.org relay.port 587 >/dev/null ||
  fail "smtp-desk config set failed"
before=$(sha256sum "$settings" 2>/dev/null) || fail "no settings file at $settings after config set"

echo "== removing smtp-desk (dpkg -r)" >&2
dpkg -r smtp-desk >/dev/null
hash -r
! command -v smtp-desk >/dev/null || fail "smtp-desk is still on PATH after dpkg -r: $(command -v smtp-desk)"
for gone in /usr/bin/smtp-desk /usr/bin/smtp-desk-app "$entry" "$metainfo" /usr/share/man/man1/smtp-desk.1.gz \
  /usr/lib/systemd/system/smtp-desk.service /usr/lib/systemd/user/smtp-desk-deliver.service; do
  [ ! -e "$gone" ] || fail "$gone is still there after dpkg -r"
done
after=$(sha256sum "$settings" 2>/dev/null) || fail "the user's settings file $settings is gone after dpkg -r"
[ "$before" = "$after" ] || fail "the user's settings file $settings changed during dpkg -r"

[ "$status" -eq 0 ] || exit 1
echo "package test ok: installed $(basename "$deb"); smtp-desk $version on PATH, man smtp-desk, desktop entry and metainfo validated, systemd units verified; removed: command, entry, metainfo, man page and units gone, user settings untouched"
