#!/usr/bin/env bash
# A certificate that expires during a kept-alive connection stops working
# on that connection (issue 14 §3): the chain's earliest notAfter, kept
# from the handshake, is checked on every request; the request after it is
# refused (403, journaled) and the connection closed. The same when the
# CRL in force passes its nextUpdate. keepalive-requests and
# keepalive-time bound every connection's life.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
PY=$(command -v /usr/bin/python3 || command -v python3 || true)
[ -n "$PY" ] || skip "no python3"
stack_up
port=${WARRANT_URL##*:}
AUDIT=${WARRANT_AUDIT:-$TOP_BUILDDIR/src/warrant-audit/warrant-audit}
work=$DIR/samples
mkdir -p "$work"
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/subscriber-msisdn.xml"
good=$work/subscriber-msisdn.xml
edges() { "$PY" "$TOP_SRCDIR/tests/integration/http-edges.py" "$DIR" "$port" "$@"; }
gen=1
reload() {
	gen=$((gen + 1))
	kill -HUP "$(cat "$DIR/warrantd.pid")"
	for i in $(seq 1 100); do
		grep -q "configuration generation $gen in force" "$DIR/warrantd.log" && return 0
		sleep 0.1
	done
	fail "reload $gen not taken"
}

# A certificate that expires 8 s from now, registered; the daemon reloads.
"$TOP_SRCDIR/tests/pki/mkpki" --short-lived short.lived 8 "$DIR" ||
    fail "mkpki --short-lived failed"
reload
edges expiry short.lived "$good" || fail "expiring certificate"
grep -q 'certificate has expired, on a kept-alive connection' "$DIR/warrantd.log" ||
    fail "the expiry was not logged"
"$AUDIT" show --journal "$DIR/state/journal" --json 2>/dev/null |
    grep '"event":"EVENT_REQUEST_REFUSED"' | grep -q 'certificate has expired' ||
    fail "the refused request is not journaled with its reason"

# The CRL in force passes its nextUpdate: new handshakes are refused by
# OpenSSL, and so are requests on connections kept alive from before.
"$TOP_SRCDIR/tests/pki/mkpki" --crl-seconds 8 "$DIR" || fail "mkpki --crl-seconds failed"
reload
edges expiry fgr "$good" crl || fail "expiring CRL"
grep -q 'CRL expired: .*, on a kept-alive connection' "$DIR/warrantd.log" ||
    fail "the CRL's expiry was not logged"
"$TOP_SRCDIR/tests/pki/mkpki" --crl-seconds 2592000 "$DIR" || fail "mkpki --crl-seconds failed"
reload

# keepalive-requests and keepalive-time.
sed -i 's/^\tidle-timeout 60s$/&\n\tkeepalive-requests 3\n\tkeepalive-time 2s/' "$DIR/warrantd.conf"
grep -q 'keepalive-requests 3' "$DIR/warrantd.conf" || fail "cannot set keepalive-requests"
reload
edges keepalive-requests 3 || fail "keepalive-requests"
edges keepalive-time 2 || fail "keepalive-time"
submit_as fgr "$good"; expect_exit 0
pass
