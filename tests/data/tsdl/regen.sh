#!/bin/sh
# Regenerates, with the real lttng-sessiond, the reference TSDL texts
# (lttng-sessiond.metadata.txt: per-UID, two instances of the fixture app;
# lttng-sessiond.pid.metadata.txt: per-PID, app registered before start) and
# notify.capture.hex (every byte lttng-sessiond read on the apps' notify
# sockets), which tests/tsdl_vs_lttng.rs replays. Runs in a private mount
# namespace so that no other session daemon on the machine is seen or disturbed.
# Usage (root): unshare -m --propagation private sh regen.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
mount -t tmpfs tmpfs /run/lttng 2>/dev/null || { mkdir -p /run/lttng && mount -t tmpfs tmpfs /run/lttng; }
mount -t tmpfs tmpfs /dev/shm
export LTTNG_HOME="$work/home"
mkdir -p "$LTTNG_HOME"
gcc -I"$here" -o "$work/tsdl_fixture" "$here/tsdl_fixture.c" -llttng-ust -ldl

strace -f -qq -o "$work/sessiond.strace" -e trace=recvmsg,recvfrom,read -xx -s 65536 \
	lttng-sessiond --no-kernel >"$work/sessiond.log" 2>&1 &
spid=$!
for _ in $(seq 100); do lttng list >/dev/null 2>&1 && break; sleep 0.1; done

lttng create s --output "$work/trace"
lttng enable-event -u 'tsdlfix:*'
lttng add-context -u -t vpid -t vtid -t procname
lttng start
# Two instances: the second one must not add anything to the per-UID metadata.
"$work/tsdl_fixture"
"$work/tsdl_fixture"
lttng stop
lttng destroy

# Per-PID session, app registered before start: at start the app registers
# its events first and its channel last.
lttng create p --output "$work/trace-pid"
lttng enable-channel -u --buffers-pid chp
lttng enable-event -u -c chp 'tsdlfix:*'
lttng add-context -u -c chp -t vpid -t procname
"$work/tsdl_fixture" 2 &
apid=$!
sleep 1
lttng start
wait "$apid"
lttng stop
lttng destroy
# Stop the daemon by its own pid (strace does not forward SIGTERM).
kill "$(cat /run/lttng/lttng-sessiond.pid)"
wait "$spid" || true

# Raw text bytes from the metadata packets (babeltrace2 adds a final newline).
python3 "$here/depacketize.py" "$work/trace/ust/uid/0/64-bit/metadata" >"$here/lttng-sessiond.metadata.txt"
babeltrace2 --output-format=ctf-metadata "$work/trace/ust/uid/0/64-bit" | cmp - "$here/lttng-sessiond.metadata.txt" || true
babeltrace2 "$work/trace" | sed -n '1,20p'
python3 "$here/depacketize.py" "$work"/trace-pid/ust/pid/*/metadata >"$here/lttng-sessiond.pid.metadata.txt"
babeltrace2 "$work/trace-pid" | sed -n '1,5p'
# The socket fds get reused after the apps leave: keep the notify reads only.
python3 "$here/capture_notify.py" "$work/sessiond.strace" "$here/notify.capture.hex.tmp"
grep -v " .\{26312\}$" "$here/notify.capture.hex.tmp" >"$here/notify.capture.hex" || true
rm -f "$here/notify.capture.hex.tmp"
echo "work dir: $work"
