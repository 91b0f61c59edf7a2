#!/usr/bin/env bash
# Benchmark: what SMTP Desk costs at start-up, beside a blank Tauri 2 window built here, in one run.
#
#   scripts/bench-app.sh                   # builds everything in release, then measures
#   RUNS=11 scripts/bench-app.sh           # window launches per app (default 7; medians reported)
#   CLI_RUNS=500 scripts/bench-app.sh      # hyperfine runs of `smtp-desk config show` (default 200)
#   SKIP_BUILD=1 scripts/bench-app.sh      # reuse the binaries built by an earlier run
#   IDLE_DELAY=3 IDLE_SECS=10 scripts/bench-app.sh
#                                          # idle CPU is measured over IDLE_SECS (default 10), starting
#                                          # IDLE_DELAY s (default 3) after "ready"; memory is read then
#   APP_BIN=/path/to/smtp-desk-app SKIP_BUILD=1 scripts/bench-app.sh
#                                          # measure another build of the app (e.g. main's, for a before/after)
#
# Figures, no pass/fail exit status (it exits non-zero only when it cannot measure):
#   1. `smtp-desk config show`, whole process, median (hyperfine -N)      target <= 5 ms
#      and `ldd smtp-desk`: the CLI must not link WebKit/GTK              expected: none
#   2. the window, launch (spawn) -> form ready, median                   target <= 1.25 x blank
#      resident memory once idle: RSS summed over the app and its         target <= 1.25 x blank
#      WebKit child processes (PSS shown too), median
#      CPU used while idle, per process: the app and its WebKitWebProcess,   target <= blank + 1 point
#      from IDLE_DELAY s after ready, over IDLE_SECS s, median
#
# A full run re-links smtp-desk-app each time (~2 min here): `tauri build` re-runs the Vite build,
# which rewrites ui/dist, which the app embeds. SKIP_BUILD=1 avoids that when nothing changed.
#
# The blank reference is scripts/bench/blank-tauri/, copied to a build directory under
# $SMTP_DESK_BENCH_CACHE (default ~/.cache/smtp-desk-bench) with SMTP Desk's Cargo.lock, so both
# apps use the same tauri, wry and webkit2gtk crates and the same release profile.
#
# Needs: cargo, node + npm, hyperfine, Xvfb (xvfb-run), dbus-run-session, gnome-keyring-daemon,
# WebKitGTK 4.1 dev files (see the README's setup). Windows are launched inside
# scripts/session.sh: a private Xvfb display, D-Bus session, throwaway keyring and XDG dirs, so
# nothing of the user's desktop, settings or keyring is touched or measured.
set -euo pipefail
export LC_ALL=C # $EPOCHREALTIME and printf must use '.' as the decimal point

