#!/usr/bin/python3
# Send events to lamina-ingestd the way a Fluentd logger does: Fluentd
# Forward v1, PackedForward mode, over the forward socket, asking for an
# ack (the chunk option) and waiting for it.  Uses Debian's python3-msgpack.
#   examples/forward_send.py RUN_DIR/forward.sock TAG < events.jsonl
import base64
import json
import os
import socket
import struct
import sys
import time

import msgpack

path, tag = sys.argv[1], sys.argv[2]
events = [json.loads(line) for line in sys.stdin if line.strip()]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(path)
unpacker = msgpack.Unpacker(raw=False)
sent = 0
for i in range(0, len(events), 500):
    batch = events[i:i + 500]
    entries = b""
    for ev in batch:
        t = ev.get("time", time.time())
        # EventTime: ext type 0, seconds and nanoseconds, big-endian.
        et = msgpack.ExtType(0, struct.pack(">II", int(t),
                                            int(round((t % 1) * 1e9)) % 10**9))
        entries += msgpack.packb([et, ev])
    chunk = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(msgpack.packb([tag, entries, {"chunk": chunk,
                                               "size": len(batch)}]))
    while True:
        for reply in unpacker:
            break
        else:
            data = sock.recv(4096)
            if not data:
                sys.exit("forward_send: connection closed before the ack")
            unpacker.feed(data)
            continue
        break
    if reply.get("ack") != chunk:
        sys.exit("forward_send: unexpected reply %r" % (reply,))
    sent += len(batch)
print("forward_send: %d events acknowledged" % sent)
