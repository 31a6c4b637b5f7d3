#!/usr/bin/env bash
# soak.sh [--hours H | --minutes M] [--csv FILE] — warrantd under mixed
# load for a long time, and nothing grows without bound.
#
# Load, all at once: two authorities' clients submitting valid requests,
# one whose certificates are refused (unregistered, suspended), the XML
# attack corpus in a loop, idle connections held and dropped in waves
# (bare TCP and silent TLS, alternately), a slowloris trickler now and
# then, a SIGHUP reload every RELOAD seconds, and a few disk-fault windows
# (the journal's disk refuses writes for 3 s: ENOSPC, then EIO on sync;
# tests/faultfs/faultinject.so).
#
# Every PERIOD (60 s; 10 s for runs under 20 minutes; 2 s in short mode) a
# line goes to the CSV (default build/reliability/soak.csv in the build
# tree): elapsed seconds, RSS, VmHWM, descriptors, and the cumulative
# counts of answers by kind and of client errors. At the end:
#   - RSS at the end <= 1.2 x RSS at the reference point, the later of 10 %
#     of the run and min(60 s, 40 %) (warm-up: TLS and XML caches, arenas),
#     each the highest sample over a tenth of the run (same load mix);
#   - descriptors back to the baseline once the load stops;
#   - no client error other than 503 inside a fault window (a 503 names
#     the journal); every valid request outside the windows accepted;
#   - every reference a client was given is in the journal, which verifies.
#
# A warrantd without sanitizers runs (rel_plain): ASan's quarantine alone
# grows to 256 MiB, which would hide a leak and fail the RSS bound.
# Default length: --hours 1 in full mode, 15 s in short mode (make check).
srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$srcdir/tests/reliability/lib.sh"
case $(uname -s) in Linux) ;; *) skip "needs /proc (Linux)" ;; esac

secs=$(rel_pick 15 3600)
csv=
while [ $# -gt 0 ]; do
	case $1 in
	--hours) secs=$(awk -v h="$2" 'BEGIN { printf "%d", h * 3600 }'); shift ;;
	--minutes) secs=$(awk -v m="$2" 'BEGIN { printf "%d", m * 60 }'); shift ;;
	--csv) csv=$2; shift ;;
	*) fail "usage: soak.sh [--hours H | --minutes M] [--csv FILE]" ;;
	esac
	shift
done
[ "$secs" -ge 10 ] 2>/dev/null || fail "a soak lasts at least 10 s"
if [ "$REL_SCALE" = short ] && [ "$secs" -le 60 ]; then
	period=2
elif [ "$secs" -lt 1200 ]; then
	period=10
else
	period=60
fi
period=${WD_REL_SOAK_PERIOD:-$period}
reload=$(( secs <= 60 ? 5 : 30 ))
csv=${csv:-${WD_REL_SOAK_CSV:-$REL_BUILD/soak.csv}}
mkdir -p "$(dirname "$csv")" || fail "cannot create the directory of $csv"
[ -x "$SLOWLORIS" ] || skip "$SLOWLORIS not built"

rel_plain || skip "no warrantd without sanitizers: $REL_WHY"
WARRANTD=$PLAIN_WARRANTD
WARRANTCTL=$PLAIN_WARRANTCTL
AUDIT=$PLAIN_AUDIT
rel_snapshot
rel_stack_up
rel_samples
J=$DIR/state/journal
fi_so=$(rel_shim tests/faultfs/faultinject.so tests/faultfs/faultinject.c) ||
    skip "cannot build faultinject.so: $(cat "$REL_TMP/cc.out")"
cat >"$DIR/warrantd-soak" <<EOF
#!/bin/sh
FAULT_DIR='$J' FAULT_FLAG='$DIR/fault.flag' FAULT_LOG='$DIR/fault.log' \
LD_PRELOAD='$fi_so' exec '$WARRANTD' "\$@"
EOF
chmod +x "$DIR/warrantd-soak"
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
deadline=$(( secs <= 60 ? 2 : 10 ))
rel_conf request-timeout "${deadline}s"
rel_conf idle-timeout "${deadline}s"
rel_conf limits connections 500
rel_start WARRANTD="$DIR/warrantd-soak" ||
    fail "warrantd does not start with the fault shim: $(cat "$DIR/start.err")"