root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-7}
cli_runs=${CLI_RUNS:-200}
idle_secs=${IDLE_SECS:-10}
idle_delay=${IDLE_DELAY:-3}
cache=${SMTP_DESK_BENCH_CACHE:-$HOME/.cache/smtp-desk-bench}
target=${CARGO_TARGET_DIR:-$root/target}
cli_bin=$target/release/smtp-desk
app_bin=${APP_BIN:-$target/release/smtp-desk-app}
blank_src=$cache/blank-tauri
blank_target=$cache/target
blank_bin=$blank_target/release/blank-tauri

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'bench-app: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Outside the session: check tools, build, then re-run this script inside scripts/session.sh.
# Building first keeps compiler load out of the measurements and the build output readable.
# ---------------------------------------------------------------------------------------------
if [ "${SMTP_DESK_BENCH_APP_SESSION:-}" != 1 ]; then
    missing=()
    for tool in cargo npm node hyperfine xvfb-run Xvfb dbus-run-session gnome-keyring-daemon ldd; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "bench-app: missing: ${missing[*]}" >&2
        echo "  Debian/Ubuntu: sudo apt-get install hyperfine xvfb dbus gnome-keyring libwebkit2gtk-4.1-dev build-essential" >&2
        echo "  cargo: https://rustup.rs   node + npm: Node 20 or newer" >&2
        exit 1
    fi

    if [ "${SKIP_BUILD:-}" != 1 ]; then
        # `npm ci` wipes node_modules; only run it when they are missing, so a bench run never
        # pulls the ground from under someone's dev server or tests.
        [ -d "$root/node_modules" ] || { say "npm ci (Tauri CLI)"; npm ci --prefix "$root"; }
        [ -d "$root/ui/node_modules" ] || { say "npm ci --prefix ui"; npm ci --prefix "$root/ui"; }

        say "building smtp-desk (release)"
        (cd "$root" && cargo build --release --quiet --bin smtp-desk)

        # `tauri build`, not `cargo build`: only it embeds ui/dist (a plain cargo build makes a
        # dev binary that loads the dev server URL).
        say "building smtp-desk-app (release, npx tauri build --no-bundle)"
        (cd "$root" && npx tauri build --no-bundle)

        # A copy outside the repository: tauri-build writes gen/ into the crate directory, and a
        # crate under the repo root would be taken for a stray workspace member. `cp -p` keeps
        # mtimes, so an unchanged template does not re-run build.rs.
        say "building the blank Tauri app (release) in $blank_src"
        mkdir -p "$blank_src/icons"
        cp -pR "$root/scripts/bench/blank-tauri/." "$blank_src/"
        cp -p "$root/icons/32x32.png" "$root/icons/icon.png" "$blank_src/icons/"
        cp -p "$root/Cargo.lock" "$blank_src/Cargo.lock"
        (cd "$blank_src" && CARGO_TARGET_DIR="$blank_target" cargo build --release --quiet)
    fi
    for bin in "$cli_bin" "$app_bin" "$blank_bin"; do
        [ -x "$bin" ] || die "$bin is missing (run without SKIP_BUILD=1)"
    done

    export SMTP_DESK_BENCH_APP_SESSION=1 CARGO_TARGET_DIR="$target" SMTP_DESK_BENCH_CACHE="$cache" APP_BIN="$app_bin"
    exec "$root/scripts/session.sh" "$0" "$@"
fi

# ---------------------------------------------------------------------------------------------
# Inside the session.
# ---------------------------------------------------------------------------------------------
work=$(mktemp -d -t smtp-desk-bench-app.XXXXXX)
launched_pid=
cleanup() {
    [ -n "$launched_pid" ] && stop_tree "$launched_pid"
    rm -rf "$work"
}
trap cleanup EXIT

# A realistic settings file: a relay with a sender and no auth, so `config show` never reaches
# the keyring. (The window still asks the session's throwaway keyring whether a password is
# saved: that is part of its real start-up.)
export SMTP_DESK_CONFIG_DIR=$work/config
mkdir -p "$SMTP_DESK_CONFIG_DIR"
"$cli_bin" config set mode relay relay.host smtp.example.com sender.from_address a@example.com >/dev/null
export SMTP_DESK_REPORT_READY=1 # makes smtp-desk-app print SMTP_DESK_READY; the blank app ignores it

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1; print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t) ? "met" : "NOT met" }'; }

# All descendants of a pid: where WebKit's sandbox is on, its web and network processes are
# started through bubblewrap and are grandchildren, not children.
descendants() {
    ps -e -o pid=,ppid= | awk -v root="$1" '
        { parent[$1] = $2; pids[NR] = $1 }
        END {
            keep[root] = 1; grew = 1
            while (grew) { grew = 0; for (i in pids) { p = pids[i]; if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; grew = 1 } } }
            for (p in keep) if (p != root) print p
        }'
}

