#!/usr/bin/env bash
# backend-protocol.sh — warrant-backend end to end on a Unix socket: a small
# generated database (200 subscribers x 3 days), the daemon with 16 records
# per chunk so that windows span several chunks and a 4 KiB output
# high-water mark so that workers wait for slow readers, and
# tests/unit/backend_client
# for hello, every request kind, pipelining, cancel, typed errors and
# hostile input (each on its own connection, which must be closed while the
# daemon keeps serving); then tests/unit/backend_interop, the gateway's client
# (include/backend.h) doing every request kind against the same daemon. The socket must be mode 0600; SIGTERM must stop
# the daemon cleanly (exit 0, no sanitizer report, socket removed).
# Exit 0 pass, 1 fail, 77 skip.
set -u
: "${srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
TOP_BUILDDIR=${TOP_BUILDDIR:-$PWD}
BACKEND=${WARRANT_BACKEND:-$TOP_BUILDDIR/src/warrant-backend/warrant-backend}
CLIENT=$TOP_BUILDDIR/tests/unit/backend_client
INTEROP=$TOP_BUILDDIR/tests/unit/backend_interop
name=${0##*/}

fail() { echo "FAIL: $name: $*" >&2; [ -f "$DIR/backend.log" ] && tail -n 20 "$DIR/backend.log" >&2; exit 1; }
[ -x "$BACKEND" ] || { echo "SKIP: $name: $BACKEND not built"; exit 77; }
[ -x "$CLIENT" ] || { echo "SKIP: $name: $CLIENT not built"; exit 77; }
[ -x "$INTEROP" ] || { echo "SKIP: $name: $INTEROP not built"; exit 77; }

DIR=$(mktemp -d "${TMPDIR:-/tmp}/backend-protocol.XXXXXX") || exit 1
pid=
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		wait "$pid"
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT

"$BACKEND" --generate "$DIR/t.db" --subscribers 200 --days 3 --seed 7 \
    2>"$DIR/generate.log" || fail "generate: $(cat "$DIR/generate.log")"
# A 4 KiB high-water mark: workers wait for the client (backpressure).
"$BACKEND" -d --db "$DIR/t.db" --listen "unix:$DIR/sock" --chunk-records 16 \
    --workers 3 --high-water 4096 2>"$DIR/backend.log" &
pid=$!
for _ in $(seq 100); do
	[ -S "$DIR/sock" ] && break
	kill -0 "$pid" 2>/dev/null || fail "daemon exited at start"
	sleep 0.1
done
[ -S "$DIR/sock" ] || fail "no socket after 10 s"
mode=$(stat -c %a "$DIR/sock")
[ "$mode" = 600 ] || fail "socket mode $mode, expected 600"

"$CLIENT" protocol "unix:$DIR/sock" "$DIR/t.db" || fail "protocol client"
# The gateway's own client (libwarrant.a) against this back end.
mkdir -m 0700 "$DIR/state" || fail "mkdir"
"$INTEROP" "unix:$DIR/sock" "$DIR/t.db" "$DIR/state" || fail "gateway client"

kill -0 "$pid" 2>/dev/null || fail "daemon no longer running"
grep -q 'protocol error: field type: undefined enum value 99' "$DIR/backend.log" ||
    fail "the unknown enum was not logged"
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ "$rc" -eq 0 ] || fail "daemon exit status $rc after SIGTERM"
grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error:' -e 'ERROR: LeakSanitizer' \
    "$DIR/backend.log" && fail "sanitizer report in backend.log"
[ -e "$DIR/sock" ] && fail "socket left behind"
echo "PASS: $name"
exit 0
