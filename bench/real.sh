#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# bench/real.sh: benchmarks with real lttng-ust apps, lttng-sessiond vs ustd
# (issues 14 and 11). Every measurement runs REPS times; within a repetition
# the daemons are interleaved per scenario (lttng, ustd, lttng, ustd, ...),
# both driven by the same stock `lttng` CLI (ustd is the namespace's root
# daemon). Prints one comparison table (median and min-max of all runs,
# ratio of the medians lttng/ustd), the targets with verdicts on unrounded
# ratios, and per-run detail tables. Every figure is measured.
#
# Usage (as root, from the repository root):
#   cargo build --release --bin ustd && bench/real.sh
#   QUICK=1 bench/real.sh     # smoke run: 30 apps, 2 s floods, 1 repetition
#
# Scenarios (the apps are bench/fixtures/realapp.c, compiled here with the
# tracepoint provider of tests/fixtures/app, and started by
# bench/fixtures/launch.c):
#   apps   N real apps forked first, released together. Each prints its time
#          from exec to main() (lttng-ust's constructors wait for the
#          daemon's registration, up to 3 s). Measured with no daemon (the
#          floor), with lttng-sessiond and with ustd, interleaved: each
#          daemon's run comes right after a floor of its own, which "above
#          the floor" subtracts. With the N apps
#          registered: daemon RSS, fds and CPU per app (counted from after
#          one warm-up app registered and left, the same for both daemons); then `create`,
#          `enable-event -u -a`, `start`, `stop`, `destroy` wall times, the
#          daemon CPU of `start` per app, and the apps' own CPU during
#          `start` and to one second after it (their whole share of it,
#          whichever daemon; `stop` comes after that second). Then, with
#          the same apps, `start` of a session of RULES event rules (one
#          event of the apps, the others absent ones) and its daemon CPU
#          per app. Then N more
#          apps launched into a started session (`enable-event -u -a`):
#          their time to main() above the same floor. Each app prints its
#          CPU time to main() too.
#   flood  one app, FLOOD_THREADS threads each emitting one event
#          (bench_flood:blob, a FLOOD_BYTES payload) per iteration for FLOOD_S
#          seconds into a local session (channel:
#          per-UID buffers, discard mode, SUBBUF x NUM_SUBBUF). MB/s of trace
#          data files written (bytes of the stream files, metadata and index
#          excluded, divided by the time from the app's launch to the return
#          of `lttng stop`, which waits until the consumer has written all);
#          events emitted by the app and discarded (the channel's
#          "Discarded events" in `lttng list` after stop), packets lost (the
#          stop warning: whole packets a consumer dropped); daemon CPU. The machine's memcpy
#          bandwidth (one thread) is measured in each repetition: the ceiling.
#   relay  the same flood streamed to a private lttng-relayd on loopback
#          (`lttng create --set-url net://127.0.0.1:5342:5343`): MB/s of
#          data files the relayd wrote, over the same span.
#
# Daemon CPU = user + sys of the daemon's processes (lttng: lttng-sessiond,
# its lttng-consumerd children and the children it reaped), in clock ticks.
#
# Runs in a private mount and network namespace (fresh tmpfs on /run/lttng
# and /dev/shm; its own loopback, so the relayd's ports collide with nothing).
#
# Environment (all optional):
#   SCENARIOS="apps flood relay"  DAEMONS="lttng ustd"  REPS=3
#   APPS=300                apps started at once
#   RULES=100               event rules of the apps scenario's second session
#   FLOOD_THREADS=4 FLOOD_S=10 FLOOD_BYTES=1024 (payload per event) SUBBUF=1M NUM_SUBBUF=4
#   QUICK=1                 APPS=30, FLOOD_S=2, REPS=1 unless set
#   FLOOD_PROBE=CMD         run during each flood (not its stop), the daemon's
#                           pids in PIDS, output to $OUT/<scenario>-<daemon>-r<rep>.probe;
#                           e.g. 'strace -c -f -p ${PIDS// / -p }' or
#                           'perf record -g -o $OUT/x.data -p ${PIDS// /,}'
#                           (it slows the daemon: never with reported figures)
#   USTD_BIN (default target/release/ustd)   OUT (default: a new mktemp -d)
#   TMPDIR (default /tmp)   where local traces are written (its file system
#                           is printed: a tmpfs would measure memory, not a disk)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
STEAL0=$(cpu_ticks)
LOG_TAG=real.sh
UNSHARE_OPTS=-n
bench_enter_ns USTD_REAL_IN_NS "$0" "$@"

