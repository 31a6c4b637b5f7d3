#!/usr/bin/env bash
# hostile.sh — hostile clients, one attack after another, while a valid
# client keeps submitting; after each attack the daemon is alive, said
# nothing to the sanitizers, and the valid client was served *during* it
# (every one of its requests answered, none failed; latencies reported).
#
#  trickle    slowloris with a valid client certificate: a well-formed
#             request one byte per second on each of N connections; each
#             must be answered 408 at the request deadline counted from its
#             first byte (more bytes never extend it), and closed.
#  strangers  the attack of issue 14 §1: thousands of connections that
#             never start TLS, from many addresses, each opened again a
#             second after the daemon sheds it, and beside them handshake
#             floods (no certificate, and an untrusted one). The daemon
#             holds at most `unauthenticated` of them (its descriptors are
#             counted), never pauses its listener, and serves the valid
#             client meanwhile; its latency (the goal: p99 under 1 s) and
#             the daemon's RSS are measured.
#  idle       one official holding far more idle TLS connections than
#             connections-per-official: the rest are answered 503 at once;
#             those held are dropped at the idle deadline.
#  handshake  floods of full handshakes with no client certificate and
#             with a certificate from a CA the daemon does not trust: all
#             refused; how much journal each refusal costs is measured.
#  oversize   a 10 MiB body (413), a 9 KiB header (431), 100 header fields
#             (431), a Content-Length of 10 GB with no body (413), in
#             concurrent loops.
#  xml        the attack corpus tests/xml-attacks/*.xml in concurrent
#             loops, each answered with its code from the corpus README.
#
# At the end: peak RSS (VmHWM) and descriptors back to their baseline.
# Scale: short (make check) or full (WD_REL_SCALE=full); WD_REL_PLAIN=1
# runs a warrantd without sanitizers (RSS figures of a production build).
srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$srcdir/tests/reliability/lib.sh"
case $(uname -s) in Linux) ;; *) skip "needs /proc (Linux)" ;; esac
[ -x "$SLOWLORIS" ] || skip "$SLOWLORIS not built"
command -v curl >/dev/null || skip "no curl"
if [ -n "${WD_REL_PLAIN:-}" ]; then
	rel_plain || skip "no warrantd without sanitizers: $REL_WHY"
	WARRANTD=$PLAIN_WARRANTD
	WARRANTCTL=$PLAIN_WARRANTCTL
	AUDIT=$PLAIN_AUDIT
fi
rel_snapshot

# Scale.
DEADLINE=$(rel_pick 2 5)		# request-timeout and idle-timeout, s
TRICKLERS=$(rel_pick 8 50)
LIMIT=$(rel_pick 100 1000)		# limits { connections }
PER_OFFICIAL=$(rel_pick 20 64)		# limits { connections-per-official }: above the tricklers (50) and the valid client
IDLE=$(rel_pick 100 200)		# idle TLS connections of one official (under unauthenticated: they open at once)
HOLD=$((DEADLINE + 8))	# past the idle deadline and a 503's 5-s linger
STRANGERS=${WD_REL_STRANGERS:-$(rel_pick 400 5000)}	# never start TLS
SOURCES=$(rel_pick 20 40)		# addresses they come from
STRANGE_S=$(rel_pick 10 60)		# how long they press
STRANGE_C=$(rel_pick 5 25)		# handshakes of each flood at a time
UNAUTH=256				# limits { unauthenticated } (the default)
# The goal of issue 14 §1 (full scale, without sanitizers): reported, not
# asserted, as latencies on a shared machine are the machine's; the RSS
# bound is asserted.
GOAL_P99_MS=1000
RSS_MAX_MIB=${WD_REL_RSS_MAX_MIB:-96}
FLOOD=$(rel_pick 200 3000)		# handshakes per flood
ATTACK_S=$(rel_pick 3 30)		# oversize and xml loops, s
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -ge $((STRANGERS + 64)) ] ||
    skip "ulimit -Hn $hard is too low for $STRANGERS connections"
ulimit -n "$hard" 2>/dev/null || true

rel_stack_up
rel_samples
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
rel_conf limits connections "$LIMIT"
rel_conf request-timeout "${DEADLINE}s"
rel_conf idle-timeout "${DEADLINE}s"
# handshake-timeout 15s: on a machine loaded past its cores (load average
# 40 on 2 seen here) the valid client's own handshake can take longer than
# the default 5 s, and this test is about budgets, not that deadline
# (edge-strangers.sh tests it).
sed -i "s/^\tidle-timeout ${DEADLINE}s\$/&\n\tconnections-per-official $PER_OFFICIAL\n\tunauthenticated $UNAUTH\n\thandshake-timeout 15s/" \
    "$DIR/warrantd.conf"
