# Shared by the batch view scripts (batch_*.sh), sourced after lib.sh:
# a configuration with the views of batch_oracle.py, starting and stopping
# lamina-ingestd and lamina-batchd on $T, sending a data set and waiting
# until all of it is in sealed segments.  Every wait polls; every process
# is killed by its PID.

BPY=/usr/bin/python3		# Debian's: it has python3-msgpack
BH="$LAMINA_TOP/tests/e2e/helpers"
CFG="$T/lamina.yaml"
DB="$T/data/views.db"
SEGS="$T/data/master/pageviews"
NLOG=0

lam() { "$BIN/lamina" -c "$CFG" "$@"; }
oracle() { "$BPY" "$BH/batch_oracle.py" "$@"; }

# bconf SPEC...: write $CFG with the pageviews stream, small segments (many
# of them: lamina send sends batches of max_message_bytes / 2), batch
# runs only at start and when asked (interval 1h), and these views.
# fsync: never, as durability is not what these tests are about.
# BATCH_WORKERS sets batch.workers, BATCH_SEGMENT_AGE ingest.segment_max_age.
bconf() {
	cat > "$CFG" <<EOC
data_dir: data
run_dir: run
sockets:
  max_message_bytes: 16KiB
  max_client_buffer: 1MiB
ingest:
  segment_max_bytes: 16KiB
  segment_max_age: ${BATCH_SEGMENT_AGE:-200ms}
  preallocate: 0
  fsync: never
batch:
  interval: 1h
  workers: ${BATCH_WORKERS:-2}
streams:
  pageviews:
    fields:
      url: string
      user: string
      referrer: {type: string, required: false}
      status: int
      bytes: int
      latency_ms: float
      time: float
    time: time
EOC
	oracle yaml "$@" >> "$CFG" || fail "batch_oracle.py yaml $*"
	"$BIN/lamina-batchd" -t -c "$CFG" >/dev/null 2>"$T/conf.err" ||
	    fail "configuration refused: $(cat "$T/conf.err")"
}

# Forget a PID that has been reaped, so cleanup does not kill a reuse.
bforget() {
	_keep=""
	for _p in $PIDS; do [ "$_p" = "$1" ] || _keep="$_keep $_p"; done
	PIDS=$_keep
}

_up_or_gone() {	# LOG NAME PID
	grep -q "^<6>lamina-$2: ready:" "$1" || ! kill -0 "$3"
}

# bstart NAME: start lamina-NAME on $CFG, its stderr in a new log file
# ($T/NAME.K.log), wait for its "ready" line.  Sets BPID and BLOG (and
# INGESTD / BATCHD and their logs ILOG / BATCHLOG).
bstart() {
	NLOG=$((NLOG + 1))
	BLOG="$T/$1.$NLOG.log"
	"$BIN/lamina-$1" -c "$CFG" 2>"$BLOG" &
	BPID=$!
	PIDS="$PIDS $BPID"
	wait_for 30 _up_or_gone "$BLOG" "$1" "$BPID" ||
	    fail "lamina-$1 not ready after 30s: $(cat "$BLOG")"
	grep -q "^<6>lamina-$1: ready:" "$BLOG" ||
	    fail "lamina-$1 exited at start: $(cat "$BLOG")"
	case $1 in
	ingestd) INGESTD=$BPID; ILOG=$BLOG ;;
	batchd) BATCHD=$BPID; BATCHLOG=$BLOG ;;
	esac
}

# Fail if a log holds a sanitizer report.
bno_sanitizer() {
	! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' "$1" ||
	    fail "$1: sanitizer report: $(grep -E -A12 'Sanitizer|runtime error' "$1" | head -40)"
}

# bstop NAME PID LOG: SIGTERM; exit 0, last line "stopped", no sanitizer
# report.
bstop() {
	kill -TERM "$2"
	wait "$2"
	_rc=$?
	bforget "$2"
	expect_eq "lamina-$1 exit status after SIGTERM" "$_rc" 0
	expect_eq "lamina-$1: last log line after SIGTERM" "$(tail -1 "$3")" \
	    "<6>lamina-$1: stopped"
	bno_sanitizer "$3"
}

# bkill9 PID: SIGKILL and reap.
bkill9() {
	kill -KILL "$1"
	wait "$1" 2>/dev/null
	bforget "$1"
}

_all_sealed() {	# N: N events committed, the active segment empty
	[ "$(lam status 2>/dev/null | "$BPY" -c '
import json, sys
s = json.load(sys.stdin)["ingestd"]["streams"]["pageviews"]
print(s["committed"], s["active_bytes"])')" = "$1 128" ]
}

# bsend FILE FIRST [nowait]: send FILE (its first event gets offset
# FIRST), then wait until every event so far is in a sealed segment
# (segment_max_age), unless nowait; bwait_sealed waits for that later.
bsend() {
	_n=$(wc -l < "$1" | tr -d ' ')
	_out=$(lam send pageviews "$1" 2>&1) || fail "send $1: $_out"
	expect_eq "send $1" "$(echo "$_out" | tail -1)" \
	    "sent $_n events to pageviews"
	expect_eq "send $1: first offset" "$(echo "$_out" | head -1)" \
	    "stored from offset $2"
	BSENT=$(($2 + _n))
	[ "${3:-}" = nowait ] || bwait_sealed
}

bwait_sealed() {
	wait_for 20 _all_sealed "$BSENT" ||
	    fail "events not all sealed after 20s: $(lam status)"
}

# bexpect_log LOG <<EOF: every line of stdin is a line of LOG (grep -x,
# extended regular expressions).
bexpect_log() {
	while IFS= read -r _re; do
		grep -qEx -- "$_re" "$1" ||
		    fail "$1: no line matching [$_re]; it has: $(cat "$1")"
	done
}

# brun: lamina batch run; it must succeed with no error.  Its JSON in BRUN.
brun() {
	BRUN=$(lam batch run 2>&1) || fail "lamina batch run: $BRUN"
	case $BRUN in
	*'"error":""'*) ;;
	*) fail "lamina batch run: $BRUN" ;;
	esac
}

# bjson PATH: a value of the JSON object in BRUN, by dotted path.
bjson() {
	echo "$BRUN" | "$BPY" -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[k]
print(v)' "$1"
}