if [[ "${QUICK:-0}" == 1 ]]; then
    APPS=${APPS:-30} FLOOD_S=${FLOOD_S:-2} REPS=${REPS:-1}
fi
APPS=${APPS:-300}
RULES=${RULES:-100}
RULE_NAMES="ustd_fixture:simple$(seq -f ',ustd_fixture:absent%g' -s '' 1 $((RULES - 1)))"
FLOOD_THREADS=${FLOOD_THREADS:-4} FLOOD_S=${FLOOD_S:-10} FLOOD_BYTES=${FLOOD_BYTES:-1024}
SUBBUF=${SUBBUF:-1M} NUM_SUBBUF=${NUM_SUBBUF:-4}
REPS=${REPS:-3}
SCENARIOS=${SCENARIOS:-"apps flood relay"}
DAEMONS=${DAEMONS:-"lttng ustd"}
USTD_BIN=${USTD_BIN:-$repo/target/release/ustd}
OUT=${OUT:-$(mktemp -d /tmp/ustd-real.XXXXXX)}
mkdir -p "$OUT"
work=$(mktemp -d "${TMPDIR:-/tmp}/ustd-real-work.XXXXXX") # local traces go here: a disk, not a tmpfs
trap 'rm -rf "$work"' EXIT # floods write gigabytes: never leave them behind
export LTTNG_HOME=$work/home
mkdir -p "$LTTNG_HOME" "$work/traces"
FPARAMS="$FLOOD_THREADS threads × $FLOOD_BYTES B events, $FLOOD_S s, $NUM_SUBBUF × $SUBBUF per-UID"
RELAY_CTRL=5342 RELAY_DATA=5343 RELAY_LIVE=5344

[[ -x $USTD_BIN ]] || { echo "real.sh: build first: cargo build --release --bin ustd" >&2; exit 1; }

bin=$OUT/bin
mkdir -p "$bin"
gcc -O2 -Wall -o "$bin/launch" "$here/fixtures/launch.c"
gcc -O2 -Wall -I "$repo/tests/fixtures/app" -I "$here/fixtures" -o "$bin/realapp" "$here/fixtures/realapp.c" \
    "$here/fixtures/flood_tp.c" "$repo/tests/fixtures/app/tp.c" -llttng-ust -ldl -lpthread
gcc -O2 -Wall -o "$bin/memcpy" "$here/fixtures/memcpy.c"

none_start() { DAEMON_PID=; }
none_stop() { :; }
none_pids() { :; }