stop_tree() {
    local pid=$1 kids
    kids=$(descendants "$pid")
    # shellcheck disable=SC2086 # word splitting of the pid list is intended
    kill -TERM "$pid" $kids 2>/dev/null || true
    for _ in $(seq 40); do
        kill -0 "$pid" $kids 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$pid" $kids 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# CPU time (user + system, clock ticks) used so far by one pid; 0 once it is gone.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# The WebKitWebProcess among a pid's descendants (the one that runs and draws the page).
web_pid() {
    local p
    for p in $(descendants "$1"); do
        [[ $(cat "/proc/$p/comm" 2>/dev/null) == WebKitWebProces* ]] && { echo "$p"; return; }
    done
}
clk_tck=$(getconf CLK_TCK)

# One launch: spawn, wait for the ready line, idle, read memory, stop. Prints one line:
#   <external ms> <in-app ms> <RSS sum kB> <PSS sum kB> <process count> <idle CPU % of the app
#   and all its children> <names> <idle CPU % of WebKitWebProcess> <idle CPU % of the app process>
launch() {
    local bin=$1 marker=$2 t0 t1= line inner= fd pid p rss=0 pss=0 n=0 names="" v web ticks0 ticks1 web0 web1 own0 own1
    t0=$(now_us)
    # The app's stdout is our pipe, so its ready line reaches `read` the moment it is printed;
    # `exec` makes the process-substitution pid the app's own.
    exec {fd}< <(exec "$bin" 2>>"$work/stderr.log")
    pid=$!
    launched_pid=$pid
    while IFS= read -r -t 60 line <&"$fd"; do
        if [[ $line == "$marker "* ]]; then
            t1=$(now_us)
            inner=${line#"$marker "}
            inner=${inner%% *}
            break
        fi
    done
    if [ -z "$t1" ]; then
        stop_tree "$pid"; launched_pid=
        exec {fd}<&-
        echo "bench-app: $bin never printed '$marker' (stderr: $work/stderr.log)" >&2
        tail -20 "$work/stderr.log" >&2
        return 1
    fi
    # An idle window should cost ~0 CPU; anything busy here (a polling loop, a watcher feeding
    # on its own reads, a page that keeps WebKit repainting) also slows everything else on a
    # 2-core machine. Start-up work (IPC replies, the keyring, the first checks) settles first.
    sleep "$idle_delay"
    web=$(web_pid "$pid")
    ticks0=0
    for p in $pid $(descendants "$pid"); do ticks0=$((ticks0 + $(ticks "$p"))); done
    web0=$(ticks "${web:-0}"); own0=$(ticks "$pid")
    sleep "$idle_secs"
    ticks1=0
    for p in $pid $(descendants "$pid"); do ticks1=$((ticks1 + $(ticks "$p"))); done
    web1=$(ticks "${web:-0}"); own1=$(ticks "$pid")
    for p in $pid $(descendants "$pid"); do
        [ -r "/proc/$p/status" ] || continue
        v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || true)
        [ -n "$v" ] || continue # kernel threads and zombies have no VmRSS
        rss=$((rss + v))
        v=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || true)
        pss=$((pss + ${v:-0}))
        n=$((n + 1))
        names+="$(cat "/proc/$p/comm" 2>/dev/null),"
    done
    stop_tree "$pid"; launched_pid=
    exec {fd}<&-
    awk -v a="$t0" -v b="$t1" -v i="$inner" -v r="$rss" -v s="$pss" -v n="$n" -v names="${names%,}" \
        -v cpu="$(( (ticks1 - ticks0) * 100 ))" -v hz="$clk_tck" -v idle="$idle_secs" \
        -v webcpu="$(( (web1 - web0) * 100 ))" -v owncpu="$(( (own1 - own0) * 100 ))" \
        'BEGIN { printf "%.1f %s %d %d %d %.1f %s %.1f %.1f\n", (b - a) / 1000, i, r, s, n, cpu / hz / idle, names, webcpu / hz / idle, owncpu / hz / idle }'
}

# --- 1. the CLI --------------------------------------------------------------------------------
say "smtp-desk config show: hyperfine -N, $cli_runs runs"
hyperfine -N --style basic --warmup 20 --runs "$cli_runs" --export-json "$work/cli.json" \
    "$cli_bin config show" >&2
# hyperfine's JSON gives seconds; the first "median" is the command's (one command only).
cli_ms=$(grep -o '"median": *[0-9.eE+-]*' "$work/cli.json" | head -1 | awk '{ printf "%.2f", $2 * 1000 }')

