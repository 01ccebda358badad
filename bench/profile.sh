#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# bench/profile.sh: the daemon's side of one registration run (issue 14,
# "profile first"). ustd runs in a private mount namespace; ustd-bench
# registers APPS fake apps (a storm with GATE=1, else at the generator's
# pace) while the daemon is observed; with STEP=start, the apps register
# unobserved, a session is created with `enable-event -u -a`, and the
# daemon is observed during `start` only (daemon CPU ticks are printed too);
# REAL=1 starts APPS real lttng-ust apps instead (bench/real.sh's fixtures,
# as the namespace's root daemon's apps):
#   MODE=strace  syscalls per app (`strace -f -c -p`), counts independent of load
#   MODE=perf    `perf record -g -p` (report with `perf report -i OUT/perf.data`)
#   MODE=perfall `perf record -a -g`: the whole machine (with REAL=1, the apps' side)
#   MODE=rss     RSS before and after, per app
# Usage (as root, from the repository root):
#   cargo build --release --bin ustd --bin ustd-bench && MODE=strace GATE=1 bench/profile.sh
#   MODE=perf STEP=start APPS=500 bench/profile.sh
#   MODE=strace STEP=start REAL=1 APPS=300 bench/profile.sh
# Environment: MODE=rss STEP=register APPS=2000 GATE=0 NOFILE=20000 EVENTS=4 USTD_BIN BENCH_BIN OUT=dir
set -euo pipefail

if [[ ${USTD_PROFILE_IN_NS:-} != 1 ]]; then
    [[ $(id -u) == 0 ]] || { echo "profile.sh: run as root (private mount namespace)" >&2; exit 1; }
    exec env USTD_PROFILE_IN_NS=1 unshare -m -- "$0" "$@"
fi
mount --make-rprivate /
mkdir -p /run/lttng
mount -t tmpfs -o mode=0755 tmpfs /run/lttng
mount -t tmpfs -o mode=1777 tmpfs /dev/shm

