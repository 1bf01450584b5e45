# Human fault tolerance (promise 5): a view definition is fixed by editing
# the YAML; lamina-batchd rebuilds the changed views from the master
# dataset beside the old tables, switches them in and drops the old ones,
# leaves the unchanged view alone, and never touches the master dataset
# (every file's sha256 is the same).  A definition put back while its
# rebuild runs abandons the rebuild.  The rebuilt rows equal the oracle's
# for the new definitions.  lamina recompute VIEW rebuilds a view from
# scratch into a new table with the same rows; an unknown view is refused,
# by the CLI and by the daemon.  A recompute cut short by SIGTERM goes on
# after the restart.
. "$LAMINA_TOP/tests/e2e/lib.sh"
. "$LAMINA_TOP/tests/e2e/helpers/batch_lib.sh"
watchdog 60

V1="pages_hourly status_daily fine"
# pages_hourly: 1h -> 30m buckets and a latency filter; status_daily: one
# more metric; fine unchanged.
V2="pages_hourly@v2 status_daily@v2 fine"
bconf $V1
"$BPY" "$BH/batch_gen.py" 60000 5 > "$T/ev.jsonl"

bstart ingestd
bsend "$T/ev.jsonl" 0
bstop ingestd "$INGESTD" "$ILOG"

master_sums() {
	(cd "$T/data/master" && find . -type f | LC_ALL=C sort | xargs sha256sum)
}
master_sums > "$T/master.before"
[ "$(wc -l < "$T/master.before")" -gt 100 ] ||
    fail "too few segments: $(cat "$T/master.before")"

q() { oracle sql "$DB" "$1"; }
view_col() { q "SELECT $2 FROM lamina_views WHERE name = '$1'"; }
tables() {
	q "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'lamina_%' ORDER BY name"
}
sorted() { printf '%s\n' "$@" | LC_ALL=C sort; }

# --- the first definitions ---------------------------------------------------
bstart batchd
brun
oracle check "$DB" "$T/ev.jsonl" "$SEGS" $V1 ||
    fail "first definitions: views differ from the oracle"
for v in pages_hourly status_daily fine; do
	eval "fp1_$v=\$(view_col $v fingerprint)"
	eval "tbl1_$v=\$(view_col $v tbl)"
done
bstop batchd "$BATCHD" "$BATCHLOG"

# --- a change of mind: edited, then put back while the rebuild runs ----------
# The published views stay as they were while the changed ones are rebuilt
# beside them.  Putting the old definitions back abandons the rebuilds:
# their tables are dropped and nothing is rebuilt.
BATCH_WORKERS=1 bconf $V2
bstart batchd
oracle wait "$DB" lamina_builds pages_hourly 1 30 "$BATCHLOG" >/dev/null ||
    fail "no rebuild progress: $(cat "$BATCHLOG")"
bkill9 "$BATCHD"
expect_eq "rebuilds in progress at the kill (else make the run longer)" \
    "$(q "SELECT name FROM lamina_builds ORDER BY name" | tr '\n' ' ')" \
    "pages_hourly status_daily "
oracle check "$DB" "$T/ev.jsonl" "$SEGS" $V1 ||
    fail "the published views changed during a rebuild"
oracle check "$DB" "$T/ev.jsonl" "$SEGS" pages_hourly@v2 status_daily@v2 \
    --builds --prefix || fail "the rebuilds differ from the oracle"
bconf $V1
bstart batchd
brun
! grep -q 'rebuil\|definition' "$BATCHLOG" ||
    fail "put back, a view was rebuilt: $(cat "$BATCHLOG")"
expect_eq "lamina_builds after putting the definitions back" \
    "$(q "SELECT count(*) FROM lamina_builds")" 0
expect_eq "tables after putting the definitions back" "$(tables)" \
    "$(sorted "$tbl1_fine" "$tbl1_pages_hourly" "$tbl1_status_daily")"
for v in pages_hourly status_daily fine; do
	eval "expect_eq \"$v: fingerprint\" \"\$(view_col $v fingerprint)\" \"\$fp1_$v\""
