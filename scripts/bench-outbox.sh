#!/usr/bin/env bash
# Benchmark: the whole-process time of `smtp-desk sendmail -t -i` queueing a 4 KB message
# durably (SQLite WAL, synchronous=FULL: fsynced before exit 0), beside Postfix's own `sendmail`
# for the same message in the same run; then the rate of 8 sendmail processes at once
# (SQLite serialises their commits) against one after another.
#
#   scripts/bench-outbox.sh             # builds release smtp-desk, prints medians
#   RUNS=200 WARMUP=500 scripts/bench-outbox.sh
#
# Target (issue 8): median <= 5 ms; Postfix's sendmail takes about 10 ms here. msmtp (sending the
# same message at once to a local smtp-sink, no queue) is printed beside them.
#
# Then the delivery drain: DRAIN (default 10000) queued messages delivered by
# `smtp-desk deliver --once` to Postfix's smtp-sink on loopback, beside `smtp-source -s 1 -m N`
# and `-s 4` against the same sink (the ceiling), and msmtp sending the same message one process
# per message (MSMTP, default 1000 of them: the rate, not the total, is compared). Target:
# >= 5,000 messages/s. msmtp is installed like Postfix below when missing.
#   ONLY=drain DRAIN=2000 scripts/bench-outbox.sh     # just the drain figures
#
# Then the SMTP listener's intake, durable: `smtp-source -s 4 -m LISTEN (default 10000) -l 4096`
# to `smtp-desk listen`, beside the same run against Postfix's own smtpd on 127.0.0.1:25 (its
# queue fills; deliveries are deferred). Target: >= 1,000 messages/s.
#   ONLY=listen LISTEN=10000 scripts/bench-outbox.sh  # just the listener figures
#
# Then the queue screen's reads: QUEUE_N (default 100000) messages filled in bulk (1,000 per
# transaction, not one sendmail each), then a page through the core (`Store::page`: first, deep,
# filtered, searched) and the counts, median of QUEUE_RUNS (default 50). Target: a page <= 20 ms.
#   ONLY=queue scripts/bench-outbox.sh
# Postfix is installed only if that can be done non-interactively (root + apt-get, debconf
# preseeded "Local only", deliveries deferred so the queue just fills); otherwise it is skipped.
# The queue lives under target/ (a real disk: fsync must cost what it costs, not tmpfs's nothing).
# Needs: cargo, hyperfine. Not part of the test command.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-100}
target=${CARGO_TARGET_DIR:-$root/target}

# ---- queue screen -----------------------------------------------------------------------------
queue_screen() {
    echo "== building the queue page benchmark (release)" >&2
    (cd "$root" && cargo build --release --quiet --example queue_page)
    local dir
    dir=$(mktemp -d "$target/bench-queue.XXXXXX")
    "$target/release/examples/queue_page" "$dir" "${QUEUE_N:-100000}" "${QUEUE_RUNS:-50}"
    rm -rf "$dir"
}
if [ "${ONLY:-}" = queue ]; then
    queue_screen
    exit 0
fi

