#!/usr/bin/python3
"""Print chosen fields of JSON lines, tab-separated, one line per input line.

    jsonl.py FILE FIELD...

A FIELD may be dotted (event.user).  Strings print as they are, other
values as JSON, a missing field as "-".
"""

import json
import sys


def get(obj, path):
    for k in path.split("."):
        if not isinstance(obj, dict) or k not in obj:
            return "-"
        obj = obj[k]
    return obj if isinstance(obj, str) else json.dumps(obj, sort_keys=True)


with open(sys.argv[1]) as f:
    for line in f:
        o = json.loads(line)
        print("\t".join(get(o, k) for k in sys.argv[2:]))