# launch N FILE ARGS...: starts N realapps at once (launcher pid in LAUNCH_PID).
launch() {
    local n=$1 file=$2
    shift 2
    "$bin/launch" "$n" "$file" "$bin/realapp" "$@" &
    LAUNCH_PID=$!
}
# wait_mains FILE N TIMEOUT_S: waits until N apps printed their "main" line.
wait_mains() {
    local end=$((SECONDS + $3)) c
    while c=$(grep -c '^main ' "$1" 2>/dev/null || true); ((${c:-0} < $2)); do
        ((SECONDS < end)) || return 1
        sleep 0.05
    done
}
# pct FILE P: the P-th percentile (nearest rank) of the "main" times, in ms.
pct() {
    awk '/^main / {print $2}' "$1" | sort -n |
        awk -v p="$2" '{x[NR] = $1} END { if (NR == 0) { print "n/a"; exit } i = int(NR * p / 100); if (i < NR * p / 100) i++; if (i < 1) i = 1; printf "%.6g", x[i] / 1000 }'
}
# apps_cpu_ns: CPU time (ns, /proc/PID/task/*/schedstat: exact, not tick
# samples) of every thread of every running realapp.
apps_cpu_ns() {
    local d
    d=$(grep -lx realapp /proc/[0-9]*/comm 2>/dev/null | sed 's,/comm$,,')
    [[ -n $d ]] || { echo 0; return; }
    for p in $d; do cat "$p"/task/*/schedstat 2>/dev/null; done | awk '{ t += $1 } END { printf "%.0f\n", t }'
}
# main_cpu FILE: the apps' mean CPU time from exec to main() (all threads), in ms.
main_cpu() { awk '/^main / && NF >= 3 {s += $3; n++} END { if (n) printf "%.6g", s / n / 1000; else print "n/a" }' "$1"; }
minus() { is_num "$1" && is_num "$2" && awk -v a="$1" -v b="$2" 'BEGIN{printf "%.6g", a - b}' || echo n/a; }
# timed CMD...: runs one lttng command, prints its wall time in ms (FAIL on error).
timed() {
    local t
    t=$(now_ns)
    if lttng "$@" >>"$OUT/ctl.log" 2>&1; then ms_since "$t"; else echo FAIL; fi
}
# Bytes of a trace's stream files (metadata and index files excluded).
data_bytes() { find "$1" -type f ! -name metadata ! -path '*/index/*' -printf '%s\n' 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }
mb_per_s() { awk -v b="$1" -v ms="$2" 'BEGIN{ if (ms > 0) printf "%.6g", b / 1e6 / (ms / 1000); else print "n/a" }'; }

apps_rows=() flood_rows=() floor_rows=()
declare -A FLOOR_P50 FLOOR_P99 FLOOR_CPU

scenario_apps() {
    local name=apps-$D${FLOOR_FOR:+-for-$FLOOR_FOR}-r$REP file rss0 fds0 cpu0 rss1 fds1 cpu1 reached p50 p99 c0 c1 a0 a1
    file=$OUT/$name.mains
    "${D}_start"
    # One app registers and leaves first: the daemon's registration code and
    # data pages are then resident, a one-time cost that would otherwise be
    # charged to the N apps' RSS (about 300 KiB of ustd's file-backed pages).
    launch 1 "$OUT/$name.warmup" wait
    wait_mains "$OUT/$name.warmup" 1 10 || log "apps $D rep $REP: the warm-up app did not reach main"
    kill -TERM "$LAUNCH_PID"; wait "$LAUNCH_PID" || true
    sleep 0.5
    rss0=$(daemon_rss_kib) fds0=$(daemon_fds) cpu0=$(daemon_cpu_ticks)
    launch "$APPS" "$file" wait
    wait_mains "$file" "$APPS" 60 || log "apps $D rep $REP: only $(grep -c '^main ' "$file") of $APPS reached main"
    reached=$(grep -c '^main ' "$file" || true)
    p50=$(pct "$file" 50) p99=$(pct "$file" 99)
    if [[ $D == none ]]; then
        FLOOR_P50[$REP-$FLOOR_FOR]=$p50 FLOOR_P99[$REP-$FLOOR_FOR]=$p99 FLOOR_CPU[$REP-$FLOOR_FOR]=$(main_cpu "$file")
        floor_rows+=("| $REP | $FLOOR_FOR | $APPS | $reached | $p50 | $p99 | $(pct "$file" 100) | ${FLOOR_CPU[$REP-$FLOOR_FOR]} | $(load1) |")
        kill -TERM "$LAUNCH_PID"; wait "$LAUNCH_PID" || true
        log "apps none rep $REP: floor p50 $p50 ms, p99 $p99 ms"
        return
    fi
    sleep 0.5 # late frees and closes settle before sampling
    rss1=$(daemon_rss_kib) fds1=$(daemon_fds) cpu1=$(daemon_cpu_ticks)
    local t_create t_enable t_start t_stop t_destroy above50 above99 cpu_start
    t_create=$(timed create "$name" --output="$work/traces/$name")
    t_enable=$(timed enable-event -u -a)
    c0=$(daemon_cpu_ticks) a0=$(apps_cpu_ns)
    t_start=$(timed start)
    c1=$(daemon_cpu_ticks) a1=$(apps_cpu_ns)
    sleep 1 # what the apps still do for `start` after it returned
    a2=$(apps_cpu_ns)
    t_stop=$(timed stop)
    t_destroy=$(timed destroy)
    # The same apps, a session of RULES event rules (one that matches,
    # the others naming absent events): every app gets each rule's EVENT
    # and ENABLE at `start`.
    local t_rules c2 c3
    timed create "$name-rules" --output="$work/traces/$name-rules" >/dev/null
    timed enable-event -u "$RULE_NAMES" >/dev/null
    c2=$(daemon_cpu_ticks)
    t_rules=$(timed start)
    c3=$(daemon_cpu_ticks)
    timed destroy >/dev/null
    kill -TERM "$LAUNCH_PID"; wait "$LAUNCH_PID" || true
    # N apps launched while a session is started: each gets the session
    # (channel, streams, events, its ENABLE and statedump) before its
    # constructors return.
    local live=$OUT/$name.live.mains live50 live99
    timed create "$name-live" --output="$work/traces/$name-live" >/dev/null
    timed enable-event -u -a >/dev/null
    timed start >/dev/null
    launch "$APPS" "$live" wait
    wait_mains "$live" "$APPS" 60 || log "apps $D rep $REP: only $(grep -c '^main ' "$live") of $APPS reached main, session started"
    live50=$(pct "$live" 50) live99=$(pct "$live" 99)
    timed destroy >/dev/null
    kill -TERM "$LAUNCH_PID"; wait "$LAUNCH_PID" || true
    "${D}_stop"
    above50=$(minus "$p50" "${FLOOR_P50[$REP-$D]:-n/a}") above99=$(minus "$p99" "${FLOOR_P99[$REP-$D]:-n/a}")
    cpu_start=$(cpu_ms_per_app "$c0" "$c1" "$reached")
    local rss_app fds_app cpu_app
    rss_app=$(per_app "$rss0" "$rss1" "$reached") fds_app=$(per_app "$fds0" "$fds1" "$reached")
    cpu_app=$(cpu_ms_per_app "$cpu0" "$cpu1" "$reached")
    rec apps "N=$APPS" "time to main p50 (ms)" "$p50"
    rec apps "N=$APPS" "time to main p99 (ms)" "$p99"
    rec apps "N=$APPS" "time to main above the floor, p50 (ms)" "$above50"
    rec apps "N=$APPS" "time to main above the floor, p99 (ms)" "$above99"
    rec apps "N=$APPS" "apps' own CPU to main, per app (ms)" "$(main_cpu "$file")"
    rec apps "N=$APPS" "apps' own CPU to main above the floor, per app (ms)" "$(minus "$(main_cpu "$file")" "${FLOOR_CPU[$REP-$D]:-n/a}")"
    rec apps "N=$APPS" "apps that reached main" "$reached"
    rec apps "N=$APPS" "session started: time to main above the floor, p50 (ms)" "$(minus "$live50" "${FLOOR_P50[$REP-$D]:-n/a}")"
    rec apps "N=$APPS" "session started: time to main above the floor, p99 (ms)" "$(minus "$live99" "${FLOOR_P99[$REP-$D]:-n/a}")"
    rec apps "N=$APPS" "daemon RSS per app (KiB)" "$rss_app"
    rec apps "N=$APPS" "daemon fds per app" "$fds_app"
    rec apps "N=$APPS" "daemon CPU per registration (ms)" "$cpu_app"
    rec apps "N=$APPS" "create (ms)" "$t_create"
    rec apps "N=$APPS" "enable-event -u -a (ms)" "$t_enable"
    rec apps "N=$APPS" "start (ms)" "$t_start"
    rec apps "N=$APPS" "daemon CPU for start per app (ms)" "$cpu_start"
    rec apps "N=$APPS" "apps' own CPU during start, per app (ms)" "$(awk -v a="$a0" -v b="$a1" -v n="$reached" 'BEGIN{ if (n > 0) printf "%.6g", (b - a) / 1e6 / n; else print "n/a" }')"
    rec apps "N=$APPS" "apps' own CPU for start to 1 s after it, per app (ms)" "$(awk -v a="$a0" -v b="$a2" -v n="$reached" 'BEGIN{ if (n > 0) printf "%.6g", (b - a) / 1e6 / n; else print "n/a" }')"
    rec apps "N=$APPS" "start, $RULES event rules (ms)" "$t_rules"
    rec apps "N=$APPS" "daemon CPU for start, $RULES event rules, per app (ms)" "$(cpu_ms_per_app "$c2" "$c3" "$reached")"
    rec apps "N=$APPS" "stop (ms)" "$t_stop"
    rec apps "N=$APPS" "destroy (ms)" "$t_destroy"
    apps_rows+=("| $D | $REP | $reached/$APPS | $p50 | $p99 | $above50 | $above99 | $rss0 | $rss1 | $rss_app | $fds0 | $fds1 | $fds_app | $cpu_app | $t_create | $t_enable | $t_start | $cpu_start | $t_stop | $t_destroy | $(load1) |")
    log "apps $D rep $REP: main p50 $p50 ms (above floor $above50), start $t_start ms, RSS/app $rss_app KiB"
}

# thread_stats: one line per thread of the daemon's processes:
# "pid/tid comm run_ns runqueue_wait_ns voluntary_cs involuntary_cs"
# (/proc/PID/task/TID/schedstat and status).
thread_stats() {
    local p t comm run wait _s vcs ivcs
    for p in $("${D}_pids"); do
        for t in /proc/"$p"/task/*; do
            read -r run wait _s <"$t/schedstat" 2>/dev/null || continue
            comm=$(tr -c 'A-Za-z0-9_.:\n-' _ <"$t/comm" 2>/dev/null) || continue
            vcs=$(awk '/^voluntary_ctxt_switches/ {print $2}' "$t/status" 2>/dev/null)
            ivcs=$(awk '/^nonvoluntary_ctxt_switches/ {print $2}' "$t/status" 2>/dev/null)
            echo "$p/${t##*/} $comm $run $wait ${vcs:-0} ${ivcs:-0}"
        done
    done
}
# busiest BEFORE AFTER: the thread that ran most between two thread_stats
# snapshots (a thread born in between counts from 0): "comm cpu_s wait_s vcs ivcs".
busiest() {
    awk 'NR == FNR { r[$1] = $3; w[$1] = $4; v[$1] = $5; i[$1] = $6; next }
        { d = $3 - r[$1]; if (d > best) { best = d; line = sprintf("%s %.6g %.6g %d %d", $2, d / 1e9, ($4 - w[$1]) / 1e9, $5 - v[$1], $6 - i[$1]) } }
        END { print (line == "" ? "n/a n/a n/a n/a n/a" : line) }' "$1" "$2"
}

