#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Captures the lttng CLI <-> lttng-sessiond client protocol, both directions.

Runs a real lttng-sessiond 2.13 (`--client-sock` on a private path) inside a private mount
namespace (fresh tmpfs on /run/lttng and /dev/shm), and a small recording relay on the
path the root CLI uses (/var/run/lttng/client-lttng-sessiond). The relay reads the
13156-byte header, forwards it with its own SCM_CREDENTIALS (the sessiond requires them),
then relays both directions until either side closes. The stock `lttng` CLI then runs a
script of commands; for each one, `<label>.bin` holds every non-empty connection as
  u32 LE request length, request bytes, u32 LE reply length, reply bytes
(liveness probes that send nothing are left out). `<label>.out` is the CLI's stdout.

Usage (as root): python3 capture.py   (re-executes itself under `unshare -m`).
"""
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
APP_SRC = os.path.join(os.path.dirname(HERE), "capture")
NS_MARK = "USTD_LTTNG_WIRE_CAPTURE_IN_NS"
HEADER = 13156
CLIENT_SOCK = "/var/run/lttng/client-lttng-sessiond"
REAL_SOCK = "/run/lttng/real-client-sock"
SAVE_DIR = "/run/lttng/h/saved"

conns = []  # [(req, rep)] for the current label
lock = threading.Lock()


def sh(*args, **kw):
    print("+", " ".join(args), flush=True)
    return subprocess.run(args, check=True, **kw)


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def relay(client):
    req, rep = bytearray(), bytearray()
    try:
        head = recv_exact(client, HEADER)
        if not head:
            return
        req += head
        up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        up.connect(REAL_SOCK)
        creds = struct.pack("iII", os.getpid(), os.getuid(), os.getgid())
        up.sendmsg([head], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, creds)])
        open_ = {client: up, up: client}
        while open_:
            r, _, _ = select.select(list(open_), [], [], 30)
            if not r:
                break
            for s in r:
                data = s.recv(1 << 16)
                if not data:
                    open_.clear()
                    break
                (req if s is client else rep).extend(data)
                open_[s].sendall(data)
        up.close()
    finally:
        client.close()
        if req:
            with lock:
                conns.append((bytes(req), bytes(rep)))


def serve(listener):
    while True:
        c, _ = listener.accept()
        threading.Thread(target=relay, args=(c,), daemon=True).start()


def run(label, *args, env, check=True):
    with lock:
        conns.clear()
    print("+ lttng", " ".join(args), flush=True)
    try:
        res = subprocess.run(["lttng", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=15)
    except subprocess.TimeoutExpired as e:  # live/network sessions wait for a relayd
        res = subprocess.CompletedProcess(e.cmd, -1, (e.stdout or b"") + b"\n[timed out]\n")
    if check and res.returncode != 0:
        raise SystemExit(f"lttng {args} failed: {res.stdout.decode()}")
    time.sleep(0.3)  # let relay threads record their connection
    with lock:
        out = b"".join(struct.pack("<I", len(q)) + q + struct.pack("<I", len(p)) + p for q, p in conns)
    with open(os.path.join(HERE, label + ".bin"), "wb") as f:
        f.write(out)
    with open(os.path.join(HERE, label + ".out"), "wb") as f:
        f.write(res.stdout)
    print(f"  {label}: {len(conns)} connection(s), rc {res.returncode}", flush=True)


def in_namespace():
    for d in ("/run/lttng", "/dev/shm"):
        os.makedirs(d, exist_ok=True)
        sh("mount", "-t", "tmpfs", "none", d)
    # Fixed paths so the captured home dir and trace paths are reproducible.
    home = "/run/lttng/h"
    os.makedirs(home)
    env = dict(os.environ, LTTNG_HOME=home, HOME=home)
    app = os.path.join(home, "rapp")
    sh("gcc", "-O1", "-I", APP_SRC, "-o", app, os.path.join(APP_SRC, "rapp.c"),
       os.path.join(APP_SRC, "rich_tp.c"), "-llttng-ust", "-ldl")
    sessiond = subprocess.Popen(["lttng-sessiond", "--no-kernel", "--client-sock", REAL_SOCK],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(REAL_SOCK) and os.path.exists("/run/lttng/lttng-ust-sock-8"):
                break
            time.sleep(0.1)
        time.sleep(0.5)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(CLIENT_SOCK)
        listener.listen(64)
        threading.Thread(target=serve, args=(listener,), daemon=True).start()
        L = lambda label, *a, **kw: run(label, *a, env=env, **kw)
        L("create_named", "create", "s")
        L("enable_channel", "enable-channel", "-u", "c")
        L("enable_channel_pid", "enable-channel", "-u", "c2", "--buffers-pid",
          "--subbuf-size", "16384", "--num-subbuf", "8", "--blocking-timeout", "inf",
          check=False)
        L("enable_channel_uid", "enable-channel", "-u", "c3", "--buffers-uid", "--overwrite",
          "--subbuf-size", "16384", "--num-subbuf", "8", "--switch-timer", "100000",
          "--read-timer", "200000", "--monitor-timer", "300000",
          "--tracefile-size", "1048576", "--tracefile-count", "3")
        L("enable_event_filter", "enable-event", "-u", "x*", "--filter", "a > 1", "-c", "c")
        L("enable_event_filter_rich", "enable-event", "-u", "rich:all", "-c", "c", "--filter",
          'i >= 2 && s == "h*" && d > 1.25')
        L("enable_event_all", "enable-event", "-u", "-a", "-c", "c3")
        L("enable_event_loglevel", "enable-event", "-u", "ll", "--loglevel", "TRACE_INFO", "-c", "c")
        L("enable_event_loglevel_only", "enable-event", "-u", "llo", "--loglevel-only", "TRACE_DEBUG",
          "-c", "c")
        L("enable_event_no_channel", "enable-event", "-u", "nochan", check=False)
        L("add_context", "add-context", "-u", "-t", "vpid", "-c", "c")
        L("add_context_app", "add-context", "-u", "-t", "$app.prov:ctx", "-c", "c")
        L("add_context_multi", "add-context", "-u", "-t", "procname", "-t", "vtid", "-c", "c3")
        L("track_vpid", "track", "-u", "--vpid", "123,456")
        L("track_vuid", "track", "-u", "--vuid", "0")
        L("start", "start")
        p = subprocess.Popen([app, "4"], env=env)
        time.sleep(1.5)
        L("list_ust", "list", "-u")
        L("list_ust_fields", "list", "-u", "-f")
        p.wait()
        L("list", "list")
        L("list_session", "list", "s", check=False)
        L("list_session_mi", "--mi", "xml", "list", "s", check=False)
        L("untrack_vpid", "untrack", "-u", "--vpid", "123")
        L("untrack_all", "untrack", "-u", "--vuid", "--all")
        L("stop", "stop")
        L("disable_event", "disable-event", "-u", "ll", "-c", "c")
        L("disable_channel", "disable-channel", "-u", "c3")
        L("save", "save", "s", "--output-path", SAVE_DIR)
        shutil.copy(os.path.join(SAVE_DIR, "s.lttng"), os.path.join(HERE, "saved_s.lttng"))
        L("destroy", "destroy", "s")
        L("load", "load", "s", "--input-path", os.path.join(SAVE_DIR, "s.lttng"))
        L("list_loaded", "list", "s")
        L("destroy_all", "destroy", "-a")
        L("create_auto", "create")
        L("create_output", "create", "o", "--output", "/run/lttng/h/out")
        L("create_snapshot", "create", "snap", "--snapshot", check=False)
        L("create_live", "create", "live", "--live", "2000000", check=False)
        L("create_net", "create", "net", "--set-url", "net://127.0.0.1", check=False)
        L("enable_event_kernel", "enable-event", "-k", "sched_switch", "-s", "o", check=False)
        L("list_kernel", "list", "-k", check=False)
        L("rotate", "rotate", "o", check=False)
        L("destroy_all_2", "destroy", "-a", check=False)
        # Last: listing a rule with exclusions makes lttng-sessiond 2.13.9 go away.
        L("create_ex", "create", "ex")
        L("enable_event_exclusion", "enable-event", "-u", "rich:*", "-x", "rich:simple,rich:zz", "-c", "c3")
        L("list_session_exclusion", "list", "ex", check=False)
        L("list_after_exclusion", "list", check=False)
        print("sessiond alive after exclusion listing:", sessiond.poll() is None,
              "exit status:", sessiond.returncode, flush=True)
    finally:
        sessiond.terminate()
        sessiond.wait()


if __name__ == "__main__":
    if os.environ.get(NS_MARK) != "1":
        os.environ[NS_MARK] = "1"
        os.execvp("unshare", ["unshare", "-m", "--propagation", "private", sys.executable, *sys.argv])
    in_namespace()