PID=$(rel_pid)
for i in 1 2 3; do submit_new fgr "$GOOD"; expect_exit 0; done
sleep 0.5
fd_base=$(rel_fds)

# Fault windows: at a quarter, half and three quarters of the run (short:
# one, at half), 3 s each. Their times go to DIR/windows ("from to" ms).
if [ "$REL_SCALE" = short ] && [ "$secs" -le 60 ]; then
	fault_at="$((secs / 2))"
else
	fault_at="$((secs / 4)) $((secs / 2)) $((3 * secs / 4))"
fi
: >"$DIR/windows"

# --- the load --------------------------------------------------------------------
files=("$DIR"/samples/*.xml)
rel_client 1 30 "${files[@]:0:3}" &
REL_PIDS="$REL_PIDS $!"
rel_client 2 30 "${files[@]:3:3}" &
REL_PIDS="$REL_PIDS $!"

refuser() {	# who submits with certificates the registry refuses
	local who o stamped=0
	: >"$DIR/refused.log"
	mkdir -p "$DIR/refuser"
	while [ ! -e "$DIR/stop.all" ]; do
		if [ "$(date +%s)" -ge $((stamped + 60)) ]; then
			"$TOP_SRCDIR/tests/restamp" -o "$DIR/refuser" "$GOOD"
			stamped=$(date +%s)
		fi
		for who in unregistered suspended; do
			o=$("$WARRANTCTL" --url "$WARRANT_URL" --cacert "$WARRANT_CACERT" \
			    --cert "$DIR/$who.pem" --key "$DIR/$who.key" --timeout 30 \
			    submit "$DIR/refuser/${GOOD##*/}" 2>&1)
			case $o in
			*"REFUSED (HTTP 403)"*) echo "$(date +%s%3N) refused" ;;
			*"HTTP 503"*) echo "$(date +%s%3N) 503" ;;
			*) echo "$(date +%s%3N) error $(head -n 1 <<<"$o")" ;;
			esac >>"$DIR/refused.log"
		done
		sleep 0.2
	done
}
refuser &
REL_PIDS="$REL_PIDS $!"

