# Fluentd Forward v1 on forward.sock: every event mode and time form, each
# message with its own chunk id and acknowledged; every event is stored
# once, in order, with its event time to the nanosecond.  Entries that fail
# validation go to the quarantine with their reason while the rest of their
# chunk is stored; an unknown tag goes to _unknown.jsonl; such chunks are
# still acknowledged.  A message malformed as a whole closes the
# connection.
. "$LAMINA_TOP/tests/e2e/lib.sh"
watchdog 60

write_conf
start_ingestd

# Records carry no time field: the Forward time slot fills it.
R='"url":"/f","status":200,"bytes":1,"latency_ms":2.5'
"$PY" "$HELPERS/forward.py" "$FORWARD_SOCK" > "$T/acks" <<EOF || fail "forward: $(cat "$T/acks")"
{"mode":"message","tag":"pageviews","time":1700000000,"record":{$R,"user":"message-int"},"option":{"chunk":"c01"}}
{"mode":"message","tag":"pageviews","time":"1700000001.123456789","record":{$R,"user":"message-eventtime"},"option":{"chunk":"c02"}}
{"mode":"message","tag":"pageviews","time":{"time":"1700000002.000000007","meta":{"host":"h1"}},"record":{$R,"user":"message-metadata"},"option":{"chunk":"c03"}}
{"mode":"message","tag":"pageviews","time":1700000002,"record":{$R,"user":"message-no-chunk"}}
{"mode":"forward","tag":"pageviews","entries":[[1700000003,{$R,"user":"forward-1"}],["1700000003.999999999",{$R,"user":"forward-2"}],[{"time":"1700000003.5","meta":{}},{$R,"user":"forward-3"}]],"option":{"chunk":"c04"}}
{"mode":"packed","tag":"pageviews","entries":[[1700000004,{$R,"user":"packed-bin-1"}],["1700000004.000000001",{$R,"user":"packed-bin-2"}]],"option":{"chunk":"c05"}}
{"mode":"packed","encoding":"str","tag":"pageviews","entries":[[1700000005,{$R,"user":"packed-str-1"}],[1700000005,{$R,"user":"packed-str-2"}]],"option":{"chunk":"c06"}}
{"mode":"compressed","members":3,"tag":"pageviews","entries":[[1700000006,{$R,"user":"gzip-1"}],[1700000006,{$R,"user":"gzip-2"}],["1700000006.25",{$R,"user":"gzip-3"}],[1700000006,{$R,"user":"gzip-4"}],[1700000006,{$R,"user":"gzip-5"}],[1700000006,{$R,"user":"gzip-6"}]],"option":{"chunk":"c07","compressed":"gzip","size":6}}
{"mode":"nil"}
{"mode":"packed","tag":"pageviews","entries":[[1700000007,{$R,"user":"text-1"}]],"option":{"chunk":"c08","compressed":"text"}}
{"mode":"packed","encoding":"str","tag":"pageviews","entries":[[1700000008,{$R,"user":"size-bytes-1"}],[1700000008,{$R,"user":"size-bytes-2"}]],"option":{"chunk":"c09","size":187,"eventEntryDataSize":187}}
{"mode":"forward","tag":"pageviews","entries":[[1700000009,{$R,"user":"valid-1"}],[1700000009,{$R,"user":"bad-type","status":"x"}],[1700000009.5,{$R,"user":"bad-float-time"}],[1700000009,{$R,"user":"bad-field","colour":"red"}],[1700000009,{$R,"user":"valid-2"}]],"option":{"chunk":"c10"}}
{"mode":"message","tag":"no.such.tag","time":1700000010,"record":{$R,"user":"unknown-tag"},"option":{"chunk":"c11"}}
{"mode":"forward","tag":"pageviews","entries":[[1700000011,{"user":"all-bad"}]],"option":{"chunk":"c12"}}
EOF
expect_file_is "acks" "$T/acks" <<EOF
ack c01
ack c02
ack c03
ack c04
ack c05
ack c06
ack c07
ack c08
ack c09
ack c10
ack c11
ack c12
EOF

