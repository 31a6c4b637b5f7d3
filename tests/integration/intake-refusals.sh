#!/usr/bin/env bash
# Every kind of caller the gateway must turn away is refused, each with its
# own error, each refusal is journaled, and a valid official is still served
# right after.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
stack_up

work=$DIR/samples
mkdir -p "$work"
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/subscriber-msisdn.xml" "$SAMPLES/records.xml"
req=$work/subscriber-msisdn.xml

# Certificate chain problems: refused during the TLS handshake.
submit_as revoked "$req";   expect_exit 1; expect_output_contains "certificate revoked"
submit_as expired "$req";   expect_exit 1; expect_output_contains "certificate expired"
submit_as rogue "$req";     expect_exit 1; expect_output_contains "unknown CA"
# No client certificate at all (curl without --cert).
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$WARRANT_CACERT" \
    -H 'Content-Type: application/xml' --data-binary @"$req" "$WARRANT_URL/hi1")
case $code in 000) ;; *) fail "no client certificate: got HTTP $code, expected a failed handshake" ;; esac

# Valid certificates that the registry does not allow.
submit_as unregistered "$req"; expect_exit 1
expect_output_contains "REFUSED (HTTP 403) error 301"
submit_as suspended "$req";    expect_exit 1
expect_output_contains "REFUSED (HTTP 403) error 302"
# A state prosecutor's official writing in the federal prosecutor's name.
submit_as fgecdmx "$req";      expect_exit 1
expect_output_contains "error 304"
# ...and in its own name, for a type its authority may not request.
sed -e 's/FGR/FGJCDMX/g' "$work/records.xml" >"$work/records-cdmx.xml"
submit_as fgecdmx "$work/records-cdmx.xml"; expect_exit 1
expect_output_contains "error 305"
# A message addressed to another carrier.
sed -e 's|<UniqueIdentifier>MXCARRIER<|<UniqueIdentifier>OTHERCARRIER<|' "$req" >"$work/other.xml"
submit_as fgr "$work/other.xml"; expect_exit 1; expect_output_contains "error 308"
# A replayed message from yesterday.
sed -e "s|<Timestamp>[^<]*<|<Timestamp>$(date -u -d yesterday +%Y-%m-%dT%H:%M:%S.000000Z)<|" \
    "$req" >"$work/old.xml"
submit_as fgr "$work/old.xml"; expect_exit 1; expect_output_contains "error 406"

# The valid official is still served on a fresh connection.
submit_as fgr "$req"; expect_exit 0; expect_output_contains "ACCEPTED (HTTP 200)"

# Every refusal reached the journal before its answer (the log says so
# after each durable record); TLS refusals are recorded with who tried.
log=$DIR/warrantd.log
[ "$(grep -c 'client certificate refused' "$log")" -ge 3 ] ||
    fail "TLS refusals not logged: $(tail -n 20 "$log")"
for code in 301 302 304 305 308 406; do
	grep -q "error $code " "$log" || fail "refusal $code not logged"
done

# A stranger's certificates cannot fill the journal: TLS refusals are
# recorded at most 10 a second, the rest counted into the next record.
hs() { openssl s_client -connect "${WARRANT_URL#https://}" -cert "$DIR/rogue.pem" \
    -key "$DIR/rogue.key" -CAfile "$WARRANT_CACERT" </dev/null >/dev/null 2>&1 & }
for i in $(seq 1 40); do hs; done
wait
sleep 1.2
submit_as rogue "$req"; expect_exit 1
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
n=$("$WARRANT_AUDIT" show --journal "$DIR/state/journal" | grep -c EVENT_TLS_REFUSED)
[ "$n" -lt 40 ] || fail "$n TLS refusal records for 44 refused handshakes: not rate limited"
"$WARRANT_AUDIT" show --journal "$DIR/state/journal" |
    grep -q 'earlier TLS refusals counted' || fail "the suppressed refusals were not counted"
"$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null || fail "restart failed"
pass
