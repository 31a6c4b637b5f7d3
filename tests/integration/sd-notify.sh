#!/bin/bash
#
# sd-notify.sh — warrantd speaks the systemd notification protocol the way
# warrantd.service (Type=notify, WatchdogSec=) relies on:
#   - READY=1 only once the port accepts connections (checked with the
#     daemon frozen at the instant READY=1 arrives), and after the log's
#     "listening on";
#   - STATUS= lines;
#   - WATCHDOG=1 at least twice in 3 s with WATCHDOG_USEC=2 s, never more
#     than WATCHDOG_USEC apart;
#   - SIGHUP: RELOADING=1, then READY=1;
#   - SIGTERM: STOPPING=1, then exit status 0;
#   - every message from the daemon's own pid (NotifyAccess=main).
#
# The daemon is started by hand, not by tests/stack, because NOTIFY_SOCKET
# and WATCHDOG_USEC must be in its environment; tests/unit/notify_listen
# plays systemd's part. WATCHDOG_PID is left out (its pid is unknown before
# exec), which sd_watchdog_enabled() accepts.
#
srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$srcdir/tests/integration/lib.sh"

NOTIFY_LISTEN=${NOTIFY_LISTEN:-$TOP_BUILDDIR/tests/unit/notify_listen}

command -v openssl >/dev/null || skip "no openssl command (tests/pki/mkpki needs it)"
[ -x "$WARRANTD" ] || skip "$WARRANTD not built"
[ -x "$NOTIFY_LISTEN" ] || skip "$NOTIFY_LISTEN not built (make check builds it)"

T=
wdpid=
nlpid=

cleanup() {
	local status=$?

	[ -n "$wdpid" ] && kill -KILL "$wdpid" 2>/dev/null
	[ -n "$nlpid" ] && kill -TERM "$nlpid" 2>/dev/null
	wait 2>/dev/null
	[ -n "$T" ] || return 0
	if [ "$status" -ne 0 ]; then
		echo "--- notifications received:" >&2
		cat "$T/notify.out" >&2 2>/dev/null
		echo "--- last lines of warrantd.log:" >&2
		tail -n 30 "$T/warrantd.log" >&2 2>/dev/null
	fi
	if [ -n "${WD_KEEP:-}" ]; then
		echo "kept $T" >&2
	else
		rm -rf "$T"
	fi
}

T=$(mktemp -d "${TMPDIR:-/tmp}/wd-notify.XXXXXX") || fail "mktemp failed"
trap cleanup EXIT
trap 'exit 1' INT TERM
"$TOP_SRCDIR/tests/pki/mkpki" "$T" >"$T/mkpki.log" 2>&1 ||
    fail "tests/pki/mkpki failed: $(tail -n 5 "$T/mkpki.log")"
grep -q '^listen on 127.0.0.1 port [0-9]*$' "$T/warrantd.conf" ||
    fail "no listen line in $T/warrantd.conf"

port_accepts() {
	( exec 3<>"/dev/tcp/127.0.0.1/$port" ) 2>/dev/null
}

# A free port below the kernel's ephemeral range: mkpki's may lie inside it,
# where any outgoing connection of a test running alongside can take it.
new_port() {
	local low i

	low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	case $low in ''|*[!0-9]*) low=32768 ;; esac
	[ "$low" -gt 21000 ] || low=32768
	for i in $(seq 1 50); do
		port=$((20000 + RANDOM % (low - 20000)))
		port_accepts || break
	done
	sed -i -e "s/^listen on 127.0.0.1 port [0-9]*\$/listen on 127.0.0.1 port $port/" \
	    "$T/warrantd.conf"
}

# Line number of the first notification after line $2 that is exactly $1,
# waiting up to $3 seconds; fails the test if none comes.
wait_msg() {	# assignment after-line seconds
	local i n

	for i in $(seq 1 $(($3 * 10))); do
		n=$(awk -v a="$1" -v after="$2" \
		    'NR > after && $1 == "MSG" && NF == 4 && $4 == a \
		    { print NR; exit }' "$T/notify.out")
		if [ -n "$n" ]; then
			echo "$n"
			return 0
		fi
		if [ -n "$wdpid" ] && ! kill -0 "$wdpid" 2>/dev/null; then
			echo "warrantd exited while waiting for $1" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "no $1 after line $2 within $3 s" >&2
	return 1
}

lines() {
	wc -l <"$T/notify.out"
}

# --- start --------------------------------------------------------------------
"$NOTIFY_LISTEN" -r "$T/notify" 120 >"$T/notify.out" 2>"$T/notify.err" &
nlpid=$!
for i in $(seq 1 50); do
	[ -S "$T/notify" ] && break
	sleep 0.1
done
[ -S "$T/notify" ] || fail "notify_listen did not bind $T/notify: $(cat "$T/notify.err")"

