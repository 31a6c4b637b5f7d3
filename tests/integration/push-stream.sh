#!/usr/bin/env bash
# push-stream.sh — a pushed DELIVER whose part is streamed from the results
# store (src/warrantd/lifecycle_deliver.c lc_push_part, src/warrantd/answer_stream.c, push_send_body
# in src/warrantd/push.c), end to end: warrantd pushes a result of 3000 records for
# one line (parts of up to 1 MiB, each stored in 48 KiB chunks) to
# `warrantctl receive`, which is down at first (so that a stored part can
# be altered once packaged, before any DELIVER gets through):
#  - every part not altered arrives byte for byte: the receiver's file has
#    the SHA-256 the journal recorded at packaging (and its manifest's),
#    and those parts are several chunks long;
#  - a part with a byte altered in its middle is never acknowledged: its
#    DELIVER is cut short of its Content-Length (the receiver stores
#    nothing), the failure is journaled (EVENT_DELIVERY_FAILED, "could not
#    be completed") and retried later, never EVENT_RESULT_DELIVERED;
#  - no sanitizer report from warrantd (stopped here) or the receiver.
set -u
srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$srcdir/tests/integration/lib.sh"

AUDIT=${WARRANT_AUDIT:-$TOP_BUILDDIR/src/warrant-audit/warrant-audit}
command -v openssl >/dev/null || skip "no openssl command"
command -v sqlite3 >/dev/null || skip "no sqlite3 command"
command -v xxd >/dev/null || skip "no xxd command"
[ -x "$WARRANTD" ] || skip "$WARRANTD not built"
[ -x "$WARRANTCTL" ] || skip "$WARRANTCTL not built"
[ -x "$AUDIT" ] || skip "$AUDIT not built"
NREC=3000

push_stack_up 10s

# NREC records for one line over the request's window (as pull-stream.sh).
work=$DIR/work
records_request 7
records_fill "$NREC"

journal() { "$AUDIT" show --journal "$DIR/state/journal" 2>/dev/null; }
submit_as fgr "$work/records.xml"; expect_exit 0
ref=$(grep -o 'MXC-[0-9]*-[0-9]*' <<<"$out" | head -n 1)
[ -n "$ref" ] || fail "no reference in: $out"
# Packaged, and a first DELIVER refused (the receiver is down): from now
# on the parts only move when a retry comes.
for _ in $(seq 1 300); do
	journal | grep -q 'EVENT_DELIVERY_FAILED .*Connection refused' && break
	sleep 0.2
done
journal | grep -q 'EVENT_DELIVERY_FAILED .*Connection refused' ||
    fail "no DELIVER refused while the receiver is down"
# part=ID:SEQ/TOTAL:RECORDS:SHA16 of every part of every task
mapfile -t parts < <(journal | grep "EVENT_DELIVERY_READY ref=$ref " |
    grep -o 'part=[^ ]*' | sed 's/^part=//')
big=$(printf '%s\n' "${parts[@]}" | awk -F: '$3 >= 500' | wc -l)
[ "$big" -ge 3 ] || fail "expected at least 3 parts of $NREC records: ${parts[*]}"

