#!/usr/bin/python3
"""The batch view tests' oracle: computes every view's rows from the raw
JSON lines that were sent, independently of lamina, and compares them with
what lamina-batchd wrote to views.db.

    batch_oracle.py yaml SPEC...
        print the views: section of a configuration for these views
    batch_oracle.py check DB EVENTS SEGDIR SPEC... [--builds] [--prefix]
        compare the views in lamina_views (lamina_builds with --builds)
        with the oracle; without --prefix every event of EVENTS must be
        covered (horizon == number of events), with --prefix the oracle
        takes the events below each view's horizon, whatever it is: the
        rows and the horizon, read in one transaction, must match
    batch_oracle.py wait DB TABLE VIEW MIN TIMEOUT [LOG]
        poll until TABLE (lamina_views or lamina_builds) has VIEW with a
        horizon of at least MIN (exit 0), or TIMEOUT seconds, or until
        LOG, lamina-batchd's log, shows a failed run (exit 1)
    batch_oracle.py dump DB VIEW
        print the published rows of VIEW, states included, one per line
    batch_oracle.py sql DB SQL
        print the result rows of a query, tab-separated
    batch_oracle.py cli DB EVENTS SPEC OUT [--order METRIC] [--limit N]
        compare OUT, what "lamina view" printed for the view (a header,
        then one JSON line per row), with lamina_views and the oracle over
        every event of EVENTS: the rows in their order (bucket and key,
        or METRIC, a count or int sum, descending, first), the first N

SPEC is a view name, or NAME@VARIANT for another definition of the view
under the same name (pages_hourly@v2).  EVENTS holds one JSON event per
line in the order they were sent, so line i (from 0) is offset i.  SEGDIR
is the stream's directory in the master dataset (segment files are named
by their first offset).

Float sums must equal math.fsum exactly, and their stored state must be
exactly the mathematical sum; int sums, counts, minima and maxima are
exact; a distinct count must lie within three standard errors
(1.04 / sqrt(2^p)) of the exact count.
"""

import datetime
import itertools
import json
import marshal
import math
import operator
import os
import re
import sqlite3
import sys
import time

import msgpack

FIELDS = {"url": "string", "user": "string", "referrer": "string",
          "status": "int", "bytes": "int", "latency_ms": "float",
          "time": "float"}
TIME_FIELD = "time"


def M(name, kind, field=None):
    return (name, kind, field)


SPECS = {
    # url x 1h, status 200 only, every exact metric and a distinct count.
    "pages_hourly": {
        "bucket": "1h", "group_by": ["url"],
        "where": [("status", "eq", 200)],
        "metrics": [M("hits", "count"), M("bytes", "sum", "bytes"),
                    M("lat_sum", "sum", "latency_ms"),
                    M("lat_min", "min", "latency_ms"),
                    M("lat_max", "max", "latency_ms"),
                    M("users", "distinct", "user")],
    },
    # The same view redefined: 30 min buckets and a latency filter.
    "pages_hourly@v2": {
        "bucket": "30m", "group_by": ["url"],
        "where": [("status", "eq", 200), ("latency_ms", "lt", 500.0)],
        "metrics": [M("hits", "count"), M("bytes", "sum", "bytes"),
                    M("lat_sum", "sum", "latency_ms"),
                    M("lat_min", "min", "latency_ms"),
                    M("lat_max", "max", "latency_ms"),
                    M("users", "distinct", "user")],
    },
    "status_daily": {
        "bucket": "1d", "group_by": ["status"], "where": [],
        "metrics": [M("hits", "count")],
    },
    # status_daily redefined: other metrics, same bucket and dimensions.
    "status_daily@v2": {
        "bucket": "1d", "group_by": ["status"], "where": [],
        "metrics": [M("hits", "count"), M("bytes", "sum", "bytes")],
    },
    # No status filter; a range on a float field, both ends planted in
    # the data.
    "fine": {
        "bucket": "5m", "group_by": ["url", "status"],
        "where": [("latency_ms", "gte", 1.5), ("latency_ms", "lt", 800.0)],
        "metrics": [M("hits", "count"), M("bytes", "sum", "bytes"),
                    M("lat_sum", "sum", "latency_ms"),
                    M("lat_min", "min", "latency_ms"),
                    M("lat_max", "max", "latency_ms")],
    },
    # A dimension that some events lack (grouped under null).
    "by_referrer": {
        "bucket": "1d", "group_by": ["referrer"], "where": [],
        "metrics": [M("hits", "count"), M("lat_max", "max", "latency_ms"),
                    M("users", "distinct", "user")],
    },
}

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
HLL_PRECISION = 14
HLL_TOL = 3 * 1.04 / math.sqrt(2 ** HLL_PRECISION)