done
oracle check "$DB" "$T/ev.jsonl" "$SEGS" $V1 ||
    fail "definitions put back: views differ from the oracle"
bstop batchd "$BATCHD" "$BATCHLOG"

# --- edited for good: two views change -----------------------------------------
bconf $V2
bstart batchd
brun
for v in pages_hourly status_daily; do
	eval "old_fp=\$fp1_$v old_tbl=\$tbl1_$v"
	new_fp=$(view_col $v fingerprint)
	new_tbl=$(view_col $v tbl)
	[ "$new_fp" != "$old_fp" ] || fail "$v: fingerprint unchanged ($new_fp)"
	case $new_tbl in
	v_${v}_${new_fp}_*) ;;
	*) fail "$v: table $new_tbl is not v_${v}_${new_fp}_..." ;;
	esac
	bexpect_log "$BATCHLOG" <<EOR
<6>lamina-batchd: view $v: definition changed \(fingerprint $new_fp, was $old_fp\)
<6>lamina-batchd: view $v: rebuilding from the whole master dataset into $new_tbl
<6>lamina-batchd: view $v: rebuilt \(fingerprint $new_fp\) and switched in; dropped $old_tbl
EOR
	# rebuilding, then switched in
	expect_eq "$v: order of the rebuild's log lines" \
	    "$(grep -o "view $v: rebuil[a-z]*" "$BATCHLOG" | tr '\n' ' ')" \
	    "view $v: rebuilding view $v: rebuilt "
	eval "tbl2_$v=\$new_tbl"
done
# fine kept its fingerprint and its table, and was not rebuilt.
expect_eq "fine: fingerprint" "$(view_col fine fingerprint)" "$fp1_fine"
expect_eq "fine: table" "$(view_col fine tbl)" "$tbl1_fine"
! grep -q 'view fine:' "$BATCHLOG" ||
    fail "fine was rebuilt: $(cat "$BATCHLOG")"
# The old tables are gone; nothing is left half built.
expect_eq "tables after the rebuild" "$(tables)" \
    "$(sorted "$tbl1_fine" "$tbl2_pages_hourly" "$tbl2_status_daily")"
expect_eq "lamina_builds after the rebuild" \
    "$(q "SELECT count(*) FROM lamina_builds")" 0
oracle check "$DB" "$T/ev.jsonl" "$SEGS" $V2 ||
    fail "edited definitions: views differ from the oracle"
master_sums > "$T/master.after"
expect_file_eq "master dataset after the rebuild" "$T/master.after" \
    "$T/master.before"

# --- lamina recompute: the same rows again, in a new table -------------------
fp2=$(view_col pages_hourly fingerprint)
oracle dump "$DB" pages_hourly > "$T/rows.before"
BRUN=$(lam recompute pages_hourly 2>&1) ||
    fail "lamina recompute pages_hourly: $BRUN"
expect_eq "recompute: error" "$(bjson error)" ""
expect_eq "recompute: views switched in" "$(bjson switched)" 1
expect_eq "recompute: fingerprint" "$(view_col pages_hourly fingerprint)" "$fp2"
tbl3=$(view_col pages_hourly tbl)
[ "$tbl3" != "$tbl2_pages_hourly" ] || fail "recompute kept table $tbl3"
bexpect_log "$BATCHLOG" <<EOR
<6>lamina-batchd: view pages_hourly: recompute asked for
<6>lamina-batchd: view pages_hourly: rebuilding from the whole master dataset into $tbl3
<6>lamina-batchd: view pages_hourly: rebuilt \(fingerprint $fp2\) and switched in; dropped $tbl2_pages_hourly
EOR
expect_eq "tables after recompute" "$(tables)" \
    "$(sorted "$tbl1_fine" "$tbl3" "$tbl2_status_daily")"
oracle dump "$DB" pages_hourly > "$T/rows.after"
expect_file_eq "pages_hourly rows (states included) after recompute" \
    "$T/rows.after" "$T/rows.before"
