#!/usr/bin/env bash
# desk-alerts.sh — deadlines and alerts end to end (issue 10, docs/desk.md):
# communication records under review wait in AwaitingApproval while their
# answer deadline (15 s here) runs; with alert-warn 1 each task warns at
# once, then is missed. GET /desk/api/alerts, the queue, /metrics (valid
# for promtool), the log (a CRITICAL line with the reference) and the
# sd_notify STATUS line say so; a rejected task's alert closes. The
# alert-command hook runs per alert with the alert's fields as its only
# environment, its output goes to the log, and one that hangs (each
# critical alert's here) is killed after alert-timeout while the daemon
# answers. Nothing is timed: the test waits (up to a minute) for each state.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
. "$srcdir/tests/integration/desk-lib.sh"
NOTIFY_LISTEN=${NOTIFY_LISTEN:-$TOP_BUILDDIR/tests/unit/notify_listen}
[ -x "$NOTIFY_LISTEN" ] || skip "$NOTIFY_LISTEN not built (make check builds it)"

# systemd's notification socket, played by notify_listen.
NT=$(mktemp -d "${TMPDIR:-/tmp}/wd-alerts.XXXXXX") || fail "mktemp failed"
"$NOTIFY_LISTEN" "$NT/notify" 600 >"$NT/notify.out" 2>"$NT/notify.err" &
nlpid=$!
for _ in $(seq 1 100); do [ -S "$NT/notify" ] && break; sleep 0.1; done
[ -S "$NT/notify" ] || fail "notify_listen did not bind: $(cat "$NT/notify.err")"
export NOTIFY_SOCKET=$NT/notify
# The hook: what it was given, a line of output; critical alerts hang.
cat >"$NT/hook" <<EOF
#!/bin/sh
env >"$NT/env-\$WARRANTD_ALERT_LEVEL-\$WARRANTD_OBJECT"
echo "paging on-call for \$WARRANTD_REF"
[ "\$WARRANTD_ALERT_LEVEL" = critical ] && exec sleep 600
# The first warning's run succeeds, the other fails.
mkdir "$NT/first" 2>/dev/null && exit 0
exit 3
EOF
chmod 755 "$NT/hook"
DESK_CONF="alert-warn 1
alert-command \"$NT/hook\"
alert-timeout 2s
deadlines {
	communication-records 15s
}"
desk_stack_up
unset NOTIFY_SOCKET
trap 'kill "$nlpid" 2>/dev/null; rm -rf "$NT"; stack_down' EXIT

"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/records.xml" >/dev/null ||
    fail "restamp records.xml"
submit_as fgr "$work/records.xml"
expect_exit 0
ref=$(grep -o 'MXC-[0-9]*-[0-9]*' <<<"$out" | head -n 1)
[ -n "$ref" ] || fail "no carrier reference: $out"

# wait_alerts LEVEL N: until N alerts of ref are at LEVEL (a minute at most).
wait_alerts() {
	for _ in $(seq 1 120); do
		req deskop GET "$DESK/desk/api/alerts"
		expect_code "GET alerts" 200
		[ "$(jget "len([a for a in d['alerts'] if a['ref'] == '$ref' and a['level'] == '$1'])")" = "$2" ] &&
		    return 0
		sleep 0.5
	done
	fail "no $2 $1 alert(s) for $ref: $body"
}

# --- warned: both tasks, before their deadline --------------------------------
wait_alerts warning 2
[ "$(jget "all(a['clock'] == 'answer' and a['type'] == 'communication-records' and a['authority'] == 'FGR' and not a['final'] for a in d['alerts'])")" = True ] ||
    fail "alert fields: $body"
req deskop GET "$DESK/desk/api/queue?carrier_ref=$ref"
expect_code "queue" 200
[ "$(jget 'sorted(t.get("alert") for t in d["tasks"])')" = "['warning', 'warning']" ] ||
    [ "$(jget 'all(t.get("alert") in ("warning", "critical") for t in d["tasks"])')" = True ] ||
    fail "the queue does not show the alerts: $body"
task=$(jget 'd["tasks"][0]["task"]')

# --- missed ---------------------------------------------------------------------
wait_alerts critical 2
[ "$(jget 'd["open"]["critical"] >= 2')" = True ] || fail "open counts: $body"
grep -q "crit: $ref: CRITICAL: answer deadline of communication-records" \
    "$DIR/warrantd.log" || fail "no CRITICAL log line: $(grep -i alert "$DIR/warrantd.log" | tail -5)"
grep -q "warning: $ref: warning: answer deadline of communication-records" \
    "$DIR/warrantd.log" || fail "no warning log line"
grep -q 'STATUS=serving; alerts: 2 critical, 0 warning' "$NT/notify.out" ||
    fail "sd_notify STATUS without the open alerts: $(grep STATUS "$NT/notify.out" | tail -3)"

req deskop GET "$DESK/metrics"
expect_code "metrics" 200
printf '%s\n' "$body" >"$work/metrics"
if command -v promtool >/dev/null; then
	promtool check metrics <"$work/metrics" >"$work/promtool.out" 2>&1 ||
	    fail "promtool check metrics: $(cat "$work/promtool.out")"
else
	echo "desk-alerts.sh: promtool not installed: format not checked" >&2
fi
grep -qx 'warrantd_deadlines_warned_total{clock="answer"} 2' "$work/metrics" ||
    fail "deadlines warned: $(grep deadlines "$work/metrics")"
grep -qx 'warrantd_deadlines_missed_total{clock="answer"} 2' "$work/metrics" ||
    fail "deadlines missed: $(grep deadlines "$work/metrics")"