def bucket_s(spec):
    b = spec["bucket"]
    return int(b[:-1]) * UNITS[b[-1]]


def yaml_value(v):
    return json.dumps(v)


def cmd_yaml(names):
    out = ["views:"]
    for spec_name in names:
        name = spec_name.split("@")[0]
        s = SPECS[spec_name]
        out.append("  %s:" % name)
        out.append("    stream: pageviews")
        out.append("    bucket: %s" % s["bucket"])
        out.append("    group_by: [%s]" % ", ".join(s["group_by"]))
        if s["where"]:
            out.append("    where:")
            byfield = {}
            for f, op, v in s["where"]:
                byfield.setdefault(f, []).append((op, v))
            for f, ops in byfield.items():
                if len(ops) == 1 and ops[0][0] == "eq":     # FIELD: VALUE
                    out.append("      %s: %s" % (f, yaml_value(ops[0][1])))
                    continue
                out.append("      %s: {%s}" % (f, ", ".join(
                    "%s: %s" % (op, yaml_value(v)) for op, v in ops)))
        out.append("    metrics:")
        for mname, kind, field in s["metrics"]:
            if kind == "count":
                out.append("      %s: count" % mname)
            else:
                out.append("      %s: {%s: %s}" % (mname, kind, field))
    print("\n".join(out))


# --- the oracle ------------------------------------------------------------

def event_secs(t):
    """The event time's whole seconds, as lamina-ingestd computes them
    (common/schema.c: floor(d) s plus llround of the fraction in ns)."""
    if isinstance(t, int):
        return t
    whole = math.floor(t)
    frac_ns = math.floor((t - whole) * 1e9 + 0.5)   # exact: see below
    # (t - whole) is exact, its product with 1e9 is rounded once as in C,
    # and adding 0.5 to a double below 2^52 is exact, so this is llround.
    ns = whole * 10 ** 9 + frac_ns
    return ns // 10 ** 9


OPS = {"eq": operator.eq, "ne": operator.ne, "gt": operator.gt,
       "gte": operator.ge, "lt": operator.lt, "lte": operator.le}


def exact_units(vals):
    """The exact sum of doubles, as an integer count of 2^-1074."""
    if not vals:
        return 0
    ratios = [v.as_integer_ratio() for v in vals]      # d: a power of 2
    k = max(d.bit_length() for _, d in ratios) - 1
    s = sum(n << (k - d.bit_length() + 1) for n, d in ratios)
    return s << (1074 - k)


class Oracle:
    """The events sent, in offset order: one tuple per event, the values
    of ORDER (None: absent) and the event time's whole seconds.  Parsed
    once and cached beside the events file, as checks come one after
    another on the same file."""

    ORDER = ["url", "user", "referrer", "status", "bytes", "latency_ms",
             "time"]
    IDX = {f: i for i, f in enumerate(ORDER)}

    def __init__(self, events_path):
        cache = events_path + ".oracle"
        try:
            if os.path.getmtime(cache) >= os.path.getmtime(events_path):
                with open(cache, "rb") as f:
                    self.events = marshal.load(f)
                return
        except OSError:
            pass
        evs = []
        with open(events_path) as f:
            for line in f:
                ev = json.loads(line)
                evs.append(tuple(ev.get(k) for k in self.ORDER) +
                           (event_secs(ev[TIME_FIELD]),))
        self.events = evs
        tmp = "%s.%d" % (cache, os.getpid())
        with open(tmp, "wb") as f:
            marshal.dump(evs, f)
        os.rename(tmp, cache)

    def rows(self, spec, upto):
        """{(bucket, key tuple): row dict} and the number of events kept,
        over the events at offsets below upto.  A filter on an absent
        value is false; an absent dimension is None (null)."""
        bs = bucket_s(spec)
        preds = [(self.IDX[f], OPS[op], v) for f, op, v in spec["where"]]
        gidx = [self.IDX[d] for d in spec["group_by"]]
        metrics = spec["metrics"]
        midx = [self.IDX[f] if f is not None else None
                for _, _, f in metrics]
        nm = len(metrics)
        tidx = len(self.ORDER)
        acc = {}
        kept = 0
        for ev in itertools.islice(self.events, upto):
            for i, fn, v in preds:
                x = ev[i]
                if x is None or not fn(x, v):
                    break
            else:
                kept += 1
                secs = ev[tidx]
                key = (secs - secs % bs, tuple([ev[i] for i in gidx]))
                r = acc.get(key)
                if r is None:
                    r = acc[key] = [[] for _ in range(nm)]
                for j in range(nm):
                    i = midx[j]
                    if i is None:
                        r[j].append(1)
                    elif ev[i] is not None:
                        r[j].append(ev[i])
        out = {}
        for key, r in acc.items():
            row = {}
            for j, (mname, kind, field) in enumerate(metrics):
                vals = r[j]
                isfloat = field is not None and FIELDS[field] == "float"
                if isfloat:
                    vals = [float(v) for v in vals]
                if kind == "count":
                    row[mname] = ("count", len(vals))
                elif kind == "sum" and isfloat:
                    row[mname] = ("fsum", math.fsum(vals), exact_units(vals))
                elif kind == "sum":
                    row[mname] = ("isum", sum(vals))
                elif kind in ("min", "max"):
                    f = min if kind == "min" else max
                    row[mname] = (kind, f(vals) if vals else None,
                                  len(vals), isfloat)
                elif kind == "distinct":
                    row[mname] = ("distinct", len(set(vals)))
            out[key] = row
        return out, kept


