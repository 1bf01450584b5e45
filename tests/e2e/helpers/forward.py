#!/usr/bin/python3
"""Send Fluentd Forward v1 messages to forward.sock, one per input line.

    forward.py SOCK [--no-wait | --pipeline] < MESSAGES

Each line of MESSAGES is a JSON object:
    {"mode": "message", "tag": T, "time": TIME, "record": {...}}
    {"mode": "forward"|"packed"|"compressed", "tag": T,
     "entries": [[TIME, {...}], ...]}
    {"mode": "nil"}                                     a heartbeat
    {"mode": "raw", "value": V, "expect": "close"}      V as it is; the
                                 daemon must close the connection
with optional "option": {...} (chunk, size, compressed...), "encoding":
"str" for packed entries as str instead of bin, "members": N for N gzip
members.  TIME is an integer, "SECS.NANOS" for an EventTime, {"time":
"SECS.NANOS", "meta": {...}} for [EventTime, metadata], or a float.

For every message with a chunk option, waits for {"ack": chunk} and prints
"ack CHUNK" (exit 1 after 10 s without it).  With --pipeline, sends every
message first, then reads one ack per chunk option and prints them sorted.
With --no-wait, sends everything without reading, then waits for the
daemon to close.
"""

import json
import sys

from lamina_client import Conn, forward_frame


def main():
    sock = sys.argv[1]
    nowait = "--no-wait" in sys.argv[2:]
    pipeline = "--pipeline" in sys.argv[2:]
    conn = Conn(sock, timeout=None if nowait else 10.0)
    chunks = []
    for line in sys.stdin:
        if not line.strip():
            continue
        spec = json.loads(line)
        conn.send_raw(forward_frame(spec))
        if spec.get("expect") == "close":
            print("closed" if conn.closed_by_peer() else "not closed")
            return 0
        chunk = (spec.get("option") or {}).get("chunk")
        if chunk is None or nowait:
            continue
        if pipeline:
            chunks.append(chunk)
            continue
        try:
            answer = conn.recv()
        except Exception as e:
            print("no ack for %s: %s" % (chunk, e))
            return 1
        if answer != {"ack": chunk}:
            print("for %s: unexpected answer %r" % (chunk, answer))
            return 1
        print("ack", chunk)
    acks = []
    for _ in chunks:
        try:
            acks.append(conn.recv()["ack"])
        except Exception as e:
            print("%d acks of %d: %s" % (len(acks), len(chunks), e))
            return 1
    for a in sorted(acks):
        print("ack", a)
    sys.stdout.flush()
    if nowait:
        conn.closed_by_peer()
    return 0


if __name__ == "__main__":
    sys.exit(main())
