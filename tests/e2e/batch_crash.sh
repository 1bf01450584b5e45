# lamina-batchd killed (SIGKILL) in the middle of runs, four times at
# different moments, then left to finish: the views equal the oracle
# exactly, so no segment was folded twice or skipped.  After every kill,
# and once while batchd is writing, the horizon of each view and its rows
# (read in one transaction) must match the oracle over exactly the events
# below that horizon: rows and horizon commit together.
#
# 200000 events in 16 KiB segments, one fold worker, so that a run takes
# a while.  First 80000 events: the first build of the views (into
# lamina_builds), killed right after it starts and again half way; the
# third start resumes the same builds (no new "rebuilding") and switches
# them in.  Then 120000 more: folded into the published views
# (lamina_views), killed after the first chunk is committed and again
# later; a reader checks a snapshot while batchd writes; SIGTERM in the
# middle of the last run stops it after a chunk, and the next start
# finishes it.  No table is ever left behind.
. "$LAMINA_TOP/tests/e2e/lib.sh"
. "$LAMINA_TOP/tests/e2e/helpers/batch_lib.sh"
watchdog 60

VIEWS="pages_hourly fine status_daily"
BATCH_WORKERS=1 bconf $VIEWS
"$BPY" "$BH/batch_gen.py" 80000 11 0 > "$T/a.jsonl"
"$BPY" "$BH/batch_gen.py" 120000 11 80000 > "$T/b.jsonl"
cat "$T/a.jsonl" "$T/b.jsonl" > "$T/all.jsonl"

# check TABLE EVENTS [--prefix]: the views in TABLE against the oracle.
check() {
	_t=$1; _e=$2; shift 2
	if [ "$_t" = lamina_builds ]; then set -- --builds "$@"; fi
	oracle check "$DB" "$_e" "$SEGS" $VIEWS "$@" ||
	    fail "$_t differs from the oracle over the events below its horizon"
}

# wait_horizon TABLE LEAST: poll until the fine view's horizon in TABLE
# is at least LEAST.
wait_horizon() {
	oracle wait "$DB" "$1" fine "$2" 30 "$BATCHLOG" >/dev/null ||
	    fail "$1: fine never reached horizon $2: $(cat "$BATCHLOG")"
}

# The tables of views.db besides lamina_*: only those lamina_views and
# lamina_builds name.
expect_no_stray_tables() {
	expect_eq "tables in views.db" \
	    "$(oracle sql "$DB" "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'lamina_%' ORDER BY name")" \
	    "$(oracle sql "$DB" "SELECT tbl FROM lamina_views UNION SELECT tbl FROM lamina_builds ORDER BY 1")"
}

bstart ingestd
bsend "$T/a.jsonl" 0

# --- the first build, killed twice ------------------------------------------
# Kill 1: the builds are planned (their tables created), nothing folded yet
# or just the first chunk.
bstart batchd
wait_for 30 grep -q 'view status_daily: rebuilding' "$BATCHLOG" ||
    fail "no rebuild started: $(cat "$BATCHLOG")"
bkill9 "$BATCHD"
expect_eq "lamina_views after kill 1" \
    "$(oracle sql "$DB" "SELECT count(*) FROM lamina_views")" 0
check lamina_builds "$T/a.jsonl" --prefix

# Kill 2: half way through the builds.
bstart batchd
wait_horizon lamina_builds 40000
bkill9 "$BATCHD"
h=$(oracle sql "$DB" "SELECT horizon FROM lamina_builds WHERE name = 'fine'")
[ "$h" -lt 80000 ] || fail "kill 2 came after the build had covered" \
    "every segment (horizon $h): make the run longer"
expect_eq "lamina_views after kill 2" \
    "$(oracle sql "$DB" "SELECT count(*) FROM lamina_views")" 0
check lamina_builds "$T/a.jsonl" --prefix

# The third start resumes the same builds and switches them in.
bstart batchd
brun
! grep -q 'rebuilding' "$BATCHLOG" ||
    fail "a build started over instead of resuming: $(cat "$BATCHLOG")"
for v in $VIEWS; do
	bexpect_log "$BATCHLOG" <<EOR
<6>lamina-batchd: view $v: rebuilt \(fingerprint [0-9a-f]{16}\) and switched in
EOR
done
check lamina_views "$T/a.jsonl"
expect_eq "lamina_builds after the builds" \
    "$(oracle sql "$DB" "SELECT count(*) FROM lamina_builds")" 0
