#!/bin/bash
# The gateway's X1 client (src/warrantd/x1_client.c, src/warrantd/x1.c) against simulated
# network elements: every operation the gateway uses, answered and valid
# under the official schemas (the simulator checks each message); an
# element's refusal read as an answer; an element that hangs or is down
# retried with fresh transactions up to `retries`, then a failure; an
# answer for another transaction or from another element refused.
set -u
srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$srcdir/tests/integration/lib.sh"
. "$srcdir/tests/x1/lib.sh"

command -v python3 >/dev/null || skip "no python3"
[ -x "$TOP_SRCDIR/../shared/etsi/validate.sh" ] || skip "no ../shared/etsi"
X1SEND=$TOP_BUILDDIR/tests/x1/x1_send
[ -x "$X1SEND" ] || skip "x1_send not built"

DIR=$(mktemp -d "${TMPDIR:-/tmp}/wd-x1c.XXXXXX") || fail "mktemp"
trap 'ne_down_all; [ -n "${WD_KEEP:-}" ] || rm -rf "$DIR"' EXIT
"$TOP_SRCDIR/tests/pki/mkpki" "$DIR/pki" >/dev/null 2>&1 || fail "mkpki"
ne_up a "$DIR" "$DIR/pki" || fail "nesim did not start"
conf=$DIR/pki/warrantd.conf
cat >>"$conf" <<EOC
ne "a" {
	url "https://127.0.0.1:$NE_PORT_a/X1/NE"
	certificate "$DIR/pki/carrier.pem"
	key "$DIR/pki/carrier.key"
	ca "$DIR/pki/ca.pem"
	serves e164 imsi imei
	destination "192.0.2.10:4000"
	deadline 3s
	retries 2
}
EOC

x1() { out=$("$X1SEND" -f "$conf" -n a "$@" 2>"$DIR/x1_send.err"); rc=$?; }
expect() {
	case $out in *"$1"*) ;; *) fail "$*: got rc $rc: $out $(tail -3 "$DIR/x1_send.err")" ;; esac
}

X=4a1c9a5e-0c39-4b9e-8f7e-0a1b2c3d4e5f
x1 ping;				expect "answered ok"
x1 create-destination;			expect "answered ok"
x1 get-destination;			expect "answered ok"
x1 activate $X e164:525512345678 imsi:334020123456789 imei:35693803564380
expect "answered ok"
x1 get-task $X;				expect "answered ok held $X"
x1 modify $X e164:525512345678;		expect "answered ok"
x1 get-all;				expect "answered ok held $X dids 1"
# A second activation of the same XID: the element's refusal is an answer.
x1 activate $X e164:525512345678;	expect "answered error 1002: XID already exists"
[ "$rc" = 3 ] || fail "an ErrorResponse exited $rc"
x1 deactivate $X;			expect "answered ok"
x1 get-task $X;				expect "answered error 1001"
x1 activate 5b1c9a5e-0c39-4b9e-8f7e-0a1b2c3d4e5f ipv4:192.0.2.77 ipv6:2001:0db8:0000:0000:0000:0000:0000:0001
expect "answered ok"
# Refusal knob.
ne_ctl a refuse Ping 1005 "maintenance"
x1 ping;				expect "answered error 1005: maintenance"
ne_ctl a clear

# An element that hangs: the deadline ends each attempt; 1 + retries
# attempts, each a new transaction.
ne_ctl a hang on
x1 ping;				expect "failed: no answer within 3000 ms"
expect "attempts 3"
ne_ctl a clear
[ "$(ne_count a PingRequest)" -ge 2 ] || fail "pings not logged"

# Down (connections closed at once), then up again between attempts is
# not timing-safe to test here; down for all attempts is.
ne_ctl a down on
x1 ping;				expect "failed: "
expect "attempts 3"
ne_ctl a clear

# warrantd -t: the element's files are usable, and whether it answers is
# said; one that does not answer does not fail the check.
WARRANTD=${WARRANTD:-$TOP_BUILDDIR/src/warrantd/warrantd}
if [ -x "$WARRANTD" ]; then
	out=$("$WARRANTD" -t -f "$conf" 2>&1) || fail "warrantd -t failed: $out"
	case $out in *'ne "a": reachable (Ping acknowledged)'*) ;; *) fail "-t: $out" ;; esac
	ne_ctl a down on
	out=$("$WARRANTD" -t -f "$conf" 2>&1) || fail "warrantd -t failed on a down element: $out"
	case $out in *'ne "a": NOT reachable'*) ;; *) fail "-t, element down: $out" ;; esac
	ne_ctl a clear
	sed "s|key \"$DIR/pki/carrier.key\"|key \"$DIR/pki/no-such.key\"|" "$conf" >"$DIR/bad.conf"
	"$WARRANTD" -t -f "$DIR/bad.conf" >/dev/null 2>&1 && fail "-t accepted an element without its key"
fi

# Every message on the wire was valid under the official schemas.
ne_all_valid a || fail "invalid X1 on the wire: $(head -c 2000 "$DIR/ne-a/invalid.log")"
# And what --print builds validates too (the same builder).
for op in ping get-all create-destination "activate $X e164:525512345678" \
    "deactivate $X" "get-task $X"; do
	"$X1SEND" -f "$conf" -n a -p $op >"$DIR/msg.xml" || fail "print $op"
	"$TOP_SRCDIR/../shared/etsi/validate.sh" x1 "$DIR/msg.xml" >/dev/null 2>&1 ||
	    fail "$op: not valid under the official schemas"
done
echo "PASS: x1-client.sh"
exit 0
