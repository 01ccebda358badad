#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# bench/soak.sh: churn soak (issue 13, item 7). Real lttng-ust apps (the
# test fixture) start and exit continuously while one session is active;
# every SAMPLE seconds the daemon's RSS and open fds are sampled, with the
# number of apps it lists. At the end: least-squares slopes of RSS and fds
# over the run (after a warm-up), the fd count after `destroy` against the
# count before the session, and the events babeltrace2 reads.
#
# A leak shows as a slope that stays positive however long the run; a daemon
# that keeps state per exited app grows with the app count. One app in
# KILL_EVERY is killed with SIGKILL mid-run instead of exiting.
# RSS that grows only in RssAnon while the live heap stays flat (heaptrack)
# is glibc arena high-water, not a leak (ARCHITECTURE.md, "Per-app memory").
#
# Usage (as root, from the repository root):
#   cargo build --release --bin ustd && bench/soak.sh
# Environment (all optional):
#   DURATION=600  seconds of churn       SAMPLE=10    seconds between samples
#   WARMUP=60     seconds left out of the slopes
#   CONC=16       apps alive at once     ITER=40      iterations per app (-i 5 ms apart)
#   KILL_EVERY=5  every Nth app is SIGKILLed mid-run (0: none)
#   BUFFERS=uid   uid | pid              USTD_BIN (default target/release/ustd)
#   OUT           result directory (default: a new mktemp -d)
set -euo pipefail

if [[ ${USTD_SOAK_IN_NS:-} != 1 ]]; then
    [[ $(id -u) == 0 ]] || { echo "soak.sh: run as root (private mount namespace)" >&2; exit 1; }
    exec env USTD_SOAK_IN_NS=1 unshare -m -- "$0" "$@"
fi
mount --make-rprivate /
mkdir -p /run/lttng
mount -t tmpfs -o mode=0755 tmpfs /run/lttng
mount -t tmpfs -o mode=1777 tmpfs /dev/shm

repo=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-600} SAMPLE=${SAMPLE:-10} WARMUP=${WARMUP:-60}
CONC=${CONC:-16} ITER=${ITER:-40} KILL_EVERY=${KILL_EVERY:-5} BUFFERS=${BUFFERS:-uid}
USTD_BIN=${USTD_BIN:-$repo/target/release/ustd}
OUT=${OUT:-$(mktemp -d /tmp/ustd-soak.XXXXXX)}
mkdir -p "$OUT"
[[ -x $USTD_BIN ]] || { echo "soak.sh: build first: cargo build --release --bin ustd" >&2; exit 1; }

app=$OUT/ustd-fixture
gcc -O1 -I "$repo/tests/fixtures/app" "$repo/tests/fixtures/app/app.c" \
    "$repo/tests/fixtures/app/tp.c" -llttng-ust -ldl -o "$app"

export LTTNG_HOME=$OUT LTTNG_UST_REGISTER_TIMEOUT=-1
rundir=$OUT/.lttng
mkdir -p "$rundir"
RUST_LOG=warn "$USTD_BIN" --rundir "$rundir" daemon >"$OUT/ustd.log" 2>&1 &
daemon=$!
trap 'kill -9 $daemon 2>/dev/null || true; pkill -9 -f "$app" 2>/dev/null || true' EXIT
ctl() { "$USTD_BIN" --rundir "$rundir" "$@"; }
# Ready once the control socket answers (its file exists a moment before
# the daemon listens on it).
for _ in $(seq 100); do ctl list >/dev/null 2>&1 && break; sleep 0.1; done

fds() { ls "/proc/$daemon/fd" | wc -l; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$daemon/status"; }
# RSS split: anonymous (heap, stacks) against file and shmem (buffers).
rss_split() { awk '/^Rss(Anon|File|Shmem):/ {printf "%s ", $2}' "/proc/$daemon/status"; }
threads() { ls "/proc/$daemon/task" | wc -l; }
fds_before=$(fds)

ctl create soak --output "$OUT/trace" >/dev/null
ctl enable-channel -u chan --buffers-$BUFFERS --subbuf-size 64k --num-subbuf 4 >/dev/null
ctl enable-event -u -a -c chan >/dev/null
ctl start >/dev/null

# Churn: keep CONC apps alive; every KILL_EVERY-th one is killed mid-run.
started=0 killed=0
declare -A alive=()
churn_end=$((SECONDS + DURATION))
next_sample=$SECONDS
t0=$SECONDS
echo "t_s rss_kib fds listed_apps started killed anon_kib file_kib shmem_kib threads" >"$OUT/samples"
# The shell reports each killed job on stderr; keep it for the summary.
exec 3>&2 2>>"$OUT/churn.err"
while ((SECONDS < churn_end)); do
    for pid in "${!alive[@]}"; do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; unset "alive[$pid]"; }
    done
    while ((${#alive[@]} < CONC)); do
        started=$((started + 1))
        "$app" -n "$ITER" -i 5 -e simple >/dev/null &
        alive[$!]=1
        if ((KILL_EVERY > 0 && started % KILL_EVERY == 0)); then
            victim=$!
            (sleep 0.1; kill -9 "$victim" 2>/dev/null) &
            killed=$((killed + 1))
        fi
    done
    if ((SECONDS >= next_sample)); then
        listed=$(ctl list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("apps", [])))')
        echo "$((SECONDS - t0)) $(rss) $(fds) $listed $started $killed $(rss_split)$(threads)" | tee -a "$OUT/samples"
        next_sample=$((next_sample + SAMPLE))
    fi
    sleep 0.05
done
for pid in "${!alive[@]}"; do wait "$pid" 2>/dev/null || true; done
exec 2>&3 3>&-
sleep 1
ctl stop >/dev/null || echo "stop exited $? (apps killed under it are named above)"
ctl destroy >/dev/null || true
sleep 1
fds_after=$(fds)
events=$(babeltrace2 "$OUT/trace" 2>"$OUT/babeltrace2.err" | wc -l || true)

python3 - "$OUT/samples" "$WARMUP" <<'EOF'
import sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]).read().splitlines()[1:]]
warm = float(sys.argv[2])
body = [r for r in rows if r[0] >= warm] or rows
def slope(i):
    xs = [r[0] / 60 for r in body]; ys = [r[i] for r in body]
    n = len(xs); mx = sum(xs) / n; my = sum(ys) / n
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0
print(f"samples: {len(rows)} ({len(body)} after the {warm:.0f} s warm-up)")
print(f"RSS: first {rows[0][1]:.0f} KiB, last {rows[-1][1]:.0f} KiB, "
      f"max {max(r[1] for r in rows):.0f} KiB; slope {slope(1):+.1f} KiB/min")
print(f"RSS anon/file/shmem slopes: {slope(6):+.1f} / {slope(7):+.1f} / {slope(8):+.1f} KiB/min; "
      f"threads: first {rows[0][9]:.0f}, last {rows[-1][9]:.0f}, max {max(r[9] for r in rows):.0f}")
print(f"fds: first {rows[0][2]:.0f}, last {rows[-1][2]:.0f}, max {max(r[2] for r in rows):.0f}; "
      f"slope {slope(2):+.2f} fds/min")
print(f"apps started {rows[-1][4]:.0f}, killed {rows[-1][5]:.0f}")
EOF
echo "daemon fds before the session: $fds_before, after destroy: $fds_after"
echo "events read by babeltrace2: $events (errors: $(wc -l <"$OUT/babeltrace2.err") lines)"
echo "results in $OUT"
