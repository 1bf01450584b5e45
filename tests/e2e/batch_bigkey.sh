# An event stored with a 70 KB group-by value (ingest took it: it is under
# max_message_bytes) folds like any other: lamina-batchd must never stop at
# an event that is already in the master dataset, or every later run of the
# stream would fail at that chunk, for every view.  The rows of both views
# equal the oracle over all events, the big url included.
. "$LAMINA_TOP/tests/e2e/lib.sh"
. "$LAMINA_TOP/tests/e2e/helpers/batch_lib.sh"
watchdog 60

VIEWS="pages_hourly status_daily"
BATCH_SEGMENT_AGE=1s bconf $VIEWS
sed -i 's/max_message_bytes: 16KiB/max_message_bytes: 1MiB/;
    s/max_client_buffer: 1MiB/max_client_buffer: 4MiB/' "$CFG"
"$BPY" "$BH/batch_gen.py" 300 7 0 > "$T/a.jsonl"
# Status 200 and an hour of its own: a row of pages_hourly to itself.
"$BPY" - > "$T/b.jsonl" <<'PY'
import json
print(json.dumps({"url": "/" + "x" * 70000, "user": "u", "status": 200,
    "bytes": 1, "latency_ms": 1.0, "time": 1700000000.0}))
PY
"$BPY" "$BH/batch_gen.py" 300 7 301 > "$T/c.jsonl"
cat "$T/a.jsonl" "$T/b.jsonl" "$T/c.jsonl" > "$T/all.jsonl"

bstart ingestd
bsend "$T/a.jsonl" 0
bsend "$T/b.jsonl" 300
bsend "$T/c.jsonl" 301
bwait_sealed
bstart batchd
brun
oracle check "$DB" "$T/all.jsonl" "$SEGS" $VIEWS ||
    fail "views differ from the oracle"
TBL=$(oracle sql "$DB" "SELECT tbl FROM lamina_views WHERE
    name = 'pages_hourly'")
expect_eq "the big url's row" "$(oracle sql "$DB" "SELECT length(d_url),
    m_hits FROM \"$TBL\" WHERE length(key) > 70000")" "70001	1"
for v in $VIEWS; do
	expect_eq "$v horizon" "$(oracle sql "$DB" \
	    "SELECT horizon FROM lamina_views WHERE name = '$v'")" 601
done

bstop batchd "$BATCHD" "$BATCHLOG"
bstop ingestd "$INGESTD" "$ILOG"
for f in "$T"/*.log; do bno_sanitizer "$f"; done
