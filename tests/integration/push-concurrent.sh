#!/usr/bin/env bash
# push-concurrent.sh — `warrantctl receive` with several DELIVERs at once
# (its worker threads, src/warrantctl/ctl_rwork.c; the directory's grouped fsyncs and
# link-without-overwrite, src/warrantctl/ctl_deliver.c), each sent by
# tests/unit/push_send as the gateway sends it, many in parallel:
#  - parts arriving at once and out of order (sequence numbers shuffled)
#    are all stored, byte for byte, and acknowledged;
#  - the same part sent twice at the same moment: both acknowledged, one
#    file, counted once as stored and once as delivered again;
#  - two different parts under the same name at the same moment: one
#    stored, the other refused as a conflict (411), the file never
#    overwritten nor mixed;
#  - a part with a wrong checksum among good ones: refused (420), not
#    stored, the others stored;
#  - kill -9 of the receiver while a burst of parts is on its way: every
#    part acknowledged before the kill is on disk and complete, and no
#    file under a part's name is incomplete or foreign; a new receiver on
#    the same directory takes the rest.
# The receiver is the build's (ASan/UBSan under ./check.sh): no sanitizer
# report is accepted.
set -u
srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$srcdir/tests/integration/lib.sh"

PUSH_SEND=${PUSH_SEND:-$TOP_BUILDDIR/tests/unit/push_send}
TEMPLATES=$TOP_SRCDIR/etc/templates
command -v openssl >/dev/null || skip "no openssl command"
[ -x "$WARRANTCTL" ] || skip "$WARRANTCTL not built"
[ -x "$PUSH_SEND" ] || skip "$PUSH_SEND not built"

W=$(mktemp -d "${TMPDIR:-/tmp}/wd-pushc.XXXXXX") || fail "mktemp failed"
rpid=
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
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

start_receiver() {	# [OPTIONS]
	: >"$W/recv.out"
	: >"$W/recv.err"
	"$WARRANTCTL" receive --listen 127.0.0.1:0 --cert "$P/endpoint.pem" \
	    --key "$P/endpoint.key" --cacert "$P/ca.pem" -o "$W/out" \
	    --templates "$TEMPLATES" --authority FGR "$@" \
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

no_sanitizer_report() {
	if grep -q -e 'AddressSanitizer' -e 'runtime error:' \
	    -e 'LeakSanitizer' -e 'ThreadSanitizer' "$W/recv.err"; then
		cat "$W/recv.err" >&2
		fail "sanitizer report from warrantctl receive"
	fi
}

stop_receiver() {
	kill -TERM "$rpid"
	rrc=0
	wait "$rpid" || rrc=$?
	rpid=
	grep -q '^stopped: ' "$W/recv.out" || fail "no summary at the stop"
	no_sanitizer_report
}

# push_bg NAME [push_send options]: in the background, its outcome in
# $W/res/NAME (one line), its pid in pids.
push_bg() {
	local name=$1
	shift
	"$PUSH_SEND" --url "https://127.0.0.1:$port/hi1/deliver" \
	    --cert "$P/carrier.pem" --key "$P/carrier.key" --cacert "$P/ca.pem" \
	    --templates "$TEMPLATES" --timeout 60000 "$@" >"$W/res/$name" 2>&1 &
	pids+=($!)
}
wait_all() {
	local p
	for p in "${pids[@]}"; do wait "$p"; done
	pids=()
}
outcome() { head -n 1 "$W/res/$1"; }

D=5e0c9b7a-2f6d-4c1e-9a8b-0d1c2e3f4a5b
D2=6f1dac8b-3a7e-4d2f-8b9c-1e2d3f4a5b6c
D3=7a2ebd9c-4b8f-4e3a-9cad-2f3e4a5b6c7d
oid() { printf '71ff52ca-bcea-4fa3-b34e-%012d' "$1"; }
mkdir -p "$W/res" "$W/data"
for i in $(seq 1 12); do
	head -c $((200000 + i * 37)) /dev/urandom >"$W/data/p$i"
done
printf '<m xmlns="urn:warrantd:mx:ld-manifest:1" parts="8"/>\n' >"$W/manifest"

start_receiver --workers 4

# --- eight parts at once, out of order; one of them twice at once ----------
for i in 5 2 8 1 7 3 6 4; do
	if [ "$i" = 8 ]; then
		push_bg "a$i" --oid "$(oid "$i")" --delivery $D --seq "$i" --last \
		    --manifest "$W/manifest" --data "$W/data/p$i"
	else
		push_bg "a$i" --oid "$(oid "$i")" --delivery $D --seq "$i" \
		    --data "$W/data/p$i"
	fi
done
push_bg a3again --oid "$(oid 3)" --delivery $D --seq 3 --data "$W/data/p3"
# --- a corrupted part among them; two different parts under one name -------
push_bg bad --oid "$(oid 20)" --delivery $D2 --seq 1 --data "$W/data/p9" --corrupt
push_bg x1 --oid "$(oid 21)" --delivery $D2 --seq 2 --data "$W/data/p10"
push_bg x2 --oid "$(oid 22)" --delivery $D2 --seq 2 --data "$W/data/p11"
wait_all

for i in 1 2 3 4 5 6 7 8; do
	[ "$(outcome "a$i")" = "ok: acknowledged" ] ||
	    fail "part $i: $(outcome "a$i")"
	cmp -s "$W/out/$D.$(printf %06d "$i").xml" "$W/data/p$i" ||
	    fail "part $i not stored byte for byte"
done
cmp -s "$W/out/$D.manifest.xml" "$W/manifest" || fail "the manifest not stored"
[ "$(outcome a3again)" = "ok: acknowledged" ] ||
    fail "part 3 sent twice at once: $(outcome a3again)"
[ "$(ls "$W/out" | grep -c "^$D\.")" = 9 ] ||
    fail "files of the delivery: $(ls "$W/out")"
case $(outcome bad) in
*"error 420"*) ;;
*) fail "the corrupted part: $(outcome bad)" ;;
esac
[ ! -e "$W/out/$D2.000001.xml" ] || fail "the corrupted part was stored"
ok=0 conflict=0
for x in x1 x2; do
	case $(outcome $x) in
	"ok: acknowledged") ok=$((ok + 1)); winner=$x ;;
	*"error 411"*) conflict=$((conflict + 1)) ;;
	*) fail "two parts under one name: $x: $(outcome $x)" ;;
	esac
