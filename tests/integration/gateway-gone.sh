#!/usr/bin/env bash
# gateway-gone.sh — an authority that hangs up while its request is busy is
# not recorded as having received its answer (docs/lifecycle.md, section 4).
#
# The back end is paused (SIGSTOP), a subscriber lookup is submitted with a
# 1 s client timeout, so the client closes while the intake waits for the
# back end's answer (answer-within is 3 s in the test stack); the back end
# is resumed before answer-within. Then:
#  - the journal holds no EVENT_RESULT_DELIVERED for that request, and its
#    result is packaged as a part (EVENT_DELIVERY_READY), as for an answer
#    that came after answer-within;
#  - the task is still AwaitingDisclosure, and warrantctl fetch of the task
#    (by the identifier the authority gave it) gets the result, checked;
#  - the daemon keeps serving: a second lookup is carried in its acceptance.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
command -v sqlite3 >/dev/null || skip "no sqlite3 command (apt-get install sqlite3)"
stack_up
db=$DIR/backend.db
[ -s "$db" ] || skip "the stack runs no back end (warrant-backend not built?)"
AUDIT=${WARRANT_AUDIT:-$TOP_BUILDDIR/src/warrant-audit/warrant-audit}
journal() { "$AUDIT" show --journal "$DIR/state/journal" 2>/dev/null; }
bpid=$(cat "$DIR/warrant-backend.pid" 2>/dev/null)
[ -n "$bpid" ] && [ -r "/proc/$bpid/stat" ] || fail "no back-end pid in $DIR"
# Whatever happens, the back end is not left stopped (the stack stops it).
trap 'kill -CONT "$bpid" 2>/dev/null; stack_down' EXIT

work=$DIR/work
mkdir -p "$work"
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/subscriber-msisdn.xml" ||
    fail "cannot restamp the sample"
sub=$(sqlite3 "$db" "select id from subscriber order by id limit 1 offset 23")
msisdn=$(sqlite3 "$db" "select msisdn from subscriber where id = $sub")
curp=$(sqlite3 "$db" "select curp from subscriber where id = $sub")
[ -n "$msisdn" ] && [ -n "$curp" ] || fail "no subscriber in $db"
sed -i "s/>52[0-9]\{10\}</>$msisdn</g" "$work/subscriber-msisdn.xml"
fresh_uuids "$work/subscriber-msisdn.xml"
task=$(grep -A1 'xsi:type="task:LDTaskObject"' "$work/subscriber-msisdn.xml" |
    grep -o '<ObjectIdentifier>[^<]*' | cut -d'>' -f2)
[ -n "$task" ] || fail "no LDTaskObject identifier in the request"

# --- the client hangs up while its request waits for the back end -------------
kill -STOP "$bpid" || fail "cannot pause the back end"
submit_as --timeout 1 fgr "$work/subscriber-msisdn.xml"
[ "$rc" = 0 ] && fail "the client got its answer from a paused back end: $out"
kill -CONT "$bpid" || fail "cannot resume the back end"

# The request was accepted (the client left after sending it whole).
for i in $(seq 1 50); do
	ref=$(journal | grep -m1 'EVENT_REQUEST_ACCEPTED' | grep -o 'MXC-[0-9]*-[0-9]*')
	[ -n "$ref" ] && break
	sleep 0.2
done
[ -n "$ref" ] || fail "the request was not accepted: $(journal | tail -n 5)"
# The back end's answer arrives, and the result is packaged for pull.
for i in $(seq 1 100); do
	journal | grep -q "EVENT_DELIVERY_READY ref=$ref" && break
	sleep 0.2
done
journal >"$DIR/journal.out"
grep -q "EVENT_BACKEND_RESULT ref=$ref" "$DIR/journal.out" ||
    fail "no back-end result for $ref: $(grep "$ref" "$DIR/journal.out")"
grep "EVENT_RESULT_DELIVERED" "$DIR/journal.out" | grep -q "$ref" &&
    fail "the result is recorded as delivered to a client that hung up: $(grep "$ref" "$DIR/journal.out")"
grep -q "EVENT_DELIVERY_READY ref=$ref" "$DIR/journal.out" ||
    fail "the result of $ref was not kept for GET: $(grep "$ref" "$DIR/journal.out")"
grep -q "hung up while its request was busy" "$DIR/warrantd.log" ||
    fail "the daemon did not notice the hang-up (warrantd.log)"

# --- the task waits, and the authority gets its result later ------------------
ctl() {
	rc=0
	out=$("$WARRANTCTL" --url "$WARRANT_URL" --cacert "$WARRANT_CACERT" \
	    --cert "$DIR/fgr.pem" --key "$DIR/fgr.key" --timeout 20 \
	    --authority FGR --carrier MXCARRIER \
	    --templates "$TOP_SRCDIR/etc/templates" "$@" 2>&1) || rc=$?
}
ctl status "$task"
expect_exit 0
expect_output_contains "AwaitingDisclosure"
ctl fetch "$task" -o "$DIR/got"
expect_exit 0
expect_output_contains "complete"
grep -rq "<CURP>$curp</CURP>" "$DIR/got" || fail "the fetched result is not the subscriber's: $(ls "$DIR/got")"
for i in $(seq 1 50); do
	journal | grep -q "change=LDTASK:$task:[0-9]*:AwaitingDisclosure->Disclosed" && break
	sleep 0.2
done
journal | grep -q "change=LDTASK:$task:[0-9]*:AwaitingDisclosure->Disclosed" ||
    fail "the task is not Disclosed once its result was fetched"

# --- and the daemon keeps serving: a lookup carried in its acceptance ---------
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/subscriber-msisdn.xml"
sed -i "s/>52[0-9]\{10\}</>$msisdn</g" "$work/subscriber-msisdn.xml"
fresh_uuids "$work/subscriber-msisdn.xml"
submit_as --xml fgr "$work/subscriber-msisdn.xml"
expect_exit 0
expect_output_contains "<delivery:Data>"
journal | grep "EVENT_RESULT_DELIVERED" | grep -q "carried in the acceptance" ||
    fail "the second lookup's result is not recorded as carried"
pass
