#!/usr/bin/env bash
# run.sh BUILDDIR [SECONDS] — run every libFuzzer target built in BUILDDIR
# (configure CC=clang --enable-fuzz) for SECONDS each (default 20) over its
# corpus in tests/fuzz/corpus-NAME (or corpus-PREFIX for NAME=PREFIX_...) (seeded from etc/samples for hi1). New
# inputs go to a scratch copy, so the committed corpus only changes by hand.
# A crash fails the run and leaves the input in BUILDDIR/tests/fuzz/.
# Long runs: tests/fuzz/run.sh build/fuzz 3600
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: run.sh BUILDDIR [SECONDS]}
secs=${2:-20}
rc=0
shopt -s nullglob
for bin in "$build"/tests/fuzz/fuzz_*; do
	[ -x "$bin" ] && [ -f "$bin" ] || continue
	name=${bin##*/fuzz_}
	work=$(mktemp -d)
	corpus=$here/corpus-$name
	[ -d "$corpus" ] || corpus=$here/corpus-${name%%_*}	# backend_frame: corpus-backend
	for seed in "$corpus"/*; do cp "$seed" "$work/"; done
	if [ "$name" = hi1 ]; then
		for s in "$here"/../../etc/samples/*.xml "$here"/../xml-attacks/*; do
			[ -f "$s" ] && cp "$s" "$work/"
		done
	fi
	echo "fuzz $name: ${secs}s over $(ls "$work" | wc -l) seeds"
	if ! (cd "$build/tests/fuzz" && "$bin" -max_total_time="$secs" \
	    -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 "$work" \
	    >"fuzz-$name.log" 2>&1); then
		echo "fuzz $name: FAILED, see $build/tests/fuzz/fuzz-$name.log" >&2
		tail -n 40 "$build/tests/fuzz/fuzz-$name.log" >&2
		rc=1
	else
		grep -E 'stat::number_of_executed_units' "$build/tests/fuzz/fuzz-$name.log" | sed "s/^/fuzz $name: /"
	fi
	rm -rf "$work"
done
exit $rc
