#!/bin/bash
#
# pki — tests/pki/mkpki makes the PKI the integration tests rely on: each
# certificate verifies (or fails) against ca.pem and crl.pem exactly as the
# daemon's TLS layer is expected to see it, and registry.conf names the
# right certificate for each official. Needs only openssl(1), no daemon.
#
set -u

srcdir=${srcdir:-$(dirname "$0")/../..}
mkpki="$srcdir/tests/pki/mkpki"
command -v openssl >/dev/null || { echo "SKIP: no openssl command" >&2; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/wd-pki.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
d="$tmp/pki"
n=0
failed=0

ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() {	# description command...
	local what=$1
	shift
	if "$@"; then ok "$what"; else notok "$what"; fi
}

verify() {	# cert [openssl verify options]
	local cert=$1
	shift
	openssl verify -CAfile "$d/ca.pem" -crl_check -CRLfile "$d/crl.pem" \
	    "$@" "$d/$cert.pem" 2>&1
}

verify_ok() {	# cert purpose
	local out
	out=$(verify "$1" -purpose "$2")
	[ "$out" = "$d/$1.pem: OK" ] || { echo "# $out"; return 1; }
}

verify_fails() {	# cert expected-error
	local out
	out=$(verify "$1")
	case $out in
	*"$2"*"verification failed"*) return 0 ;;
	esac
	echo "# $out"
	return 1
}

subject_is() {	# cert subject
	local s
	s=$(openssl x509 -noout -subject -nameopt RFC2253 -in "$d/$1.pem")
	[ "$s" = "subject=$2" ] || { echo "# $1: $s"; return 1; }
}

text_has() {	# cert regex
	openssl x509 -noout -text -in "$d/$1.pem" | grep -Eq "$2"
}