grep -q "connections-per-official $PER_OFFICIAL" "$DIR/warrantd.conf" ||
    fail "cannot set connections-per-official"
rel_start || fail "restart failed: $(cat "$DIR/start.err")"
PID=$(rel_pid)
J=$DIR/state/journal
build=$(rel_sanitized "$WARRANTD" && echo "ASan+UBSan" || echo "no sanitizers")

# Baseline after a few requests (lazy allocations done).
for i in 1 2 3; do submit_new fgr "$GOOD"; expect_exit 0; done
sleep 0.5
fd_base=$(rel_fds)
rss_base=$(rel_rss)

# RSS and descriptors every 0.5 s, for the whole test.
( while kill -0 "$PID" 2>/dev/null; do
	echo "$(date +%s%3N) $(rel_rss) $(rel_fds)"
	sleep 0.5
done ) >"$DIR/samples.log" 2>/dev/null &
REL_PIDS="$REL_PIDS $!"

# The valid client, all along (a long timeout: during the connection flood
# it must wait, not give up).
rel_client 1 60 "$GOOD" &
REL_PIDS="$REL_PIDS $!"
client_pid=$!

sl() { "$SLOWLORIS" --connect "$HOSTPORT" --cacert "$WARRANT_CACERT" "$@"; }
now_ms() { date +%s%3N; }

# The valid client was served during [from, to] (plus a grace period for
# requests that were waiting when the attack ended), and never failed.
phase_report() {	# name from_ms to_ms
	local s n ok err
	sleep 0.5
	s=$(rel_lat_summary 1 "$2" "$(($3 + 1000))")
	ok=$(rel_kv "$s" ok)
	err=$(rel_kv "$s" error)
	echo "$1: valid client during the attack: $s (ms)"
	echo "$1 $s" >>"$DIR/phases"
	[ "$ok" -ge 1 ] || fail "$1: the valid client was not served during the attack: $s"
	[ "$err" = 0 ] || fail "$1: the valid client failed during the attack: $(tail -n 5 "$DIR/errors.1")"
	[ "$(rel_kv "$s" refused)" = 0 ] ||
	    fail "$1: the valid client was refused during the attack: $(tail -n 5 "$DIR/errors.1")"
	rel_sanitizer_check "$1"
	kill -0 "$PID" 2>/dev/null || fail "$1: warrantd died"
}

# --- trickle --------------------------------------------------------------
t0=$(now_ms)
# (From 10 addresses: 50 handshakes at once from one would meet
# unauthenticated-per-source, which is the strangers' phase's business.)
r=$(sl --cert "$DIR/fgr.pem" --key "$DIR/fgr.key" --body "$GOOD" \
    --trickle "$TRICKLERS" --interval 1000 --max-time $((DEADLINE + 15)) \
    --from 127.0.8.1 --sources 10)
t1=$(now_ms)
echo "trickle: $r"
[ "$(rel_kv "$r" handshakes)" = "$TRICKLERS" ] || fail "trickle: not every handshake succeeded: $r"
[ "$(rel_kv "$r" closed_by_server)" = "$TRICKLERS" ] ||
    fail "trickle: not every slow sender was dropped: $r"
# Each is answered 408, then closed after at most 1 s of lingering.
[ "$(rel_kv "$r" answered)" = "$TRICKLERS" ] || fail "trickle: not every trickled request got its 408: $r"
awk -v lo="$(rel_kv "$r" drop_min)" -v hi="$(rel_kv "$r" drop_max)" -v d="$DEADLINE" \
    'BEGIN { exit !(lo >= d - 0.5 && hi <= d + 2.5) }' ||
    fail "trickle: dropped between $(rel_kv "$r" drop_min) and $(rel_kv "$r" drop_max) s after the first byte, deadline $DEADLINE s"
phase_report trickle "$t0" "$t1"

# --- strangers: the attack of issue 14 §1 --------------------------------------
# Strangers that never start TLS, from SOURCES addresses of 127/8, each
# opened again a second after the daemon sheds it; beside them, floods of
# handshakes without a certificate and with an untrusted one (each from 10
# addresses). Defaults for unauthenticated-per-source and handshake-timeout.
logl=$(wc -l <"$DIR/warrantd.log")
t0=$(now_ms)
sl --idle "$STRANGERS" --tcp-only --from 127.0.1.1 --sources "$SOURCES" \
    --reconnect 1000 --hold "$STRANGE_S" >"$DIR/strangers.out" &
