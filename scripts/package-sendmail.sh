#!/usr/bin/env bash
# Builds smtp-desk-sendmail, the package that makes SMTP Desk the system's sendmail (as
# msmtp-mta does for msmtp): only symlinks to /usr/bin/smtp-desk, which the main package installs.
#
#   /usr/sbin/sendmail  -> ../bin/smtp-desk   (smtp-desk acts as sendmail when called so)
#   /usr/lib/sendmail   -> ../sbin/sendmail   (the traditional path some programs still use)
#   /usr/bin/mailq      -> smtp-desk          (sendmail -bp)
#   /usr/bin/newaliases -> smtp-desk          (nothing to do, exit 0)
#
# The .deb provides, conflicts with and replaces mail-transport-agent (one MTA at a time, like
# msmtp-mta) and depends on smtp-desk of the same version. An .rpm too when rpmbuild is there.
#
#   scripts/package-sendmail.sh [OUT_DIR]        # default target/release/bundle/
#   BIN=target/debug/smtp-desk scripts/package-sendmail.sh /tmp/out
# BIN (default target/release/smtp-desk) is the binary the package goes with: its --version
# gives the package's version. Prints the paths of what it built, one per line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BIN:-$root/target/release/smtp-desk}
out=${1:-$root/target/release/bundle}
[ -x "$bin" ] || { echo "no smtp-desk binary at $bin: build it first (cargo build --release --bin smtp-desk)" >&2; exit 1; }
version=$("$bin" --version | awk '{print $2}')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tree=$work/root
mkdir -p "$tree/usr/sbin" "$tree/usr/lib" "$tree/usr/bin" "$tree/usr/share/doc/smtp-desk-sendmail"
ln -s ../bin/smtp-desk "$tree/usr/sbin/sendmail"
ln -s ../sbin/sendmail "$tree/usr/lib/sendmail"
ln -s smtp-desk "$tree/usr/bin/mailq"
ln -s smtp-desk "$tree/usr/bin/newaliases"
cat > "$tree/usr/share/doc/smtp-desk-sendmail/README" <<'EOF'
This package makes SMTP Desk the system's sendmail: /usr/sbin/sendmail, mailq and newaliases
are symlinks to /usr/bin/smtp-desk. Mail that programs hand to sendmail is queued durably in
the calling user's outbox and delivered through the relay configured in SMTP Desk.
Without this package: ln -s /usr/bin/smtp-desk ~/bin/sendmail (or anywhere on PATH).
EOF

mkdir -p "$out/deb"
mkdir -p "$tree/DEBIAN"
cat > "$tree/DEBIAN/control" <<EOF
Package: smtp-desk-sendmail
Version: $version
Architecture: all
Maintainer: smtpdesk
Priority: optional
Section: mail
Depends: smtp-desk (>= $version)
Provides: mail-transport-agent
Conflicts: mail-transport-agent
Replaces: mail-transport-agent
Description: SMTP Desk as the system's sendmail
 Makes /usr/sbin/sendmail, mailq and newaliases run smtp-desk, so cron, scripts, git
 send-email, PHP's mail() and monitoring tools send through the relay configured in SMTP Desk.
 Replaces any other mail transport agent (Postfix, Exim, msmtp-mta).
EOF
deb=$out/deb/smtp-desk-sendmail_${version}_all.deb
dpkg-deb --root-owner-group -Zxz --build "$tree" "$deb" >/dev/null
echo "$deb"

if command -v rpmbuild >/dev/null; then
  rm -rf "$tree/DEBIAN"
  mkdir -p "$out/rpm" "$work/rpm"
  cat > "$work/smtp-desk-sendmail.spec" <<EOF
Name: smtp-desk-sendmail
Version: $version
Release: 1
Summary: SMTP Desk as the system's sendmail
License: MIT OR Apache-2.0
BuildArch: noarch
Requires: smtp-desk >= $version
Provides: MTA smtpdaemon
%description
Makes /usr/sbin/sendmail, mailq and newaliases run smtp-desk, so local programs send through
the relay configured in SMTP Desk. Remove the active MTA (or its alternatives link) first.
%install
cp -a $tree/. %{buildroot}/
%files
/usr/sbin/sendmail
/usr/lib/sendmail
/usr/bin/mailq
/usr/bin/newaliases
%doc /usr/share/doc/smtp-desk-sendmail/README
EOF
  rpmbuild -bb --quiet --define "_topdir $work/rpm" --define "_rpmdir $out/rpm" --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
    "$work/smtp-desk-sendmail.spec" >/dev/null 2>&1 || { echo "rpmbuild failed (the .deb is built)" >&2; exit 1; }
  echo "$out/rpm/smtp-desk-sendmail-$version-1.noarch.rpm"
fi