repo=$(cd "$(dirname "$0")/.." && pwd)
MODE=${MODE:-rss} STEP=${STEP:-register} APPS=${APPS:-2000} GATE=${GATE:-0} NOFILE=${NOFILE:-20000}
EVENTS=${EVENTS:-4} REAL=${REAL:-0}
USTD_BIN=${USTD_BIN:-$repo/target/release/ustd}
BENCH_BIN=${BENCH_BIN:-$repo/target/release/ustd-bench}
OUT=${OUT:-$(mktemp -d /tmp/ustd-profile.XXXXXX)}
rundir=$OUT/run
# Real apps find a root daemon in /var/run/lttng (a fresh tmpfs here).
[[ $REAL == 1 ]] && rundir=/run/lttng
export LTTNG_HOME=$OUT/home
mkdir -p "$rundir" "$LTTNG_HOME"
RUST_LOG=warn prlimit --nofile="$NOFILE:$NOFILE" -- "$USTD_BIN" --rundir "$rundir" daemon >"$OUT/ustd.log" 2>&1 &
daemon=$!
gen= watcher=
trap 'kill -INT $gen 2>/dev/null || true; sleep 0.5; kill -9 $daemon $gen 2>/dev/null || true' EXIT
for _ in $(seq 100); do [[ -S $rundir/lttng-ust-sock-8 ]] && break; sleep 0.1; done
sleep 0.3
rss() { awk '/^VmRSS/ {print $2}' "/proc/$daemon/status"; }
rss0=$(rss)
watch_daemon() {
    case $MODE in
        strace) strace -f -c -o "$OUT/strace.txt" -p "$daemon" 2>/dev/null & watcher=$! ;;
        perf) perf record -g -o "$OUT/perf.data" -p "$daemon" 2>"$OUT/perf.log" & watcher=$! ;;
        perfall) perf record -a -g -o "$OUT/perf.data" 2>"$OUT/perf.log" & watcher=$! ;;
    esac
    [[ -n $watcher ]] && sleep 1
    return 0
}
# user + sys ticks of the daemon (/proc/PID/stat fields 14-17).
ticks() { sed 's/^.*) //' "/proc/$daemon/stat" | awk '{print $12 + $13 + $14 + $15}'; }
# ns on CPU summed over the daemon's live threads (/proc/PID/task/*/schedstat):
# finer than ticks; blocking-pool threads live 10 s idle, past `start`.
cpu_ns() { cat /proc/"$daemon"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%d", s}'; }
[[ $STEP == start ]] || watch_daemon
ulimit -n "$(ulimit -Hn)"
if [[ $REAL == 1 ]]; then
    bin=$OUT/bin fx=$repo/tests/fixtures/app
    mkdir -p "$bin"
    gcc -O2 -o "$bin/launch" "$repo/bench/fixtures/launch.c"
    gcc -O2 -I "$fx" -I "$repo/bench/fixtures" -o "$bin/realapp" "$repo/bench/fixtures/realapp.c" \
        "$repo/bench/fixtures/flood_tp.c" "$fx/tp.c" -llttng-ust -ldl -lpthread
    "$bin/launch" "$APPS" "$OUT/mains" "$bin/realapp" wait &
    gen=$!
    while c=$(grep -c '^main ' "$OUT/mains" 2>/dev/null || true); (( ${c:-0} < APPS )); do
        kill -0 "$gen" 2>/dev/null || { echo "launcher died"; exit 1; }
        sleep 0.1
    done
    echo '{"real_apps_in_main":'"$APPS"'}' >"$OUT/ready"
else
    gate=(); [[ $GATE == 1 ]] && gate=(--gate)
    "$BENCH_BIN" --socket "$rundir/lttng-ust-sock-8" --apps "$APPS" --events "$EVENTS" --serve "${gate[@]}" \
        --register-timeout-s 300 --ready-file "$OUT/ready" >"$OUT/gen.final.json" 2>"$OUT/gen.log" &
    gen=$!
    while [[ ! -s $OUT/ready ]]; do
        kill -0 "$gen" 2>/dev/null || { echo "generator died: $(tail -c 300 "$OUT/gen.log")"; exit 1; }
        sleep 0.1
    done
fi
sleep 1
rss1=$(rss)
if [[ $STEP == start ]]; then
    ctl() { "$USTD_BIN" --rundir "$rundir" "$@" >>"$OUT/ctl.log" 2>&1 || [[ $? == 3 ]]; }
    ctl create prof --output "$OUT/traces"
    ctl enable-event -u -a
    watch_daemon
    t0=$(ticks) n0=$(cpu_ns) s0=$(date +%s%N)
    ctl start || echo "start failed: $(tail -3 "$OUT/ctl.log")"
    s1=$(date +%s%N) n1=$(cpu_ns) t1=$(ticks)
    echo "start: $(( (s1 - s0) / 1000000 )) ms wall, $((t1 - t0)) ticks of daemon CPU ($(getconf CLK_TCK)/s), $(awk -v t=$((t1 - t0)) -v n="$APPS" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.3f", t * 1000 / hz / n}') ms per app; schedstat $(awk -v t=$((n1 - n0)) -v n="$APPS" 'BEGIN {printf "%.1f", t / 1000 / n}') µs per app"
fi
[[ -n $watcher ]] && { kill -INT "$watcher"; wait "$watcher" || true; }
echo "registration: $(jq -c 'del(.done_unix_ms)' "$OUT/ready")"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "RSS: $rss0 -> $rss1 KiB, $(awk -v a="$rss0" -v b="$rss1" -v n="$APPS" 'BEGIN {printf "%.3f", (b - a) / n}') KiB per app"
if [[ $MODE == strace ]]; then
    echo "syscalls per app:"
    awk -v n="$APPS" '$1 ~ /^[0-9.]+$/ && NF >= 5 {e = (NF == 6) ? $5 : 0; printf "  %-16s %6.2f (errors %.2f)\n", $NF, $4 / n, e / n}' "$OUT/strace.txt"
fi
[[ $MODE == perf* ]] && echo "perf data: $OUT/perf.data"
echo "results in $OUT"
