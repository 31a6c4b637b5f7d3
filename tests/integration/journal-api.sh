#!/usr/bin/env bash
# journal-api.sh — auditors fetch the signed checkpoint and inclusion proofs
# over mutual TLS (GET /journal/checkpoint, GET /journal/proof?seq=N):
#  * a proof of an accepted request's record verifies with `warrant-audit
#    check-proof` against the fetched checkpoint and the journal's public
#    key, proves the very record the Warrant-Receipt named (same leaf hash),
#    and is byte for byte what `warrant-audit prove` says offline;
#  * officials and unregistered certificates get 403; a malformed seq 400;
#    a record not yet signed, or not there, 404; no checkpoint yet, 404;
#  * proofs asked in parallel and on a kept-alive connection are all
#    answered (200, or 503 when two are already being built), and the
#    daemon still stops at once afterwards: the busy count is balanced.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
command -v curl >/dev/null || skip "no curl command"
AUDIT=${WARRANT_AUDIT:-$TOP_BUILDDIR/src/warrant-audit/warrant-audit}
[ -x "$AUDIT" ] || skip "$AUDIT not built"
stack_up

work=$DIR/api
mkdir -p "$work"
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/subscriber-msisdn.xml" \
    "$SAMPLES/subscriber-imsi.xml"

# curl_as NAME OUT [CURL ARGS...] PATH — the HTTP status on stdout.
curl_as() {
	local name=$1 o=$2
	shift 2
	local path=${!#}
	curl -sS --max-time 30 --cacert "$WARRANT_CACERT" \
	    --cert "$DIR/$name.pem" --key "$DIR/$name.key" -o "$o" \
	    -w '%{http_code}' "${@:1:$#-1}" "$WARRANT_URL$path"
}

# expect_get NAME PATH STATUS [TEXT] — GET as NAME answers STATUS (and TEXT).
expect_get() {
	local got
	got=$(curl_as "$1" "$work/body" "$2") || fail "curl GET $2 as $1 failed"
	[ "$got" = "$3" ] || fail "GET $2 as $1: HTTP $got, expected $3: $(cat "$work/body")"
	[ -z "${4:-}" ] || grep -qF -- "$4" "$work/body" ||
	    fail "GET $2 as $1: answer lacks \"$4\": $(cat "$work/body")"
}

sanitizer_clean() {
	! grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error:' \
	    -e 'ERROR: LeakSanitizer' "$DIR/warrantd.log" ||
	    fail "sanitizer report in warrantd.log: $(grep -A20 -m1 -e Sanitizer -e 'runtime error' "$DIR/warrantd.log")"
}

# Stop (it must not wait for the drain deadline: nothing may stay busy),
# check the log of the run, start again on the same state.
restart() {
	local t0 t1
	t0=$(date +%s%N)
	"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null 2>&1 || fail "stack stop failed"
	t1=$(date +%s%N)
	sanitizer_clean
	[ $(( (t1 - t0) / 1000000 )) -lt 5000 ] ||
	    fail "warrantd took $(( (t1 - t0) / 1000000 )) ms to stop: a request stayed busy"
	grep -q 'stopped' "$DIR/warrantd.log" || fail "warrantd did not stop cleanly"
	"$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null || fail "stack start failed"
}

# Accepted requests carry their journal receipt.
rc=$(curl_as fgr "$work/accept1" -i -H 'Content-Type: application/xml' \
    --data-binary @"$work/subscriber-msisdn.xml" /hi1) || fail "submit failed"
[ "$rc" = 200 ] || fail "sample not accepted (HTTP $rc): $(cat "$work/accept1")"
rc=$(curl_as fgr "$work/accept2" -i -H 'Content-Type: application/xml' \
    --data-binary @"$work/subscriber-imsi.xml" /hi1) || fail "submit failed"
[ "$rc" = 200 ] || fail "sample not accepted (HTTP $rc): $(cat "$work/accept2")"
receipt=$(tr -d '\r' <"$work/accept1" | grep -i '^Warrant-Receipt:') ||
    fail "no Warrant-Receipt header: $(cat "$work/accept1")"
# The leaf hash only: no sequence number, no checkpoint size, nothing that
# counts other authorities' requests (issue 14 section 5).
leaf=$(sed -n 's/^Warrant-Receipt: leaf-sha256=\([0-9a-f]\{64\}\)$/\1/ip' <<<"$receipt")
[ -n "$leaf" ] || fail "receipt is not the leaf hash alone: $receipt"
receipt2=$(tr -d '\r' <"$work/accept2" | grep -i '^Warrant-Receipt:')
case "$receipt $receipt2" in *seq*|*checkpoint*|*size*) fail "a receipt tells a count: $receipt / $receipt2" ;; esac

