#!/usr/bin/env bash
# journal-faults.sh — the journal's failure promises, against the real
# daemon: when the disk refuses writes (ENOSPC) or syncs (EIO), a request
# is answered 503 "journal unavailable" and nothing is decided; the daemon
# keeps running and says why (log, sd_notify STATUS); every request
# acknowledged before the fault is still in the journal, and no request
# answered 503 left a record; once the disk recovers the journal's 5 s
# probe puts it back in service without a restart; the journal verifies.
#
# Faults are injected with tests/faultfs/faultinject.so (LD_PRELOAD) on the
# files of DIR/state/journal only, switched on and off at run time by the
# file DIR/fault.flag ("write ENOSPC" or "sync EIO"). Under ASan the ASan
# runtime is preloaded first, as it requires.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
AUDIT=${WARRANT_AUDIT:-$TOP_BUILDDIR/src/warrant-audit/warrant-audit}
[ -x "$AUDIT" ] || skip "$AUDIT not built"
case $(uname -s) in Linux) ;; *) skip "needs /proc/self/fd (Linux)" ;; esac

stack_up
stack_private_bins

J=$DIR/state/journal
FLAG=$DIR/fault.flag
REAL_WARRANTD=$WARRANTD
work=$DIR/samples
mkdir -p "$work"
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES"/subscriber-*.xml \
    "$SAMPLES"/interception.xml "$SAMPLES"/preservation.xml

# --- the shim -------------------------------------------------------------
shim=$TOP_BUILDDIR/tests/faultfs/faultinject.so
if [ ! -f "$shim" ]; then
	# Run by hand outside make check: build it here.
	shim=$DIR/faultinject.so
	"${CC:-cc}" -shared -fPIC -O2 -o "$shim" \
	    "$TOP_SRCDIR/tests/faultfs/faultinject.c" -ldl 2>"$DIR/cc.out" ||
	    skip "cannot build the fault shim: $(cat "$DIR/cc.out")"
fi
preload=$shim
# A dynamically linked ASan runtime must be the first object loaded, or
# ASan aborts; its interceptors then reach the shim through RTLD_NEXT.
asan=$(ldd "$REAL_WARRANTD" 2>/dev/null | awk '/libasan\.so/ { print $3; exit }')
[ -z "$asan" ] || preload="$asan $shim"

cat >"$DIR/warrantd-faulty" <<EOF
#!/bin/sh
FAULT_DIR='$J' FAULT_FLAG='$FLAG' FAULT_LOG='$DIR/fault.log' \
LD_PRELOAD='$preload' exec '$REAL_WARRANTD' "\$@"
EOF
chmod +x "$DIR/warrantd-faulty"

# sd_notify STATUS, when python3 can listen on the notify socket.
notify=
cleanup_notify() {
	[ -z "$notify" ] || kill "$notify" 2>/dev/null
	notify=
}
if command -v python3 >/dev/null &&
    python3 -c 'import socket; socket.AF_UNIX' 2>/dev/null; then
	python3 - "$DIR/notify.sock" "$DIR/notify.log" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as log:
    while True:
        log.write(s.recv(65536) + b"\n")
EOF
	notify=$!
	# stack_down reports a failure from $?: keep the test's status for it.
	trap 'st=$?; cleanup_notify; (exit $st); stack_down' EXIT
	for i in $(seq 1 50); do [ -S "$DIR/notify.sock" ] && break; sleep 0.1; done
	[ -S "$DIR/notify.sock" ] || fail "notify listener did not start"
fi

"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
env ${notify:+NOTIFY_SOCKET="$DIR/notify.sock"} WARRANTD="$DIR/warrantd-faulty" \
    "$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null 2>"$DIR/start.err" || {
	grep -q 'ASan runtime does not come first' "$DIR/warrantd.log" &&
	    skip "this ASan build refuses a preloaded library ($preload)"
	fail "warrantd does not start with the fault shim preloaded: $(cat "$DIR/start.err")"
}

acked=		# references the clients were given
n_answers=0	# answers that carry a journal record (200, 403, 400)

# Submit FILE as fgr; remember an acceptance.
submit_one() {
	submit_as fgr "$(fresh_copy "$1")"
	case $out in
	*"ACCEPTED (HTTP 200)"*)
		acked="$acked $(grep -o 'MXC-[0-9]*-[0-9]*' <<<"$out")"
		n_answers=$((n_answers + 1)) ;;
	*"(HTTP 4"*) n_answers=$((n_answers + 1)) ;;
	esac
}