p1=$!
sl --from 127.0.2.1 --sources 10 --handshakes 10000000 --concurrency "$STRANGE_C" \
    --max-time "$STRANGE_S" >"$DIR/strangers.nocert" &
p2=$!
sl --cert "$DIR/rogue.pem" --key "$DIR/rogue.key" --from 127.0.3.1 --sources 10 \
    --handshakes 10000000 --concurrency "$STRANGE_C" --max-time "$STRANGE_S" \
    >"$DIR/strangers.rogue" &
p3=$!
fd_peak=0
rss_peak=0
while kill -0 "$p1" 2>/dev/null; do
	n=$(rel_fds); [ "$n" -gt "$fd_peak" ] && fd_peak=$n
	n=$(rel_rss); [ "${n:-0}" -gt "$rss_peak" ] && rss_peak=$n
	sleep 0.2
done
wait "$p1" "$p2" "$p3"
t1=$(now_ms)
r=$(cat "$DIR/strangers.out")
echo "strangers: $r"
echo "strangers: handshakes without a certificate: $(cat "$DIR/strangers.nocert")"
echo "strangers: handshakes with an untrusted certificate: $(cat "$DIR/strangers.rogue")"
[ "$(rel_kv "$r" reopened)" -ge 1 ] || fail "strangers: none was shed and came back: $r"
for f in nocert rogue; do
	[ "$(rel_kv "$(cat "$DIR/strangers.$f")" ok)" = 0 ] ||
	    fail "strangers: an unauthenticated client was served: $(cat "$DIR/strangers.$f")"
done
held=$((fd_peak - fd_base))
echo "strangers: $STRANGERS pressing from $SOURCES addresses and 2 floods: the daemon held at most $held descriptors more than at rest (unauthenticated $UNAUTH)"
# Strangers, one accept batch being closed (64), and the valid client's.
[ "$held" -le $((UNAUTH + 64 + 8)) ] || fail "strangers: the daemon held $held connections"
tail -n +"$((logl + 1))" "$DIR/warrantd.log" >"$DIR/log.strangers"
! grep -q 'connection limit' "$DIR/log.strangers" || fail "strangers: the listener paused"
worst=$(grep -e ': not authenticated after' -e ': TLS handshake' -e ': client certificate refused' \
    "$DIR/log.strangers" | cut -c1-19 | sort | uniq -c | sort -rn | awk 'NR == 1 { print $1 }')
echo "strangers: log lines about them: at most ${worst:-0} a second, $(wc -l <"$DIR/log.strangers") lines in all"
# 10 a second; a line let through at the end of a second may be stamped
# in the next, so twice that at most.
[ "${worst:-0}" -le 20 ] || fail "strangers: $worst lines about strangers in one second"
phase_report strangers "$t0" "$t1"
s=$(rel_lat_summary 1 "$t0" "$((t1 + 1000))")
echo "strangers: RSS peak $((rss_peak / 1024)) MiB ($build)"
if [ "$REL_SCALE" = full ] && ! rel_sanitized "$WARRANTD"; then
	[ "$rss_peak" -le $((RSS_MAX_MIB * 1024)) ] ||
	    fail "strangers: RSS reached $((rss_peak / 1024)) MiB (bound $RSS_MAX_MIB)"
	if [ "$(rel_kv "$s" p99)" -lt "$GOAL_P99_MS" ]; then
		echo "strangers: goal met: p99 $(rel_kv "$s" p99) ms < $GOAL_P99_MS ms"
	else
		echo "strangers: goal NOT met: p99 $(rel_kv "$s" p99) ms (goal under $GOAL_P99_MS ms; load average $(cut -d' ' -f1-3 /proc/loadavg))"
	fi
	echo "strangers: RSS $((rss_peak / 1024)) MiB <= $RSS_MAX_MIB MiB"
fi
for i in $(seq 1 100); do [ "$(rel_fds)" -le $((fd_base + 2)) ] && break; sleep 0.2; done
[ "$(rel_fds)" -le $((fd_base + 2)) ] || fail "strangers: $(rel_fds) descriptors 20 s after, $fd_base before"

# --- idle: one official holding more than connections-per-official ------------------
logl=$(wc -l <"$DIR/warrantd.log")
t0=$(now_ms)
# (From 100 addresses: this is about connections-per-official, not per
# source; fgecdmx's, so that the valid client, fgr, keeps its own budget.)
sl --cert "$DIR/fgecdmx.pem" --key "$DIR/fgecdmx.key" --idle "$IDLE" --hold "$HOLD" \
    --from 127.0.4.1 --sources 100 >"$DIR/idle.tls"