# The same with password login: `config show` then asks the keyring whether a password is saved
# (D-Bus round trips to the session's gnome-keyring). Shown for information beside the target.
pw_config=$work/config-password
mkdir -p "$pw_config"
SMTP_DESK_CONFIG_DIR=$pw_config "$cli_bin" config set mode relay relay.host smtp.example.com \
    sender.from_address a@example.com auth.method password auth.username a@example.com >/dev/null
printf 'bench-password' | SMTP_DESK_CONFIG_DIR=$pw_config "$cli_bin" password set 2>/dev/null
say "smtp-desk config show with password login (keyring asked): hyperfine -N, 50 runs"
SMTP_DESK_CONFIG_DIR=$pw_config hyperfine -N --style basic --warmup 5 --runs 50 --export-json "$work/cli-pw.json" \
    "$cli_bin config show" >&2
cli_pw_ms=$(grep -o '"median": *[0-9.eE+-]*' "$work/cli-pw.json" | head -1 | awk '{ printf "%.2f", $2 * 1000 }')
SMTP_DESK_CONFIG_DIR=$pw_config "$cli_bin" password clear 2>/dev/null

gui_libs=$(ldd "$cli_bin" | grep -Ei 'webkit|gtk|gdk|soup|javascriptcore' | awk '{ print $1 }' | tr '\n' ' ' || true)

# --- 2. the windows ----------------------------------------------------------------------------
# One discarded launch each first: it warms the page cache and creates WebKit's cache dirs,
# which every later launch (and every real start after the first) finds already there.
say "window launches: 1 warm-up + $runs measured per app, alternating; idle CPU over ${idle_secs}s from ${idle_delay}s after ready"
launch "$app_bin" SMTP_DESK_READY >/dev/null
launch "$blank_bin" BLANK_READY >/dev/null
: >"$work/app.txt"
: >"$work/blank.txt"
for i in $(seq "$runs"); do
    # Alternating which app goes first so neither always runs right after the other's teardown.
    if [ $((i % 2)) -eq 1 ]; then
        launch "$app_bin" SMTP_DESK_READY >>"$work/app.txt"
        launch "$blank_bin" BLANK_READY >>"$work/blank.txt"
    else
        launch "$blank_bin" BLANK_READY >>"$work/blank.txt"
        launch "$app_bin" SMTP_DESK_READY >>"$work/app.txt"
    fi
    printf '   run %d/%d  smtp-desk: %s ms, %s MiB, idle web %s%% app %s%%   blank: %s ms, %s MiB, idle web %s%% app %s%%\n' "$i" "$runs" \
        "$(tail -1 "$work/app.txt" | cut -d' ' -f1)" "$(tail -1 "$work/app.txt" | awk '{ printf "%.0f", $3 / 1024 }')" \
        "$(tail -1 "$work/app.txt" | cut -d' ' -f8)" "$(tail -1 "$work/app.txt" | cut -d' ' -f9)" \
        "$(tail -1 "$work/blank.txt" | cut -d' ' -f1)" "$(tail -1 "$work/blank.txt" | awk '{ printf "%.0f", $3 / 1024 }')" \
        "$(tail -1 "$work/blank.txt" | cut -d' ' -f8)" "$(tail -1 "$work/blank.txt" | cut -d' ' -f9)" >&2
done

col() { cut -d' ' -f"$2" "$work/$1.txt" | median; }
app_ext=$(col app 1); blank_ext=$(col blank 1)
app_in=$(col app 2); blank_in=$(col blank 2)
app_rss=$(col app 3 | awk '{ printf "%.1f", $1 / 1024 }'); blank_rss=$(col blank 3 | awk '{ printf "%.1f", $1 / 1024 }')
app_pss=$(col app 4 | awk '{ printf "%.1f", $1 / 1024 }'); blank_pss=$(col blank 4 | awk '{ printf "%.1f", $1 / 1024 }')
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
launch_ratio=$(ratio "$app_ext" "$blank_ext")
rss_ratio=$(ratio "$app_rss" "$blank_rss")

