#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# bench/run.sh: load scenarios for a UST session daemon, driven by the
# ustd-bench load generator (src/bin/ustd-bench). Runs against lttng-sessiond
# and, when its binary is available, ustd; prints one markdown table per
# scenario and keeps the raw JSON in $OUT.
#
# Scenarios:
#   storm   registration storm: N fake apps connect at once; time until all got
#           REGISTER_DONE, per-app latency p50/p99/max, failures, and the
#           daemon's RSS and fds per registered app.
#   fanout  N registered apps (reply delay 0 and 1 ms); times the control
#           commands create / enable-event -u -a / start / stop / destroy.
#   stuck   N apps of which K stop answering after registration; times the
#           same commands (a stopped app costs lttng-sessiond its socket
#           timeout, 5 s by default, per stuck app).
#
# Must run as root. Re-executes itself in a private mount namespace with fresh
# tmpfs on /run/lttng and /dev/shm, so host daemons and apps are not touched.
#
# Environment (all optional):
#   DAEMONS="lttng ustd"   daemons to measure (ustd is skipped if not built)
#   SCENARIOS="storm fanout stuck"  scenarios to run
#   STORM_SIZES="100 500 2000"  FANOUT_SIZES="100 500"  DELAYS_MS="0 1"
#   STUCK_APPS=100 STUCK_K=3    EVENTS=4 (tracepoints per fake app)
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
else
    STORM_SIZES=${STORM_SIZES:-"100 500 2000"}
    FANOUT_SIZES=${FANOUT_SIZES:-"100 500"}
    STUCK_APPS=${STUCK_APPS:-100}
    STUCK_K=${STUCK_K:-3}
fi
DELAYS_MS=${DELAYS_MS:-"0 1"}
SCENARIOS=${SCENARIOS:-"storm fanout stuck"}
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

# timed_ctl NAME: runs the five control commands, prints "create enable start stop destroy" in ms.
timed_ctl() {
    local t r=()
    for c in create enable-event start stop destroy; do
        t=$(now_ns)
        if "${D}_ctl" "$c" "bench-$1" >>"$OUT/$1.ctl.log" 2>&1; then r+=("$(ms_since "$t")"); else r+=("FAIL"); fi
    done
    echo "${r[*]}"
}

# -------------------------------------------------------------- scenarios ---
storm_rows=() fanout_rows=() stuck_rows=()

scenario_storm() {
    local n name ready rss0 fds0 rss1 fds1
    for n in $STORM_SIZES; do
        name=$D-storm-$n
        "${D}_start"
        sleep 0.5
        rss0=$(daemon_rss_kib) fds0=$(daemon_fds)
        gen_start "$name" --apps "$n" --register-timeout-s 300
        ready=$(cat "$OUT/$name.ready")
        rss1=$(daemon_rss_kib) fds1=$(daemon_fds)
        gen_stop
        "${D}_stop"
        storm_rows+=("| $D | $n | $(jget .all_registered_ms "$ready") | $(jget .latency_ms.p50 "$ready") | $(jget .latency_ms.p99 "$ready") | $(jget .latency_ms.max "$ready") | $(( n - $(jget .registered "$ready") )) | $(awk -v a="$rss0" -v b="$rss1" -v n="$n" 'BEGIN{printf "%.1f", (b-a)/n}') | $(awk -v a="$fds0" -v b="$fds1" -v n="$n" 'BEGIN{printf "%.2f", (b-a)/n}') |")
        log "storm $D n=$n: $(jget .all_registered_ms "$ready") ms"
    done
}

scenario_fanout() {
    local n delay name times
    for n in $FANOUT_SIZES; do
        for delay in $DELAYS_MS; do
            name=$D-fanout-$n-$delay
            "${D}_start"
            gen_start "$name" --apps "$n" --reply-delay-ms "$delay" --register-timeout-s 300
            times=$(timed_ctl "$name")
            gen_stop
            "${D}_stop"
            fanout_rows+=("| $D | $n | $delay | ${times// / | } | $(jget .notify_sent.REGISTER_EVENT "$(cat "$OUT/$name.final.json")") | $(jget .notify_errors "$(cat "$OUT/$name.final.json")") |")
            log "fanout $D n=$n delay=${delay}ms: $times"
        done
    done
}

scenario_stuck() {
    local name=$D-stuck-$STUCK_APPS-$STUCK_K times final
    "${D}_start"
    gen_start "$name" --apps "$STUCK_APPS" --stuck "$STUCK_K" --register-timeout-s 300
    times=$(timed_ctl "$name")
    gen_stop
    "${D}_stop"
    final=$(cat "$OUT/$name.final.json")
    stuck_rows+=("| $D | $STUCK_APPS | $STUCK_K | ${times// / | } | $(jq -r '[.gone | to_entries[] | select(.key | startswith("stopped app")) | .value] | add // 0' <<<"$final") |")
    log "stuck $D: $times"
}

for D in $DAEMONS; do
    if [[ $D == ustd && ! -x "$USTD_BIN" ]]; then
        log "skipping ustd: $USTD_BIN not built"
        continue
    fi
    for s in $SCENARIOS; do "scenario_$s"; done
done

# ------------------------------------------------------------------ report ---
echo "## Load scenarios ($(date -u +%F), $(nproc) CPUs, $(uname -r))"
echo
echo "### Registration storm"
echo
echo "| daemon | apps | all registered (ms) | p50 (ms) | p99 (ms) | max (ms) | failed | daemon RSS / app (KiB) | daemon fds / app |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${storm_rows[@]}"
echo
echo "### Session fan-out (control command wall time, ms)"
echo
echo "| daemon | apps | reply delay (ms) | create | enable-event -u -a | start | stop | destroy | REGISTER_EVENT sent | notify errors |"
echo "|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${fanout_rows[@]}"
echo
echo "### Stopped apps (control command wall time, ms)"
echo
echo "| daemon | apps | stopped | create | enable-event -u -a | start | stop | destroy | stopped apps dropped by daemon |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${stuck_rows[@]}"
echo
echo "Raw results: $OUT"
rm -rf "$work"
