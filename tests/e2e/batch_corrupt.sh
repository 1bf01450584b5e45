# lamina-batchd meets a damaged sealed segment in the middle of a run.
#
# 10000 events in 16 KiB segments (about 60 sealed ones, at least 3 *
# CHUNK_SEGMENTS: a full build spans 3 chunks and more), two fold workers.
# Before batchd's first run, one byte of a record's payload is inverted in
# a segment of the third chunk (the file copied aside first).  The run at
# start and the next one fail, and say so in the reply of `lamina batch
# run`, in `lamina status` and in the log ("run N: ..."): the segment's
# file, the byte where its bad record starts, "checksum mismatch".  The
# builds keep what the chunks before the bad one committed: their horizon
# in lamina_builds is the start of the bad chunk (a segment boundary past
# the first chunk, before the damaged segment), their rows equal the
# oracle over exactly the events below it (so the second failed run folded
# nothing twice); nothing is switched in.  Once the byte is restored, a
# run completes and switches the views in, equal to the oracle over every
# event, and every sealed segment and the catalog are byte for byte what
# they were at the start.
#
# Then, with the views published, 7000 more events and one fold worker: a
# byte of a segment in the second chunk of the next run is damaged.  The
# runs fail the same way; the published views stay where the first chunk
# left them (their rows equal the oracle below that horizon) and no
# rebuild starts.  Restored, the next run covers every event.  At the end
# lamina-ingestd starts again on the master dataset (ingest.verify: full
# checks every record and every file's CRC against the catalog).
. "$LAMINA_TOP/tests/e2e/lib.sh"
. "$LAMINA_TOP/tests/e2e/helpers/batch_lib.sh"
watchdog 30

# Segments per chunk, as batchd cuts them (CHUNK_BYTES is far away here).
CHUNK=$(sed -n 's/^#define[[:space:]]*CHUNK_SEGMENTS[[:space:]]*\([0-9][0-9]*\).*/\1/p' \
    "$LAMINA_TOP/daemons/batchd/batchd_run.c")
[ -n "$CHUNK" ] || fail "no CHUNK_SEGMENTS in daemons/batchd/batchd_run.c"

VIEWS="pages_hourly fine status_daily"
BATCH_WORKERS=2 bconf $VIEWS
"$BPY" "$BH/batch_gen.py" 10000 13 0 > "$T/a.jsonl"
"$BPY" "$BH/batch_gen.py" 7000 13 10000 > "$T/b.jsonl"
cat "$T/a.jsonl" "$T/b.jsonl" > "$T/all.jsonl"

# The sealed segments' file names, in order (every event is sealed: the
# last file is the empty active segment).
sealed() {
	ls "$SEGS" | grep '\.seg$' | sort | sed '$d'
}

# seg_first NAME: the first offset of segment file NAME.
seg_first() {
	expr "$1" : '0*\([0-9][0-9]*\)\.seg$'
}

# nth_sealed I: the name of sealed segment I (from 0).
nth_sealed() {
	sealed | sed -n "$(($1 + 1))p"
}

# snapshot DIR: copy every sealed segment and the catalog into DIR.
snapshot() {
	mkdir -p "$1"
	for f in $(sealed) catalog; do
		cp "$SEGS/$f" "$1/" || fail "copy $f"
	done
}

# same_as DIR: every segment in DIR is in the master dataset, unchanged,
# and the catalog in DIR is the start of the catalog (it only grows).
same_as() {
	for f in $(ls "$1"); do
		[ "$f" = catalog ] && continue
		cmp -s "$1/$f" "$SEGS/$f" ||
		    fail "$f differs from its copy taken before the damage"
	done
	cmp -s -n "$(wc -c < "$1/catalog")" "$1/catalog" "$SEGS/catalog" ||
	    fail "the catalog differs from its copy taken before the damage"
}

# damage NAME: invert one byte in the middle of the payload of the middle
# record of segment NAME, after copying the file aside.  Sets DMG (the
# file's path, as batchd names it) and DMG_REC (the byte where the
# damaged record starts: the reader reports that one).
damage() {
	cp "$SEGS/$1" "$T/$1.aside"
	"$BPY" "$BH/segment.py" records "$SEGS/$1" > "$T/records" ||
	    fail "segment.py records $1"
	_n=$(wc -l < "$T/records")
	[ "$_n" -ge 3 ] || fail "$1: only $_n records"
	set -- "$1" $(sed -n "$((_n / 2 + 1))p" "$T/records")
	# $2 offset, $3 record start, $4 record size (header included)
	_at=$(($3 + 8 + ($4 - 8) / 2))
	"$BPY" "$BH/segment.py" flip "$SEGS/$1" $_at || fail "segment.py flip"
	expect_eq "$1: bytes changed (1-based, old, new)" \
	    "$(cmp -l "$T/$1.aside" "$SEGS/$1" | awk '{print $1}' | tr '\n' ' ')" \
	    "$((_at + 1)) "
	DMG=$SEGS/$1
	DMG_NAME=$1
	DMG_REC=$3
	DMG_AT=$_at
}

