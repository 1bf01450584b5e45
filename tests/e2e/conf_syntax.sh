# Every file in conf/ passes -t; broken configurations fail with the
# expected message (file:line:column) and exit 1.
. "$LAMINA_TOP/tests/e2e/lib.sh"
watchdog 60

for f in "$LAMINA_TOP"/conf/*.yaml; do
	out=$("$BIN/lamina" -t -c "$f" 2>&1) || fail "$f: -t failed: $out"
	expect_eq "$f" "$out" "configuration OK"
done

# broken NAME EXPECTED-OUTPUT: write $T/NAME.yaml from stdin, run -t.
broken() {
	cat > "$T/$1.yaml"
	out=$("$BIN/lamina" -t -c "$T/$1.yaml" 2>&1)
	rc=$?
	expect_eq "$1: exit code" "$rc" 1
	expect_eq "$1: message" "$out" "$2"
}

broken unknown-key "$T/unknown-key.yaml:3:1: colour: unknown key" <<'Y'
data_dir: d
run_dir: r
colour: blue
Y

broken bad-size "$T/bad-size.yaml:4:22: ingest.segment_max_bytes: expected a size such as 64MiB (lots)" <<'Y'
data_dir: d
run_dir: r
ingest:
  segment_max_bytes: lots
Y

broken two-errors "$T/two-errors.yaml:1:1: run_dir: missing required key
$T/two-errors.yaml:3:10: ingest.fsync: must be one of always, interval, never (sometimes)" <<'Y'
data_dir: d
ingest:
  fsync: sometimes
Y

broken yaml-syntax "$T/yaml-syntax.yaml:3:1: yaml: found unexpected end of stream (while scanning a quoted scalar at 2:10)" <<'Y'
data_dir: d
run_dir: "r
Y

out=$("$BIN/lamina" -t -c "$T/missing.yaml" 2>&1)
expect_eq "missing file: exit" $? 1
expect_eq "missing file" "$out" "$T/missing.yaml: No such file or directory"

out=$("$BIN/lamina" -V)
case "$out" in "lamina "[0-9]*) ;; *) fail "-V: $out" ;; esac
exit 0
