#!/usr/bin/env bash
# desk-browser.sh — the compliance desk's console in headless Chromium
# driven by Selenium (desk-browser.py says what is checked). The operator's
# certificate is given to Chromium the way a desk with smartcards would: in
# its NSS database, picked without asking by the AutoSelectCertificateForUrls
# policy (a managed policy file for this test's URL only, removed at the
# end). Skipped, saying why, without Debian's chromium, chromium-driver,
# python3-selenium and libnss3-tools, or when the policy directory
# (/etc/chromium/policies/managed) cannot be written.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
. "$srcdir/tests/integration/desk-lib.sh"
missing=
for c in /usr/bin/chromium /usr/bin/chromedriver /usr/bin/certutil /usr/bin/pk12util; do
	[ -x "$c" ] || missing="$missing $c"
done
/usr/bin/python3 -c 'import selenium' 2>/dev/null || missing="$missing python3-selenium"
[ -z "$missing" ] || skip "not installed:$missing (apt-get install chromium" \
    "chromium-driver python3-selenium libnss3-tools): the console is NOT tested"
policies=/etc/chromium/policies/managed
mkdir -p "$policies" 2>/dev/null && [ -w "$policies" ] ||
    skip "cannot write $policies (run as root): the console is NOT tested"

desk_stack_up
policy=$policies/warrantd-desk-test-$$.json
cleanup_browser() {
	rm -f "$policy"
	stack_down
}
trap cleanup_browser EXIT

# One NSS database per browser: the test CA trusted, and the person's
# certificate and key (none for the browser without a certificate).
nssdb() {	# HOME NAME|-
	local home=$1 db=sql:$1/.pki/nssdb
	mkdir -p "$1/.pki/nssdb"
	certutil -N -d "$db" --empty-password || fail "certutil -N"
	certutil -A -d "$db" -n "warrantd test CA" -t "C,," -i "$DIR/ca.pem" ||
	    fail "certutil -A"
	[ "$2" = - ] && return 0
	openssl pkcs12 -export -in "$DIR/$2.pem" -inkey "$DIR/$2.key" \
	    -name "$2" -passout pass: -out "$work/$2.p12" || fail "pkcs12 $2"
	pk12util -i "$work/$2.p12" -d "$db" -W "" >/dev/null || fail "pk12util $2"
}
nssdb "$work/home-op" deskop
nssdb "$work/home-none" -
nssdb "$work/home-fgr" fgr
printf '{ "AutoSelectCertificateForUrls": ["{\\"pattern\\":\\"%s\\",\\"filter\\":{\\"ISSUER\\":{\\"CN\\":\\"warrantd test CA\\"}}}"] }\n' \
    "$DESK" >"$policy"

"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/records.xml" >/dev/null
fresh_uuids "$work/records.xml"
# An urgent order approved now: its 48 h ratification clock runs on the board.
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/location-realtime-urgent.xml" >/dev/null
sed -i "s|<common:ApprovalTimestamp>[^<]*|<common:ApprovalTimestamp>$(date -u +%Y-%m-%dT%H:%M:%SZ)|" \
    "$work/location-realtime-urgent.xml"
fresh_uuids "$work/location-realtime-urgent.xml"
mkdir -p "$work/shots"
DESK=$DESK WORK=$work SHOTS=$work/shots HOME_OP=$work/home-op \
    HOME_NONE=$work/home-none HOME_FGR=$work/home-fgr \
    RECORDS=$work/records.xml URGENT=$work/location-realtime-urgent.xml FGR_CERT=$DIR/fgr.pem FGR_KEY=$DIR/fgr.key \
    TEMPLATES=$TOP_SRCDIR/etc/templates WARRANTCTL=$WARRANTCTL \
    /usr/bin/python3 "$TOP_SRCDIR/tests/integration/desk-browser.py" ||
    fail "the browser test failed (screenshots in $work/shots; WD_KEEP=1 keeps them)"
# Keep the screenshots for the docs when asked (DESK_SHOTS=DIR).
[ -z "${DESK_SHOTS:-}" ] || cp "$work"/shots/desk-*.png "$DESK_SHOTS"/
pass
