#!/usr/bin/env bash
# hostile.sh — hostile clients, one attack after another, while a valid
# client keeps submitting; after each attack the daemon is alive, said
# nothing to the sanitizers, and the valid client was served *during* it
# (every one of its requests answered, none failed; latencies reported).
#
#  trickle    slowloris with a valid client certificate: a well-formed
#             request one byte per second on each of N connections; each
#             must be dropped at the request deadline counted from its
#             first byte (more bytes never extend it), without an answer.
#  idle       far more connections than `connections` allows, held open:
#             half bare TCP (no TLS handshake), half TLS with the handshake
#             done and then silence. The daemon never holds more than the
#             limit (its descriptors are counted), pauses its listener
#             (logged) so that new connections wait in the kernel's
#             backlog instead of being refused, drops the idle ones at
#             their deadlines, and serves the valid client meanwhile.
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
IDLE=$(rel_pick 200 3000)		# held connections (half TCP, half TLS)
# Held long enough for the daemon to take and drop all of them, LIMIT at
# a time, plus the kernel's SYN retransmissions (1 s, 3 s) for those that
# found the backlog full.
HOLD=$(((IDLE / LIMIT + $(rel_pick 1 2)) * DEADLINE + $(rel_pick 2 3)))
FLOOD=$(rel_pick 200 3000)		# handshakes per flood
ATTACK_S=$(rel_pick 3 30)		# oversize and xml loops, s
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -ge $((IDLE / 2 + 64)) ] ||
    skip "ulimit -Hn $hard is too low for $IDLE connections"
ulimit -n "$hard" 2>/dev/null || true

rel_stack_up
rel_samples
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
rel_conf limits connections "$LIMIT"
rel_conf request-timeout "${DEADLINE}s"
rel_conf idle-timeout "${DEADLINE}s"
rel_start || fail "restart failed: $(cat "$DIR/start.err")"
PID=$(rel_pid)
J=$DIR/state/journal
build=$(rel_sanitized "$WARRANTD" && echo "ASan+UBSan" || echo "no sanitizers")

# Baseline after a few requests (lazy allocations done).
for i in 1 2 3; do submit_as fgr "$GOOD"; expect_exit 0; done
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
r=$(sl --cert "$DIR/fgr.pem" --key "$DIR/fgr.key" --body "$GOOD" \
    --trickle "$TRICKLERS" --interval 1000 --max-time $((DEADLINE + 15)))
t1=$(now_ms)
echo "trickle: $r"
[ "$(rel_kv "$r" handshakes)" = "$TRICKLERS" ] || fail "trickle: not every handshake succeeded: $r"
[ "$(rel_kv "$r" closed_by_server)" = "$TRICKLERS" ] ||
    fail "trickle: not every slow sender was dropped: $r"
[ "$(rel_kv "$r" answered)" = 0 ] || fail "trickle: a trickled request got an answer: $r"
awk -v lo="$(rel_kv "$r" drop_min)" -v hi="$(rel_kv "$r" drop_max)" -v d="$DEADLINE" \
    'BEGIN { exit !(lo >= d - 0.5 && hi <= d + 1.5) }' ||
    fail "trickle: dropped between $(rel_kv "$r" drop_min) and $(rel_kv "$r" drop_max) s after the first byte, deadline $DEADLINE s"
phase_report trickle "$t0" "$t1"

