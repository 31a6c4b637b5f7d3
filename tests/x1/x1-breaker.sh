#!/bin/bash
# The circuit breaker of a network element (`breaker 2 failures 2s`):
#  - an element that keeps failing opens it after 2 exchanges without an
#    answer: logged (CRITICAL, with a deactivation pending) and journaled
#  - while it is open the pending DeactivateTask is not sent again; only
#    one Ping probes after each pause (and fails, opening it again)
#  - when the element answers a probe the breaker closes (logged and
#    journaled) and the deactivation it held back is sent: paced, never
#    dropped, and the element is reconciled
#  - meanwhile the task's GET names the element that still holds it, and the
#    desk's /metrics show the element down, its breaker open and the
#    deactivation pending (valid for promtool, when installed)
set -u
srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$srcdir/tests/integration/lib.sh"
. "$srcdir/tests/x1/lib.sh"
. "$srcdir/tests/integration/desk-lib.sh"
AUDIT=${WARRANT_AUDIT:-$TOP_BUILDDIR/src/warrant-audit/warrant-audit}

command -v curl >/dev/null || skip "no curl command"
desk_port=$("$TOP_SRCDIR/tests/pki/mkpki" --pick-port)
X1_NE_EXTRA="breaker 2 failures 2s" X1_CONF_EXTRA="desk listen on 127.0.0.1 port $desk_port
desk pages \"$TOP_SRCDIR/etc/desk\"" x1_stack_up 1h
DESK=https://127.0.0.1:$desk_port
work=$DIR/desk
mkdir -p "$work"
metrics() {
	req deskop GET "$DESK/metrics"
	expect_code "GET /metrics" 200
	printf '%s\n' "$body" >"$work/metrics"
	if command -v promtool >/dev/null; then
		promtool check metrics <"$work/metrics" >"$work/promtool.out" 2>&1 ||
		    fail "promtool check metrics: $(cat "$work/promtool.out")"
	fi
}
metric() { grep -qx "$1" "$work/metrics" || fail "no '$1' in the metrics: $(grep warrantd_ne "$work/metrics")"; }
journal() { "$AUDIT" show --journal "$DIR/state/journal" 2>&1; }
log_count() { grep -c -- "$1" "$DIR/warrantd.log"; }
probes_failed() { [ "$(log_count "x1 a: breaker open .*(the probe failed)")" -ge "$1" ]; }

x1_request "$DIR/i1.xml"
x1_submit "$DIR/i1.xml"
t1=$task; x1=$(xid_of "$t1")
wait_status "$t1" "Active"
grep -q "breaker" <<<"$(journal | grep X1_BREAKER)" &&
    fail "a breaker record although every element answered"
metrics
metric 'warrantd_ne_up{ne="a"} 1'
metric 'warrantd_ne_breaker_open{ne="a"} 0'
metric 'warrantd_ne_pending_deactivations{ne="a"} 0'
metric 'warrantd_ne_pending_activations{ne="b"} 0'
ctl status "$t1"
case $out in *"network element"*) fail "GET names an element of an Active task: $out" ;; esac

# --- a fails: the breaker opens after 2 exchanges ----------------------------
ne_ctl a down on
ctl cancel "$t1"
expect_exit 0
wait_status "$t1" "Cancelled"
wait_until 30 ne_lacks b "$x1" || fail "b still holds $x1 after the cancel"
wait_until 60 grep -q "CRITICAL: x1 a: breaker open after 2 exchanges without an answer: .*1 deactivation pending" \
    "$DIR/warrantd.log" || fail "the breaker did not open (or not CRITICAL)"
journal | grep -q "EVENT_X1_BREAKER.*ne=a breaker=open after 2 exchanges" ||
    fail "the breaker's opening is not journaled: $(journal | grep X1)"
ne_holds a "$x1" || fail "a lost $x1 while down"
ctl status "$t1"
case $out in
*"Cancelled (620: "*"still active: deactivation not yet confirmed by network element a (unreachable, breaker open)"*) ;;
*) fail "GET does not name the element still holding the task: $out" ;;
esac
case $out in *"element b"*) fail "GET names b, which confirmed: $out" ;; esac
metrics
metric 'warrantd_ne_up{ne="a"} 0'
metric 'warrantd_ne_breaker_open{ne="a"} 1'
metric 'warrantd_ne_pending_deactivations{ne="a"} 1'
metric 'warrantd_ne_up{ne="b"} 1'
metric 'warrantd_ne_breaker_open{ne="b"} 0'
metric 'warrantd_ne_pending_deactivations{ne="b"} 0'

# --- open: the deactivation waits, probes fail --------------------------------
wait_until 60 probes_failed 3 || fail "no failed probes: $(grep 'x1 a' "$DIR/warrantd.log")"
n=$(log_count "CRITICAL: x1 a: xid $x1 is still active at the element and could not be deactivated")
[ "$n" = 2 ] || fail "DeactivateTask sent $n times although the breaker was open after 2"
grep -q "x1 a: breaker half-open: a Ping probes" "$DIR/warrantd.log" ||
    fail "no half-open probe"
[ "$(journal | grep -c "EVENT_X1_BREAKER.*ne=a breaker=open")" = 1 ] ||
    fail "the breaker's opening is not journaled exactly once (failed probes are not)"
[ "$(log_count "x1 b: breaker")" = 0 ] || fail "b's breaker moved although b answers"

# --- a answers again: closed, the deactivation goes out ----------------------
ne_ctl a clear
wait_until 60 ne_lacks a "$x1" || fail "a still holds $x1 after the breaker closed"
grep -q "x1 a: breaker closed: the element answers again" "$DIR/warrantd.log" ||
    fail "the breaker's closing is not logged"
j=$(journal)
grep -q "EVENT_X1_BREAKER.*ne=a breaker=closed the element answers again; 1 deactivation pending" <<<"$j" ||
    fail "the breaker's closing is not journaled: $(grep X1_BREAKER <<<"$j")"
grep -q "ne=a op=DeactivateTask xid=$x1 .*outcome=acknowledged" <<<"$j" ||
    fail "the deactivation at a is not journaled as acknowledged"
reconciled_twice() { [ "$(log_count "x1 a: reconciled:")" -ge 2 ]; }
wait_until 30 reconciled_twice ||	# at the start, and now (reconcile 1h)
    fail "a was not reconciled once its breaker closed"
[ "$(ne_count a DeactivateTaskRequest "$x1")" = 1 ] ||
    fail "a received DeactivateTask $(ne_count a DeactivateTaskRequest "$x1") times"
ctl status "$t1"
case $out in *"network element"*) fail "GET still names an element after it confirmed: $out" ;; esac
metrics
metric 'warrantd_ne_up{ne="a"} 1'
metric 'warrantd_ne_breaker_open{ne="a"} 0'
metric 'warrantd_ne_pending_deactivations{ne="a"} 0'
ne_all_valid a && ne_all_valid b || fail "invalid X1 on the wire"
pass
