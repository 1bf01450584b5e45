# kill -9 under load, three times: four connections append batches with
# unique ids over ingest.sock and record every acknowledgement as it
# arrives; after about a second of load (segments sealing all the while)
# lamina-ingestd is killed and restarted.  Every acknowledged event must be
# stored exactly once at the offset its acknowledgement gave, no event
# twice, offsets dense 0..N-1.  A dump taken under load sees every event
# acknowledged before it started.  The second round runs with zero fill
# written ahead (ingest.preallocate), which recovery must cut.
. "$LAMINA_TOP/tests/e2e/lib.sh"
watchdog 60

# conf_for_round N: 64KiB segments; in round 2, 128KiB with 64KiB of fill.
conf_for_round() {
	if [ "$1" = 2 ]; then
		CONF_SEGMENT_MAX=128KiB CONF_PREALLOCATE=64KiB
	else
		CONF_SEGMENT_MAX=64KiB CONF_PREALLOCATE=0
	fi
	write_conf
}
conf_for_round 1
start_ingestd

acks() { if [ -f "$T/acks" ]; then wc -l < "$T/acks"; else echo 0; fi; }
acks_at_least() { [ "$(acks)" -ge "$1" ]; }

for round in 1 2 3; do
	# 4 connections, batches of 20, 4 in flight each, 10000 events/s.
	"$PY" "$HELPERS/loadgen.py" "$INGEST_SOCK" "$T/acks" "r$round" \
	    4 20 4 10000 30 > "$T/load.$round" &
	LOADGEN=$!
	PIDS="$PIDS $LOADGEN"
	# About one second of load: 500 batches acknowledged.
	wait_for 20 acks_at_least $(($(acks) + 500)) ||
	    fail "round $round: load stalled at $(acks) acknowledgements"
	# A reader under load sees every event acknowledged before it
	# started, once each, at dense offsets.
	cp "$T/acks" "$T/acks.before"
	upto=$(awk '$1 == "ack" && $6 + $7 > n { n = $6 + $7 } END { print n }' \
	    "$T/acks.before")
	"$BIN/lamina" -c "$CONF" dump pageviews --limit "$upto" > "$T/dump.live" ||
	    fail "round $round: dump under load failed"
	"$PY" "$HELPERS/check_acks.py" "$T/acks.before" "$T/dump.live" > "$T/check" ||
	    fail "round $round: dump under load: $(cat "$T/check")"
	kill9_ingestd
	wait "$LOADGEN"
	expect_eq "round $round: load generator exit" $? 0
	forget_pid "$LOADGEN"
	grep -q " 0 refused" "$T/load.$round" ||
	    fail "round $round: refusals: $(cat "$T/load.$round")"

	conf_for_round $((round + 1))
	start_ingestd
	"$BIN/lamina" -c "$CONF" dump pageviews > "$T/dump.jsonl" ||
	    fail "round $round: dump failed"
	"$PY" "$HELPERS/check_acks.py" "$T/acks" "$T/dump.jsonl" > "$T/check" ||
	    fail "round $round: $(cat "$T/check")"
	n=$(wc -l < "$T/dump.jsonl")
	grep -q "^<6>lamina-ingestd: pageviews: [0-9]* sealed segments, active [0-9]*\.seg with [0-9]* records, next offset $n\$" "$LOG" ||
	    fail "round $round: recovery does not say next offset $n: $(cat "$LOG")"
	echo "round $round: $(cat "$T/load.$round"); $(cat "$T/check")"
done

# Segments were sealed under load, and the stream still takes appends.
nseg=$(ls "$SEGDIR" | grep -c '\.seg$')
[ "$nseg" -gt 10 ] || fail "only $nseg segments: nothing sealed under load"
"$PY" "$HELPERS/gen_pageviews.py" 10 > "$T/more.jsonl"
out=$("$BIN/lamina" -c "$CONF" send pageviews "$T/more.jsonl") || fail "$out"
expect_eq "send after the crashes" "$out" "stored from offset $n
sent 10 events to pageviews"
stop_ingestd
exit 0