attacks=("$TOP_SRCDIR"/tests/xml-attacks/*.xml)
attacker() {
	local o
	: >"$DIR/attacks.log"
	while [ ! -e "$DIR/stop.all" ]; do
		o=$("$WARRANTCTL" --url "$WARRANT_URL" --cacert "$WARRANT_CACERT" \
		    --cert "$DIR/fgecdmx.pem" --key "$DIR/fgecdmx.key" --timeout 30 \
		    submit "${attacks[@]}" 2>&1)
		echo "$(date +%s%3N) $(grep -c 'REFUSED (HTTP 4' <<<"$o") $(grep -c 'HTTP 503' <<<"$o") $(grep -c '^warrantctl:' <<<"$o")" >>"$DIR/attacks.log"
		sleep 0.5
	done
}
attacker &
REL_PIDS="$REL_PIDS $!"

idler() {	# waves of held connections, and a trickler now and then
	local k=0
	: >"$DIR/idle.log"
	while [ ! -e "$DIR/stop.all" ]; do
		k=$((k + 1))
		# From addresses of their own (127.0.7.x): 100 at once from
		# the valid clients' address would be shed by
		# unauthenticated-per-source, and 100 of fgr's by
		# connections-per-official (the hostile test's business).
		if [ $((k % 2)) = 0 ]; then
			"$SLOWLORIS" --connect "$HOSTPORT" --idle 100 --tcp-only \
			    --from 127.0.7.1 --sources 10 \
			    --hold $((deadline * 2 + 2)) >>"$DIR/idle.log" 2>&1
		else
			"$SLOWLORIS" --connect "$HOSTPORT" --cacert "$WARRANT_CACERT" \
			    --cert "$DIR/auditor.pem" --key "$DIR/auditor.key" --idle 100 \
			    --from 127.0.7.1 --sources 10 \
			    --hold $((deadline * 2 + 2)) >>"$DIR/idle.log" 2>&1
		fi
		[ $((k % 3)) = 0 ] && "$SLOWLORIS" --connect "$HOSTPORT" \
		    --cacert "$WARRANT_CACERT" --cert "$DIR/fgr.pem" --key "$DIR/fgr.key" \
		    --body "$GOOD" --trickle 5 --interval 500 \
		    --max-time $((deadline + 5)) >>"$DIR/idle.log" 2>&1
		sleep 1
	done
}
idler &
REL_PIDS="$REL_PIDS $!"

# --- the clock: samples, reloads, fault windows ---------------------------------------
count() {	# what: cumulative answers of that kind so far
	case $1 in
	accepted) cat "$DIR"/lat.[12] | grep -c ' ok$' ;;
	503) { cat "$DIR"/lat.[12] | grep -c ' 503$'; grep -c ' 503$' "$DIR/refused.log"; } |
	    awk '{ s += $1 } END { print s + 0 }' ;;
	refused) grep -c ' refused$' "$DIR/refused.log" ;;
	errors) { cat "$DIR"/lat.[12] | grep -c -e ' error$' -e ' refused$'; grep -c ' error ' "$DIR/refused.log"; } |
	    awk '{ s += $1 } END { print s + 0 }' ;;
	attacks) awk '{ s += $2 } END { print s + 0 }' "$DIR/attacks.log" ;;
	esac
}
echo "elapsed_s,rss_kib,hwm_kib,fds,accepted,refused,attack_refusals,http_503,client_errors,reloads,fault_windows,journal_bytes" >"$csv"
sample() {	# elapsed
	echo "$1,$(rel_rss),$(rel_hwm),$(rel_fds),$(count accepted),$(count refused),$(count attacks),$(count 503),$(count errors),$n_reload,$n_windows,$(du -sb "$J" | cut -f1)" >>"$csv"
}
rel_note "$secs s, a sample every $period s to $csv, reload every $reload s, fault windows at $fault_at s"
t0=$(date +%s)
n_reload=0
n_windows=0
next_sample=0
next_reload=$reload
while :; do
	el=$(($(date +%s) - t0))
	[ "$el" -lt "$secs" ] || break
	kill -0 "$PID" 2>/dev/null || fail "warrantd died after $el s: $(tail -n 5 "$DIR/warrantd.log")"
	if [ "$el" -ge "$next_sample" ]; then
		sample "$el"
		next_sample=$((next_sample + period))
	fi
	if [ "$el" -ge "$next_reload" ]; then
		kill -HUP "$PID"
		n_reload=$((n_reload + 1))
		next_reload=$((next_reload + reload))
	fi
	for at in $fault_at; do
		if [ "$el" -ge "$at" ] && ! grep -q "^$at " "$DIR/windows"; then
			[ $((n_windows % 2)) = 0 ] && echo "write ENOSPC" >"$DIR/fault.flag" ||
			    echo "sync EIO" >"$DIR/fault.flag"
			w0=$(date +%s%3N)
			sleep 3
			rm -f "$DIR/fault.flag"
			# The journal probes every 5 s: answers may say 503 until then.
			echo "$at $w0 $(($(date +%s%3N) + 6000))" >>"$DIR/windows"
			n_windows=$((n_windows + 1))
		fi
	done
	sleep 0.5
done
sample "$secs"
touch "$DIR/stop.all"
for p in $REL_PIDS; do wait "$p" 2>/dev/null; done
REL_PIDS=
t_load_end=$(date +%s%3N)

# --- verdicts -------------------------------------------------------------------------
echo "soak: $secs s, $(count accepted) accepted, $(count refused) refused (403), $(count attacks) attack documents refused, $(count 503) answered 503, $(count errors) client errors, $n_reload reloads, $n_windows fault windows"
column -t -s, "$csv" | sed 's/^/  /'
rel_sanitizer_check "soak"
kill -0 "$PID" 2>/dev/null || fail "warrantd died"

# Outside fault windows: no 503; nowhere: a client error.
in_window() {	# ms
	awk -v t="$1" '$2 <= t && t <= $3 { f = 1 } END { exit !f }' "$DIR/windows"
}
for f in "$DIR"/lat.1 "$DIR"/lat.2; do
	while read -r t _ what; do
		case $what in
		503) in_window "$t" || fail "a 503 outside the fault windows at $t ms ($(cat "$DIR/windows"))" ;;
		error|refused) fail "a valid client's request was not accepted: $(head -n 5 "$DIR"/errors.*)" ;;
		esac
	done <"$f"
done
grep ' error ' "$DIR/refused.log" | head -n 3 | grep -q . &&
    fail "the refused client got something else than 403 or 503: $(grep ' error ' "$DIR/refused.log" | head -n 3)"
awk '$4 > 0 { f = 1 } END { exit !f }' "$DIR/attacks.log" &&
    fail "the attacker's client failed: $(awk '$4 > 0' "$DIR/attacks.log" | head -n 3)"
[ "$(count accepted)" -gt 0 ] || fail "nothing was accepted"
[ "$n_windows" -gt 0 ] && [ "$(count 503)" = 0 ] && rel_note "no client hit a fault window (they are short)"

# RSS: end <= 1.2 x reference. Each side is the highest sample of a window
# as long as a tenth of the run (at least 3 samples), so that both see the
# same mix of load (an idle wave holds 100 connections, ~5 MiB): the one
# starting at the reference point, and the last one.
ref_t=$(awk -v s="$secs" 'BEGIN { a = s * 0.1; b = s * 0.4; if (b > 60) b = 60; printf "%d", (a > b ? a : b) }')
win=$(awk -v s="$secs" -v p="$period" 'BEGIN { w = s * 0.1; if (w < 3 * p) w = 3 * p; printf "%d", w }')
rss_ref=$(awk -F, -v a="$ref_t" -v w="$win" 'NR > 1 && $1 >= a && $1 < a + w && $2 > m { m = $2 } END { print m + 0 }' "$csv")
rss_end=$(awk -F, -v a="$((secs - win))" 'NR > 1 && $1 > a && $2 > m { m = $2 } END { print m + 0 }' "$csv")
rss_max=$(awk -F, 'NR > 1 && $2 > m { m = $2 } END { print m }' "$csv")
echo "RSS: $((rss_ref / 1024)) MiB from $ref_t s (reference, highest over $win s), $((rss_end / 1024)) MiB over the last $win s, $((rss_max / 1024)) MiB at most"
[ "$rss_ref" -gt 0 ] || fail "no RSS sample in the reference window"
[ "$rss_end" -le $((rss_ref * 12 / 10)) ] ||
    fail "RSS grew from $rss_ref KiB (from $ref_t s) to $rss_end KiB at the end (bound 1.2x)"

# Descriptors back to the baseline once the held connections time out.
for i in $(seq 1 $((deadline * 10 + 50))); do
	[ "$(rel_fds)" -le $((fd_base + 2)) ] && break
	sleep 0.2
done
fd_end=$(rel_fds)
fd_max=$(awk -F, 'NR > 1 && $4 > m { m = $4 } END { print m }' "$csv")
echo "descriptors: $fd_base at rest, $fd_max at most, $fd_end after the load"
[ "$fd_end" -le $((fd_base + 2)) ] || fail "descriptors not back to the baseline: $fd_end, $fd_base before"

# Every acceptance kept, and the journal verifies.
cat "$DIR"/given.[12] | sort >"$DIR/given"
rel_journal_refs "$J" >"$DIR/journal.refs"
missing=$(comm -23 "$DIR/given" "$DIR/journal.refs")
[ -z "$missing" ] || fail "acknowledged but not in the journal: $(head -n 5 <<<"$missing")"
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
"$AUDIT" verify --journal "$J" --pubkey "$DIR/journal.pub" >"$DIR/verify.out" 2>&1 ||
    fail "verify: $(cat "$DIR/verify.out")"
cat "$DIR/verify.out"
rel_start || fail "warrantd does not start again: $(cat "$DIR/start.err")"
pass
