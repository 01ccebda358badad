#!/bin/sh
# Records the bytes stock lttng-sessiond 2.13 + lttng-consumerd send to a stock
# lttng-relayd 2.13 (and its replies) through proxy.py, for the relayd_wire unit
# tests. Run as root from the repository root: tests/data/relayd/capture.sh APP
# (APP = a built tests/fixtures/app binary). Everything runs in a private mount
# namespace with fresh tmpfs on /var/run/lttng and /dev/shm.
set -eu
APP=$(realpath "$1"); HERE=$(cd "$(dirname "$0")" && pwd)
exec unshare -m --propagation private sh -eu -c '
APP=$1; HERE=$2
mount -t tmpfs tmpfs /var/run/lttng; mount -t tmpfs tmpfs /dev/shm
W=$(mktemp -d); export LTTNG_HOME=$W HOME=$W
lttng-relayd -C tcp://127.0.0.1:25342 -D tcp://127.0.0.1:25343 -L tcp://127.0.0.1:25344 -o $W/out & R=$!
python3 $HERE/proxy.py 26342 25342 $W ctrl > $W/p1 & P1=$!
python3 $HERE/proxy.py 26343 25343 $W data > $W/p2 & P2=$!
lttng-sessiond --daemonize
sleep 1
lttng create cap --set-url net://127.0.0.1:26342:26343
lttng enable-channel -u chan --subbuf-size 4096 --num-subbuf 2
lttng enable-event -u -c chan "ustd_fixture:*"
lttng start
$APP -n 20 || true
lttng stop
lttng destroy
sleep 1
kill $P1 $P2 $R; kill $(pidof lttng-sessiond) || true; sleep 1
for f in $W/ctrl-* $W/data-*; do cp $f $HERE/; done
find $W/out -type f | sed "s|$W/||" | sort > $HERE/relayd-files.txt
babeltrace2 $W/out/*/* > $HERE/events.txt 2>&1 || true
ls -la $HERE
' sh "$APP" "$HERE"
