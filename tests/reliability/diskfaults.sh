#!/usr/bin/env bash
# diskfaults.sh — the journal's disk-fault promises at the points
# tests/integration/journal-faults.sh does not reach: a file cannot be
# *created* (ENOSPC; in full mode EIO too) when a segment rolls over and
# when a checkpoint is written; in full mode also EIO on write and ENOSPC on sync (the other
# pairings of journal-faults.sh), and a daemon started while the disk
# refuses writes. Each time: a request is answered 503 saying why, or (for a
# checkpoint, which loses nothing) accepted and the failure logged; the
# daemon stays up; every acknowledged request is in the journal and no
# request answered 503 left a record; once the fault clears the daemon
# accepts again without a restart; the journal verifies.
#
# Write and sync faults come from tests/faultfs/faultinject.so (the journal
# tests' shim, reused), creation faults from tests/reliability/openfault.so,
# both preloaded (after the ASan runtime when the daemon has one) and
# switched at run time by flag files. To reach a rollover quickly the
# journal is first filled to just under the 1 MiB segment size with
# tests/unit/jgen (the real journal code, the daemon's signing key).
srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$srcdir/tests/reliability/lib.sh"
case $(uname -s) in Linux) ;; *) skip "needs /proc/self/fd (Linux)" ;; esac
[ -x "$AUDIT" ] || skip "$AUDIT not built"
JGEN=${WD_JGEN:-$TOP_BUILDDIR/tests/unit/jgen}
[ -x "$JGEN" ] || skip "$JGEN not built (needs cmocka): cannot fill a segment"
rel_snapshot
rel_stack_up
rel_samples
J=$DIR/state/journal

fi_so=$(rel_shim tests/faultfs/faultinject.so tests/faultfs/faultinject.c) ||
    skip "cannot build faultinject.so: $(cat "$REL_TMP/cc.out")"
of_so=$(rel_shim tests/reliability/openfault.so tests/reliability/openfault.c) ||
    skip "cannot build openfault.so: $(cat "$REL_TMP/cc.out")"
preload="$fi_so $of_so"
asan=$(ldd "$WARRANTD" 2>/dev/null | awk '/libasan\.so/ { print $3; exit }')
[ -z "$asan" ] || preload="$asan $preload"
cat >"$DIR/warrantd-faulty" <<EOF
#!/bin/sh
FAULT_DIR='$J' FAULT_FLAG='$DIR/fault.flag' FAULT_LOG='$DIR/fault.log' \
OPENFAULT_DIR='$J' OPENFAULT_FLAG='$DIR/openfault.flag' OPENFAULT_LOG='$DIR/openfault.log' \
LD_PRELOAD='$preload' exec '$WARRANTD' "\$@"
EOF
chmod +x "$DIR/warrantd-faulty"

"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
rel_conf segment-size 1M
rel_conf checkpoint-records 5

# Fill the segment to within a few requests of 1 MiB (jgen's records are
# about 100 bytes; the daemon's about 400).
seg_size() { stat -c %s "$(ls "$J"/seg-*.wj | tail -n 1)"; }
jgen() {
	"$JGEN" --key "$DIR/journal.key" --origin "mxcarrier.example/warrantd" \
	    --segment-max 1048576 --tag FILL "$J" "$1" >>"$DIR/jgen.log" 2>&1 ||
	    fail "jgen failed: $(tail -n 3 "$DIR/jgen.log")"
}
target=$((1048576 - 2500))
s0=$(seg_size)
n=$(((target - s0) / 130))
jgen "$n"
per=$((($(seg_size) - s0) / n + 1))
n=$(((target - $(seg_size)) / per))
[ "$n" -le 0 ] || jgen "$n"
while [ "$(seg_size)" -lt "$target" ]; do jgen 3; done
[ "$(ls "$J"/seg-*.wj | wc -l)" = 1 ] || fail "jgen rolled the segment over: $(ls "$J")"
n_req_fill=$("$AUDIT" show --journal "$J" --json | grep -c '"event":"EVENT_REQUEST_')
rel_start WARRANTD="$DIR/warrantd-faulty" ||
    fail "warrantd does not start with the fault shims preloaded: $(cat "$DIR/start.err")"
rel_note "segment at $(seg_size) bytes of 1048576"

acked=		# references the client was given
n_answers=0	# answers that carry a journal record (200 and 4xx)
n_503=0

