# Limits from the configuration: a frame over sockets.max_message_bytes
# (64KiB here) closes its connection, whole or announced by a header,
# before the daemon takes it in; it is counted as a protocol error and the
# daemon goes on serving the other connections.  A frame just under the
# limit is fine.  sockets.max_clients (4): a fifth connection is closed at
# once while the four others keep working.  Both on ingest.sock and on
# forward.sock.
. "$LAMINA_TOP/tests/e2e/lib.sh"
watchdog 60

CONF_MAX_MESSAGE=64KiB CONF_MAX_CLIENTS=4 write_conf
start_ingestd
limits() { "$PY" "$HELPERS/limits.py" "$@"; }

for sock in "$INGEST_SOCK" "$FORWARD_SOCK"; do
	expect_eq "$sock: just under the limit" "$(limits "$sock" fits 65000)" \
	    "a frame of 65000 bytes is stored: True"
done
expect_eq "protocol errors" "$(ingestd_status clients.protocol_errors)" 0

errors=0
for sock in "$INGEST_SOCK" "$FORWARD_SOCK"; do
	expect_eq "$sock: over the limit" "$(limits "$sock" oversize 70000)" \
	    "other connection works: True
oversize frame closes its connection: True
other connection still works: True"
	errors=$((errors + 1))
	expect_eq "$sock: protocol errors" \
	    "$(ingestd_status clients.protocol_errors)" $errors
	expect_eq "$sock: a 1 GiB header" "$(limits "$sock" header-only)" \
	    "1 GiB header closes its connection: True"
	errors=$((errors + 1))
	expect_eq "$sock: protocol errors" \
	    "$(ingestd_status clients.protocol_errors)" $errors
done

for sock in "$INGEST_SOCK" "$FORWARD_SOCK"; do
	expect_eq "$sock: max_clients" "$(limits "$sock" clients 4)" \
	    "4 connections work: True
one more is closed at once: True
the 4 still work: True
after one closes, a new one works: True"
done
[ "$(ingestd_status clients.rejected)" -ge 2 ] ||
    fail "rejected connections: $(ingestd_status clients.rejected)"

stop_ingestd
exit 0
