#!/usr/bin/env bash
# desk-board.sh — the urgent-orders board and a day's statistics
# (GET /desk/api/urgent and /desk/api/stats, docs/desk-api.md) end to end:
#  * an urgent order awaiting ratification is on the board with its
#    authority, official, reference and clock; one whose (shortened) clock
#    ran out is shown lapsed; a ratified one leaves the board;
#  * the day's statistics count what this test submitted, per authority
#    and type: tasks received, answered (a subscriber identity at once, a
#    rejected task once rejected) and deadlines missed (a 5 s answer
#    deadline left to run out); another day is empty; time to answer is
#    given for the answered types;
#  * malformed parameters are 400, other methods 405.
# Nothing is timed: the test waits (up to a minute) for each state.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
. "$srcdir/tests/integration/desk-lib.sh"
DESK_CONF="deadlines {
	communication-records 5s
}"
desk_stack_up

# submit_sample SAMPLE [urgent-now]: a fresh copy submitted as FGR; $ref.
submit_sample() {
	local f=$work/$1
	"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/$1" >/dev/null ||
	    fail "restamp $1"
	[ -z "${2:-}" ] || sed -i "s|<common:ApprovalTimestamp>[^<]*|<common:ApprovalTimestamp>$(date -u +%Y-%m-%dT%H:%M:%SZ)|" "$f"
	fresh_uuids "$f"
	submit_as fgr "$f"
	expect_exit 0
	ref=$(grep -o 'MXC-[0-9]*-[0-9]*' <<<"$out" | head -n 1)
	[ -n "$ref" ] || fail "no carrier reference for $1: $out"
}

# wait_until WHAT URL PYTHON-CONDITION: GET as deskop until it holds.
wait_until() {
	for _ in $(seq 1 120); do
		req deskop GET "$2"
		expect_code "$1" 200
		[ "$(jget "$3")" = True ] && return 0
		sleep 0.5
	done
	fail "$1: never $3: $body"
}

# --- the board ------------------------------------------------------------------
req deskop GET "$DESK/desk/api/urgent"
expect_code "GET urgent" 200
[ "$(jget 'len(d["orders"])')" = 0 ] || fail "orders before any was submitted: $body"

submit_sample location-realtime-urgent.xml now
pending=$ref
areference=$(grep -o '<auth:AuthorisationReference>[^<]*' "$work/location-realtime-urgent.xml" |
    cut -d'>' -f2)
wait_until "the board shows $pending" "$DESK/desk/api/urgent" \
    "any(o['ref'] == '$pending' for o in d['orders'])"
o="[o for o in d['orders'] if o['ref'] == '$pending'][0]"
[ "$(jget "$o['authority']")" = FGR ] || fail "authority: $body"
[ "$(jget "$o['official']")" != None ] || fail "no official: $body"
[ "$(jget "$o['authority_ref']")" = "$areference" ] || fail "authority reference: $body"
[ "$(jget "$o['tasks']")" = 1 ] || fail "tasks of the order: $body"
[ "$(jget "$o['lapsed']")" = False ] || fail "a fresh order shown lapsed: $body"
# A 48 h clock: more than a day left, not more than the clock.
[ "$(jget "86400 < $o['seconds_left'] <= $o['clock_seconds'] <= 48 * 3600")" = True ] ||
    fail "the ratification clock: $body"
official=$(jget "$o['official']")
grep -q "official \"$official\"" "$DIR/registry.conf" ||
    fail "the board's official $official is not in the registry"

# An order whose clock (shortened to 3 s) runs out is shown lapsed.
sed -i 's/ratification 48h/ratification 3s/' "$DIR/warrantd.conf"
grep -q 'ratification 3s' "$DIR/warrantd.conf" || fail "no ratification line to shorten"
kill -HUP "$(cat "$DIR/warrantd.pid")"
for _ in $(seq 1 100); do
	grep -q 'configuration generation 2 in force' "$DIR/warrantd.log" && break
	sleep 0.1
done
submit_sample location-realtime-urgent.xml now
lapsing=$ref
wait_until "the board shows $lapsing lapsed" "$DESK/desk/api/urgent" \
    "any(o['ref'] == '$lapsing' and o['lapsed'] and o['seconds_left'] <= 0 for o in d['orders'])"
[ "$(jget "[o['lapsed'] for o in d['orders'] if o['ref'] == '$pending']")" = "[False]" ] ||
    fail "the pending order changed: $body"
