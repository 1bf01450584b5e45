# Readiness and shutdown.  READY=1 reaches $NOTIFY_SOCKET before any
# append can succeed.  SIGTERM while four clients have appends in flight:
# every request answered with success is stored, those refused while
# stopping are not; lamina-ingestd exits 0 with no sanitizer report, logs
# "stopped", says STOPPING=1, and its sockets refuse connections after.
# The next start finds nothing to repair.
. "$LAMINA_TOP/tests/e2e/lib.sh"
watchdog 60

write_conf

# --- readiness -------------------------------------------------------
"$PY" "$HELPERS/notify_race.py" "$T/notify.sock" "$INGEST_SOCK" \
    "$T/notify.log" > "$T/race" &
PIDS="$PIDS $!"
wait_for 10 test -S "$T/notify.sock" || fail "no notify socket"
export NOTIFY_SOCKET="$T/notify.sock"
start_ingestd
unset NOTIFY_SOCKET
wait_for 10 grep -q . "$T/race" || fail "no append succeeded"
expect_eq "readiness" "$(cat "$T/race")" "READY=1 before the first append"
grep -qx "READY=1 MAINPID=$INGESTD" "$T/notify.log" ||
    fail "no READY=1 with MAINPID=$INGESTD: $(cat "$T/notify.log")"

# --- SIGTERM with appends in flight ----------------------------------
"$PY" "$HELPERS/loadgen.py" "$INGEST_SOCK" "$T/acks" s 4 20 4 20000 30 \
    > "$T/load" &
LOADGEN=$!
PIDS="$PIDS $LOADGEN"
acks_at_least() { [ -f "$T/acks" ] && [ "$(wc -l < "$T/acks")" -ge "$1" ]; }
wait_for 20 acks_at_least 300 || fail "load stalled"
stop_ingestd
expect_log_lines <<'EOF'
<6>lamina-ingestd: received SIGTERM: finishing what is in flight
EOF
! grep -q '^<4>' "$LOG" || fail "warnings: $(cat "$LOG")"
wait "$LOADGEN"
expect_eq "load generator exit" $? 0
forget_pid "$LOADGEN"
wait_for 10 grep -qx STOPPING=1 "$T/notify.log" ||
    fail "no STOPPING=1: $(cat "$T/notify.log")"

expect_eq "ingest.sock after exit" \
    "$("$PY" "$HELPERS/rpc.py" "$INGEST_SOCK" probe)" refused
expect_eq "forward.sock after exit" \
    "$("$PY" "$HELPERS/rpc.py" "$FORWARD_SOCK" probe)" refused

"$BIN/lamina" -c "$CONF" dump pageviews > "$T/dump.jsonl" || fail "dump"
"$PY" "$HELPERS/check_acks.py" "$T/acks" "$T/dump.jsonl" > "$T/check" ||
    fail "$(cat "$T/check")"
echo "$(cat "$T/load"); $(cat "$T/check")"
n=$(wc -l < "$T/dump.jsonl")

# --- a clean stop leaves nothing to repair ---------------------------
start_ingestd
! grep -q '^<4>' "$LOG" || fail "warnings after a clean stop: $(cat "$LOG")"
grep -q "^<6>lamina-ingestd: pageviews: [0-9]* sealed segments, active [0-9]*\.seg with [0-9]* records, next offset $n\$" "$LOG" ||
    fail "recovery does not say next offset $n: $(cat "$LOG")"
stop_ingestd
exit 0
