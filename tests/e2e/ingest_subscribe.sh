# subscribe on ingest.sock: the answer is every stream's committed offset,
# then a "committed" notification follows each commit that moved it, from
# appends and from Forward chunks alike.  status counts the subscribers.
. "$LAMINA_TOP/tests/e2e/lib.sh"
watchdog 60

write_conf
start_ingestd
"$PY" "$HELPERS/gen_pageviews.py" 8 > "$T/sent.jsonl"
head -5 "$T/sent.jsonl" | "$BIN/lamina" -c "$CONF" send pageviews > /dev/null ||
    fail "send"

"$PY" "$HELPERS/follow.py" "$INGEST_SOCK" pageviews 9 > "$T/follow" &
FOLLOWER=$!
PIDS="$PIDS $FOLLOWER"
wait_for 10 grep -q . "$T/follow" || fail "no answer to subscribe"

tail -3 "$T/sent.jsonl" | "$BIN/lamina" -c "$CONF" send pageviews > /dev/null ||
    fail "send"
out=$(echo '{"mode":"message","tag":"pageviews","time":1700000000,"record":{"url":"/","user":"f","status":200,"bytes":1,"latency_ms":1.0},"option":{"chunk":"sub1"}}' |
    "$PY" "$HELPERS/forward.py" "$FORWARD_SOCK")
expect_eq "forward" "$out" "ack sub1"
wait "$FOLLOWER"
expect_eq "follower exit" $? 0
forget_pid "$FOLLOWER"
expect_file_is "subscription" "$T/follow" <<'EOF'
{"pageviews": 5}
[{"pageviews": 8}]
[{"pageviews": 9}]
subscribers 1
EOF

# The subscriber is gone.
subscribers_are() { [ "$(ingestd_status subscribers)" = "$1" ]; }
wait_for 5 subscribers_are 0 || fail "subscribers: $(ingestd_status subscribers)"
stop_ingestd
exit 0