echo
echo "SMTP Desk start-up benchmark  ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, medians: CLI $cli_runs runs, windows $runs launches)"
echo
row() { printf '%-46s | %12s | %12s | %6s | %s\n' "$@"; }
row "metric" "smtp-desk" "blank Tauri" "ratio" "target"
row "----------------------------------------------" "------------" "------------" "------" "-------------------"
row "config show, whole process (hyperfine -N)" "$cli_ms ms" "-" "-" "<= 5 ms"
row "config show, password login (keyring asked)" "$cli_pw_ms ms" "-" "-" "(info)"
row "window: spawn -> form ready (external)" "$app_ext ms" "$blank_ext ms" "$launch_ratio" "<= 1.25 x blank"
fastest() { cut -d' ' -f1 "$work/$1.txt" | sort -n | head -1; }
# Launch times here come in two modes (about 0.5 s and 1 s, for both apps alike): the fastest
# launch of each shows the comparison without that noise.
row "window: spawn -> form ready, fastest launch" "$(fastest app) ms" "$(fastest blank) ms" "$(ratio "$(fastest app)" "$(fastest blank)")" "(info)"
row "window: main() -> ready (printed by the app)" "$app_in ms" "$blank_in ms" "$(ratio "$app_in" "$blank_in")" "(info)"
row "memory idle: RSS sum, app + WebKit children" "$app_rss MiB" "$blank_rss MiB" "$rss_ratio" "<= 1.25 x blank"
row "memory idle: PSS sum, app + WebKit children" "$app_pss MiB" "$blank_pss MiB" "$(ratio "$app_pss" "$blank_pss")" "(info)"
app_web_cpu=$(col app 8); blank_web_cpu=$(col blank 8)
app_own_cpu=$(col app 9); blank_own_cpu=$(col blank 9)
row "idle CPU, WebKitWebProcess, % of a core" "$app_web_cpu" "$blank_web_cpu" "-" "<= blank + 1 point"
row "idle CPU, app process, % of a core" "$app_own_cpu" "$blank_own_cpu" "-" "<= blank + 1 point"
row "idle CPU, app + all children, % of a core" "$(col app 6)" "$(col blank 6)" "-" "(info)"
row "idle CPU, highest WebKitWebProcess of the runs" "$(cut -d' ' -f8 "$work/app.txt" | sort -n | tail -1)" "$(cut -d' ' -f8 "$work/blank.txt" | sort -n | tail -1)" "-" "(info)"
row "processes measured" "$(col app 5)" "$(col blank 5)" "-" "(info)"
echo
echo "processes: smtp-desk: $(tail -1 "$work/app.txt" | cut -d' ' -f7)"
echo "           blank:     $(tail -1 "$work/blank.txt" | cut -d' ' -f7)"
if [ -z "$gui_libs" ]; then
    echo "ldd: no WebKit/GTK libraries in $cli_bin"
else
    echo "ldd: $cli_bin links GUI libraries: $gui_libs"
fi
echo
echo "target config show <= 5 ms:                  $(verdict "$cli_ms" 5) ($cli_ms ms)"
echo "target CLI links no WebKit/GTK:              $([ -z "$gui_libs" ] && echo met || echo "NOT met")"
echo "target launch within 25% of blank Tauri:     $(verdict "$launch_ratio" 1.25) (x$launch_ratio)"
echo "target memory within 25% of blank Tauri:     $(verdict "$rss_ratio" 1.25) (x$rss_ratio, RSS sum)"
echo "target idle CPU within 1 point of blank:      $(verdict "$(awk -v a="$app_web_cpu" -v b="$blank_web_cpu" -v c="$app_own_cpu" -v d="$blank_own_cpu" 'BEGIN { x = a - b; y = c - d; print (x > y) ? x : y }')" 1) (WebKitWebProcess $app_web_cpu% vs $blank_web_cpu%, app $app_own_cpu% vs $blank_own_cpu%; ${idle_secs}s from ${idle_delay}s after ready)"