journal_refs() {
	"$AUDIT" show --journal "$J" --json >"$DIR/show.json" ||
	    fail "warrant-audit show failed on the live journal"
	grep -o '"event":"EVENT_REQUEST_ACCEPTED","carrier_ref":"[^"]*"' \
	    "$DIR/show.json" | sed 's/.*"carrier_ref":"//; s/"$//' | sort
}

# Every reference a client was given is in the journal.
check_acked_present() {	# when
	local refs ref
	refs=$(journal_refs)
	for ref in $acked; do
		grep -qx "$ref" <<<"$refs" ||
		    fail "$1: $ref was acknowledged but is not in the journal"
	done
}

# One sample of each kind, acknowledged before any fault.
for f in "$work"/*.xml; do
	submit_one "$f"
	expect_exit 0
done
[ "$(wc -w <<<"$acked")" -ge 6 ] || fail "too few acceptances before the faults: $acked"

# A sanitizer report names the bug better than any symptom of it.
sanitizer_check() {	# when
	local i
	grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error:' -e 'ERROR: LeakSanitizer' \
	    "$DIR/warrantd.log" || return 0
	# The report is still being written until ASan aborts the daemon.
	for i in $(seq 1 100); do
		"$TOP_SRCDIR/tests/stack" status "$DIR" >/dev/null || break
		sleep 0.1
	done
	fail "$1: sanitizer report in warrantd.log:
$(grep -A30 -e 'ERROR: .*Sanitizer' -e 'runtime error:' "$DIR/warrantd.log" | grep -v '^20' | head -n 16)"
}

# fault MODE ERRNO TEXT SHIMCALL
fault_round() {
	local mode=$1 err=$2 text=$3 call=$4 t0 i ok
	local logstart

	logstart=$(wc -l <"$DIR/warrantd.log")
	echo "$mode $err" >"$FLAG"
	submit_one "$work/subscriber-msisdn.xml"
	expect_exit 2
	expect_output_contains "SERVER ERROR (HTTP 503)"
	expect_output_contains "journal unavailable"
	expect_output_contains "$text"
	# Now unhealthy: refused at once, still 503, still nothing decided.
	submit_one "$work/subscriber-imsi.xml"
	expect_exit 2
	expect_output_contains "SERVER ERROR (HTTP 503)"
	expect_output_contains "journal write failed: $text"
	sleep 0.2
	tail -n +"$((logstart + 1))" "$DIR/warrantd.log" >"$DIR/log.part"
	sanitizer_check "$mode $err"
	"$TOP_SRCDIR/tests/stack" status "$DIR" >/dev/null ||
	    fail "$mode $err: warrantd died"
	grep -q "journal: write failed at seq [0-9]*: $text" "$DIR/log.part" ||
	    fail "$mode $err: the log does not say why: $(cat "$DIR/log.part")"
	grep -q "^$call fd [0-9]*: $text" "$DIR/fault.log" ||
	    fail "$mode $err: the shim never failed $call: $(cat "$DIR/fault.log" 2>/dev/null)"
	check_acked_present "during $mode $err"
	if [ "$mode" = write ] && [ -n "$notify" ]; then
		# STATUS is refreshed every 10 s.
		for i in $(seq 1 120); do
			grep -q "journal: journal write failed: $text" \
			    "$DIR/notify.log" 2>/dev/null && break
			sleep 0.1
		done
		grep -q "journal: journal write failed: $text" "$DIR/notify.log" ||
		    fail "sd_notify STATUS does not say the journal failed: $(tail -n 3 "$DIR/notify.log")"
	fi

	rm -f "$FLAG"
	t0=$(date +%s%N)
	ok=0
	for i in $(seq 1 30); do
		submit_one "$work/subscriber-imei.xml"
		if [ "$rc" = 0 ]; then ok=1; break; fi
		case $out in
		*"HTTP 503"*) ;;
		*) fail "after the fault: unexpected answer: $out" ;;
		esac
		sleep 0.5
	done
	[ $ok = 1 ] || fail "$mode $err: still refusing 15 s after the disk recovered"
	echo "$mode $err: accepting again $((($(date +%s%N) - t0) / 1000000)) ms after the fault ended"
	grep -q "journal: disk writable again, accepting appends from seq" \
	    "$DIR/warrantd.log" || fail "$mode $err: recovery not logged"
}

fault_round write ENOSPC "No space left on device" pwritev
fault_round sync EIO "Input/output error" fdatasync

# Faults under concurrent load: 3 clients keep submitting while the disk
# fails and recovers; whatever they were told, the journal agrees.
load() {	# id
	local f r o
	: >"$DIR/load.$1"
	while [ ! -e "$DIR/load.stop" ]; do
		for f in "$work"/*.xml; do
			r=0
			f=$(fresh_copy "$f")
			o=$("$WARRANTCTL" --url "$WARRANT_URL" --cacert "$WARRANT_CACERT" \
			    --cert "$DIR/fgr.pem" --key "$DIR/fgr.key" --timeout 20 \
			    submit "$f" 2>&1) || r=$?
			case $o in
			*"ACCEPTED (HTTP 200)"*)
				grep -o 'MXC-[0-9]*-[0-9]*' <<<"$o" >>"$DIR/load.$1" ;;
			*"HTTP 503"*) echo 503 >>"$DIR/load.$1.503" ;;
			*) echo "$o" >>"$DIR/load.$1.other" ;;
			esac
		done
	done
}
rm -f "$DIR/load.stop"
pids=
for k in 1 2 3; do load $k & pids="$pids $!"; done
# After each fault, load goes on until acceptances resume (two more), at
# most 15 s: waiting for the recovery, not a fixed time.
accepted() { cat "$DIR"/load.[0-9] 2>/dev/null | wc -l; }
resumed() {
	local n0 i
	n0=$(accepted)
	for i in $(seq 1 150); do
		[ "$(accepted)" -ge $((n0 + 2)) ] && return 0
		sleep 0.1
	done
}
sleep 1
echo "write ENOSPC" >"$FLAG"; sleep 1.5; rm -f "$FLAG"; resumed
echo "sync EIO" >"$FLAG"; sleep 1.5; rm -f "$FLAG"; resumed
touch "$DIR/load.stop"
wait $pids
sanitizer_check "under load"
cat "$DIR"/load.[0-9].other 2>/dev/null | grep -q . &&
    fail "unexpected answers under load: $(cat "$DIR"/load.[0-9].other)"
n503=$(cat "$DIR"/load.[0-9].503 2>/dev/null | wc -l)
[ "$n503" -gt 0 ] || fail "no client saw a 503 while the disk failed under load"
for k in 1 2 3; do acked="$acked $(cat "$DIR/load.$k")"; done
n_load=$(cat "$DIR"/load.[0-9] | wc -l)
[ "$n_load" -gt 0 ] || fail "no acceptance under load"
echo "under load: $n_load accepted, $n503 answered 503"

# Accepted while the disk failed and recovered: accepted requests in the
# journal are exactly the acknowledged ones (a 503 leaves no record).
check_acked_present "after the faults"
n_acked=$(wc -w <<<"$acked")
n_journal=$(journal_refs | wc -l)
[ "$n_journal" = "$n_acked" ] ||
    fail "the journal holds $n_journal acceptances, clients were given $n_acked"
[ "$(tr ' ' '\n' <<<"$acked" | grep . | sort | uniq -d)" = "" ] ||
    fail "a reference was given twice"
# ... and a 503 left no record of any kind.
n_req=$(grep -c '"event":"EVENT_REQUEST_' "$DIR/show.json")
[ "$n_req" = "$((n_answers + n_load))" ] ||
    fail "the journal holds $n_req request records, clients got $((n_answers + n_load)) answers other than 503"

"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
"$AUDIT" verify --journal "$J" --pubkey "$DIR/journal.pub" >"$DIR/verify.out" 2>&1 ||
    fail "warrant-audit verify after the faults: $(cat "$DIR/verify.out")"
cat "$DIR/verify.out"
# The journal reopens cleanly: no damage, no torn tail left by the probes.
WARRANTD=$REAL_WARRANTD "$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null ||
    fail "warrantd does not start again after the faults"
grep -q "torn tail" "$DIR/warrantd.log" && fail "a fault left a torn tail: $(grep 'torn tail' "$DIR/warrantd.log")"
cleanup_notify
pass