# --- reading views.db ------------------------------------------------------

def connect(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True,
                          isolation_level=None, timeout=10)
    return con


def fnv1a(s):
    h = 1469598103934665603
    for b in s.encode():
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def seg_firsts(segdir):
    return sorted(int(n[:-4]) for n in os.listdir(segdir)
                  if n.endswith(".seg"))


class Problems:
    def __init__(self):
        self.n = 0

    def __call__(self, msg):
        self.n += 1
        if self.n <= 15:
            print("MISMATCH: " + msg, file=sys.stderr)


def check_view(con, oracle, spec_name, table, prefix, segdir, bad):
    name = spec_name.split("@")[0]
    spec = SPECS[spec_name]
    cur = con.execute(
        "SELECT fingerprint, canonical, tbl, stream, horizon, segments, "
        "rows, events FROM %s WHERE name = ?" % table, (name,))
    got = cur.fetchone()
    if got is None:
        bad("%s: no row for view %s" % (table, name))
        return None
    fp, canonical, tbl, stream, horizon, nsegs, nrows, nevents = got
    n = len(oracle.events)
    if fnv1a(canonical) != fp:
        bad("%s: fingerprint %s is not FNV-1a of its canonical text (%s)"
            % (name, fp, fnv1a(canonical)))
    if "|bucket=%d|" % bucket_s(spec) not in canonical:
        bad("%s: canonical text %r lacks bucket=%d"
            % (name, canonical, bucket_s(spec)))
    if stream != "pageviews":
        bad("%s: stream %s" % (name, stream))
    firsts = seg_firsts(segdir)
    if horizon != 0 and horizon not in firsts:
        bad("%s: horizon %d is not a segment boundary" % (name, horizon))
    if not prefix and horizon != n:
        bad("%s: horizon %d, want %d (every event)" % (name, horizon, n))
    if horizon > n:
        bad("%s: horizon %d past the %d events sent" % (name, horizon, n))
        horizon = n
    want_segs = sum(1 for f in firsts if f < horizon)
    if nsegs != want_segs:
        bad("%s: segments %d, want %d (below horizon %d)"
            % (name, nsegs, want_segs, horizon))
    want, kept = oracle.rows(spec, horizon)
    if nevents != kept:
        bad("%s: events %d, want %d" % (name, nevents, kept))
    gb = spec["group_by"]
    cols = ["bucket", "key"] + ["d_" + d for d in gb] + \
        ["m_" + m[0] for m in spec["metrics"]] + ["state"]
    cur = con.execute("SELECT %s FROM \"%s\"" % (
        ", ".join('"%s"' % c for c in cols), tbl))
    seen = set()
    count = 0
    for r in cur:
        count += 1
        bucket, keyblob = r[0], r[1]
        dims = r[2:2 + len(gb)]
        mvals = r[2 + len(gb):-1]
        state = msgpack.unpackb(r[-1], raw=False, strict_map_key=False)
        key = msgpack.unpackb(keyblob, raw=False)
        where = "%s: row (%d, %r)" % (name, bucket, key)
        if list(dims) != key:
            bad("%s: d_ columns %r differ from the key" % (where, dims))
        k = (bucket, tuple(key))
        seen.add(k)
        w = want.get(k)
        if w is None:
            bad("%s: not in the oracle" % where)
            continue
        if len(state) != len(spec["metrics"]):
            bad("%s: %d states" % (where, len(state)))
            continue
        for i, (mname, kind, field) in enumerate(spec["metrics"]):
            g = mvals[i]
            st = state[i]
            o = w[mname]
            what = "%s m_%s" % (where, mname)
            if kind == "count":
                if type(g) is not int or g != o[1] or st != o[1]:
                    bad("%s: got %r (state %r), want %d" % (what, g, st, o[1]))
            elif o[0] == "isum":
                exact = o[1]
                if -(1 << 63) <= exact < (1 << 63):
                    ok = type(g) is int and g == exact
                else:
                    ok = type(g) is float and g == float(exact)
                sv = st if isinstance(st, int) else \
                    st[0] * (1 << 64) + st[1]
                if not ok or sv != exact:
                    bad("%s: got %r (state %r), want %d" % (what, g, st, exact))
            elif o[0] == "fsum":
                fs, units = o[1], o[2]
                if type(g) is not float or g != fs:
                    bad("%s: got %r, want math.fsum %r (diff %r)"
                        % (what, g, fs, (g - fs) if isinstance(g, float)
                           else None))
                lo, digits = st
                sv = sum(d << (32 * j) for j, d in enumerate(digits)) \
                    << (32 * lo)
                if sv != units:
                    bad("%s: state %r is not the exact sum" % (what, st))
            elif kind in ("min", "max"):
                v, nv, isfloat = o[1], o[2], o[3]
                if v is None:
                    if g is not None or st is not None:
                        bad("%s: got %r (state %r), want NULL" % (what, g, st))
                    continue
                tp = float if isfloat else int
                if type(g) is not tp or g != v or st != [nv, v]:
                    bad("%s: got %r (state %r), want %r over %d values"
                        % (what, g, st, v, nv))
            elif kind == "distinct":
                exact = o[1]
                if type(g) is not int or \
                        abs(g - exact) > max(HLL_TOL * exact, 0.5):
                    bad("%s: estimate %r, exact %d: more than 3 standard "
                        "errors away" % (what, g, exact))
    for k in want:
        if k not in seen:
            bad("%s: row (%d, %r) missing" % (name, k[0], list(k[1])))
    if count != nrows:
        bad("%s: %s.rows says %d, table %s has %d" % (name, table, nrows,
                                                       tbl, count))
    if count != len(want):
        bad("%s: %d rows, want %d" % (name, count, len(want)))
    return horizon, count, kept


