#!/usr/bin/env bash
# The parser workers (issue 12, docs/architecture.md): request bodies are
# parsed by sandboxed warrantd-parser processes that hold no key.
#  - a worker killed (-9) in the middle of a request: that request is
#    refused (HTTP 500, error 503) and journaled, the worker is started
#    again and the next request is served;
#  - the sandbox: a worker that tries open(2) or socket(2) is killed by its
#    seccomp filter (SIGSYS), and its request is refused and journaled;
#    failing again at once, it is started again after a backoff;
#  - a worker that does not answer within its bound (10 s) is killed, and
#    its request refused and journaled; a reload restarts the workers;
#  - as root: the journal's signing key and the results key, read from the
#    test PKI, are found in the signer's and in warrantd's memory (the
#    search works) and in no worker's memory (skipped, loudly, if not root).
# WARRANTD_PARSER_TEST_HOOKS=1 is the test-only switch of the workers'
# hooks (a body "WD-TEST-STALL", "WD-TEST-OPEN", "WD-TEST-SOCKET").
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
AUDIT=${WARRANT_AUDIT:-$TOP_BUILDDIR/src/warrant-audit/warrant-audit}
command -v curl >/dev/null || skip "no curl"
command -v python3 >/dev/null || skip "no python3"
export WARRANTD_PARSER_TEST_HOOKS=1
stack_up
# One worker, so that "the worker" of a request is known.
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
echo "parsers 1" >>"$DIR/warrantd.conf"
"$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null || fail "restart with parsers 1 failed"
pid=$(cat "$DIR/warrantd.pid")

worker() {
	local w i
	for i in $(seq 1 100); do
		w=$(pgrep -P "$pid" -x warrantd-parser | head -n 1)
		[ -n "$w" ] && { echo "$w"; return 0; }
		sleep 0.1
	done
	return 1
}

# post BODY: the raw body as an authority's official sends it; the answer
# in $DIR/answer, the HTTP status in $DIR/status.
post() {
	curl -s -o "$DIR/answer" -w '%{http_code}' --max-time 30 \
	    --cacert "$WARRANT_CACERT" --cert "$DIR/fgr.pem" --key "$DIR/fgr.key" \
	    -H 'Content-Type: application/xml' --data-binary "$1" \
	    "$WARRANT_URL/hi1" >"$DIR/status" || true
}

refused_and_journaled() {
	local what=$1 status
	status=$(cat "$DIR/status")
	[ "$status" = 500 ] || fail "$what: HTTP $status, expected 500: $(cat "$DIR/answer")"
	grep -q "parser worker failed ($2" "$DIR/answer" ||
	    fail "$what: the refusal does not say the parser failed ($2): $(cat "$DIR/answer")"
	"$AUDIT" show --journal "$DIR/state/journal" --json 2>/dev/null |
	    grep '"event":"EVENT_REQUEST_INVALID"' | grep -q "parser worker failed ($2" ||
	    fail "$what: the refusal is not journaled with \"$2\""
}

mkdir -p "$DIR/samples"
"$TOP_SRCDIR/tests/restamp" -o "$DIR/samples" "$SAMPLES/subscriber-msisdn.xml" ||
    fail "restamp failed"
served() {
	submit_new fgr "$DIR/samples/subscriber-msisdn.xml"
	expect_exit 0
	expect_output_contains "ACCEPTED"
}

served

# --- kill -9 mid-request ------------------------------------------------------
w1=$(worker) || fail "no parser worker runs under warrantd $pid"
reads=$(awk '/^syscr/ { print $2 }' "/proc/$w1/io")
post "WD-TEST-STALL" &
poster=$!
now=$reads
for i in $(seq 1 100); do
	now=$(awk '/^syscr/ { print $2 }' "/proc/$w1/io")
	[ "$now" -ge $((reads + 2)) ] && break	# the job's header and body read
	sleep 0.1
done
[ "$now" -ge $((reads + 2)) ] || fail "the worker never read the request"
kill -9 "$w1"
wait "$poster"
refused_and_journaled "kill -9" "killed by signal 9"
grep -q "parser worker 0 closed its socket; killed by signal 9" "$DIR/warrantd.log" ||
    fail "the worker's death is not logged"
w2=$(worker) || fail "the parser worker was not started again"
[ "$w2" != "$w1" ] || fail "the killed worker $w1 still runs"
served

# --- the sandbox: no open, no socket ---------------------------------------------
for call in OPEN SOCKET; do
	w=$(worker) || fail "no parser worker before $call"
	post "WD-TEST-$call"
	refused_and_journaled "$call" "killed by signal 31"
	kill -0 "$w" 2>/dev/null && fail "$call: worker $w survived its forbidden call"
done
grep -q "parser worker 0 failed [0-9]* times in a row: started again in [0-9]* ms" \
    "$DIR/warrantd.log" || fail "failures in a row were not met with a backoff"
served

# --- the time bound: a worker that does not answer is killed ---------------------
post "WD-TEST-STALL"
refused_and_journaled "stall" "killed by signal 9"
grep -q "parser worker 0 exceeded its time bound" "$DIR/warrantd.log" ||
    fail "the time bound is not logged"
served

# --- a reload restarts the worker (templates are read again) ---------------------
w=$(worker) || fail "no parser worker before the reload"
kill -HUP "$pid"
for i in $(seq 1 100); do
	grep -q "parser workers restarted" "$DIR/warrantd.log" && break
	sleep 0.1
done
grep -q "parser workers restarted" "$DIR/warrantd.log" || fail "the reload did not restart the workers"
kill -0 "$w" 2>/dev/null && fail "worker $w survived the reload"
served

# --- no key in a worker's memory --------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP (part): $test_name: not root: the key search in the workers' memory did not run" >&2
	pass
fi
key_bytes "$DIR"
# Restarted, so that warrantd's workers are the ones it started itself.
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
sed -i 's/^parsers 1$/parsers 2/' "$DIR/warrantd.conf"
"$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null || fail "restart with parsers 2 failed"
pid=$(cat "$DIR/warrantd.pid")
served
workers=$(pgrep -P "$pid" -x warrantd-parser | tr '\n' ' ')
[ "$(wc -w <<<"$workers")" -eq 2 ] || fail "expected 2 workers, found: $workers"
# The search works: warrantd holds the results key, its signer child the
# signing key (tests/integration/journal-signer.sh checks where it is not).
got=$(memscan "$pid" "$DIR/results.raw") ||
    fail "cannot read warrantd's memory"
[ "$got" = "found" ] ||
    fail "the results key was not found in warrantd's own memory: the search is broken"
signer=$(pgrep -P "$pid" -x warrantd-signer) || fail "no signer under warrantd $pid"
got=$(memscan "$signer" "$DIR/sign.raw") ||
    fail "cannot read the signer's memory"
[ "$got" = "found" ] ||
    fail "the signing key was not found in the signer's memory: the search is broken"
for w in $workers; do
	got=$(memscan "$w" "$DIR/sign.raw" "$DIR/results.raw") ||
	    fail "cannot read worker $w's memory"
	[ "$got" = "absent absent" ] ||
	    fail "worker $w holds a key (signing, results: $got)"
done
pass