t1=$(now_ms)
r=$(cat "$DIR/idle.tls")
echo "idle (TLS, silent, one official): $r"
tail -n +"$((logl + 1))" "$DIR/warrantd.log" >"$DIR/log.idle"
refused=$(grep -c 'connections-per-official connections: answered 503' "$DIR/log.idle")
dropped=$(grep -c 'deadline passed' "$DIR/log.idle")
echo "idle: $IDLE held by one official, connections-per-official $PER_OFFICIAL (at most $(grep -c 'answered 503' "$DIR/log.idle") 503s logged, 10 a second), $dropped dropped at their idle deadline"
# How many are held at once is edge-officials.sh's to assert exactly; here,
# on a loaded machine, handshakes finish over seconds and slots freed at the
# idle deadline are taken again: some were refused, some held and dropped.
[ "$(rel_kv "$r" handshakes)" -ge "$PER_OFFICIAL" ] ||
    fail "idle: fewer than connections-per-official handshakes: $r"
[ "$(rel_kv "$r" answered)" -ge 1 ] && [ "$refused" -ge 1 ] ||
    fail "idle: no connection over connections-per-official was answered 503: $r"
[ "$dropped" -ge 1 ] || fail "idle: no connection was dropped at the idle deadline"
phase_report idle "$t0" "$t1"
for i in $(seq 1 50); do [ "$(rel_fds)" -le $((fd_base + 2)) ] && break; sleep 0.2; done
[ "$(rel_fds)" -le $((fd_base + 2)) ] || fail "idle: $(rel_fds) descriptors 10 s after, $fd_base before"

# --- handshake floods -----------------------------------------------------
refused_before=$("$AUDIT" show --journal "$J" --json 2>/dev/null | grep -c '"event":"EVENT_TLS_REFUSED"')
jbytes_before=$(du -sb "$J" | cut -f1)
t0=$(now_ms)
# From 10 addresses: 50 at a time from one would be shed by
# unauthenticated-per-source (16), which is another test's business.
# (Up to 10 minutes each: on a loaded machine 3,000 take long.)
r1=$(sl --handshakes "$FLOOD" --concurrency 50 --from 127.0.5.1 --sources 10 \
    --max-time 600)
r2=$(sl --cert "$DIR/rogue.pem" --key "$DIR/rogue.key" --handshakes "$FLOOD" \
    --concurrency 50 --from 127.0.6.1 --sources 10 --max-time 600)
t1=$(now_ms)
echo "handshakes without a certificate: $r1"
echo "handshakes with a rogue certificate: $r2"
for r in "$r1" "$r2"; do
	[ "$(rel_kv "$r" done)" = "$FLOOD" ] || fail "handshake flood: not all attempts finished: $r"
	[ "$(rel_kv "$r" ok)" = 0 ] || fail "handshake flood: an unauthenticated client was served: $r"
done
sleep 1
refused_after=$("$AUDIT" show --journal "$J" --json 2>/dev/null | grep -c '"event":"EVENT_TLS_REFUSED"')
jbytes_after=$(du -sb "$J" | cut -f1)
n_ref=$((refused_after - refused_before))
echo "handshake floods: $n_ref TLS refusals journaled for $((2 * FLOOD)) refused handshakes," \
    "journal grew $((jbytes_after - jbytes_before)) bytes ($(((jbytes_after - jbytes_before) / (2 * FLOOD))) per refused handshake)"
phase_report handshake "$t0" "$t1"

# --- oversize heads and bodies ---------------------------------------------------
big=$DIR/big.xml
sh "$TOP_SRCDIR/tests/xml-attacks/large-body.sh" >"$big"
hdr9k=$(head -c 9000 /dev/zero | tr '\0' 'a')
many=()
for i in $(seq 1 100); do many+=(-H "X-Pad-$i: $i"); done
c() { curl -s -o /dev/null -w '%{http_code}' --max-time 20 --cacert "$WARRANT_CACERT" \
    --cert "$DIR/fgr.pem" --key "$DIR/fgr.key" -H 'Content-Type: application/xml' "$@"; }