# Lapsed orders are listed after (by clock), pending ones still counted.
[ "$(jget "sum(1 for o in d['orders'] if not o['lapsed'])")" = 1 ] ||
    fail "pending orders: $body"

# A ratified order leaves the board.
printf '%s\n' "judge = Mtra. Laura Patricia Hernández Ochoa" \
    "role = Jueza de Control" "case = CP-BOARD-$RANDOM/2026" \
    "time = $(date -u +%Y-%m-%dT%H:%M:%SZ)" "document = CP-BOARD-R" \
    >"$work/ratification.order"
rc=0
out=$("$WARRANTCTL" --url "$WARRANT_URL" --cacert "$WARRANT_CACERT" \
    --cert "$DIR/fgr.pem" --key "$DIR/fgr.key" --timeout 20 \
    --authority FGR --carrier MXCARRIER --templates "$TOP_SRCDIR/etc/templates" \
    ratify "$pending" --order "$work/ratification.order" 2>&1) || rc=$?
expect_exit 0
wait_until "the ratified $pending leaves the board" "$DESK/desk/api/urgent" \
    "not any(o['ref'] == '$pending' for o in d['orders'])"

# --- a day's statistics -------------------------------------------------------------
submit_sample subscriber-msisdn.xml
msisdn=$ref
submit_sample records.xml
records=$ref
req deskop GET "$DESK/desk/api/stats"
expect_code "GET stats (today)" 200
day=$(jget 'd["date"]')
[ "$day" = "$(date +%Y-%m-%d)" ] || fail "today is $(date +%Y-%m-%d) here, the desk says $day"
stats="$DESK/desk/api/stats?date=$day"
row() {	# TYPE FIELD: that count for FGR
	echo "sum(r['$2'] for r in d['by_authority'] if r['authority'] == 'FGR' and r['type'] == '$1')"
}
wait_until "the day's counts" "$stats" \
    "$(row realtime-location requests) == 2 and $(row subscriber-identity requests) == 1 and $(row communication-records requests) == 2 and d['requests'] == 5"
# The subscriber identity is answered; records wait under review, then
# one is rejected (answered: decided) and the other misses its 5 s deadline.
wait_until "the subscriber identity answered" "$stats" \
    "$(row subscriber-identity answered) == 1"
[ "$(jget "$(row communication-records answered)")" = 0 ] ||
    fail "records under review counted as answered: $body"
req deskop GET "$DESK/desk/api/queue?carrier_ref=$records"
expect_code "queue of $records" 200
t1=$(jget 'd["tasks"][0]["task"]')
act deskop reject "{\"ref\":\"$records\",\"task\":\"$t1\",\"reason\":\"fuera del periodo\"}"
expect_code "reject" 200
wait_until "the rejection answers one task, the other misses" "$stats" \
    "$(row communication-records answered) == 1 and $(row communication-records missed) >= 1 and d['missed'] >= 1"
[ "$(jget "sorted(x['type'] for x in d['time_to_answer'])")" != "[]" ] ||
    fail "no time to answer: $body"
[ "$(jget "all(x['p50'] <= x['p90'] <= x['p99'] <= x['max'] and sum(h['count'] for h in x['histogram']) == x['answered'] for x in d['time_to_answer'])")" = True ] ||
    fail "time to answer is inconsistent: $body"
[ "$(jget "[x['answered'] for x in d['time_to_answer'] if x['type'] == 'subscriber-identity']")" = "[1]" ] ||
    fail "time to answer of subscriber identity: $body"
[ "$(jget 'sum(d["per_hour"]) == d["requests"] and len(d["per_hour"]) in (23, 24, 25)')" = True ] ||
    fail "per hour: $body"
# Another day holds none of them.
req deskop GET "$DESK/desk/api/stats?date=$(date -d "$day -1 day" +%Y-%m-%d)"
expect_code "GET stats (yesterday)" 200
[ "$(jget 'd["requests"]')" = 0 ] || fail "yesterday has requests: $body"

# --- malformed and other methods ------------------------------------------------------
for q in "date=2026-02-30" "date=yesterday" "date=$day&x=1" "day=$day"; do
	req deskop GET "$DESK/desk/api/stats?$q"
	expect_code "GET stats?$q" 400
done
req deskop GET "$DESK/desk/api/urgent?limit=5"
expect_code "GET urgent?limit=5" 400
for p in urgent stats; do
	act deskop "$p" '{}'
	expect_code "POST $p" 405
done
pass
