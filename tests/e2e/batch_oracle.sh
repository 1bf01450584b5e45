# lamina-batchd against an independent oracle.  50000 pageviews (Zipf
# urls and users, six hours of event times with late, pre-1970 and
# bucket-edge ones, float latencies with every digit, an int sum past
# 2^63) are sent in two parts.  After each part is folded, every row of
# four views (url x 1h filtered on status with count, int and float sums,
# min, max and distinct; status x 1d; url x status x 5m filtered on a float
# range; referrer x 1d with a null dimension) equals what batch_oracle.py
# computes from the JSON lines: counts, sums (float sums equal math.fsum
# to the last bit, and their state is the exact sum), min and max exactly,
# distinct within 3 standard errors; and lamina_views says horizon = every
# event, and the segments, rows and events it covers.  The second part
# lands in the same buckets, so its rows merge into the stored ones; a run
# while its last events are still in the active segment leaves them out.
# Rebuilt from scratch (lamina recompute), the rows are the same bytes.
. "$LAMINA_TOP/tests/e2e/lib.sh"
. "$LAMINA_TOP/tests/e2e/helpers/batch_lib.sh"
watchdog 60

VIEWS="pages_hourly status_daily fine by_referrer"
BATCH_SEGMENT_AGE=1s bconf $VIEWS
"$BPY" "$BH/batch_gen.py" 30000 7 0 > "$T/a.jsonl"
"$BPY" "$BH/batch_gen.py" 19990 7 30000 > "$T/b.jsonl"
"$BPY" "$BH/batch_gen.py" 10 7 49990 > "$T/c.jsonl"
cat "$T/a.jsonl" "$T/b.jsonl" "$T/c.jsonl" > "$T/all.jsonl"

bstart ingestd
bsend "$T/a.jsonl" 0

# --- first part: the views are built at start ---------------------------
bstart batchd
brun
for v in $VIEWS; do
	bexpect_log "$BATCHLOG" <<EOR
<6>lamina-batchd: view $v: rebuilding from the whole master dataset into v_${v}_[0-9a-f]{16}_[0-9]+
<6>lamina-batchd: view $v: rebuilt \(fingerprint [0-9a-f]{16}\) and switched in
EOR
done
nseg=$(oracle sql "$DB" "SELECT segments FROM lamina_views WHERE name = 'fine'")
bexpect_log "$BATCHLOG" <<EOR
<6>lamina-batchd: run 1: $nseg segments, 30000 events in [0-9.]+ s \([0-9]+ events/s\), [0-9]+ rows
EOR
oracle check "$DB" "$T/a.jsonl" "$SEGS" $VIEWS ||
    fail "first part: views differ from the oracle"
expect_eq "lamina_builds after the first part" \
    "$(oracle sql "$DB" "SELECT count(*) FROM lamina_builds")" 0

# A run with nothing new folds nothing.
brun
expect_eq "a run with no new segment: segments" "$(bjson segments)" 0
expect_eq "a run with no new segment: events" "$(bjson events)" 0
expect_eq "a run with no new segment: switched" "$(bjson switched)" 0

# --- second part: folded into the stored rows ------------------------------
# A run right after the last 10 events are sent finds them in the active
# segment (for up to segment_max_age, 1s): it must leave them out (the
# horizon is a segment boundary, the rows match it).
bsend "$T/b.jsonl" 30000
bsend "$T/c.jsonl" 49990 nowait
brun
expect_eq "second part, first run: switched" "$(bjson switched)" 0
oracle check "$DB" "$T/all.jsonl" "$SEGS" $VIEWS --prefix ||
    fail "second part, maybe not sealed: views differ from the oracle"
bwait_sealed
brun
oracle check "$DB" "$T/all.jsonl" "$SEGS" $VIEWS ||
    fail "second part: views differ from the oracle"
expect_eq "runs' events" \
    "$(grep -o '[0-9]* events in' "$BATCHLOG" | awk '{n += $1} END {print n}')" \
    50000

# Merging equals folding: rebuilt from scratch in one go, each view has the
# same rows as the one built in pieces, states included, byte for byte
# (states serialize canonically).
for v in $VIEWS; do
	oracle dump "$DB" $v > "$T/$v.pieces"
	BRUN=$(lam recompute $v 2>&1) || fail "lamina recompute $v: $BRUN"
	expect_eq "recompute $v: switched" "$(bjson switched)" 1
	oracle dump "$DB" $v > "$T/$v.whole"
	expect_file_eq "$v: rows rebuilt in one go" "$T/$v.whole" "$T/$v.pieces"
done

# lamina status says the same as the database.
BRUN=$(lam status)	# exits 1: speedd and served are not running
for v in $VIEWS; do
	expect_eq "status: $v horizon" "$(bjson batchd.views.$v.horizon)" 50000
	expect_eq "status: $v lag" "$(bjson batchd.views.$v.lag)" 0
	expect_eq "status: $v building" "$(bjson batchd.views.$v.building)" False
	expect_eq "status: $v rows" "$(bjson batchd.views.$v.rows)" \
	    "$(oracle sql "$DB" "SELECT rows FROM lamina_views WHERE name = '$v'")"
done

bstop batchd "$BATCHD" "$BATCHLOG"
bstop ingestd "$INGESTD" "$ILOG"
for f in "$T"/*.log; do bno_sanitizer "$f"; done
