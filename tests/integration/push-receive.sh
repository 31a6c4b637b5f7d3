#!/usr/bin/env bash
# push-receive.sh — the gateway's DELIVER client (src/warrantd/push.c, driven by the
# test program tests/unit/push_send, which builds each message with
# hi1_build_deliver as the gateway does) against `warrantctl receive` on
# 127.0.0.1, with certificates from tests/pki/mkpki (carrier.pem is the
# carrier's client certificate, endpoint.pem the authority's endpoint):
#  - a delivery's three parts and the manifest stored, byte for byte, each
#    file 0600, no temporary file left;
#  - a part sent again acknowledged again, without a second file;
#  - a corrupted part refused with error 420 and not stored, then stored
#    when sent intact;
#  - a notification stored;
#  - a message for another authority refused (308);
#  - a client with a certificate from another CA, and one with none,
#    refused in the TLS handshake; with --pin, a valid certificate of the
#    same CA that is not the carrier's refused (403) while the carrier's
#    is accepted;
#  - a sender that connects and says nothing neither blocks a delivery nor
#    stays past --timeout;
#  - SIGTERM stops the receiver: exit 1 after a run with refusals, 0 after
#    a clean one.
set -u
srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$srcdir/tests/integration/lib.sh"

PUSH_SEND=${PUSH_SEND:-$TOP_BUILDDIR/tests/unit/push_send}
TEMPLATES=$TOP_SRCDIR/etc/templates
command -v openssl >/dev/null || skip "no openssl command"
[ -x "$WARRANTCTL" ] || skip "$WARRANTCTL not built"
[ -x "$PUSH_SEND" ] || skip "$PUSH_SEND not built"

W=$(mktemp -d "${TMPDIR:-/tmp}/wd-push.XXXXXX") || fail "mktemp failed"
rpid=
cleanup() {
	if [ -n "$rpid" ]; then
		kill -TERM "$rpid" 2>/dev/null
		wait "$rpid" 2>/dev/null
	fi
	if [ -n "${WD_KEEP:-}" ]; then echo "kept $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
"$TOP_SRCDIR/tests/pki/mkpki" "$W/pki" 2>/dev/null || fail "mkpki failed"
P=$W/pki

# start_receiver [OPTIONS]: warrantctl receive on a free port, into $W/out.
start_receiver() {
	: >"$W/recv.out"
	: >"$W/recv.err"
	"$WARRANTCTL" receive --listen 127.0.0.1:0 --cert "$P/endpoint.pem" \
	    --key "$P/endpoint.key" --cacert "$P/ca.pem" --crl "$P/crl.pem" \
	    -o "$W/out" --templates "$TEMPLATES" --authority FGR "$@" \
	    >"$W/recv.out" 2>"$W/recv.err" &
	rpid=$!
	port=
	for _ in $(seq 1 100); do
		port=$(sed -n 's/^listening on 127\.0\.0\.1 port \([0-9]*\),.*/\1/p' \
		    "$W/recv.out")
		[ -n "$port" ] && return 0
		kill -0 "$rpid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$W/recv.err" >&2
	fail "warrantctl receive did not start"
}

# stop_receiver: SIGTERM, its exit status in $rrc.
stop_receiver() {
	kill -TERM "$rpid"
	rrc=0
	wait "$rpid" || rrc=$?
	rpid=
	grep -q '^stopped: ' "$W/recv.out" || fail "no summary at the stop"
	if grep -q -e 'AddressSanitizer' -e 'runtime error:' \
	    -e 'LeakSanitizer' "$W/recv.err"; then
		cat "$W/recv.err" >&2
		fail "sanitizer report from warrantctl receive"
	fi
}

# push NAME [push_send options]: as client certificate NAME; $out, $rc.
push() {
	local name=$1
	shift
	rc=0
	out=$("$PUSH_SEND" --url "https://127.0.0.1:$port/hi1/deliver" \
	    --cert "$P/$name.pem" --key "$P/$name.key" --cacert "$P/ca.pem" \
	    --templates "$TEMPLATES" "$@" 2>&1) || rc=$?
}

expect_push() {	# STATUS TEXT
	[ "$rc" = "$1" ] || fail "push_send exited $rc, expected $1: $out"
	case $out in
	*"$2"*) ;;
	*) fail "push_send said \"$out\", expected \"$2\"" ;;
	esac
}

