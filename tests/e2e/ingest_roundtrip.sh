# lamina send, then lamina dump: every field of every event comes back
# exactly, at offsets 0..N-1, with its event time.  Then refusals: a bad
# event refuses its whole batch with the line and the reason; an unknown
# stream and invalid JSON are named; RPC requests with an unknown method or
# bad params get the documented [code, message] errors; nothing refused is
# stored.
. "$LAMINA_TOP/tests/e2e/lib.sh"
watchdog 60

write_conf
start_ingestd
expect_log_lines <<EOF
<6>lamina-ingestd: pageviews: 0 sealed segments, active 00000000000000000000.seg with 0 records, next offset 0
<6>lamina-ingestd: ready: 1 streams, ingest $INGEST_SOCK, forward $FORWARD_SOCK
EOF

lamina() { "$BIN/lamina" -c "$CONF" "$@"; }

# --- round trip: 5000 events, three batches (2000 per batch) ----------
"$PY" "$HELPERS/gen_pageviews.py" 5000 > "$T/sent.jsonl"
out=$(lamina send pageviews "$T/sent.jsonl") || fail "send: $out"
expect_eq "send" "$out" "stored from offset 0
sent 5000 events to pageviews"
lamina dump pageviews > "$T/dump.jsonl" || fail "dump failed"
"$PY" "$HELPERS/check_roundtrip.py" "$T/sent.jsonl" "$T/dump.jsonl" ||
    fail "dump differs from what was sent"
lamina dump pageviews --from 4990 --limit 5 > "$T/part.jsonl"
sed -n 4991,4995p "$T/sent.jsonl" > "$T/sent-part.jsonl"
"$PY" "$HELPERS/check_roundtrip.py" "$T/sent-part.jsonl" "$T/part.jsonl" 4990 ||
    fail "dump --from 4990 --limit 5"
# Options that are not numbers, or too large for one: exit 2, named.
lamina dump pageviews --from 12x > /dev/null 2> "$T/opt.err"
expect_eq "dump --from 12x: exit status" $? 2
expect_eq "dump --from 12x: message" "$(cat "$T/opt.err")" \
    "lamina: dump: --from: not a number: 12x"
lamina dump pageviews --limit 18446744073709551616 > /dev/null 2> "$T/opt.err"
expect_eq "dump --limit 2^64: exit status" $? 2
expect_eq "dump --limit 2^64: message" "$(cat "$T/opt.err")" \
    "lamina: dump: --limit: too large (at most 18446744073709551615): \
18446744073709551616"

# --- refusals by lamina send ----------------------------------------
# send_refused NAME EXPECTED-STDERR < INPUT: exit 1, exactly that stderr,
# and the stream unchanged.
send_refused() {
	cat > "$T/$1.jsonl"
	before=$(dump_count)
	lamina send pageviews "$T/$1.jsonl" >"$T/$1.out" 2>"$T/$1.err"
	expect_eq "$1: exit status" $? 1
	expect_eq "$1: stderr" "$(cat "$T/$1.err")" "$2"
	expect_eq "$1: events in the stream" "$(dump_count)" "$before"
}
ok='{"url":"/","user":"ok","status":200,"bytes":1,"latency_ms":1.0,"time":1.5}'

send_refused wrong-type "lamina: send: line 3: field status: expected int, got string
lamina: send: 0 events stored before the error; none after it" <<EOF
$ok
$ok
{"url":"/","user":"bad","status":"200","bytes":1,"latency_ms":1.0,"time":1.5}
$ok
EOF

send_refused missing-field "lamina: send: line 2: field latency_ms: required but missing
lamina: send: 0 events stored before the error; none after it" <<EOF
$ok
{"url":"/","user":"bad","status":200,"bytes":1,"time":1.5}
EOF

send_refused unknown-field "lamina: send: line 1: field colour: not in the schema of stream pageviews
lamina: send: 0 events stored before the error; none after it" <<EOF
{"url":"/","user":"bad","status":200,"bytes":1,"latency_ms":1.0,"time":1.5,"colour":"red"}
EOF

echo "$ok" > "$T/unknown-stream.jsonl"
lamina send nosuch "$T/unknown-stream.jsonl" >/dev/null 2>"$T/unknown-stream.err"
expect_eq "unknown stream: exit status" $? 1
expect_eq "unknown stream" "$(cat "$T/unknown-stream.err")" \
    "lamina: send: no stream nosuch in $CONF"

send_refused not-an-object "lamina: send: line 2: expected a JSON object
lamina: send: 0 events stored before the error; none after it" <<EOF
$ok
[1, 2]
EOF

send_refused bad-json "lamina: send: line 2: invalid JSON: unexpected character
lamina: send: 0 events stored before the error; none after it" <<EOF
$ok
{"url": }
EOF

send_refused trailing-data "lamina: send: line 1: invalid JSON: data after the value
lamina: send: 0 events stored before the error; none after it" <<EOF
{"url": "/"} x
EOF