# A byte altered in the middle of each stored part 2 of several chunks.
flip() {	# FILE OFFSET
	local b
	b=$(dd if="$1" bs=1 skip="$2" count=1 2>/dev/null | xxd -p)
	[ -n "$b" ] || fail "cannot read byte $2 of $1"
	printf "$(printf '\\x%02x' $((0x$b ^ 0x55)))" |
	    dd of="$1" bs=1 seek="$2" count=1 conv=notrunc 2>/dev/null
}
altered=0
for f in "$DIR"/state/results/*.p2.res; do
	[ -f "$f" ] && [ "$(stat -c %s "$f")" -gt $((300 * 1024)) ] || continue
	flip "$f" $(($(stat -c %s "$f") / 2))
	altered=$((altered + 1))
done
# ... which are the parts numbered 2 with records.
mapfile -t bad < <(printf '%s\n' "${parts[@]}" | awk -F: '$3 >= 500 && $2 ~ /^2\//')
[ "$altered" -ge 1 ] && [ "$altered" = "${#bad[@]}" ] ||
    fail "altered $altered stored files for ${#bad[@]} parts 2 of several chunks"
want=$((${#parts[@]} - altered))

"$WARRANTCTL" receive --listen "127.0.0.1:$rport" --cert "$DIR/endpoint.pem" \
    --key "$DIR/endpoint.key" --cacert "$DIR/ca.pem" -o "$DIR/out" \
    --templates "$TOP_SRCDIR/etc/templates" --authority FGR \
    >"$DIR/recv.out" 2>"$DIR/recv.err" &
rpid=$!
nfiles() { ls "$DIR/out" 2>/dev/null | grep -c '\.[0-9]\{6\}\.xml$'; }
cut_short() { journal | grep 'EVENT_DELIVERY_FAILED' | grep -c 'could not be completed'; }
for _ in $(seq 1 900); do
	[ "$(nfiles)" -ge "$want" ] && [ "$(cut_short)" -ge "$altered" ] && break
	kill -0 "$rpid" 2>/dev/null || fail "warrantctl receive died: $(cat "$DIR/recv.err")"
	sleep 0.1
done
[ "$(nfiles)" = "$want" ] ||
    fail "$(nfiles) parts stored, expected $want: $(ls "$DIR/out" 2>&1)"
[ "$(cut_short)" -ge "$altered" ] ||
    fail "no DELIVER cut short journaled: $(journal | grep EVENT_DELIVERY_FAILED | tail -n 3)"
sleep 2		# a stray retry, if any, would show now

# Byte for byte: each file is a part's recorded digest, and its manifest's.
sums=$(printf '%s\n' "${parts[@]}" | cut -d: -f4)
multi=0
for f in "$DIR"/out/*.[0-9][0-9][0-9][0-9][0-9][0-9].xml; do
	s=$(sha256sum <"$f" | cut -c1-16)
	grep -qx "$s" <<<"$sums" || fail "$f is no part the journal recorded"
	for b in "${bad[@]}"; do
		[ "$s" = "$(cut -d: -f4 <<<"$b")" ] && fail "the altered part arrived as $f"
	done
	[ "$(stat -c %s "$f")" -gt $((2 * 48 * 1024)) ] && multi=$((multi + 1))
done
[ "$multi" -ge 2 ] || fail "only $multi parts of more than two stored chunks arrived"
for m in "$DIR"/out/*.manifest.xml; do
	[ -f "$m" ] || continue
	d=${m%.manifest.xml}
	i=0
	for sum in $(sed -n 's:.*<Checksum>\([0-9a-f]*\)</Checksum>.*:\1:p' "$m"); do
		i=$((i + 1))
		f=$d.$(printf %06d "$i").xml
		[ -f "$f" ] || continue		# the altered one
		[ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$sum" ] ||
		    fail "$f does not match its manifest"
	done
done

# Never acknowledged, never recorded as delivered; the receiver saw no
# whole message for it (nothing refused, nothing stored twice).
for b in "${bad[@]}"; do
	id=${b%%:*}
	journal | grep EVENT_RESULT_DELIVERED | grep -q "$id" &&
	    fail "the altered part $id was recorded as delivered"
	journal | grep EVENT_DELIVERY_FAILED | grep 'could not be completed' |
	    grep -q "$id" || fail "the altered part $id: no DELIVER cut short journaled"
done
grep -q "REFUSED" "$DIR/recv.out" && fail "the receiver refused: $(cat "$DIR/recv.out")"
grep -q "already stored" "$DIR/recv.out" && fail "a part was delivered again"
[ "$(grep -c '^part .* SHA-256 ok, stored as' "$DIR/recv.out")" = "$want" ] ||
    fail "the receiver did not store each of $want parts once: $(cat "$DIR/recv.out")"

kill -TERM "$rpid"
wait "$rpid" || fail "warrantctl receive exited $? after a run without refusals"
rpid=
grep -q -e AddressSanitizer -e 'runtime error:' "$DIR/recv.err" &&
    fail "sanitizer report from warrantd receive"
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
if grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error:' -e 'ERROR: LeakSanitizer' \
    "$DIR/warrantd.log" 2>/dev/null; then
	fail "sanitizer report in warrantd.log: $(grep -A12 'ERROR:' "$DIR/warrantd.log" | head -n 30)"
fi
"$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null || fail "restart failed"
echo "push-stream: $want parts pushed whole ($multi of several chunks)," \
    "$altered altered part(s) cut short and never acknowledged"
pass
