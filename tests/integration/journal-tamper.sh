#!/usr/bin/env bash
# journal-tamper.sh — warrant-audit must notice every way of tampering with
# a journal written by the real journal code (tests/unit/jgen), and say
# where: a flipped byte, a deleted, swapped or truncated segment, a
# self-consistent forged segment (valid CRCs and seqs, other content), a
# checkpoint signed by another key; and its proofs must hold or fail.
# Exit 0 pass, 1 fail, 77 skip (as automake expects).
set -u
TOP_BUILDDIR=${TOP_BUILDDIR:-$PWD}
AUDIT=${WARRANT_AUDIT:-$TOP_BUILDDIR/src/warrant-audit/warrant-audit}
JGEN=${JGEN:-$TOP_BUILDDIR/tests/unit/jgen}
[ -x "$AUDIT" ] && [ -x "$JGEN" ] || { echo "SKIP: no $AUDIT or $JGEN"; exit 77; }
command -v openssl >/dev/null || { echo "SKIP: no openssl"; exit 77; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
openssl genpkey -algorithm ed25519 -out "$T/key.pem" 2>/dev/null &&
openssl pkey -in "$T/key.pem" -pubout -out "$T/pub.pem" || exit 1
openssl genpkey -algorithm ed25519 -out "$T/other.pem" 2>/dev/null || exit 1
J=$T/j
S0=seg-0000000000000000.wj S9=seg-0000000000000009.wj
S13=seg-0000000000000013.wj S1c=seg-000000000000001c.wj
S25=seg-0000000000000025.wj
fails=0

# 45 records, a checkpoint every 10, segments of at most 1 KiB.
fresh() {
	rm -rf "$J" "$T/out"
	"$JGEN" --key "$T/key.pem" --origin test.example/journal --every 10 \
	    --segment-max 1024 "$J" 45 2>/dev/null || { echo "jgen failed"; exit 1; }
	[ -f "$J/$S13" ] && [ -f "$J/$S25" ] ||
	    { echo "unexpected segment layout:"; ls "$J"; exit 1; }
}

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

verify() { audit verify --journal "$J" --pubkey "$T/pub.pem" "$@"; }

fresh; verify
expect "intact journal verifies" 0 $? "OK:" "45 records in 5 segments" "6 checkpoints"

fresh; printf '\x99' | dd of="$J/$S13" bs=1 seek=100 conv=notrunc 2>/dev/null; verify
expect "flipped byte" 1 $? "FAIL" "$S13: offset 24, seq 19: CRC mismatch"

fresh; rm "$J/$S13"; verify
expect "deleted segment" 1 $? "FAIL" "$S1c: offset 0" "records missing"

fresh; mv "$J/$S9" "$T/x"; mv "$J/$S13" "$J/$S9"; mv "$T/x" "$J/$S13"; verify
expect "swapped segments" 1 $? "FAIL" "$S9: offset 0"

fresh; rm "$J/$S25"; verify
expect "last segment removed" 1 $? "FAIL" "signs 40 records but the journal has 37" \
    "end of $S1c" "records were removed"

fresh; sz=$(stat -c %s "$J/$S25"); truncate -s $((sz - 3)) "$J/$S25"; verify
expect "truncated mid-record" 1 $? "FAIL" "$S25: offset" "torn tail"

fresh; "$JGEN" --forge "$J" "$S13" 2>/dev/null || exit 1; verify
expect "self-consistent forged segment" 1 $? "FAIL" "records seq 10..19" "$S13" \
    "do not match signed checkpoint" "they were altered"

fresh; cp "$J/checkpoint.latest" "$T/latest"
sed -i 's/^45$/44/' "$J/checkpoint.latest"; verify
expect "edited checkpoint" 1 $? "FAIL" "checkpoint" "signature does not verify"

fresh; rm -rf "$T/j2"
"$JGEN" --key "$T/other.pem" --origin test.example/journal "$T/j2" 45 2>/dev/null
cp "$T/j2/checkpoint.latest" "$J/checkpoint.latest"; verify
expect "checkpoint by another key" 1 $? "FAIL" "no signature by this key"

fresh; rm -f "$J"/checkpoint*; verify
expect "checkpoints removed" 1 $? "FAIL" "no signed checkpoint"

# ... but an auditor's own copy still catches a rollback to a smaller journal.
fresh; cp "$J/checkpoint.latest" "$T/mine"; rm "$J/$S25" "$J"/checkpoint*
verify --checkpoint "$T/mine"
expect "rollback against the auditor's checkpoint" 1 $? "FAIL" "records were removed"

# Proofs.
fresh; cp "$J/checkpoint-0000000000000014" "$T/old"
audit prove --journal "$J" --seq 12; rc=$?; cp "$T/out" "$T/proof"
expect "prove" 0 $rc "inclusion proof v1" "tree-size 45" "seq 12"
audit check-proof --proof "$T/proof" --checkpoint "$J/checkpoint.latest" --pubkey "$T/pub.pem"
expect "check-proof" 0 $? "OK: record seq 12" "signed at size 45"
# The first character of the first path hash changed (base64: it may
# already be an A, one time in 64, so it becomes a B then).
awk '/^path /&&!d{c=substr($0,6,1)=="A"?"B":"A";sub(/^path ./,"path " c);d=1}1' \
    "$T/proof" >"$T/bad"
cmp -s "$T/proof" "$T/bad" && { echo "FAIL: the altered proof is the same"; exit 1; }
audit check-proof --proof "$T/bad" --checkpoint "$J/checkpoint.latest" --pubkey "$T/pub.pem"
expect "check-proof, altered path" 1 $? "FAIL" "does not lead to the signed root"
audit check-proof --proof "$T/proof" --checkpoint "$T/old" --pubkey "$T/pub.pem"
expect "check-proof, other checkpoint" 1 $? "FAIL" "size 20"
audit consistency --journal "$J" --old "$T/old" --pubkey "$T/pub.pem"
expect "consistency" 0 $? "OK: the journal at size 45 extends the checkpoint at size 20" "proof "
"$JGEN" --forge "$J" "$S9" 2>/dev/null
audit consistency --journal "$J" --old "$T/old" --pubkey "$T/pub.pem"
expect "consistency after forgery" 1 $? "FAIL" "first 20 records do not match"

# show and report read the same journal.
fresh; audit show --journal "$J" --authority FGJ-CDMX
expect "show --authority" 0 $? "EVENT_REQUEST_REFUSED" "authority=FGJ-CDMX"
[ "$(wc -l <"$T/out")" = 11 ] || { echo "FAIL: show: $(wc -l <"$T/out") lines"; fails=$((fails + 1)); }
audit show --journal "$J" --request MXC-T-000002 --json
expect "show --json" 0 $? '"carrier_ref":"MXC-T-000002"' '"value":"525512345678"'
audit report --journal "$J" --from 2000-01-01 --to 2100-01-01
expect "report" 0 $? "45 events" "FGJ-CDMX"

[ $fails -eq 0 ] || { echo "$fails checks failed"; exit 1; }
echo "all journal tamper checks passed"
