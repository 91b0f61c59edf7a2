#!/usr/bin/env bash
# Benchmark: the whole-process time of `smtp-desk validate` (password read from the OS keyring)
# beside `swaks --tls --auth PLAIN ... --quit-after AUTH`, both against the same local aiosmtpd
# server with STARTTLS (certificate from a CA made here, verified by both) and AUTH, in one run.
#
#   scripts/bench-validate.sh            # builds release smtp-desk, prints medians and the ratio
#   RUNS=100 scripts/bench-validate.sh
#
# Target: smtp-desk at most half of swaks's time. smtp-desk does more (it continues to MAIL FROM,
# RCPT TO, RSET and QUIT); swaks stops after AUTH.
#
# Needs: cargo, /usr/bin/python3 with aiosmtpd (python3-aiosmtpd), swaks, hyperfine, openssl,
# and for the keyring dbus-run-session + gnome-keyring-daemon. Unless SMTP_DESK_BENCH_SESSION=1
# says a D-Bus session with an unlocked keyring is already there, the script re-runs itself in a
# private D-Bus session with a throwaway keyring (XDG_DATA_HOME in a temp dir): never the user's.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)

if [ "${SMTP_DESK_BENCH_SESSION:-}" != 1 ]; then
    keyring_home=$(mktemp -d)
    trap 'rm -rf "$keyring_home"' EXIT
    XDG_DATA_HOME="$keyring_home" SMTP_DESK_BENCH_SESSION=1 dbus-run-session -- sh -c '
        printf bench | gnome-keyring-daemon --unlock --components=secrets >/dev/null
        exec "$0" "$@"' "$0" "$@"
    exit $?
fi

runs=${RUNS:-50}
target=${CARGO_TARGET_DIR:-$root/target}
bin=$target/release/smtp-desk
work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "== building release smtp-desk" >&2
(cd "$root" && cargo build --release --quiet --bin smtp-desk)

echo "== test CA and server certificate (127.0.0.1)" >&2
cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 2 \
    -subj "/CN=SMTP Desk Bench CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' > ext.cnf
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf 2>/dev/null

user=bench@example.com
password=bench-Pa55word
/usr/bin/python3 "$root/tests/servers/smtp_server.py" --tls starttls --require-starttls \
    --cert server.pem --key server.key --user "$user:$password" > server.out &
server_pid=$!
for _ in $(seq 100); do grep -q READY server.out 2>/dev/null && break; sleep 0.05; done
port=$(awk '/READY/ {print $2}' server.out)
[ -n "$port" ] || { echo "the test server did not start" >&2; exit 1; }
echo "== aiosmtpd STARTTLS + AUTH on 127.0.0.1:$port" >&2

export SMTP_DESK_CONFIG_DIR=$work/config
"$bin" config set relay.host 127.0.0.1 relay.port "$port" relay.security start_tls relay.ca_file "$work/ca.pem" \
    auth.method password auth.username "$user" sender.from_address "$user" ehlo_name bench.test mode relay
printf '%s' "$password" | "$bin" password set 2>/dev/null

smtp_desk_cmd="$bin validate"
swaks_cmd="swaks --server 127.0.0.1:$port --ehlo bench.test --tls --tls-verify --tls-ca-path $work/ca.pem --auth PLAIN --auth-user $user --auth-password $password --quit-after AUTH"

# Both must succeed before their times mean anything.
$smtp_desk_cmd > validate.out || { cat validate.out; echo "smtp-desk validate failed" >&2; exit 1; }
$swaks_cmd > swaks.out 2>&1 || { cat swaks.out; echo "swaks failed" >&2; exit 1; }

hyperfine --shell=none --warmup 5 --runs "$runs" --export-json bench.json -n "smtp-desk validate" "$smtp_desk_cmd" -n "swaks --quit-after AUTH" "$swaks_cmd"

/usr/bin/python3 - bench.json <<'EOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
ours, swaks = r["smtp-desk validate"]["median"] * 1000, r["swaks --quit-after AUTH"]["median"] * 1000
print(f"median smtp-desk validate: {ours:.1f} ms")
print(f"median swaks (to AUTH):    {swaks:.1f} ms")
print(f"ratio: {ours / swaks:.2f} (target <= 0.50) -> {'PASS' if ours <= swaks / 2 else 'MISS'}")
EOF
