#!/usr/bin/env bash
# journal-signer.sh — the journal's signing key lives only in the checkpoint
# signer, a child warrantd forks at start (issue 12, docs/architecture.md):
#  - one warrantd-signer child, seccomp-filtered with no new privileges,
#    holding its socket and stdio only;
#  - checkpoints are still written while warrantd runs and verify with
#    `warrant-audit verify --pubkey`;
#  - as root: the signing key's private bytes are in the signer's memory
#    (the search works) and not in warrantd's, which does hold the results
#    key (the search reads warrantd's memory) (skipped, loudly, if not root);
#  - the signer killed (-9): logged once, /healthz 503 saying no new
#    checkpoints, requests still accepted and journaled, no new checkpoint;
#    after a restart a new signer signs everything, and verify passes;
#  - a signing key that is not Ed25519: warrantd refuses to start.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
. "$srcdir/tests/integration/desk-lib.sh"
AUDIT=${WARRANT_AUDIT:-$TOP_BUILDDIR/src/warrant-audit/warrant-audit}
[ -x "$AUDIT" ] || skip "$AUDIT not built"
desk_stack_up
J=$DIR/state/journal
# A checkpoint after every record, so that signing is exercised at once.
restart() {
	"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
	"$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null || fail "restart failed: $1"
	pid=$(cat "$DIR/warrantd.pid")
}
sed -i 's/checkpoint-records 1000/checkpoint-records 1/' "$DIR/warrantd.conf"
restart "checkpoint-records 1"

signer() {
	local s i
	for i in $(seq 1 50); do
		s=$(pgrep -P "$pid" -x warrantd-signer)
		[ -n "$s" ] && { echo "$s"; return 0; }
		sleep 0.1
	done
	return 1
}
s=$(signer) || fail "no warrantd-signer runs under warrantd $pid"
[ "$(wc -w <<<"$s")" -eq 1 ] || fail "more than one signer: $s"
grep -q "journal: checkpoints signed by pid $s, the only process holding the signing key" \
    "$DIR/warrantd.log" || fail "the signer's start is not logged"
grep -q '^Seccomp:[[:space:]]*2' "/proc/$s/status" || fail "the signer has no seccomp filter"
grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$s/status" || fail "the signer may gain privileges"
fds=$(ls "/proc/$s/fd" | sort -n | tr '\n' ' ')
[ "$fds" = "0 1 2 3 " ] || fail "the signer holds descriptors other than stdio and its socket: $fds"

mkdir -p "$work/s"
"$TOP_SRCDIR/tests/restamp" -o "$work/s" "$SAMPLES/subscriber-msisdn.xml" >/dev/null ||
    fail "restamp failed"
sample() {	# a new request, accepted
	submit_new fgr "$work/s/subscriber-msisdn.xml"
	expect_exit 0
	expect_output_contains "ACCEPTED"
}
newest() {	# the size of the newest checkpoint-<hex>, decimal
	local f
	f=$(ls "$J" | grep '^checkpoint-[0-9a-f]*$' | sort | tail -n 1)
	[ -n "$f" ] && echo $((16#${f#checkpoint-})) || echo 0
}
sample
for i in $(seq 1 50); do
	[ "$(newest)" -gt 0 ] && break
	sleep 0.1
done
before=$(newest)
[ "$before" -gt 0 ] || fail "no checkpoint was signed while warrantd runs"
"$AUDIT" verify --journal "$J" --pubkey "$DIR/journal.pub" >"$work/verify.out" 2>&1 ||
    fail "a checkpoint signed by the signer does not verify: $(cat "$work/verify.out")"

# --- memory: the key in the signer, not in warrantd ------------------------------
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP (part): $test_name: not root: the key search in the processes' memory did not run" >&2
else
	command -v python3 >/dev/null || fail "no python3"
	key_bytes "$work"
	got=$(memscan "$s" "$work/sign.raw") ||
	    fail "cannot read the signer's memory"
	[ "$got" = found ] || fail "the signing key is not in the signer's memory: the search is broken"
	got=$(memscan "$pid" "$work/sign.raw" "$work/results.raw") ||
	    fail "cannot read warrantd's memory"
	[ "$got" = "absent found" ] ||
	    fail "warrantd's memory (signing key, results key): $got, expected absent found"
fi

# --- the signer killed -------------------------------------------------------------
kill -9 "$s"
for i in $(seq 1 50); do
	grep -q "the checkpoint signer (pid $s) was killed by signal 9: no new checkpoints" \
	    "$DIR/warrantd.log" && break
	sleep 0.1
done
grep -q "the checkpoint signer (pid $s) was killed by signal 9: no new checkpoints" \
    "$DIR/warrantd.log" || fail "the signer's death is not logged"
req desksup GET "$DESK/healthz"
expect_code "healthz without a signer" 503
[ "$(jget 'd["status"]')" = degraded ] || fail "healthz: $body"
jget 'd["journal"]' | grep -q "NO NEW CHECKPOINTS: the checkpoint signer was killed by signal 9" ||
    fail "healthz does not say checkpoints stopped: $body"
sample
sample
[ "$(newest)" -eq "$before" ] || fail "a checkpoint appeared without a signer: $(newest)"
[ "$(grep -c "the checkpoint signer (pid $s)" "$DIR/warrantd.log")" -eq 1 ] ||
    fail "the signer's death is logged more than once"
kill -0 "$s" 2>/dev/null && fail "the killed signer $s is still there"
grep -q "^State:[[:space:]]*Z" "/proc/$s/status" 2>/dev/null && fail "the signer was not reaped"

# --- a restart: a new signer signs what was appended meanwhile ----------------------
restart "after the signer was killed"
s2=$(signer) || fail "no signer after the restart"
[ "$s2" != "$s" ] || fail "the same signer pid after a restart"
sample
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
"$AUDIT" verify --journal "$J" --pubkey "$DIR/journal.pub" >"$work/verify.out" 2>&1 ||
    fail "verify after the restart: $(cat "$work/verify.out")"
records=$("$AUDIT" show --journal "$J" --json 2>/dev/null | wc -l)
grep -q "newest signs $records records" "$work/verify.out" ||
    fail "the last checkpoint does not sign all $records records: $(cat "$work/verify.out")"

# --- a key that is not Ed25519: no start ---------------------------------------------
cp "$DIR/journal.key" "$work/journal.key.orig"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$DIR/journal.key" 2>/dev/null ||
    fail "openssl genpkey failed"
chmod 600 "$DIR/journal.key"
"$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null 2>&1 && fail "warrantd started with a P-256 signing key"
grep -q "not an Ed25519 key" "$DIR/warrantd.log" || fail "the bad key is not named: $(tail -3 "$DIR/warrantd.log")"
grep -q "journal signing key not usable; refusing to start" "$DIR/warrantd.log" ||
    fail "the refusal is not logged"
cp "$work/journal.key.orig" "$DIR/journal.key"
chmod 600 "$DIR/journal.key"
"$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null || fail "start with the key back failed"
pid=$(cat "$DIR/warrantd.pid")
pass
