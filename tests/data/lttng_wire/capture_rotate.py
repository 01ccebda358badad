#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Captures the rotation commands between the stock lttng CLI and lttng-sessiond 2.13.9.

Same relay and files as capture.py (imported): rotations of a started and a stopped
session, the errors, the schedules, destroy after rotations. The trees the real daemon
wrote are listed into `rotate_tree.out`.

Usage (as root): python3 capture_rotate.py   (re-executes itself under `unshare -m`).
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capture_session as cs  # noqa: E402


def script(L, env, app):
    """The commands; returns the directories whose trees are recorded."""
    out = "/run/lttng/h/rotout"
    L("rot_create", "create", "ro", "-o", out)
    L("rot_before_start", "rotate", "ro", check=False)
    L("rot_enable_event", "enable-event", "-u", "-a", "-s", "ro")
    L("rot_start", "start", "ro")
    subprocess.run([app, "-n", "10", "-e", "simple"], env=env, stdout=subprocess.DEVNULL)
    L("rot_rotate", "rotate", "ro")
    L("rot_rotate_no_wait", "rotate", "-n", "ro")
    L("rot_enable_size", "enable-rotation", "-s", "ro", "--size", "1M")
    L("rot_enable_timer", "enable-rotation", "-s", "ro", "--timer", "10s")
    L("rot_list", "list", "ro")
    L("rot_disable_size", "disable-rotation", "-s", "ro", "--size")
    L("rot_disable_size_again", "disable-rotation", "-s", "ro", "--size", check=False)
    L("rot_disable_timer", "disable-rotation", "-s", "ro", "--timer")
    L("rot_stop", "stop", "ro")
    L("rot_rotate_stopped", "rotate", "ro")
    L("rot_rotate_stopped_2", "rotate", "ro", check=False)
    L("rot_destroy", "destroy", "ro")
    L("rot_create_2", "create", "r2", "-o", "/run/lttng/h/rot2")
    L("rot_enable_event_2", "enable-event", "-u", "-a", "-s", "r2")
    L("rot_start_2", "start", "r2")
    L("rot_rotate_2", "rotate", "r2")
    L("rot_destroy_2", "destroy", "r2")
    L("rot_create_snap", "create", "rs", "--snapshot", "-o", "/run/lttng/h/rs")
    L("rot_rotate_snap", "rotate", "rs", check=False)
    L("rot_rotate_missing", "rotate", "nosuch", check=False)
    L("regen_metadata_snap", "regenerate", "metadata", "-s", "rs", check=False)
    L("rot_destroy_snap", "destroy", "rs")
    return (out, "/run/lttng/h/rot2")


if __name__ == "__main__":
    cs.main(script, "rotate_tree.out")
