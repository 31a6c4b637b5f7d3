#!/usr/bin/env bash
# Authenticated connections have budgets of their own (issue 14 §1): one
# official holding every slot with nearly complete bodies drove RSS to
# 308 MB. With connections 6, connections-per-official 3, body 256K and
# body-budget 1M:
#  - four connections announce 256 KiB bodies and send half: the next
#    request is answered 503 (Retry-After, "body-budget") before its body
#    is sent, and accepted once they are gone;
#  - an official holding 3 connections gets 503 for a 4th, while another
#    official is served;
#  - with all 6 slots held idle, a newcomer takes the slot of the
#    longest-idle kept-alive connection.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
SLOWLORIS=${WD_SLOWLORIS:-$TOP_BUILDDIR/tests/reliability/slowloris}
[ -x "$SLOWLORIS" ] || skip "$SLOWLORIS not built"
PY=$(command -v /usr/bin/python3 || command -v python3 || true)
[ -n "$PY" ] || skip "no python3"
stack_up
port=${WARRANT_URL##*:}
work=$DIR/samples
mkdir -p "$work"
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/subscriber-msisdn.xml"
good=$work/subscriber-msisdn.xml
# The same request in the name of FGJCDMX, for its official.
sed -e 's|<UniqueIdentifier>FGR<|<UniqueIdentifier>FGJCDMX<|' \
    -e 's|<OwnerIdentifier>FGR<|<OwnerIdentifier>FGJCDMX<|g' "$good" >"$work/cdmx.xml"
sed -i -e 's/^\tconnections 1024$/\tconnections 6/' \
    -e 's/^\tidle-timeout 60s$/&\n\tconnections-per-official 3\n\tbody-budget 1M/' \
    "$DIR/warrantd.conf"
grep -q 'body-budget 1M' "$DIR/warrantd.conf" || fail "cannot set the limits"
kill -HUP "$(cat "$DIR/warrantd.pid")"
for i in $(seq 1 50); do
	grep -q 'configuration generation 2 in force' "$DIR/warrantd.log" && break
	sleep 0.1
done
grep -q 'configuration generation 2 in force' "$DIR/warrantd.log" || fail "reload not taken"
edges() { "$PY" "$TOP_SRCDIR/tests/integration/http-edges.py" "$DIR" "$port" "$@"; }
kv() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }
hold() {	# name n file: n idle TLS connections of name, until killed
	"$SLOWLORIS" --connect "127.0.0.1:$port" --cacert "$WARRANT_CACERT" \
	    --cert "$DIR/$1.pem" --key "$DIR/$1.key" --idle "$2" --hold 30 \
	    --ready-file "$3.ready" >"$3" &
	for i in $(seq 1 100); do [ -e "$3.ready" ] && break; sleep 0.05; done
	[ -e "$3.ready" ] || fail "slowloris ($1) never connected"
	sleep 0.3
}

# --- body-budget --------------------------------------------------------------
edges budget 4 262144 "$good" || fail "body-budget"
grep -q 'fill body-budget: answered 503' "$DIR/warrantd.log" || fail "the 503 was not logged"

# --- connections-per-official -----------------------------------------------------
hold fgr 3 "$DIR/fgr.idle"
pf=$!
submit_as fgr "$good"
expect_exit 2		# warrantctl: the server's error, retry later
expect_output_contains "HTTP 503"
expect_output_contains "connections-per-official"
submit_as fgecdmx "$work/cdmx.xml"; expect_exit 0

# --- all slots held: the longest idle gives its slot up -------------------------------
hold fgecdmx 3 "$DIR/fgecdmx.idle"
pg=$!
out=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 --cacert "$WARRANT_CACERT" \
    --cert "$DIR/auditor.pem" --key "$DIR/auditor.key" "$WARRANT_URL/journal/checkpoint")
case $out in 200|404) ;; *) fail "the auditor was not served with every slot held: HTTP $out" ;; esac
grep -q 'idle kept-alive connection closed to make room' "$DIR/warrantd.log" ||
    fail "no idle connection gave its slot up"
kill -TERM "$pf" "$pg" 2>/dev/null
wait "$pf" "$pg"
r=$(cat "$DIR/fgr.idle")
echo "fgr's idle connections: $r"
[ "$(kv "$r" closed_by_server)" = 1 ] ||
    fail "the longest-idle connection (fgr's first) was not the one closed: $r"
submit_as fgr "$good"; expect_exit 0
pass