submit_one() {	# file
	submit_new fgr "$1"
	case $out in
	*"ACCEPTED (HTTP 200)"*)
		acked="$acked $(grep -o 'MXC-[0-9]*-[0-9]*' <<<"$out")"
		n_answers=$((n_answers + 1)) ;;
	*"(HTTP 4"*) n_answers=$((n_answers + 1)) ;;
	*"HTTP 503"*) n_503=$((n_503 + 1)) ;;
	*) fail "unexpected answer: $out" ;;
	esac
}

check_acked_present() {	# when
	local refs ref
	refs=$(rel_journal_refs "$J")
	for ref in $acked; do
		grep -qx "$ref" <<<"$refs" || fail "$1: $ref was acknowledged but is not in the journal"
	done
}

alive() {	# when
	rel_sanitizer_check "$1"
	"$TOP_SRCDIR/tests/stack" status "$DIR" >/dev/null || fail "$1: warrantd died"
}

# Submit until a 503 that names TEXT comes (at most SECONDS).
until_503() {	# text seconds
	local t_end=$(($(date +%s) + $2))
	while [ "$(date +%s)" -lt "$t_end" ]; do
		submit_one "$GOOD"
		case $out in
		*"HTTP 503"*"$1"*) break ;;
		*"HTTP 503"*) sleep 0.3 ;;	# still the previous fault
		esac
	done
	expect_output_contains "SERVER ERROR (HTTP 503)"
	expect_output_contains "journal unavailable"
	expect_output_contains "$1"
}

# Submit until accepted again (at most 20 s: the journal probes every 5 s).
until_accepted() {	# what
	local t0 i
	t0=$(date +%s%N)
	for i in $(seq 1 40); do
		submit_one "$GOOD"
		[ "$rc" = 0 ] && break
		case $out in *"HTTP 503"*) ;; *) fail "$1: unexpected answer: $out" ;; esac
		sleep 0.5
	done
	[ "$rc" = 0 ] || fail "$1: still refusing 20 s after the fault cleared"
	echo "$1: accepting again $((($(date +%s%N) - t0) / 1000000)) ms after the fault cleared"
}

# --- 1. a segment cannot be created at rollover (full: ENOSPC, then EIO) ------
# (The daemon may have rolled over once already while starting: what it
# appends at start varies. The fault is on the next rollover.)
n_seg=$(ls "$J"/seg-*.wj | wc -l)
echo "ENOSPC seg-" >"$DIR/openfault.flag"
until_503 "No space left on device" 30
sleep 0.2
alive "rollover ENOSPC"
grep -q '^open seg-' "$DIR/openfault.log" ||
    fail "rollover ENOSPC: the shim never refused a segment: $(cat "$DIR/openfault.log" 2>/dev/null)"
grep -q 'journal: write failed at seq [0-9]*: No space left on device' "$DIR/warrantd.log" ||
    fail "rollover ENOSPC: the log does not say why"
submit_one "$GOOD"
expect_output_contains "HTTP 503"
alive "rollover ENOSPC"
check_acked_present "rollover ENOSPC"
if [ "$REL_SCALE" = full ]; then
	echo "EIO seg-" >"$DIR/openfault.flag"
	until_503 "Input/output error" 20
	alive "rollover EIO"
fi
# The journal's probe writes to the current segment, which works: it
# declares the disk writable while segments still cannot be created, and
# the next append fails again (503 again, nothing lost). Counted, reported.
[ "$REL_SCALE" = full ] && sleep 6
n_flap=$(grep -c 'disk writable again' "$DIR/warrantd.log")
rm -f "$DIR/openfault.flag"
until_accepted "rollover"
echo "rollover: the probe declared the disk writable $n_flap times while segment creation still failed"
[ "$(ls "$J"/seg-*.wj | wc -l)" = $((n_seg + 1)) ] ||
    fail "not one new segment after the rollover fault cleared: $(ls "$J"/seg-*.wj)"
n_seg_faults=$(grep -c '^open seg-' "$DIR/openfault.log")

# --- 2. a checkpoint cannot be created: nothing is refused ---------------------
for err in $(rel_pick ENOSPC "ENOSPC EIO"); do
	echo "$err .checkpoint" >"$DIR/openfault.flag"
	: >"$DIR/openfault.log"
	for i in $(seq 1 8); do
		submit_one "$GOOD"
		expect_exit 0
	done
	grep -q '^open \.checkpoint' "$DIR/openfault.log" ||
	    fail "checkpoint $err: no checkpoint was attempted in 8 requests"
	grep -q 'cannot write checkpoint' "$DIR/warrantd.log" ||
	    fail "checkpoint $err: the failure is not logged"
	alive "checkpoint $err"
