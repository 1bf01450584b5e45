#!/usr/bin/python3
"""Look into a segment file (docs/FORMAT.md), and damage it on purpose.

    segment.py records FILE        one line per whole record:
                                   OFFSET START SIZE (bytes, header included)
    segment.py flip FILE BYTE      invert the bits of the byte at BYTE

A record is a u32 LE payload length, a u32 CRC32C, then the payload, a
msgpack array whose first element is the offset; the records start after
the 128-byte segment header and end at a zero length or the end of file.
"""

import struct
import sys

import msgpack

HEADER = 128


def records(data):
    pos = HEADER
    while pos + 8 <= len(data):
        (length,) = struct.unpack_from("<I", data, pos)
        if length == 0 or pos + 8 + length > len(data):
            break
        rec = msgpack.unpackb(data[pos + 8:pos + 8 + length], raw=False,
                              strict_map_key=False)
        yield rec[0], pos, 8 + length
        pos += 8 + length


def main():
    what, path = sys.argv[1], sys.argv[2]
    if what == "records":
        with open(path, "rb") as f:
            for off, start, size in records(f.read()):
                print(off, start, size)
    elif what == "flip":
        at = int(sys.argv[3])
        with open(path, "r+b") as f:
            f.seek(at)
            b = f.read(1)
            f.seek(at)
            f.write(bytes([b[0] ^ 0xff]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
