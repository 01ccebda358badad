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

Usage (as root): python3 capture.py [--out FILE]   (default: expected.json
next to this script). Re-executes itself under `unshare -m`.
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
    finally:
        sessiond.terminate()
        sessiond.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    with open(out, "w") as f:
        json.dump(results, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"{sum(r['accepted'] for r in results)} accepted, "
          f"{sum(not r['accepted'] for r in results)} rejected -> {out}")


if __name__ == "__main__":
    main()
