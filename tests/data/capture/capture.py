#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Captures what a real LTTng-UST 2.13 app sends and receives on its sockets.

Runs a real lttng-sessiond inside a private mount namespace (fresh tmpfs on
/run/lttng and /dev/shm), starts a session tracing `rich:*` with vpid and
procname contexts, runs the `rapp` test app under strace, lists its fields
(`lttng list -u -f`) while it is alive, and writes the app's messages as
binary files next to this script's parent directory (tests/data/).

Usage (as root): python3 capture.py   (re-executes itself under `unshare -m`).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.dirname(HERE)
NS_MARK = "USTD_CAPTURE_IN_NS"


def sh(*args, **kw):
    print("+", " ".join(args), flush=True)
    return subprocess.run(args, check=True, **kw)


def build(tmp):
    exe = os.path.join(tmp, "rapp")
    sh("gcc", "-O1", "-I", HERE, "-o", exe, os.path.join(HERE, "rapp.c"),
       os.path.join(HERE, "rich_tp.c"), "-llttng-ust", "-ldl")
    return exe


LINE = re.compile(r"^(\d+\.\d+) (sendmsg|recvmsg|connect)\((\d+), (.*) = (-?\d+)")
IOV = re.compile(r'iov_base="((?:\\x[0-9a-f]{2})*)"')


def parse_strace(prefix_dir):
    """Returns [(time, call, fd, bytes)] over every traced thread, time-ordered."""
    events = []
    for name in os.listdir(prefix_dir):
        if not name.startswith("st."):
            continue
        with open(os.path.join(prefix_dir, name)) as f:
            for line in f:
                m = LINE.match(line)
                if not m or int(m.group(5)) < 0:
                    continue
                ts, call, fd, rest, ret = m.groups()
                data = b"".join(bytes.fromhex(s.replace("\\x", "")) for s in IOV.findall(rest))
                events.append((float(ts), call, int(fd), data[: int(ret)] if call != "connect" else b""))
    events.sort(key=lambda e: e[0])
    return events


def streams(events):
    """Splits traffic per socket connection: {conn_index: {'type', 'sent', 'recv'}}.

    A `connect` on an fd starts a new connection; the first 136-byte send tells
    its socket type (byte 52 of the registration message).
    """
    conns, current = [], {}
    for _, call, fd, data in events:
        if call == "connect":
            current[fd] = {"type": None, "sent": [], "recv": []}
            conns.append(current[fd])
            continue
        c = current.get(fd)
        if c is None:
            continue
        if call == "sendmsg":
            if c["type"] is None and len(data) == 136:
                c["type"] = data[52]
            c["sent"].append(data)
        else:
            c["recv"].append(data)
    return conns


def notify_messages(chunks):
    """Reassembles the notify stream (header+body in one write, tails separate)."""
    buf = b"".join(chunks[1:])  # skip the registration message
    msgs = []
    u32 = lambda b, o: int.from_bytes(b[o:o + 4], "little")
    while len(buf) >= 4:
        cmd = u32(buf, 0)
        if cmd == 0:
            total = 316 + u32(buf, 272) + u32(buf, 276) + u32(buf, 280)
        elif cmd == 1:
            total = 48 + u32(buf, 12)
        elif cmd == 2:
            total = 300 + u32(buf, 264)
        else:
            raise SystemExit(f"unexpected notify cmd {cmd}")
        msgs.append(buf[:total])
        buf = buf[total:]
    return msgs


def save(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    print(f"wrote {name} ({len(data)} bytes)")


def in_namespace():
    for d in ("/run/lttng", "/dev/shm"):
        os.makedirs(d, exist_ok=True)
        sh("mount", "-t", "tmpfs", "none", d)
    tmp = tempfile.mkdtemp(prefix="ustd-capture-")
    env = dict(os.environ, LTTNG_HOME=tmp, HOME=tmp)
    exe = build(tmp)
    sessiond = subprocess.Popen(["lttng-sessiond", "--no-kernel"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists("/run/lttng/lttng-ust-sock-8"):
                break
            time.sleep(0.1)
        time.sleep(0.5)
        lttng = lambda *a: sh("lttng", *a, env=env, stdout=subprocess.DEVNULL)
        lttng("create", "cap", "--output", os.path.join(tmp, "trace"))
        lttng("enable-event", "-u", "rich:*")
        lttng("add-context", "-u", "-t", "vpid", "-t", "procname")
        lttng("start")
        app = subprocess.Popen(["strace", "-ff", "-ttt", "-xx", "-s", "65536",
                                "-e", "trace=connect,sendmsg,recvmsg", "-e", "signal=none",
                                "-o", os.path.join(tmp, "st"), exe, "3"], env=env)
        time.sleep(1.5)
        lttng("list", "-u", "-f")
        app.wait()
        lttng("destroy")
    finally:
        sessiond.terminate()
        sessiond.wait()
    conns = [c for c in streams(parse_strace(tmp)) if c["type"] is not None]
    cmd = next(c for c in conns if c["type"] == 0)
    notify = next(c for c in conns if c["type"] == 1)
    save("reg_cmd.bin", cmd["sent"][0])
    save("reg_notify.bin", notify["sent"][0])
    replies = [d for d in cmd["sent"] if len(d) == 324]
    save("tracer_version_reply.bin", next(d for d in replies if d[4:8] == (0x41).to_bytes(4, "little")))
    # Only the test provider's entries: the library's own events vary by build.
    entries = [d for d in cmd["sent"] if len(d) == 808 and d.startswith(b"rich:")]
    save("field_list_rich.bin", b"".join(entries))
    for m in notify_messages(notify["sent"]):
        kind = int.from_bytes(m[0:4], "little")
        if kind == 0:
            name = m[12:268].split(b"\0")[0].decode().replace(":", "_")
            save(f"notify_event_{name}.bin", m)
        elif kind == 1:
            save("notify_channel_ctx.bin", m)
        else:
            name = m[8:264].split(b"\0")[0].decode()
            save(f"notify_enum_{name}.bin", m)
    replies = b"".join(notify["recv"])
    save("notify_replies.bin", replies)
    shutil.rmtree(tmp)


if __name__ == "__main__":
    if os.environ.get(NS_MARK) != "1":
        os.environ[NS_MARK] = "1"
        os.execvp("unshare", ["unshare", "-m", "--propagation", "private", sys.executable, *sys.argv])
    in_namespace()