"$BIN/lamina" -c "$CONF" dump pageviews > "$T/dump.jsonl"
"$PY" "$HELPERS/jsonl.py" "$T/dump.jsonl" _offset user _event_time url > "$T/got"
expect_file_is "stored events" "$T/got" <<'EOF'
0	message-int	2023-11-14T22:13:20.000000000Z	/f
1	message-eventtime	2023-11-14T22:13:21.123456789Z	/f
2	message-metadata	2023-11-14T22:13:22.000000007Z	/f
3	message-no-chunk	2023-11-14T22:13:22.000000000Z	/f
4	forward-1	2023-11-14T22:13:23.000000000Z	/f
5	forward-2	2023-11-14T22:13:23.999999999Z	/f
6	forward-3	2023-11-14T22:13:23.500000000Z	/f
7	packed-bin-1	2023-11-14T22:13:24.000000000Z	/f
8	packed-bin-2	2023-11-14T22:13:24.000000001Z	/f
9	packed-str-1	2023-11-14T22:13:25.000000000Z	/f
10	packed-str-2	2023-11-14T22:13:25.000000000Z	/f
11	gzip-1	2023-11-14T22:13:26.000000000Z	/f
12	gzip-2	2023-11-14T22:13:26.000000000Z	/f
13	gzip-3	2023-11-14T22:13:26.250000000Z	/f
14	gzip-4	2023-11-14T22:13:26.000000000Z	/f
15	gzip-5	2023-11-14T22:13:26.000000000Z	/f
16	gzip-6	2023-11-14T22:13:26.000000000Z	/f
17	text-1	2023-11-14T22:13:27.000000000Z	/f
18	size-bytes-1	2023-11-14T22:13:28.000000000Z	/f
19	size-bytes-2	2023-11-14T22:13:28.000000000Z	/f
20	valid-1	2023-11-14T22:13:29.000000000Z	/f
21	valid-2	2023-11-14T22:13:29.000000000Z	/f
EOF

"$PY" "$HELPERS/jsonl.py" "$T/data/quarantine/pageviews.jsonl" tag reason event.user > "$T/got"
expect_file_is "quarantine" "$T/got" <<'EOF'
pageviews	entry 1: field status: expected int, got string	bad-type
pageviews	entry 2: time: a float is not a valid Forward time	bad-float-time
pageviews	entry 3: field colour: not in the schema of stream pageviews	bad-field
pageviews	entry 0: field url: required but missing	all-bad
EOF
"$PY" "$HELPERS/jsonl.py" "$T/data/quarantine/_unknown.jsonl" tag reason event > "$T/got"
expect_file_is "quarantine of unknown tags" "$T/got" <<'EOF'
no.such.tag	no stream named no.such.tag	{"bytes": 1, "latency_ms": 2.5, "status": 200, "url": "/f", "user": "unknown-tag"}
EOF

expect_eq "forward messages" "$(ingestd_status forward.messages)" 14
expect_eq "quarantined in pageviews" "$(ingestd_status streams.pageviews.quarantined)" 4
expect_eq "quarantined in all" "$(ingestd_status events.quarantined)" 5
expect_eq "bad messages" "$(ingestd_status forward.bad_messages)" 0

# A message that is not Forward at all closes its connection, is counted
# and logged; the daemon goes on serving.
out=$(echo '{"mode":"raw","value":["pageviews"],"expect":"close"}' |
    "$PY" "$HELPERS/forward.py" "$FORWARD_SOCK")
expect_eq "malformed message" "$out" closed
expect_eq "bad messages" "$(ingestd_status forward.bad_messages)" 1
grep -q '^<4>lamina-ingestd: forward: client [0-9]*: expected an array of 2 to 4 elements, got 1; closing$' "$LOG" ||
    fail "no log line for the malformed message: $(cat "$LOG")"

# A chunk with no entries at all is acknowledged too (nothing to store).
out=$(echo '{"mode":"forward","tag":"pageviews","entries":[],"option":{"chunk":"c13"}}' |
    "$PY" "$HELPERS/forward.py" "$FORWARD_SOCK")
expect_eq "empty chunk" "$out" "ack c13"

expect_eq "events stored" "$(dump_count)" 22
stop_ingestd
exit 0