done
[ "$ok" = 1 ] && [ "$conflict" = 1 ] ||
    fail "two parts under one name: $ok stored, $conflict conflicts"
if [ "$winner" = x1 ]; then src=p10; else src=p11; fi
cmp -s "$W/out/$D2.000002.xml" "$W/data/$src" ||
    fail "the name taken holds other bytes than its winner's"
[ -z "$(ls -A "$W/out" | grep '^\.')" ] || fail "temporary files left: $(ls -A "$W/out")"
stop_receiver
grep -qx "stopped: 9 stored, 1 delivered again, 2 refused" "$W/recv.out" ||
    fail "summary: $(grep '^stopped' "$W/recv.out")"

# --- kill -9 while a burst is on its way -------------------------------------
for i in $(seq 1 12); do
	head -c $((600000 + i * 101)) /dev/urandom >"$W/data/k$i"
done
start_receiver --workers 3
for i in $(seq 1 12); do
	push_bg "k$i" --oid "$(oid $((100 + i)))" --delivery $D3 --seq "$i" \
	    --data "$W/data/k$i" --timeout 20000
done
# Kill once some, not necessarily all, are acknowledged.
for _ in $(seq 1 200); do
	[ "$(cat "$W"/res/k* 2>/dev/null | grep -c '^ok: acknowledged')" -ge 3 ] && break
	sleep 0.05
done
kill -KILL "$rpid"
wait "$rpid" 2>/dev/null
rpid=
wait_all
acked=0
for i in $(seq 1 12); do
	f=$W/out/$D3.$(printf %06d "$i").xml
	if [ "$(outcome "k$i")" = "ok: acknowledged" ]; then
		acked=$((acked + 1))
		[ -f "$f" ] || fail "part $i was acknowledged, then lost to kill -9"
	fi
	# Whatever is under a part's name is that part, whole.
	[ ! -e "$f" ] || cmp -s "$f" "$W/data/k$i" ||
	    fail "part $i is under its name incomplete or foreign after kill -9"
done
[ "$acked" -ge 3 ] || fail "only $acked parts acknowledged before the kill"
# A new receiver on the same directory: the rest (and the acknowledged
# ones again, as after a lost answer) stored or acknowledged again.
start_receiver --workers 3
for i in $(seq 1 12); do
	push_bg "r$i" --oid "$(oid $((100 + i)))" --delivery $D3 --seq "$i" \
	    --data "$W/data/k$i"
done
wait_all
for i in $(seq 1 12); do
	[ "$(outcome "r$i")" = "ok: acknowledged" ] ||
	    fail "part $i after the restart: $(outcome "r$i")"
	cmp -s "$W/out/$D3.$(printf %06d "$i").xml" "$W/data/k$i" ||
	    fail "part $i after the restart: not stored byte for byte"
done
stop_receiver
[ "$rrc" = 0 ] || fail "receive exited $rrc after the restart, expected 0"

# --- usage -------------------------------------------------------------------------
rc=0
"$WARRANTCTL" receive --listen 127.0.0.1:0 --cert "$P/endpoint.pem" \
    --key "$P/endpoint.key" --cacert "$P/ca.pem" -o "$W/out" \
    --templates "$TEMPLATES" --workers 0 >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "--workers 0 exited $rc, expected 2"

pass