# flood_session KIND NAME CREATE_ARGS...: one flood into a session created
# with CREATE_ARGS; records the figures under section KIND. DATA_DIR must
# name the directory whose stream files count.
flood_session() {
    local kind=$1 name=$2 file t0 span t_stop emitted secs discarded lost bytes mbs cpu0 cpu1 cpu_s
    shift 2
    file=$OUT/$name.out
    lttng create "$name" "$@" >>"$OUT/ctl.log" 2>&1
    lttng enable-channel -u chan --buffers-uid --discard --subbuf-size "$SUBBUF" --num-subbuf "$NUM_SUBBUF" >>"$OUT/ctl.log" 2>&1
    lttng enable-event -u -a -c chan >>"$OUT/ctl.log" 2>&1
    lttng start >>"$OUT/ctl.log" 2>&1
    cpu0=$(daemon_cpu_ticks)
    thread_stats >"$OUT/$name.threads0"
    local probe=
    if [[ -n ${FLOOD_PROBE:-} ]]; then
        # e.g. FLOOD_PROBE='strace -c -f -p ${PIDS// / -p }': the daemon's pids
        # in PIDS, its output in $OUT/NAME.probe; stopped with SIGINT.
        PIDS=$("${D}_pids") setsid bash -c "eval \"exec $FLOOD_PROBE\"" >"$OUT/$name.probe" 2>&1 &
        probe=$!
        sleep 0.5
    fi
    t0=$(now_ns)
    launch 1 "$file" flood "$FLOOD_THREADS" "$FLOOD_S" "$FLOOD_BYTES"
    wait "$LAUNCH_PID" || true
    if [[ -n $probe ]]; then
        kill -INT "$probe" 2>/dev/null || true
        wait "$probe" || true
    fi
    t_stop=$(now_ns)
    lttng stop >"$OUT/$name.stop" 2>&1 || log "$name: lttng stop failed: $(cat "$OUT/$name.stop")"
    span=$(ms_since "$t0")
    t_stop=$(ms_since "$t_stop")
    cpu1=$(daemon_cpu_ticks)
    thread_stats >"$OUT/$name.threads1"
    lttng list "$name" >"$OUT/$name.list" 2>&1 || true
    lttng destroy >>"$OUT/ctl.log" 2>&1 || true
    read -r _ emitted secs < <(grep '^flooded ' "$file" || echo "x n/a n/a")
    # The session's one channel, as printed (awk would round 2^63 + N).
    discarded=$(awk '/Discarded events:/ {print $NF; exit}' "$OUT/$name.list")
    discarded=${discarded:-n/a}
    # Whole packets a consumer dropped (the CLI's stop warning; 0 when it names none).
    lost=$({ grep -oE '[0-9]+ packets? (were|was) lost' "$OUT/$name.stop" || true; } | awk '{s += $1} END {print s + 0}')
    bytes=$(data_bytes "$DATA_DIR")
    mbs=$(mb_per_s "$bytes" "$span")
    cpu_s=$(awk -v a="$cpu0" -v b="$cpu1" -v hz="$CLK_TCK" 'BEGIN{printf "%.6g", (b - a) / hz}')
    rec "$kind" "$FPARAMS" "MB/s written" "$mbs"
    rec "$kind" "$FPARAMS" "events emitted (millions)" "$(awk -v e="$emitted" 'BEGIN{ if (e ~ /^[0-9]+$/) printf "%.6g", e / 1e6; else print "n/a" }')"
    # lttng-sessiond 2.13.9 sometimes lists 2^63 + N for a per-UID channel:
    # kept as is in the detail table, n/a in the comparison.
    rec "$kind" "$FPARAMS" "events discarded (millions, lttng list)" "$(awk -v e="$discarded" 'BEGIN{ if (e ~ /^[0-9]+$/ && length(e) < 19) printf "%.6g", e / 1e6; else print "n/a" }')"
    rec "$kind" "$FPARAMS" "packets lost (lttng stop)" "$lost"
    rec "$kind" "$FPARAMS" "stop (ms)" "$t_stop"
    rec "$kind" "$FPARAMS" "daemon CPU (s)" "$cpu_s"
    rec "$kind" "$FPARAMS" "daemon CPU per GB written (s)" "$(awk -v c="$cpu_s" -v b="$bytes" 'BEGIN{ if (b > 0) printf "%.6g", c / (b / 1e9); else print "n/a" }')"
    # The consumer's busiest thread: CPU, time runnable but waiting for a
    # CPU (run-queue delay), and its context switches per MB written.
    local tcomm tcpu twait tvcs tivcs
    read -r tcomm tcpu twait tvcs tivcs < <(busiest "$OUT/$name.threads0" "$OUT/$name.threads1")
    rec "$kind" "$FPARAMS" "busiest daemon thread: CPU (s)" "$tcpu"
    rec "$kind" "$FPARAMS" "busiest daemon thread: run-queue wait (s)" "$twait"
    rec "$kind" "$FPARAMS" "busiest daemon thread: voluntary switches per MB" "$(per_app 0 "$tvcs" "$(awk -v b="$bytes" 'BEGIN{printf "%.6g", b / 1e6}')")"
    rec "$kind" "$FPARAMS" "busiest daemon thread: involuntary switches per MB" "$(per_app 0 "$tivcs" "$(awk -v b="$bytes" 'BEGIN{printf "%.6g", b / 1e6}')")"
    flood_rows+=("| $kind | $D | $REP | $bytes | $span | $mbs | $emitted | $secs | $discarded | $lost | $t_stop | $cpu_s | $tcomm | $tcpu | $twait | $tvcs | $tivcs | ${MEMCPY[$REP]:-n/a} | $(load1) |")
    log "$kind $D rep $REP: $bytes bytes in $span ms = $mbs MB/s; emitted $emitted, discarded $discarded"
}

