#!/usr/bin/env python3
"""Seeds for the targets whose inputs are captured in tests/data (written
to fuzz/derived/<target>/, not committed): the first request bytes of every
connection the stock lttng CLI made (tests/data/lttng_wire/*.bin), the
relayd's captured reply stream, and the filter corpus captured from the
stock CLI (tests/data/filter/corpus.json)."""
import glob, hashlib, json, os, shutil, struct

here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(here, "..", "tests", "data")
out = os.path.join(here, "derived")


def target(name):
    d = os.path.join(out, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


d = target("lttng_request")
for f in sorted(glob.glob(os.path.join(data, "lttng_wire", "*.bin"))):
    # u32 LE request length, request, u32 LE reply length, reply; repeated.
    b, i, k = open(f, "rb").read(), 0, 0
    while i + 4 <= len(b):
        (n,) = struct.unpack_from("<I", b, i)
        req = b[i + 4 : i + 4 + n]
        i += 4 + n
        if i + 4 <= len(b):
            (n,) = struct.unpack_from("<I", b, i)
            i += 4 + n
        label = os.path.basename(f)[:-4]
        open(os.path.join(d, f"{label}.{k}"), "wb").write(req)
        k += 1

d = target("relayd_reply")
shutil.copy(os.path.join(data, "relayd", "ctrl-0.s2c"), d)

d = target("filter_compile")
for s in json.load(open(os.path.join(data, "filter", "corpus.json"))):
    open(os.path.join(d, hashlib.sha1(s.encode()).hexdigest()[:16]), "w").write(s)
