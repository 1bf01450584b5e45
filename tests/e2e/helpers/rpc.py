#!/usr/bin/python3
"""MessagePack-RPC from the shell, for the end-to-end tests.

    rpc.py SOCK call METHOD PARAMS   PARAMS as JSON (any value, to test
                                     bad ones); prints the error as JSON
                                     and exits 1, or prints the result
                                     ("closed", exit 2: no answer)
    rpc.py SOCK raw MESSAGE          sends MESSAGE (JSON) as it is; prints
                                     the response, or "closed" if the
                                     daemon closes the connection instead
    rpc.py SOCK get KEY.KEY...       one value of the status map
    rpc.py SOCK probe                prints "accepted", or "refused" if
                                     nobody listens (no socket file, or a
                                     stale one)
"""

import json
import sys

from lamina_client import Rpc


def show(v):
    return json.dumps(v, sort_keys=True)


def main():
    sock, what = sys.argv[1], sys.argv[2]
    if what == "probe":
        try:
            Rpc(sock).close()
            print("accepted")
        except (FileNotFoundError, ConnectionRefusedError):
            print("refused")
        return 0
    rpc = Rpc(sock)
    if what == "call":
        try:
            error, result = rpc.call(sys.argv[3], json.loads(sys.argv[4]))
        except (EOFError, ConnectionResetError):
            print("closed")
            return 2
        if error is not None:
            print(show(error))
            return 1
        print(show(result))
    elif what == "raw":
        rpc.send(json.loads(sys.argv[3]))
        try:
            print(show(rpc.recv()))
        except (EOFError, ConnectionResetError):
            print("closed")
    elif what == "get":
        error, v = rpc.call("status", [])
        if error is not None:
            print(show(error))
            return 1
        for k in sys.argv[3].split("."):
            v = v[k]
        print(v if isinstance(v, str) else show(v))
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
