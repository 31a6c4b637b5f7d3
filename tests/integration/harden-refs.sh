#!/usr/bin/env bash
# Issue 14 section 5, as it was found: carrier references
# (MXC-YYYYMMDD-NNNNNNNN) and receipt sequence numbers were shared
# counters, so FGR, submitting before and after FGJCDMX's requests, could
# count them. Here FGR submits, FGJCDMX submits five requests, FGR submits
# again: nothing FGR gets back (references, receipts, whole answers) tells
# how many came in between; references still sort by time and never repeat.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
stack_up

work=$DIR/samples
mkdir -p "$work"
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/subscriber-msisdn.xml"
sed -e 's/FGR/FGJCDMX/g' "$work/subscriber-msisdn.xml" >"$work/cdmx.xml"

# One POST as NAME: the whole answer (head and body) in FILE.
post_as() {	# name file out
	local code
	code=$(curl -sS --max-time 30 --cacert "$WARRANT_CACERT" \
	    --cert "$DIR/$1.pem" --key "$DIR/$1.key" -i -o "$3" -w '%{http_code}' \
	    -H 'Content-Type: application/xml' --data-binary @"$2" \
	    "$WARRANT_URL/hi1") || fail "curl failed"
	[ "$code" = 200 ] || fail "$1: HTTP $code: $(cat "$3")"
}
ref_of() { grep -o 'MXC-[0-9]\{8\}-[0-9]*' "$1" | head -n 1; }

fresh_uuids "$work/subscriber-msisdn.xml"
post_as fgr "$work/subscriber-msisdn.xml" "$work/a.out"
for i in 1 2 3 4 5; do
	fresh_uuids "$work/cdmx.xml"
	post_as fgecdmx "$work/cdmx.xml" "$work/other.$i"
done
fresh_uuids "$work/subscriber-msisdn.xml"
post_as fgr "$work/subscriber-msisdn.xml" "$work/b.out"

a=$(ref_of "$work/a.out")
b=$(ref_of "$work/b.out")
[[ $a =~ ^MXC-[0-9]{8}-[0-9]{22}$ ]] || fail "first reference: \"$a\""
[[ $b =~ ^MXC-[0-9]{8}-[0-9]{22}$ ]] || fail "second reference: \"$b\""
# Sortable: the date and the second of acceptance lead, in order.
[[ ! "${b:0:19}" < "${a:0:19}" ]] || fail "$b sorts before $a, accepted earlier"
# Opaque: the random parts are not a counter's neighbours (a counter gives
# a difference of 6 here; chance gives less than 10^6 once in 10^10).
ra=$((10#${a:19})) rb=$((10#${b:19}))
d=$((ra > rb ? ra - rb : rb - ra))
[ "$d" -gt 1000000 ] || fail "references $a and $b are $d apart: a counter"
# Unique, all seven.
all=$(for f in "$work"/a.out "$work"/other.* "$work"/b.out; do ref_of "$f"; done)
[ "$(sort -u <<<"$all" | wc -l)" = 7 ] || fail "references repeat: $all"
# The receipts: the leaf hash, no sequence number or checkpoint size.
for f in "$work/a.out" "$work/b.out"; do
	r=$(tr -d '\r' <"$f" | grep -i '^Warrant-Receipt:') || fail "no receipt: $(head -n 20 "$f")"
	[[ $r =~ ^Warrant-Receipt:\ leaf-sha256=[0-9a-f]{64}$ ]] || fail "receipt tells more than the leaf: $r"
done
# No header of the answer names the journal's sequence. (The body's
# delivery:SequenceNumber is ETSI's number of a part within one delivery,
# not a shared counter.)
if tr -d '\r' <"$work/b.out" | sed '/^$/q' | grep -qi 'seq'; then
	fail "the answer's head names a sequence: $(sed '/^\r*$/q' "$work/b.out")"
fi
# What the desk and the journal see is the same reference.
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
"$WARRANT_AUDIT" show --journal "$DIR/state/journal" --json >"$DIR/show.json" ||
    fail "warrant-audit show failed"
for r in $all; do
	grep -q "\"carrier_ref\":\"$r\"" "$DIR/show.json" || fail "$r is not in the journal"
done
"$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null || fail "restart failed"
pass
