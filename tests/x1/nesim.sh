#!/bin/bash
# The X1 network-element simulator itself: answers the official examples,
# refuses an invalid request with 400 and records it, keeps its table on
# disk across a restart, and obeys its knobs (refuse, hang, down, drop, rogue).
set -u
srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$srcdir/tests/integration/lib.sh"
. "$srcdir/tests/x1/lib.sh"

command -v python3 >/dev/null || skip "no python3"
command -v curl >/dev/null || skip "no curl"
EX=$TOP_SRCDIR/../shared/etsi/ts103221-v1.13.1-examples
[ -d "$EX" ] || skip "no ../shared/etsi (official X1 examples)"

DIR=$(mktemp -d "${TMPDIR:-/tmp}/wd-nesim.XXXXXX") || fail "mktemp"
trap 'ne_down_all; [ -n "${WD_KEEP:-}" ] || rm -rf "$DIR"' EXIT
"$TOP_SRCDIR/tests/pki/mkpki" "$DIR/pki" >/dev/null 2>&1 || fail "mkpki"
ROGUE=11111111-2222-4333-8444-555555555555
ne_up a "$DIR" "$DIR/pki" --rogue "$ROGUE:imsi:334020123456789" || fail "nesim did not start"

post() {	# FILE [cert]: prints the HTTP status and the answer
	curl -s -m 20 -w '\nHTTP %{http_code}\n' --cacert "$DIR/pki/ca.pem" \
	    --cert "$DIR/pki/${2:-carrier}.pem" --key "$DIR/pki/${2:-carrier}.key" \
	    --data-binary @"$1" "https://127.0.0.1:$NE_PORT_a/X1/NE"
}

out=$(post "$EX/PingRequest_example.xml")
case $out in *PingResponse*AcknowledgedAndCompleted*"HTTP 200"*) ;; *) fail "ping: $out" ;; esac

# The rogue task is there from the start.
[ "$(ne_tasks a)" = "$ROGUE" ] || fail "rogue task missing: $(ne_tasks a)"

# Destination, then a task naming it (the example's own dIds differ: fix up).
post "$EX/CreateDestinationRequest_example.xml" | grep -q 'CreateDestinationResponse' ||
    fail "CreateDestination"
sed 's/19867c20-8c94-473e-b9cd-8b72b7b05fd4/b0ce308c-aa17-42bd-a27b-287bcb5b3468/' \
    "$EX/ActivateTaskRequest_example.xml" >"$DIR/act.xml"
out=$(post "$DIR/act.xml")
case $out in *ActivateTaskResponse*"HTTP 200"*) ;; *) fail "activate: $out" ;; esac
XID=29f28e1c-f230-486a-a860-f5a784ab9172
# A second activation of the same XID is refused, and counted.
out=$(post "$DIR/act.xml")
case $out in *ErrorResponse*"XID already exists"*) ;; *) fail "second activate: $out" ;; esac
[ "$(ne_count a ActivateTaskRequest "$XID")" = 2 ] || fail "activations not logged"
post "$EX/GetAllDetailsRequest_example.xml" | grep -q "<ns1:xId>$XID</ns1:xId>" ||
    fail "GetAllDetails lacks the task"

# The table survives a restart.
ne_down a
ne_up a "$DIR" "$DIR/pki" || fail "restart"
ne_tasks a | grep -qx "$XID" || fail "task lost across restart"

# Knobs: refuse, drop, rogue, down, hang.
ne_ctl a refuse DeactivateTask 1005 "maintenance window" || fail "ctl refuse"
out=$(post "$EX/DeactivateTaskRequest_example.xml")
case $out in *"<ns1:errorCode>1005</ns1:errorCode>"*"maintenance window"*) ;;
*) fail "refuse: $out" ;; esac
ne_ctl a clear
ne_ctl a drop "$XID" || fail "ctl drop"
ne_tasks a | grep -qx "$XID" && fail "drop did not drop"
ne_ctl a rogue 22222222-2222-4333-8444-555555555555 e164Number 525512345678 || fail "ctl rogue"
ne_tasks a | grep -qx 22222222-2222-4333-8444-555555555555 || fail "ctl rogue did not add"
ne_ctl a down on
out=$(post "$EX/PingRequest_example.xml")
case $out in *"HTTP 200"*) fail "down: answered: $out" ;; esac
ne_ctl a clear
ne_ctl a hang on
rc=0; curl -s -m 2 --cacert "$DIR/pki/ca.pem" --cert "$DIR/pki/carrier.pem" \
    --key "$DIR/pki/carrier.key" --data-binary @"$EX/PingRequest_example.xml" \
    "https://127.0.0.1:$NE_PORT_a/X1/NE" >/dev/null || rc=$?
[ "$rc" = 28 ] || fail "hang: curl exited $rc, expected a timeout (28)"
ne_ctl a clear

# Mutual TLS: no client certificate, no answer; one of another CA, neither.
rc=0; curl -s -m 10 --cacert "$DIR/pki/ca.pem" --data-binary @"$EX/PingRequest_example.xml" \
    "https://127.0.0.1:$NE_PORT_a/X1/NE" >/dev/null || rc=$?
[ "$rc" != 0 ] || fail "answered without a client certificate"
out=$(post "$EX/PingRequest_example.xml" rogue)
case $out in *PingResponse*) fail "answered a rogue CA's client" ;; esac

ne_all_valid a || fail "a valid request was counted invalid: $(cat "$DIR/ne-a/invalid.log")"
# The ETSI example with a 35-digit UUID: 400, and loudly recorded.
out=$(post "$EX/DeleteAllObjectsRequest_example.xml")
case $out in *"HTTP 400"*) ;; *) fail "invalid request not refused: $out" ;; esac
ne_all_valid a && fail "invalid request not recorded"
grep -q 'INVALID X1 REQUEST' "$DIR/ne-a/nesim.log" || fail "invalid request not logged"
echo "PASS: nesim.sh"
exit 0
