#!/usr/bin/python3
"""Append pageviews over ingest.sock from several connections at once and
record every answer as it arrives, for the crash and shutdown tests.

    loadgen.py SOCK ACKFILE ROUND [CONNS [BATCH [INFLIGHT [RATE [SECONDS]]]]]

Each connection (a thread) keeps up to INFLIGHT append requests of BATCH
events in flight, all of them together sending at most RATE events a second
(default 20000: a steady load that does not pile up more data than the test
can dump quickly).  Events carry unique users "ROUND.c<CONN>-<SEQ>" (bytes = SEQ).
Each answer is appended to ACKFILE as one line, written before anything
else happens:
    ack ROUND CONN SEQ0 N FIRST COUNT   events SEQ0.. stored at FIRST..
    refused ROUND CONN SEQ0 N CODE      an error reply: not stored
A connection stops sending after SECONDS (default 20) or after an error
reply, and ends when the daemon closes it (crash or shutdown); requests
without an answer are neither acknowledged nor refused.
"""

import os
import sys
import threading
import time

from lamina_client import Rpc


def event(rnd, conn, seq):
    return {"url": "/load/%d" % conn, "user": "%s.c%d-%d" % (rnd, conn, seq),
            "status": 200, "bytes": seq, "latency_ms": 1.5,
            "time": 1700000000 + seq / 1000}


def run(sock, fd, rnd, conn, batch, inflight, interval, deadline, counts):
    try:
        rpc = Rpc(sock, timeout=60)
    except OSError:
        counts["connect_errors"] += 1
        return
    pending = {}
    seq = 0
    stop = False
    due = time.monotonic()

    def send():
        nonlocal seq, due
        due += interval
        ahead = due - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)       # pacing the load, not synchronisation
        evs = [event(rnd, conn, seq + i) for i in range(batch)]
        pending[rpc.request("append", ["pageviews", evs])] = seq
        seq += batch

    try:
        for _ in range(inflight):
            send()
        while pending:
            msgid, error, result = rpc.response()
            seq0 = pending.pop(msgid)
            if error is None:
                os.write(fd, b"ack %s %d %d %d %d %d\n" % (
                    rnd.encode(), conn, seq0, batch, result["first"],
                    result["count"]))
                counts["acked"] += result["count"]
            else:
                os.write(fd, b"refused %s %d %d %d %d\n" % (
                    rnd.encode(), conn, seq0, batch, error[0]))
                counts["refused"] += batch
                stop = True
            if not stop and time.monotonic() < deadline:
                send()
    except (EOFError, OSError):
        pass            # the daemon went away
    counts["unanswered"] += batch * len(pending)


def main():
    sock, ackfile, rnd = sys.argv[1:4]
    conns, batch, inflight, rate, seconds = \
        [int(a) for a in sys.argv[4:9]] + [4, 50, 4, 20000, 20][len(sys.argv[4:9]):]
    fd = os.open(ackfile, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    counts = {"acked": 0, "refused": 0, "unanswered": 0, "connect_errors": 0}
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=run, args=(
        sock, fd, rnd, c, batch, inflight, batch * conns / rate, deadline,
        counts))
        for c in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("round %s: %d events acknowledged, %d refused, %d unanswered" % (
        rnd, counts["acked"], counts["refused"], counts["unanswered"]))
    return 1 if counts["connect_errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