done
rm -f "$DIR/openfault.flag"
cp_before=$(ls "$J"/checkpoint-* | wc -l)
for i in $(seq 1 8); do submit_one "$GOOD"; expect_exit 0; done
[ "$(ls "$J"/checkpoint-* | wc -l)" -gt "$cp_before" ] ||
    fail "no checkpoint written after the checkpoint fault cleared"
echo "checkpoint $(rel_pick ENOSPC ENOSPC/EIO): requests accepted while checkpoints failed; signing resumed after"

# --- 3. full: the other write/sync pairings, and a start on a failing disk -----
if [ "$REL_SCALE" = full ]; then
	for f in "write EIO:Input/output error:pwritev" "sync ENOSPC:No space left on device:fdatasync"; do
		mode=${f%%:*}; rest=${f#*:}; text=${rest%%:*}; call=${rest#*:}
		echo "$mode" >"$DIR/fault.flag"
		until_503 "$text" 10
		submit_one "$GOOD"
		expect_output_contains "journal write failed: $text"
		grep -q "^$call fd [0-9]*: $text" "$DIR/fault.log" ||
		    fail "$mode: the shim never failed $call"
		alive "$mode"
		check_acked_present "$mode"
		rm -f "$DIR/fault.flag"
		until_accepted "$mode"
	done
	# The disk is full when the daemon starts: it must not lose anything,
	# must say why, and must serve once the disk recovers.
	"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
	echo "write ENOSPC" >"$DIR/fault.flag"
	if rel_start WARRANTD="$DIR/warrantd-faulty"; then
		submit_one "$GOOD"
		expect_output_contains "HTTP 503"
		alive "start on a full disk"
		rm -f "$DIR/fault.flag"
		until_accepted "start on a full disk"
		echo "start on a full disk: started, answered 503, recovered"
	else
		grep -q -i -e 'space' "$DIR/warrantd.log" ||
		    fail "start on a full disk: refused without saying why: $(tail -n 5 "$DIR/warrantd.log")"
		rm -f "$DIR/fault.flag"
		rel_start WARRANTD="$DIR/warrantd-faulty" ||
		    fail "does not start after the disk recovered: $(cat "$DIR/start.err")"
		echo "start on a full disk: refused to start ($(grep -i space "$DIR/warrantd.log" | tail -n 1)); started once the disk recovered"
	fi
fi

# --- every acknowledged request kept, no 503 left a record -----------------
alive "the end"
check_acked_present "after the faults"
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
cp "$DIR/warrantd.log" "$DIR/warrantd.log.faults"
"$AUDIT" show --journal "$J" --json >"$DIR/show.json" || fail "warrant-audit show failed"
n_req=$(($(grep -c '"event":"EVENT_REQUEST_' "$DIR/show.json") - n_req_fill))
[ "$n_req" = "$n_answers" ] ||
    fail "the journal holds $n_req request records, the client got $n_answers answers other than 503"
[ "$(tr ' ' '\n' <<<"$acked" | grep . | sort | uniq -d)" = "" ] || fail "a reference was given twice"
"$AUDIT" verify --journal "$J" --pubkey "$DIR/journal.pub" >"$DIR/verify.out" 2>&1 ||
    fail "warrant-audit verify after the faults: $(cat "$DIR/verify.out")"
echo "$n_answers answers journaled, $n_503 answered 503 (none journaled); $n_seg_faults segment creations refused"
# jgen's filler acceptances all name one task, which the store cannot give
# an outcome to: the lifecycle calls it once a round, not in a loop (it
# once journaled thousands of outcomes for it in seconds).
n_fill=$("$AUDIT" show --journal "$J" 2>/dev/null |
    grep -c 'EVENT_BACKEND_RESULT ref=MXC-FILL-')
[ "$n_fill" -le 3 ] ||
    fail "$n_fill back-end outcomes for the filler's one task: calls in a loop"
cat "$DIR/verify.out"
rel_start || fail "warrantd does not start again: $(cat "$DIR/start.err")"
grep -q 'torn tail' "$DIR/warrantd.log" && fail "a fault left a torn tail: $(grep 'torn tail' "$DIR/warrantd.log")"
pass