expect_received() {	# TEXT: a line of the receiver's output
	grep -qF -- "$1" "$W/recv.out" ||
	    fail "receiver output lacks \"$1\": $(cat "$W/recv.out")"
}

D=5e0c9b7a-2f6d-4c1e-9a8b-0d1c2e3f4a5b
D2=6f1dac8b-3a7e-4d2f-8b9c-1e2d3f4a5b6c
oid() { printf '71ff52ca-bcea-4fa3-b34e-%012d' "$1"; }

# Result documents of various sizes, the largest near a part's 1 MiB.
head -c 700000 /dev/urandom | base64 -w 76 >"$W/part1"
printf '<r xmlns="urn:warrantd:mx:ld-result:1">%s</r>\n' "$(seq 1 200)" >"$W/part2"
head -c 5000 /dev/urandom >"$W/part3"
printf '<m xmlns="urn:warrantd:mx:ld-manifest:1" parts="3"/>\n' >"$W/manifest"
cp "$W/part2" "$W/part4"

start_receiver

# --- a delivery in three parts, the manifest with the last -------------------
push carrier --oid "$(oid 1)" --delivery $D --seq 1 --data "$W/part1"
expect_push 0 "ok: acknowledged"
push carrier --oid "$(oid 2)" --delivery $D --seq 2 --data "$W/part2"
expect_push 0 "ok: acknowledged"
push carrier --oid "$(oid 3)" --delivery $D --seq 3 --last \
    --manifest "$W/manifest" --data "$W/part3"
expect_push 0 "ok: acknowledged"
for i in 1 2 3; do
	f=$W/out/$D.00000$i.xml
	[ -f "$f" ] || fail "part $i not stored"
	cmp -s "$f" "$W/part$i" || fail "part $i stored with other bytes"
	[ "$(stat -c %a "$f")" = 600 ] || fail "part $i is not mode 600"
done
cmp -s "$W/out/$D.manifest.xml" "$W/manifest" || fail "manifest not stored"
expect_received "part 3 of delivery $D (LDID MX-FGR-000123): 5000 bytes, SHA-256 ok"
expect_received "the last part, manifest $D.manifest.xml"

# --- the same part again: acknowledged, no second file ------------------------
push carrier --oid "$(oid 2)" --delivery $D --seq 2 --data "$W/part2"
expect_push 0 "ok: acknowledged"
expect_received "part 2 of delivery $D (LDID MX-FGR-000123): already stored"
[ "$(ls "$W/out" | grep -c "^$D\.")" = 4 ] ||
    fail "a part delivered twice made another file: $(ls "$W/out")"

# --- a corrupted part: error 420, not stored; then intact, stored -------------
push carrier --oid "$(oid 4)" --delivery $D2 --seq 1 --data "$W/part4" --corrupt
expect_push 1 "error 420: delivered data does not match its checksum"
expect_received "action 0: REFUSED: error 420: part 1 of delivery $D2"
[ -z "$(ls "$W/out" | grep "$D2")" ] || fail "a corrupted part was stored"
push carrier --oid "$(oid 4)" --delivery $D2 --seq 1 --data "$W/part4"
expect_push 0 "ok: acknowledged"
cmp -s "$W/out/$D2.000001.xml" "$W/part4" || fail "the resent part not stored"

