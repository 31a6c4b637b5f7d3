#!/usr/bin/env bash
# Hostile bodies and broken HTTP: each is answered with a clear error in
# bounded time, the daemon stays up, and a valid request right after each is
# still accepted. Slow senders are dropped at the request deadline.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
stack_up

work=$DIR/samples
mkdir -p "$work"
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/subscriber-msisdn.xml"
good=$work/subscriber-msisdn.xml
attacks=$TOP_SRCDIR/tests/xml-attacks

# The expected code for each attack file is in its README.
while read -r file _ ; do
	[ -f "$attacks/$file" ] && [ "${file%.xml}" != "$file" ] || continue
	want=$(awk -v f="$file" '$1 == f { for (i = 3; i <= NF; i++) if ($i ~ /^WD_ERR_/) { print $(i - 1); exit } }' "$attacks/README")
	[ -n "$want" ] || fail "no expected code for $file in README"
	start=$(date +%s)
	submit_as fgr "$attacks/$file"
	[ $(( $(date +%s) - start )) -le 5 ] || fail "$file took more than 5 s"
	expect_exit 1
	expect_output_contains "error $want"
	submit_as fgr "$good"; expect_exit 0
done <"$attacks/README"

# A 10 MiB body: refused by the body cap (413) without being read whole.
big=$DIR/big.xml
sh "$attacks/large-body.sh" >"$big"
submit_as fgr "$big"; expect_exit 1; expect_output_contains "HTTP 413"
# Duplicate action identifiers, window end before start, older than retention.
sed -e '0,/<ActionIdentifier>1</s//<ActionIdentifier>0</' "$good" >"$work/dup.xml"
submit_as fgr "$work/dup.xml"; expect_exit 1; expect_output_contains "error 401"
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/location-history.xml"
hist=$work/location-history.xml
start_t=$(grep -m1 -o '<task:StartTime>[^<]*' "$hist" | cut -d'>' -f2)
end_t=$(grep -m1 -o '<task:EndTime>[^<]*' "$hist" | cut -d'>' -f2)
sed -e "s|<task:StartTime>$start_t<|<task:StartTime>$end_t<|" \
    -e "s|<task:EndTime>$end_t<|<task:EndTime>$start_t<|" "$hist" >"$work/reversed.xml"
submit_as fgecdmx "$work/reversed.xml"; expect_exit 1; expect_output_contains "error 404"
old=$(date -u -d '800 days ago' +%Y-%m-%dT%H:%M:%SZ)
sed -e "s|<task:StartTime>$start_t<|<task:StartTime>$old<|" "$hist" >"$work/old-window.xml"
submit_as fgecdmx "$work/old-window.xml"; expect_exit 1; expect_output_contains "error 405"

# HTTP edge, straight over TLS with curl.
c() { curl -s -o /dev/null -w '%{http_code}' --cacert "$WARRANT_CACERT" \
    --cert "$DIR/fgr.pem" --key "$DIR/fgr.key" "$@"; }
[ "$(c "$WARRANT_URL/nope")" = 404 ] || fail "unknown path not 404"
[ "$(c "$WARRANT_URL/hi1")" = 405 ] || fail "GET /hi1 not 405"
[ "$(c -H 'Content-Type: text/plain' --data-binary @"$good" "$WARRANT_URL/hi1")" = 415 ] ||
    fail "wrong content type not 415"
[ "$(c -H 'Content-Type: application/xml' -H 'Transfer-Encoding: chunked' \
    --data-binary @"$good" "$WARRANT_URL/hi1")" = 501 ] || fail "chunked body not refused with 501"
hdrs=()
for i in $(seq 1 100); do hdrs+=(-H "X-Pad-$i: $i"); done
[ "$(c "${hdrs[@]}" -H 'Content-Type: application/xml' --data-binary @"$good" \
    "$WARRANT_URL/hi1")" = 431 ] || fail "too many header fields not 431"

# A slow sender: half a request head, then silence. The configured request
# deadline is 30 s in the test config; we lower it to 2 s for this check.
sed -i 's/request-timeout 30s/request-timeout 2s/' "$DIR/warrantd.conf"
gens=$(grep -c 'configuration generation [0-9]* in force' "$DIR/warrantd.log")
kill -HUP "$(cat "$DIR/warrantd.pid")"
for i in $(seq 1 100); do
	[ "$(grep -c 'configuration generation [0-9]* in force' "$DIR/warrantd.log")" -gt "$gens" ] && break
	sleep 0.1
done
{ printf 'POST /hi1 HTTP/1.1\r\nHost: x\r\n'; sleep 8; } |
    timeout 10 openssl s_client -quiet -connect "${WARRANT_URL#https://}" \
    -cert "$DIR/fgr.pem" -key "$DIR/fgr.key" -CAfile "$WARRANT_CACERT" >/dev/null 2>&1 &
slow=$!
# The daemon must drop it about 2 s after its first byte, not when it stops.
for i in $(seq 1 40); do
	grep -q 'deadline passed' "$DIR/warrantd.log" && break
	sleep 0.1
done
grep -q 'deadline passed' "$DIR/warrantd.log" ||
    fail "slow sender still connected 4 s after its first byte (deadline 2 s)"
kill "$slow" 2>/dev/null; wait "$slow" 2>/dev/null
submit_as fgr "$good"; expect_exit 0
pass
