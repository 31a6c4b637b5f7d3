#!/usr/bin/env bash
# SIGHUP reloads the CRL and the registry without a restart: a certificate
# revoked in a new CRL is refused on its next connection, even one kept alive
# from before the reload (re-verified on its next request), while other
# officials go on being served by the same process.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
stack_up

work=$DIR/samples
mkdir -p "$work"
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/subscriber-msisdn.xml" \
    "$SAMPLES/location-realtime.xml"
req=$work/subscriber-msisdn.xml
pid=$(cat "$DIR/warrantd.pid")

submit_as fgecdmx "$work/location-realtime.xml"
expect_output_contains "REFUSED (HTTP 403) error 304"	# authenticated, wrong sender
sed -e 's/FGR/FGJCDMX/g' "$req" >"$work/cdmx.xml"
submit_as fgecdmx "$work/cdmx.xml"; expect_exit 0

# A kept-alive connection opened before the reload: one request now, the
# next after the reload, on the same TLS session (curl reuses it).
http_req() {	# FILE: one keep-alive POST /hi1 with FILE as body
	printf 'POST /hi1 HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/xml\r\nContent-Length: %d\r\n\r\n' \
	    "$(wc -c <"$1")"
	cat "$1"
}
# s_client -quiet ignores the end of its input: it ends when the server
# closes, which a kept-alive connection does only at its idle timeout (60 s).
# So the test waits for the second answer itself, then ends the client.
mkfifo "$DIR/go"
{
	http_req "$work/cdmx.xml"
	read -r _ <"$DIR/go"
	http_req "$work/cdmx.xml"
} | openssl s_client -quiet -connect "${WARRANT_URL#https://}" \
    -cert "$DIR/fgecdmx.pem" -key "$DIR/fgecdmx.key" -CAfile "$WARRANT_CACERT" \
    >"$DIR/ka.out" 2>/dev/null &
client=$!
answers() { grep -c '^HTTP/1.1 ' "$DIR/ka.out"; }
for i in $(seq 1 50); do
	grep -q '^HTTP/1.1 200' "$DIR/ka.out" && break
	sleep 0.1
done
grep -q '^HTTP/1.1 200' "$DIR/ka.out" || fail "first kept-alive request not accepted: $(cat "$DIR/ka.out")"
"$TOP_SRCDIR/tests/pki/mkpki" --revoke fgecdmx "$DIR" >/dev/null ||
    fail "mkpki --revoke failed"
kill -HUP "$pid"
for i in $(seq 1 50); do
	grep -q 'configuration generation 2 in force' "$DIR/warrantd.log" && break
	sleep 0.1
done
grep -q 'configuration generation 2 in force' "$DIR/warrantd.log" || fail "reload not done"
echo go >"$DIR/go"
# The 403 ends with its body (the refusal's reason); wait for that line.
for i in $(seq 1 100); do
	[ "$(answers)" -ge 2 ] && grep -q 'certificate revoked' "$DIR/ka.out" && break
	kill -0 "$client" 2>/dev/null || break
	sleep 0.1
done
kill "$client" 2>/dev/null
wait "$client" 2>/dev/null
[ "$(answers)" = 2 ] ||
    fail "expected two answers on the kept-alive connection: $(cat "$DIR/ka.out")"
grep '^HTTP/1.1 ' "$DIR/ka.out" | sed -n 2p | grep -q '^HTTP/1.1 403' ||
    fail "request after the revocation was not refused on the same connection: $(cat "$DIR/ka.out")"
grep -q 'certificate revoked' "$DIR/ka.out" || fail "403 does not say why: $(cat "$DIR/ka.out")"

# New connections with the revoked certificate fail in the handshake.
submit_as fgecdmx "$work/cdmx.xml"; expect_exit 1
expect_output_contains "certificate revoked"
# Same process, others still served.
[ "$(cat "$DIR/warrantd.pid")" = "$pid" ] || fail "daemon was restarted"
submit_as fgr "$req"; expect_exit 0

# A broken configuration is refused and the running one kept.
echo 'this is not a keyword' >>"$DIR/warrantd.conf"
kill -HUP "$pid"
for i in $(seq 1 50); do
	grep -q 'reload failed' "$DIR/warrantd.log" && break
	sleep 0.1
done
grep -q 'reload failed' "$DIR/warrantd.log" || fail "bad configuration not reported"
submit_as fgr "$req"; expect_exit 0
pass
