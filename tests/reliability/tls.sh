#!/usr/bin/env bash
# tls.sh — the TLS policy seen from outside, against the running daemon.
#
# Always (make check), with openssl s_client, each probe next to a control
# that must succeed (so that a broken probe cannot pass for a refusal):
#   TLS 1.1 (and 1.0) refused with a protocol_version alert, while the
#     client offers it at security level 0; TLS 1.2 and 1.3 accepted;
#   a CBC suite under TLS 1.2 refused (ECDHE-ECDSA-AES128-SHA256 and
#     -SHA), an AEAD one accepted;
#   no client certificate: refused (TLS 1.3 certificate_required alert,
#     TLS 1.2 handshake_failure), never an HTTP answer;
#   a renegotiation attempt under TLS 1.2 refused (no_renegotiation), and
#     no request is served on that connection afterwards;
#   compression NONE, no session ticket, no session resumption.
# Full mode (make check-reliability) adds a testssl.sh scan (installed with
# apt-get when missing and running as root, else skipped) and fails on a
# protocol below TLS 1.2, any cipher that is not AEAD (GCM or
# ChaCha20-Poly1305), NULL/EXPORT/LOW/3DES/"average" (CBC) cipher lists,
# client-initiated renegotiation, or TLS compression. testssl.sh 3.0 has
# no client-certificate option: the "certificate required" verdict comes
# from the probes above. Certificate findings about the throwaway test PKI
# (self-signed CA, no CRL URI) are not the daemon's and are ignored.
srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$srcdir/tests/reliability/lib.sh"
rel_snapshot
rel_stack_up

ossl() {	# stdin-script args...: s_client output (stdout+stderr)
	local script=$1
	shift
	{ eval "$script"; } | timeout 10 openssl s_client -connect "$HOSTPORT" \
	    -CAfile "$WARRANT_CACERT" -servername localhost "$@" 2>&1
}
request='printf "GET /tls-probe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"; sleep 0.5'
cert=(-cert "$DIR/fgr.pem" -key "$DIR/fgr.key")
probe() {	# name expect(ok|refused) pattern stdin-script args...
	local name=$1 expect=$2 pat=$3 script=$4 o
	shift 4
	# A served probe ends when the daemon closes after its 404, so it may
	# wait longer for it: on a loaded machine (make -j2 check runs this
	# beside hostile.sh) the answer can take more than the 0.5 s.
	if [ "$expect" = ok ]; then
		o=$(ossl "$script; sleep 5" "$@")
	else
		o=$(ossl "$script" "$@")
	fi
	if [ "$expect" = ok ]; then
		grep -q 'HTTP/1.1 404' <<<"$o" ||
		    fail "$name: expected a served connection, got: $(grep -i -e error -e alert <<<"$o" | head -n 3)"
	else
		grep -q 'HTTP/1.1 ' <<<"$o" && fail "$name: served an HTTP answer"
		grep -q -e 'no protocols available' -e 'no ciphers available' <<<"$o" &&
		    fail "$name: the client did not offer what was to be probed: $(grep -e 'no protocols' -e 'no ciphers' <<<"$o")"
		grep -q -i -e "$pat" <<<"$o" ||
		    fail "$name: refused, but not with \"$pat\": $(grep -i -e error -e alert <<<"$o" | head -n 3)"
	fi
	echo "ok: $name"
}

# Protocols.
probe "TLS 1.3 with a client certificate" ok - "$request" -tls1_3 "${cert[@]}"
probe "TLS 1.2 with a client certificate" ok - "$request" -tls1_2 "${cert[@]}"
probe "TLS 1.1 refused" refused 'alert protocol version' "$request" -tls1_1 \
    -cipher 'DEFAULT:@SECLEVEL=0' "${cert[@]}"
probe "TLS 1.0 refused" refused 'alert protocol version' "$request" -tls1 \
    -cipher 'DEFAULT:@SECLEVEL=0' "${cert[@]}"

# Suites under TLS 1.2.
probe "TLS 1.2 AEAD suite accepted" ok - "$request" -tls1_2 \
    -cipher ECDHE-ECDSA-AES128-GCM-SHA256 "${cert[@]}"
for suite in ECDHE-ECDSA-AES128-SHA256 ECDHE-ECDSA-AES256-SHA ECDHE-ECDSA-AES128-SHA \
    AES128-SHA256 AES256-GCM-SHA384; do
	probe "TLS 1.2 $suite refused" refused 'alert handshake failure' "$request" \
	    -tls1_2 -cipher "$suite:@SECLEVEL=0" "${cert[@]}"
done

# The client certificate is required.
probe "TLS 1.3 without a client certificate refused" refused \
    'alert certificate required' "$request" -tls1_3
probe "TLS 1.2 without a client certificate refused" refused \
    'alert handshake failure' "$request" -tls1_2
probe "TLS 1.3 with a rogue client certificate refused" refused \
    'alert unknown ca' "$request" -tls1_3 -cert "$DIR/rogue.pem" -key "$DIR/rogue.key"