expect_no_stray_tables
bstop batchd "$BATCHD" "$BATCHLOG"

# --- folding into the published views, killed twice --------------------------
bsend "$T/b.jsonl" 80000

# Kill 3: the first chunk is committed.
bstart batchd
wait_horizon lamina_views 80001
bkill9 "$BATCHD"
check lamina_views "$T/all.jsonl" --prefix

# Kill 4: later in the run.
bstart batchd
wait_horizon lamina_views 140000
bkill9 "$BATCHD"
h=$(oracle sql "$DB" "SELECT horizon FROM lamina_views WHERE name = 'fine'")
[ "$h" -lt 200000 ] || fail "kill 4 came after the run had covered" \
    "every segment (horizon $h): make the run longer"
check lamina_views "$T/all.jsonl" --prefix

# --- SIGTERM, then left to finish --------------------------------------------
# A reader's snapshot, taken while batchd goes on from there, matches too.
# SIGTERM stops the run once the chunk being written is committed: batchd
# exits 0 with the horizon short of the end and the rows matching it.
# A client asking for a run meanwhile waits for the next one, which will
# not happen: it is told so before batchd exits.
bstart batchd
wait_horizon lamina_views $((h + 1))
"$BPY" "$BH/batch_waiter.py" "$T/run/batch.sock" "$T/waiter.out" \
    > "$T/waiter.log" 2>&1 &
WAITER=$!
PIDS="$PIDS $WAITER"
wait_for 10 grep -q registered "$T/waiter.log" ||
    fail "the waiting client never got in: $(cat "$T/waiter.log")"
kill -TERM "$BATCHD"
check lamina_views "$T/all.jsonl" --prefix
wait "$BATCHD"
rc=$?
bforget "$BATCHD"
expect_eq "exit status after SIGTERM in a run" "$rc" 0
wait "$WAITER" || fail "the waiting client: $(cat "$T/waiter.log")"
bforget "$WAITER"
expect_eq "a run asked for during the stopped run" "$(cat "$T/waiter.out")" \
    '[[102, "run 2: lamina-batchd is shutting down"], null]'
h2=$(oracle sql "$DB" "SELECT horizon FROM lamina_views WHERE name = 'fine'")
[ "$h2" -lt 200000 ] || fail "SIGTERM came after the run had covered" \
    "every segment (horizon $h2): make the run longer"
[ "$h2" -gt "$h" ] || fail "SIGTERM: horizon $h2, not past $h"
expect_eq "SIGTERM in a run: log" \
    "$(grep -o 'received SIGTERM\|run 1: [a-z]*\|stopped' "$BATCHLOG" | tr '\n' ' ')" \
    "received SIGTERM run 1: interrupted stopped "
grep -q "^<6>lamina-batchd: run 1: interrupted after [0-9]* segments, lamina-batchd is stopping; the next run goes on from there$" "$BATCHLOG" ||
    fail "SIGTERM in a run: no interrupted line: $(cat "$BATCHLOG")"
check lamina_views "$T/all.jsonl" --prefix

# The next start goes on from that horizon and finishes (its first run).
bstart batchd
wait_horizon lamina_views 200000
brun
grep -q "^<6>lamina-batchd: run 1: [1-9][0-9]* segments" "$BATCHLOG" ||
    fail "the start after SIGTERM folded nothing: $(cat "$BATCHLOG")"
! grep -q 'rebuilding' "$BATCHLOG" ||
    fail "a published view was rebuilt after a kill: $(cat "$BATCHLOG")"
check lamina_views "$T/all.jsonl"
expect_eq "lamina_builds at the end" \
    "$(oracle sql "$DB" "SELECT count(*) FROM lamina_builds")" 0
expect_no_stray_tables
bstop batchd "$BATCHD" "$BATCHLOG"

# One more start: nothing left to fold.
bstart batchd
brun
expect_eq "last run: segments" "$(bjson segments)" 0
expect_eq "last run: switched" "$(bjson switched)" 0
bstop batchd "$BATCHD" "$BATCHLOG"
bstop ingestd "$INGESTD" "$ILOG"
for f in "$T"/*.log; do bno_sanitizer "$f"; done
