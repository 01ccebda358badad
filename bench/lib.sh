# SPDX-License-Identifier: GPL-2.0-only
#
# bench/lib.sh: shell shared by the benchmark scripts (bench/run.sh,
# bench/real.sh). Sourced, never run. The caller sets `work` (a scratch
# directory), `D` (the daemon being measured: lttng or ustd) before calling
# the daemon hooks, and USTD_BIN.

# bench_enter_ns GUARD_VAR SCRIPT ARGS...: re-executes SCRIPT in a private
# mount namespace (fresh tmpfs on /run/lttng and /dev/shm, so host daemons and
# apps are not touched) unless GUARD_VAR is already 1; then mounts them.
# Extra `unshare` options come from UNSHARE_OPTS (e.g. -n: a private network
# namespace, whose loopback is brought up here).
bench_enter_ns() {
    local guard=$1 script=$2
    shift 2
    if [[ "${!guard:-}" != 1 ]]; then
        [[ $(id -u) == 0 ]] || { echo "$(basename "$script"): must run as root" >&2; exit 1; }
        # shellcheck disable=SC2086
        exec env "$guard=1" unshare -m ${UNSHARE_OPTS:-} -- "$script" "$@"
    fi
    mount --make-rprivate /
    mkdir -p /run/lttng
    mount -t tmpfs -o mode=0755 tmpfs /run/lttng
    mount -t tmpfs -o mode=1777 tmpfs /dev/shm
    [[ " ${UNSHARE_OPTS:-} " == *" -n "* ]] && ip link set lo up
    return 0
}

