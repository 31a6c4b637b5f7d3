#!/usr/bin/env bash
# crash.sh — crash safety: kill -9 at random points under concurrent load,
# 10 times in make check, 200 in make check-reliability (WD_REL_KILLS sets
# another number). The loop itself is tests/integration/journal-killloop.sh
# (4 clients submitting; every reference a client was given is in the
# journal exactly once, no reference number is ever given twice, every
# restart opens the journal — torn tails cut and recorded, never refused —
# and warrant-audit verify passes over the whole history); this only runs
# it at the reliability scale, in a private TMPDIR.
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
tmp=$(mktemp -d /tmp/wd-rel.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
echo "crash.sh: $loop with WD_KILLS=$kills"
TMPDIR=$tmp WD_KILLS=$kills bash "$loop"