declare -A MEMCPY
MEMCPY_RUNS=
scenario_flood() {
    local name=flood-$D-r$REP
    "${D}_start"
    DATA_DIR=$work/traces/$name
    flood_session flood "$name" --output="$DATA_DIR"
    "${D}_stop"
    rm -rf "$DATA_DIR"
}

scenario_relay() {
    local name=relay-$D-r$REP relayd
    DATA_DIR=$work/relay-$name
    lttng-relayd -C "tcp://127.0.0.1:$RELAY_CTRL" -D "tcp://127.0.0.1:$RELAY_DATA" \
        -L "tcp://127.0.0.1:$RELAY_LIVE" -o "$DATA_DIR" >"$OUT/$name.relayd.log" 2>&1 &
    relayd=$!
    for _ in $(seq 100); do
        ss -ltn | grep -q "127.0.0.1:$RELAY_DATA " && break
        sleep 0.05
    done
    "${D}_start"
    flood_session relay "$name" --set-url="net://127.0.0.1:$RELAY_CTRL:$RELAY_DATA"
    "${D}_stop"
    kill -TERM "$relayd"; wait "$relayd" || true
    rm -rf "$DATA_DIR"
}

RUN_DAEMONS=($DAEMONS)
# The daemons in the given order in odd repetitions, reversed in even ones.
rep_order() {
    if ((REP % 2)); then printf '%s\n' "${RUN_DAEMONS[@]}"; else printf '%s\n' "${RUN_DAEMONS[@]}" | tac; fi
}
LOAD_BEFORE=$(cat /proc/loadavg)
T0=$(now_ns)
for REP in $(seq "$REPS"); do
    for s in $SCENARIOS; do
        case $s in
            apps)
                # Each daemon's run right after a floor of its own (no
                # daemon), the daemons' order alternating as below: the
                # floor drifts with the machine's state (writeback of the
                # previous floods, page cache), and a floor taken next to
                # a run is the one to subtract.
                for D in $(rep_order); do
                    FLOOR_FOR=$D D=none scenario_apps
                    FLOOR_FOR= scenario_apps
                done ;;
            flood | relay)
                if [[ $s == flood ]]; then
                    MEMCPY[$REP]=$("$bin/memcpy" 1)
                    MEMCPY_RUNS+=" ${MEMCPY[$REP]}"
                    log "memcpy rep $REP: ${MEMCPY[$REP]} MB/s"
                fi
                # Odd repetitions in the given order, even ones reversed:
                # a flood leaves the disk (and the host under a VM's disk)
                # busy writing back after it, which a fixed order would
                # always charge to the same daemon.
                for D in $(rep_order); do "scenario_$s"; done ;;
            *) echo "real.sh: unknown scenario $s" >&2; exit 1 ;;
        esac
    done
