#!/usr/bin/env python3
"""Concatenates the TSDL text of a packetized CTF metadata file (stdout)."""
import struct
import sys

data = open(sys.argv[1], "rb").read()
out = bytearray()
off = 0
while off < len(data):
    (magic,) = struct.unpack_from("<I", data, off)
    if magic != 0x75D11D57:
        sys.exit("bad metadata packet magic at offset %d" % off)
    content_bits, packet_bits = struct.unpack_from("<II", data, off + 24)
    out += data[off + 37 : off + content_bits // 8]
    off += packet_bits // 8
sys.stdout.buffer.write(out)