# Nothing signed yet (checkpoints every 1000 records or 60 s, and at stop).
expect_get auditor /journal/checkpoint 404 "no checkpoint"
expect_get auditor "/journal/proof?leaf-sha256=$leaf" 404 "no checkpoint"

restart		# the stop signs everything so far

# The signed note and the proof, fetched back to back; a checkpoint signed
# in between (none is due) would show as a size mismatch: ask again.
for try in 1 2 3; do
	expect_get auditor /journal/checkpoint 200
	cp "$work/body" "$work/checkpoint"
	# The auditor asks by the receipt's leaf hash; the proof names the seq.
	expect_get auditor "/journal/proof?leaf-sha256=$leaf" 200
	cp "$work/body" "$work/proof"
	size=$(sed -n 2p "$work/checkpoint")
	grep -qx "tree-size $size" "$work/proof" && break
done
grep -qx "tree-size $size" "$work/proof" ||
    fail "checkpoint (size $size) and proof never agreed: $(head -3 "$work/proof")"
[ "$(head -n1 "$work/checkpoint")" = mxcarrier.example/warrantd ] ||
    fail "checkpoint origin: $(cat "$work/checkpoint")"
[ "$(head -n1 "$work/proof")" = "warrant-audit inclusion proof v1" ] ||
    fail "not a proof: $(cat "$work/proof")"
seq=$(sed -n 's/^seq \([0-9][0-9]*\)$/\1/p' "$work/proof")
[ -n "$seq" ] || fail "proof without a seq: $(cat "$work/proof")"
# By seq, the same proof.
expect_get auditor "/journal/proof?seq=$seq" 200
cmp -s "$work/body" "$work/proof" || fail "proofs by seq and by leaf differ"
# A leaf hash of no record: 404, saying so.
expect_get auditor "/journal/proof?leaf-sha256=$(printf '%064d' 0)" 404 "no record with this leaf hash"
grep -q '^path ' "$work/proof" || fail "proof without a path: $(cat "$work/proof")"

out=$("$AUDIT" check-proof --proof "$work/proof" --checkpoint "$work/checkpoint" \
    --pubkey "$DIR/journal.pub" 2>&1) || fail "check-proof: $out"
case $out in
"OK: record seq $seq (EVENT_REQUEST_ACCEPTED MXC-"*" signed at size $size") ;;
*) fail "check-proof said: $out" ;;
esac

# The record proved is the one the receipt named: SHA-256(0x00 || record).
rec=$(sed -n 's/^record //p' "$work/proof")
got=$( { printf '\000'; base64 -d <<<"$rec"; } | openssl dgst -sha256 -r | cut -d' ' -f1)
[ "$got" = "$leaf" ] || fail "leaf hash of the proved record $got, receipt says $leaf"

# Same code, same proof: warrant-audit on the daemon's own journal.
"$AUDIT" prove --journal "$DIR/state/journal" --seq "$seq" \
    --checkpoint "$work/checkpoint" >"$work/offline" 2>&1 ||
    fail "warrant-audit prove: $(cat "$work/offline")"
cmp -s "$work/proof" "$work/offline" ||
    fail "network and offline proofs differ: $(diff "$work/proof" "$work/offline")"
