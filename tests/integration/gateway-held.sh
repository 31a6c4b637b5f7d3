#!/usr/bin/env bash
# A quick lookup's result carried in the acceptance is held in memory and
# never written to the results store (docs/gateway-backends.md, "Answers
# carried in the acceptance"); one that is not carried is stored, durable,
# and delivered later like any other result:
#   1. carried: with the results directory closed to writing (chattr +i as
#      root, mode 0500 otherwise), the acceptance still carries the
#      subscriber's record, the journal records it delivered, and nothing
#      was written (before, each answer was written there, fsynced, then
#      deleted: with the directory closed the call failed with "storage");
#   2. answered after answer-within (the back end stopped with SIGSTOP for
#      longer): the acceptance carries nothing, the late answer is stored,
#      its outcome journaled, the task packaged, and `warrantctl fetch`
#      gets the subscriber's record (the database's CURP).
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
command -v sqlite3 >/dev/null || skip "no sqlite3 command (apt-get install sqlite3)"
WARRANT_AUDIT=${WARRANT_AUDIT:-$TOP_BUILDDIR/src/warrant-audit/warrant-audit}
[ -x "$WARRANT_AUDIT" ] || skip "$WARRANT_AUDIT not built"
stack_up
db=$DIR/backend.db
[ -s "$db" ] || skip "the stack runs no back end (warrant-backend not built?)"
[ -s "$DIR/warrant-backend.pid" ] || skip "tests/stack wrote no warrant-backend.pid"
q() { sqlite3 "$db" "$1"; }

sub=$(q "select id from subscriber order by id limit 1 offset 23")
msisdn=$(q "select msisdn from subscriber where id = $sub")
curp=$(q "select curp from subscriber where id = $sub")
[ -n "$msisdn" ] && [ -n "$curp" ] || fail "no subscriber in $db"
work=$DIR/samples
mkdir -p "$work"
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/subscriber-msisdn.xml"
sed -i -e "s/>52[0-9]\{10\}</>$msisdn</g" "$work/subscriber-msisdn.xml"

res=$DIR/state/results
closed=
close_results() {
	if [ "$(id -u)" = 0 ] && chattr +i "$res" 2>/dev/null; then
		closed=chattr
	else
		chmod 0500 "$res" || fail "cannot close $res"
		closed=chmod
	fi
	# Closed for the daemon too? (Root ignores modes: then chattr it is.)
	if (: >"$res/probe") 2>/dev/null; then
		rm -f "$res/probe"
		skip "cannot close $res to writing here (root without chattr +i?)"
	fi
}
open_results() {
	case $closed in
	chattr) chattr -i "$res" ;;
	chmod) chmod 0700 "$res" ;;
	esac
	closed=
}
trap 'open_results 2>/dev/null; stack_down' EXIT

journal_of() {	# REF: the journal's lines about it
	"$WARRANT_AUDIT" show --journal "$DIR/state/journal" 2>/dev/null | grep "ref=$1"
}

# --- 1. carried: held, nothing stored ----------------------------------------------
[ -d "$res" ] || fail "no results store at $res"
before=$(ls -A "$res" | wc -l)
close_results
submit_as --xml fgr "$(fresh_copy "$work/subscriber-msisdn.xml")"
open_results
expect_exit 0
b64=$(grep -o '<delivery:Data>[^<]*' <<<"$out" | cut -d'>' -f2)
[ -n "$b64" ] || fail "the acceptance carries no result although nothing needs storing: $out"
doc=$(base64 -d <<<"$b64")
grep -q "<CURP>$curp</CURP>" <<<"$doc" || fail "the carried result is not the database's (CURP $curp): $doc"
ref=$(grep -o '<CarrierReference>[^<]*' <<<"$doc" | cut -d'>' -f2)
[ -n "$ref" ] || fail "no carrier reference in the carried result"
journal_of "$ref" >"$DIR/held.out"
grep -q "EVENT_BACKEND_RESULT .*count=1 sha256=" "$DIR/held.out" ||
    fail "the back end's outcome of $ref is not journaled ok: $(cat "$DIR/held.out")"
grep -q "EVENT_RESULT_DELIVERED" "$DIR/held.out" ||
    fail "the carried result of $ref is not journaled as delivered: $(cat "$DIR/held.out")"
[ "$(ls -A "$res" | wc -l)" = "$before" ] ||
    fail "the results store changed: $(ls -A "$res")"
grep -q "cannot write\|cannot make the result durable" "$DIR/warrantd.log" &&
    fail "the daemon tried to store the carried result: $(grep 'cannot' "$DIR/warrantd.log" | tail -n 3)"

# --- 2. answered late: stored, then delivered like any other -------------------------
# answer-within 300 ms; the back end stopped for about a second (its
# deadline, 2 s, is not reached: the first attempt is answered, late).
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
sed -i -e 's/^\([[:space:]]*answer-within\) .*/\1 300ms/' "$DIR/warrantd.conf"
grep -q 'answer-within 300ms' "$DIR/warrantd.conf" || fail "cannot set answer-within"
env=$("$TOP_SRCDIR/tests/stack" start "$DIR") || fail "tests/stack start (again) failed"
while IFS= read -r line; do
	case $line in WARRANT_[A-Z_]*=*) eval "export $line" ;; esac
done <<<"$env"
bepid=$(cat "$DIR/warrant-backend.pid")
kill -0 "$bepid" || fail "no back end running"
kill -STOP "$bepid"
submit_as --xml fgr "$(fresh_copy "$work/subscriber-msisdn.xml")"
sleep 0.5
kill -CONT "$bepid"
expect_exit 0
grep -q '<delivery:Data>' <<<"$out" && fail "a result was carried although the back end was stopped"
ref=$(grep -o 'MXC-[0-9]*-[0-9]*' <<<"$out" | head -n 1)
[ -n "$ref" ] || fail "no carrier reference in the acceptance: $out"
for i in $(seq 1 100); do
	journal_of "$ref" >"$DIR/late.out"
	grep -q "EVENT_DELIVERY_READY" "$DIR/late.out" && break
	sleep 0.2
done
grep -q "EVENT_BACKEND_RESULT .*count=1 sha256=" "$DIR/late.out" ||
    fail "the late answer of $ref is not journaled ok: $(cat "$DIR/late.out")"
grep -q "EVENT_DELIVERY_READY" "$DIR/late.out" ||
    fail "the late answer of $ref was not packaged for delivery: $(cat "$DIR/late.out")"
rm -rf "$DIR/fetched"
"$WARRANTCTL" --url "$WARRANT_URL" --cacert "$WARRANT_CACERT" --cert "$DIR/fgr.pem" \
    --key "$DIR/fgr.key" --timeout 20 --authority FGR --carrier MXCARRIER \
    --templates "$TOP_SRCDIR/etc/templates" fetch "$ref" -o "$DIR/fetched" >"$DIR/fetch.out" 2>&1 ||
    fail "warrantctl fetch $ref failed: $(cat "$DIR/fetch.out")"
grep -rq "$curp" "$DIR/fetched" ||
    fail "the fetched result of $ref is not the database's (CURP $curp): $(ls -R "$DIR/fetched")"
pass
