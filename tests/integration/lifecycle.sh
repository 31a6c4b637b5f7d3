#!/usr/bin/env bash
# lifecycle.sh — the request lifecycle over HI-1 against a real daemon and
# the reference back end, driven the way an authority's system would: raw
# HI-1 messages (GET, LIST, UPDATE, a repeated CREATE) sent with warrantctl
# --xml, every answer checked against the profile's templates and, where
# ../shared is present, ETSI's official schemas.
#
#  - records: packaged into parts, listed on the task, fetched by GET (the
#    data's SHA-256 is its Checksum and the journal's digest), then Disclosed
#  - a repeated CREATE (even after kill -9) is answered with the same
#    reference and calls no back end again; other content is refused (411)
#  - another authority can neither read nor guess an object: its GET gets
#    the same 412 as for an identifier nobody holds
#  - LIST by type; a message mixing reads and changes is refused (417)
#  - UPDATE: cancel (Generation checked, results destroyed), a stale
#    Generation (413), a finished task (415)
#  - kill -9, and a deleted object store: every object is back, the same
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
command -v xmllint >/dev/null || skip "xmllint missing (libxml2-utils)"
stack_up
XSD=$TOP_SRCDIR/etc/templates/hi1-mx.xsd
OFFICIAL=$TOP_SRCDIR/../shared/etsi/validate.sh
[ -x "$OFFICIAL" ] || echo "### SKIPPED here: official ETSI schema checks (../shared absent)" >&2
AUDIT=${WARRANT_AUDIT:-$TOP_BUILDDIR/src/warrant-audit/warrant-audit}

work=$DIR/work
mkdir -p "$work"
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/records.xml" \
    "$SAMPLES/subscriber-msisdn.xml"