grep -qx 'warrantd_alerts_open{level="critical"} 2' "$work/metrics" ||
    fail "alerts open: $(grep alerts_open "$work/metrics")"
grep -q "$ref" "$work/metrics" && fail "a carrier reference in the metrics"

# --- the hook: its environment, its output, its end (done, failed, killed) ----------
# wait_log TEXT COUNT: until the log has COUNT lines with TEXT.
wait_log() {
	for _ in $(seq 1 120); do
		[ "$(grep -c -- "$1" "$DIR/warrantd.log")" -ge "$2" ] && return 0
		sleep 0.5
	done
	fail "log: fewer than $2 lines with \"$1\": $(grep alert-command "$DIR/warrantd.log" | tail -8)"
}
wait_log "$ref: paging on-call for $ref" 4
wait_log "$ref: done" 1
wait_log "$ref: failed, exit status 3" 1
wait_log "$ref: killed after 2 s (alert-timeout)" 2
env_file=$NT/env-warning-$task
[ -f "$env_file" ] || fail "the hook did not run for $task's warning: $(ls "$NT")"
for kv in WARRANTD_ALERT_LEVEL=warning WARRANTD_CLOCK=answer "WARRANTD_REF=$ref" \
    WARRANTD_AUTHORITY=FGR "WARRANTD_OBJECT=$task" \
    WARRANTD_TYPE=communication-records WARRANTD_FINAL=0; do
	grep -qx -- "$kv" "$env_file" || fail "hook environment lacks $kv: $(cat "$env_file")"
done
grep -qE '^WARRANTD_DEADLINE=20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' "$env_file" ||
    fail "hook environment: deadline: $(cat "$env_file")"
grep -qE '^(HOME|NOTIFY_SOCKET|WARRANT_URL|LD_PRELOAD)=' "$env_file" &&
    fail "the daemon's environment leaked into the hook: $(cat "$env_file")"
[ -f "$NT/env-critical-$task" ] || fail "the hook did not run for $task's miss"
req deskop GET "$DESK/healthz"
expect_code "healthz after the hooks" 200

# --- a rejected task's alert closes; the other stays -----------------------------
act deskop reject "{\"ref\":\"$ref\",\"task\":\"$task\",\"reason\":\"fuera de plazo\"}"
expect_code "reject" 200
wait_alerts critical 1
[ "$(jget "[a['object'] for a in d['alerts'] if a['ref'] == '$ref'] != ['$task']")" = True ] ||
    fail "the rejected task's alert is still open: $body"

# --- metrics from the journal's records: by authority, type, outcome ------------
# A subscriber identity (review-after: carried out at once) beside them.
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/subscriber-imsi.xml" >/dev/null ||
    fail "restamp subscriber-imsi.xml"
submit_as fgr "$work/subscriber-imsi.xml"
expect_exit 0
for _ in $(seq 1 120); do
	req deskop GET "$DESK/metrics"
	grep -q '^warrantd_time_to_answer_seconds_count{type="communication-records"} 1$' <<<"$body" &&
	    grep -q '^warrantd_authority_tasks_total{authority="FGR",type="subscriber-identity",outcome="accepted"} 1$' <<<"$body" &&
	    break
	sleep 0.5
done
printf '%s\n' "$body" >"$work/metrics2"
if command -v promtool >/dev/null; then
	promtool check metrics <"$work/metrics2" >"$work/promtool.out" 2>&1 ||
	    fail "promtool check metrics: $(cat "$work/promtool.out")"
fi
m() { grep -qx -- "$1" "$work/metrics2" || fail "metrics: no line $1: $(grep "${1%%\{*}" "$work/metrics2")"; }
m 'warrantd_authority_tasks_total{authority="FGR",type="communication-records",outcome="accepted"} 2'
m 'warrantd_authority_tasks_total{authority="FGR",type="subscriber-identity",outcome="accepted"} 1'
m 'warrantd_authority_answers_total{authority="FGR",type="communication-records",outcome="Rejected"} 1'
# The rejected task waited past its 15 s deadline: between 15 s and a minute.
m 'warrantd_time_to_answer_seconds_bucket{type="communication-records",le="15"} 0'
m 'warrantd_time_to_answer_seconds_bucket{type="communication-records",le="+Inf"} 1'
m 'warrantd_time_to_answer_seconds_count{type="communication-records"} 1'
m 'warrantd_deliveries_retried_total 0'
# Counted from the store's queue index: the task left open, past its deadline.
m 'warrantd_open_tasks{type="communication-records",state="AwaitingApproval"} 1'
m 'warrantd_open_tasks_deadline_missed{type="communication-records"} 1'
grep -qE '^warrantd_deliveries_pending [0-9]+$' "$work/metrics2" || fail "no deliveries pending"
grep -q '^# TYPE warrantd_journal_checkpoint_age_seconds gauge$' "$work/metrics2" ||
    fail "no checkpoint age family"
if [ -S "$DIR/backend.sock" ]; then
	grep -qE '^warrantd_authority_answers_total\{authority="FGR",type="subscriber-identity",outcome="(ResultsReady|DisclosureNotAvailable)"\} 1$' \
	    "$work/metrics2" || fail "the subscriber identity's answer: $(grep answers_total "$work/metrics2")"
fi
grep -q "$ref" "$work/metrics2" && fail "a carrier reference in the metrics"

# --- who may read them ------------------------------------------------------------
req desksup GET "$DESK/desk/api/alerts"
expect_code "alerts as supervisor" 200
for who in fgr auditor unregistered; do
	req $who GET "$DESK/desk/api/alerts"
	expect_code "alerts as $who" 403
done
act deskop alerts '{}'
expect_code "POST alerts" 405
pass
