#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# bench/run.sh: load scenarios for a UST session daemon, driven by the
# ustd-bench load generator (ustd-bench/, a workspace member). Every
# measurement runs REPS times; within a repetition the daemons are
# interleaved (lttng, ustd,
# lttng, ustd, ... per scenario and size), so load drift hits both alike.
# Prints one comparison table (median and min-max of all runs per daemon,
# ratio of the medians lttng/ustd), the targets of issue 14 with verdicts on
# unrounded ratios, and per-run detail tables. Every figure is measured (none
# is derived from a schedule). Raw JSON stays in $OUT.
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
#           destroy, through each daemon's own CLI; daemon CPU for `start`.
#   stuck   N apps of which K stop answering right after registration. Wall
#           time of the same commands; during `start`, a second generator
#           registers LATE_APPS new apps (LATE_RATE per second, the first
#           100 ms after start began) and reports their registration latency;
#           "during start" counts the late apps whose REGISTER_DONE came
#           between start's launch and its return (the generator's clock).
#
# Daemon CPU = user + sys of the daemon's processes (lttng: lttng-sessiond,
# its live lttng-consumerd children and the children it reaped), from
# /proc/PID/stat, in clock ticks (1/CLK_TCK s: the resolution of the figure).
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
#   CLI=lttng               client for ustd's control commands: lttng (the stock
#                           CLI, as for lttng-sessiond) or ustd (its own CLI)
#   REPS=3                  repetitions (each daemon runs each measurement REPS times)
#   HOLD_FDS=0              1: fake apps keep the fds the daemon passes them, as
#                           real apps do (ustd-bench --hold-fds)
#   QUICK=1                 small sizes for a smoke run (CI)
#   BENCH_BIN, USTD_BIN     binaries (default: target/release/{ustd-bench,ustd})
#   OUT                     result directory (default: a new mktemp -d)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

# shellcheck source=bench/lib.sh
. "$here/lib.sh"
STEAL0=$(cpu_ticks)
LOG_TAG=run.sh
bench_enter_ns USTD_BENCH_IN_NS "$0" "$@"

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
REPS=${REPS:-3}
HOLD_FDS=${HOLD_FDS:-0}
GEN_ARGS=()
[[ $HOLD_FDS == 1 ]] && GEN_ARGS+=(--hold-fds)
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

