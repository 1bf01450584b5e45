"""Minimal clients for lamina-ingestd's sockets, for the end-to-end tests.

Rpc speaks MessagePack-RPC on ingest.sock ([0, msgid, method, params] ->
[1, msgid, error, result]); Forward builds Fluentd Forward v1 frames for
forward.sock and reads the {"ack": chunk} answers.  Both use blocking Unix
sockets with a timeout, so a test that hangs fails instead.

Needs Debian's /usr/bin/python3 (python3-msgpack).
"""

import gzip
import socket
import struct

import msgpack


def connect(path, timeout=10.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def event_time(text):
    """An EventTime (ext 0) from "SECONDS.NANOSECONDS"."""
    secs, _, frac = text.partition(".")
    nsec = int((frac + "000000000")[:9])
    return msgpack.ExtType(0, struct.pack(">II", int(secs), nsec))


class Conn:
    """A stream of msgpack objects over a Unix socket."""

    def __init__(self, path, timeout=10.0):
        self.sock = connect(path, timeout)
        self.unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)

    def send(self, obj):
        self.sock.sendall(msgpack.packb(obj, use_bin_type=True))

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv(self):
        """The next object; EOFError when the peer closes first."""
        while True:
            try:
                return next(self.unpacker)
            except StopIteration:
                pass
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed")
            self.unpacker.feed(data)

    def closed_by_peer(self):
        """True if the peer closes without sending anything more (within
        the timeout)."""
        try:
            self.recv()
            return False
        except (EOFError, ConnectionResetError):
            return True
        except TimeoutError:
            return False

    def close(self):
        self.sock.close()


class Rpc(Conn):
    msgid = 0

    def request(self, method, params):
        self.msgid += 1
        self.send([0, self.msgid, method, params])
        return self.msgid

    def response(self):
        """(msgid, error, result) of the next response."""
        msg = self.recv()
        if not (isinstance(msg, list) and len(msg) == 4 and msg[0] == 1):
            raise ValueError("not a response: %r" % (msg,))
        return msg[1], msg[2], msg[3]

    def call(self, method, params):
        """(error, result) of one call."""
        msgid = self.request(method, params)
        got, error, result = self.response()
        if got != msgid:
            raise ValueError("response to %d, expected %d" % (got, msgid))
        return error, result


def forward_frame(spec):
    """A Forward message from a dict (see forward.py for the fields)."""

    def time_slot(t):
        if isinstance(t, str):
            return event_time(t)
        if isinstance(t, dict):
            return [event_time(t["time"]), t["meta"]]
        return t        # int, or a float (invalid in Forward)

    entries = [[time_slot(t), rec] for t, rec in spec.get("entries", [])]
    option = spec.get("option")
    mode = spec["mode"]
    if mode == "message":
        frame = [spec["tag"], time_slot(spec["time"]), spec["record"]]
    elif mode == "forward":
        frame = [spec["tag"], entries]
    elif mode in ("packed", "compressed"):
        packed = [msgpack.packb(e, use_bin_type=True) for e in entries]
        if mode == "compressed":
            # One gzip member per group of entries, concatenated.
            n = spec.get("members", 1)
            k = -(-len(packed) // n)
            groups = [packed[i * k:(i + 1) * k] for i in range(n)]
            data = b"".join(gzip.compress(b"".join(g)) for g in groups)
        else:
            data = b"".join(packed)
        if spec.get("encoding", "bin") == "str":
            # Fluentd's out_forward: raw bytes with a str32 header.
            body = b"\xdb" + struct.pack(">I", len(data)) + data
        else:
            body = msgpack.packb(data, use_bin_type=True)
        # [tag, body, option?] by hand: a fixarray header, the tag (packed
        # in a one-element array, whose header is cut), the body.
        n = 3 if option is not None else 2
        tag = msgpack.packb([spec["tag"]], use_bin_type=True)[1:]
        out = bytes([0x90 | n]) + tag + body
        if option is not None:
            out += msgpack.packb(option, use_bin_type=True)
        return out
    elif mode == "nil":
        return msgpack.packb(None)
    elif mode == "raw":
        return msgpack.packb(spec["value"], use_bin_type=True)
    else:
        raise ValueError("unknown mode %s" % mode)
    if option is not None:
        frame.append(option)
    return msgpack.packb(frame, use_bin_type=True)
