#!/usr/bin/env python3
"""Tiny logging TCP proxy: listen on LPORT, forward to 127.0.0.1:RPORT, and
append each connection's two directions to OUTDIR/<tag>-<n>.{c2s,s2c}.
Used by capture.sh to record what lttng-sessiond/consumerd send to lttng-relayd."""
import os, socket, sys, threading

lport, rport, outdir, tag = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", lport))
srv.listen(16)
print("ready", flush=True)

def pump(a, b, path):
    with open(path, "wb") as f:
        while True:
            try:
                d = a.recv(65536)
            except OSError:
                d = b""
            if not d:
                break
            f.write(d)
            f.flush()
            b.sendall(d)
    try:
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass

n = 0
while True:
    c, _ = srv.accept()
    s = socket.create_connection(("127.0.0.1", rport))
    base = os.path.join(outdir, f"{tag}-{n}")
    n += 1
    threading.Thread(target=pump, args=(c, s, base + ".c2s"), daemon=True).start()
    threading.Thread(target=pump, args=(s, c, base + ".s2c"), daemon=True).start()
