#!/usr/bin/env bash
# crash.sh — crash safety: kill -9 at random points under concurrent load,
# 10 times in make check, 200 in make check-reliability (WD_REL_KILLS sets
# another number). The loop itself is tests/integration/journal-killloop.sh
# (4 clients submitting; every reference a client was given is in the
# journal exactly once, no reference number is ever given twice, every
# restart opens the journal — torn tails cut and recorded, never refused —
# and warrant-audit verify passes over the whole history); this runs it at
# the reliability scale, in a private TMPDIR.
#
# In batches of at most WD_REL_KILL_BATCH kills (50), each on a fresh
# stack: the kill loop restamps its samples once, and after 5 minutes (the
# test configuration's clock-skew) the daemon rightly refuses them as
# replays, which the loop takes for a failure. 50 kills take 2 to 3 minutes.
srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
TOP_SRCDIR=${TOP_SRCDIR:-$srcdir}
loop=$TOP_SRCDIR/tests/integration/journal-killloop.sh
if [ ! -f "$loop" ]; then
	echo "SKIP: crash.sh: $loop is missing" >&2
	exit 77
fi
case ${WD_REL_SCALE:-short} in
full) kills=200 ;;
*) kills=10 ;;
esac
kills=${WD_REL_KILLS:-$kills}
batch=${WD_REL_KILL_BATCH:-50}
case $kills$batch in *[!0-9]*) echo "FAIL: crash.sh: WD_REL_KILLS and WD_REL_KILL_BATCH are numbers" >&2; exit 1 ;; esac
[ "$batch" -gt 0 ] || batch=50
tmp=$(mktemp -d /tmp/wd-rel.XXXXXX) || exit 1
# A daemon tests/stack lost track of (its start-up race) would outlive the
# loop: stop whatever still runs from this test's directory.
reap() {
	local p
	for p in $(pgrep -f -- "$tmp/"); do kill -TERM "$p" 2>/dev/null; done
	sleep 1
	for p in $(pgrep -f -- "$tmp/"); do kill -KILL "$p" 2>/dev/null; done
}
trap 'reap; rm -rf "$tmp"' EXIT
done_kills=0
round=0
retried=
while [ "$done_kills" -lt "$kills" ]; do
	n=$((kills - done_kills))
	[ "$n" -le "$batch" ] || n=$batch
	round=$((round + 1))
	echo "crash.sh: batch $round: $loop with WD_KILLS=$n"
	TMPDIR=$tmp WD_KILLS=$n bash "$loop" 2>&1 | tee "$tmp/out"
	rc=${PIPESTATUS[0]}
	[ "$rc" = 77 ] && exit 77
	# tests/stack can take the forked shell, before it execs warrantd, for
	# a daemon that exited (its pid's command line does not name DIR yet):
	# "exited during start-up" although the daemon logged nothing fatal
	# ("crit", a sanitizer report). Not the daemon's doing: such a batch is
	# run once more, and said so.
	if [ "$rc" != 0 ] && [ "$retried" != "$round" ] &&
	    grep -q 'warrantd exited during start-up' "$tmp/out" &&
	    ! sed -n '/warrantd exited during start-up/,$p' "$tmp/out" |
	    grep -q -e ' crit: ' -e 'Sanitizer' -e 'runtime error'; then
		echo "crash.sh: batch $round: tests/stack start-up race (nothing fatal logged), running the batch again" >&2
		reap
		retried=$round
		round=$((round - 1))
		continue
	fi
	[ "$rc" = 0 ] || { echo "FAIL: crash.sh: batch $round (kills $((done_kills + 1)) to $((done_kills + n))) failed" >&2; exit "$rc"; }
	done_kills=$((done_kills + n))
done
echo "PASS: crash.sh: $done_kills kills in $round batches"
exit 0
