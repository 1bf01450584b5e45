# lamina view: the rows of a published batch view as JSON lines, against
# the oracle, and against bad arguments and a damaged views.db.
#
# 6000 pageviews are folded into three views (url x 1h with sums, min, max
# and distinct; status x 1d; referrer x 1d with a null dimension).  For
# each view, `lamina view` prints a header equal to its lamina_views row
# and every row in bucket and key order, each equal to what
# batch_oracle.py computes (bucket as RFC 3339, dimensions, exact counts,
# sums, min and max, distinct within 3 standard errors); --order and
# --limit give the oracle's rows in that order, the first N.  Bad
# arguments are refused with what is wrong (exit 2 for usage, 1 for a
# view or metric that does not exist, ordering by a quantile or a top, or
# a view not published yet).
# Then, with lamina-batchd stopped, rows of views.db are damaged one way
# at a time (a key that is not an array of the view's dimensions, or has
# bytes after it; a state with too few metrics, a bad metric, bytes after
# the last metric; a bucket that is not a time; a b-tree page that SQLite
# finds corrupt): `lamina view` exits 1 and names the table, the row's
# bucket and what is wrong, instead of printing a partial view as if it
# were whole.
. "$LAMINA_TOP/tests/e2e/lib.sh"
. "$LAMINA_TOP/tests/e2e/helpers/batch_lib.sh"
watchdog 60

VIEWS="pages_hourly status_daily by_referrer"
bconf $VIEWS
"$BPY" "$BH/batch_gen.py" 6000 17 0 > "$T/a.jsonl"
bstart ingestd
bsend "$T/a.jsonl" 0
bstart batchd
brun
oracle check "$DB" "$T/a.jsonl" "$SEGS" $VIEWS >/dev/null ||
    fail "views differ from the oracle"

# --- every row, then in an order and limited -------------------------------
for v in $VIEWS; do
	lam view $v > "$T/$v.out" 2>"$T/err" ||
	    fail "lamina view $v: $(cat "$T/err")"
	oracle cli "$DB" "$T/a.jsonl" $v "$T/$v.out" >/dev/null ||
	    fail "lamina view $v differs from the oracle"
done
[ "$(wc -l < "$T/pages_hourly.out")" -gt 100 ] ||
    fail "pages_hourly: only $(wc -l < "$T/pages_hourly.out") lines"
lam view pages_hourly --order hits --limit 7 > "$T/top.out" ||
    fail "lamina view --order hits --limit 7"
expect_eq "--limit 7: lines" "$(wc -l < "$T/top.out" | tr -d ' ')" 8
oracle cli "$DB" "$T/a.jsonl" pages_hourly "$T/top.out" --order hits \
    --limit 7 >/dev/null || fail "lamina view --order hits differs"
lam view by_referrer --order users > "$T/users.out" ||
    fail "lamina view --order users"
expect_eq "--order users: lines" "$(wc -l < "$T/users.out")" \
    "$(wc -l < "$T/by_referrer.out")"
lam view status_daily --limit 0 > "$T/none.out" || fail "--limit 0"
expect_eq "--limit 0: the header only" "$(cat "$T/none.out")" \
    "$(head -1 "$T/status_daily.out")"

# --- bad arguments -------------------------------------------------------
# view_fails STATUS MESSAGE ARG...: lamina view ARG... exits with STATUS,
# its stderr is MESSAGE.
view_fails() {
	_want=$1 _msg=$2
	shift 2
	lam view "$@" > "$T/out" 2> "$T/err"
	_rc=$?
	expect_eq "lamina view $*: exit status" "$_rc" "$_want"
	expect_eq "lamina view $*: message" "$(cat "$T/err")" "$_msg"
}
view_fails 1 "lamina: view: no view nosuch in $CFG" nosuch
view_fails 1 "lamina: view: no metric nosuch in view pages_hourly" \
    pages_hourly --order nosuch
view_fails 2 "lamina: view: --limit: not a number: 5x" pages_hourly \
    --limit 5x
view_fails 2 "lamina: view: --limit: not a number: -1" pages_hourly \
    --limit -1
view_fails 2 "lamina: view: --limit: too large (at most 9223372036854775807): \
9223372036854775808" pages_hourly --limit 9223372036854775808
view_fails 2 "lamina: view: --limit: too large (at most 9223372036854775807): \
99999999999999999999" pages_hourly --limit 99999999999999999999
view_fails 2 "usage: lamina view VIEW [--order METRIC] [--limit N]"
# A view in the configuration that batchd has not built (another file
# naming the same data directory).
cp "$CFG" "$T/more.yaml"
oracle yaml fine | sed 1d >> "$T/more.yaml"
"$BIN/lamina" -c "$T/more.yaml" view fine > "$T/out" 2> "$T/err"
expect_eq "a view not built yet: exit status" "$?" 1
expect_eq "a view not built yet: message" "$(cat "$T/err")" \
    "lamina: view: view fine is not published yet"