# ---------------------------------------------------------------- generator ---
GEN_PID=
# gen_start NAME ARGS...: starts a serving generator, waits until registration settled.
gen_start() {
    local name=$1; shift
    rm -f "$OUT/$name.ready"
    "$BENCH_BIN" --socket "$APP_SOCKET" --events "$EVENTS" --serve "${GEN_ARGS[@]}" \
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
# right before and right after `start` (outside the timed span). Writes
# "<start launched, Unix ms> <start returned, Unix ms> <daemon CPU ticks
# during start>" to $OUT/NAME.start.
timed_ctl() {
    local t t1 c0 r=() name=$1 before=${2:-} after=${3:-}
    for c in create enable-event start stop destroy; do
        [[ $c == start && -n $before ]] && "$before" >&2
        c0=$(daemon_cpu_ticks)
        t=$(now_ns)
        if "${D}_ctl" "$c" "bench-$name" >>"$OUT/$name.ctl.log" 2>&1; then r+=("$(ms_since "$t")"); else r+=("FAIL"); fi
        t1=$(now_ns)
        [[ $c == start ]] && echo "$((t / 1000000)) $((t1 / 1000000)) $(( $(daemon_cpu_ticks) - c0 ))" >"$OUT/$name.start"
        [[ $c == start && -n $after ]] && "$after" >&2
    done
    echo "${r[*]}"
}

# -------------------------------------------------------------- results ---
storm_rows=() fanout_rows=() stuck_rows=() memory_rows=()

# -------------------------------------------------------------- scenarios ---
# Each scenario function runs one measurement (one size) for daemon $D in
# repetition $REP; the driver below interleaves the daemons.
scenario_storm() {
    local n=$1 name ready rss0 fds0 cpu0 rss1 fds1 cpu1 procs
    name=$D-storm-$n-r$REP
    "${D}_start"
    sleep 0.5
    rss0=$(daemon_rss_kib) fds0=$(daemon_fds) cpu0=$(daemon_cpu_ticks)
    gen_start "$name" --gate --apps "$n" --register-timeout-s 300
    ready=$(cat "$OUT/$name.ready")
    sleep 0.5 # let late frees and closes settle before sampling
    rss1=$(daemon_rss_kib) fds1=$(daemon_fds) cpu1=$(daemon_cpu_ticks) procs=$("${D}_pids" | wc -w)
    gen_stop
    "${D}_stop"
    local all p50 p99 max reg failed rss_app fds_app cpu_app
    all=$(jget .all_registered_ms "$ready") p50=$(jget .latency_ms.p50 "$ready")
    p99=$(jget .latency_ms.p99 "$ready") max=$(jget .latency_ms.max "$ready")
    reg=$(jget .registered "$ready")
    failed=$(( n - reg ))
    rss_app=$(per_app "$rss0" "$rss1" "$reg")
    fds_app=$(per_app "$fds0" "$fds1" "$reg")
    cpu_app=$(cpu_ms_per_app "$cpu0" "$cpu1" "$reg")
    rec "storm" "N=$n" "all registered (ms)" "$all"
    rec "storm" "N=$n" "per-app latency p50 (ms)" "$p50"
    rec "storm" "N=$n" "per-app latency p99 (ms)" "$p99"
    rec "storm" "N=$n" "per-app latency max (ms)" "$max"
    rec "storm" "N=$n" "failed registrations" "$failed"
    rec "storm" "N=$n" "daemon CPU per registered app (ms)" "$cpu_app"
    rec "memory" "N=$n, after the storm" "RSS (KiB)" "$rss1"
    rec "memory" "N=$n, after the storm" "open fds" "$fds1"
    rec "memory" "N=$n, after the storm" "RSS per registered app (KiB)" "$rss_app"
    rec "memory" "N=$n, after the storm" "fds per registered app" "$fds_app"
    storm_rows+=("| $D | $REP | $n | $all | $p50 | $p99 | $max | $failed | $cpu_app | $rss0 | $rss1 | $rss_app | $fds0 | $fds1 | $fds_app | $procs | $(load1) |")
    log "storm $D n=$n rep $REP: all registered $all ms, p99 $p99 ms, CPU/app $cpu_app ms"
}

# Steady-state cost per app: MEM_APPS apps registered at the generator's own
# pace (serial forks, at most 64 connecting at once), so the daemon's memory
# is not inflated by thousands of registrations in flight at once.
scenario_memory() {
    local name=$D-memory-$MEM_APPS-r$REP ready reg rss0 fds0 cpu0 rss1 fds1 cpu1 procs
    "${D}_start"
    sleep 0.5
    rss0=$(daemon_rss_kib) fds0=$(daemon_fds) cpu0=$(daemon_cpu_ticks)
    gen_start "$name" --apps "$MEM_APPS" --register-timeout-s 300
    ready=$(cat "$OUT/$name.ready")
    sleep 0.5
    rss1=$(daemon_rss_kib) fds1=$(daemon_fds) cpu1=$(daemon_cpu_ticks) procs=$("${D}_pids" | wc -w)
    gen_stop
    "${D}_stop"
    reg=$(jget .registered "$ready")
    rec "memory" "N=0" "RSS (KiB)" "$rss0"
    rec "memory" "N=0" "open fds" "$fds0"
    rec "memory" "N=$MEM_APPS, paced" "RSS (KiB)" "$rss1"
    rec "memory" "N=$MEM_APPS, paced" "open fds" "$fds1"
    rec "memory" "N=$MEM_APPS, paced" "RSS per registered app (KiB)" "$(per_app "$rss0" "$rss1" "$reg")"
    rec "memory" "N=$MEM_APPS, paced" "fds per registered app" "$(per_app "$fds0" "$fds1" "$reg")"
    rec "memory" "N=$MEM_APPS, paced" "daemon CPU per registered app (ms)" "$(cpu_ms_per_app "$cpu0" "$cpu1" "$reg")"
    memory_rows+=("| $D | $REP | $MEM_APPS | $reg | $rss0 | $rss1 | $fds0 | $fds1 | $procs | $(load1) |")
    log "memory $D n=$MEM_APPS rep $REP: RSS $rss0 -> $rss1 KiB"
}

scenario_fanout() {
    local n=$1 delay=$2 name times final span cpu_start
    name=$D-fanout-$n-$delay-r$REP
    "${D}_start"
    gen_start "$name" --apps "$n" --reply-delay-ms "$delay" --register-timeout-s 300
    MEM_FILE=$OUT/$name.mem
    times=$(timed_ctl "$name" "" sample_mem)
    gen_stop
    "${D}_stop"
    final=$(cat "$OUT/$name.final.json")
    read -r rss_started fds_started procs_started <"$MEM_FILE"
    read -r t_create t_enable t_start t_stop t_destroy <<<"$times"
    read -r _ _ span <"$OUT/$name.start"
    cpu_start=$(cpu_ms_per_app 0 "$span" "$n")
    rec "fanout" "N=$n delay=${delay}ms" "start (ms)" "$t_start"
    rec "fanout" "N=$n delay=${delay}ms" "stop (ms)" "$t_stop"
    rec "fanout" "N=$n delay=${delay}ms" "destroy (ms)" "$t_destroy"
    rec "fanout" "N=$n delay=${delay}ms" "daemon CPU for start per app (ms)" "$cpu_start"
    rec "memory" "N=$n delay=${delay}ms, session started" "RSS (KiB)" "$rss_started"
    rec "memory" "N=$n delay=${delay}ms, session started" "open fds" "$fds_started"
    fanout_rows+=("| $D | $REP | $n | $delay | ${times// / | } | $cpu_start | $(jget .notify_sent.REGISTER_EVENT "$final") | $(jget .notify_errors "$final") | $rss_started | $fds_started | $procs_started | $(load1) |")
    log "fanout $D n=$n delay=${delay}ms rep $REP: $times"
}

# Daemon RSS, fds and process count once the session started (fan-out hook).
sample_mem() {
    sleep 0.2
    echo "$(daemon_rss_kib) $(daemon_fds) $("${D}_pids" | wc -w)" >"$MEM_FILE"
}

# The late generator: LATE_APPS new apps registering while `start` runs.
late_begin() {
    rm -f "$OUT/$LATE_NAME.ready"
    (sleep 0.1; exec "$BENCH_BIN" --socket "$APP_SOCKET" --events "$EVENTS" --serve "${GEN_ARGS[@]}" \
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
    local k=$1 name times final late during t0 t1
    name=$D-stuck-$STUCK_APPS-$k-r$REP
    LATE_NAME=$name-late
    "${D}_start"
    gen_start "$name" --apps "$STUCK_APPS" --stuck "$k" --register-timeout-s 300
    times=$(timed_ctl "$name" late_begin late_end)
    gen_stop
    "${D}_stop"
    final=$(cat "$OUT/$name.final.json")
    late=$(cat "$OUT/$LATE_NAME.ready" 2>/dev/null || echo '{}')
    read -r t_create t_enable t_start t_stop t_destroy <<<"$times"
    read -r t0 t1 _ <"$OUT/$name.start"
    # Measured: late apps whose REGISTER_DONE fell within start's span.
    during=$(jq --argjson a "$t0" --argjson b "$t1" '[.done_unix_ms // [] | .[] | select(. >= $a and . <= $b)] | length' <<<"$late")
    rec "stuck" "N=$STUCK_APPS K=$k" "start (ms)" "$t_start"
    rec "stuck" "N=$STUCK_APPS K=$k" "new apps registered during start" "$during"
    rec "stuck" "N=$STUCK_APPS K=$k" "new app registration p50 (ms)" "$(jget .latency_ms.p50 "$late")"
    rec "stuck" "N=$STUCK_APPS K=$k" "new app registration p99 (ms)" "$(jget .latency_ms.p99 "$late")"
    rec "stuck" "N=$STUCK_APPS K=$k" "new app registration max (ms)" "$(jget .latency_ms.max "$late")"
    stuck_rows+=("| $D | $REP | $STUCK_APPS | $k | ${times// / | } | $(jq -r '[.gone | to_entries[] | select(.key | startswith("stopped app")) | .value] | add // 0' <<<"$final") | $(jget .registered "$late")/$LATE_APPS ($during during start) | $(jget .latency_ms.p50 "$late") | $(jget .latency_ms.p99 "$late") | $(jget .latency_ms.max "$late") | $(load1) |")
    log "stuck $D k=$k rep $REP: $times; late p99 $(jget .latency_ms.p99 "$late") ms"
}

# One job per measurement: "scenario arg...".
JOBS=()
for s in $SCENARIOS; do
    case $s in
        storm) for n in $STORM_SIZES; do JOBS+=("storm $n"); done ;;
        memory) JOBS+=("memory") ;;
        fanout) for n in $FANOUT_SIZES; do for d in $DELAYS_MS; do JOBS+=("fanout $n $d"); done; done ;;
        stuck) for k in $STUCK_K; do JOBS+=("stuck $k"); done ;;
        *) echo "run.sh: unknown scenario $s" >&2; exit 1 ;;
    esac
