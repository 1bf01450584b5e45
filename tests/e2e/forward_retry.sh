# Exactly-once Forward: a chunk sent again (the shipper missed the ack) is
# acknowledged again but stored once, with the same or different content,
# back to back on one connection, after a clean restart (the id set is
# rebuilt from the log) and after a kill -9 that came before the shipper
# read its ack.
. "$LAMINA_TOP/tests/e2e/lib.sh"
watchdog 60

write_conf
start_ingestd

R='"url":"/r","status":200,"bytes":1,"latency_ms":2.5'
A='Y2h1bmstYS0wMTIzNDU2Nw=='	# base64 of 16 bytes, as shippers send
B='Y2h1bmstYi0wMTIzNDU2Nw=='
C='Y2h1bmstYy0wMTIzNDU2Nw=='
CHUNK_A="{\"mode\":\"forward\",\"tag\":\"pageviews\",\"entries\":[[1700000000,{$R,\"user\":\"a1\"}],[1700000000,{$R,\"user\":\"a2\"}]],\"option\":{\"chunk\":\"$A\"}}"
CHUNK_A2="{\"mode\":\"packed\",\"tag\":\"pageviews\",\"entries\":[[1700000000,{$R,\"user\":\"x1\"}],[1700000000,{$R,\"user\":\"x2\"}],[1700000000,{$R,\"user\":\"x3\"}]],\"option\":{\"chunk\":\"$A\"}}"
CHUNK_B="{\"mode\":\"forward\",\"tag\":\"pageviews\",\"entries\":[[1700000001,{$R,\"user\":\"b1\"}],[1700000001,{$R,\"user\":\"b2\"}],[1700000001,{$R,\"user\":\"b3\"}]],\"option\":{\"chunk\":\"$B\"}}"
CHUNK_C="{\"mode\":\"message\",\"tag\":\"pageviews\",\"time\":1700000002,\"record\":{$R,\"user\":\"c1\"},\"option\":{\"chunk\":\"$C\"}}"

# send_chunks [--pipeline] EXPECTED-OUTPUT < MESSAGES
send_chunks() {
	_opt=""
	[ "$1" = --pipeline ] && { _opt=$1; shift; }
	_out=$("$PY" "$HELPERS/forward.py" "$FORWARD_SOCK" $_opt) ||
	    fail "forward: $_out"
	expect_eq "acks" "$_out" "$1"
}
users() {
	"$BIN/lamina" -c "$CONF" dump pageviews |
	    "$PY" "$HELPERS/jsonl.py" /dev/stdin user | tr '\n' ' '
}

echo "$CHUNK_A" | send_chunks "ack $A"
expect_eq "first copy" "$(users)" "a1 a2 "
echo "$CHUNK_A" | send_chunks "ack $A"
expect_eq "same chunk again" "$(users)" "a1 a2 "
echo "$CHUNK_A2" | send_chunks "ack $A"
expect_eq "same id, other content" "$(users)" "a1 a2 "
expect_eq "duplicate chunks" "$(ingestd_status forward.duplicate_chunks)" 2

# Back to back on one connection: the copy arrives while the first one is
# still being made durable.
printf '%s\n' "$CHUNK_C" "$CHUNK_C" "$CHUNK_C" |
    send_chunks --pipeline "ack $C
ack $C
ack $C"
expect_eq "pipelined copies" "$(users)" "a1 a2 c1 "

# After a clean restart the ids are known again, from the log.
stop_ingestd
start_ingestd
expect_eq "chunk ids after restart" "$(ingestd_status forward.chunk_ids)" 2
printf '%s\n' "$CHUNK_A" "$CHUNK_C" | send_chunks "ack $A
ack $C"
expect_eq "after restart" "$(users)" "a1 a2 c1 "

# The shipper sends B and never reads the ack: B is durable (committed
# says so), then lamina-ingestd is killed.  B sent again after the restart
# is acknowledged and not stored twice.
echo "$CHUNK_B" | "$PY" "$HELPERS/forward.py" "$FORWARD_SOCK" --no-wait &
SHIPPER=$!
PIDS="$PIDS $SHIPPER"
committed_is() { [ "$(ingestd_status streams.pageviews.committed)" = "$1" ]; }
wait_for 10 committed_is 6 || fail "chunk B not committed"
kill9_ingestd
wait "$SHIPPER"
forget_pid "$SHIPPER"
start_ingestd
echo "$CHUNK_B" | send_chunks "ack $B"
expect_eq "after kill -9" "$(users)" "a1 a2 c1 b1 b2 b3 "

stop_ingestd
exit 0
