#!/usr/bin/env bash
# backend-generate.sh — the generator's command line: the same seed, size and
# end date give the same canonical digest (--digest); another seed gives
# another; an existing file is never overwritten; bad options exit 2.
# Exit 0 pass, 1 fail, 77 skip.
set -u
TOP_BUILDDIR=${TOP_BUILDDIR:-$PWD}
BACKEND=${WARRANT_BACKEND:-$TOP_BUILDDIR/src/warrant-backend/warrant-backend}
name=${0##*/}

fail() { echo "FAIL: $name: $*" >&2; exit 1; }
[ -x "$BACKEND" ] || { echo "SKIP: $name: $BACKEND not built"; exit 77; }
DIR=$(mktemp -d "${TMPDIR:-/tmp}/backend-generate.XXXXXX") || exit 1
trap 'rm -rf "$DIR"' EXIT

gen() {
	"$BACKEND" --generate "$DIR/$1" --subscribers 300 --days 2 --seed "$2" \
	    --end 2026-11-20 2>>"$DIR/log" || fail "generate $1: $(tail -3 "$DIR/log")"
	"$BACKEND" --digest "$DIR/$1" | cut -d' ' -f1
}
a=$(gen a.db 42)
b=$(gen b.db 42)
c=$(gen c.db 43)
[ ${#a} -eq 64 ] || fail "digest '$a' is not SHA-256 hex"
[ "$a" = "$b" ] || fail "same seed, different data: $a $b"
[ "$a" != "$c" ] || fail "different seeds, same data"
grep -q 'generate: 300/300 subscribers (100%)' "$DIR/log" || fail "no progress on stderr"

"$BACKEND" --generate "$DIR/a.db" --subscribers 10 --days 1 --seed 1 2>/dev/null &&
    fail "overwrote an existing database"
[ "$("$BACKEND" --digest "$DIR/a.db" | cut -d' ' -f1)" = "$a" ] || fail "a.db changed"
"$BACKEND" --generate "$DIR/x.db" --subscribers 10 --days 1 2>/dev/null
[ $? -eq 2 ] || fail "--generate without --seed: expected exit 2"
"$BACKEND" --generate "$DIR/x.db" --subscribers 0 --days 1 --seed 1 2>/dev/null
[ $? -eq 2 ] || fail "--subscribers 0: expected exit 2"
"$BACKEND" --generate "$DIR/x.db" --subscribers 1 --days 1 --seed 1 --end 2026-13-01 \
    2>/dev/null
[ $? -eq 2 ] || fail "--end 2026-13-01: expected exit 2"
[ -e "$DIR/x.db" ] && fail "x.db created by a refused command"
echo "PASS: $name"
exit 0
