#!/usr/bin/python3
"""Print N pageviews as JSON lines, the same for the same seed.

    gen_pageviews.py N [SEED]

Values cover what the round trip must keep exactly: quotes, backslashes,
control characters and non-ASCII text, integers beyond 2^53 and negative,
floats with many digits, times with milliseconds, referrer sometimes
absent.
"""

import json
import random
import sys

n = int(sys.argv[1])
rnd = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
odd = ["caf\u00e9", "\u65e5\u672c", "\U0001f600", 'say "hi"', "back\\slash",
       "tab\there", "new\nline", "\u0001ctl", ""]
for i in range(n):
    ev = {
        "url": "/p/%d/%s" % (rnd.randrange(1000), rnd.choice(odd)),
        "user": "u%d" % i,
        "status": rnd.choice([200, 200, 200, 301, 404, 500, -1]),
        "bytes": rnd.choice([0, rnd.randrange(1 << 20), (1 << 62) + i,
                             -(1 << 40)]),
        "latency_ms": rnd.choice([0.0, rnd.random() * 1000, 1e-7,
                                  123456.789]),
        "time": 1700000000 + rnd.randrange(86400 * 30)
                + rnd.randrange(1000) / 1000,
    }
    if rnd.random() < 0.7:
        ev["referrer"] = "https://ref.example/%s" % rnd.choice(odd)
    print(json.dumps(ev, ensure_ascii=rnd.random() < 0.5))