# --- idle: more connections than the limit -----------------------------------
half=$((IDLE / 2))
logl=$(wc -l <"$DIR/warrantd.log")
overflows() {	# the kernel's count of handshakes dropped at a full backlog
	awk '/^TcpExt:/ { if (!n) { for (i = 1; i <= NF; i++) k[i] = $i; n = 1 }
	    else for (i = 1; i <= NF; i++) if (k[i] == "ListenOverflows") print $i }' /proc/net/netstat
}
ovf0=$(overflows)
t0=$(now_ms)
sl --idle "$half" --tcp-only --hold "$HOLD" >"$DIR/idle.tcp" &
p1=$!
sl --cert "$DIR/fgr.pem" --key "$DIR/fgr.key" --idle "$half" --hold "$HOLD" >"$DIR/idle.tls" &
p2=$!
fd_peak=0
est_last=
while kill -0 "$p1" 2>/dev/null && kill -0 "$p2" 2>/dev/null; do
	n=$(rel_fds)
	[ "$n" -gt "$fd_peak" ] && fd_peak=$n
	# Connections to the port as the server's kernel sees them: the
	# daemon's and those waiting in the accept queue.
	est_last=$(ss -Htn state established "sport = :$PORT" | wc -l)
	sleep 0.2
done
wait "$p1" "$p2"
t1=$(now_ms)
ovf=$(($(overflows) - ovf0))
echo "idle (TCP only): $(cat "$DIR/idle.tcp")"
echo "idle (TLS, silent): $(cat "$DIR/idle.tls")"
# By the end of the hold every connection the server side ever had is
# gone, dropped by the daemon at its deadline (the valid client's may be
# there). A TCP-only client may still believe in connections whose final
# ACK the server's kernel dropped while the accept queue was full (it
# counted them in ListenOverflows): those never reached the daemon.
[ "${est_last:-99}" -le 3 ] ||
    fail "idle: $est_last connections still established server-side at the end of the $HOLD s hold"
r=$(cat "$DIR/idle.tls")
[ $(($(rel_kv "$r" closed_by_server) + $(rel_kv "$r" failed))) -ge "$half" ] ||
    fail "idle (tls): TLS connections neither dropped by the daemon nor refused: $r"
echo "idle: server-side connections at the end of the hold: $est_last; the kernel dropped $ovf handshakes at the full backlog (ListenOverflows)"
conns_peak=$((fd_peak - fd_base))
echo "idle: $IDLE held, limit $LIMIT: the daemon held at most $conns_peak connections ($fd_peak descriptors, $fd_base at rest)"
[ "$conns_peak" -le $((LIMIT + 2)) ] ||
    fail "idle: the daemon held $conns_peak connections, limit $LIMIT"
tail -n +"$((logl + 1))" "$DIR/warrantd.log" >"$DIR/log.idle"
grep -q "connection limit $LIMIT reached: not accepting until one closes" "$DIR/log.idle" ||
    fail "idle: the listener never paused at the limit"
dropped=$(grep -c 'deadline passed' "$DIR/log.idle")
echo "idle: $dropped connections dropped at their deadline, listener paused $(grep -c 'connection limit' "$DIR/log.idle") times"
[ "$dropped" -ge "$LIMIT" ] || fail "idle: only $dropped idle connections dropped at their deadline"
phase_report idle "$t0" "$t1"
for i in $(seq 1 50); do [ "$(rel_fds)" -le $((fd_base + 2)) ] && break; sleep 0.2; done
[ "$(rel_fds)" -le $((fd_base + 2)) ] || fail "idle: $(rel_fds) descriptors 10 s after, $fd_base before"

# --- handshake floods -----------------------------------------------------
refused_before=$("$AUDIT" show --journal "$J" --json 2>/dev/null | grep -c '"event":"EVENT_TLS_REFUSED"')
jbytes_before=$(du -sb "$J" | cut -f1)
t0=$(now_ms)
r1=$(sl --handshakes "$FLOOD" --concurrency 50)
r2=$(sl --cert "$DIR/rogue.pem" --key "$DIR/rogue.key" --handshakes "$FLOOD" --concurrency 50)
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
submit_as fgr "$GOOD"
expect_exit 0
# A clean stop: LeakSanitizer speaks at exit, if anything leaked.
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
rel_sanitizer_check "stop"
"$AUDIT" verify --journal "$J" --pubkey "$DIR/journal.pub" >"$DIR/verify.out" 2>&1 ||
    fail "verify: $(cat "$DIR/verify.out")"
rel_start || fail "warrantd does not start again: $(cat "$DIR/start.err")"
pass
