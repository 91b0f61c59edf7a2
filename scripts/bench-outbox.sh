#!/usr/bin/env bash
# Benchmark: the whole-process time of `smtp-desk sendmail -t -i` queueing a 4 KB message
# durably (SQLite WAL, synchronous=FULL: fsynced before exit 0), beside Postfix's own `sendmail`
# for the same message in the same run; then the rate of 8 sendmail processes at once
# (SQLite serialises their commits) against one after another.
#
#   scripts/bench-outbox.sh             # builds release smtp-desk, prints medians
#   RUNS=200 scripts/bench-outbox.sh
#
# Target (issue 8): median <= 5 ms; Postfix's sendmail takes about 10 ms here.
# Postfix is installed only if that can be done non-interactively (root + apt-get, debconf
# preseeded "Local only", deliveries deferred so the queue just fills); otherwise it is skipped.
# The queue lives under target/ (a real disk: fsync must cost what it costs, not tmpfs's nothing).
# Needs: cargo, hyperfine. Not part of the test command.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-100}
target=${CARGO_TARGET_DIR:-$root/target}
bin=$target/release/smtp-desk
work=$(mktemp -d "$target/bench-outbox.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== building release smtp-desk" >&2
(cd "$root" && cargo build --release --quiet --bin smtp-desk)

export SMTP_DESK_CONFIG_DIR=$work/config SMTP_DESK_DATA_DIR=$work/data
"$bin" config set sender.from_address bench@example.com local_recipient root@example.com >/dev/null

# A 4 KB message, as a script or cron would write it (bare LF line ends).
msg=$work/message.eml
{
    printf 'From: bench@example.com\nTo: root\nSubject: outbox benchmark\n\n'
    for i in $(seq 63); do printf 'line %02d of the benchmark message, padded to sixty-four bytes....\n' "$i"; done
} | head -c 4096 > "$msg"
echo "== message: $(wc -c < "$msg") bytes; queue on $(df -T "$work" | awk 'NR==2 {print $2, $1}')" >&2

# A Postfix this script installed is marked, so only that one is reconfigured (deliveries
# deferred: the queue just fills, no local delivery work competes with the measurement) and it is
# stopped again at the end. A Postfix that was already there is used as it is.
mark=/etc/postfix/.installed-by-smtp-desk-bench
have_postfix=
if [ -x /usr/sbin/postfix ]; then
    have_postfix=1
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && command -v debconf-set-selections >/dev/null; then
    echo "== installing postfix (Local only) for the reference figure" >&2
    echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
    echo "postfix postfix/mailname string bench.localdomain" | debconf-set-selections
    if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null 2>&1; then
        have_postfix=1
        touch "$mark"
    else
        echo "   postfix could not be installed non-interactively: skipped" >&2
    fi
fi
if [ -n "$have_postfix" ] && [ -f "$mark" ]; then
    postconf -e 'defer_transports = local, smtp, relay' 'inet_interfaces = loopback-only' >/dev/null
    if ! postfix status >/dev/null 2>&1; then
        postfix start >/dev/null 2>&1 || true
        trap 'postfix stop >/dev/null 2>&1 || true; postsuper -d ALL >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
    fi
fi

cmds=("$bin sendmail -t -i < $msg")
names=(smtp-desk)
if [ -n "$have_postfix" ]; then
    cmds+=("/usr/sbin/sendmail -t -i < $msg")
    names+=(postfix)
else
    echo "== Postfix not installed and not installable here: its figure is skipped" >&2
fi

echo "== hyperfine, $runs runs each" >&2
hyperfine --warmup 10 --runs "$runs" --export-json "$work/times.json" "${cmds[@]}" >&2

python3 - "$work/times.json" "${names[@]}" <<'EOF'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
print("\nsendmail of a 4 KB message, durable (median of each, same run):")
for name, r in zip(sys.argv[2:], results):
    print(f"  {name:<10} median {r['median']*1000:6.2f} ms   mean {r['mean']*1000:6.2f} ms   min {r['min']*1000:6.2f} ms")
print("  target: smtp-desk median <= 5 ms")
EOF

# Several processes at once: each opens the queue and commits its own transaction; SQLite's
# lock serialises them (group commit happens only within one process).
n=200
rate() { python3 -c "import sys; print(f'{$n / float(sys.argv[1]):.0f}')" "$1"; }
start=$(date +%s.%N)
for _ in $(seq $n); do "$bin" sendmail -t -i < "$msg"; done
serial=$(python3 -c "print($(date +%s.%N) - $start)")
start=$(date +%s.%N)
seq $n | xargs -P 8 -I{} sh -c "\"$bin\" sendmail -t -i < \"$msg\""
parallel=$(python3 -c "print($(date +%s.%N) - $start)")
echo
echo "$n sendmail processes, one after another: $(rate "$serial") messages/s"
echo "$n sendmail processes, 8 at a time:       $(rate "$parallel") messages/s"
echo "queued now: $("$bin" queue counts)"
