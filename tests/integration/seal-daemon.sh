#!/usr/bin/env bash
# The target list at rest (issue 14 §4), against the real daemon: after a
# request naming a line, neither the line nor the order reference is in
# any file of the state directory (journal, object store, results) nor in
# the daemon's log; the auditor finds the request with the audit private
# key; and the object store, deleted, is rebuilt from the sealed journal
# (the daemon opens its own records with its data key) and still answers
# with the order's reference; so it is when the store's key changed. A
# daemon whose data key is not the one that sealed the journal refuses to
# rebuild rather than serve blank targets.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
AUDIT=${WARRANT_AUDIT:-$TOP_BUILDDIR/src/warrant-audit/warrant-audit}
stack_up
grep -q 'audit-key' "$DIR/warrantd.conf" || fail "tests/pki/mkpki wrote no audit-key"

# warrantd -t: the audit key is checked; without one, it warns.
"$WARRANTD" -t -f "$DIR/warrantd.conf" >"$DIR/t.out" 2>&1 ||
    fail "-t refused the stack's configuration: $(cat "$DIR/t.out")"
sed "s|audit-key \"$DIR/audit.pub\"|audit-key \"$DIR/journal.pub\"|" \
    "$DIR/warrantd.conf" >"$DIR/bad-audit.conf"
if "$WARRANTD" -t -f "$DIR/bad-audit.conf" >"$DIR/t.out" 2>&1; then
	fail "-t took an Ed25519 key as the audit key"
fi
grep -q "not an X25519 key" "$DIR/t.out" || fail "-t does not say why: $(cat "$DIR/t.out")"
grep -v 'audit-key' "$DIR/warrantd.conf" >"$DIR/no-audit.conf"
"$WARRANTD" -t -f "$DIR/no-audit.conf" >"$DIR/t.out" 2>&1 ||
    fail "-t refused a configuration without audit-key: $(cat "$DIR/t.out")"
grep -q "journaled in clear" "$DIR/t.out" || fail "-t does not warn about clear targets"

work=$DIR/samples
mkdir -p "$work"
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/subscriber-msisdn.xml"
fresh_uuids "$work/subscriber-msisdn.xml"
# A line and an order of this run only, so that a match means a leak.
msisdn=52$(printf '%010d' $((RANDOM * 32768 + RANDOM)))
order="CI-SEAL/$RANDOM$RANDOM/2026"
sed -i -e "s/>52[0-9]\{10\}</>$msisdn</g" \
    -e "s|<auth:AuthorisationReference>[^<]*<|<auth:AuthorisationReference>$order<|" \
    "$work/subscriber-msisdn.xml"
grep -q "$msisdn" "$work/subscriber-msisdn.xml" && grep -qF "$order" "$work/subscriber-msisdn.xml" ||
    fail "the sample has no MSISDN or AuthorisationReference to replace"

submit_as fgr "$work/subscriber-msisdn.xml"
expect_exit 0
ref=$(grep -o 'MXC-[0-9]*-[0-9]*' <<<"$out" | head -n 1)
[ -n "$ref" ] || fail "no carrier reference: $out"

ctl() {
	rc=0
	out=$("$WARRANTCTL" --url "$WARRANT_URL" --cacert "$WARRANT_CACERT" \
	    --cert "$DIR/fgr.pem" --key "$DIR/fgr.key" --timeout 20 \
	    --authority FGR --carrier MXCARRIER \
	    --templates "$TOP_SRCDIR/etc/templates" "$@" 2>&1) || rc=$?
}
# The object store answers with the order (the authority's own request).
ctl --json status "$ref"
expect_exit 0
expect_output_contains "\"reference\": \"$order\""

