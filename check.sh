#!/usr/bin/env bash
# check.sh — on a fresh Debian 12: install what is missing, build with
# AddressSanitizer and UBSan (warnings are errors), run every test
# (make check), build everything again plain (-O2, warnings are errors),
# then build the libFuzzer targets with clang and run each briefly over its
# corpus. Exit 0 only if all of it passed.
set -euo pipefail
top=$(cd "$(dirname "$0")" && pwd)
cd "$top"
. scripts/deps.sh
wd_install_deps

autoreconf -fi >/dev/null 2>&1 || autoreconf -fi

# 1. Sanitizer build and the whole test suite.
mkdir -p build/check
(cd build/check &&
    { [ -f Makefile ] || "$top/configure" -q --enable-sanitizers --enable-werror; } &&
    make -j"$(nproc)" >/dev/null)
set +e
(cd build/check && make -j"$(nproc)" check)
rc=$?
set -e
log=build/check/test-suite.log
pass=$(sed -n 's/^# PASS: *//p' "$log" | head -n 1)
fail=$(sed -n 's/^# FAIL: *//p' "$log" | head -n 1)
skip=$(sed -n 's/^# SKIP: *//p' "$log" | head -n 1)
xerr=$(sed -n 's/^# ERROR: *//p' "$log" | head -n 1)
if [ "$rc" -ne 0 ]; then
	cat "$log" >&2
fi

# 2. A plain optimised build, warnings are errors: some warnings (audit.c's,
# for one) appear only without the sanitizers. Everything is built: the
# programs and the test programs (make check TESTS= runs no test).
prc=0
mkdir -p build/plain
(cd build/plain &&
    { [ -f Makefile ] || "$top/configure" -q CFLAGS="-O2 -g" --enable-werror; } &&
    make -j"$(nproc)" >/dev/null && make -j"$(nproc)" check TESTS= >/dev/null) || prc=1
if [ "$prc" -ne 0 ]; then
	fail=$(( ${fail:-0} + 1 ))
	echo "plain -O2 -Werror build: FAILED" >&2
fi

# 3. Fuzz targets, briefly (tests/fuzz/run.sh says how to run them long).
frc=0
if [ "$rc" -eq 0 ]; then
	mkdir -p build/fuzz
	(cd build/fuzz &&
	    { [ -f Makefile ] || "$top/configure" -q CC=clang --enable-fuzz --enable-sanitizers; } &&
	    make -j"$(nproc)" >/dev/null) || frc=1
	if [ "$frc" -eq 0 ]; then
		"$top/tests/fuzz/run.sh" "$top/build/fuzz" "${WD_FUZZ_SECONDS:-20}" || frc=1
	fi
fi
if [ "$frc" -ne 0 ]; then
	fail=$(( ${fail:-0} + 1 ))
	echo "fuzzing: FAILED" >&2
fi

echo "${pass:-0} passed, $(( ${fail:-0} + ${xerr:-0} )) failed, ${skip:-0} skipped"
[ "$rc" -eq 0 ] && [ "$prc" -eq 0 ] && [ "$frc" -eq 0 ]
