#!/usr/bin/python3
"""Print N pageviews as JSON lines for the batch view tests, the same for
the same seed and start.

    batch_gen.py N [SEED [FIRST]]

FIRST is the index of the first event (default 0): user names and the few
planted events depend on it, so two runs with different FIRSTs make one
longer data set in two parts.

What the data set holds, so that the oracle has something to find:
- urls drawn from a Zipf law over 300 paths (a few hot, a long tail);
- users drawn from a Zipf law over 20000 names (distinct counts from 1 to
  a few thousand per row);
- status mostly 200, else 301, 404, 500 or 503;
- referrer absent from about 30% of the events;
- bytes an int, mostly small, a few negative; every 5000th event is
  2^62 + i on url /big at status 200 in one hour, so that an int sum goes
  past 2^63;
- latency_ms a float with every digit a double has, a few exactly on the
  thresholds the views filter on (1.5 and 800.0), a few of +-1e15 + x and
  tiny ones, so that a naive float sum is not the correctly rounded one;
- time over six hours from 1700000000 (not a whole hour), with full
  double precision; a few late events (two days before), a few before 1970
  (negative times), a few exactly on bucket boundaries and one ulp below
  them, and a few integer times.
"""

import json
import math
import random
import sys

n = int(sys.argv[1])
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
first = int(sys.argv[3]) if len(sys.argv) > 3 else 0
rnd = random.Random(seed * 1000003 + first)

T0 = 1700000000
SPAN = 6 * 3600
URLS = ["/"] + ["/p/%d" % k for k in range(1, 300)]
URLW = []
acc = 0.0
for k in range(len(URLS)):
    acc += 1.0 / (k + 1) ** 1.1
    URLW.append(acc)
USERW = []
acc = 0.0
for k in range(20000):
    acc += 1.0 / (k + 1) ** 0.8
    USERW.append(acc)
# Bucket boundaries inside the span: whole hours (so whole 5 min too) and
# one whole day before.
BOUNDS = [b for b in range(T0 - T0 % 3600 + 3600, T0 + SPAN, 3600)]
DAY = T0 - T0 % 86400


def event(i):
    r = rnd.random()
    ev = {
        "url": rnd.choices(URLS, cum_weights=URLW)[0],
        "user": "u%d" % rnd.choices(range(20000), cum_weights=USERW)[0],
        "status": rnd.choices([200, 301, 404, 500, 503],
                              [80, 5, 8, 5, 2])[0],
        "bytes": rnd.randrange(100, 300000),
        "latency_ms": rnd.lognormvariate(3.0, 1.2),
        "time": T0 + rnd.random() * SPAN,
    }
    if rnd.random() >= 0.3:
        ev["referrer"] = "https://ref%d.example/" % rnd.randrange(40)
    # Planted values, by index so that each kind shows up in every part.
    if i % 5000 == 17:
        ev.update(url="/big", status=200, bytes=(1 << 62) + i,
                  time=T0 + 1800.25)
    if i % 997 == 3:
        ev["bytes"] = -rnd.randrange(1, 1000)
    if i % 211 == 5:
        ev["latency_ms"] = rnd.choice([1.5, 800.0, 1.5, 800.0])
    if i % 307 == 7:
        ev["latency_ms"] = rnd.choice([1e15, -1e15]) + rnd.random()
    if i % 401 == 9:
        ev["latency_ms"] = rnd.choice([1e-300, 5e-324, 1e-9, 0.0, -0.0])
    if i % 389 == 11:
        b = rnd.choice(BOUNDS)
        ev["time"] = rnd.choice([float(b), math.nextafter(float(b), 0.0),
                                 float(b - 300), b + 299.999999])
    if i % 613 == 13:
        ev["time"] = rnd.choice(BOUNDS) + rnd.randrange(-3, 4)  # an int
    if i % 701 == 15:
        ev["time"] = DAY - 2 * 86400 + rnd.random() * 86400  # late
    if i % 1999 == 19:
        ev["time"] = rnd.choice([-1.5, -3599.25, -86400.0, -0.000001,
                                 -90000.75])
    return ev


for i in range(first, first + n):
    print(json.dumps(event(i), separators=(",", ":")))
