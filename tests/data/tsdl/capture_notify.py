#!/usr/bin/env python3
"""Extracts what lttng-sessiond read on apps' notify sockets from an
`strace -f -xx -e trace=recvmsg,...` log.

Writes one line per recvmsg: `<fd> <hex bytes>`. Notify sockets are the fds
on which a 136-byte registration message with socket type 1 was read.
Usage: capture_notify.py STRACE_LOG OUTPUT
"""
import re
import struct
import sys

REG_MAGIC = 0xC57C57C5


def recvmsg_reads(lines):
    """Yields (fd, bytes) for every successful recvmsg, joining the
    `<unfinished ...>` / `<... resumed>` halves strace -f splits calls into."""
    pending = {}
    for line in lines:
        m = re.match(r"(\d+)\s+(.*)", line)
        if not m:
            continue
        pid, rest = m.groups()
        if rest.endswith("<unfinished ...>"):
            pending[pid] = rest[: -len("<unfinished ...>")]
            continue
        resumed = re.match(r"<\.\.\. (\w+) resumed>(.*)", rest)
        if resumed:
            rest = pending.pop(pid, "") + resumed.group(2)
        call = re.match(r"recvmsg\((\d+), (.*)\) = (-?\d+)", rest)
        if not call:
            continue
        fd, body, ret = call.groups()
        if int(ret) <= 0:
            continue
        chunks = re.findall(r'iov_base="((?:\\x[0-9a-f]{2})*)"', body)
        data = b"".join(bytes.fromhex(c.replace("\\x", "")) for c in chunks)
        yield int(fd), data[: int(ret)]


def main():
    reads = list(recvmsg_reads(open(sys.argv[1]).read().splitlines()))
    notify_fds = {
        fd
        for fd, d in reads
        if len(d) == 136
        and struct.unpack_from("<I", d, 0)[0] == REG_MAGIC
        and struct.unpack_from("<I", d, 52)[0] == 1
    }
    with open(sys.argv[2], "w") as out:
        out.write("# lttng-sessiond reads on app notify sockets, one recvmsg per line: <fd> <hex>\n")
        for fd, d in reads:
            if fd in notify_fds:
                out.write("%d %s\n" % (fd, d.hex()))


if __name__ == "__main__":
    main()
