#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Captures the filter bytecode the stock `lttng` CLI (liblttng-ctl 2.13) sends.

For every expression of corpus.json, runs
`lttng enable-event -u -s cap ev --filter EXPR` under strace against a real
lttng-sessiond that lives in a private mount namespace (fresh tmpfs on
/run/lttng and /dev/shm), and decodes the ENABLE_EVENT request the CLI sent:
13,156-byte lttcomm_session_msg, then lttng_event_comm (43 bytes, packed),
event name, filter expression, then struct lttng_bytecode (48-byte header:
len, reloc_table_offset, seqnum, padding) and its data. An expression the CLI
refuses sends no ENABLE_EVENT at all; it is recorded as rejected.

It then checks that lttng-ust really receives these bytes: for the
expressions of APP_EXPRS it enables `ustd_filter:sample` with the filter,
starts the session, runs the filter fixture app (tests/fixtures/filter_app)
under strace and records the LTTNG_UST_ABI_FILTER message (data_size,
reloc_offset, seqnum) and bytecode the app read on its command socket.

Usage (as root): python3 capture.py [--out FILE]   (default: expected.json
next to this script; the app side goes to FILE's stem + "_app.json").
Re-executes itself under `unshare -m`.
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NS_MARK = "USTD_FILTER_CAPTURE_IN_NS"
HEADER_LEN = 13156
ENABLE_EVENT = 6
EVENT_COMM = struct.Struct("<bbibiIIIIIIII")  # lttng_event_comm, packed (43 B)
BYTECODE_HDR = struct.Struct("<IIQ32x")  # struct lttng_bytecode, packed (48 B)
RECVMSG = re.compile(r'^\d+ +recvmsg\(\d+, .*?iov_base="((?:\\x[0-9a-f]{2})*)".*\) = (\d+)$', re.M)
UST_FILTER = 0xA0
APP_EXPRS = [
    "i >= 10 && i < 20",
    "name == \"*ph*\" || d > 5.5",
    "arr[1] == 5 && $ctx.vpid > 0",
    "$app.prov:ctx == 3 || !(color == 2)",
]
SENDMSG = re.compile(r'^\d+ +sendmsg\(\d+, .*?iov_base="((?:\\x[0-9a-f]{2})*)"', re.M)


def decode(payload, expr):
    comm = EVENT_COMM.unpack_from(payload, 0)
    name_len, excl_count, filter_len, bytecode_len = comm[6:10]
    off = EVENT_COMM.size + name_len
    assert excl_count == 0
    sent_expr = payload[off:off + filter_len - 1].decode("utf-8", "surrogateescape")
    assert sent_expr == expr, (sent_expr, expr)
    off += filter_len
    length, reloc, seqnum = BYTECODE_HDR.unpack_from(payload, off)
    assert bytecode_len == BYTECODE_HDR.size + length
    data = payload[off + BYTECODE_HDR.size: off + BYTECODE_HDR.size + length]
    return {"reloc_offset": reloc, "bytecode": data.hex()}


def capture_one(expr, tmp, env):
    trace = os.path.join(tmp, "st")
    proc = subprocess.run(
        ["strace", "-f", "-qq", "-xx", "-s", "200000", "-e", "trace=sendmsg",
         "-e", "signal=none", "-o", trace,
         "lttng", "enable-event", "-u", "-s", "cap", "ev", "--filter", expr],
        env=env, capture_output=True)
    with open(trace) as f:
        sends = [bytes.fromhex(s.replace("\\x", "")) for s in SENDMSG.findall(f.read())]
    # The request is the 13,156-byte header, then (next sendmsg) its payload.
    for i, s in enumerate(sends):
        if len(s) == HEADER_LEN and struct.unpack_from("<I", s)[0] == ENABLE_EVENT:
            return dict(expr=expr, accepted=True, **decode(sends[i + 1], expr))
    assert proc.returncode != 0, f"no ENABLE_EVENT sent for {expr!r}"
    return {"expr": expr, "accepted": False}


def app_receives(tmp, env):
    """What the fixture app reads for each filter of APP_EXPRS."""
    src = os.path.join(os.path.dirname(os.path.dirname(HERE)), "fixtures", "filter_app")
    exe = os.path.join(tmp, "filter-fixture")
    subprocess.run(["gcc", "-O1", "-I", src, "-o", exe, os.path.join(src, "app.c"),
                    os.path.join(src, "tp.c"), "-llttng-ust", "-ldl"], check=True)
    lttng = lambda *a: subprocess.run(["lttng", *a], env=env, check=True, stdout=subprocess.DEVNULL)
    lttng("create", "app", "--output", os.path.join(tmp, "apptrace"))
    for e in APP_EXPRS:
        lttng("enable-event", "-u", "-s", "app", "ustd_filter:sample", "--filter", e)
    lttng("start", "app")
    trace = os.path.join(tmp, "app-st")
    subprocess.run(["strace", "-f", "-qq", "-xx", "-s", "200000", "-e", "trace=recvmsg",
                    "-e", "signal=none", "-o", trace, exe, "1"],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    lttng("destroy", "app")
    with open(trace) as f:
        recvs = [bytes.fromhex(d.replace("\\x", ""))[: int(n)] for d, n in RECVMSG.findall(f.read())]
    got = []
    for i, m in enumerate(recvs):
        if len(m) >= 56 and struct.unpack_from("<I", m, 4)[0] == UST_FILTER:
            size, reloc, seqnum = struct.unpack_from("<IIQ", m, 40)
            data = recvs[i + 1]
            assert len(data) == size, (len(data), size)
            got.append({"reloc_offset": reloc, "seqnum": seqnum, "bytecode": data.hex()})
    # lttng-sessiond sends the filters in rule order; match them by content.
    out = []
    for e in APP_EXPRS:
        out.append({"expr": e, "received": [g for g in got if g["bytecode"] == CLI[e]]})
    return out


CLI = {}


def main():
    out = os.path.join(HERE, "expected.json")
    if "--out" in sys.argv:
        out = os.path.abspath(sys.argv[sys.argv.index("--out") + 1])
    if os.environ.get(NS_MARK) != "1":
        os.environ[NS_MARK] = "1"
        os.execvp("unshare", ["unshare", "-m", "--propagation", "private",
                              sys.executable, *sys.argv])
    with open(os.path.join(HERE, "corpus.json")) as f:
        corpus = json.load(f)
    for d in ("/run/lttng", "/dev/shm"):
        os.makedirs(d, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "none", d], check=True)
    tmp = tempfile.mkdtemp(prefix="ustd-filter-cap.")
    env = dict(os.environ, HOME=tmp, LTTNG_HOME=tmp)
    sessiond = subprocess.Popen(["lttng-sessiond", "--no-kernel"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if os.path.exists("/run/lttng/client-lttng-sessiond"):
                break
            time.sleep(0.05)
        subprocess.run(["lttng", "create", "cap", "--output", os.path.join(tmp, "trace")],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        results = [capture_one(e, tmp, env) for e in corpus]
        for e in APP_EXPRS:
            CLI[e] = capture_one(e, tmp, env)["bytecode"]
        app = app_receives(tmp, env)
    finally:
        sessiond.terminate()
        sessiond.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    with open(out, "w") as f:
        json.dump(results, f, indent=1, ensure_ascii=False)
        f.write("\n")
    app_out = os.path.splitext(out)[0] + "_app.json"
    with open(app_out, "w") as f:
        json.dump(app, f, indent=1)
        f.write("\n")
    print(f"{sum(r['accepted'] for r in results)} accepted, "
          f"{sum(not r['accepted'] for r in results)} rejected -> {out}")


if __name__ == "__main__":
    main()