# Renegotiation: s_client renegotiates on a line "R"; then a request.
o=$(ossl "sleep 0.5; echo R; sleep 1; $request" -tls1_2 "${cert[@]}")
grep -q RENEGOTIATING <<<"$o" || fail "renegotiation probe: s_client did not try"
grep -q -i 'no renegotiation' <<<"$o" ||
    fail "renegotiation was not refused: $(grep -i -e error -e alert -e 'HTTP/1.1' <<<"$o" | head -n 3)"
grep -q 'HTTP/1.1 ' <<<"$o" && fail "a request was served after a renegotiation attempt"
echo "ok: TLS 1.2 renegotiation refused"

# Compression, tickets, resumption.
o=$(ossl "$request" -tls1_2 "${cert[@]}")
grep -q 'Compression: NONE' <<<"$o" || fail "TLS compression: $(grep Compression <<<"$o")"
grep -q 'TLS session ticket' <<<"$o" && fail "the server issued a session ticket"
sess=$DIR/sess.pem
ossl "$request" -tls1_2 "${cert[@]}" -sess_out "$sess" >/dev/null
if [ -s "$sess" ]; then
	o=$(ossl "$request" -tls1_2 "${cert[@]}" -sess_in "$sess")
	grep -q '^Reused' <<<"$o" && fail "a TLS 1.2 session was resumed"
fi
echo "ok: no compression, no ticket, no resumption"

# --- testssl.sh (full mode) ------------------------------------------------------
if [ "$REL_SCALE" = full ]; then
	ts=$(command -v testssl || command -v testssl.sh || true)
	if [ -z "$ts" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		rel_note "installing testssl.sh (apt-get)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q testssl.sh >"$DIR/apt.log" 2>&1 ||
		    skip "apt-get install testssl.sh failed: $(tail -n 2 "$DIR/apt.log")"
		ts=$(command -v testssl || command -v testssl.sh || true)
	fi
	[ -n "$ts" ] || skip "testssl.sh is not installed and cannot be (not root): probes passed"
	rel_note "testssl.sh scan of $HOSTPORT (about 3 minutes)"
	json=$DIR/testssl.json
	(cd "$DIR" && timeout 900 "$ts" --quiet --color 0 --warnings off --nodns min \
	    --openssl "$(command -v openssl)" --jsonfile "$json" "$HOSTPORT" \
	    >"$DIR/testssl.out" 2>&1)
	[ -s "$json" ] || fail "testssl.sh wrote no JSON: $(tail -n 5 "$DIR/testssl.out")"
	# One "id<TAB>finding" line per entry.
	tr -d '\n' <"$json" | sed 's/},/}\n/g' |
	    sed -n 's/.*"id" *: *"\([^"]*\)".*"finding" *: *"\([^"]*\)".*/\1\t\2/p' >"$DIR/testssl.tsv"
	[ -s "$DIR/testssl.tsv" ] || fail "cannot read $json"
	finding() { awk -F'\t' -v k="$1" '$1 == k { print $2; exit }' "$DIR/testssl.tsv"; }
	bad=
	for id in SSLv2 SSLv3 TLS1 TLS1_1; do
		f=$(finding "$id")
		[ "$f" = "not offered" ] || bad="$bad
  $id: ${f:-(no finding)}"
	done
	for id in cipherlist_NULL cipherlist_aNULL cipherlist_EXPORT cipherlist_LOW \
	    cipherlist_3DES_IDEA cipherlist_AVERAGE; do
		f=$(finding "$id")
		case $f in "not offered"*) ;; *) bad="$bad
  $id: ${f:-(no finding)}" ;; esac
	done
	case $(finding secure_client_renego) in "not vulnerable"*) ;; *) bad="$bad
  client-initiated renegotiation: $(finding secure_client_renego)" ;; esac
	case $(finding CRIME_TLS) in "not vulnerable"*) ;; *) bad="$bad
  compression (CRIME): $(finding CRIME_TLS)" ;; esac
	# Every cipher offered is AEAD.
	n_ciphers=$(grep -c '^cipher_x' "$DIR/testssl.tsv")
	[ "$n_ciphers" -gt 0 ] || bad="$bad
  no cipher enumeration in the scan"
	nonaead=$(grep '^cipher_x' "$DIR/testssl.tsv" | grep -v -e AESGCM -e ChaCha20 || true)
	[ -z "$nonaead" ] || bad="$bad
  not AEAD: $nonaead"
	# Anything else rated HIGH or CRITICAL that is not about the test PKI.
	tr -d '\n' <"$json" | sed 's/},/}\n/g' | grep -e '"HIGH"' -e '"CRITICAL"' |
	    grep -v -e '"id" *: *"cert' >"$DIR/testssl.severe" || true
	[ -s "$DIR/testssl.severe" ] && bad="$bad
  $(cat "$DIR/testssl.severe")"
	[ -z "$bad" ] || fail "testssl.sh:$bad"
	echo "testssl.sh $("$ts" --version 2>/dev/null | grep -o 'testssl *[0-9.]*' | head -n 1):" \
	    "$(finding TLS1_2 | head -c 20) TLS 1.2, $(finding TLS1_3 | head -c 30) TLS 1.3," \
	    "$n_ciphers ciphers, all AEAD: $(grep '^cipher_x' "$DIR/testssl.tsv" | awk '{ print $3 }' | tr '\n' ' ')"
fi
pass