# Offline by the receipt's leaf hash too.
"$AUDIT" prove --journal "$DIR/state/journal" --leaf "$leaf" \
    --checkpoint "$work/checkpoint" >"$work/offline-leaf" 2>&1 ||
    fail "warrant-audit prove --leaf: $(cat "$work/offline-leaf")"
cmp -s "$work/proof" "$work/offline-leaf" || fail "prove --leaf gave another proof"
! "$AUDIT" prove --journal "$DIR/state/journal" --leaf "$(printf '%064d' 1)" \
    >"$work/offline-none" 2>&1 || fail "prove --leaf of no record succeeded"
grep -q "no record with this leaf hash" "$work/offline-none" ||
    fail "prove --leaf of no record: $(cat "$work/offline-none")"

# A proof whose record was swapped does not pass.
sed 's/^record .*/record AAAA/' "$work/proof" >"$work/forged"
! "$AUDIT" check-proof --proof "$work/forged" --checkpoint "$work/checkpoint" \
    --pubkey "$DIR/journal.pub" >/dev/null 2>&1 || fail "a forged proof passed"

# Auditors only.
for who in fgr unregistered; do
	expect_get $who /journal/checkpoint 403 "registered auditors"
	expect_get $who "/journal/proof?seq=$seq" 403 "registered auditors"
done

# seq strictly: decimal digits, within 64 bits, nothing else.
for q in "seq=abc" "seq=" "" "seq=-1" "seq=+1" "seq=%31" "seq=1x" "seq=1&x=2" \
    "x=1" "seq=18446744073709551616" "seq=99999999999999999999999"; do
	expect_get auditor "/journal/proof${q:+?$q}" 400 "seq=N"
done
# Beyond the checkpoint: the start record of this run is not signed yet.
expect_get auditor "/journal/proof?seq=$size" 404 "not signed yet"
expect_get auditor "/journal/proof?seq=18446744073709551615" 404 "no record"
expect_get auditor /journal/nothing 404 "unknown journal resource"

# Several at once: each is a proof (200) or "busy" (503, Retry-After).
for i in 1 2 3 4 5 6 7 8; do
	curl_as auditor "$work/par$i" -i "/journal/proof?seq=$seq" >"$work/code$i" &
done
wait
ok=0
for i in 1 2 3 4 5 6 7 8; do
	case $(cat "$work/code$i") in
	200)	ok=$((ok + 1))
		tr -d '\r' <"$work/par$i" | sed '1,/^$/d' >"$work/parbody"
		cmp -s "$work/parbody" "$work/proof" ||
		    fail "parallel proof $i differs: $(cat "$work/par$i")" ;;
	503)	grep -qi '^Retry-After: 1' "$work/par$i" ||
		    fail "503 without Retry-After: $(cat "$work/par$i")" ;;
	*)	fail "parallel proof $i: $(cat "$work/code$i") $(cat "$work/par$i")" ;;
	esac
done
[ "$ok" -ge 1 ] || fail "no parallel proof was answered"

# One kept-alive connection: proof, checkpoint, proof, refusal, proof.
codes=$(curl -sS --max-time 30 --cacert "$WARRANT_CACERT" \
    --cert "$DIR/auditor.pem" --key "$DIR/auditor.key" \
    -w '%{http_code} %{num_connects}\n' \
    -o /dev/null "$WARRANT_URL/journal/proof?seq=$seq" \
    -o /dev/null "$WARRANT_URL/journal/checkpoint" \
    -o /dev/null "$WARRANT_URL/journal/proof?seq=0" \
    -o /dev/null "$WARRANT_URL/journal/proof?seq=abc" \
    -o /dev/null "$WARRANT_URL/journal/proof?seq=1") || fail "keep-alive curl failed"
[ "$(tr '\n' ' ' <<<"$codes")" = "200 1 200 0 200 0 400 0 200 0 " ] ||
    fail "kept-alive requests: $codes"

grep -q "auditor aud.perez fetched the proof of seq $seq at size $size" \
    "$DIR/warrantd.log" || fail "proof not logged"
restart		# every proof released its busy slot; no leak at exit
expect_get auditor /journal/checkpoint 200
pass
