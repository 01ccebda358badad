#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Captures the snapshot commands between the stock lttng CLI and lttng-sessiond 2.13.9.

Same relay and files as capture.py (imported), other script: a snapshot session,
its outputs, records with and without -n / -m / URL, with the fixture app emitting.
The trees the real daemon wrote are listed into `snapshot_tree.out`.

Usage (as root): python3 capture_snapshot.py   (re-executes itself under `unshare -m`).
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capture_session as cs  # noqa: E402


def script(L, env, app):
    """The commands; returns the directories whose trees are recorded."""
    out = "/run/lttng/h/snapout"
    L("snap_create", "create", "sn", "--snapshot", "-o", out)
    L("snap_enable_channel", "enable-channel", "-u", "c", "-s", "sn", "--subbuf-size", "4096",
      "--num-subbuf", "4")
    L("snap_enable_channel_discard", "enable-channel", "-u", "d", "-s", "sn", "--discard",
      "--subbuf-size", "8192", "--num-subbuf", "2")
    L("snap_enable_event", "enable-event", "-u", "-a", "-c", "c", "-s", "sn")
    L("snap_start", "start", "sn")
    p = subprocess.Popen([app, "-n", "2000", "-e", "simple", "-w"], env=env, stdout=subprocess.DEVNULL)
    time.sleep(2)
    L("snap_list_output", "snapshot", "list-output", "-s", "sn")
    L("snap_record", "snapshot", "record", "-s", "sn")
    L("snap_record_named", "snapshot", "record", "-s", "sn", "-n", "named")
    L("snap_record_max_too_small", "snapshot", "record", "-s", "sn", "-m", "16384", check=False)
    L("snap_record_max", "snapshot", "record", "-s", "sn", "-m", "1M")
    L("snap_record_max_small", "snapshot", "record", "-s", "sn", "-m", "4096", check=False)
    L("snap_record_url", "snapshot", "record", "-s", "sn", "/run/lttng/h/other")
    L("snap_add_output", "snapshot", "add-output", "-s", "sn", "-n", "extra", "-m", "1M",
      "/run/lttng/h/extra")
    L("snap_add_output_noname", "snapshot", "add-output", "-s", "sn", "/run/lttng/h/third", check=False)
    L("snap_list_output_2", "snapshot", "list-output", "-s", "sn")
    L("snap_del_output_1", "snapshot", "del-output", "-s", "sn", "1")
    L("snap_add_output_2", "snapshot", "add-output", "-s", "sn", "/run/lttng/h/fourth")
    L("snap_list_output_3", "snapshot", "list-output", "-s", "sn")
    L("snap_del_output_name", "snapshot", "del-output", "-s", "sn", "extra")
    L("snap_record_2", "snapshot", "record", "-s", "sn")
    L("snap_del_output_missing", "snapshot", "del-output", "-s", "sn", "9", check=False)
    L("snap_list_session", "list", "sn")
    L("snap_stop", "stop", "sn")
    L("snap_record_stopped", "snapshot", "record", "-s", "sn")
    p.terminate()
    p.wait()
    L("snap_destroy", "destroy", "sn")
    L("snap_create_no_output", "create", "sn2", "--snapshot")
    L("snap_list_output_none", "snapshot", "list-output", "-s", "sn2", check=False)
    L("snap_create_regular", "create", "reg")
    L("snap_record_regular", "snapshot", "record", "-s", "reg", check=False)
    L("snap_list_output_regular", "snapshot", "list-output", "-s", "reg", check=False)
    # lttng clear, on a started then a stopped session, and on a snapshot session.
    L("clear_enable_event", "enable-event", "-u", "-a", "-s", "reg")
    L("clear_start", "start", "reg")
    subprocess.run([app, "-n", "10", "-e", "simple"], env=env, stdout=subprocess.DEVNULL)
    L("clear_started", "clear", "reg")
    L("clear_stop", "stop", "reg")
    L("clear_stopped", "clear", "reg")
    L("clear_snapshot", "clear", "sn2")
    L("clear_missing", "clear", "nosuch")
    L("clear_destroy", "destroy", "reg")
    return (out, "/run/lttng/h/other", "/run/lttng/h/extra", "/run/lttng/h/fourth",
            "/run/lttng/h/lttng-traces")  # (reg: after the clears)


if __name__ == "__main__":
    cs.main(script, "snapshot_tree.out")
