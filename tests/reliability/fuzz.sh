#!/usr/bin/env bash
# fuzz.sh — every libFuzzer target for a bounded time, through
# tests/fuzz/run.sh BUILDDIR SECONDS (seeds from tests/fuzz/corpus-*; a
# crash fails and leaves its input in BUILDDIR/tests/fuzz/).
#
# The targets need their own build: configure CC=clang --enable-fuzz
# --enable-sanitizers. In full mode (make check-reliability) it is made or
# brought up to date in $TOP_BUILDDIR/build/reliability/fuzz (a few minutes
# the first time) and each target runs WD_REL_FUZZ_SECONDS (default 120).
# In short mode (make check) an existing fuzz build is used for 2 s a
# target — WD_REL_FUZZ_BUILD names one, else build/reliability/fuzz or the
# build/fuzz of check.sh — and the test is skipped if there is none.
srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$srcdir/tests/reliability/lib.sh"
secs=${WD_REL_FUZZ_SECONDS:-$(rel_pick 2 120)}
case $secs in ''|*[!0-9]*) fail "WD_REL_FUZZ_SECONDS is a number" ;; esac

has_targets() {	# dir
	local f
	for f in "$1"/tests/fuzz/fuzz_*; do
		[ -x "$f" ] && [ -f "$f" ] && return 0
	done
	return 1
}

build=${WD_REL_FUZZ_BUILD:-}
if [ -z "$build" ]; then
	for d in "$REL_BUILD/fuzz" "$TOP_SRCDIR/build/fuzz"; do
		has_targets "$d" && { build=$d; break; }
	done
fi
if [ "$REL_SCALE" = full ] && [ -z "${WD_REL_FUZZ_BUILD:-}" ]; then
	command -v clang >/dev/null || skip "no clang: cannot build the fuzz targets"
	build=$REL_BUILD/fuzz
	rel_note "building the fuzz targets in $build"
	rel_private_build fuzz 'CC=clang --enable-fuzz --enable-sanitizers' all ||
	    fail "$REL_WHY"
fi
[ -n "$build" ] && has_targets "$build" ||
    skip "no fuzz build (make check-reliability makes one in $REL_BUILD/fuzz; or set WD_REL_FUZZ_BUILD)"
targets=$(cd "$build/tests/fuzz" && ls fuzz_* | grep -v '\.' | tr '\n' ' ')
rel_note "$targets: ${secs} s each, build $build"
"$TOP_SRCDIR/tests/fuzz/run.sh" "$build" "$secs" || fail "a fuzz target failed (see above)"
echo "PASS: $test_name"
exit 0
