#!/usr/bin/env bash
# push-daemon.sh — push delivery end to end: warrantd (its lifecycle and
# src/warrantd/push.c, `delivery` block, FGR's `deliver-to`) pushes the results of a
# communication-records request to `warrantctl receive`, which is down at
# first and started once a DELIVER has failed:
#  - the failures are journaled (EVENT_DELIVERY_FAILED) and retried;
#  - once the receiver is up every part arrives, each part's bytes match
#    the SHA-256 its manifest gives, every manifest's parts are there;
#  - delivered exactly once: one EVENT_RESULT_DELIVERED per part stored,
#    no part delivered again, nothing refused by the receiver.
set -u
srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$srcdir/tests/integration/lib.sh"

AUDIT=${WARRANT_AUDIT:-$TOP_BUILDDIR/src/warrant-audit/warrant-audit}
command -v openssl >/dev/null || skip "no openssl command"
command -v sqlite3 >/dev/null || skip "no sqlite3 command"
[ -x "$WARRANTD" ] || skip "$WARRANTD not built"
[ -x "$WARRANTCTL" ] || skip "$WARRANTCTL not built"
[ -x "$AUDIT" ] || skip "$AUDIT not built"

# The stack with push delivery for FGR.
push_stack_up 5s

# A records request for a subscriber of the generated dataset.
sub=$(sqlite3 "$db" "select id from subscriber order by id limit 1 offset 17")
msisdn=$(sqlite3 "$db" "select msisdn from subscriber where id = $sub")
imsi=$(sqlite3 "$db" "select imsi from subscriber where id = $sub")
[ -n "$msisdn" ] || fail "no subscriber in $db"
mkdir -p "$DIR/samples"
"$TOP_SRCDIR/tests/restamp" -o "$DIR/samples" "$SAMPLES/records.xml"
sed -i -e "s/>52[0-9]\{10\}</>$msisdn</g" -e "s/>334[0-9]\{12\}</>$imsi</g" \
    "$DIR/samples/records.xml"
submit_as fgr "$DIR/samples/records.xml"
expect_exit 0

# The receiver is down: DELIVERs fail, and are journaled as failures.
journal() { "$AUDIT" show --journal "$DIR/state/journal" 2>/dev/null; }
for _ in $(seq 1 300); do
	journal | grep -q EVENT_DELIVERY_FAILED && break
	sleep 0.1
done
journal | grep -q 'EVENT_DELIVERY_FAILED .*Connection refused' ||
    fail "no failed DELIVER journaled while the receiver is down"
# Retried after a pause that grows, never at once: 3 s after the first
# failure each object being pushed has failed once (the first pause is 5 s),
# not hundreds of times (as when a failure's record set off the next push).
sleep 3
nfailed=$(journal | grep -c EVENT_DELIVERY_FAILED)
[ "$nfailed" -le 6 ] ||
    fail "$nfailed failed DELIVERs journaled within 3 s: retried without a pause"

"$WARRANTCTL" receive --listen "127.0.0.1:$rport" --cert "$DIR/endpoint.pem" \
    --key "$DIR/endpoint.key" --cacert "$DIR/ca.pem" -o "$DIR/out" \
    --templates "$TOP_SRCDIR/etc/templates" --authority FGR \
    >"$DIR/recv.out" 2>"$DIR/recv.err" &
rpid=$!

# Every manifest's parts, each with the bytes its manifest names.
complete() {
	local m d n i sum
	[ "$(ls "$DIR/out"/*.manifest.xml 2>/dev/null | wc -l)" = 2 ] || return 1
	for m in "$DIR/out"/*.manifest.xml; do
		d=${m%.manifest.xml}
		n=$(sed -n 's:.*<TotalParts>\([0-9]*\)</TotalParts>.*:\1:p' "$m")
		[ -n "$n" ] && [ "$n" -ge 1 ] || return 1
		for i in $(seq 1 "$n"); do
			[ -f "$d.$(printf %06d "$i").xml" ] || return 1
		done
	done
}
for _ in $(seq 1 600); do
	complete && break
	kill -0 "$rpid" 2>/dev/null || fail "warrantctl receive died: $(cat "$DIR/recv.err")"
	sleep 0.1
done
complete || fail "not every part arrived within 60 s: $(ls "$DIR/out" 2>&1)"
parts=0
for m in "$DIR/out"/*.manifest.xml; do
	d=${m%.manifest.xml}
	sed -n 's:.*<Checksum>\([0-9a-f]*\)</Checksum>.*:\1:p' "$m" >"$DIR/sums"
	i=0
	while read -r sum; do
		i=$((i + 1))
		f=$d.$(printf %06d "$i").xml
		[ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$sum" ] ||
		    fail "$f does not match its manifest"
		parts=$((parts + 1))
	done <"$DIR/sums"
done

# Exactly once: let any stray retry happen, then count.
sleep 2
grep -q "already stored" "$DIR/recv.out" && fail "a part was delivered again"
grep -q "REFUSED" "$DIR/recv.out" && fail "the receiver refused: $(cat "$DIR/recv.out")"
[ "$(grep -c '^part .* SHA-256 ok, stored as' "$DIR/recv.out")" = "$parts" ] ||
    fail "receiver output does not show each of $parts parts stored once"
notes=$(ls "$DIR/out" | grep -c '^notification-' || true)
delivered=$(journal | grep -c EVENT_RESULT_DELIVERED || true)
[ "$delivered" = $((parts + notes)) ] ||
    fail "$delivered EVENT_RESULT_DELIVERED for $parts parts and $notes notifications"
echo "push-daemon: $parts parts and $notes notifications delivered once;" \
    "$(journal | grep -c EVENT_DELIVERY_FAILED) failed attempts journaled" \
    "while the receiver was down"
kill -TERM "$rpid"
wait "$rpid" || fail "warrantctl receive exited $? after a clean run"
rpid=
grep -q -e AddressSanitizer -e 'runtime error:' "$DIR/recv.err" &&
    fail "sanitizer report from warrantctl receive"
pass