# The first batch of 2000 is stored; the second, with the bad line, not.
{ sed -n 1,2299p "$T/sent.jsonl"
  echo '{"url":"/","user":"bad","status":200,"bytes":1.5,"latency_ms":1.0,"time":1.5}'
  sed -n 2300,2400p "$T/sent.jsonl"; } > "$T/second-batch.in"
before=$(dump_count)
lamina send pageviews "$T/second-batch.in" >"$T/second-batch.out" 2>"$T/second-batch.err"
expect_eq "second-batch: exit status" $? 1
expect_eq "second-batch: stdout" "$(cat "$T/second-batch.out")" "stored from offset 5000"
expect_eq "second-batch: stderr" "$(cat "$T/second-batch.err")" \
    "lamina: send: line 2300: field bytes: expected int, got float
lamina: send: 2000 events stored before the error; none after it"
expect_eq "second-batch: events in the stream" "$(dump_count)" $((before + 2000))

# --- refusals over MessagePack-RPC (codes from common/proto.h) -------
# rpc_error NAME METHOD PARAMS EXPECTED-ERROR
rpc_error() {
	out=$("$PY" "$HELPERS/rpc.py" "$INGEST_SOCK" call "$2" "$3")
	expect_eq "$1: exit status" $? 1
	expect_eq "$1" "$out" "$4"
}
ev='{"url":"/","user":"r","status":200,"bytes":1,"latency_ms":1.0,"time":1.5}'
rpc_error no-method apend '[]' '[1, "no such method: apend"]'
rpc_error no-method-quoted "$(printf 'ap\001')" '[]' '[1, "no such method: ap\\x01"]'
rpc_error no-stream-param append '["pageviews"]' '[2, "append: expected [stream, events]"]'
rpc_error stream-not-str append '[42, []]' '[2, "append: expected [stream, events]"]'
rpc_error events-not-array append '["pageviews", {}]' '[2, "append: events: expected array, got map"]'
rpc_error extra-param append "[\"pageviews\", [$ev], 1]" '[2, "append: expected [stream, events]"]'
rpc_error no-stream append "[\"nosuch\", [$ev]]" '[5, "append: no stream nosuch"]'
rpc_error wrong-type append '["pageviews", [{"url": 1}]]' '[6, "event 0: field url: expected string, got integer"]'
rpc_error second-event append "[\"pageviews\", [$ev, {\"url\": \"/\"}]]" '[6, "event 1: field user: required but missing"]'
rpc_error status-params status '[1]' '[2, "status: expected no params"]'
rpc_error params-not-array status '{}' '[3, "params: expected array, got map"]'

# rpc_raw NAME MESSAGE EXPECTED-ANSWER
rpc_raw() {
	expect_eq "$1" "$("$PY" "$HELPERS/rpc.py" "$INGEST_SOCK" raw "$2")" "$3"
}
rpc_raw three-elements '[0, 7, "status"]' '[1, 7, [3, "request has 3 elements, expected 4"], null]'
rpc_raw message-type '[5, 7, "status", []]' '[1, 7, [3, "unknown message type 5"], null]'
rpc_raw response '[1, 7, null, null]' '[1, 7, [3, "unexpected response message"], null]'
rpc_raw method-type '[0, 7, 3, []]' '[1, 7, [3, "method: expected string, got integer"], null]'
rpc_raw not-an-array '"hello"' closed
rpc_raw no-msgid '[0, -1, "status", []]' closed

expect_eq "events after the refusals" "$(dump_count)" 7000
expect_eq "status: accepted" "$(ingestd_status streams.pageviews.accepted)" 7000
expect_eq "status: committed" "$(ingestd_status streams.pageviews.committed)" 7000
expect_eq "status: protocol errors" "$(ingestd_status clients.protocol_errors)" 2

# A line cut short is refused with its line number and a reason a person
# can act on.  (json-c's own word for it, "continue", is no reason.)
printf '%s\n' "$ok" '{"url": "/",' > "$T/truncated.jsonl"
lamina send pageviews "$T/truncated.jsonl" >/dev/null 2>"$T/truncated.err"
expect_eq "truncated: exit status" $? 1
msg=$(head -1 "$T/truncated.err")
case "$msg" in
"lamina: send: line 2: invalid JSON: continue")
	fail "truncated line: no reason given: [$msg]" ;;
"lamina: send: line 2: invalid JSON: "?*) ;;
*)	fail "truncated line: [$msg]" ;;
esac
expect_eq "truncated: events in the stream" "$(dump_count)" 7000

# hello with another protocol version: error 7, then the daemon closes the
# connection (after sending the error).
rpc_error hello-version hello '["cli", 99]' '[7, "hello: protocol version 99 is not 1"]'
expect_eq "status after hello" "$(ingestd_status streams.pageviews.committed)" 7000

stop_ingestd
exit 0
