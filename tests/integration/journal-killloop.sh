#!/usr/bin/env bash
# journal-killloop.sh — kill -9 the daemon WD_KILLS times (default 50)
# while 4 clients keep submitting, restarting it each time on the same
# state: every reference any client was given is in the journal exactly
# once, no reference is ever given twice, the restarted daemon always
# opens the journal (torn tails cut and recorded, never refused), and
# warrant-audit verifies the whole history at the end.
#
# Small segments (1 MiB) and a checkpoint every 25 records, so that kills
# also land while a segment is created or a checkpoint written.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
AUDIT=${WARRANT_AUDIT:-$TOP_BUILDDIR/src/warrant-audit/warrant-audit}
[ -x "$AUDIT" ] || skip "$AUDIT not built"
KILLS=${WD_KILLS:-50}
CLIENTS=${WD_CLIENTS:-4}
case $KILLS$CLIENTS in *[!0-9]*) fail "WD_KILLS and WD_CLIENTS are numbers" ;; esac

stack_up
stack_private_bins

J=$DIR/state/journal
work=$DIR/samples
mkdir -p "$work"
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES"/subscriber-*.xml \
    "$SAMPLES"/interception.xml "$SAMPLES"/preservation.xml \
    "$SAMPLES"/records.xml "$SAMPLES"/location-realtime.xml
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
sed -i -e 's/^\([[:space:]]*\)checkpoint-records .*/\1checkpoint-records 25/' \
    -e 's/^\([[:space:]]*\)segment-size .*/\1segment-size 1M/' "$DIR/warrantd.conf"
grep -q 'checkpoint-records 25' "$DIR/warrantd.conf" &&
    grep -q 'segment-size 1M' "$DIR/warrantd.conf" || fail "cannot adjust warrantd.conf"

# One client: submit the samples over and over, 4 files per connection,
# and keep every reference it was given (and only those). Each round sends
# new requests (fresh identifiers, stamped now): the same message again
# would be a repeat answered with the objects it created (docs/lifecycle.md),
# not a new acceptance, and a run longer than the allowed clock skew would
# otherwise send stale timestamps.
client() {	# id
	local o r files mine=$DIR/c.$1
	files=("$work"/*.xml)
	mkdir -p "$mine"
	: >"$DIR/given.$1"
	while [ ! -e "$DIR/stop" ]; do
		r=0
		rm -f "$mine"/*.xml
		"$TOP_SRCDIR/tests/restamp" -o "$mine" \
		    "${files[@]:$((RANDOM % 5)):4}" || fail "restamp failed"
		fresh_uuids "$mine"/*.xml
		o=$("$WARRANTCTL" --url "$WARRANT_URL" --cacert "$WARRANT_CACERT" \
		    --cert "$DIR/fgr.pem" --key "$DIR/fgr.key" --timeout 10 \
		    submit "$mine"/*.xml 2>&1) || r=$?
		grep 'ACCEPTED (HTTP 200) carrier reference' <<<"$o" |
		    grep -o 'MXC-[0-9]*-[0-9]*$' >>"$DIR/given.$1"
		# The daemon going away mid-request is expected (kept in
		# lost.N for a post-mortem); anything else is a failure.
		grep -e '^warrantctl: ' <<<"$o" >>"$DIR/lost.$1"
		grep -v -e 'ACCEPTED (HTTP 200)' -e '^  action [0-9]' \
		    -e '^warrantctl: [^ ]*: cannot connect to .*: Connection \(refused\|reset by peer\)$' \
		    -e '^warrantctl: [^ ]*: \(TLS handshake\|sending\|receiving\): connection \(reset\|closed\) by the server$' \
		    -e '^warrantctl: [^ ]*: malformed answer: response body truncated ([0-9]* of [0-9]* bytes)$' \
		    <<<"$o" >>"$DIR/odd.$1"
		[ "$r" = 0 ] || sleep 0.05
	done
}

# After kill -9 the thread group leader turns zombie before its other
# threads are gone and the listening socket closed: wait for both.
port=${WARRANT_URL##*:}
gone() {	# pid
	local n
	for n in $(seq 1 1000); do
		if ! grep -q '^State:[[:space:]]*[RSDT]' /proc/"$1"/task/*/status 2>/dev/null &&
		    ! ss -Hltn "src 127.0.0.1 and sport = :$port" 2>/dev/null | grep -q .; then
			return 0
		fi
		sleep 0.01
	done
	return 1
}

t0=$(date +%s)
rm -f "$DIR/stop"
"$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null || fail "first start failed"
pids=
for k in $(seq 1 "$CLIENTS"); do client "$k" & pids="$pids $!"; done
for i in $(seq 1 "$KILLS"); do
	# Let the clients get some requests in, at a different point each time.
	sleep "0.$((2 + RANDOM % 5))"
	pid=$(cat "$DIR/warrantd.pid")
	kill -9 "$pid" || fail "kill $i: warrantd (pid $pid) was not running"
	gone "$pid" || fail "kill $i: warrantd (pid $pid) still holds its port after 10 s"
	cp "$DIR/warrantd.log" "$DIR/warrantd.log.$i"
	"$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null 2>"$DIR/start.err" || {
		touch "$DIR/stop"; wait $pids
		fail "restart after kill $i failed: $(cat "$DIR/start.err")"
	}
