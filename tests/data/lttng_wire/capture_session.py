#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""What the capture scripts of one command family share (capture_rotate.py,
capture_snapshot.py): a private mount namespace, the fixture app built,
lttng-sessiond 2.13.9 behind capture.py's relay, and the trees the real
daemon wrote listed into `<name>_tree.out`.

A script defines `script(L, env, app)`, where `L(label, *args, check=False)`
runs the stock CLI through the relay and records the exchange under `label`
(failures are findings too), and returns the directories whose trees to list;
it ends with `cs.main(script, "<name>_tree.out")`.
"""
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capture as cap  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(os.path.dirname(cap.HERE)), "fixtures", "app")


def tree(root):
    """Every file below `root` (and every empty directory), sorted."""
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


def in_namespace(script, tree_file):
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
        roots = script(L, env, app)
        with open(os.path.join(cap.HERE, tree_file), "w") as f:
            for root in roots:
                for line in tree(root):
                    f.write(f"{root}/{line}\n")
    finally:
        sessiond.terminate()
        sessiond.wait()


def main(script, tree_file):
    """Re-executes the calling script under `unshare -m`, then runs it."""
    if os.environ.get(cap.NS_MARK) != "1":
        os.environ[cap.NS_MARK] = "1"
        os.execvp("unshare", ["unshare", "-m", "--propagation", "private", sys.executable, *sys.argv])
    in_namespace(script, tree_file)
