#!/bin/sh
#
# unit-security — the systemd unit's sandbox must rate at most 2.0 in
# `systemd-analyze security` (0 = fully locked down, 10 = unprotected).
# The unit is reviewed offline, so this needs neither a running systemd
# nor an installed warrantd. Exit 77 (automake SKIP) without systemd-analyze
# --offline (systemd < 250).
#
srcdir=${srcdir:-$(dirname "$0")/../..}
unit="$srcdir/systemd/warrantd.service"
max=2.0

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "SKIP: systemd-analyze not found; the unit's hardening is NOT checked" >&2
	exit 77
fi
if ! systemd-analyze security --help 2>&1 | grep -q -- '--offline'; then
	echo "SKIP: systemd-analyze lacks --offline (systemd < 250); the unit's hardening is NOT checked" >&2
	exit 77
fi
[ -f "$unit" ] || { echo "FAIL: $unit not found" >&2; exit 1; }

out=$(systemd-analyze security --offline=yes --no-pager "$unit" 2>&1)
level=$(printf '%s\n' "$out" |
    sed -n -e 's/^.*Overall exposure level for [^:]*: *\([0-9][0-9.]*\).*$/\1/p')
if [ -z "$level" ]; then
	printf '%s\n' "$out" >&2
	echo "FAIL: no 'Overall exposure level' in systemd-analyze output" >&2
	exit 1
fi
echo "warrantd.service exposure level: $level (must be <= $max)"
if awk -v l="$level" -v m="$max" 'BEGIN { exit !(l + 0 > m + 0) }'; then
	# Show what is exposed, so the failure says what to fix.
	printf '%s\n' "$out" | grep '✗' >&2
	echo "FAIL: exposure $level above $max" >&2
	exit 1
fi
exit 0
