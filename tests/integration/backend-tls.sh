#!/usr/bin/env bash
# backend-tls.sh — warrant-backend on TCP requires mutual TLS with its own
# CA: a client certificate of that CA gets a hello; no certificate, or one
# from another CA (tests/pki/mkpki's rogue.pem), is refused during the
# handshake; the daemon keeps serving. TCP without the TLS options does not
# start at all. Exit 0 pass, 1 fail, 77 skip.
set -u
: "${srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
TOP_SRCDIR=${TOP_SRCDIR:-$srcdir}
TOP_BUILDDIR=${TOP_BUILDDIR:-$PWD}
BACKEND=${WARRANT_BACKEND:-$TOP_BUILDDIR/src/warrant-backend/warrant-backend}
CLIENT=$TOP_BUILDDIR/tests/unit/backend_client
name=${0##*/}

fail() { echo "FAIL: $name: $*" >&2; [ -f "$DIR/backend.log" ] && tail -n 20 "$DIR/backend.log" >&2; exit 1; }
[ -x "$BACKEND" ] || { echo "SKIP: $name: $BACKEND not built"; exit 77; }
[ -x "$CLIENT" ] || { echo "SKIP: $name: $CLIENT not built"; exit 77; }
command -v openssl >/dev/null || { echo "SKIP: $name: no openssl"; exit 77; }

DIR=$(mktemp -d "${TMPDIR:-/tmp}/backend-tls.XXXXXX") || exit 1
pid=
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		wait "$pid"
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT

"$TOP_SRCDIR/tests/pki/mkpki" "$DIR/pki" >/dev/null 2>&1 || fail "mkpki"
P=$DIR/pki
"$BACKEND" --generate "$DIR/t.db" --subscribers 50 --days 1 --seed 3 2>/dev/null ||
    fail "generate"

"$BACKEND" -d --db "$DIR/t.db" --listen 127.0.0.1:1 2>"$DIR/notls.log" &&
    fail "listened on TCP without TLS"
grep -q 'TCP needs --tls-cert' "$DIR/notls.log" || fail "no reason given for refusing TCP"

# A free port: try a few random ones.
for _ in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 12000))	# below the ephemeral range
	: >"$DIR/backend.log"
	"$BACKEND" -d --db "$DIR/t.db" --listen "127.0.0.1:$port" \
	    --tls-cert "$P/server.pem" --tls-key "$P/server.key" --tls-ca "$P/ca.pem" \
	    2>"$DIR/backend.log" &
	pid=$!
	for _ in $(seq 50); do
		grep -q 'listening on' "$DIR/backend.log" && break 2
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
done
[ -n "$pid" ] || fail "could not start on a TCP port"

"$CLIENT" tls "127.0.0.1:$port" "$P/ca.pem" "$P/fgr.pem" "$P/fgr.key" ||
    fail "client with a certificate of the back end's CA"
"$CLIENT" tls-refused "127.0.0.1:$port" "$P/ca.pem" || fail "client without a certificate"
"$CLIENT" tls-refused "127.0.0.1:$port" "$P/ca.pem" "$P/rogue.pem" "$P/rogue.key" ||
    fail "client with a certificate of another CA"
"$CLIENT" tls "127.0.0.1:$port" "$P/ca.pem" "$P/fgecdmx.pem" "$P/fgecdmx.key" ||
    fail "second good client after the refusals"
kill -0 "$pid" 2>/dev/null || fail "daemon no longer running"
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ "$rc" -eq 0 ] || fail "daemon exit status $rc after SIGTERM"
grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error:' -e 'ERROR: LeakSanitizer' \
    "$DIR/backend.log" && fail "sanitizer report in backend.log"
echo "PASS: $name"
exit 0