# Sketch metrics have no single value to order by.
cat >> "$T/more.yaml" <<EOF
  sketches:
    stream: pageviews
    bucket: 1d
    metrics:
      q: {quantile: latency_ms}
      t: {top: url}
EOF
for m in q:quantile t:top; do
	"$BIN/lamina" -c "$T/more.yaml" view sketches --order ${m%%:*} \
	    > "$T/out" 2> "$T/err"
	expect_eq "--order ${m%%:*}: exit status" "$?" 1
	expect_eq "--order ${m%%:*}: message" "$(cat "$T/err")" \
	    "lamina: view: --order: metric ${m%%:*} is a ${m#*:}, not a number"
done

# --- a damaged views.db ---------------------------------------------------
bstop batchd "$BATCHD" "$BATCHLOG"
bstop ingestd "$INGESTD" "$ILOG"
tbl() { oracle sql "$DB" "SELECT tbl FROM lamina_views WHERE name = '$1'"; }
PH=$(tbl pages_hourly)
SD=$(tbl status_daily)
# The first row of a table, in the order lamina view reads: its bucket as
# RFC 3339, and a WHERE clause for it.
first() {
	_b=$(oracle sql "$DB" "SELECT bucket FROM \"$1\" ORDER BY bucket, key LIMIT 1")
	_k=$(oracle sql "$DB" "SELECT hex(key) FROM \"$1\" ORDER BY bucket, key LIMIT 1")
	WHERE="bucket = $_b AND key = x'$_k'"
	AT=$("$BPY" -c '
import sys
sys.path.insert(0, sys.argv[1])
import batch_oracle
print(batch_oracle.rfc3339(int(sys.argv[2])))' "$BH" "$_b")
}
# damage TABLE SET: change the first row of TABLE (SET: an SQL assignment).
damage() {
	first "$1"
	"$BPY" -c '
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
n = con.execute("UPDATE \"%s\" SET %s WHERE %s" % tuple(sys.argv[2:5])).rowcount
assert n == 1, n' "$DB" "$1" "$2" "$WHERE" || fail "damage $1: $2"
}
cp "$DB" "$T/views.good"
restore() { cp "$T/views.good" "$DB"; }

damage "$PH" "key = x'01'"
view_fails 1 "lamina: view: $PH: row at $AT: malformed key: not an array of 1 value" \
    pages_hourly
expect_eq "a bad key: what was printed" "$(cat "$T/out")" \
    "$(head -1 "$T/pages_hourly.out")"
restore
damage "$PH" "key = key || x'c0'"
view_fails 1 "lamina: view: $PH: row at $AT: malformed key: unexpected data after the end" \
    pages_hourly
restore
damage "$PH" "key = x'92c0c0'"
view_fails 1 "lamina: view: $PH: row at $AT: malformed key: not an array of 1 value" \
    pages_hourly
restore
damage "$PH" "state = x'93010203'"
view_fails 1 "lamina: view: $PH: row at $AT: malformed state: not an array of 6 states" \
    pages_hourly
restore
damage "$SD" "state = x'91a178'"
view_fails 1 "lamina: view: $SD: row at $AT: hits: malformed count state" \
    status_daily
restore
damage "$SD" "state = x'9101c0'"
view_fails 1 "lamina: view: $SD: row at $AT: malformed state: bytes after the last metric" \
    status_daily
restore
damage "$SD" "bucket = 99999999999"
view_fails 1 "lamina: view: $SD: row with bucket 99999999999: not a time" \
    status_daily
restore
damage "$SD" "bucket = 'noon'"
view_fails 1 "lamina: view: $SD: row with bucket noon: not a time" \
    status_daily
restore
lam view status_daily > "$T/out" || fail "lamina view after the restores"
expect_file_eq "status_daily after the restores" "$T/out" \
    "$T/status_daily.out"

# A page of the table that SQLite finds corrupt: the type byte of its root
# page (64 KiB pages; views.db holds no WAL once batchd has stopped).
[ ! -s "$DB-wal" ] || fail "views.db-wal left after batchd stopped"
root=$(oracle sql "$DB" "SELECT rootpage FROM sqlite_schema WHERE name = '$SD'")
psize=$(oracle sql "$DB" "PRAGMA page_size")
printf '\377' | dd of="$DB" bs=1 seek=$(( (root - 1) * psize )) conv=notrunc \
    status=none
lam view status_daily > "$T/out" 2> "$T/err"
expect_eq "a corrupt page: exit status" "$?" 1
expect_eq "a corrupt page: message" "$(cat "$T/err")" \
    "lamina: view: $SD: reading rows: database disk image is malformed"
exit 0
