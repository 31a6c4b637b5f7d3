#!/usr/bin/env bash
# Issue 14 section 7, as it was found: reloads that weaken revocation were
# taken silently, and a CRL past its nextUpdate showed up only as clients
# refused with "certificate expired".
#  1. A reload whose configuration lost its crl line is refused, and the
#     revoked official stays out; `crl none` written out is taken, with a
#     warning (also from `warrantd -t`).
#  2. A CRL of another CA is refused by `warrantd -t`, at start and at
#     reload (before the fix: taken, then every official refused).
#  3. A CRL near its nextUpdate is warned about in the log; past it the log
#     and the journal say "CRL expired", and so does the handshake refusal;
#     the client gets handshake_failure, not certificate_expired.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
stack_up
AUDIT=${WARRANT_AUDIT:-$TOP_BUILDDIR/src/warrant-audit/warrant-audit}
mkpki=$TOP_SRCDIR/tests/pki/mkpki

work=$DIR/samples
mkdir -p "$work"
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/subscriber-msisdn.xml"
req=$work/subscriber-msisdn.xml
conf=$DIR/warrantd.conf
pid=$(cat "$DIR/warrantd.pid")
cp "$conf" "$DIR/warrantd.good"
gen=1

wait_log() {	# pattern [count]
	local i
	for i in $(seq 1 300); do
		[ "$(grep -c -- "$1" "$DIR/warrantd.log")" -ge "${2:-1}" ] && return 0
		sleep 0.1
	done
	fail "no \"$1\" in warrantd.log"
}
reload_ok() {
	gen=$((gen + 1))
	kill -HUP "$pid"
	wait_log "configuration generation $gen in force"
}
refused=0
reload_refused() {	# what the log must say
	refused=$((refused + 1))
	kill -HUP "$pid"
	wait_log 'reload failed' "$refused"
	grep -q -- "$1" "$DIR/warrantd.log" || fail "reload refused without \"$1\""
}
check_conf() {	# file
	rc=0; out=$("$WARRANTD" -t -f "$1" 2>&1) || rc=$?
}

submit_as revoked "$req"; expect_exit 1; expect_output_contains "certificate revoked"

# --- 1. the crl line deleted -----------------------------------------------
sed -i '/^[[:space:]]*crl "/d' "$conf"
grep -q crl "$conf" && fail "cannot delete the crl line"
check_conf "$conf"
[ "$rc" = 0 ] || fail "warrantd -t refused a configuration without crl: $out"
case $out in *'no crl: revocation is not checked'*) ;; *) fail "-t does not warn without crl: $out" ;; esac
reload_refused 'reload refused: .* has no crl line'
submit_as revoked "$req"; expect_exit 1; expect_output_contains "certificate revoked"
submit_as fgr "$req"; expect_exit 0

sed -i 's/^\(tls {.*\)$/\1\n\tcrl none/' "$conf"
grep -q '^[[:space:]]*crl none$' "$conf" || fail "cannot write crl none: $(cat "$conf")"
check_conf "$conf"
[ "$rc" = 0 ] || fail "warrantd -t refused crl none: $out"
case $out in *'crl none: revocation is not checked'*) ;; *) fail "-t does not warn about crl none: $out" ;; esac
reload_ok
submit_as revoked "$req"; expect_exit 0	# revocation off, as written
cp "$DIR/warrantd.good" "$conf"
reload_ok
submit_as revoked "$req"; expect_exit 1; expect_output_contains "certificate revoked"

# --- 2. another CA's CRL ------------------------------------------------------
( cd "$DIR" && openssl ca -gencrl -config "$DIR/ca.cnf" -cert "$DIR/rogue-ca.pem" \
    -keyfile "$DIR/rogue-ca.key" -crldays 30 -out "$DIR/other-crl.pem" ) \
    >"$DIR/openssl.log" 2>&1 || fail "cannot make the other CA's CRL: $(cat "$DIR/openssl.log")"
sed -e "s|crl \"$DIR/crl.pem\"|crl \"$DIR/other-crl.pem\"|" "$DIR/warrantd.good" >"$DIR/other.conf"
grep -q other-crl "$DIR/other.conf" || fail "cannot point crl at the other CRL"
check_conf "$DIR/other.conf"
[ "$rc" = 1 ] || fail "warrantd -t exited $rc with another CA's CRL: $out"
case $out in *'which is not a configured CA'*) ;; *) fail "-t does not say why: $out" ;; esac
rc=0; out=$(timeout 30 "$WARRANTD" -d -f "$DIR/other.conf" 2>&1) || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "warrantd started (exit $rc) with another CA's CRL"
case $out in *'not a configured CA'*) ;; *) fail "start refused without saying why: $out" ;; esac
cp "$DIR/other.conf" "$conf"
reload_refused 'not a configured CA'
submit_as fgr "$req"; expect_exit 0		# officials still served
cp "$DIR/warrantd.good" "$conf"

# --- 3. the CRL's nextUpdate --------------------------------------------------
"$mkpki" --crl-seconds 86400 "$DIR" || fail "mkpki --crl-seconds failed"
reload_ok
wait_log 'nextUpdate .* is in 2[0-9] hours; publish a fresh CRL'
check_conf "$conf"
case $out in *'publish a fresh CRL'*) ;; *) fail "-t does not warn of the CRL's nextUpdate: $out" ;; esac

"$mkpki" --crl-seconds 15 "$DIR" || fail "mkpki --crl-seconds failed"
reload_ok
# The daemon's own clock decides; its check runs every few seconds.
sleep 16
wait_log 'CRL expired: the CRL in force'
submit_as fgr "$req"
[ "$rc" != 0 ] || fail "served past the CRL's nextUpdate: $out"
# The client is not told its certificate expired (it did not): the alert
# is handshake_failure, where OpenSSL would send certificate_expired.
alert=$( (sleep 1; printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n') |
    openssl s_client -quiet -connect "${WARRANT_URL#https://}" -cert "$DIR/fgr.pem" \
    -key "$DIR/fgr.key" -CAfile "$WARRANT_CACERT" 2>&1 | grep -i 'alert' || true)
case $alert in
*"alert handshake failure"*) ;;
*) fail "past the CRL's nextUpdate the client got: ${alert:-no alert}" ;;
esac
"$mkpki" --crl-seconds 2592000 "$DIR" || fail "mkpki --crl-seconds failed"
reload_ok
submit_as fgr "$req"; expect_exit 0
grep -q 'client certificate refused: CRL expired' "$DIR/warrantd.log" ||
    fail "the handshake refusal does not say CRL expired"
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
"$AUDIT" show --journal "$DIR/state/journal" --json >"$DIR/show.json" 2>/dev/null ||
    fail "warrant-audit show failed"
grep '"event":"EVENT_CRL_EXPIRED"' "$DIR/show.json" | grep -q 'CRL expired' ||
    fail "no EVENT_CRL_EXPIRED record in the journal"
grep '"event":"EVENT_TLS_REFUSED"' "$DIR/show.json" | grep -q 'CRL expired' ||
    fail "the refused handshake is not journaled as CRL expired"
"$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null || fail "restart failed"
pass