# Up to three ports, should another process bind ours in between.
for attempt in 1 2 3; do
	new_port
	port_accepts && fail "127.0.0.1:$port accepts connections before warrantd runs"
	env -u WATCHDOG_PID NOTIFY_SOCKET="$T/notify" WATCHDOG_USEC=2000000 \
	    "$WARRANTD" -d -f "$T/warrantd.conf" </dev/null >"$T/warrantd.log" 2>&1 &
	wdpid=$!
	daemon_pid=$wdpid
	# --- READY=1, with the daemon frozen by notify_listen as it arrives ---
	ready=$(wait_msg READY=1 0 30) && break
	wait "$wdpid" 2>/dev/null
	wdpid=
	grep -q "cannot listen on .*Address already in use" "$T/warrantd.log" ||
	    fail "READY=1 never came"
	echo "127.0.0.1:$port was taken, trying another port" >&2
done
[ -n "$wdpid" ] || fail "no free port in three attempts"
for i in $(seq 1 50); do
	grep -q "^FROZEN " "$T/notify.out" && break
	sleep 0.1
done
grep -q "^FROZEN $wdpid\$" "$T/notify.out" ||
    fail "notify_listen did not freeze warrantd (pid $wdpid) at READY=1"
state=$(sed -e 's/^.*) //' "/proc/$wdpid/stat" | cut -d' ' -f1)
[ "$state" = T ] || fail "warrantd is not stopped at READY=1 (state $state)"
port_accepts || {
	kill -CONT "$wdpid"
	fail "READY=1 sent before 127.0.0.1:$port accepts connections"
}
grep -q "listening on 127\.0\.0\.1:$port\$" "$T/warrantd.log" || {
	kill -CONT "$wdpid"
	fail "READY=1 sent before the log says \"listening on\""
}
kill -CONT "$wdpid" || fail "cannot resume warrantd"

# --- STATUS= and WATCHDOG=1 ---------------------------------------------------
grep -q "^MSG [0-9]* $wdpid STATUS=.\+" "$T/notify.out" || {
	sleep 1
	grep -q "^MSG [0-9]* $wdpid STATUS=.\+" "$T/notify.out" ||
	    fail "no STATUS= line"
}
# Two pings are due within 3 s of READY=1: wait for them, no longer.
for _ in $(seq 1 30); do
	n=$(awk -v after="$ready" 'NR > after && $4 == "WATCHDOG=1"' "$T/notify.out" | wc -l)
	[ "$n" -ge 2 ] && break
	sleep 0.1
done
[ "$n" -ge 2 ] || fail "$n WATCHDOG=1 in the 3 s after READY=1, expected at least 2"
# Never as far apart as WATCHDOG_USEC: systemd would kill the service.
gap=$(awk '$4 == "WATCHDOG=1" { if (last != "" && $2 - last > max) max = $2 - last;
    last = $2 } END { print max + 0 }' "$T/notify.out")
[ "$gap" -lt 2000 ] || fail "WATCHDOG=1 came $gap ms apart (WATCHDOG_USEC is 2000 ms)"

# --- SIGHUP: RELOADING=1 then READY=1 ------------------------------------------
before=$(lines)
kill -HUP "$wdpid" || fail "cannot signal warrantd"
reloading=$(wait_msg RELOADING=1 "$before" 20) || fail "no RELOADING=1 after SIGHUP"
wait_msg READY=1 "$reloading" 20 >/dev/null || fail "no READY=1 after RELOADING=1"
grep -q "reload failed" "$T/warrantd.log" && fail "reload of an unchanged configuration failed"
port_accepts || fail "127.0.0.1:$port does not accept connections after the reload"

# --- SIGTERM: STOPPING=1, then exit 0 -----------------------------------------
before=$(lines)
kill -TERM "$wdpid" || fail "cannot signal warrantd"
stopping=$(wait_msg STOPPING=1 "$before" 20) || fail "no STOPPING=1 after SIGTERM"
rc=
for i in $(seq 1 300); do
	if ! kill -0 "$wdpid" 2>/dev/null; then
		wait "$wdpid"
		rc=$?
		break
	fi
	sleep 0.1
done
[ -n "$rc" ] || fail "warrantd still runs 30 s after SIGTERM"
wdpid=
[ "$rc" -eq 0 ] || fail "warrantd exited $rc after SIGTERM, expected 0"
awk -v after="$stopping" 'NR > after && $4 == "READY=1" { exit 1 }' "$T/notify.out" ||
    fail "READY=1 after STOPPING=1"

# --- sender and sanitizers -----------------------------------------------------
others=$(awk -v pid="$daemon_pid" '$1 == "MSG" && $3 != pid' "$T/notify.out" | head -n 3)
[ -z "$others" ] || fail "notifications not from the daemon's main pid: $others"
if grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error:' \
    -e 'ERROR: LeakSanitizer' "$T/warrantd.log"; then
	fail "sanitizer report in warrantd.log"
fi
pass