def cmd_check(args):
    builds = "--builds" in args
    prefix = "--prefix" in args
    args = [a for a in args if not a.startswith("--")]
    db, events, segdir = args[:3]
    specs = args[3:]
    oracle = Oracle(events)
    con = connect(db)
    bad = Problems()
    table = "lamina_builds" if builds else "lamina_views"
    con.execute("BEGIN")    # one snapshot for every view: rows and horizon
    for s in specs:
        r = check_view(con, oracle, s, table, prefix, segdir, bad)
        if r is not None:
            print("%s %s: horizon %d, %d rows, %d events: %s" % (
                table, s, r[0], r[1], r[2], "ok" if bad.n == 0 else "BAD"))
    con.execute("COMMIT")
    con.close()
    if bad.n:
        print("%d mismatches" % bad.n, file=sys.stderr)
        sys.exit(1)


def run_failed(log):
    """A failed run in the log of lamina-batchd, or None."""
    try:
        with open(log) as f:
            for line in f:
                if re.match(r"<4>lamina-batchd: run [0-9]+: ", line):
                    return line.rstrip("\n")
    except OSError:
        pass
    return None


def cmd_wait(args):
    db, table, view, least, timeout = args[:5]
    log = args[5] if len(args) > 5 else None
    least, deadline = int(least), time.time() + float(timeout)
    con = None
    while time.time() < deadline:
        failed = run_failed(log) if log else None
        if failed:
            print("%s: %s: gave up waiting for horizon %d: %s"
                  % (table, view, least, failed), file=sys.stderr)
            sys.exit(1)
        try:
            if con is None and os.path.exists(db):
                con = connect(db)
            if con is not None:
                # autocommit: each query sees the last commit
                r = con.execute("SELECT horizon FROM %s WHERE name = ?"
                                % table, (view,)).fetchall()
                if r and r[0][0] >= least:
                    print(r[0][0])
                    return
        except sqlite3.OperationalError:
            if con is not None:     # not created yet: open again
                con.close()
                con = None
        time.sleep(0.01)
    print("%s: %s: no horizon >= %d after %ss" % (table, view, least,
                                                   timeout), file=sys.stderr)
    sys.exit(1)