oracle check "$DB" "$T/ev.jsonl" "$SEGS" $V2 ||
    fail "after recompute: views differ from the oracle"
master_sums > "$T/master.after"
expect_file_eq "master dataset after recompute" "$T/master.after" \
    "$T/master.before"

# --- an unknown view -----------------------------------------------------------
lam recompute nope > "$T/nope.out" 2> "$T/nope.err"
expect_eq "recompute nope: exit status" $? 1
expect_eq "recompute nope: stderr" "$(cat "$T/nope.err")" \
    "lamina: recompute: no view nope in $CFG"
expect_eq "recompute nope: stdout" "$(cat "$T/nope.out")" ""
# A view that the CLI's configuration has and lamina-batchd's has not: the
# daemon refuses it.
cp "$CFG" "$T/other.yaml"
cat >> "$T/other.yaml" <<EOY
  ghost:
    stream: pageviews
    bucket: 1h
    metrics: {hits: count}
EOY
"$BIN/lamina" -c "$T/other.yaml" recompute ghost > "$T/ghost.out" 2> "$T/ghost.err"
expect_eq "recompute ghost: exit status" $? 1
expect_eq "recompute ghost: stderr" "$(cat "$T/ghost.err")" \
    "lamina: recompute: recompute: no view ghost"
expect_eq "tables after the refusals" "$(tables)" \
    "$(sorted "$tbl1_fine" "$tbl3" "$tbl2_status_daily")"


# --- a recompute cut short goes on after a restart -----------------------------
# A recompute asked for once is done whatever happens: lamina-batchd stopped
# during it (SIGTERM, which ends the run after the chunk being written; the
# client waiting for the recompute is told), the rebuild of the published
# definition is resumed (not dropped as abandoned, not started over) and
# switched in.  (batch_crash resumes builds after SIGKILL.)
bstop batchd "$BATCHD" "$BATCHLOG"
BATCH_WORKERS=1 bconf $V2
bstart batchd
brun
lam recompute fine > "$T/cut.out" 2>&1 &
RPID=$!
PIDS="$PIDS $RPID"
oracle wait "$DB" lamina_builds fine 1 30 "$BATCHLOG" >/dev/null ||
    fail "no recompute progress: $(cat "$BATCHLOG")"
kill -TERM "$BATCHD"
wait "$BATCHD"
expect_eq "exit status after SIGTERM in a recompute" $? 0
bforget "$BATCHD"
wait "$RPID"
expect_eq "lamina recompute cut short: exit status" $? 1
bforget "$RPID"
grep -q '^lamina: recompute: run [0-9]* failed: interrupted after [0-9]* segments, lamina-batchd is stopping; the next run goes on from there$' "$T/cut.out" ||
    fail "lamina recompute cut short: $(cat "$T/cut.out")"
expect_eq "a recompute in progress at the stop (else make it longer)" \
    "$(q "SELECT name FROM lamina_builds")" fine
tbl4=$(q "SELECT tbl FROM lamina_builds WHERE name = 'fine'")
bstart batchd
brun
bexpect_log "$BATCHLOG" <<EOR
<6>lamina-batchd: view fine: rebuilt \(fingerprint $fp1_fine\) and switched in; dropped $tbl1_fine
EOR
! grep -q "view fine: rebuilding" "$BATCHLOG" ||
    fail "the recompute started over: $(cat "$BATCHLOG")"
expect_eq "fine's table after the resumed recompute" \
    "$(view_col fine tbl)" "$tbl4"
expect_eq "lamina_builds after the resumed recompute" \
    "$(q "SELECT count(*) FROM lamina_builds")" 0
expect_eq "tables after the resumed recompute" "$(tables)" \
    "$(sorted "$tbl4" "$tbl3" "$tbl2_status_daily")"
oracle check "$DB" "$T/ev.jsonl" "$SEGS" $V2 ||
    fail "after the resumed recompute: views differ from the oracle"

bstop batchd "$BATCHD" "$BATCHLOG"
for f in "$T"/*.log; do bno_sanitizer "$f"; done