# An invalid line (not +52): the refusal quotes it to the authority, but
# the journal seals that text and the log leaves it out.
bad=53$(printf '%010d' $((RANDOM * 32768 + RANDOM)))
cp "$work/subscriber-msisdn.xml" "$work/bad.xml"
fresh_uuids "$work/bad.xml"
sed -i -e "s/>$msisdn</>$bad</g" "$work/bad.xml"
submit_as fgr "$work/bad.xml"
[ "$rc" != 0 ] || fail "an MSISDN $bad was accepted"

# Every sample (every request type, both authorities): afterwards none of
# their lines, devices, addresses, orders, courts, approvals or task
# references is in clear on disk or in the log.
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES"/*.xml
for f in "$work"/*.xml; do
	case $f in */bad.xml|*/subscriber-msisdn.xml) continue ;; esac
	fresh_uuids "$f"
	case $(grep -m1 -A2 '<SenderIdentifier>' "$f") in
	*FGJCDMX*) who=fgecdmx ;;
	*) who=fgr ;;
	esac
	submit_as "$who" "$f"
	expect_exit 0
done
# An urgent order ratified by a judge (the ratification's case and
# document references), and one that lapses (its notification and record
# name the order): a short ratification clock for the test.
sed -i 's/ratification 48h/ratification 3s/' "$DIR/warrantd.conf"
grep -q 'ratification 3s' "$DIR/warrantd.conf" || fail "no ratification line to shorten"
kill -HUP "$(cat "$DIR/warrantd.pid")"
for i in $(seq 1 100); do
	grep -q 'configuration generation 2 in force' "$DIR/warrantd.log" && break
	sleep 0.1
done
urgent_new() {	# a fresh urgent order approved now; its reference in $uref
	mkdir -p "$work/u"
	"$TOP_SRCDIR/tests/restamp" -o "$work/u" "$SAMPLES/location-realtime-urgent.xml"
	mv "$work/u/location-realtime-urgent.xml" "$work/urgent.xml"
	sed -i "s|<common:ApprovalTimestamp>[^<]*|<common:ApprovalTimestamp>$(date -u +%Y-%m-%dT%H:%M:%SZ)|" \
	    "$work/urgent.xml"
	fresh_uuids "$work/urgent.xml"
	submit_as fgr "$work/urgent.xml"
	expect_exit 0
	uref=$(grep -o 'MXC-[0-9]*-[0-9]*' <<<"$out" | head -n 1)
}
urgent_new
case_ref="CP-SEAL-$RANDOM$RANDOM/2026"
printf '%s\n' "judge = Mtra. Laura Patricia Hernández Ochoa" \
    "role = Jueza de Control" "case = $case_ref" \
    "time = $(date -u +%Y-%m-%dT%H:%M:%SZ)" "document = $case_ref-R" \
    >"$DIR/ratification.order"
ctl ratify "$uref" --order "$DIR/ratification.order"
expect_exit 0
expect_output_contains "ratification accepted"
echo "$case_ref" >"$DIR/extra-secrets"
urgent_new
lapse_ref=$uref
for i in $(seq 1 300); do
	grep -q "$lapse_ref: .*lapsed" "$DIR/warrantd.log" && break
	sleep 0.1
done
grep -q "$lapse_ref: .*lapsed" "$DIR/warrantd.log" || fail "the urgent order $lapse_ref did not lapse"

