#!/usr/bin/env bash
# journal-seal.sh — the journal's sealed fields (issue 14 §4), on journals
# written by the real journal code (tests/unit/jgen):
#  - no identifier or order reference in any file of a sealed journal;
#  - verify, prove, consistency and report work without the audit key,
#    show says what it cannot read, and opens it with the key;
#  - search finds an identifier or order through the blind index;
#  - a flipped ciphertext byte (CRC recomputed) fails verify, and the
#    record no longer opens; a raw flipped byte fails too;
#  - a journal written before the change (tests/fixtures/journal-v1, format
#    1) still verifies, and appending to it starts a format 2 segment with
#    the whole still verifiable and searchable; a format 1 segment after a
#    format 2 one is refused.
# Exit 0 pass, 1 fail, 77 skip (as automake expects).
set -u
TOP_BUILDDIR=${TOP_BUILDDIR:-$PWD}
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
AUDIT=${WARRANT_AUDIT:-$TOP_BUILDDIR/src/warrant-audit/warrant-audit}
JGEN=${JGEN:-$TOP_BUILDDIR/tests/unit/jgen}
FIX=$TOP_SRCDIR/tests/fixtures/journal-v1
[ -x "$AUDIT" ] && [ -x "$JGEN" ] || { echo "SKIP: no $AUDIT or $JGEN"; exit 77; }
command -v openssl >/dev/null || { echo "SKIP: no openssl"; exit 77; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
openssl genpkey -algorithm ed25519 -out "$T/sign.pem" 2>/dev/null &&
openssl pkey -in "$T/sign.pem" -pubout -out "$T/sign.pub" &&
openssl genpkey -algorithm X25519 -out "$T/audit.key" 2>/dev/null &&
openssl pkey -in "$T/audit.key" -pubout -out "$T/audit.pub" &&
openssl genpkey -algorithm X25519 -out "$T/other.key" 2>/dev/null &&
openssl pkey -in "$T/other.key" -pubout -out "$T/other.pub" || exit 1
J=$T/j
fails=0

audit() { "$AUDIT" "$@" >"$T/out" 2>&1; }

# expect NAME RC TEXT... — the last audit exited RC and said every TEXT.
expect() {
	local name=$1 want=$2 got=$3 t
	shift 3
	if [ "$got" != "$want" ]; then
		echo "FAIL: $name: exit $got, expected $want"; sed 's/^/  /' "$T/out"
		fails=$((fails + 1)); return
	fi
	for t in "$@"; do
		if ! grep -qF -- "$t" "$T/out"; then
			echo "FAIL: $name: output lacks \"$t\""; sed 's/^/  /' "$T/out"
			fails=$((fails + 1)); return
		fi
	done
	echo "ok: $name"
}

lacks() {
	local name=$1 t
	shift
	for t in "$@"; do
		if grep -qF -- "$t" "$T/out"; then
			echo "FAIL: $name: output has \"$t\""; sed 's/^/  /' "$T/out"
			fails=$((fails + 1)); return
		fi
	done
	echo "ok: $name"
}

# 20 records (5 accepted requests, each with an MSISDN and an order),
# a checkpoint every 5, segments of at most 1 KiB.
fresh() {
	rm -rf "$J" "$T/data.key"
	"$JGEN" --key "$T/sign.pem" --origin test.example/journal --every 5 \
	    --segment-max 1024 --audit-key "$T/audit.pub" \
	    --data-key "$T/data.key" "$J" 20 2>/dev/null || { echo "jgen failed"; exit 1; }
}

# Format version of a segment: bytes 8..11 of its header.
segver() { od -An -tu1 -j8 -N4 "$1" | awk '{ print $4 }'; }

fresh
# No target, order or court anywhere in the journal directory.
if grep -rlaE '525512345678|CAUSA-77|Juzgado|LDID-1' "$J" >"$T/out"; then
	echo "FAIL: identifiers in clear in:"; sed 's/^/  /' "$T/out"
	fails=$((fails + 1))
else
	echo "ok: no identifier, order or court in clear on disk"
fi
[ "$(segver "$J/seg-0000000000000000.wj")" = 2 ] &&
    echo "ok: new segments have format 2" ||
    { echo "FAIL: segment format $(segver "$J/seg-0000000000000000.wj")"; fails=$((fails + 1)); }

audit verify --journal "$J" --pubkey "$T/sign.pub"
expect "sealed journal verifies without the audit key" 0 $? "OK:" \
    "20 records" "sealed: 5 records"
audit prove --journal "$J" --seq 4
expect "prove without the audit key" 0 $? "warrant-audit inclusion proof v1" "seq 4"
cp "$T/out" "$T/proof"
audit check-proof --proof "$T/proof" --checkpoint "$J/checkpoint.latest" --pubkey "$T/sign.pub"
expect "a sealed record's proof checks" 0 $? "OK"
cp "$J/checkpoint-0000000000000005" "$T/old-cp"
audit consistency --journal "$J" --old "$T/old-cp" --pubkey "$T/sign.pub"
expect "consistency without the audit key" 0 $? "OK"
audit report --journal "$J" --from 2000-01-01 --to 2100-01-01
expect "report without the audit key" 0 $? "FGR" "EVENT_REQUEST_ACCEPTED"

audit show --journal "$J"
expect "show without the key says what it cannot read" 0 $? \
    "targets and references need the audit key"
lacks "show without the key prints no target" "525512345678" "CAUSA-77"
audit show --journal "$J" --json
expect "show --json without the key" 0 $? '"sealed":"sealed: targets' '"value":""'
audit show --journal "$J" --key "$T/audit.key"
expect "show --key opens the sealed fields" 0 $? \
    "target=MSISDN:525512345678" 'order="CAUSA-77/2026"'
audit show --journal "$J" --key "$T/other.key"
expect "another audit key opens nothing" 0 $? "no such key given"
lacks "another audit key shows no target" "525512345678"

audit search --journal "$J" --key "$T/audit.key" --identifier "msisdn:+52 55 1234 5678"
expect "search by identifier, as typed" 0 $? "5 records name it" \
    "5 of 5 sealed records" 'order="CAUSA-77/2026"' "ref=MXC-T-000004"
audit search --journal "$J" --key "$T/audit.key" --identifier msisdn:525512345679
expect "search for another number opens nothing" 0 $? "0 records name it" \
    "0 of 5 sealed records"
audit search --journal "$J" --key "$T/audit.key" --order CAUSA-77/2026 --until 2000-01-01
expect "search outside the dates" 0 $? "0 records name it" "0 of 0"
audit search --journal "$J" --key "$T/audit.key" --order CAUSA-77/2026 --json
expect "search by order, JSON" 0 $? '"court":"Juzgado Primero de Control"'
audit search --journal "$J" --key "$T/other.key" --identifier msisdn:525512345678
expect "search with another audit key: incomplete, and says so" 1 $? \
    "but not searched" "5 sealed records in the period were NOT searched"
mv "$J"/index-*.sealed "$T/"
audit search --journal "$J" --key "$T/audit.key" --identifier msisdn:525512345678
expect "search without the index file: incomplete, and says so" 1 $? \
    "were NOT searched"
mv "$T"/index-*.sealed "$J/"

# With the audit key, verify also opens every sealed record and checks
# its blind index tokens (what makes search's answers trustworthy).
audit verify --journal "$J" --pubkey "$T/sign.pub" --key "$T/audit.key"
expect "verify --key opens and checks every sealed record" 0 $? "OK:" \
    "all 5 open with the audit key; blind index tokens checked on 5"
# A daemon that writes wrong tokens and signs them: the signatures hold,
# the token check does not.
fresh
"$JGEN" --forge --blind-byte "$J" seg-0000000000000000.wj 2>/dev/null ||
    { echo "FAIL: jgen --blind-byte"; fails=$((fails + 1)); }
rm -f "$J"/checkpoint*
"$JGEN" --key "$T/sign.pem" --origin test.example/journal --segment-max 1024 \
    "$J" 0 2>/dev/null || { echo "FAIL: jgen re-signing"; fails=$((fails + 1)); }
audit verify --journal "$J" --pubkey "$T/sign.pub"
expect "re-signed wrong tokens verify without the key" 0 $? "OK:"
audit verify --journal "$J" --pubkey "$T/sign.pub" --key "$T/audit.key"
expect "verify --key finds the wrong tokens" 1 $? "FAIL" "seq 0" \
    "blind index tokens do not match"
# A daemon sealing for another audit key: verify --key says so.
fresh
"$JGEN" --key "$T/sign.pem" --origin test.example/journal --every 5 \
    --segment-max 1024 --audit-key "$T/other.pub" \
    --data-key "$T/data.key" "$J" 4 2>/dev/null || { echo "FAIL: jgen other key"; fails=$((fails + 1)); }
audit verify --journal "$J" --pubkey "$T/sign.pub" --key "$T/audit.key"
expect "records sealed for another key fail verify --key" 1 $? "FAIL" \
    "seq 20" "sealed fields do not open" "no such key given"

# Tampering with the new format.
fresh
S0=seg-0000000000000000.wj
"$JGEN" --forge --sealed-byte "$J" "$S0" 2>/dev/null || { echo "FAIL: jgen --sealed-byte"; fails=$((fails + 1)); }
audit verify --journal "$J" --pubkey "$T/sign.pub"
expect "flipped ciphertext byte, CRC recomputed: verify fails" 1 $? "FAIL" \
    "do not match signed checkpoint" "altered"
audit show --journal "$J" --key "$T/audit.key"
expect "the altered record does not open" 0 $? "do not authenticate"
fresh
printf '\x5a' | dd of="$J/$S0" bs=1 seek=200 conv=notrunc 2>/dev/null
audit verify --journal "$J" --pubkey "$T/sign.pub"
expect "raw flipped byte: verify fails" 1 $? "FAIL" "$S0"

# A journal written before the change.
audit verify --journal "$FIX/j" --pubkey "$FIX/signing.pub"
expect "format 1 fixture still verifies" 0 $? "OK:" "12 records in 2 segments" \
    "sealed: 0 records"
rm -rf "$J"; cp -r "$FIX/j" "$J"; chmod 700 "$J"; chmod 600 "$J"/*
"$JGEN" --key "$FIX/signing.pem" --origin fixture.example/journal --every 5 \
    --segment-max 1024 --audit-key "$T/audit.pub" --data-key "$T/data.key" \
    "$J" 8 2>/dev/null || { echo "FAIL: jgen on the old journal"; fails=$((fails + 1)); }
[ "$(segver "$J/seg-0000000000000009.wj")" = 1 ] &&
[ "$(segver "$J/seg-000000000000000c.wj")" = 2 ] &&
    echo "ok: old segments kept, appends go into a format 2 segment" ||
    { echo "FAIL: segments after upgrade:"; ls "$J"; fails=$((fails + 1)); }
audit verify --journal "$J" --pubkey "$FIX/signing.pub"
expect "old journal with new records verifies" 0 $? "OK:" "20 records" \
    "sealed: 2 records"
audit search --journal "$J" --key "$T/audit.key" --identifier msisdn:525512345678
expect "search covers clear and sealed records" 0 $? "5 records name it" \
    "(in clear)" "2 of 2 sealed records"
# A format 1 segment after a format 2 one: a downgrade, refused.
rm -rf "$J"; mkdir -p "$J"
"$JGEN" --segment-max 100000 "$J" 9 2>/dev/null
cp "$FIX/j/seg-0000000000000009.wj" "$J/"
audit verify --journal "$J" --pubkey "$FIX/signing.pub"
expect "format 1 after format 2 is refused" 1 $? "format version 1 after a segment of version 2"

[ "$fails" -eq 0 ] && { echo "PASS: journal-seal"; exit 0; }
echo "$fails failures"
exit 1