# The fingerprint registry.conf gives inside the block that opens with $1.
registry_fp() {	# block-opening regex
	awk -v re="$1" '
	    $0 ~ re { inblock = 1 }
	    inblock && /certificate sha256/ { gsub(/"/, "", $3); print $3; exit }
	' "$d/registry.conf"
}

fp_matches() {	# cert block-opening regex
	local want got
	want=$(openssl x509 -noout -fingerprint -sha256 -in "$d/$1.pem")
	want=${want#*=}
	got=$(registry_fp "$2")
	[ -n "$got" ] && [ "$got" = "$want" ] || { echo "# $1: registry '$got', cert '$want'"; return 1; }
}

key_mode_600() {
	local f bad=0
	for f in "$d"/*.key; do
		[ "$(stat -c %a "$f")" = 600 ] || { echo "# $f: mode $(stat -c %a "$f")"; bad=1; }
	done
	return $bad
}

crl_next_update_30d() {
	local next now days
	next=$(openssl crl -noout -nextupdate -in "$d/crl.pem")
	next=$(date -u -d "${next#nextUpdate=}" +%s) || return 1
	now=$(date -u +%s)
	days=$(( (next - now) / 86400 ))
	[ "$days" -ge 29 ] && [ "$days" -le 30 ] || { echo "# nextUpdate in $days days"; return 1; }
}

journal_key_ed25519() {
	openssl pkey -in "$d/journal.key" -noout -text 2>/dev/null | grep -q '^ED25519 Private-Key' &&
	    [ "$(openssl pkey -in "$d/journal.key" -pubout)" = "$(cat "$d/journal.pub")" ]
}

# --- make the PKI --------------------------------------------------------
port=$((20000 + RANDOM % 40000))
if ! "$mkpki" -p "$port" "$d" 2>"$tmp/mkpki.err"; then
	sed 's/^/# /' "$tmp/mkpki.err"
	echo "not ok 1 - mkpki"
	exit 1
fi
ok "mkpki -p $port makes a PKI"

for f in ca server fgr fgecdmx suspended revoked expired unregistered rogue \
    rogue-ca auditor; do
	check "$f.pem and $f.key exist" test -s "$d/$f.pem" -a -s "$d/$f.key"
done
check "crl.pem, journal.key, journal.pub, registry.conf, warrantd.conf, state/ exist" \
    test -s "$d/crl.pem" -a -s "$d/journal.key" -a -s "$d/journal.pub" \
    -a -s "$d/registry.conf" -a -s "$d/warrantd.conf" -a -d "$d/state"
check "every private key is mode 0600" key_mode_600
check "journal.key is Ed25519 and journal.pub its public key" journal_key_ed25519

# --- certificate contents ------------------------------------------------
check "CA is CA:TRUE" text_has ca 'CA:TRUE'
check "CA may sign certificates and CRLs" text_has ca 'Certificate Sign, CRL Sign'
check "server SAN is DNS:localhost, IP:127.0.0.1" text_has server 'DNS:localhost, IP Address:127.0.0.1'
check "server subject CN=localhost" subject_is server 'CN=localhost'
check "fgr is O=FGR CN=ana.lopez" subject_is fgr 'CN=ana.lopez,O=FGR'
check "fgecdmx is O=FGJCDMX CN=luis.garcia" subject_is fgecdmx 'CN=luis.garcia,O=FGJCDMX'
check "auditor is CN=aud.perez" subject_is auditor 'CN=aud.perez,O=AUDIT'
check "rogue impersonates ana.lopez" subject_is rogue 'CN=ana.lopez,O=FGR'
check "client certificates are for clientAuth" text_has fgr 'TLS Web Client Authentication'
check "CRL nextUpdate is 30 days ahead" crl_next_update_30d

# --- verification as the daemon sees it ----------------------------------
check "server verifies for sslserver" verify_ok server sslserver
for f in fgr fgecdmx suspended unregistered auditor; do
	check "$f verifies for sslclient with the CRL" verify_ok "$f" sslclient
done
check "revoked fails: certificate revoked" verify_fails revoked "certificate revoked"
check "expired fails: certificate has expired" verify_fails expired "certificate has expired"
check "rogue fails: unable to get local issuer certificate" \
    verify_fails rogue "unable to get local issuer certificate"

# --- registry.conf and warrantd.conf -------------------------------------
check "registry: ana.lopez is fgr.pem" fp_matches fgr '^\tofficial "ana\.lopez"'
check "registry: luis.garcia is fgecdmx.pem" fp_matches fgecdmx '^\tofficial "luis\.garcia"'
check "registry: suspended.official is suspended.pem" fp_matches suspended '^\tofficial "suspended\.official"'
check "registry: revoked.official is revoked.pem" fp_matches revoked '^\tofficial "revoked\.official"'
check "registry: expired.official is expired.pem" fp_matches expired '^\tofficial "expired\.official"'
check "registry: aud.perez is auditor.pem" fp_matches auditor '^auditor "aud\.perez"'
check "registry: suspended.official is marked suspended" \
    awk '/^\tofficial "suspended\.official"/ { b = 1 } b && /^\t\tsuspended$/ { f = 1 } b && /^\t}/ { b = 0 } END { exit !f }' "$d/registry.conf"
check "registry: unregistered and rogue are absent" \
    sh -c '! grep -q "unregistered\|$1\|$2" "$0"' "$d/registry.conf" \
    "$(openssl x509 -noout -fingerprint -sha256 -in "$d/rogue.pem" | sed 's/.*=//')" \
    "$(openssl x509 -noout -fingerprint -sha256 -in "$d/unregistered.pem" | sed 's/.*=//')"
check "warrantd.conf listens on 127.0.0.1 port $port" \
    grep -qx "listen on 127.0.0.1 port $port" "$d/warrantd.conf"
check "warrantd.conf names the PKI files by absolute path" \
    grep -q "^	crl \"$d/crl.pem\"$" "$d/warrantd.conf"

# --- idempotence and --revoke --------------------------------------------
check "mkpki refuses an existing PKI without -f" \
    sh -c '! "$0" "$1" 2>/dev/null' "$mkpki" "$d"
check "mkpki --revoke fgecdmx" sh -c '"$0" --revoke fgecdmx "$1" 2>/dev/null' "$mkpki" "$d"
check "fgecdmx now fails: certificate revoked" verify_fails fgecdmx "certificate revoked"
check "revoked still fails after a new CRL" verify_fails revoked "certificate revoked"
check "fgr still verifies after a new CRL" verify_ok fgr sslclient
check "mkpki --revoke refuses an unknown name" \
    sh -c '! "$0" --revoke nosuch "$1" 2>/dev/null' "$mkpki" "$d"

echo "1..$n"
[ "$failed" -eq 0 ]
