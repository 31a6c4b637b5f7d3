#!/usr/bin/env bash
# Requests are carried out against the reference back end and the answers
# are right: the test computes each expected answer from the back end's
# SQLite database itself (sqlite3) and compares it with what the gateway
# delivered — a subscriber's identity and a real-time location carried in
# the acceptance, and communication-records counts journaled for streamed
# windows.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
command -v sqlite3 >/dev/null || skip "no sqlite3 command (apt-get install sqlite3)"
stack_up
db=$DIR/backend.db
[ -s "$db" ] || skip "the stack runs no back end (warrant-backend not built?)"
q() { sqlite3 "$db" "$1"; }

# A subscriber of the generated dataset, and what the database says of it.
sub=$(q "select id from subscriber order by id limit 1 offset 17")
msisdn=$(q "select msisdn from subscriber where id = $sub")
imsi=$(q "select imsi from subscriber where id = $sub")
curp=$(q "select curp from subscriber where id = $sub")
given=$(q "select given_names from subscriber where id = $sub")
[ -n "$msisdn" ] && [ -n "$curp" ] || fail "no subscriber in $db"

work=$DIR/samples
mkdir -p "$work"
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/subscriber-msisdn.xml" \
    "$SAMPLES/location-realtime.xml" "$SAMPLES/records.xml"
sed -i -e "s/>52[0-9]\{10\}</>$msisdn</g" -e "s/>334[0-9]\{12\}</>$imsi</g" "$work"/*.xml

# The result document carried in an acceptance (its checksum checked).
delivered() {	# FILE -> result document on stdout
	local b64 sum
	submit_as --xml fgr "$1"
	expect_exit 0
	b64=$(grep -o '<delivery:Data>[^<]*' <<<"$out" | cut -d'>' -f2)
	sum=$(grep -o '<delivery:Checksum>[^<]*' <<<"$out" | cut -d'>' -f2)
	[ -n "$b64" ] || fail "$1: no DeliveryObject in the answer: $out"
	[ "$(base64 -d <<<"$b64" | sha256sum | cut -d' ' -f1)" = "$sum" ] ||
	    fail "$1: delivered document does not match its checksum"
	base64 -d <<<"$b64"
}

doc=$(delivered "$work/subscriber-msisdn.xml")
sub_ref=$(grep -o '<CarrierReference>[^<]*' <<<"$doc" | cut -d'>' -f2)
grep -q "<CURP>$curp</CURP>" <<<"$doc" || fail "CURP is not $curp: $doc"
grep -q "<GivenNames>$given</GivenNames>" <<<"$doc" || fail "given names are not $given: $doc"
grep -q "<IMSI>$imsi</IMSI>" <<<"$doc" || fail "IMSI is not $imsi: $doc"

# Real-time location: the latest fix the database holds up to the query.
doc=$(delivered "$work/location-realtime.xml")
fix=$(grep -o '<FixTime>[^<]*' <<<"$doc" | cut -d'>' -f2)
lat=$(grep -A2 '<Position>' <<<"$doc" | grep -o '<Latitude>[^<]*' | cut -d'>' -f2)
[ -n "$fix" ] && [ -n "$lat" ] || fail "no position in: $doc"
fix_us=$(date -u -d "$fix" +%s%6N)
[ "$(q "select printf('%.6f', latitude) from location where subscriber = $sub and time_us = $fix_us")" = "$lat" ] ||
    fail "position $lat at $fix is not the database's"
[ -z "$(q "select 1 from location where subscriber = $sub and time_us > $fix_us and time_us <= $(date +%s%6N) limit 1")" ] ||
    fail "a fix newer than $fix was known"

# Communication records: streamed to the results store; the journal says
# how many, and that is the database's count for the window.
submit_as fgr "$work/records.xml"
expect_exit 0
ref=$(grep -o 'MXC-[0-9]*-[0-9]*' <<<"$out" | head -n 1)
start=$(grep -m1 -o '<task:StartTime>[^<]*' "$work/records.xml" | cut -d'>' -f2)
end=$(grep -m1 -o '<task:EndTime>[^<]*' "$work/records.xml" | cut -d'>' -f2)
want=$(q "select count(*) from cdr where subscriber = $sub and start_us >= $(date -u -d "$start" +%s%6N) and start_us < $(date -u -d "$end" +%s%6N)")
[ "$want" -gt 0 ] || fail "the window holds no records for subscriber $sub: a useless test"
for i in $(seq 1 100); do
	"$WARRANT_AUDIT" show --journal "$DIR/state/journal" 2>/dev/null |
	    grep "EVENT_BACKEND_RESULT ref=$ref" >"$DIR/records.out"
	[ "$(wc -l <"$DIR/records.out")" -ge 3 ] && break
	sleep 0.2
done
[ "$(wc -l <"$DIR/records.out")" = 3 ] ||
    fail "expected 3 back-end outcomes for $ref: $(cat "$DIR/records.out")"
while read -r line; do
	case $line in
	*"count=$want "*) ;;
	*) fail "records count is not the database's $want: $line" ;;
	esac
done <"$DIR/records.out"
# Delivered results leave the store; streamed ones are packaged into parts
# (docs/lifecycle.md) that wait there, encrypted, and the back end's raw
# answers go once the parts are recorded.
for i in $(seq 1 20); do
	ls "$DIR/state/results/$sub_ref".* >/dev/null 2>&1 || break
	sleep 0.1
done
ls "$DIR/state/results/$sub_ref".* >/dev/null 2>&1 &&
    fail "the delivered result of $sub_ref is still in the results store"
for i in $(seq 1 100); do
	"$WARRANT_AUDIT" show --journal "$DIR/state/journal" 2>/dev/null |
	    grep "EVENT_DELIVERY_READY ref=$ref" >"$DIR/ready.out"
	[ "$(wc -l <"$DIR/ready.out")" -ge 2 ] && break
	sleep 0.2
done
[ "$(wc -l <"$DIR/ready.out")" = 2 ] ||
    fail "expected both records tasks of $ref packaged: $(cat "$DIR/ready.out")"
packed=$(sed 's/.* \([0-9]*\) records.*/\1/' "$DIR/ready.out" | paste -sd+ | bc)
[ "$packed" = $((3 * want)) ] ||
    fail "the parts of $ref hold $packed records, not the database's 3 x $want"
ls "$DIR/state/results/$ref".*.d.p1.res >/dev/null 2>&1 ||
    fail "the parts of $ref are not in the results store: $(ls "$DIR/state/results")"
for i in $(seq 1 20); do
	ls "$DIR/state/results/$ref".[0-9]*.[0-9]*.res >/dev/null 2>&1 || break
	sleep 0.1
done
ls "$DIR/state/results/$ref".[0-9]*.[0-9]*.res >/dev/null 2>&1 &&
    fail "the back end's raw answers stayed after packaging: $(ls "$DIR/state/results")"
grep -q -a -e "$msisdn" "$DIR"/state/results/* && fail "a stored result holds its MSISDN in clear: not encrypted"
grep -q -a -e "$msisdn" "$DIR"/state/objects.db* && fail "the object store holds an MSISDN in clear: not encrypted"

# And the data itself never reached the journal or the log.
if "$WARRANT_AUDIT" show --journal "$DIR/state/journal" --json | grep -q -e "$curp" -e "$given"; then
	fail "subscriber data found in the journal"
fi
grep -q -e "$curp" "$DIR/warrantd.log" && fail "subscriber data found in the log"
pass
