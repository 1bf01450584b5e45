# A crash in the middle of writing a Forward chunk, before its ack: the
# records written so far survive (each is whole, with a good CRC), the
# rest, with the record that carries the chunk id, is torn off.  The
# shipper got no ack and sends the chunk again: it must end up stored
# exactly once, not its first part twice.
#
# The crash is made by hand: the chunk is stored, lamina-ingestd stopped,
# and the segment cut inside the chunk's last record, which is what a
# power cut (pages written back in part) or a kill -9 during a write that
# spans pages leaves on disk.
. "$LAMINA_TOP/tests/e2e/lib.sh"
watchdog 60

write_conf
start_ingestd

R='"url":"/t","status":200,"bytes":1,"latency_ms":2.5'
K='Y2h1bmstdG9ybi0wMTIzNDU2Nw=='
CHUNK="{\"mode\":\"forward\",\"tag\":\"pageviews\",\"entries\":[[1700000000,{$R,\"user\":\"k1\"}],[1700000000,{$R,\"user\":\"k2\"}],[1700000000,{$R,\"user\":\"k3\"}]],\"option\":{\"chunk\":\"$K\"}}"
users() {
	"$BIN/lamina" -c "$CONF" dump pageviews |
	    "$PY" "$HELPERS/jsonl.py" /dev/stdin user | tr '\n' ' '
}

out=$(echo "$CHUNK" | "$PY" "$HELPERS/forward.py" "$FORWARD_SOCK")
expect_eq "ack" "$out" "ack $K"
stop_ingestd

seg="$SEGDIR/00000000000000000000.seg"
set -- $("$PY" "$HELPERS/segment.py" records "$seg" | tail -1)
expect_eq "last record" "$1" 2
truncate -s $(($2 + 10)) "$seg"
start_ingestd
grep -q '^<4>lamina-ingestd: pageviews: 00000000000000000000.seg: truncated a torn tail: ' "$LOG" ||
    fail "no torn tail reported: $(cat "$LOG")"

out=$(echo "$CHUNK" | "$PY" "$HELPERS/forward.py" "$FORWARD_SOCK")
expect_eq "ack of the retry" "$out" "ack $K"
expect_eq "after the retry: the chunk once" "$(users)" "k1 k2 k3 "

stop_ingestd
exit 0