# --- a notification ------------------------------------------------------------
N=0b0e8f4c-1111-4a2b-9c3d-4e5f60718293
push carrier --oid $N --note "La orden urgente CI-FED/1 no fue ratificada."
expect_push 0 "ok: acknowledged"
grep -q "^La orden urgente CI-FED/1 no fue ratificada\.$" \
    "$W/out/notification-$N.txt" || fail "notification not stored"

# --- a message for another authority -------------------------------------------
push carrier --authority FGJCDMX --oid "$(oid 5)" --delivery $D2 --seq 2 \
    --data "$W/part2"
expect_push 1 "error 308"
[ ! -e "$W/out/$D2.000002.xml" ] || fail "another authority's part stored"

# --- clients without the carrier's certificate -----------------------------------
push rogue --oid "$(oid 6)" --delivery $D2 --seq 3 --data "$W/part2"
expect_push 1 "failed: "
[ ! -e "$W/out/$D2.000003.xml" ] || fail "a stranger's part was stored"
sleep 0.3
grep -q "refused in the TLS handshake: .*/O=FGR/CN=ana.lopez" "$W/recv.err" ||
    fail "the stranger's refusal is not reported: $(cat "$W/recv.err")"
if command -v curl >/dev/null; then
	curl -sS --max-time 10 --cacert "$P/ca.pem" -H 'Content-Type: application/xml' \
	    --data-binary @"$W/part2" "https://127.0.0.1:$port/hi1" \
	    >/dev/null 2>&1 && fail "a client without a certificate got an answer"
	sleep 0.3
	grep -q "did not return a certificate" "$W/recv.err" ||
	    fail "the anonymous client is not reported: $(cat "$W/recv.err")"
fi
[ "$(ls "$W/out" | grep -c '\.xml$')" = 5 ] || fail "unexpected files: $(ls "$W/out")"
[ -z "$(ls -A "$W/out" | grep '^\.')" ] || fail "temporary files left: $(ls -A "$W/out")"

stop_receiver
[ "$rrc" = 1 ] || fail "receive exited $rrc after refusing parts, expected 1"
expect_received "stopped: 5 stored, 1 delivered again, 2 refused"

# --- --pin: only the carrier's certificate; an idle sender blocks nothing ----
fp=$(openssl x509 -noout -fingerprint -sha256 -in "$P/carrier.pem")
start_receiver --pin "${fp#*=}" --timeout 2
# A sender that connects and says nothing (this shell holds fd 3).
exec 3<>"/dev/tcp/127.0.0.1/$port" || fail "cannot connect to the receiver"
push fgr --oid "$(oid 7)" --delivery $D2 --seq 4 --data "$W/part2"
expect_push 1 "HTTP 403"
[ ! -e "$W/out/$D2.000004.xml" ] || fail "a pinned-out client's part was stored"
push carrier --oid "$(oid 7)" --delivery $D2 --seq 4 --data "$W/part2"
expect_push 0 "ok: acknowledged"
# Dropped 2 s after it connected: wait for that (at most 10 s), not a fixed time.
for _ in $(seq 1 100); do
	grep -q "no whole request and answer within 2 s, dropped" "$W/recv.err" && break
	sleep 0.1
done
grep -q "no whole request and answer within 2 s, dropped" "$W/recv.err" ||
    fail "the idle sender was not dropped: $(cat "$W/recv.err")"
exec 3>&-
stop_receiver
[ "$rrc" = 0 ] || fail "receive exited $rrc after a clean run, expected 0"
expect_received "stopped: 1 stored, 0 delivered again, 0 refused"

# --- usage ------------------------------------------------------------------------
rc=0
"$WARRANTCTL" receive --listen 127.0.0.1:0 >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "receive without its options exited $rc, expected 2"
rc=0
"$WARRANTCTL" receive --listen nowhere --cert "$P/endpoint.pem" \
    --key "$P/endpoint.key" --cacert "$P/ca.pem" -o "$W/out" \
    --templates "$TEMPLATES" >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "receive with a bad --listen exited $rc, expected 2"

pass
