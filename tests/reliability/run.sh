#!/usr/bin/env bash
# run.sh [NAME...] — the long reliability tests, one after another
# (make check-reliability runs it with the build's environment). NAME is a
# test of tests/reliability without .sh; default all of them, in the order
# below. Each runs with WD_REL_SCALE=full unless set otherwise; its output
# goes to build/reliability/logs/NAME.log in the build tree, and one line
# per test to stdout: PASS, FAIL, or SKIP, with the time it took and its
# summary lines. Exit 1 if any failed.
#
# Settings passed through: WD_REL_KILLS (crash), WD_REL_CUTS (powercut),
# WD_REL_FUZZ_SECONDS (fuzz, default 120 per target), WD_REL_SOAK_HOURS
# (soak, default 1) or WD_REL_SOAK_MINUTES, WD_KEEP.
here=$(cd "$(dirname "$0")" && pwd)
: "${TOP_SRCDIR:=$(cd "$here/../.." && pwd)}"
: "${TOP_BUILDDIR:=$PWD}"
export TOP_SRCDIR TOP_BUILDDIR
export srcdir=${srcdir:-$TOP_SRCDIR}
export WD_REL_SCALE=${WD_REL_SCALE:-full}
logs=$TOP_BUILDDIR/build/reliability/logs
mkdir -p "$logs" || exit 1

all="crash powercut diskfaults backend hostile tls fuzz soak"
[ $# -gt 0 ] || set -- $all
failed=0
summary=
for name in "$@"; do
	t=$here/$name.sh
	[ -f "$t" ] || { echo "run.sh: no test $name (one of: $all)" >&2; exit 2; }
	args=()
	if [ "$name" = soak ]; then
		if [ -n "${WD_REL_SOAK_MINUTES:-}" ]; then
			args=(--minutes "$WD_REL_SOAK_MINUTES")
		else
			args=(--hours "${WD_REL_SOAK_HOURS:-1}")
		fi
	fi
	echo "=== $name (${WD_REL_SCALE}) $(date -u +%H:%M:%SZ), log $logs/$name.log"
	t0=$(date +%s)
	bash "$t" "${args[@]}" >"$logs/$name.log" 2>&1
	rc=$?
	dt=$(($(date +%s) - t0))
	case $rc in
	0) verdict=PASS ;;
	77) verdict=SKIP ;;
	*) verdict=FAIL; failed=1 ;;
	esac
	# The tests' own summary lines: everything but the daemon's log tail.
	grep -v -e '^---' -e '^20[0-9][0-9]-' -e '^ *#[0-9]' -e '^==' "$logs/$name.log" |
	    grep -e ':' | tail -n 25 | sed 's/^/    /'
	echo "$verdict: $name ($dt s)"
	summary="$summary
$verdict: $name ($dt s)"
done
echo "=== reliability:$summary"
exit $failed
