# Recovery of the active segment: cut inside its last records (as a crash
# mid-write leaves it) and lamina-ingestd truncates the torn tail at the
# first bad record, says how many bytes from which byte and why, serves
# exactly the records before the cut and goes on at the next offset.  A
# flipped bit in the last record is a checksum mismatch.  A batch (one
# append of many events) cut anywhere is dropped whole: its client had no
# answer and sends it again.  Zero fill alone is cut without a word.  A
# damaged SEALED segment is never truncated: ingestd refuses to start,
# naming the file and the byte.
. "$LAMINA_TOP/tests/e2e/lib.sh"
watchdog 60

SEG="$SEGDIR/00000000000000000000.seg"
lamina() { "$BIN/lamina" -c "$CONF" "$@"; }
"$PY" "$HELPERS/gen_pageviews.py" 20 > "$T/sent.jsonl"

# expect_stream N: the stream holds exactly the first N events of sent.
expect_stream() {
	head -n "$1" "$T/sent.jsonl" > "$T/want.jsonl"
	lamina dump pageviews > "$T/dump.jsonl" || fail "dump failed"
	"$PY" "$HELPERS/check_roundtrip.py" "$T/want.jsonl" "$T/dump.jsonl" ||
	    fail "the stream is not the first $1 events sent"
}

# send_from N: send events N+1 to 20 of sent, one append each (so that
# each record is a batch of its own); they get offsets N...
send_from() {
	_n=$1
	while [ "$_n" -lt 20 ]; do
		sed -n "$((_n + 1))p" "$T/sent.jsonl" > "$T/one.jsonl"
		out=$(lamina send pageviews "$T/one.jsonl") ||
		    fail "send: $out"
		expect_eq "send after recovery" "$out" "stored from offset $_n
sent 1 events to pageviews"
		_n=$((_n + 1))
	done
}

# record N: "START SIZE" of the record with offset N in $SEG.
record() {
	"$PY" "$HELPERS/segment.py" records "$SEG" |
	    awk -v n="$1" '$1 == n { print $2, $3 }'
}

# --- zero fill written ahead, then a clean stop: nothing to report ----
CONF_SEGMENT_MAX=1MiB CONF_PREALLOCATE=64KiB write_conf
start_ingestd
send_from 0
stop_ingestd
CONF_SEGMENT_MAX=1MiB CONF_PREALLOCATE=0 write_conf
start_ingestd
expect_log_lines <<EOF
<6>lamina-ingestd: pageviews: 0 sealed segments, active 00000000000000000000.seg with 20 records, next offset 20
EOF
! grep -q '^<4>' "$LOG" || fail "zero fill reported: $(cat "$LOG")"
stop_ingestd

# --- torn tails ------------------------------------------------------
# torn REC INTO: cut $SEG INTO bytes into the record at offset REC; on
# restart the records from REC on are gone, the rest intact.
torn() {
	set -- "$1" "$2" $(record "$1")		# REC INTO START SIZE
	[ $# = 4 ] && [ "$2" -lt "$4" ] || fail "torn $*: no such cut"
	truncate -s $(($3 + $2)) "$SEG"
	start_ingestd
	expect_log_lines <<EOF
<4>lamina-ingestd: pageviews: 00000000000000000000.seg: truncated a torn tail: dropped $2 bytes from byte $3 (record runs past the end of the file)
<6>lamina-ingestd: pageviews: 0 sealed segments, active 00000000000000000000.seg with $1 records, next offset $1
EOF
	expect_stream "$1"
	send_from "$1"
	expect_stream 20
	stop_ingestd
}
torn 19 1		# inside the length
torn 19 4		# the length, not the CRC
torn 19 8		# the record header, no payload
torn 19 $(($(record 19 | cut -d' ' -f2) - 1))	# all but its last byte
torn 18 20		# in the record before the last: both go

# --- a flipped bit in the last record --------------------------------
set -- $(record 19)
"$PY" "$HELPERS/segment.py" flip "$SEG" $(($1 + 8 + $2 / 2 - 4))
start_ingestd
expect_log_lines <<EOF
<4>lamina-ingestd: pageviews: 00000000000000000000.seg: truncated a torn tail: dropped $2 bytes from byte $1 (checksum mismatch)
<6>lamina-ingestd: pageviews: 0 sealed segments, active 00000000000000000000.seg with 19 records, next offset 19
EOF
expect_stream 19
send_from 19
stop_ingestd

# --- a batch cut short is dropped whole ------------------------------
rm -rf "$T/data"
CONF_SEGMENT_MAX=1MiB CONF_PREALLOCATE=0 write_conf
start_ingestd
for i in 1 2 3 4 5; do
	sed -n "${i}p" "$T/sent.jsonl" | lamina send pageviews > /dev/null ||
	    fail "send $i"
done
sed -n '6,15p' "$T/sent.jsonl" | lamina send pageviews > /dev/null ||
    fail "send the batch"
stop_ingestd
set -- $(record 5)			# the batch's first record
b5=$1
set -- $(record 12)
truncate -s $(($1 + 3)) "$SEG"		# inside its 8th record
start_ingestd
expect_log_lines <<EOF
<4>lamina-ingestd: pageviews: 00000000000000000000.seg: truncated a torn tail: dropped $(($1 + 3 - b5)) bytes from byte $b5 (incomplete batch: 7 of 10 records)
<6>lamina-ingestd: pageviews: 0 sealed segments, active 00000000000000000000.seg with 5 records, next offset 5
EOF
expect_stream 5
stop_ingestd

# --- a damaged sealed segment ----------------------------------------
# 4KiB segments, 100 events sent 10 at a time: the first segments fill
# and are sealed.
rm -rf "$T/data"
CONF_SEGMENT_MAX=4KiB CONF_PREALLOCATE=0 write_conf
start_ingestd
"$PY" "$HELPERS/gen_pageviews.py" 100 7 > "$T/sent.jsonl"
for i in 0 1 2 3 4 5 6 7 8 9; do
	sed -n "$((i * 10 + 1)),$((i * 10 + 10))p" "$T/sent.jsonl" |
	    lamina send pageviews > /dev/null || fail "send $i"
done
stop_ingestd
[ "$(grep -c . "$T/sent.jsonl")" = 100 ] || fail "sent"
ls "$SEGDIR" > "$T/segments"
[ "$(grep -c '\.seg$' "$T/segments")" -ge 3 ] ||
    fail "not enough sealed segments: $(cat "$T/segments")"
set -- $(record 3)
at=$(($1 + 8 + $2 / 2))
"$PY" "$HELPERS/segment.py" flip "$SEG" $at
"$BIN/lamina-ingestd" -c "$CONF" 2>"$T/refused.log"
expect_eq "exit status with a damaged sealed segment" $? 1
expect_eq "refusal" "$(head -1 "$T/refused.log")" \
    "<3>lamina-ingestd: pageviews: refusing to start: $SEG: byte $1: checksum mismatch"
# Readers refuse it too, naming the same place.
lamina dump pageviews > /dev/null 2>"$T/dump.err"
expect_eq "dump of a damaged segment: exit status" $? 1
grep -qF "$SEG: byte $1: checksum mismatch" "$T/dump.err" ||
    fail "dump: $(cat "$T/dump.err")"
# Nothing was repaired behind the operator's back: undo the damage and
# everything is there.
"$PY" "$HELPERS/segment.py" flip "$SEG" $at
start_ingestd
! grep -q '^<4>' "$LOG" || fail "warnings: $(cat "$LOG")"
expect_stream 100
stop_ingestd
exit 0
