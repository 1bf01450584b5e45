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
