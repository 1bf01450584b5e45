#!/usr/bin/python3
"""Connection and message limits of a lamina socket, for limits.sh.

    limits.py SOCK oversize BYTES   a frame of BYTES bytes (an append of
                                    one event with a long url) on a new
                                    connection, while another one is open
    limits.py SOCK header-only      only the header of a 1 GiB string
    limits.py SOCK fits BYTES       a frame of BYTES bytes, under the
                                    limit: stored
    limits.py SOCK clients N        N connections, then one more

Prints what happened, one line per step, for the test to compare.  A
connection "works" when it answers status (on ingest.sock) or acks a
Forward chunk (on forward.sock, which "forward" in SOCK's name selects).
"""

import struct
import sys
import time

import msgpack

from lamina_client import Rpc, forward_frame

SOCK = sys.argv[1]
FORWARD = "forward" in SOCK.rsplit("/", 1)[-1]
EVENT = {"url": "/", "user": "l", "status": 200, "bytes": 0,
         "latency_ms": 0.0, "time": 1700000000.0}


def works(conn, n=[0]):
    try:
        if FORWARD:
            n[0] += 1
            chunk = "limits-%d" % n[0]
            conn.send_raw(forward_frame({
                "mode": "message", "tag": "pageviews", "time": 1700000000,
                "record": EVENT, "option": {"chunk": chunk}}))
            return conn.recv() == {"ack": chunk}
        error, result = conn.call("status", [])
        return error is None
    except (EOFError, OSError):
        return False


def closed(conn, data=None):
    """True if the daemon closes conn (after data is sent, if any)."""
    try:
        if data is not None:
            conn.send_raw(data)
    except (BrokenPipeError, ConnectionResetError):
        return True
    return conn.closed_by_peer()


def connect():
    return Rpc(SOCK, timeout=5)


def big_frame(nbytes):
    """A request (or Forward message) of nbytes bytes and its answer."""
    big = dict(EVENT, url="")
    if FORWARD:
        def frame(url):
            return forward_frame({"mode": "message", "tag": "pageviews",
                                  "time": 1700000000,
                                  "record": dict(big, url=url),
                                  "option": {"chunk": "big"}})
        answer = {"ack": "big"}
    else:
        def frame(url):
            return msgpack.packb([0, 1, "append", ["pageviews", [
                dict(big, url=url)]]], use_bin_type=True)
        answer = None
    pad = nbytes - len(frame(""))
    f = frame("x" * pad)
    return frame("x" * (pad - (len(f) - nbytes))), answer


def fits(nbytes):
    frame, answer = big_frame(nbytes)
    conn = connect()
    conn.send_raw(frame)
    got = conn.recv()
    print("a frame of %d bytes is stored:" % len(frame),
          got == answer if FORWARD else got[2] is None)


def oversize(nbytes):
    other = connect()
    print("other connection works:", works(other))
    frame, _ = big_frame(nbytes)
    print("oversize frame closes its connection:", closed(connect(), frame))
    print("other connection still works:", works(other))


def header_only():
    head = (b"\x94\x00\x01\xa6append\x92\xa9pageviews\xdb" +
            struct.pack(">I", 1 << 30))
    if FORWARD:
        head = b"\x93\xa9pageviews\xc6" + struct.pack(">I", 1 << 30)
    print("1 GiB header closes its connection:", closed(connect(), head))


def clients(n):
    conns = [connect() for _ in range(n)]
    print("%d connections work:" % n, all(works(c) for c in conns))
    print("one more is closed at once:", closed(connect()))
    print("the %d still work:" % n, all(works(c) for c in conns))
    conns.pop().close()
    # The daemon notices the close on its next loop turn: poll for it.
    deadline = time.monotonic() + 5
    while True:
        new = connect()
        if works(new) or time.monotonic() > deadline:
            break
        new.close()
        time.sleep(0.02)
    print("after one closes, a new one works:", works(new))


if __name__ == "__main__":
    what = sys.argv[2]
    if what == "oversize":
        oversize(int(sys.argv[3]))
    elif what == "header-only":
        header_only()
    elif what == "fits":
        fits(int(sys.argv[3]))
    elif what == "clients":
        clients(int(sys.argv[3]))
    else:
        sys.exit(__doc__)
