# Fluentd Forward on a loopback TCP port (ingest.forward_tcp) with its UDP
# heartbeat, and durability fsync: interval: a chunk sent over TCP is
# acknowledged and stored once, a UDP heartbeat byte is answered, a
# non-loopback address is refused at start.
. "$LAMINA_TOP/tests/e2e/lib.sh"
watchdog 60

# A free loopback port, chosen by the kernel.
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
write_conf
sed -i "s/^ingest:/ingest:\n  forward_tcp: 127.0.0.1:$port\n  fsync: interval\n  fsync_interval: 50ms/" "$CONF"
start_ingestd
grep -q "forward: listening on 127.0.0.1:$port (tcp and udp heartbeat)" "$LOG" ||
    fail "no tcp listener: $(cat "$LOG")"

"$PY" - "$port" <<'PYEOF' || fail "forward over tcp"
import msgpack, socket, struct, sys
port = int(sys.argv[1])
ev = {"url": "/tcp", "user": "u", "status": 200, "bytes": 1,
      "latency_ms": 0.5}
et = msgpack.ExtType(0, struct.pack(">II", 1700000000, 123456789))
entries = msgpack.packb([et, ev]) + msgpack.packb([et, dict(ev, url="/t2")])
s = socket.create_connection(("127.0.0.1", port), timeout=10)
u = msgpack.Unpacker(raw=False)
for attempt in range(2):          # the second time: a retry, stored once
    s.sendall(msgpack.packb(["pageviews", entries, {"chunk": "tcp-1"}]))
    while True:
        u.feed(s.recv(100))
        got = list(u)
        if got:
            break
    assert got == [{"ack": "tcp-1"}], got
# The UDP heartbeat on the same port: 0x00 answered with 0x00.
d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
d.settimeout(10)
d.sendto(b"\x00", ("127.0.0.1", port))
data, _ = d.recvfrom(16)
assert data == b"\x00", data
PYEOF

"$BIN/lamina" -c "$CONF" dump pageviews > "$T/dump.jsonl" || fail "dump"
expect_eq "stored once" "$(grep -c . "$T/dump.jsonl")" 2
grep -q '"url":"/tcp".*"_event_time":"2023-11-14T22:13:20.123456789Z"' \
    "$T/dump.jsonl" || fail "event: $(cat "$T/dump.jsonl")"
stop_ingestd

# Only loopback addresses are accepted.
sed -i "s/forward_tcp: 127.0.0.1:$port/forward_tcp: 0.0.0.0:$port/" "$CONF"
out=$("$BIN/lamina-ingestd" -t -c "$CONF" 2>&1)
expect_eq "non-loopback: exit" $? 1
case "$out" in
*"ingest.forward_tcp"*) ;;
*) fail "non-loopback refused without naming the key: $out" ;;
esac
exit 0