def cmd_dump(args):
    db, view = args
    con = connect(db)
    con.execute("BEGIN")
    tbl, = con.execute("SELECT tbl FROM lamina_views WHERE name = ?",
                       (view,)).fetchone()
    cur = con.execute("SELECT * FROM \"%s\" ORDER BY bucket, key" % tbl)
    names = [d[0] for d in cur.description]
    for r in cur:
        print("\t".join("%s=%s" % (n, v.hex() if isinstance(v, bytes)
                                   else repr(v)) for n, v in zip(names, r)))
    con.execute("COMMIT")


def cmd_sql(args):
    db, sql = args
    con = connect(db)
    for r in con.execute(sql):
        print("\t".join(str(v) for v in r))


def rfc3339(secs):
    """msgjson_time_str's form of a bucket's start."""
    t = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=secs)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".000000000Z"


def cli_value(o, g):
    """Whether g, a metric's JSON value, is what the oracle's o says."""
    if o[0] == "count":
        return type(g) is int and g == o[1]
    if o[0] == "isum":
        if -(1 << 63) <= o[1] < (1 << 63):
            return type(g) is int and g == o[1]
        return type(g) is float and g == float(o[1])
    if o[0] == "fsum":
        return type(g) is float and g == o[1]
    if o[0] in ("min", "max"):
        if o[1] is None:
            return g is None
        return type(g) is (float if o[3] else int) and g == o[1]
    if o[0] == "distinct":
        return type(g) is int and abs(g - o[1]) <= max(HLL_TOL * o[1], 0.5)
    return False


def cmd_cli(args):
    order, limit = None, None
    if "--order" in args:
        i = args.index("--order")
        order = args[i + 1]
        del args[i:i + 2]
    if "--limit" in args:
        i = args.index("--limit")
        limit = int(args[i + 1])
        del args[i:i + 2]
    db, events, spec_name, out = args
    name = spec_name.split("@")[0]
    spec = SPECS[spec_name]
    bad = Problems()
    con = connect(db)
    fp, horizon, nrows, nevents = con.execute(
        "SELECT fingerprint, horizon, rows, events FROM lamina_views "
        "WHERE name = ?", (name,)).fetchone()
    con.close()
    with open(out) as f:
        lines = [json.loads(line) for line in f]
    head = {"view": name, "fingerprint": fp, "horizon": horizon,
            "rows": nrows, "events": nevents}
    if not lines or lines[0] != head:
        bad("header %r, want %r" % (lines[:1], head))
    oracle = Oracle(events)
    if horizon != len(oracle.events):
        bad("horizon %d, want %d" % (horizon, len(oracle.events)))
    want, _ = oracle.rows(spec, horizon)

    def sort_key(k):
        kb = msgpack.packb(list(k[1]))
        if order is None:
            return (k[0], kb)
        return (-want[k][order][1], k[0], kb)
    keys = sorted(want, key=sort_key)[:limit]
    got = lines[1:]
    if len(got) != len(keys):
        bad("%d rows, want %d" % (len(got), len(keys)))
    gb = spec["group_by"]
    for k, g in zip(keys, got):
        where = "row (%d, %r)" % (k[0], list(k[1]))
        fields = ["bucket"] + gb + [m[0] for m in spec["metrics"]]
        if sorted(g) != sorted(fields):
            bad("%s: fields %r, want %r" % (where, sorted(g), fields))
            continue
        if g["bucket"] != rfc3339(k[0]) or [g[d] for d in gb] != list(k[1]):
            bad("%s: got bucket %r, dimensions %r" % (where, g["bucket"],
                                                     [g[d] for d in gb]))
            continue
        for mname, _, _ in spec["metrics"]:
            if not cli_value(want[k][mname], g[mname]):
                bad("%s: %s is %r, want %r" % (where, mname, g[mname],
                                               want[k][mname]))
    if bad.n:
        print("%d mismatches" % bad.n, file=sys.stderr)
        sys.exit(1)
    print("%s: %d rows: ok" % (name, len(got)))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"yaml": cmd_yaml, "check": cmd_check, "wait": cmd_wait,
     "dump": cmd_dump, "sql": cmd_sql, "cli": cmd_cli}[cmd](args)


if __name__ == "__main__":
    main()