done
RUN_DAEMONS=()
for D in $DAEMONS; do
    if [[ $D == ustd && ! -x "$USTD_BIN" ]]; then
        log "skipping ustd: $USTD_BIN not built"
        continue
    fi
    RUN_DAEMONS+=("$D")
done

LOAD_BEFORE=$(cat /proc/loadavg)
T0=$(now_ns)
for REP in $(seq "$REPS"); do
    for job in "${JOBS[@]}"; do
        read -r -a j <<<"$job"
        for D in "${RUN_DAEMONS[@]}"; do "scenario_${j[0]}" "${j[@]:1}"; done
    done
done
LOAD_AFTER=$(cat /proc/loadavg)

# ------------------------------------------------------------------ report ---
echo "## Load scenarios ($(date -u +%F), $(nproc) CPUs, $(uname -r))"
echo
echo "Load average before: ${LOAD_BEFORE% *}; after: ${LOAD_AFTER% *}; total run $(( ($(now_ns) - T0) / 1000000000 )) s."
echo "$REPS repetition(s), daemons interleaved within each (${RUN_DAEMONS[*]}); fake apps $([[ $HOLD_FDS == 1 ]] && echo keep || echo close) the fds the daemon passes them."
echo
echo "### lttng-sessiond vs ustd"
echo
echo "Each cell: median (min–max) of all $REPS runs. ratio = median lttng-sessiond ÷ median ustd (above 1: ustd is faster or leaner)."
echo
comparison_table
echo

