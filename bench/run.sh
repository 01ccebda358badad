#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# bench/run.sh: load scenarios for a UST session daemon, driven by the
# ustd-bench load generator (ustd-bench/, a workspace member). Every scenario runs against
# lttng-sessiond and ustd in the same invocation; the script prints one
# comparison table (lttng-sessiond, ustd, ratio lttng/ustd), the targets of
# issue 5, and per-daemon detail tables. Raw JSON stays in $OUT.
#
# Usage (as root, from the repository root):
#   cargo build --release --bin ustd --bin ustd-bench && bench/run.sh
#   QUICK=1 bench/run.sh        # small sizes, a smoke run (about a minute)
#
# Scenarios:
#   storm   registration storm: N connector processes are forked first and
#           released at once (ustd-bench --gate). Time from the release to the
#           last REGISTER_DONE, per-app latency (the app's first connect to
#           its REGISTER_DONE) p50/p99/max, failures. Also the daemon's RSS and
#           fd count at N = 0 and N registered apps (lttng: lttng-sessiond plus
#           its lttng-consumerd children; ustd: its one process).
#   memory  the daemon's RSS and fds at N = 0 and N = MEM_APPS apps registered
#           at the generator's pace (serial forks, at most 64 connecting at
#           once): the steady cost per app, without a storm's transient peak.
#   fanout  N registered apps (reply delay 0 and 1 ms); wall time of the
#           control commands create / enable-event -u -a / start / stop /
#           destroy, through each daemon's own CLI.
#   stuck   N apps of which K stop answering right after registration. Wall
#           time of the same commands; during `start`, a second generator
#           registers LATE_APPS new apps (LATE_RATE per second, the first
#           100 ms after start began) and reports their registration latency.
#
# Must run as root. Re-executes itself in a private mount namespace with fresh
# tmpfs on /run/lttng and /dev/shm, so host daemons and apps are not touched.
#
# Environment (all optional):
#   DAEMONS="lttng ustd"   daemons to measure (ustd is skipped if not built)
#   SCENARIOS="storm memory fanout stuck"  scenarios to run
#   MEM_APPS (default: the largest storm size)
#   STORM_SIZES="100 500 2000"  FANOUT_SIZES="100 500"  DELAYS_MS="0 1"
#   STUCK_APPS=100 STUCK_K="1 3" LATE_APPS=20 LATE_RATE=8
#   EVENTS=4 (tracepoints per fake app)
#   QUICK=1                 small sizes for a smoke run (CI)
#   BENCH_BIN, USTD_BIN     binaries (default: target/release/{ustd-bench,ustd})
#   OUT                     result directory (default: a new mktemp -d)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

if [[ "${USTD_BENCH_IN_NS:-}" != 1 ]]; then
    [[ $(id -u) == 0 ]] || { echo "run.sh: must run as root" >&2; exit 1; }
    exec env USTD_BENCH_IN_NS=1 unshare -m -- "$0" "$@"
fi

mount --make-rprivate /
mkdir -p /run/lttng
mount -t tmpfs -o mode=0755 tmpfs /run/lttng
mount -t tmpfs -o mode=1777 tmpfs /dev/shm

DAEMONS=${DAEMONS:-"lttng ustd"}
if [[ "${QUICK:-0}" == 1 ]]; then
    STORM_SIZES=${STORM_SIZES:-"20 50"}
    FANOUT_SIZES=${FANOUT_SIZES:-"20"}
    STUCK_APPS=${STUCK_APPS:-20}
    STUCK_K=${STUCK_K:-1}
    LATE_APPS=${LATE_APPS:-5}
else
    STORM_SIZES=${STORM_SIZES:-"100 500 2000"}
    FANOUT_SIZES=${FANOUT_SIZES:-"100 500"}
    STUCK_APPS=${STUCK_APPS:-100}
    STUCK_K=${STUCK_K:-"1 3"}
    LATE_APPS=${LATE_APPS:-20}
