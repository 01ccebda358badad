#!/usr/bin/env bash
# The main job: start a private ustd daemon, run the bundled demo app
# (tests/fixtures/app), list it, trace it with `ustd record`, and print the
# recorded events with babeltrace2.
#
# Runs as root on Debian 12; installs what it needs. Everything happens in a
# private mount namespace (fresh tmpfs on /run/lttng and /dev/shm) so an
# lttng-sessiond already running on the host cannot take the app.
set -euo pipefail
cd "$(dirname "$0")"
top=$PWD

if [ "$(id -u)" != 0 ]; then
    echo "demo.sh: run as root (it uses a private mount namespace)" >&2
    exit 1
fi
need=()
command -v gcc >/dev/null || need+=(gcc libc6-dev)
[ -e /usr/include/lttng/tracepoint.h ] || need+=(liblttng-ust-dev)
[ -e /usr/lib/x86_64-linux-gnu/liblttng-ust-ctl.so.5 ] || need+=(liblttng-ust-ctl5)
command -v babeltrace2 >/dev/null || need+=(babeltrace2)
if [ "${#need[@]}" -gt 0 ]; then
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi

cargo build --release --quiet
ustd=$top/target/release/ustd
work=$(mktemp -d /tmp/ustd-demo.XXXXXX)
gcc -O1 -I"$top/tests/fixtures/app" -o "$work/demo-app" \
    "$top/tests/fixtures/app/app.c" "$top/tests/fixtures/app/tp.c" -llttng-ust -ldl

exec unshare -m --propagation private bash -s "$ustd" "$work" <<'INNER'
set -euo pipefail
ustd=$1 work=$2
mkdir -p /run/lttng
mount -t tmpfs tmpfs /run/lttng
mount -t tmpfs tmpfs /dev/shm
rundir=$work/.lttng
export LTTNG_HOME=$work

"$ustd" daemon --rundir "$rundir" 2>"$work/daemon.log" &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null || true' EXIT
for _ in $(seq 100); do "$ustd" list --rundir "$rundir" >/dev/null 2>&1 && break; sleep 0.05; done

echo "== a running demo app, as ustd sees it"
"$work/demo-app" -w >/dev/null &
app=$!
sleep 0.5
"$ustd" list --rundir "$rundir"
kill $app; wait $app 2>/dev/null || true

echo
echo "== ustd record -- demo-app -n 3"
trace=$("$ustd" record --rundir "$rundir" -o "$work/trace" -t vpid -t procname -- "$work/demo-app" -n 3 | tail -n 1)
echo "trace: $trace"
echo
echo "== babeltrace2 $trace"
babeltrace2 "$trace"
INNER
