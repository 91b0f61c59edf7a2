#!/usr/bin/env bash
# Benchmark: `smtp-desk detect` (find settings from an email address), in one run:
#   1. a domain with everything published (dnsmasq SRV/MX/A records, HTTPS autoconfig and ISPDB
#      signed by a CA made here, aiosmtpd on 465/587): the time to answer. Target: <= 1 s.
#   2. every source black-holed (a DNS server that never answers, an ISPDB that accepts and never
#      replies): the time to give up. Target: the overall deadline holds (deadline + a little).
# The named reference, Thunderbird's account-setup guessing, is a GUI inside Thunderbird and can't be
# run here; the baseline instead is a naive sequential client (curl, then swaks, one source after
# another, each with its own timeout), which is how most "guess the server" code works.
#
#   scripts/bench-detect.sh           # RUNS=20 by default; uses target/debug/smtp-desk (builds it)
#
# Needs root (the servers listen on 443, 465 and 587 of 127.77.0.x), dnsmasq, /usr/bin/python3
# with aiosmtpd, openssl, curl, swaks, hyperfine. Uses the debug build: release builds are not
# made on this machine (disk), and detection waits on the network, not the CPU.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-20}
[ "$(id -u)" = 0 ] || { echo "bench-detect.sh needs root (ports 443/465/587 on 127.77.0.x)" >&2; exit 1; }
target=${CARGO_TARGET_DIR:-$root/target}
bin=$target/debug/smtp-desk
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

echo "== building smtp-desk (debug)" >&2
(cd "$root" && cargo build --quiet --bin smtp-desk)

d=bench.test web=127.77.0.1 smtp=127.77.0.2
cd "$work"
echo "== test CA and certificates" >&2
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 2 \
    -subj "/CN=SMTP Desk Bench CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
cert() { # name file SANs
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$1" 2>/dev/null
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$2" > "$1.cnf"
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" -days 2 -extfile "$1.cnf" 2>/dev/null
}
cert web "DNS:autoconfig.$d,DNS:$d,DNS:ispdb.test"
cert smtp "DNS:smtp.$d"

xml() {
    printf '<?xml version="1.0"?><clientConfig version="1.1"><emailProvider id="%s"><domain>%s</domain>' "$d" "$d"
    printf '<outgoingServer type="smtp"><hostname>%s</hostname><port>%s</port><socketType>%s</socketType>' "$1" "$2" "$3"
    printf '<username>%%EMAILADDRESS%%</username></outgoingServer></emailProvider></clientConfig>\n'
}
mkdir -p "www/autoconfig.$d/mail" "www/$d/.well-known/autoconfig/mail" www/ispdb.test/v1.1
xml "smtp.$d" 465 SSL > "www/autoconfig.$d/mail/config-v1.1.xml"
cp "www/autoconfig.$d/mail/config-v1.1.xml" "www/$d/.well-known/autoconfig/mail/config-v1.1.xml"
cp "www/autoconfig.$d/mail/config-v1.1.xml" "www/ispdb.test/v1.1/$d"

started() { for _ in $(seq 100); do grep -q READY "$1" 2>/dev/null && return 0; sleep 0.05; done; echo "$1 did not start" >&2; exit 1; }
/usr/bin/python3 "$root/tests/servers/https_server.py" --host $web --port 443 --root www --cert web.pem --key web.key > web.out &
pids+=($!); started web.out
/usr/bin/python3 "$root/tests/servers/smtp_server.py" --host $smtp --port 465 --tls implicit --cert smtp.pem --key smtp.key > s465.out &
pids+=($!); started s465.out
/usr/bin/python3 "$root/tests/servers/smtp_server.py" --host $smtp --port 587 --tls starttls --cert smtp.pem --key smtp.key > s587.out &
pids+=($!); started s587.out
dns_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces --listen-address=127.0.0.1 --port="$dns_port" \
    --host-record="autoconfig.$d,$web" --host-record="$d,$web" --host-record="ispdb.test,$web" --host-record="smtp.$d,$smtp" \
    --srv-host="_submissions._tcp.$d,smtp.$d,465" --srv-host="_submission._tcp.$d,smtp.$d,587" --mx-host="$d,mx.$d,10" 2>/dev/null &
