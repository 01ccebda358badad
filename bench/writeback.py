#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""bench/writeback.py: what the disk gives a consumer's write pattern, with
no app and no daemon. Two threads each append 1 MiB writes to a file of
their own for SECS seconds (fsync at the end, counted), as:
  direct    O_DIRECT (one request in flight per file)
  depth N   page cache; after each write its writeback starts, every byte
            more than N writes back is waited for and its pages dropped
            (ustd's engine::output::settle with WRITEBACK_DEPTH = N; N = 1
            is lttng-consumerd's pattern)
  dontcache page cache with RWF_DONTCACHE (Linux 6.14+): the kernel starts
            writeback at once and drops the pages once written
Prints MB/s per run, then each pattern's runs sorted. Usage:
  bench/writeback.py [DIR (default target/, a disk: not a tmpfs)] [REPS=3] [SECS=5]
"""
import ctypes
import mmap
import os
import sys
import threading
import time

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
WAIT_BEFORE, WRITE, WAIT_AFTER = 1, 2, 4
MB = 1 << 20


RWF_DONTCACHE = 0x80
DONTCACHE = -1


def writer(path, depth, secs, out):
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | (os.O_DIRECT if depth == 0 else 0)
    fd = os.open(path, flags, 0o644)
    buf = mmap.mmap(-1, MB)  # page-aligned, as a mapped sub-buffer
    buf.write(b"x" * MB)
    off = settled = 0
    t0 = time.time()
    while time.time() - t0 < secs:
        if depth == DONTCACHE:
            off += os.pwritev(fd, [buf], off, RWF_DONTCACHE)
            continue
        os.write(fd, buf)
        start, off = off, off + MB
        if depth:
            libc.sync_file_range(fd, start, MB, WRITE)
            upto = max(off - depth * MB, settled)
            if upto > settled:
                libc.sync_file_range(fd, settled, upto - settled, WAIT_BEFORE | WRITE | WAIT_AFTER)
                os.posix_fadvise(fd, settled, upto - settled, os.POSIX_FADV_DONTNEED)
                settled = upto
    os.fsync(fd)
    out.append(off / (time.time() - t0) / 1e6)
    os.close(fd)
    os.unlink(path)


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "target"
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    secs = float(sys.argv[3]) if len(sys.argv) > 3 else 5
    os.makedirs(d, exist_ok=True)
    res = {}
    for _ in range(reps):
        for depth in (0, 1, 2, 4, 8, DONTCACHE):
            out = []
            ts = [threading.Thread(target=writer, args=(f"{d}/writeback-{os.getpid()}-{i}", depth, secs, out))
                  for i in range(2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            name = {0: "direct", DONTCACHE: "dontcache"}.get(depth, f"depth {depth}")
            res.setdefault(name, []).append(sum(out))
            print(f"{name}: {sum(out):.0f} MB/s", flush=True)
    for name, v in res.items():
        print(name, "MB/s:", " ".join(f"{x:.0f}" for x in sorted(v)))


main()