# Targets of issue 14 (evaluated only when the rows exist), on unrounded
# ratios of medians.
big=${STORM_SIZES##* }
bigf=${FANOUT_SIZES##* }
bigk=${STUCK_K##* }
echo "### Targets"
echo
echo "| target | measured (median) | verdict |"
echo "|---|---|---|"
k="storm|N=$big|daemon CPU per registered app (ms)"
r=$(ratio "$(med "$k" lttng)" "$(med "$k" ustd)")
target "storm N=$big: daemon CPU per registration ≤ 1/10 of lttng's" "$(verdict "$r" 10 '>=')" "$(show "$r")×"
for k in "memory|N=$big, after the storm|RSS per registered app (KiB)" "memory|N=$MEM_APPS, paced|RSS per registered app (KiB)"; do
    IFS='|' read -r _ par _ <<<"$k"
    r=$(ratio "$(med "$k" lttng)" "$(med "$k" ustd)")
    target "RSS per registered app ≤ ½ of lttng's ($par)" "$(verdict "$r" 2 '>=')" "$(show "$r")×"
done
k="fanout|N=$bigf delay=0ms|start (ms)"
r=$(ratio "$(med "$k" lttng)" "$(med "$k" ustd)")
target "start, N=$bigf, no reply delay: ≤ 1/3 of lttng's" "$(verdict "$r" 3 '>=')" "$(show "$r")×"
x0=$(med "fanout|N=$bigf delay=0ms|start (ms)" ustd) x1=$(med "fanout|N=$bigf delay=1ms|start (ms)" ustd)
x=$(is_num "$x0" && is_num "$x1" && awk -v a="$x0" -v b="$x1" 'BEGIN{printf "%.10g", b - a}' || echo n/a)
target "start, N=$bigf, 1 ms reply delay: ≤ 20 ms above no delay (ustd)" "$(verdict "$x" 20 '<=')" "$(is_num "$x0" && is_num "$x1" && awk -v a="$x0" -v b="$x1" 'BEGIN{printf "%+.3g", b - a}' || echo n/a) ms"
x=$(med "stuck|N=$STUCK_APPS K=$bigk|start (ms)" ustd)
target "stuck K=$bigk: ustd start within one app deadline (${APP_DEADLINE_S} s, +20% slack), not K×" "$(verdict "$x" $((APP_DEADLINE_S * 1200)) '<=')" "$(show "$x") ms"
x=$(med "stuck|N=$STUCK_APPS K=$bigk|new app registration p99 (ms)" ustd)
target "stuck K=$bigk: new app p99 < 50 ms during start (ustd)" "$(verdict "$x" 50 '<')" "$(show "$x") ms"
echo

echo "### Registration storm (every run)"
echo
echo "| daemon | rep | apps | all registered (ms) | p50 (ms) | p99 (ms) | max (ms) | failed | CPU / app (ms) | RSS N=0 (KiB) | RSS N (KiB) | RSS / app (KiB) | fds N=0 | fds N | fds / app | processes | load |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${storm_rows[@]}"
echo
echo "### Memory, apps registered at the generator's pace (every run)"
echo
echo "| daemon | rep | apps | registered | RSS N=0 (KiB) | RSS N (KiB) | fds N=0 | fds N | processes | load |"
echo "|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${memory_rows[@]}"
echo
echo "### Session fan-out (control command wall time, ms; every run)"
echo
echo "| daemon | rep | apps | reply delay (ms) | create | enable-event -u -a | start | stop | destroy | CPU for start / app (ms) | REGISTER_EVENT sent | notify errors | RSS started (KiB) | fds started | processes | load |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${fanout_rows[@]}"
echo
echo "### Stopped apps (control command wall time, ms; new apps registering during start; every run)"
echo
echo "| daemon | rep | apps | stopped | create | enable-event -u -a | start | stop | destroy | stopped apps dropped | new apps registered | new p50 (ms) | new p99 (ms) | new max (ms) | load |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${stuck_rows[@]}"
echo
echo "CPU steal (time the hypervisor gave other guests) over the whole run: $(steal_pct "$STEAL0")%"
echo "Raw results: $OUT"
rm -rf "$work"