bin=${BIN:-$target/release/smtp-desk}
work=$(mktemp -d "$target/bench-outbox.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [ -z "${BIN:-}" ]; then
    echo "== building release smtp-desk" >&2
    (cd "$root" && cargo build --release --quiet --bin smtp-desk)
fi

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

# ---- delivery drain ---------------------------------------------------------------------------
drain() {
    if ! command -v msmtp >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "== installing msmtp for the reference figure" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq msmtp >/dev/null 2>&1 || echo "   msmtp could not be installed: skipped" >&2
    fi
    local n=${DRAIN:-10000} port dir sink
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    dir=$work/drain
    mkdir -p "$dir"
    /usr/sbin/smtp-sink -u nobody 127.0.0.1:"$port" 256 &
    sink=$!
    sleep 0.3
    (
        export SMTP_DESK_DATA_DIR=$dir/data SMTP_DESK_CONFIG_DIR=$dir/config
        # Sending stays off while the queue fills, so the agents sendmail starts deliver nothing.
        "$bin" config set mode off relay.host 127.0.0.1 relay.port "$port" relay.security none \
            sender.from_address bench@example.com local_recipient root@example.com \
            limits.connection_limit "${CONNECTIONS:-4}" limits.batch_size 1000 >/dev/null 2>&1
        # One -bs session queues them all (its commits are batched).
        python3 - "$n" "$msg" > "$dir/fill.smtp" <<'PY'
import sys
n, body = int(sys.argv[1]), open(sys.argv[2], "rb").read().decode().replace("\n", "\r\n")
out = ["HELO bench"]
for i in range(n):
    out += ["MAIL FROM:<bench@example.com>", f"RCPT TO:<rcpt{i % 50}@example.com>", "DATA", body.rstrip("\r\n") + "\r\n."]
out.append("QUIT")
sys.stdout.write("\r\n".join(out) + "\r\n")
PY
        "$bin" sendmail -bs < "$dir/fill.smtp" >/dev/null
        echo "== queued: $("$bin" queue counts)" >&2
        # Turning sending on wakes delivery (a one-shot run starts at once); the deliver --once
        # below waits for that run and looks again, so the clock runs from the switch.
        start=$(date +%s.%N)
        "$bin" config set mode relay >/dev/null 2>&1
        "$bin" deliver --once --quiet || echo "== deliver --once exited $?" >&2
        took=$(python3 -c "print($(date +%s.%N) - $start)")
        echo "== after the drain: $("$bin" queue counts)" >&2
        python3 -c "import sys; print(f'smtp-desk deliver --once: {$n} messages in {$took:.2f} s = {$n / $took:.0f} messages/s ({sys.argv[1]} connections)')" "${CONNECTIONS:-4}"
    )
    for s in 1 4; do
        start=$(date +%s.%N)
        /usr/sbin/smtp-source -s $s -m "$n" -l "$(wc -c < "$msg")" -f bench@example.com -t rcpt@example.com 127.0.0.1:"$port"
        took=$(python3 -c "print($(date +%s.%N) - $start)")
        python3 -c "print(f'smtp-source -s $s -m $n (same sink, the ceiling): {$n / $took:.0f} messages/s')"
    done
    if command -v msmtp >/dev/null; then
        local m=${MSMTP:-1000}
        : > "$dir/msmtprc"
        chmod 600 "$dir/msmtprc"
        start=$(date +%s.%N)
        for _ in $(seq "$m"); do
            msmtp -C "$dir/msmtprc" --host=127.0.0.1 --port="$port" --auth=off --tls=off --from=bench@example.com rcpt@example.com < "$msg"
        done
        took=$(python3 -c "print($(date +%s.%N) - $start)")
        python3 -c "print(f'msmtp, one process per message ($m messages, same sink): {$m / $took:.0f} messages/s')"
    else
        echo "msmtp: not installed, figure skipped"
    fi
    kill "$sink" 2>/dev/null || true
    wait "$sink" 2>/dev/null || true
    echo "target: smtp-desk drain >= 5000 messages/s"
}
if [ "${ONLY:-}" = drain ]; then
    drain
    exit 0
fi

# ---- listener intake --------------------------------------------------------------------------
listen_bench() {
    local n=${LISTEN:-10000} port dir pid start took stored
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    dir=$work/listen
    mkdir -p "$dir"
    (
        export SMTP_DESK_DATA_DIR=$dir/data SMTP_DESK_CONFIG_DIR=$dir/config
        # Sending stays off: the one-shot agents the listener wakes deliver nothing, so only intake is measured.
        "$bin" config set mode off sender.from_address bench@example.com local_recipient root@example.com \
            listener.enabled true listener.port "$port" >/dev/null 2>&1
        "$bin" listen 2> "$dir/listen.log" &
        pid=$!
        for _ in $(seq 100); do grep -q 'listen: SMTP on' "$dir/listen.log" && break; sleep 0.05; done
        start=$(date +%s.%N)
        /usr/sbin/smtp-source -s 4 -m "$n" -l 4096 -f bench@example.com -t root@localhost 127.0.0.1:"$port"
        took=$(python3 -c "print($(date +%s.%N) - $start)")
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        stored=$("$bin" queue counts --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["messages"])')
        python3 -c "print(f'smtp-desk listen, smtp-source -s 4 -m $n -l 4096: {$n / $took:.0f} messages/s (durable; {$stored} queued)')"
    )
    if [ -n "$have_postfix" ] && postfix status >/dev/null 2>&1; then
        start=$(date +%s.%N)
        # A local recipient: Postfix's "Local only" setup refuses others (deliveries stay deferred).
        /usr/sbin/smtp-source -s 4 -m "$n" -l 4096 -f bench@example.com -t root@localhost 127.0.0.1:25
        took=$(python3 -c "print($(date +%s.%N) - $start)")
        python3 -c "print(f'Postfix smtpd (127.0.0.1:25), same smtp-source run: {$n / $took:.0f} messages/s')"
        # Only a Postfix this script installed has its queue emptied.
        if [ -f "$mark" ]; then postsuper -d ALL >/dev/null 2>&1 || true; fi
    else
        echo "== Postfix is not running here: its smtpd figure is skipped" >&2
    fi
    echo "target: smtp-desk listener >= 1000 messages/s"
}
if [ "${ONLY:-}" = listen ]; then
    listen_bench
    exit 0
fi

# ---- sendmail latency ------------------------------------------------------------------------
cmds=("$bin sendmail -t -i < $msg")
names=(smtp-desk)
if [ -n "$have_postfix" ]; then
    # A Postfix installed as "No configuration" (scripts/setup.sh) has no main.cf: give its sendmail
    # a private local-only one (MAIL_CONFIG; root may use any config directory) with its own queue
    # under $work, rather than configuring the system's Postfix. No Postfix daemon runs then: the
    # figure is sendmail + postdrop writing and fsyncing the queue file (pickup isn't there to wake).
    if [ -f /etc/postfix/main.cf ]; then
        cmds+=("/usr/sbin/sendmail -t -i < $msg")
        names+=(postfix)
    elif [ "$(id -u)" = 0 ]; then
        pf=$work/postfix
        mkdir -p "$pf/conf" "$pf/queue" "$pf/data"
        printf '%s\n' "compatibility_level = 3.6" "queue_directory = $pf/queue" "data_directory = $pf/data" \
            "myhostname = bench.localdomain" "mydestination =" "inet_interfaces = loopback-only" "default_transport = error" \
            > "$pf/conf/main.cf"
        cp /usr/share/postfix/master.cf.dist "$pf/conf/master.cf"
        postfix -c "$pf/conf" post-install create-missing >/dev/null 2>&1
        cmds+=("MAIL_CONFIG=$pf/conf /usr/sbin/sendmail -t -i < $msg")
        names+=(postfix)
    else
        echo "== Postfix has no /etc/postfix/main.cf and a private one needs root: its figure is skipped" >&2
    fi
else
    echo "== Postfix not installed and not installable here: its figure is skipped" >&2
fi
# msmtp sends at once (no queue): the same message to a local smtp-sink.
if ! command -v msmtp >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing msmtp for the reference figure" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq msmtp >/dev/null 2>&1 || echo "   msmtp could not be installed: skipped" >&2
fi
msmtp_sink=
if command -v msmtp >/dev/null && [ -x /usr/sbin/smtp-sink ]; then
    mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    if [ "$(id -u)" = 0 ]; then /usr/sbin/smtp-sink -u nobody 127.0.0.1:"$mport" 64 & else /usr/sbin/smtp-sink 127.0.0.1:"$mport" 64 & fi
    msmtp_sink=$!
    sleep 0.3
    printf '%s\n' "account default" "host 127.0.0.1" "port $mport" "from bench@example.com" "tls off" "auth off" > "$work/msmtprc"
    chmod 600 "$work/msmtprc"
    cmds+=("msmtp -C $work/msmtprc -t -i < $msg")
    names+=(msmtp)
else
    echo "== msmtp or smtp-sink missing: the msmtp figure is skipped" >&2
fi

# 200 warm-up runs: the figure is for a queue with some history, not a new one (a new queue's
# small WAL hid that the WAL used to grow without end: 40 ms per message after 400 messages).
echo "== hyperfine, $runs runs each after ${WARMUP:-200} warm-up runs" >&2
hyperfine --warmup "${WARMUP:-200}" --runs "$runs" --export-json "$work/times.json" "${cmds[@]}" >&2

python3 - "$work/times.json" "${names[@]}" <<'EOF'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
print("\nsendmail of a 4 KB message, durable (median of each, same run):")
for name, r in zip(sys.argv[2:], results):
    print(f"  {name:<10} median {r['median']*1000:6.2f} ms   mean {r['mean']*1000:6.2f} ms   min {r['min']*1000:6.2f} ms")
print("  target: smtp-desk median <= 5 ms (postfix: queue file written and fsynced; msmtp: sent to smtp-sink at once, no queue)")
EOF
if [ -n "$msmtp_sink" ]; then kill "$msmtp_sink" 2>/dev/null || true; wait "$msmtp_sink" 2>/dev/null || true; fi

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
echo
drain
echo
listen_bench
echo
queue_screen