log() { echo "[${LOG_TAG:-bench}] $*" >&2; }
now_ns() { date +%s%N; }
ms_since() { echo $(( ($(now_ns) - $1) / 1000000 )); }
jget() { jq -r "$1 // \"n/a\"" <<<"$2"; }
load1() { cut -d' ' -f1 /proc/loadavg; }
# cpu_ticks: "steal total" clock ticks summed over the CPUs (/proc/stat).
cpu_ticks() { awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i; print $9, t }' /proc/stat; }
# steal_pct "STEAL TOTAL" (a cpu_ticks reading): the share of CPU time the
# hypervisor gave other guests since then, in %. A VM's benchmark figures
# mean little while it is high.
steal_pct() {
    local s0 t0 s1 t1
    read -r s0 t0 <<<"$1"
    read -r s1 t1 < <(cpu_ticks)
    awk -v s=$((s1 - s0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.1f", (t > 0 ? 100 * s / t : 0) }'
}

# ---------------------------------------------------------------- daemons ---
# Each daemon provides: <d>_start (sets DAEMON_PID and APP_SOCKET),
# <d>_stop, <d>_ctl ARGS... (one control command), <d>_pids (pids whose
# memory, fds and CPU count as "the daemon").

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

# ustd hooks. ustd runs as the root daemon of the namespace (its sockets in
# /var/run/lttng, a fresh tmpfs here), so the stock `lttng` CLI drives it
# exactly as it drives lttng-sessiond (CLI=lttng, the default: every control
# figure then compares the same client); CLI=ustd uses ustd's own CLI.
CLI=${CLI:-lttng}
ustd_rundir=/var/run/lttng
# ustd gets a session of its own (setsid), as lttng-sessiond --background
# does: with the scheduler's autogroups (sched_autogroup_enabled=1), a daemon
# left in the script's session shares one CPU share with the apps and load
# generators the script starts, while lttng-sessiond and its consumerd get a
# share of their own. (setsid does not fork here: the pid stays ours.)
ustd_start() {
    RUST_LOG=warn setsid "$USTD_BIN" daemon >"$work/ustd.log" 2>&1 &
    DAEMON_PID=$!
    APP_SOCKET=$ustd_rundir/lttng-ust-sock-8
    for _ in $(seq 100); do [[ -S $APP_SOCKET && -S $ustd_rundir/client-lttng-sessiond ]] && break; sleep 0.05; done
}
ustd_stop() {
    kill -TERM "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
    rm -rf /run/lttng/* /dev/shm/* 2>/dev/null || true
}
# Exit status 3 of ustd's CLI: carried out, but failed for some apps (named
# in the log): timed like a success, as lttng's CLI reports such apps with
# status 0.
ustd_ctl() {
    if [[ $CLI == lttng ]]; then
        lttng_ctl "$@"
    else
        ustd_ctl_once "$@" || [[ $? == 3 ]]
    fi
}
ustd_ctl_once() {
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
# user + sys CPU of the daemon's processes, with the children they reaped
# (/proc/PID/stat fields 14-17), in clock ticks.
daemon_cpu_ticks() {
    local total=0 p t
    for p in $("${D}_pids"); do
        # Drop "pid (comm) " first: comm may contain spaces.
        t=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13 + $14 + $15}')
        total=$(( total + ${t:-0} ))
    done
    echo "$total"
}
CLK_TCK=$(getconf CLK_TCK)
# ms of CPU per app between two daemon_cpu_ticks readings, unrounded.
cpu_ms_per_app() { awk -v a="$1" -v b="$2" -v n="$3" -v hz="$CLK_TCK" 'BEGIN{ if (n > 0) printf "%.6g", (b - a) * 1000 / hz / n; else print "n/a" }'; }
daemon_fds() {
    local total=0 p
    for p in $("${D}_pids"); do
        total=$(( total + $(ls "/proc/$p/fd" 2>/dev/null | wc -l) ))
    done
    echo "$total"
}
# per_app BEFORE AFTER N: (AFTER - BEFORE) / N unrounded, n/a when N is 0.
per_app() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN{ if (n > 0) printf "%.6g", (b-a)/n; else print "n/a" }'; }

# -------------------------------------------------------------- results ---
# VAL["section|params|metric|daemon"] = value; KEYS keeps first-seen order.
declare -A VAL SEEN
KEYS=()
rec() { # rec SECTION PARAMS METRIC VALUE (for daemon $D; one value per run)
    local k="$1|$2|$3"
    [[ -n "${SEEN[$k]:-}" ]] || { SEEN[$k]=1; KEYS+=("$k"); }
    VAL["$k|$D"]="${VAL["$k|$D"]:-}${VAL["$k|$D"]:+ }$4"
}
is_num() { [[ $1 =~ ^[0-9]+([.][0-9]+)?([eE][-+]?[0-9]+)?$ ]]; }
v() { echo "${VAL[$1|$2]:-}"; }
# median VALUES: median of the numeric values, unrounded ("n/a" if none).
median() {
    tr ' ' '\n' <<<"$1" | { grep -E '^[0-9.eE+-]+$' || true; } | sort -g |
        awk '{x[NR] = $1} END { if (NR == 0) print "n/a"; else if (NR % 2) printf "%.10g\n", x[(NR + 1) / 2]; else printf "%.10g\n", (x[NR / 2] + x[NR / 2 + 1]) / 2 }'
}
# cell VALUES: "median (min–max)" over every run, 3 significant digits for
# display; non-numeric runs (FAIL, n/a) are counted, never dropped silently.
cell() {
    local nums bad
    nums=$(tr ' ' '\n' <<<"$1" | grep -E '^[0-9.eE+-]+$' | sort -g || true)
    bad=$(tr ' ' '\n' <<<"$1" | grep -cvE '^[0-9.eE+-]+$|^$' || true)
    if [[ -z $nums ]]; then
        echo "${1:-n/a}"
        return
    fi
    awk -v med="$(median "$1")" -v bad="$bad" '{x[NR] = $1} END {
        s = sprintf("%.3g", med); if (NR > 1) s = s sprintf(" (%.3g–%.3g)", x[1], x[NR]);
        if (bad > 0) s = s sprintf(" +%d failed run(s)", bad); print s }' <<<"$nums"
}
# ratio A B: A / B unrounded, when both are numbers and B > 0.
ratio() {
    if is_num "$1" && is_num "$2" && awk -v b="$2" 'BEGIN{exit !(b > 0)}'; then
        awk -v a="$1" -v b="$2" 'BEGIN{printf "%.10g", a / b}'
    else
        echo "n/a"
    fi
}
show() { is_num "$1" && awk -v x="$1" 'BEGIN{printf "%.3g", x}' || echo "$1"; }
# Medians of one metric for one daemon.
med() { median "$(v "$1" "$2")"; }
# comparison_table: the markdown table of every recorded metric, lttng vs ustd.
comparison_table() {
    local k sec par met
    echo "| scenario | parameters | metric | lttng-sessiond | ustd | ratio |"
    echo "|---|---|---|---|---|---|"
    for k in "${KEYS[@]}"; do
        IFS='|' read -r sec par met <<<"$k"
        echo "| $sec | $par | $met | $(cell "$(v "$k" lttng)") | $(cell "$(v "$k" ustd)") | $(show "$(ratio "$(med "$k" lttng)" "$(med "$k" ustd)")") |"
    done
}
target() { # target TEXT VERDICT MEASURED
    echo "| $1 | $3 | $2 |"
}
# verdict X T OP: "met" when X OP T holds (X unrounded), n/a when X is not a number.
verdict() { awk -v x="$1" -v t="$2" "BEGIN{ if (x !~ /^[0-9.eE+-]+\$/) { print \"n/a\"; exit } print (x $3 t) ? \"met\" : \"missed\" }"; }