grep -ho -e '<task:Value>[^<]*' -e '<auth:AuthorisationReference>[^<]*' \
    -e '<task:Reference>[^<]*' -e '<common:ApprovalReference>[^<]*' \
    -e '<auth:AuthorisationJurisdiction>[^<]*' "$SAMPLES"/*.xml |
    cut -d'>' -f2 | cat - "$DIR/extra-secrets" | sort -u >"$DIR/secrets"
[ "$(wc -l <"$DIR/secrets")" -ge 30 ] || fail "too few values taken from the samples: $(cat "$DIR/secrets")"

"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
leaks=$(grep -rlaF -f "$DIR/secrets" "$DIR/state" "$DIR/warrantd.log")
[ -z "$leaks" ] || fail "sample values in clear in: $leaks: $(grep -rhoaF -f "$DIR/secrets" $leaks | sort -u | head)"
leaks=$(grep -rlaF -e "$bad" "$DIR/state" "$DIR/warrantd.log")
[ -z "$leaks" ] || fail "the invalid line in clear in: $leaks"
"$AUDIT" show --journal "$DIR/state/journal" --key "$DIR/audit.key" |
    grep -q "EVENT_REQUEST_INVALID .*error=407 .*$bad" ||
    fail "the invalid request's error text is not in the journal for the auditor"
leaks=$(grep -rlaF -e "$msisdn" -e "$order" "$DIR/state" "$DIR/warrantd.log")
[ -z "$leaks" ] || fail "line or order in clear in: $leaks"
[ -f "$DIR/state/data.key" ] && [ "$(stat -c %a "$DIR/state/data.key")" = 600 ] ||
    fail "no data key 0600 in the state directory"
ls "$DIR/state/journal"/index-*.sealed >/dev/null 2>&1 || fail "no sealed index key for the auditor"

"$AUDIT" verify --journal "$DIR/state/journal" --pubkey "$DIR/journal.pub" >"$DIR/v.out" ||
    fail "verify without the audit key: $(cat "$DIR/v.out")"
"$AUDIT" verify --journal "$DIR/state/journal" --pubkey "$DIR/journal.pub" \
    --key "$DIR/audit.key" >"$DIR/v.out" || fail "verify --key: $(cat "$DIR/v.out")"
grep -q "sealed: all [1-9][0-9]* open with the audit key; blind index tokens checked on [1-9]" "$DIR/v.out" ||
    fail "verify --key checked nothing: $(cat "$DIR/v.out")"
"$AUDIT" search --journal "$DIR/state/journal" --key "$DIR/audit.key" \
    --identifier "msisdn:$msisdn" >"$DIR/s.out" || fail "search failed: $(cat "$DIR/s.out")"
grep -q "EVENT_REQUEST_ACCEPTED ref=$ref .*order=\"$order\"" "$DIR/s.out" ||
    fail "search did not find $ref under $order: $(cat "$DIR/s.out")"

# The store lost: rebuilt from the sealed journal with the data key.
rm -f "$DIR/state/objects.db" "$DIR/state/objects.db-wal" "$DIR/state/objects.db-shm"
"$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null || fail "restart without the object store failed"
ctl --json status "$ref"
expect_exit 0
expect_output_contains "\"reference\": \"$order\""
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null

# The store under another key (the results key replaced): it is moved
# aside and rebuilt from the journal, not served blank.
grep -q '^results' "$DIR/warrantd.conf" && [ -f "$DIR/results.key" ] ||
    fail "the stack has no results key to replace"
head -c 32 /dev/urandom >"$DIR/results.key"; chmod 600 "$DIR/results.key"
"$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null || fail "restart under another results key failed"
grep -q "does not open with its key" "$DIR/warrantd.log" ||
    fail "the store under another key was not noticed"
ls "$DIR/state"/objects.db.other-key.* >/dev/null 2>&1 || fail "the old store was not moved aside"
ctl --json status "$ref"
expect_exit 0
expect_output_contains "\"reference\": \"$order\""
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null

# Another data key: the sealed records do not open; the daemon refuses to
# rebuild its store with blank targets, and says why.
rm -f "$DIR/state/objects.db" "$DIR/state/objects.db-wal" "$DIR/state/objects.db-shm"
mv "$DIR/state/data.key" "$DIR/data.key.saved"
head -c 32 /dev/urandom >"$DIR/state/data.key"; chmod 600 "$DIR/state/data.key"
if "$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null 2>&1; then
	fail "the daemon started with a data key that does not open its journal"
fi
grep -q "is this daemon's data key the one that wrote it" "$DIR/warrantd.log" ||
    fail "the refusal does not say why"
mv "$DIR/data.key.saved" "$DIR/state/data.key"
"$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null || fail "restart with the right data key failed"
pass
