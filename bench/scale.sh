#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# bench/scale.sh: as many fake apps as the daemon's fd limit allows (issue
# 14, "scale without surprises"). The daemon runs under RLIMIT_NOFILE
# NOFILE (default 20000, the hard limit of the machine the issue was found
# on); ustd-bench registers APPS fake apps (short-lived connectors, so the
# generator does not fork-bomb the machine) and keeps them served. Then, one
# run of each:
#   - registration: apps registered / failed, daemon RSS and fds;
#   - `ustd list --json`: wall time of LIST_RUNS runs (median, min-max);
#   - create / enable-event -u -a / start / stop / destroy: wall time and
#     exit status (0 = every app done; 3 = some apps failed, named);
#   - the daemon's threads (no per-app thread or timer).
#
# Usage (as root, from the repository root):
#   cargo build --release --bin ustd --bin ustd-bench && bench/scale.sh
# Environment: APPS=9500 NOFILE=20000 LIST_RUNS=5 REPLY_DELAY_MS=0 OUT=dir
#   ROUNDS=1 (sessions created, started, stopped and destroyed in turn)
set -euo pipefail

if [[ ${USTD_SCALE_IN_NS:-} != 1 ]]; then
    [[ $(id -u) == 0 ]] || { echo "scale.sh: run as root (private mount namespace)" >&2; exit 1; }
    exec env USTD_SCALE_IN_NS=1 unshare -m -- "$0" "$@"
fi
mount --make-rprivate /
mkdir -p /run/lttng
mount -t tmpfs -o mode=0755 tmpfs /run/lttng
mount -t tmpfs -o mode=1777 tmpfs /dev/shm

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
STEAL0=$(cpu_ticks)
ROUNDS=${ROUNDS:-1} APPS=${APPS:-9500} NOFILE=${NOFILE:-20000} LIST_RUNS=${LIST_RUNS:-5} REPLY_DELAY_MS=${REPLY_DELAY_MS:-0}
USTD_BIN=${USTD_BIN:-$repo/target/release/ustd}
BENCH_BIN=${BENCH_BIN:-$repo/target/release/ustd-bench}
OUT=${OUT:-$(mktemp -d /tmp/ustd-scale.XXXXXX)}
mkdir -p "$OUT"
for b in "$USTD_BIN" "$BENCH_BIN"; do
    [[ -x $b ]] || { echo "scale.sh: build first: cargo build --release --bin ustd --bin ustd-bench" >&2; exit 1; }
done

# Raising the hard limit needs CAP_SYS_RESOURCE, which containers often lack.
prlimit --nofile="$NOFILE:$NOFILE" -- true 2>/dev/null || {
    echo "scale.sh: cannot set RLIMIT_NOFILE to $NOFILE here (hard limit $(ulimit -Hn), no CAP_SYS_RESOURCE?): set NOFILE and APPS below it" >&2
    exit 1
}
rundir=$OUT/run
mkdir -p "$rundir"
RUST_LOG=warn prlimit --nofile="$NOFILE:$NOFILE" -- "$USTD_BIN" --rundir "$rundir" daemon >"$OUT/ustd.log" 2>&1 &
daemon=$!
gen=
trap 'kill -INT $gen 2>/dev/null || true; sleep 1; kill -9 $daemon $gen 2>/dev/null || true' EXIT
ctl() { "$USTD_BIN" --rundir "$rundir" "$@"; }
# Ready once the control socket answers (its file exists a moment before
# the daemon listens on it).
for _ in $(seq 100); do ctl list >/dev/null 2>&1 && break; sleep 0.1; done
ctl list >/dev/null 2>&1 || { echo "scale.sh: the daemon did not start; its log:" >&2; cat "$OUT/ustd.log" >&2; exit 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$daemon/status"; }
fds() { ls "/proc/$daemon/fd" | wc -l; }
threads() { awk '/^Threads/ {print $2}' "/proc/$daemon/status"; }
# Thread names and counts, e.g. "ustd-worker:2 ustd-consumer:1".
thread_names() { cat /proc/$daemon/task/*/comm | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}'; }

echo "daemon: nofile $NOFILE; idle: RSS $(rss) KiB, fds $(fds), threads $(threads)"

# The generator holds two sockets per app: it gets the hard limit (raising
# that needs CAP_SYS_RESOURCE, which containers often lack).
ulimit -n "$(ulimit -Hn)"
t0=$(now_ms)
"$BENCH_BIN" \
    --socket "$rundir/lttng-ust-sock-8" --apps "$APPS" --serve --short-lived-connectors \
    --reply-delay-ms "$REPLY_DELAY_MS" --register-timeout-s 300 --ready-file "$OUT/ready" \
    >"$OUT/gen.final.json" 2>"$OUT/gen.log" &
gen=$!
while [[ ! -s $OUT/ready ]]; do
    kill -0 "$gen" 2>/dev/null || { echo "generator died: $(tail -3 "$OUT/gen.log")"; exit 1; }
    sleep 0.1
done
reg_ms=$(( $(now_ms) - t0 ))
sleep 1
listed=$(ctl list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("apps", [])))')
echo "registration: $(cat "$OUT/ready")"
echo "registration: ${reg_ms} ms to settle; daemon lists $listed apps; RSS $(rss) KiB, fds $(fds), threads $(threads)"

times=()
for _ in $(seq "$LIST_RUNS"); do
    t=$(now_ms); ctl list --json >/dev/null; times+=($(( $(now_ms) - t )))
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n | tr '\n' ' ')
read -r -a s <<<"$sorted"
echo "ustd list --json: median ${s[$(( ${#s[@]} / 2 ))]} ms, min ${s[0]}, max ${s[-1]} (runs: ${times[*]})"

for round in $(seq "$ROUNDS"); do
    for c in "create scale$round --output $OUT/trace$round" "enable-event -u -a" start stop destroy; do
        t=$(now_ms)
        st=$(cpu_ticks)
        set +e; ctl $c >"$OUT/ctl.out" 2>"$OUT/ctl.err"; rc=$?; set -e
        echo "$(echo "$c" | cut -d' ' -f1-2): $(( $(now_ms) - t )) ms, exit $rc$( ((rc)) && echo ": $(head -c 300 "$OUT/ctl.err")"), CPU steal $(steal_pct "$st")%"
        [[ $c == start ]] && echo "after start: RSS $(rss) KiB, fds $(fds), threads $(threads): $(thread_names)"
    done
    echo "after destroy (round $round): RSS $(rss) KiB, fds $(fds), threads $(threads)"
done
echo "CPU steal (time the hypervisor gave other guests) over the whole run: $(steal_pct "$STEAL0")%"
echo "results in $OUT"
