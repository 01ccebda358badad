#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Captures the rotation commands between the stock lttng CLI and lttng-sessiond 2.13.9.

Same relay and files as capture.py (imported): rotations of a started and a stopped
session, the errors, the schedules, destroy after rotations. The trees the real daemon
wrote are listed into `rotate_tree.out`.

Usage (as root): python3 capture_rotate.py   (re-executes itself under `unshare -m`).
"""
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capture as cap  # noqa: E402

HERE = cap.HERE
FIXTURE = os.path.join(os.path.dirname(os.path.dirname(HERE)), "fixtures", "app")


def tree(root):
    out = []
    for d, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        rel = os.path.relpath(d, root)
        rel = "" if rel == "." else rel + "/"
        for f in sorted(files):
            out.append(rel + f)
        if not files and not dirs:
            out.append(rel)
    return out


def in_namespace():
    for d in ("/run/lttng", "/dev/shm"):
        os.makedirs(d, exist_ok=True)
        cap.sh("mount", "-t", "tmpfs", "none", d)
    home = "/run/lttng/h"
    os.makedirs(home)
    env = dict(os.environ, LTTNG_HOME=home, HOME=home)
    app = os.path.join(home, "app")
    cap.sh("gcc", "-O1", "-I", FIXTURE, "-o", app, os.path.join(FIXTURE, "app.c"),
           os.path.join(FIXTURE, "tp.c"), "-llttng-ust", "-ldl")
    sessiond = subprocess.Popen(["lttng-sessiond", "--no-kernel", "--client-sock", cap.REAL_SOCK],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(cap.REAL_SOCK) and os.path.exists("/run/lttng/lttng-ust-sock-8"):
                break
            time.sleep(0.1)
        time.sleep(0.5)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(cap.CLIENT_SOCK)
        listener.listen(64)
        threading.Thread(target=cap.serve, args=(listener,), daemon=True).start()
        L = lambda label, *a, **kw: cap.run(label, *a, env=env, check=kw.get("check", False))
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
        with open(os.path.join(HERE, "rotate_tree.out"), "w") as f:
            for root in (out, "/run/lttng/h/rot2"):
                for line in tree(root):
                    f.write(f"{root}/{line}\n")
    finally:
        sessiond.terminate()
        sessiond.wait()


if __name__ == "__main__":
    if os.environ.get(cap.NS_MARK) != "1":
        os.environ[cap.NS_MARK] = "1"
        os.execvp("unshare", ["unshare", "-m", "--propagation", "private", sys.executable, *sys.argv])
    in_namespace()
