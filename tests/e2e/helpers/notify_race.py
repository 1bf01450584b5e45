#!/usr/bin/python3
"""Be systemd's notify socket, and race lamina-ingestd's readiness.

    notify_race.py NOTIFY_SOCK INGEST_SOCK OUT

Binds the datagram socket NOTIFY_SOCK (start lamina-ingestd with
NOTIFY_SOCKET pointing at it), then tries, every 5 ms, to append one event
(user "ready-probe") on INGEST_SOCK.  When the first append succeeds, every
notification sent before its reply is already queued on NOTIFY_SOCK, so
READY=1 must be among them: prints "READY=1 before the first append" or
"first append before READY=1".  Then writes every notification to OUT, one
line each (newlines as spaces), until killed.
"""

import os
import socket
import sys
import time

from lamina_client import Rpc

PROBE = {"url": "/", "user": "ready-probe", "status": 200, "bytes": 0,
         "latency_ms": 0.0, "time": 1700000000.0}


def main():
    notify_path, ingest, out = sys.argv[1:4]
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(notify_path)
    ns.setblocking(False)
    fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    seen = []

    def record(msg):
        seen.append(msg)
        os.write(fd, msg.replace("\n", " ").strip().encode() + b"\n")

    def drain():
        while True:
            try:
                record(ns.recv(4096).decode())
            except BlockingIOError:
                return

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        drain()
        try:
            error, result = Rpc(ingest).call("append", ["pageviews", [PROBE]])
        except (FileNotFoundError, ConnectionRefusedError):
            time.sleep(0.005)       # polling for the socket
            continue
        if error is not None:
            print("append refused: %r" % (error,))
            return 1
        drain()
        ready = any("READY=1" in m.split("\n") for m in seen)
        print("READY=1 before the first append" if ready else
              "first append before READY=1")
        sys.stdout.flush()
        break
    else:
        print("no append succeeded in 30 s")
        return 1
    ns.setblocking(True)
    while True:
        record(ns.recv(4096).decode())


if __name__ == "__main__":
    sys.exit(main())
