#!/usr/bin/env bash
# desk-metrics.sh — GET /metrics and GET /healthz on the desk's listener
# (issue 10, docs/desk-api.md): desk people only; the metrics are valid
# Prometheus text (`promtool check metrics`, Debian's prometheus package:
# the test is skipped, saying so, without it) and count what happened: a
# task waiting for review, requests accepted, a desk action; /healthz is
# 200 with the journal writable and the back end reachable.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
. "$srcdir/tests/integration/desk-lib.sh"
if ! command -v promtool >/dev/null; then
	echo "SKIP: desk-metrics.sh: promtool is not installed (apt-get install" \
	    "prometheus): the desk's /metrics are NOT checked" >&2
	exit 77
fi
desk_stack_up

"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/interception.xml" >/dev/null
submit_as fgr "$work/interception.xml"
expect_exit 0
ref=$(grep -o 'MXC-[0-9]*-[0-9]*' <<<"$out" | head -n 1)
act deskop note "{\"ref\":\"$ref\",\"text\":\"revisar\"}"
expect_code "note" 200

req deskop GET "$DESK/metrics"
expect_code "GET /metrics as operator" 200
printf '%s\n' "$body" >"$work/metrics"
promtool check metrics <"$work/metrics" >"$work/promtool.out" 2>&1 ||
    fail "promtool check metrics: $(cat "$work/promtool.out")"
grep -qx 'warrantd_open_tasks{type="interception",state="AwaitingApproval"} 1' \
    "$work/metrics" || fail "no waiting interception in the metrics: $body"
grep -qx 'warrantd_requests_total{outcome="accepted"} 1' "$work/metrics" ||
    fail "requests accepted: $body"
grep -qx 'warrantd_desk_actions_total{action="note"} 1' "$work/metrics" ||
    fail "desk actions: $body"
grep -q '^warrantd_journal_healthy 1$' "$work/metrics" || fail "journal: $body"
# No reference or identifier ever becomes a label.
grep -q "$ref" "$work/metrics" && fail "a carrier reference in the metrics"

req desksup GET "$DESK/healthz"
expect_code "GET /healthz as supervisor" 200
[ "$(jget 'd["status"]')" = ok ] && [ "$(jget 'd["journal"]')" = ok ] ||
    fail "healthz: $body"
if [ -S "$DIR/backend.sock" ]; then
	[ "$(jget 'len(d["backends"]) >= 1 and all(b["up"] >= 1 for b in d["backends"])')" = True ] ||
	    fail "healthz: back ends: $body"
fi
for who in fgr auditor unregistered; do
	for p in metrics healthz; do
		req $who GET "$DESK/$p"
		expect_code "GET /$p as $who" 403
	done
done
req deskop POST "$DESK/metrics" -H "Content-Type: application/json" --data-binary "{}"
expect_code "POST /metrics" 405
# On the authorities' listener there is no /metrics.
req deskop GET "$WARRANT_URL/metrics"
expect_code "/metrics on the authorities' listener" 404
pass
