#!/usr/bin/env bash
# kill -9 right after acceptances loses nothing: every reference a client
# was given is in the journal after restart, and numbering goes on without
# reusing any of them. A message sent again after the crash (the retry of a
# client that saw no answer) is recognised: same references, nothing new.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
stack_up

work=$DIR/samples
mkdir -p "$work"
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES"/subscriber-*.xml
given=
for round in 1 2 3; do
	[ "$round" -eq 1 ] || fresh_uuids "$work"/*.xml
	submit_as fgr "$work"/*.xml
	expect_exit 0
	refs=$(grep -o 'MXC-[0-9]*-[0-9]*' <<<"$out")
	given="$given $refs"
	kill -9 "$(cat "$DIR/warrantd.pid")"
	sleep 0.2
	"$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null || fail "restart $round failed"
	# The same messages again: answered with the same references.
	submit_as fgr "$work"/*.xml
	expect_exit 0
	[ "$(grep -o 'MXC-[0-9]*-[0-9]*' <<<"$out")" = "$refs" ] ||
	    fail "round $round: a repeat after the crash got other references"
done
n=$(wc -w <<<"$given")
# The restarted daemon replays the journal and counts what it accepted.
grep -q "journal holds [0-9]* records, $n accepted requests" "$DIR/warrantd.log" ||
    fail "after restart the journal does not hold the $n acceptances: $(grep 'journal holds' "$DIR/warrantd.log")"
fresh_uuids "$work/subscriber-msisdn.xml"
submit_as fgr "$work/subscriber-msisdn.xml"; expect_exit 0
next=$(grep -o 'MXC-[0-9]*-[0-9]*' <<<"$out")
for ref in $given; do
	[ "$ref" != "$next" ] || fail "reference $ref issued twice"
done
# References are opaque (issue 14 section 5) but sort by time: the new one
# sorts after every earlier one, to the second.
last=$(tr ' ' '\n' <<<"$given" | grep . | cut -c1-19 | sort | tail -n 1)
[[ ! "${next:0:19}" < "$last" ]] || fail "references went backwards in time: $next after $given"
if [ -x "${WARRANT_AUDIT:-}" ]; then
	for ref in $given; do
		"$WARRANT_AUDIT" show --journal "$DIR/state/journal" --request "$ref" |
		    grep -q "$ref" || fail "$ref not found by warrant-audit show"
	done
fi
pass
