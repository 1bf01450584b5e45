#!/usr/bin/python3
"""Compare a `lamina dump` with the JSON lines that were sent.

    check_roundtrip.py SENT DUMP [FIRST_OFFSET]

Dump line i must be sent line i: the same fields with exactly the same
values, plus _offset = FIRST_OFFSET + i, _event_time = the time field as
the daemon converts it (floor seconds, nanoseconds rounded half away from
zero) and an _ingest_time.  Prints every difference (at most 20).
"""

import datetime
import json
import math
import sys


def event_time(t):
    whole = math.floor(t)
    ns = whole * 10**9 + int(math.floor((t - whole) * 1e9 + 0.5))
    secs, frac = divmod(ns, 10**9)
    day = datetime.datetime.fromtimestamp(secs, datetime.timezone.utc)
    return day.strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % frac


def main():
    sent = [json.loads(l) for l in open(sys.argv[1])]
    dump = [json.loads(l) for l in open(sys.argv[2])]
    first = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    errors = []
    if len(dump) != len(sent):
        errors.append("%d events dumped, %d sent" % (len(dump), len(sent)))
    for i, (want, got) in enumerate(zip(sent, dump)):
        meta = {k: got.pop(k, None) for k in
                ("_offset", "_event_time", "_ingest_time")}
        if meta["_offset"] != first + i:
            errors.append("line %d: _offset %r" % (i + 1, meta["_offset"]))
        if meta["_event_time"] != event_time(want["time"]):
            errors.append("line %d: _event_time %s, want %s" % (
                i + 1, meta["_event_time"], event_time(want["time"])))
        if meta["_ingest_time"] is None:
            errors.append("line %d: no _ingest_time" % (i + 1))
        for k in sorted(set(want) | set(got)):
            w, g = want.get(k), got.get(k)
            if w != g or type(w) is not type(g):
                errors.append("line %d: %s: got %r, sent %r" % (
                    i + 1, k, g, w))
    for e in errors[:20]:
        print(e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
