#!/usr/bin/env bash
# HTTP edges (issue 14 §8), attacked as found: Expect: 100-continue is
# answered (another expectation 417), exactly one Host in HTTP/1.1, a head
# with bare-LF line ends refused with 400 at once (it used to wait for the
# 30-s deadline), a request begun and not finished answered 408 at its
# deadline, and numbers written one way only (seq=01, Content-Length: 0N
# refused). tests/integration/http-edges.py speaks the raw bytes.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
PY=$(command -v /usr/bin/python3 || command -v python3 || true)
[ -n "$PY" ] || skip "no python3"
stack_up
port=${WARRANT_URL##*:}
work=$DIR/samples
mkdir -p "$work"
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/subscriber-msisdn.xml"
good=$work/subscriber-msisdn.xml
edges() { "$PY" "$TOP_SRCDIR/tests/integration/http-edges.py" "$DIR" "$port" "$@"; }

edges http "$good" || fail "HTTP edges"
grep -q 'HTTP/1.1 request without Host' "$DIR/warrantd.log" ||
    fail "the missing Host was not logged"

# 408: a 2-s request deadline, by reload.
sed -i 's/request-timeout 30s/request-timeout 2s/' "$DIR/warrantd.conf"
kill -HUP "$(cat "$DIR/warrantd.pid")"
for i in $(seq 1 50); do
	grep -q 'configuration generation 2 in force' "$DIR/warrantd.log" && break
	sleep 0.1
done
grep -q 'configuration generation 2 in force' "$DIR/warrantd.log" || fail "reload not taken"
edges timeout 2 || fail "408 on a request timeout"
submit_as fgr "$good"; expect_exit 0
pass