pids+=($!)
sleep 0.3

export SMTP_DESK_DNS_SERVER=127.0.0.1:$dns_port SMTP_DESK_EXTRA_CA=$work/ca.pem SMTP_DESK_ISPDB_URL=https://ispdb.test/v1.1/
echo "== 1. everything published ($d): smtp-desk detect, $runs runs" >&2
"$bin" detect "jo@$d" | sed 's/^/   /'
hyperfine --style basic --warmup 2 --runs "$runs" --export-json published.json "$bin detect jo@$d" >/dev/null
median() { /usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(round(r[0]["median"]*1000, 1))' "$1"; }
ours=$(median published.json)

# The baseline: what a sequential client does for the same domain, told the addresses (it has no
# DNS of its own here, which only makes it faster): autoconfig, .well-known, ISPDB, then probes,
# stopping at the first answer. Everything is published, so it stops after the first fetch.
naive_published="curl -sf -m 4 --cacert $work/ca.pem --resolve autoconfig.$d:443:$web https://autoconfig.$d/mail/config-v1.1.xml -o /dev/null"
hyperfine --style basic --warmup 2 --runs "$runs" --export-json naive.json "$naive_published" >/dev/null
naive=$(median naive.json)

echo "== 2. every source black-holed (DNS and ISPDB never answer)" >&2
/usr/bin/python3 -c '
import socket, sys, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
t = socket.socket(); t.bind(("127.0.0.1", 0)); t.listen(64)
print(u.getsockname()[1], t.getsockname()[1], flush=True)
time.sleep(3600)' > hole.out &
pids+=($!)
for _ in $(seq 100); do [ -s hole.out ] && break; sleep 0.05; done
read -r hole_udp hole_tcp < hole.out
ms() { /usr/bin/python3 -c 'import time; print(int(time.monotonic()*1000))'; }
deadline=4000
worst=0
for i in 1 2 3; do
    t0=$(ms)
    SMTP_DESK_DNS_SERVER=127.0.0.1:$hole_udp SMTP_DESK_ISPDB_URL=https://127.0.0.1:$hole_tcp/v1.1/ "$bin" detect "jo@blackhole.test" --deadline $deadline > hole-run.txt 2>&1 || true
    t=$(( $(ms) - t0 ))
    [ "$t" -gt "$worst" ] && worst=$t
done
sed 's/^/   /' hole-run.txt
# Baseline: the same seven attempts one after another, each with the same 4 s timeout a careful
# sequential client would give one source (all black-holed: a listener that never answers).
t0=$(ms)
for url in "https://autoconfig.x/mail/config-v1.1.xml" "https://x/.well-known/autoconfig/mail/config-v1.1.xml" "https://ispdb.x/v1.1/x"; do
    host=${url#https://}; host=${host%%/*}
    curl -sf -m 4 --resolve "$host:443:127.0.0.1" --connect-to "$host:443:127.0.0.1:$hole_tcp" "$url" -o /dev/null || true
done
for port in 465 587 465 587; do
    timeout 4 swaks --silent 2 --server 127.0.0.1 --port "$hole_tcp" --quit-after EHLO --timeout 4 >/dev/null 2>&1 || true
done
naive_hole=$(( $(ms) - t0 ))

echo
echo "Results (median of $runs runs where repeated):"
printf '  %-58s %8s ms   target <= 1000 ms\n' "smtp-desk detect, everything published" "$ours"
printf '  %-58s %8s ms\n' "naive sequential baseline (stops at the first fetch)" "$naive"
printf '  %-58s %8s ms   deadline %s ms (slowest of 3)\n' "smtp-desk detect, every source black-holed" "$worst" "$deadline"
printf '  %-58s %8s ms   (7 sources x 4 s timeout)\n' "naive sequential baseline, every source black-holed" "$naive_hole"
echo "  Thunderbird's account-setup guessing (the named reference) runs only inside Thunderbird's window:"
echo "  not runnable here, so it is not measured; the naive sequential client stands in as the baseline."
