#!/usr/bin/python3
"""A client waiting for lamina-batchd's next run, for the shutdown tests.

    batch_waiter.py SOCK OUT

Sends "run" and then "status" on one connection.  Requests on a connection
are handled in order, so once the status answer is in, the run request is
registered: "registered" is printed then (the test waits for it before it
signals the daemon).  Then waits for the run's answer and writes it to OUT
as JSON, [error, result], or "closed" if the daemon closed the connection
without answering.
"""

import json
import sys

from lamina_client import Rpc


def main():
    sock, out = sys.argv[1], sys.argv[2]
    rpc = Rpc(sock, timeout=60.0)
    run = rpc.request("run", [])
    status = rpc.request("status", [])
    got, error, _ = rpc.response()
    if got != status or error is not None:
        print("unexpected first answer: %r %r" % (got, error))
        return 1
    print("registered", flush=True)
    try:
        got, error, result = rpc.response()
    except (EOFError, ConnectionResetError):
        with open(out, "w") as f:
            f.write("closed\n")
        return 0
    if got != run:
        print("answer to %d, expected %d" % (got, run))
        return 1
    with open(out, "w") as f:
        f.write(json.dumps([error, result], sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