done
sleep 0.5
touch "$DIR/stop"
wait $pids
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
t1=$(date +%s)

# Every run of the daemon: no sanitizer report, never a refusal to open.
for log in "$DIR"/warrantd.log.*; do
	grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error:' -e 'ERROR: LeakSanitizer' "$log" &&
	    fail "sanitizer report in ${log##*/}: $(grep -A5 -e 'Sanitizer' -e 'runtime error' "$log" | head -n 20)"
	grep -q 'refusing' "$log" && fail "${log##*/}: $(grep refusing "$log")"
done
cat "$DIR"/odd.* | grep -q . && fail "unexpected client output: $(cat "$DIR"/odd.* | head -n 20)"
cat "$DIR"/given.* >"$DIR/given"
n_given=$(wc -l <"$DIR/given")
[ "$n_given" -ge "$KILLS" ] || fail "only $n_given acceptances in $KILLS rounds"
dup=$(sort "$DIR/given" | uniq -d)
[ -z "$dup" ] || fail "references given twice: $dup"
dup=$(sed 's/.*-//' "$DIR/given" | sort | uniq -d)
[ -z "$dup" ] || fail "reference numbers given twice: $dup"

"$AUDIT" show --journal "$J" --json >"$DIR/show.json" 2>"$DIR/show.err" ||
    fail "show --json: $(cat "$DIR/show.err")"
grep -o '"event":"EVENT_REQUEST_ACCEPTED","carrier_ref":"[^"]*"' "$DIR/show.json" |
    sed 's/.*"carrier_ref":"//; s/"$//' | sort >"$DIR/journal.refs"
dup=$(uniq -d "$DIR/journal.refs")
[ -z "$dup" ] || fail "the journal accepted the same reference twice: $dup"
missing=$(sort "$DIR/given" | comm -23 - "$DIR/journal.refs")
[ -z "$missing" ] || fail "given to a client but not in the journal: $missing"

n_start=$(grep -c '"event":"EVENT_DAEMON_START"' "$DIR/show.json")
[ "$n_start" = $((KILLS + 2)) ] || fail "$n_start start records for $((KILLS + 2)) starts"
n_torn=$(grep -c '"event":"EVENT_JOURNAL_TORN_TAIL"' "$DIR/show.json")
"$AUDIT" verify --journal "$J" --pubkey "$DIR/journal.pub" >"$DIR/verify.out" 2>&1 ||
    fail "verify after $KILLS kills: $(cat "$DIR/verify.out")"
echo "$KILLS kills in $((t1 - t0)) s: $n_given references given, $(wc -l <"$DIR/journal.refs") acceptances journaled, $n_torn torn tails cut"
cat "$DIR/verify.out"
"$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null || fail "final start failed"
pass
