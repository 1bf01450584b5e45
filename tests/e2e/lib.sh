# Shared by the end-to-end scripts: a private temporary directory, cleanup
# of every process started (by PID) on exit, a watchdog that kills the test
# if it runs too long, waiting by polling (never by sleeping blindly), and
# assertions that say what differed.
#
# The runner sets LAMINA_BUILD (the build directory, with bin/) and
# LAMINA_TOP (the source tree).

set -u
: "${LAMINA_BUILD:?run me through tests/run}"
: "${LAMINA_TOP:?run me through tests/run}"
BIN="$LAMINA_BUILD/bin"
T=$(mktemp -d "${TMPDIR:-/tmp}/lamina-e2e.XXXXXX")
PIDS=""

cleanup() {
	for p in $PIDS; do
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ -n "${WATCHDOG:-}" ] && kill "$WATCHDOG" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

# Kill the whole test after $1 seconds (default 120).
watchdog() {
	( sleep "${1:-120}"; echo "FAIL: watchdog: test took over ${1:-120}s" >&2;
	  kill -TERM $$ ) &
	WATCHDOG=$!
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# expect_eq WHAT GOT WANT
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: got [$2], want [$3]"
}

# expect_file_eq WHAT FILE WANTFILE
expect_file_eq() {
	cmp -s "$2" "$3" || { diff -u "$3" "$2" | head -40 >&2;
	    fail "$1: $2 differs from $3"; }
}

# Poll until a command succeeds, up to $1 seconds, every 20 ms.
wait_for() {
	_limit=$1; shift
	_i=0
	while ! "$@" 2>/dev/null; do
		_i=$((_i + 1))
		[ $_i -ge $((_limit * 50)) ] && return 1
		sleep 0.02
	done
	return 0
}

# ---------------------------------------------------------------------
# lamina-ingestd scenarios.  The Python helpers in tests/e2e/helpers need
# Debian's python3 (it has python3-msgpack).

PY=/usr/bin/python3
PYTHONDONTWRITEBYTECODE=1	# no __pycache__ in the source tree
export PYTHONDONTWRITEBYTECODE
HELPERS="$LAMINA_TOP/tests/e2e/helpers"
CONF="$T/lamina.yaml"
INGEST_SOCK="$T/run/ingest.sock"
FORWARD_SOCK="$T/run/forward.sock"
SEGDIR="$T/data/master/pageviews"
INGESTD=""
NSTARTS=0

# Write $CONF: data and sockets under $T, the pageviews stream of
# conf/lamina.yaml, and small limits; CONF_* variables override them.
write_conf() {
	cat > "$CONF" <<EOC
data_dir: data
run_dir: run
sockets:
  max_message_bytes: ${CONF_MAX_MESSAGE:-1MiB}
  max_clients: ${CONF_MAX_CLIENTS:-64}
  max_client_buffer: ${CONF_MAX_BUFFER:-4MiB}
ingest:
  segment_max_bytes: ${CONF_SEGMENT_MAX:-64KiB}
  segment_max_age: ${CONF_SEGMENT_AGE:-1h}
  preallocate: ${CONF_PREALLOCATE:-0}
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
}

# Forget a PID that has been waited for, so cleanup does not kill a reuse.
forget_pid() {
	_keep=""
	for _p in $PIDS; do [ "$_p" = "$1" ] || _keep="$_keep $_p"; done
	PIDS=$_keep
}

_ingestd_up_or_gone() {
	grep -q '^<6>lamina-ingestd: ready:' "$LOG" || ! kill -0 "$INGESTD"
}

# Start lamina-ingestd on $CONF, its stderr in $LOG (a new file each
# start: ingestd.1.log, ingestd.2.log...), and wait for its "ready" line.
start_ingestd() {
	NSTARTS=$((NSTARTS + 1))
	LOG="$T/ingestd.$NSTARTS.log"
	"$BIN/lamina-ingestd" -c "$CONF" 2>"$LOG" &
	INGESTD=$!
	PIDS="$PIDS $INGESTD"
	wait_for 30 _ingestd_up_or_gone ||
	    fail "lamina-ingestd not ready after 30s: $(cat "$LOG")"
	grep -q '^<6>lamina-ingestd: ready:' "$LOG" ||
	    fail "lamina-ingestd exited at start: $(cat "$LOG")"
}

# Fail if a log holds a sanitizer report.
expect_no_sanitizer_report() {
	! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$1" ||
	    fail "$1: sanitizer report: $(grep -E -A12 'Sanitizer|runtime error' "$1" | head -40)"
}

# SIGTERM lamina-ingestd; it must exit 0, log "stopped", and have no
# sanitizer report.
stop_ingestd() {
	kill -TERM "$INGESTD"
	wait "$INGESTD"
	_rc=$?
	forget_pid "$INGESTD"
	expect_no_sanitizer_report "$LOG"
	expect_eq "lamina-ingestd exit status after SIGTERM" "$_rc" 0
	expect_eq "last log line after SIGTERM" "$(tail -1 "$LOG")" \
	    "<6>lamina-ingestd: stopped"
}

# kill -9 lamina-ingestd and reap it.
kill9_ingestd() {
	kill -KILL "$INGESTD"
	wait "$INGESTD"
	forget_pid "$INGESTD"
}

# Expect the log of the last start to hold each of these lines (stdin),
# whole, among its other lines (grep -F -x per line).
expect_log_lines() {
	while IFS= read -r _line; do
		grep -qFx -- "$_line" "$LOG" ||
		    fail "$LOG: no line [$_line]; it has: $(cat "$LOG")"
	done
}

# The number of events in the pageviews stream, read from the files.
dump_count() {
	"$BIN/lamina" -c "$CONF" dump pageviews | wc -l | tr -d ' '
}

# A status value of the running lamina-ingestd, by dotted path
# (streams.pageviews.committed).
ingestd_status() {
	"$PY" "$HELPERS/rpc.py" "$INGEST_SOCK" get "$1"
}

# expect_file_is WHAT FILE <<EOF: FILE holds exactly the lines on stdin.
expect_file_is() {
	cat > "$T/.want"
	expect_file_eq "$1" "$2" "$T/.want"
}
