#!/usr/bin/python3
"""Check a `lamina dump` of pageviews against loadgen.py's ACKFILE.

    check_acks.py ACKFILE DUMP

- offsets are dense: line i of the dump has _offset i;
- no user (event id) appears twice;
- every acknowledged event is at the offset its acknowledgement gave;
- no refused event is stored.
A last line of ACKFILE without its newline (being written as it was
copied) is ignored.  Prints a summary, or every problem (at most 20) and exits 1.
"""

import json
import sys


def main():
    errors = []
    where = {}
    with open(sys.argv[2]) as f:
        for i, line in enumerate(f):
            ev = json.loads(line)
            if ev["_offset"] != i:
                errors.append("line %d has offset %d" % (i + 1, ev["_offset"]))
            if ev["user"] in where:
                errors.append("%s stored twice: offsets %d and %d" % (
                    ev["user"], where[ev["user"]], ev["_offset"]))
            where[ev["user"]] = ev["_offset"]
    acked = refused = 0
    with open(sys.argv[1]) as f:
        for line in f:
            if not line.endswith("\n"):
                break
            w = line.split()
            rnd, conn, seq0, n = w[1], int(w[2]), int(w[3]), int(w[4])
            for k in range(n):
                user = "%s.c%d-%d" % (rnd, conn, seq0 + k)
                if w[0] == "ack":
                    acked += 1
                    if where.get(user) != int(w[5]) + k:
                        errors.append("%s acknowledged at offset %d, "
                                      "stored at %s" % (user, int(w[5]) + k,
                                                        where.get(user)))
                else:
                    refused += 1
                    if user in where:
                        errors.append("%s refused but stored at %d" % (
                            user, where[user]))
    for e in errors[:20]:
        print(e)
    if errors:
        return 1
    print("%d events stored, offsets dense, no duplicates; %d acknowledged "
          "all there; %d refused none there" % (len(where), acked, refused))
    return 0


if __name__ == "__main__":
    sys.exit(main())