# restore: put the damaged segment's byte back.
restore() {
	"$BPY" "$BH/segment.py" flip "$DMG" $DMG_AT || fail "segment.py flip"
	cmp -s "$T/$DMG_NAME.aside" "$DMG" || fail "$DMG: not restored"
}

# expect_failed_run: the next run fails on the damaged record, and says
# so in the reply, in lamina status and in the log.
expect_failed_run() {
	_why="$DMG: byte $DMG_REC: checksum mismatch"
	BRUN=$(lam batch run 2>&1) && fail "lamina batch run succeeded: $BRUN"
	case $BRUN in
	"lamina: batch run: run "[0-9]*" failed: $_why") ;;
	*) fail "lamina batch run: got [$BRUN], want [... failed: $_why]" ;;
	esac
	BRUN=$(lam status)	# exits 1: speedd and served are not running
	expect_eq "status: last run's error" "$(bjson batchd.last_run.error)" \
	    "$_why"
	grep -qFx "<4>lamina-batchd: run $(bjson batchd.last_run.run): $_why" \
	    "$BATCHLOG" || fail "$BATCHLOG: no [run N: $_why]: $(cat "$BATCHLOG")"
}

# horizons TABLE: the views' horizons in TABLE, one line.
horizons() {
	oracle sql "$DB" "SELECT horizon FROM $1 ORDER BY name" | tr '\n' ' '
}

bstart ingestd
bsend "$T/a.jsonl" 0
snapshot "$T/orig"
NA=$(sealed | wc -l)
[ "$NA" -ge $((3 * CHUNK)) ] ||
    fail "$NA sealed segments: a build spans fewer than 3 chunks"

# --- the first build meets a damaged segment in its third chunk ----------
BAD=$((2 * CHUNK + CHUNK / 4))
damage "$(nth_sealed $BAD)"
CUT=$(seg_first "$(nth_sealed $((2 * CHUNK)))")	# the third chunk's start
bstart batchd
expect_failed_run
grep -qE '^<4>lamina-batchd: run 1: ' "$BATCHLOG" ||
    fail "the run at start did not fail: $(cat "$BATCHLOG")"
[ "$CUT" -lt "$(seg_first "$DMG_NAME")" ] || fail "bad test: $CUT"
h=$CUT
expect_eq "lamina_builds horizons after the failed runs" \
    "$(horizons lamina_builds)" "$h $h $h "
oracle check "$DB" "$T/a.jsonl" "$SEGS" $VIEWS --builds --prefix ||
    fail "lamina_builds differ from the oracle below their horizon"
expect_eq "lamina_views after the failed runs" \
    "$(oracle sql "$DB" "SELECT count(*) FROM lamina_views")" 0
for v in $VIEWS; do
	expect_eq "$v: rebuilds started" \
	    "$(grep -c "view $v: rebuilding" "$BATCHLOG")" 1
done

# --- restored: the builds complete and are switched in -----------------
restore
brun
expect_eq "run after the restore: switched" "$(bjson switched)" 3
expect_eq "run after the restore: segments" "$(bjson segments)" $((NA - 2 * CHUNK))
oracle check "$DB" "$T/a.jsonl" "$SEGS" $VIEWS ||
    fail "views differ from the oracle after the restore"
expect_eq "lamina_builds after the restore" \
    "$(oracle sql "$DB" "SELECT count(*) FROM lamina_builds")" 0
same_as "$T/orig"
bstop batchd "$BATCHD" "$BATCHLOG"

# --- published views, one worker: damage in the second chunk -------------
bsend "$T/b.jsonl" 10000
snapshot "$T/orig2"
NB=$(($(sealed | wc -l) - NA))
[ "$NB" -ge $((2 * CHUNK)) ] ||
    fail "$NB new sealed segments: the run spans fewer than 2 chunks"
damage "$(nth_sealed $((NA + CHUNK + CHUNK / 4)))"
CUT=$(seg_first "$(nth_sealed $((NA + CHUNK)))")
BATCH_WORKERS=1 bconf $VIEWS
bstart batchd
expect_failed_run
expect_eq "status: workers" "$(bjson batchd.workers)" 1
h=$CUT
expect_eq "lamina_views horizons after the failed runs" \
    "$(horizons lamina_views)" "$h $h $h "
oracle check "$DB" "$T/all.jsonl" "$SEGS" $VIEWS --prefix ||
    fail "lamina_views differ from the oracle below their horizon"
expect_eq "lamina_builds after the failed runs" \
    "$(oracle sql "$DB" "SELECT count(*) FROM lamina_builds")" 0
! grep -q 'rebuilding' "$BATCHLOG" ||
    fail "a published view was rebuilt: $(cat "$BATCHLOG")"

restore
brun
expect_eq "second restore: switched" "$(bjson switched)" 0
oracle check "$DB" "$T/all.jsonl" "$SEGS" $VIEWS ||
    fail "views differ from the oracle after the second restore"
same_as "$T/orig"
same_as "$T/orig2"

bstop batchd "$BATCHD" "$BATCHLOG"
bstop ingestd "$INGESTD" "$ILOG"
bstart ingestd		# fails if a sealed segment does not verify
bstop ingestd "$INGESTD" "$ILOG"
for f in "$T"/*.log; do bno_sanitizer "$f"; done
