#!/bin/bash
# Periodic reconciliation (`reconcile 2s`): while the gateway runs, an
# element that loses an active interception gets it back, and a task an
# element holds without an order is removed; each difference is journaled
# once per finding, and nothing else changes at the elements.
set -u
srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$srcdir/tests/integration/lib.sh"
. "$srcdir/tests/x1/lib.sh"
AUDIT=${WARRANT_AUDIT:-$TOP_BUILDDIR/src/warrant-audit/warrant-audit}

x1_stack_up 2s
x1_request "$DIR/i1.xml"
x1_submit "$DIR/i1.xml"
t1=$task; x1=$(xid_of "$t1")
wait_status "$t1" "Active"

ne_ctl a drop "$x1"
ROGUE=0badbeef-0000-4000-8000-0000000000b2
ne_ctl b rogue "$ROGUE" imei 35693803564380
wait_until 60 ne_holds a "$x1" || fail "a did not get $x1 back"
wait_until 60 ne_lacks b "$ROGUE" || fail "the rogue task is still at b"
ne_holds b "$x1" || fail "b lost $x1"
[ "$(ne_count a ActivateTaskRequest "$x1")" = 2 ] ||
    fail "a was sent ActivateTask $(ne_count a ActivateTaskRequest "$x1") times, expected 2"
[ "$(ne_count b ActivateTaskRequest "$x1")" = 1 ] ||
    fail "b was provisioned again although it held the task"
j=$("$AUDIT" show --journal "$DIR/state/journal" 2>&1)
[ "$(grep -c "EVENT_X1_DIFFERENCE.*ne=a xid=$x1 is missing" <<<"$j")" = 1 ] ||
    fail "the missing task is not journaled exactly once"
[ "$(grep -c "EVENT_X1_DIFFERENCE.*ne=b xid=$ROGUE is held" <<<"$j")" = 1 ] ||
    fail "the rogue task is not journaled exactly once"
ctl status "$t1"
case $out in *Active*) ;; *) fail "the task is not Active: $out" ;; esac
ne_all_valid a && ne_all_valid b || fail "invalid X1 on the wire"
pass