oversize_loop() {	# n
	local end=$(($(date +%s) + ATTACK_S)) code
	: >"$DIR/oversize.$1"
	while [ "$(date +%s)" -lt "$end" ]; do
		code=$(c --data-binary @"$big" "$WARRANT_URL/hi1"); echo "body $code" >>"$DIR/oversize.$1"
		code=$(c -H "X-Big: $hdr9k" --data-binary @"$GOOD" "$WARRANT_URL/hi1"); echo "header $code" >>"$DIR/oversize.$1"
		code=$(c "${many[@]}" --data-binary @"$GOOD" "$WARRANT_URL/hi1"); echo "fields $code" >>"$DIR/oversize.$1"
		code=$(c -H 'Content-Length: 10000000000' --data-binary '<x/>' "$WARRANT_URL/hi1"); echo "length $code" >>"$DIR/oversize.$1"
	done
}
t0=$(now_ms)
pids=
for k in 1 2 3; do oversize_loop "$k" & pids="$pids $!"; done
wait $pids
t1=$(now_ms)
cat "$DIR"/oversize.[0-9] >"$DIR/oversize"
bad=$(grep -v -e '^body 413$' -e '^header 431$' -e '^fields 431$' -e '^length 413$' "$DIR/oversize" | sort | uniq -c)
[ -z "$bad" ] || fail "oversize: unexpected answers: $bad"
echo "oversize: $(wc -l <"$DIR/oversize") requests in $ATTACK_S s, all 413/431 as expected"
phase_report oversize "$t0" "$t1"

# --- the XML attack corpus ----------------------------------------------------
attacks=$TOP_SRCDIR/tests/xml-attacks
files=()
declare -A want
while read -r file _; do
	[ -f "$attacks/$file" ] && [ "${file%.xml}" != "$file" ] || continue
	want[$file]=$(awk -v f="$file" '$1 == f { for (i = 3; i <= NF; i++) if ($i ~ /^WD_ERR_/) { print $(i - 1); exit } }' "$attacks/README")
	[ -n "${want[$file]}" ] || fail "no expected code for $file in the corpus README"
	files+=("$attacks/$file")
done <"$attacks/README"
[ "${#files[@]}" -ge 10 ] || fail "only ${#files[@]} attack files found"
xml_loop() {	# n
	local end=$(($(date +%s) + ATTACK_S)) o f
	: >"$DIR/xml.$1"
	while [ "$(date +%s)" -lt "$end" ]; do
		o=$("$WARRANTCTL" --url "$WARRANT_URL" --cacert "$WARRANT_CACERT" \
		    --cert "$DIR/fgr.pem" --key "$DIR/fgr.key" --timeout 20 \
		    submit "${files[@]}" 2>&1)
		for f in "${files[@]}"; do
			if grep -q "^$f: REFUSED (HTTP [0-9]*) error ${want[${f##*/}]}:" <<<"$o"; then
				echo "ok ${f##*/}" >>"$DIR/xml.$1"
			else
				echo "bad ${f##*/}: $(grep "^$f:" <<<"$o" | head -n 1)" >>"$DIR/xml.$1"
			fi
		done
	done
}
t0=$(now_ms)
pids=
for k in 1 2; do xml_loop "$k" & pids="$pids $!"; done
wait $pids
t1=$(now_ms)
cat "$DIR"/xml.[0-9] >"$DIR/xml"
grep '^bad' "$DIR/xml" | head -n 5 | grep -q . && fail "xml: unexpected answers: $(grep '^bad' "$DIR/xml" | sort | uniq -c | head -n 5)"
echo "xml: $(wc -l <"$DIR/xml") attack documents in $ATTACK_S s, each refused with its code"
phase_report xml "$t0" "$t1"

# --- the end ---------------------------------------------------------------------
touch "$DIR/stop.all"
wait "$client_pid"
for i in $(seq 1 50); do [ "$(rel_fds)" -le $((fd_base + 2)) ] && break; sleep 0.2; done
fd_end=$(rel_fds)
hwm=$(rel_hwm)
rss_end=$(rel_rss)
rss_peak=$(awk '$2 > m { m = $2 } END { print m + 0 }' "$DIR/samples.log")
n_ok=$(grep -c ' ok$' "$DIR/lat.1")
echo "valid client: $n_ok requests accepted during the attacks; latency per attack (ms):"
sed 's/^/  /' "$DIR/phases"
echo "warrantd ($build): RSS $((rss_base / 1024)) MiB at rest, peak $((rss_peak / 1024)) MiB sampled, VmHWM $((hwm / 1024)) MiB, $((rss_end / 1024)) MiB at the end; descriptors $fd_base at rest, $fd_peak peak, $fd_end at the end"
[ "$fd_end" -le $((fd_base + 2)) ] || fail "descriptors not back to the baseline: $fd_end, $fd_base before"
submit_new fgr "$GOOD"
expect_exit 0
# A clean stop: LeakSanitizer speaks at exit, if anything leaked.
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
rel_sanitizer_check "stop"
"$AUDIT" verify --journal "$J" --pubkey "$DIR/journal.pub" >"$DIR/verify.out" 2>&1 ||
    fail "verify: $(cat "$DIR/verify.out")"
rel_start || fail "warrantd does not start again: $(cat "$DIR/start.err")"
pass