fi
DELAYS_MS=${DELAYS_MS:-"0 1"}
LATE_RATE=${LATE_RATE:-8}
# lttng-ust's and both daemons' per-app socket timeout (seconds).
APP_DEADLINE_S=${LTTNG_APP_SOCKET_TIMEOUT:-5}
SCENARIOS=${SCENARIOS:-"storm memory fanout stuck"}
MEM_APPS=${MEM_APPS:-${STORM_SIZES##* }}
EVENTS=${EVENTS:-4}
BENCH_BIN=${BENCH_BIN:-$repo/target/release/ustd-bench}
USTD_BIN=${USTD_BIN:-$repo/target/release/ustd}
OUT=${OUT:-$(mktemp -d /tmp/ustd-bench.XXXXXX)}
mkdir -p "$OUT"
work=$(mktemp -d /tmp/ustd-bench-work.XXXXXX)
export LTTNG_HOME=$work/home
mkdir -p "$LTTNG_HOME"

[[ -x "$BENCH_BIN" ]] || { echo "run.sh: build first: cargo build --release --bin ustd-bench" >&2; exit 1; }

log() { echo "[run.sh] $*" >&2; }
now_ns() { date +%s%N; }
ms_since() { echo $(( ($(now_ns) - $1) / 1000000 )); }
jget() { jq -r "$1 // \"n/a\"" <<<"$2"; }
load1() { cut -d' ' -f1 /proc/loadavg; }

# ---------------------------------------------------------------- daemons ---
# Each daemon provides: <d>_start (sets DAEMON_PID and APP_SOCKET),
# <d>_stop, <d>_ctl ARGS... (one control command), <d>_pids (pids whose
# memory and fds count as "the daemon").

lttng_start() {
    lttng-sessiond --no-kernel --agent-tcp-port=$((15345 + RANDOM % 1000)) --background >"$work/sessiond.log" 2>&1
    APP_SOCKET=/var/run/lttng/lttng-ust-sock-8
    for _ in $(seq 100); do [[ -S $APP_SOCKET && -s /var/run/lttng/lttng-sessiond.pid ]] && break; sleep 0.05; done
    DAEMON_PID=$(cat /var/run/lttng/lttng-sessiond.pid)
}
lttng_stop() {
    kill -TERM "$DAEMON_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.05; done
    pkill_children_of "$DAEMON_PID"
    rm -rf /run/lttng/* /dev/shm/* 2>/dev/null || true
}
lttng_ctl() {
    case $1 in
        create) lttng create "$2" --output="$work/traces/$2" ;;
        enable-event) lttng enable-event -u -a ;;
        start|stop|destroy) lttng "$1" ;;
    esac
}
lttng_pids() { echo "$DAEMON_PID" $(pgrep -P "$DAEMON_PID" -x lttng-consumerd || true); }

# ustd hooks: the control CLI is `ustd --rundir DIR <cmd>` (see src/main.rs).
ustd_rundir=$work/ustd-run
ustd_start() {
    mkdir -p "$ustd_rundir"
    RUST_LOG=warn "$USTD_BIN" --rundir "$ustd_rundir" daemon >"$work/ustd.log" 2>&1 &
    DAEMON_PID=$!
    APP_SOCKET=$ustd_rundir/lttng-ust-sock-8
    for _ in $(seq 100); do [[ -S $APP_SOCKET ]] && break; sleep 0.05; done
}
ustd_stop() {
    kill -TERM "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
    rm -rf "$ustd_rundir"
}
ustd_ctl() {
    case $1 in
        create) "$USTD_BIN" --rundir "$ustd_rundir" create "$2" --output "$work/traces/$2" ;;
        enable-event) "$USTD_BIN" --rundir "$ustd_rundir" enable-event -u -a ;;
        start|stop|destroy) "$USTD_BIN" --rundir "$ustd_rundir" "$1" ;;
    esac
}
ustd_pids() { echo "$DAEMON_PID"; }

# Only the processes this script started, by parent pid.
pkill_children_of() {
    local c
    for c in $(pgrep -P "$1" || true); do kill -TERM "$c" 2>/dev/null || true; done
}

# Sum of VmRSS (KiB) and open fds over the daemon's processes.
daemon_rss_kib() {
    local total=0 p
    for p in $("${D}_pids"); do
        total=$(( total + $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0) ))
    done
    echo "$total"
}
daemon_fds() {
    local total=0 p
    for p in $("${D}_pids"); do
        total=$(( total + $(ls "/proc/$p/fd" 2>/dev/null | wc -l) ))
    done
    echo "$total"
}

# ---------------------------------------------------------------- generator ---
GEN_PID=
# gen_start NAME ARGS...: starts a serving generator, waits until registration settled.
gen_start() {
    local name=$1; shift
    rm -f "$OUT/$name.ready"
    "$BENCH_BIN" --socket "$APP_SOCKET" --events "$EVENTS" --serve \
        --ready-file "$OUT/$name.ready" "$@" >"$OUT/$name.final.json" 2>"$OUT/$name.gen.log" &
    GEN_PID=$!
    while [[ ! -s "$OUT/$name.ready" ]]; do
        kill -0 "$GEN_PID" 2>/dev/null || { log "generator died: $(tail -3 "$OUT/$name.gen.log")"; return 1; }
        sleep 0.05
    done
}
gen_stop() {
    kill -INT "$GEN_PID" 2>/dev/null || true
    wait "$GEN_PID" 2>/dev/null || true
}

# timed_ctl NAME [BEFORE_START AFTER_START]: runs the five control commands,
# prints "create enable start stop destroy" in ms. The optional hooks run
# right before and right after `start` (outside the timed span).
timed_ctl() {
    local t r=() name=$1 before=${2:-} after=${3:-}
    for c in create enable-event start stop destroy; do
        [[ $c == start && -n $before ]] && "$before" >&2
        t=$(now_ns)
        if "${D}_ctl" "$c" "bench-$name" >>"$OUT/$name.ctl.log" 2>&1; then r+=("$(ms_since "$t")"); else r+=("FAIL"); fi
        [[ $c == start && -n $after ]] && "$after" >&2
    done
    echo "${r[*]}"
}

# -------------------------------------------------------------- results ---
# VAL["section|params|metric|daemon"] = value; KEYS keeps first-seen order.
declare -A VAL
KEYS=()
rec() { # rec SECTION PARAMS METRIC VALUE (for daemon $D)
    local k="$1|$2|$3"
    [[ -n "${SEEN[$k]:-}" ]] || { SEEN[$k]=1; KEYS+=("$k"); }
    VAL["$k|$D"]=$4
}
declare -A SEEN
storm_rows=() fanout_rows=() stuck_rows=() memory_rows=()

# -------------------------------------------------------------- scenarios ---
scenario_storm() {
    local n name ready rss0 fds0 rss1 fds1 procs
    for n in $STORM_SIZES; do
        name=$D-storm-$n
        "${D}_start"
        sleep 0.5
        rss0=$(daemon_rss_kib) fds0=$(daemon_fds)
        gen_start "$name" --gate --apps "$n" --register-timeout-s 300
        ready=$(cat "$OUT/$name.ready")
        sleep 0.5 # let late frees and closes settle before sampling
        rss1=$(daemon_rss_kib) fds1=$(daemon_fds) procs=$("${D}_pids" | wc -w)
        gen_stop
        "${D}_stop"
        local all p50 p99 max failed rss_app fds_app
        all=$(jget .all_registered_ms "$ready") p50=$(jget .latency_ms.p50 "$ready")
        p99=$(jget .latency_ms.p99 "$ready") max=$(jget .latency_ms.max "$ready")
        failed=$(( n - $(jget .registered "$ready") ))
        rss_app=$(awk -v a="$rss0" -v b="$rss1" -v n="$n" 'BEGIN{printf "%.1f", (b-a)/n}')
        fds_app=$(awk -v a="$fds0" -v b="$fds1" -v n="$n" 'BEGIN{printf "%.2f", (b-a)/n}')
        rec "storm" "N=$n" "all registered (ms)" "$all"
        rec "storm" "N=$n" "per-app latency p50 (ms)" "$p50"
        rec "storm" "N=$n" "per-app latency p99 (ms)" "$p99"
        rec "storm" "N=$n" "per-app latency max (ms)" "$max"
        rec "storm" "N=$n" "failed registrations" "$failed"
        rec "memory" "N=$n, after the storm" "RSS (KiB)" "$rss1"
        rec "memory" "N=$n, after the storm" "open fds" "$fds1"
        rec "memory" "N=$n, after the storm" "RSS per registered app (KiB)" "$rss_app"
        rec "memory" "N=$n, after the storm" "fds per registered app" "$fds_app"
        storm_rows+=("| $D | $n | $all | $p50 | $p99 | $max | $failed | $rss0 | $rss1 | $rss_app | $fds0 | $fds1 | $fds_app | $procs | $(load1) |")
        log "storm $D n=$n: all registered $all ms, p99 $p99 ms"
    done
}

# Steady-state cost per app: MEM_APPS apps registered at the generator's own
# pace (serial forks, at most 64 connecting at once), so the daemon's memory
# is not inflated by thousands of registrations in flight at once.
scenario_memory() {
    local name=$D-memory-$MEM_APPS ready rss0 fds0 rss1 fds1 procs
    "${D}_start"
    sleep 0.5
    rss0=$(daemon_rss_kib) fds0=$(daemon_fds)
    gen_start "$name" --apps "$MEM_APPS" --register-timeout-s 300
    ready=$(cat "$OUT/$name.ready")
    sleep 0.5
    rss1=$(daemon_rss_kib) fds1=$(daemon_fds) procs=$("${D}_pids" | wc -w)
    gen_stop
    "${D}_stop"
    rec "memory" "N=0" "RSS (KiB)" "$rss0"
    rec "memory" "N=0" "open fds" "$fds0"
    rec "memory" "N=$MEM_APPS, paced" "RSS (KiB)" "$rss1"
    rec "memory" "N=$MEM_APPS, paced" "open fds" "$fds1"
    rec "memory" "N=$MEM_APPS, paced" "RSS per registered app (KiB)" "$(awk -v a="$rss0" -v b="$rss1" -v n="$MEM_APPS" 'BEGIN{printf "%.1f", (b-a)/n}')"
    rec "memory" "N=$MEM_APPS, paced" "fds per registered app" "$(awk -v a="$fds0" -v b="$fds1" -v n="$MEM_APPS" 'BEGIN{printf "%.2f", (b-a)/n}')"
    memory_rows+=("| $D | $MEM_APPS | $(jget .registered "$ready") | $rss0 | $rss1 | $fds0 | $fds1 | $procs | $(load1) |")
    log "memory $D n=$MEM_APPS: RSS $rss0 -> $rss1 KiB"
}

scenario_fanout() {
    local n delay name times final
    for n in $FANOUT_SIZES; do
        for delay in $DELAYS_MS; do
            name=$D-fanout-$n-$delay
            "${D}_start"
            gen_start "$name" --apps "$n" --reply-delay-ms "$delay" --register-timeout-s 300
            MEM_FILE=$OUT/$name.mem
            times=$(timed_ctl "$name" "" sample_mem)
            gen_stop
            "${D}_stop"
            final=$(cat "$OUT/$name.final.json")
            read -r rss_started fds_started procs_started <"$MEM_FILE"
            read -r t_create t_enable t_start t_stop t_destroy <<<"$times"
            rec "fanout" "N=$n delay=${delay}ms" "start (ms)" "$t_start"
            rec "fanout" "N=$n delay=${delay}ms" "stop (ms)" "$t_stop"
            rec "fanout" "N=$n delay=${delay}ms" "destroy (ms)" "$t_destroy"
            rec "memory" "N=$n delay=${delay}ms, session started" "RSS (KiB)" "$rss_started"
            rec "memory" "N=$n delay=${delay}ms, session started" "open fds" "$fds_started"
            fanout_rows+=("| $D | $n | $delay | ${times// / | } | $(jget .notify_sent.REGISTER_EVENT "$final") | $(jget .notify_errors "$final") | $rss_started | $fds_started | $procs_started | $(load1) |")
            log "fanout $D n=$n delay=${delay}ms: $times"
        done
    done
}

# Daemon RSS, fds and process count once the session started (fan-out hook).
sample_mem() {
    sleep 0.2
    echo "$(daemon_rss_kib) $(daemon_fds) $("${D}_pids" | wc -w)" >"$MEM_FILE"
}

# The late generator: LATE_APPS new apps registering while `start` runs.
late_begin() {
    rm -f "$OUT/$LATE_NAME.ready"
    (sleep 0.1; exec "$BENCH_BIN" --socket "$APP_SOCKET" --events "$EVENTS" --serve \
        --name ustd-bench-late --apps "$LATE_APPS" --connect-rate "$LATE_RATE" \
        --register-timeout-s 120 --ready-file "$OUT/$LATE_NAME.ready") \
        >"$OUT/$LATE_NAME.final.json" 2>"$OUT/$LATE_NAME.gen.log" &
    LATE_PID=$!
}
late_end() {
    while [[ ! -s "$OUT/$LATE_NAME.ready" ]]; do
        kill -0 "$LATE_PID" 2>/dev/null || break
        sleep 0.05
    done
    kill -INT "$LATE_PID" 2>/dev/null || true
    wait "$LATE_PID" 2>/dev/null || true
}

scenario_stuck() {
    local k name times final late during
    for k in $STUCK_K; do
        name=$D-stuck-$STUCK_APPS-$k
        LATE_NAME=$name-late
        "${D}_start"
        gen_start "$name" --apps "$STUCK_APPS" --stuck "$k" --register-timeout-s 300
        times=$(timed_ctl "$name" late_begin late_end)
        gen_stop
        "${D}_stop"
        final=$(cat "$OUT/$name.final.json")
        late=$(cat "$OUT/$LATE_NAME.ready" 2>/dev/null || echo '{}')
        read -r t_create t_enable t_start t_stop t_destroy <<<"$times"
        # Late apps are forked from 100 ms after `start` began, one every 1/LATE_RATE s.
        during=$(awk -v t="$t_start" -v r="$LATE_RATE" -v n="$LATE_APPS" \
            'BEGIN{ if (t !~ /^[0-9]+$/) { print "n/a"; exit } c = int((t - 100) * r / 1000) + 1; if (c < 0) c = 0; if (c > n) c = n; print c }')
        rec "stuck" "N=$STUCK_APPS K=$k" "start (ms)" "$t_start"
        rec "stuck" "N=$STUCK_APPS K=$k" "new app registration p50 (ms)" "$(jget .latency_ms.p50 "$late")"
        rec "stuck" "N=$STUCK_APPS K=$k" "new app registration p99 (ms)" "$(jget .latency_ms.p99 "$late")"
        rec "stuck" "N=$STUCK_APPS K=$k" "new app registration max (ms)" "$(jget .latency_ms.max "$late")"
        stuck_rows+=("| $D | $STUCK_APPS | $k | ${times// / | } | $(jq -r '[.gone | to_entries[] | select(.key | startswith("stopped app")) | .value] | add // 0' <<<"$final") | $(jget .registered "$late")/$LATE_APPS ($during during start) | $(jget .latency_ms.p50 "$late") | $(jget .latency_ms.p99 "$late") | $(jget .latency_ms.max "$late") | $(load1) |")
        log "stuck $D k=$k: $times; late p99 $(jget .latency_ms.p99 "$late") ms"
    done
}

LOAD_BEFORE=$(cat /proc/loadavg)
T0=$(now_ns)
for D in $DAEMONS; do
    if [[ $D == ustd && ! -x "$USTD_BIN" ]]; then
        log "skipping ustd: $USTD_BIN not built"
        continue
    fi
    for s in $SCENARIOS; do "scenario_$s"; done
done
LOAD_AFTER=$(cat /proc/loadavg)

# ------------------------------------------------------------------ report ---
is_num() { [[ $1 =~ ^[0-9]+([.][0-9]+)?$ ]]; }
ratio() { # lttng / ustd, when both are numbers and ustd > 0
    if is_num "$1" && is_num "$2" && awk -v b="$2" 'BEGIN{exit !(b > 0)}'; then
        awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", a / b}'
    else
        echo "n/a"
    fi
}
v() { echo "${VAL[$1|$2]:-n/a}"; }

echo "## Load scenarios ($(date -u +%F), $(nproc) CPUs, $(uname -r))"
echo
echo "Load average before: ${LOAD_BEFORE% *}; after: ${LOAD_AFTER% *}; total run $(( ($(now_ns) - T0) / 1000000000 )) s."
echo
echo "### lttng-sessiond vs ustd"
echo
echo "ratio = lttng-sessiond ÷ ustd (above 1: ustd is faster or leaner)."
echo
echo "| scenario | parameters | metric | lttng-sessiond | ustd | ratio |"
echo "|---|---|---|---|---|---|"
for k in "${KEYS[@]}"; do
    IFS='|' read -r sec par met <<<"$k"
    a=$(v "$k" lttng) b=$(v "$k" ustd)
    echo "| $sec | $par | $met | $a | $b | $(ratio "$a" "$b") |"
done
echo

# Targets of issue 5 (evaluated only when the rows exist).
target() { # target TEXT VERDICT MEASURED
    echo "| $1 | $3 | $2 |"
}
verdict() { awk -v x="$1" -v t="$2" "BEGIN{ if (x !~ /^[0-9.]+\$/) { print \"n/a\"; exit } print (x $3 t) ? \"met\" : \"missed\" }"; }
big=${STORM_SIZES##* }
echo "### Targets"
echo
echo "| target | measured | verdict |"
echo "|---|---|---|"
r=$(ratio "$(v "storm|N=$big|all registered (ms)" lttng)" "$(v "storm|N=$big|all registered (ms)" ustd)")
target "storm N=$big: all registered ≥ 5× faster" "$(verdict "$r" 5 '>=')" "${r}×"
r=$(ratio "$(v "storm|N=$big|per-app latency p99 (ms)" lttng)" "$(v "storm|N=$big|per-app latency p99 (ms)" ustd)")
target "storm N=$big: p99 ≥ 10× lower" "$(verdict "$r" 10 '>=')" "${r}×"
bigf=${FANOUT_SIZES##* }
r=$(ratio "$(v "fanout|N=$bigf delay=1ms|start (ms)" lttng)" "$(v "fanout|N=$bigf delay=1ms|start (ms)" ustd)")
target "fan-out N=$bigf, 1 ms delay: start ≥ 10× faster" "$(verdict "$r" 10 '>=')" "${r}×"
bigk=${STUCK_K##* }
x=$(v "stuck|N=$STUCK_APPS K=$bigk|start (ms)" ustd)
target "stuck K=$bigk: ustd start within one app deadline (${APP_DEADLINE_S} s, +20% slack), not K×" "$(verdict "$x" $((APP_DEADLINE_S * 1200)) '<=')" "$x ms"
x=$(v "stuck|N=$STUCK_APPS K=$bigk|new app registration p99 (ms)" ustd)
target "stuck K=$bigk: new app p99 < 50 ms during start (ustd)" "$(verdict "$x" 50 '<')" "$x ms"
r=$(ratio "$(v "memory|N=$MEM_APPS, paced|RSS per registered app (KiB)" lttng)" "$(v "memory|N=$MEM_APPS, paced|RSS per registered app (KiB)" ustd)")
target "RSS per registered app ≤ ½ of lttng's (N=$MEM_APPS, paced)" "$(verdict "$r" 2 '>=')" "${r}×"
r=$(ratio "$(v "memory|N=$big, after the storm|RSS per registered app (KiB)" lttng)" "$(v "memory|N=$big, after the storm|RSS per registered app (KiB)" ustd)")
target "RSS per registered app ≤ ½ of lttng's (N=$big, right after the storm)" "$(verdict "$r" 2 '>=')" "${r}×"
echo

echo "### Registration storm (detail)"
echo
echo "| daemon | apps | all registered (ms) | p50 (ms) | p99 (ms) | max (ms) | failed | RSS N=0 (KiB) | RSS N (KiB) | RSS / app (KiB) | fds N=0 | fds N | fds / app | processes | load |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${storm_rows[@]}"
echo
echo "### Memory, apps registered at the generator's pace (detail)"
echo
echo "| daemon | apps | registered | RSS N=0 (KiB) | RSS N (KiB) | fds N=0 | fds N | processes | load |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${memory_rows[@]}"
echo
echo "### Session fan-out (control command wall time, ms)"
echo
echo "| daemon | apps | reply delay (ms) | create | enable-event -u -a | start | stop | destroy | REGISTER_EVENT sent | notify errors | RSS started (KiB) | fds started | processes | load |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${fanout_rows[@]}"
echo
echo "### Stopped apps (control command wall time, ms; new apps registering during start)"
echo
echo "| daemon | apps | stopped | create | enable-event -u -a | start | stop | destroy | stopped apps dropped | new apps registered | new p50 (ms) | new p99 (ms) | new max (ms) | load |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${stuck_rows[@]}"
echo
echo "Raw results: $OUT"
rm -rf "$work"
