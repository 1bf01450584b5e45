#!/usr/bin/python3
"""Subscribe to lamina-ingestd's committed offsets, as speedd will.

    follow.py SOCK STREAM UNTIL

Prints the subscribe result, then the params of every "committed"
notification, until STREAM's committed offset reaches UNTIL; then asks
status on the same connection and prints "subscribers N".  One JSON line
each, flushed at once, so a test can wait for the first line before it
appends.
"""

import json
import sys

from lamina_client import Rpc


def main():
    sock, stream, until = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rpc = Rpc(sock, timeout=20)
    error, result = rpc.call("subscribe", [])
    print(json.dumps(error if error is not None else result), flush=True)
    offset = result.get(stream, 0) if error is None else until
    while offset < until:
        msg = rpc.recv()
        if msg[:2] != [2, "committed"]:
            print("unexpected: %r" % (msg,), flush=True)
            return 1
        print(json.dumps(msg[2]), flush=True)
        offset = msg[2][0].get(stream, offset)
    error, status = rpc.call("status", [])
    print("subscribers", status["subscribers"], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