# The samples' lines, pointed at lines of the back end's dataset.
db=$DIR/backend.db
msisdn=$(sqlite3 "$db" "select msisdn from subscriber order by id limit 1 offset 7")
sed -i "s/>52[0-9]\{10\}</>$msisdn</g" "$work"/*.xml

uuid() { cat /proc/sys/kernel/random/uuid; }
now() { date -u +%Y-%m-%dT%H:%M:%S.000000Z; }

# msg AUTHORITY ACTIONS...: an HI-1 request whose actions are the XML given.
msg() {
	local who=$1 i=0 a
	shift
	cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<HI1Message xmlns="http://uri.etsi.org/03120/common/2019/10/Core" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:common="http://uri.etsi.org/03120/common/2016/02/Common" xmlns:task="http://uri.etsi.org/03120/common/2020/09/Task" xmlns:auth="http://uri.etsi.org/03120/common/2020/09/Authorisation">
<Header><SenderIdentifier><CountryCode>MX</CountryCode><UniqueIdentifier>$who</UniqueIdentifier></SenderIdentifier>
<ReceiverIdentifier><CountryCode>MX</CountryCode><UniqueIdentifier>MXCARRIER</UniqueIdentifier></ReceiverIdentifier>
<TransactionIdentifier>$(uuid)</TransactionIdentifier><Timestamp>$(now)</Timestamp>
<Version><ETSIVersion>V1.12.1</ETSIVersion><NationalProfileOwner>MX</NationalProfileOwner><NationalProfileVersion>1.0</NationalProfileVersion></Version></Header>
<Payload><RequestPayload><ActionRequests>
EOF
	for a in "$@"; do
		echo "<ActionRequest><ActionIdentifier>$i</ActionIdentifier>$a</ActionRequest>"
		i=$((i + 1))
	done
	echo "</ActionRequests></RequestPayload></Payload></HI1Message>"
}
get() { echo "<GET><Identifier>$1</Identifier></GET>"; }
cancel() {
	echo "<UPDATE><HI1Object xsi:type=\"task:LDTaskObject\"><ObjectIdentifier>$1</ObjectIdentifier><CountryCode>MX</CountryCode><OwnerIdentifier>FGR</OwnerIdentifier><Generation>$2</Generation><task:DesiredStatus><common:Owner>ETSI</common:Owner><common:Name>LDTaskDesiredStatus</common:Name><common:Value>Cancelled</common:Value></task:DesiredStatus></HI1Object></UPDATE>"
}

# send NAME FILE: the answer's XML in $DIR/answer.xml, checked against the
# templates and the official schemas.
n_sent=0
send() {
	submit_as --xml "$1" "$2"
	# (warrantctl's own remarks go to stderr, which submit_as keeps too)
	printf '%s\n' "$out" | sed -n '/^<?xml/,$p' >"$DIR/answer.xml"
	n_sent=$((n_sent + 1))
	cp "$DIR/answer.xml" "$DIR/answer-$n_sent.xml"
	xmllint --noout --nonet --schema "$XSD" "$DIR/answer.xml" 2>"$DIR/xmllint.err" ||
	    fail "answer $n_sent not valid under the templates: $(head -3 "$DIR/xmllint.err")"
	if [ -x "$OFFICIAL" ]; then
		"$OFFICIAL" hi1 "$DIR/answer.xml" >"$DIR/official.err" 2>&1 ||
		    fail "answer $n_sent not valid under ETSI's schemas: $(head -3 "$DIR/official.err")"
	fi
}
# xp XPATH: its string value in the last answer (default namespace as c:).
xp() {
	xmllint --xpath "string($1)" - <<<"$(sed -e 's/xmlns="[^"]*"//' "$DIR/answer.xml")" 2>/dev/null
}
journal() { "$AUDIT" show --journal "$DIR/state/journal" 2>/dev/null; }
wait_journal() {	# PATTERN COUNT: until COUNT records match
	local i
	for i in $(seq 1 150); do
		[ "$(journal | grep -c -e "$1")" -ge "$2" ] && return 0
		sleep 0.2
	done
	fail "the journal never held $2 records matching $1"
}

# --- records: parts, GET, Disclosed -------------------------------------------
submit_as fgr "$work/records.xml"; expect_exit 0
ref=$(grep -o 'MXC-[0-9]*-[0-9]*' <<<"$out" | head -n 1)
task=$(grep -o 'LDTaskObject [0-9a-f-]*' <<<"$out" | head -n 1 | cut -d' ' -f2)
[ -n "$ref" ] && [ -n "$task" ] || fail "no reference or task in: $out"
wait_journal "EVENT_DELIVERY_READY ref=$ref" 2
msg FGR "$(get "$task")" >"$work/get-task.xml"
send fgr "$work/get-task.xml"
[ "$(xp '//GETResponse/HI1Object/ObjectIdentifier')" = "$task" ] || fail "GET answered another object"
[ "$(xp '//GETResponse/HI1Object/ExternalIdentifier')" = "$ref" ] || fail "GET lost the carrier reference"
[ "$(xp '//GETResponse/HI1Object/*[local-name()="Status"]/*[local-name()="Value"]')" = AwaitingDisclosure ] ||
    fail "task not AwaitingDisclosure: $(cat "$DIR/answer.xml")"
gen=$(xp '//GETResponse/HI1Object/Generation')
[ "$gen" -ge 2 ] || fail "the task's Generation did not move when its parts were made: $gen"
parts=$(xmllint --xpath '//*[local-name()="AssociatedObject"]/text()' "$DIR/answer.xml" | tail -n +2)
[ -n "$parts" ] || fail "the task lists no DeliveryObject"
for p in $parts; do
	msg FGR "$(get "$p")" >"$work/get-part.xml"
	send fgr "$work/get-part.xml"
	data=$(xp '//*[local-name()="Delivery"]/*[local-name()="BinaryData"]/*[local-name()="Data"]')
	sum=$(xp '//*[local-name()="Delivery"]/*[local-name()="BinaryData"]/*[local-name()="Checksum"]')
	[ -n "$data" ] || fail "part $p came without its data"
	[ "$(printf '%s' "$data" | base64 -d | sha256sum | cut -d' ' -f1)" = "$sum" ] ||
	    fail "part $p: the data's SHA-256 is not its Checksum"
	journal | grep "EVENT_DELIVERY_READY ref=$ref" | grep -q "part=$p:[0-9/]*:[0-9]*:${sum:0:16}" ||
	    fail "part $p: the journal's digest is not the delivered data's"
done
wait_journal "change=LDTASK:$task:[0-9]*:AwaitingDisclosure->Disclosed" 1
msg FGR "$(get "$task")" >"$work/get-task.xml"
send fgr "$work/get-task.xml"
[ "$(xp '//GETResponse/HI1Object/*[local-name()="Status"]/*[local-name()="Value"]')" = Disclosed ] ||
    fail "the task is not Disclosed once every part was fetched"

# --- one authority cannot see another's objects --------------------------------
msg FGJCDMX "$(get "$task")" "$(get "$(uuid)")" >"$work/get-other.xml"
send fgecdmx "$work/get-other.xml"
[ "$(xp '//ActionResponse[ActionIdentifier=0]/ErrorInformation/ErrorCode')" = 412 ] ||
    fail "another authority read FGR's task: $(cat "$DIR/answer.xml")"
[ "$(xp '//ActionResponse[ActionIdentifier=1]/ErrorInformation/ErrorCode')" = 412 ] ||
    fail "an unknown identifier is not 412"
a=$(xp '//ActionResponse[ActionIdentifier=0]/ErrorInformation/ErrorDescription' | sed 's/[0-9a-f-]\{36\}/UUID/')
b=$(xp '//ActionResponse[ActionIdentifier=1]/ErrorInformation/ErrorDescription' | sed 's/[0-9a-f-]\{36\}/UUID/')
[ "$a" = "$b" ] || fail "another's object and no object are told apart: '$a' / '$b'"

# --- a repeated CREATE, and one with other content -----------------------------
calls=$(journal | grep -c "EVENT_BACKEND_RESULT ref=$ref")
submit_as fgr "$work/records.xml"; expect_exit 0
[ "$(grep -o 'MXC-[0-9]*-[0-9]*' <<<"$out" | head -n 1)" = "$ref" ] ||
    fail "a repeated CREATE got another reference: $out"
wait_journal "EVENT_REQUEST_REPEATED ref=$ref" 1
sleep 1
[ "$(journal | grep -c "EVENT_BACKEND_RESULT ref=$ref")" = "$calls" ] ||
    fail "a repeated CREATE called the back end again"
[ "$(journal | grep -c "EVENT_REQUEST_ACCEPTED ref=$ref")" = 1 ] || fail "two acceptances of $ref"
sed 's/MX-FGR-000129/MX-FGR-999999/' "$work/records.xml" >"$work/records-other.xml"
submit_as --xml fgr "$work/records-other.xml"; expect_exit 1
grep -q '<ErrorCode>411</ErrorCode>' <<<"$out" || fail "other content under held identifiers was not 411: $out"

# --- LIST; reads and changes together ------------------------------------------
msg FGR "<LIST><ObjectType><common:Owner>ETSI</common:Owner><common:Name>ObjectType</common:Name><common:Value>LDTask</common:Value></ObjectType></LIST>" >"$work/list.xml"
send fgr "$work/list.xml"
grep -q "<Identifier>$task</Identifier>" "$DIR/answer.xml" || fail "LIST of LDTasks lacks $task"
grep -q 'DeliveryObject\|>Delivery<\|>Authorisation<' "$DIR/answer.xml" && fail "LIST of LDTasks lists other types"
msg FGR "$(get "$task")" "$(cancel "$task" 1)" >"$work/mixed.xml"
submit_as --xml fgr "$work/mixed.xml"; expect_exit 1
grep -q '<ErrorCode>417</ErrorCode>' <<<"$out" || fail "a mixed message was not 417: $out"

# --- UPDATE: cancel, stale Generation, a finished task --------------------------
submit_as fgr "$work/subscriber-msisdn.xml"; expect_exit 0
fresh_uuids "$work/records.xml"
submit_as fgr "$work/records.xml"; expect_exit 0
ref2=$(grep -o 'MXC-[0-9]*-[0-9]*' <<<"$out" | head -n 1)
task2=$(grep -o 'LDTaskObject [0-9a-f-]*' <<<"$out" | head -n 1 | cut -d' ' -f2)
wait_journal "EVENT_DELIVERY_READY ref=$ref2" 2
msg FGR "$(get "$task2")" >"$work/get2.xml"
send fgr "$work/get2.xml"
gen2=$(xp '//GETResponse/HI1Object/Generation')
msg FGR "$(cancel "$task2" $((gen2 + 5)))" >"$work/stale.xml"
submit_as --xml fgr "$work/stale.xml"; expect_exit 1
grep -q '<ErrorCode>413</ErrorCode>' <<<"$out" || fail "a stale Generation was not 413: $out"
msg FGR "$(cancel "$task2" "$gen2")" >"$work/cancel.xml"
send fgr "$work/cancel.xml"
[ "$(xp '//UPDATEResponse/HI1Object/*[local-name()="Status"]/*[local-name()="Value"]')" = Cancelled ] ||
    fail "cancel: $(cat "$DIR/answer.xml")"
[ "$(xp '//UPDATEResponse/HI1Object/Generation')" = $((gen2 + 1)) ] || fail "cancel did not move the Generation"
wait_journal "EVENT_RESULT_PURGED ref=$ref2.*object=$task2" 1
msg FGR "$(cancel "$task" 99)" >"$work/cancel-done.xml"
submit_as --xml fgr "$work/cancel-done.xml"; expect_exit 1
grep -q '<ErrorCode>413</ErrorCode>\|<ErrorCode>415</ErrorCode>' <<<"$out" || fail "cancel of a Disclosed task: $out"
msg FGR "$(get "$task")" >"$work/g.xml"
send fgr "$work/g.xml"
msg FGR "$(cancel "$task" "$(xp '//GETResponse/HI1Object/Generation')")" >"$work/cancel-done.xml"
submit_as --xml fgr "$work/cancel-done.xml"; expect_exit 1
grep -q '<ErrorCode>415</ErrorCode>' <<<"$out" || fail "cancel of a Disclosed task was not 415: $out"

# --- kill -9, and a store rebuilt from the journal ------------------------------
msg FGR "$(get "$task")" "$(get "$task2")" >"$work/both.xml"
send fgr "$work/both.xml"
before=$(sed -n '/<ActionResponses>/,$p' "$DIR/answer.xml")
kill -9 "$(cat "$DIR/warrantd.pid")"
sleep 0.2
"$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null || fail "restart after kill -9 failed"
send fgr "$work/both.xml"
[ "$(sed -n '/<ActionResponses>/,$p' "$DIR/answer.xml")" = "$before" ] ||
    fail "after kill -9 the objects differ: $(diff <(echo "$before") <(sed -n '/<ActionResponses>/,$p' "$DIR/answer.xml"))"
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
rm -f "$DIR"/state/objects.db*
"$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null || fail "restart without an object store failed"
send fgr "$work/both.xml"
[ "$(sed -n '/<ActionResponses>/,$p' "$DIR/answer.xml")" = "$before" ] ||
    fail "the store rebuilt from the journal differs: $(diff <(echo "$before") <(sed -n '/<ActionResponses>/,$p' "$DIR/answer.xml"))"
grep -q -a -e "$msisdn" "$DIR"/state/objects.db* && fail "the object store holds an MSISDN in clear"
pass