done
LOAD_AFTER=$(cat /proc/loadavg)

# ------------------------------------------------------------------ report ---
echo "## Real apps, consumer and relayd throughput ($(date -u +%F), $(nproc) CPUs, $(uname -r))"
echo
echo "Load average before: ${LOAD_BEFORE% *}; after: ${LOAD_AFTER% *}; total run $(( ($(now_ns) - T0) / 1000000000 )) s."
echo "$REPS repetition(s), daemons interleaved within each (${RUN_DAEMONS[*]}), both driven by the stock lttng CLI; local traces written to a $(stat -f -c %T "$work") file system."
if [[ -n $MEMCPY_RUNS ]]; then
    echo "memcpy bandwidth of the machine (one thread, the ceiling of a consumer): $(cell "${MEMCPY_RUNS# }") MB/s."
fi
echo
echo "### lttng-sessiond vs ustd"
echo
echo "Each cell: median (min–max) of all $REPS runs. ratio = median lttng-sessiond ÷ median ustd (above 1: ustd is faster or leaner; for MB/s and events, below 1 is better for ustd)."
echo
comparison_table
echo
echo "### Targets"
echo
echo "| target | measured (median ratio) | verdict |"
echo "|---|---|---|"
ratio_of() { ratio "$(med "$1" lttng)" "$(med "$1" ustd)"; }
runs() { [[ " $SCENARIOS " == *" $1 "* ]]; }
if runs apps; then
    k="apps|N=$APPS|time to main above the floor, p50 (ms)"
    a=$(med "$k" lttng) b=$(med "$k" ustd)
    if is_num "$a" && [[ $b == -* || $b == 0 ]]; then
        # ustd's median is within the floor's noise (at or below it): no ratio.
        target "$APPS apps: time to main above the floor (p50) ≤ 1/5 of lttng's" met "ustd $(awk -v x="$b" 'BEGIN{printf "%.3g", x}') ms, lttng $(show "$a") ms"
    else
        r=$(ratio "$a" "$b")
        target "$APPS apps: time to main above the floor (p50) ≤ 1/5 of lttng's" "$(verdict "$r" 5 '>=')" "$(show "$r")×"
    fi
    r=$(ratio_of "apps|N=$APPS|start (ms)")
    target "$APPS apps: start ≤ 1/4 of lttng's" "$(verdict "$r" 4 '>=')" "$(show "$r")×"
    r=$(ratio_of "apps|N=$APPS|daemon RSS per app (KiB)")
    target "$APPS apps: daemon RSS per app ≤ 1/2 of lttng's" "$(verdict "$r" 2 '>=')" "$(show "$r")×"
fi
for kind in flood relay; do
    runs "$kind" || continue
    k="$kind|$FPARAMS|MB/s written"
    r=$(ratio "$(med "$k" ustd)" "$(med "$k" lttng)")
    target "$kind: MB/s written, ustd ≥ lttng (ustd ÷ lttng)" "$(verdict "$r" 1 '>=')" "$(show "$r")×"
done
echo
echo "### No daemon: the floor (every run)"
echo
echo "| rep | taken just before | apps | reached main | time to main p50 (ms) | p99 (ms) | max (ms) | CPU to main per app (ms) | load |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${floor_rows[@]}"
echo
echo "### $APPS real apps (every run; times in ms)"
echo
echo "| daemon | rep | reached main | main p50 | main p99 | above floor p50 | above floor p99 | RSS before (KiB) | RSS with apps (KiB) | RSS / app (KiB) | fds before | fds with apps | fds / app | CPU / registration (ms) | create | enable-event | start | CPU for start / app (ms) | stop | destroy | load |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${apps_rows[@]}"
echo
echo "### Flood: local session and relayd (every run)"
echo
echo "| scenario | daemon | rep | data bytes | span (ms) | MB/s | events emitted | flood (s) | events discarded | packets lost | stop (ms) | daemon CPU (s) | busiest thread | its CPU (s) | its run-queue wait (s) | its voluntary switches | involuntary | memcpy (MB/s) | load |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${flood_rows[@]}"
echo
echo "CPU steal (time the hypervisor gave other guests) over the whole run: $(steal_pct "$STEAL0")%"
echo "Raw results: $OUT"
rm -rf "$work"
