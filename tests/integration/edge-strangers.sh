#!/usr/bin/env bash
# Strangers cannot lock the officials out (issue 14 §1), the short version
# of the attack (the long one is tests/reliability/hostile.sh): connections
# that never finish their TLS handshake, from one address and from many,
# with a handshake flood beside them. With handshake-timeout 2s,
# unauthenticated 64 and unauthenticated-per-source 8:
#  - 300 bare TCP connections from one address: the daemon keeps at most 8,
#    sheds the rest at once, and drops the 8 at the handshake deadline;
#  - 400 from 10 addresses, reconnecting as soon as they are shed, and a
#    flood of handshakes with an untrusted certificate: the daemon never
#    holds more than 64 strangers, and the official is served all along;
#  - lines about strangers: at most 10 a second, the rest counted.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
SLOWLORIS=${WD_SLOWLORIS:-$TOP_BUILDDIR/tests/reliability/slowloris}
[ -x "$SLOWLORIS" ] || skip "$SLOWLORIS not built"
[ "$(uname -s)" = Linux ] || skip "needs /proc and 127/8 source addresses"
ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 1024 ] || skip "ulimit -n below 1024"
stack_up
port=${WARRANT_URL##*:}
work=$DIR/samples
mkdir -p "$work"
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/subscriber-msisdn.xml"
good=$work/subscriber-msisdn.xml
sed -i 's/^\tidle-timeout 60s$/&\n\thandshake-timeout 2s\n\tunauthenticated 64\n\tunauthenticated-per-source 8/' \
    "$DIR/warrantd.conf"
grep -q 'unauthenticated-per-source 8' "$DIR/warrantd.conf" || fail "cannot set the limits"
kill -HUP "$(cat "$DIR/warrantd.pid")"
for i in $(seq 1 50); do
	grep -q 'configuration generation 2 in force' "$DIR/warrantd.log" && break
	sleep 0.1
done
grep -q 'configuration generation 2 in force' "$DIR/warrantd.log" || fail "reload not taken"
pid=$(cat "$DIR/warrantd.pid")
fds() { ls "/proc/$pid/fd" 2>/dev/null | wc -l; }
kv() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }
sl() { "$SLOWLORIS" --connect "127.0.0.1:$port" --cacert "$WARRANT_CACERT" "$@"; }
submit_as fgr "$good"; expect_exit 0
sleep 0.5
base=$(fds)
logl=$(wc -l <"$DIR/warrantd.log")

# --- one address ----------------------------------------------------------
sl --idle 300 --tcp-only --from 127.0.0.2 --hold 5 --ready-file "$DIR/ready1" \
    >"$DIR/one.out" &
p1=$!
for i in $(seq 1 100); do [ -e "$DIR/ready1" ] && break; sleep 0.05; done
[ -e "$DIR/ready1" ] || fail "slowloris never connected"
sleep 0.3
held=$(($(fds) - base))
echo "300 strangers from one address: the daemon holds $held descriptors more than at rest"
[ "$held" -le 10 ] || fail "the daemon holds $held connections from one address (unauthenticated-per-source 8)"
submit_as fgr "$good"; expect_exit 0
wait "$p1"
r=$(cat "$DIR/one.out")
echo "one address: $r"
[ "$(kv "$r" closed_by_server)" = 300 ] || fail "not every stranger was closed by the daemon: $r"
awk -v m="$(kv "$r" drop_max)" 'BEGIN { exit !(m >= 1.5 && m <= 4) }' ||
    fail "the last strangers were dropped $(kv "$r" drop_max) s after connecting (handshake-timeout 2 s)"

# --- many addresses, reconnecting, and a handshake flood -------------------------
sl --idle 400 --tcp-only --from 127.0.1.1 --sources 10 --reconnect 200 --hold 8 \
    >"$DIR/many.out" &
p2=$!
sl --cert "$DIR/rogue.pem" --key "$DIR/rogue.key" --from 127.0.0.3 \
    --handshakes 1000000 --concurrency 20 --max-time 8 >"$DIR/flood.out" &
p3=$!
sleep 1
peak=0
served=0
t_end=$(($(date +%s) + 6))
while [ "$(date +%s)" -lt "$t_end" ]; do
	n=$(($(fds) - base)); [ "$n" -gt "$peak" ] && peak=$n
	submit_as --timeout 10 fgr "$good"
	expect_exit 0
	served=$((served + 1))
	n=$(($(fds) - base)); [ "$n" -gt "$peak" ] && peak=$n
done
wait "$p2" "$p3"
r=$(cat "$DIR/many.out")
echo "many addresses: $r"
echo "flood: $(cat "$DIR/flood.out")"
echo "the official was served $served times; the daemon held at most $peak descriptors more than at rest"
[ "$served" -ge 1 ] || fail "the official was not served in 6 s"
[ "$(kv "$r" reopened)" -ge 400 ] || fail "the strangers did not press: $r"
# Strangers (64) and at most one accept batch (64) being closed.
[ "$peak" -le $((64 + 64 + 8)) ] || fail "the daemon held $peak connections (unauthenticated 64)"
[ "$(kv "$(cat "$DIR/flood.out")" ok)" = 0 ] || fail "an untrusted certificate was served"

# --- lines about strangers: at most 10 a second, the rest counted -------------
tail -n +"$((logl + 1))" "$DIR/warrantd.log" >"$DIR/attack.log"
grep -e ': not authenticated after' -e ': TLS handshake' -e ': client certificate refused' \
    "$DIR/attack.log" | cut -c1-19 | sort | uniq -c | sort -rn >"$DIR/per-second"
worst=$(head -n 1 "$DIR/per-second" | awk '{ print $1 }')
echo "lines about strangers: at most $worst in one second; $(grep -c 'lines about unauthenticated peers not logged' "$DIR/attack.log") summaries"
# 10 a second; a line let through at the end of a second may be stamped
# in the next, so twice that at most (thousands without the limit).
[ "${worst:-0}" -le 20 ] || fail "$worst lines about strangers in one second"
grep -q 'more lines about unauthenticated peers not logged' "$DIR/attack.log" ||
    fail "the lines held back were not counted"
for i in $(seq 1 50); do [ "$(fds)" -le $((base + 2)) ] && break; sleep 0.1; done
[ "$(fds)" -le $((base + 2)) ] || fail "$(fds) descriptors after the attack, $base before"
submit_as fgr "$good"; expect_exit 0
pass
