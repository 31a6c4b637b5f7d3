#!/usr/bin/env bash
# What an integrator's ordinary, valid messages look like is accepted, and
# what the profile refuses is refused with the error docs/errors.md gives:
# - names, courts and references at the profile's limit in characters,
#   accented or not, are accepted; one character more is the schema's 203;
# - a pretty-printed message (times, numbers and flags on lines of their
#   own, deeply indented) is accepted;
# - a malformed MSISDN is 407 with the profile's rule in words, not 203
#   quoting a regular expression;
# - a carrier's templates whose schema accepts a value its dictionary lacks
#   are refused at reload (the running ones kept); a value warrantd does not
#   know, let through by a carrier's schema, is the carrier's fault: 503.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
stack_up

work=$DIR/samples
mkdir -p "$work"
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/subscriber-msisdn.xml" \
    "$SAMPLES/records.xml" "$SAMPLES/location-realtime-urgent.xml"
req=$work/subscriber-msisdn.xml

# N copies of a character.
rep() { local s= i; for ((i = 0; i < $2; i++)); do s+=$1; done; printf '%s' "$s"; }
# limits FILE NAME COURT REF: the sample with these judge, court, reference.
limits() {
	sed -e "s|<common:ApproverName>[^<]*<|<common:ApproverName>$2<|" \
	    -e "s|<auth:AuthorisationJurisdiction>[^<]*<|<auth:AuthorisationJurisdiction>$3<|" \
	    -e "s|<auth:AuthorisationReference>[^<]*<|<auth:AuthorisationReference>$4<|" \
	    "$req" >"$1"
}

# 1. At the limit in 2-, 4- and 3-byte characters: accepted.
limits "$work/limits.xml" "$(rep é 255)" "$(rep 𝔸 255)" "$(rep € 128)"
submit_new fgr "$work/limits.xml"
expect_exit 0
expect_output_contains "ACCEPTED (HTTP 200)"
# ...and one character over, each: the schema's refusal.
limits "$work/over1.xml" "$(rep é 256)" "$(rep 𝔸 255)" "$(rep € 128)"
limits "$work/over2.xml" "$(rep é 255)" "$(rep 𝔸 256)" "$(rep € 128)"
limits "$work/over3.xml" "$(rep é 255)" "$(rep 𝔸 255)" "$(rep € 129)"
for f in over1 over2 over3; do
	submit_new fgr "$work/$f.xml"
	expect_exit 1
	expect_output_contains "$f.xml: REFUSED (HTTP 400) error 203"
	expect_output_contains "maxLength"
done

# 2. Pretty-printed: every time, action identifier and flag on a line of
# its own, indented 40 columns deep.
pad=$(rep ' ' 40)
for f in records location-realtime-urgent; do
	sed -E "s#<(ActionIdentifier|Timestamp|auth:StartTime|auth:EndTime|task:StartTime|task:EndTime|common:ApprovalTimestamp|auth:AuthorisationCreationTimestamp|common:ApprovalIsEmergency)>([^<]*)</#<\\1>\\n$pad    \\2\\n$pad</#g" \
	    "$work/$f.xml" >"$work/$f-pretty.xml"
	grep -q "^$pad    0$" "$work/$f-pretty.xml" || fail "$f-pretty.xml is not indented"
	submit_new fgr "$work/$f-pretty.xml"
	expect_exit 0
	expect_output_contains "$f-pretty.xml: ACCEPTED (HTTP 200)"
done

# 3. A malformed national MSISDN: 407, the rule in words.
sed -e 's|<task:Value>525512345678<|<task:Value>5255123456<|' "$req" >"$work/msisdn.xml"
submit_new fgr "$work/msisdn.xml"
expect_exit 1
expect_output_contains "REFUSED (HTTP 400) error 407: malformed identifier: action 1: line "
expect_output_contains "InternationalE164 \"5255123456\" is not 52 and 10 digits"
case $out in *pattern*|*'[0-9a-f]'*) fail "the schema's regular expression leaks: $out" ;; esac

# 4. The carrier's own templates.
cp -r "$TOP_SRCDIR/etc/templates" "$DIR/templates"
chmod -R u+w "$DIR/templates"
sed -i "s|^templates .*|templates \"$DIR/templates\"|" "$DIR/warrantd.conf"
grep -q "^templates \"$DIR/templates\"" "$DIR/warrantd.conf" || fail "no templates line to change"
outcomes() {
	grep -c -e 'configuration generation [0-9]* in force' -e 'reload failed:' \
	    "$DIR/warrantd.log"
}
reload() {	# SIGHUP, and wait for its outcome in the log
	local n i

	n=$(outcomes)
	kill -HUP "$(cat "$DIR/warrantd.pid")"
	for i in $(seq 1 100); do
		[ "$(outcomes)" -gt "$n" ] && return 0
		sleep 0.1
	done
	fail "the reload had no outcome in the log"
}
# Preservation withdrawn from the dictionary but not from the schema.
sed -i 's|<Value>Preservation</Value>|<Value>RealTimeLocation</Value>|' \
    "$DIR/templates/mx-dictionaries.xml"
reload
grep -q 'MX/RequestType value Preservation is accepted by the schema but not in the dictionaries' \
    "$DIR/warrantd.log" || fail "the inconsistent templates were not refused: $(tail -n 5 "$DIR/warrantd.log")"
grep -q 'reload failed' "$DIR/warrantd.log" || fail "reload did not fail"
submit_new fgr "$req"; expect_exit 0	# the running templates still serve
# Consistent again, but the schema lets through an ETSI value warrantd
# does not know: the templates load, the request is the carrier's fault.
cp "$TOP_SRCDIR/etc/templates/mx-dictionaries.xml" "$DIR/templates/"
sed -i 's|<xs:enumeration value="AwaitingDisclosure"/>|&<xs:enumeration value="Whenever"/>|' \
    "$DIR/templates/mx-common.xsd"
reload
grep -q 'configuration generation 2 in force' "$DIR/warrantd.log" || fail "reload not done"
sed -e 's|<common:Value>AwaitingDisclosure<|<common:Value>Whenever<|' "$req" >"$work/whenever.xml"
submit_new fgr "$work/whenever.xml"
expect_exit 2
expect_output_contains "whenever.xml: SERVER ERROR (HTTP 500)"
expect_output_contains "error 503: internal error: action 1: DesiredStatus: the carrier's schema accepts Whenever"
submit_new fgr "$req"; expect_exit 0
pass
