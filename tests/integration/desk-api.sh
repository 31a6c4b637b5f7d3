#!/usr/bin/env bash
# desk-api.sh — the compliance desk's JSON API on its own mutual-TLS
# listener (issue 10, docs/desk-api.md), driven the way the desk would (the
# API) and the way an authority would (warrantctl: HI-1 CREATE and GET):
#  * role × endpoint: officials, auditors and unregistered certificates get
#    403 from the desk; no certificate, no handshake; desk operators get
#    nothing from the authorities' and auditors' resources;
#  * the review gate: a task under review waits in AwaitingApproval with no
#    back-end call until an operator approves it, then runs; a rejection is
#    the task's status (Rejected) and StatusReason (622 and the operator's
#    reason) in the authority's GET;
#  * CSRF: actions need POST with application/json (a form post or
#    text/plain is 415, a GET 405);
#  * the route table: a method a path lacks is 405 with an Allow header, an
#    unknown path 404, both 403 for who is no desk person;
#  * hold, assign (operators vs. supervisors), note; a search by identifier
#    is journaled with the identifier's SHA-256, never the identifier; every
#    action is a journal record naming the operator.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
AUDIT=${WARRANT_AUDIT:-$TOP_BUILDDIR/src/warrant-audit/warrant-audit}
[ -x "$AUDIT" ] || skip "$AUDIT not built"

. "$srcdir/tests/integration/desk-lib.sh"
desk_stack_up

ctl_fgr() {
	rc=0
	out=$("$WARRANTCTL" --url "$WARRANT_URL" --cacert "$WARRANT_CACERT" \
	    --cert "$DIR/fgr.pem" --key "$DIR/fgr.key" --timeout 20 \
	    --authority FGR --carrier MXCARRIER \
	    --templates "$TOP_SRCDIR/etc/templates" "$@" 2>&1) || rc=$?
}

journal_show() {
	"$AUDIT" show --journal "$DIR/state/journal" --json "$@"
}

# desk_submit SAMPLE: a fresh copy of a sample, submitted as FGR; $ref.
desk_submit() {
	local f=$work/$1
	"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/$1" >/dev/null ||
	    fail "restamp $1"
	fresh_uuids "$f"
	submit_as fgr "$f"
	expect_exit 0
	ref=$(grep -o 'MXC-[0-9]*-[0-9]*' <<<"$out" | head -n 1)
	[ -n "$ref" ] || fail "no carrier reference for $1: $out"
}

# --- role × endpoint ------------------------------------------------------
for who in deskop desksup; do
	req $who GET "$DESK/desk/api/me"
	expect_code "GET me as $who" 200
	[ "$(jget 'd["level"]')" = "$([ $who = deskop ] && echo operator || echo supervisor)" ] ||
	    fail "GET me as $who: wrong level: $body"
	req $who GET "$DESK/desk/api/queue"
	expect_code "GET queue as $who" 200
	# The urgent-orders board and a day's statistics (desk_board.c).
	req $who GET "$DESK/desk/api/urgent"
	expect_code "GET urgent as $who" 200
	req $who GET "$DESK/desk/api/stats"
	expect_code "GET stats as $who" 200
	# Desk people reach neither the auditors' nor the authorities' resources.
	req $who GET "$WARRANT_URL/journal/checkpoint"
	expect_code "GET /journal/checkpoint as $who" 403
	req $who POST "$WARRANT_URL/hi1" -H 'Content-Type: application/xml' \
	    --data-binary @"$SAMPLES/subscriber-msisdn.xml"
	expect_code "POST /hi1 as $who" 403
done
for who in fgr fgecdmx auditor unregistered suspended; do
	for path in me queue requests/MXC-20260101-00000001 urgent stats \
	    "stats?date=2026-01-01"; do
		req $who GET "$DESK/desk/api/$path"
		expect_code "GET $path as $who" 403
	done
	act $who note '{"ref":"MXC-20260101-00000001","text":"x"}'
	expect_code "POST note as $who" 403
done
for who in none rogue revoked expired; do
	req $who GET "$DESK/desk/api/queue"
	expect_code "GET queue as $who (no handshake)" 000
done
# The authorities' path is not on the desk's listener, for anyone.
req deskop POST "$DESK/hi1" -H 'Content-Type: application/json' --data-binary '{}'
expect_code "POST /hi1 on the desk listener" 404

# --- the console's files: desk people only, under a strict CSP ---------------------
for page in / /request.html /desk.js /desk.css /urgent.html /stats.html /board.js; do
	req deskop GET "$DESK$page" -D "$work/headers"
	expect_code "GET $page" 200
	grep -qi "^Content-Security-Policy: default-src 'none'; script-src 'self';" "$work/headers" ||
	    fail "GET $page: no CSP: $(cat "$work/headers")"
	grep -qi '^X-Frame-Options: DENY' "$work/headers" || fail "GET $page: framable"
	req fgr GET "$DESK$page"
	expect_code "GET $page as an official" 403
done
req deskop GET "$DESK/"
case $body in *"<script src=\"/desk.js\""*) ;; *) fail "index.html: $body" ;; esac
# No inline script in any page: the CSP would block it anyway.
! grep -q -e '<script>' -e ' on[a-z]*=' "$TOP_SRCDIR"/etc/desk/*.html ||
    fail "an inline script or handler in etc/desk"
req deskop GET "$DESK/../etc/passwd" --path-as-is
expect_code "path outside the console" 404

# --- the review gate: approve ---------------------------------------------
desk_submit records.xml
rec_ref=$ref
req deskop GET "$DESK/desk/api/queue?carrier_ref=$rec_ref"
expect_code "queue by carrier_ref" 200
# records.xml has two tasks (MX-FGR-000129 and -000130).
[ "$(jget 'd["total"]')" = 2 ] || fail "queue by carrier_ref: $body"
[ "$(jget 'd["tasks"][0]["state"]')" = AwaitingApproval ] ||
    fail "records under review-policy review is not AwaitingApproval: $body"
[ "$(jget 'd["tasks"][0]["official"]')" = ana.lopez ] || fail "official: $body"
[ "$(jget 'd["tasks"][0]["review"]')" = review ] || fail "review: $body"
[ "$(jget 'd["tasks"][0]["seconds_left"] > 0')" = True ] || fail "time left: $body"
rec_task=$(jget '[t for t in d["tasks"] if t["authority_ref"] == "MX-FGR-000129"][0]["task"]')
rec_task2=$(jget '[t for t in d["tasks"] if t["authority_ref"] == "MX-FGR-000130"][0]["task"]')
ctl_fgr status "$rec_ref"
expect_exit 0
expect_output_contains "LDTask $rec_task AwaitingApproval"
# Nothing was asked of the back end.
journal_show --request "$rec_ref" | grep -q '"event":"EVENT_BACKEND_CALL"' &&
    fail "a back-end call started for $rec_ref before approval"
# A second look at the authority ref and the identifier finds it too.
req deskop GET "$DESK/desk/api/queue?authority_ref=MX-FGR-000129&state=AwaitingApproval"
expect_code "queue by authority_ref" 200
[ "$(jget 'any(t["task"] == "'"$rec_task"'" for t in d["tasks"])')" = True ] ||
    fail "search by authority reference misses $rec_task: $body"
# The state and type filters are a range of the queue's index: the same
# tasks, in deadline order, as a read of every open task (sort=created).
req deskop GET "$DESK/desk/api/queue?state=AwaitingApproval&type=communication-records"
expect_code "queue by state and type" 200
[ "$(jget 'all(t["state"] == "AwaitingApproval" and t["type"] == "communication-records" for t in d["tasks"])')" = True ] ||
    fail "state and type filter lets another task through: $body"
[ "$(jget 'sum(t["task"] in ("'"$rec_task"'", "'"$rec_task2"'") for t in d["tasks"])')" = 2 ] ||
    fail "state and type filter misses $rec_task or $rec_task2: $body"
idx_total=$(jget 'd["total"]')
idx_tasks=$(jget 'sorted(t["task"] for t in d["tasks"])')
req deskop GET "$DESK/desk/api/queue?state=AwaitingApproval&type=communication-records&sort=created"
expect_code "queue by state and type, by creation" 200
[ "$(jget 'd["total"]')" = "$idx_total" ] ||
    fail "indexed total $idx_total, scanned: $body"
[ "$(jget 'sorted(t["task"] for t in d["tasks"])')" = "$idx_tasks" ] ||
    fail "indexed tasks $idx_tasks, scanned: $body"
req deskop GET "$DESK/desk/api/queue?state=AwaitingApproval&limit=1"
expect_code "queue by state, one" 200
[ "$(jget 'len(d["tasks"]) == 1 and d["total"] >= 2')" = True ] ||
    fail "state filter's limit or total: $body"
req deskop GET "$DESK/desk/api/queue?state=NoSuchState"
expect_code "queue by an unknown state" 200
[ "$(jget 'd["total"]')" = 0 ] || fail "unknown state matches: $body"
# Alone, the authority's reference is one lookup of its keyed token.
req deskop GET "$DESK/desk/api/queue?authority_ref=MX-FGR-000130"
expect_code "queue by authority_ref alone" 200
[ "$(jget 'any(t["task"] == "'"$rec_task2"'" for t in d["tasks"]) and all(t["authority_ref"] == "MX-FGR-000130" for t in d["tasks"])')" = True ] ||
    fail "search by authority reference alone: $body"
req deskop GET "$DESK/desk/api/queue?authority_ref=MX-FGR-000131"
expect_code "queue by an unknown authority_ref" 200
[ "$(jget 'd["total"]')" = 0 ] || fail "unknown authority reference matches: $body"
req deskop GET "$DESK/desk/api/queue?identifier=528112345678"
expect_code "queue by identifier" 200
[ "$(jget 'any(t["task"] == "'"$rec_task"'" for t in d["tasks"])')" = True ] ||
    fail "search by identifier misses $rec_task: $body"
search_seq=$(jget 'd["journal_seq"]')
# Journaled with the identifier's SHA-256, sealed for the audit key (an
# unkeyed hash of a phone number is found by trying them all): without the
# key, who searched and how many matched; with it, the hash.
check_search() {	# sealed|opened
	python3 -c '
import hashlib, json, sys
seq, how = int(sys.argv[1]), sys.argv[2]
sha = hashlib.sha256(b"528112345678").hexdigest()
for line in sys.stdin:
    r = json.loads(line)
    if r["seq"] != seq:
        continue
    assert r["event"] == "EVENT_DESK_ACTION", r
    d = r["desk"]
    assert d["action"] == "search" and d["operator_id"] == "op.ramirez", d
    assert d["query_kind"] == "identifier", d
    assert d["matches"] >= 1, d
    assert "528112345678" not in line, "the identifier is in the journal"
    if how == "sealed":
        assert sha not in line, "the identifier hash is in clear"
    else:
        assert d["query_sha256"] == sha, d
    sys.exit(0)
sys.exit("no search record " + str(seq))' "$search_seq" "$1"
}
journal_show | check_search sealed ||
    fail "the search by identifier is not journaled as it should be (no key)"
journal_show --key "$DIR/audit.key" | check_search opened ||
    fail "the search by identifier is not journaled as it should be (audit key)"

act deskop approve "{\"ref\":\"$rec_ref\"}"
expect_code "approve without naming one of two tasks" 409
act deskop approve "{\"ref\":\"$rec_ref\",\"task\":\"$rec_task\"}"
expect_code "approve as operator" 200
[ "$(jget 'd["operator"]')" = op.ramirez ] || fail "approve answer: $body"
act deskop approve "{\"ref\":\"$rec_ref\",\"task\":\"$rec_task\"}"
expect_code "approve twice" 409
# Now the back end is asked (the reference back end answers).
for i in $(seq 1 300); do
	journal_show --request "$rec_ref" | grep -q '"event":"EVENT_BACKEND_RESULT"' && break
	sleep 0.1
done
journal_show --request "$rec_ref" | grep -q '"event":"EVENT_BACKEND_RESULT"' ||
    fail "no back-end result for $rec_ref after its approval"
ctl_fgr status "$rec_ref"
case $out in
*"LDTask $rec_task AwaitingApproval"*) fail "still AwaitingApproval after approval: $out" ;;
esac
# ...and only the approved task's calls: the other one still waits.
expect_output_contains "LDTask $rec_task2 AwaitingApproval"
journal_show --request "$rec_ref" | grep '"event":"EVENT_BACKEND_CALL"' |
    grep -q "$rec_task2" && fail "a call started for the task not approved"
act deskop reject "{\"ref\":\"$rec_ref\",\"reason\":\"Periodo fuera de la orden\"}"
expect_code "reject the only task still waiting (no task named)" 200
[ "$(jget 'd["task"]')" = "$rec_task2" ] || fail "rejected the wrong task: $body"
journal_show --request "$rec_ref" | grep '"event":"EVENT_DESK_ACTION"' |
    grep '"action":"approve"' | grep -q '"operator_id":"op.ramirez"' ||
    fail "the approval is not journaled with its operator"

# --- reject: the authority sees it ------------------------------------------
desk_submit interception.xml
li_ref=$ref
act deskop reject "{\"ref\":\"$li_ref\",\"reason\":\"La orden no ampara la intervención\"}"
expect_code "reject" 200
ctl_fgr status "$li_ref"
expect_output_contains "Rejected (622"
expect_output_contains "La orden no ampara la intervención"
ctl_fgr --json status "$li_ref"
python3 -c 'import json,sys; d=json.load(sys.stdin)
t=[o for o in d["objects"] if o["type"] == "Task"][0]
assert t["status"] == "Rejected" and t["reason_code"] == 622, t' <<<"$out" ||
    fail "HI-1 GET does not show the rejection: $out"
act deskop reject "{\"ref\":\"$li_ref\",\"reason\":\"otra vez\"}"
expect_code "reject a rejected task" 404

# --- four eyes: an interception needs two operators ----------------------------------
desk_submit interception.xml
li2=$ref
act deskop approve "{\"ref\":\"$li2\"}"
expect_code "first approval" 200
[ "$(jget 'd["second_approval_needed"]')" = True ] || fail "first approval: $body"
ctl_fgr status "$li2"
expect_output_contains "AwaitingApproval"
act deskop approve "{\"ref\":\"$li2\"}"
expect_code "the same operator approving twice" 409
[ "$(jget 'd["error"]')" = four-eyes ] || fail "four-eyes: $body"
req deskop GET "$DESK/desk/api/queue?carrier_ref=$li2"
[ "$(jget 'd["tasks"][0]["first_approval"]')" = op.ramirez ] || fail "first_approval: $body"
act deskop2 approve "{\"ref\":\"$li2\"}"
expect_code "second approval" 200
ctl_fgr status "$li2"
expect_output_contains "AwaitingProvisioning"
journal_show --request "$li2" | grep -c '"action":"approve' | grep -qx 2 ||
    fail "the two approvals are not both journaled"

# --- CSRF and bad input ---------------------------------------------------------
desk_submit records.xml
r2=$ref
req deskop GET "$DESK/desk/api/queue?carrier_ref=$r2&authority_ref=MX-FGR-000129"
t2=$(jget 'd["tasks"][0]["task"]')
req deskop POST "$DESK/desk/api/approve" -H 'Content-Type: text/plain' \
    --data-binary "{\"ref\":\"$r2\",\"task\":\"$t2\"}"
expect_code "approve as text/plain" 415
req deskop POST "$DESK/desk/api/approve" --data-urlencode "ref=$r2" --data-urlencode "task=$t2"
expect_code "approve as a form" 415
req deskop GET "$DESK/desk/api/approve"
expect_code "approve by GET" 405
act deskop approve '{"ref":'
expect_code "malformed JSON" 400
act deskop approve '["MXC"]'
expect_code "JSON not an object" 400
act deskop approve '{"ref":"MXC-20990101-00000001"}'
expect_code "unknown reference" 404
act deskop reject "{\"ref\":\"$r2\",\"task\":\"$t2\",\"reason\":\"a\\u0007b\"}"
expect_code "reason with a control character" 400
act deskop reject "{\"ref\":\"$r2\",\"task\":\"$t2\"}"
expect_code "reject without reason" 400
req deskop GET "$DESK/desk/api/queue?limit=0"
expect_code "limit=0" 400
req deskop GET "$DESK/desk/api/queue?sort=nonsense"
expect_code "sort=nonsense" 400
req deskop GET "$DESK/desk/api/queue?carrier_ref=%zz"
expect_code "bad escape" 400
req deskop PUT "$DESK/desk/api/queue"
expect_code "PUT" 405

# --- the route table: 405 with what it allows, 404 for what it lacks ----------
# allow WHAT NAME: the last answer's Allow header (in $work/headers) is WHAT.
allow() {
	local got
	got=$(sed -n 's/^[Aa]llow: *\([^\r]*\)\r*$/\1/p' "$work/headers")
	[ "$got" = "$1" ] || fail "$2: Allow '$got', expected '$1': $(cat "$work/headers")"
}
req deskop PUT "$DESK/desk/api/queue" -D "$work/headers"
expect_code "PUT queue" 405
allow GET "PUT queue"
req deskop DELETE "$DESK/desk/api/requests/MXC-20260101-00000001" -D "$work/headers"
expect_code "DELETE a request" 405
allow GET "DELETE a request"
req deskop POST "$DESK/desk/api/queue" -H 'Content-Type: application/json' \
    --data-binary '{}' -D "$work/headers"
expect_code "POST queue" 405
[ "$(jget 'd["error"]')" = method ] || fail "POST queue: $body"
allow GET "POST queue"
req deskop GET "$DESK/desk/api/approve" -D "$work/headers"
expect_code "GET approve" 405
[ "$(jget 'd["message"]')" = "actions are POST" ] || fail "GET approve: $body"
allow POST "GET approve"
grep -qi '^X-Frame-Options: DENY' "$work/headers" || fail "405 without the desk's headers"
for m in GET POST; do
	if [ $m = GET ]; then
		req deskop GET "$DESK/desk/api/nonesuch" -D "$work/headers"
	else
		req deskop POST "$DESK/desk/api/nonesuch" -D "$work/headers" \
		    -H 'Content-Type: application/json' --data-binary '{}'
	fi
	expect_code "$m an unknown path" 404
	[ "$(jget 'd["error"]')" = not-found ] || fail "$m an unknown path: $body"
	! grep -qi '^Allow:' "$work/headers" || fail "$m an unknown path: an Allow"
done
req deskop PUT "$DESK/nonesuch"
expect_code "PUT an unknown path" 404
req deskop GET "$DESK/desk/api/requests"
expect_code "the requests prefix without its slash" 404
# Who is no desk person learns nothing of the table: 403 for every path.
req fgr GET "$DESK/desk/api/nonesuch"
expect_code "an unknown path as an official" 403
req fgr POST "$DESK/desk/api/queue" -H 'Content-Type: application/json' --data-binary '{}'
expect_code "POST queue as an official" 403

# --- hold, assign, note, show -------------------------------------------------
act deskop hold "{\"ref\":\"$r2\",\"task\":\"$t2\",\"note\":\"Falta el oficio firmado\"}"
expect_code "hold" 200
act deskop2 approve "{\"ref\":\"$r2\",\"task\":\"$t2\"}"
expect_code "approve a held task as operator" 409
act deskop assign "{\"ref\":\"$r2\",\"task\":\"$t2\",\"operator\":\"op.ramirez\"}"
expect_code "assign to self" 200
act deskop2 assign "{\"ref\":\"$r2\",\"task\":\"$t2\",\"operator\":\"op.diaz\"}"
expect_code "take another operator's task" 403
act deskop assign "{\"ref\":\"$r2\",\"task\":\"$t2\",\"operator\":\"ana.lopez\"}"
expect_code "assign to an official" 400
act desksup assign "{\"ref\":\"$r2\",\"task\":\"$t2\",\"operator\":\"op.diaz\"}"
expect_code "supervisor reassigns" 200
act deskop note "{\"ref\":\"$r2\",\"task\":\"$t2\",\"text\":\"Llamé a la fiscalía\"}"
expect_code "note" 200
req deskop GET "$DESK/desk/api/queue?holder=op.diaz"
expect_code "queue by holder" 200
[ "$(jget 'd["total"]')" = 1 ] && [ "$(jget 'd["tasks"][0]["task"]')" = "$t2" ] ||
    fail "queue by holder: $body"
[ "$(jget 'd["tasks"][0]["held"]')" = True ] || fail "not held: $body"
req deskop GET "$DESK/desk/api/requests/$r2"
expect_code "show" 200
[ "$(jget '[o for o in d["objects"] if o.get("task") == "'"$t2"'"][0]["last_note"]')" = "Llamé a la fiscalía" ] ||
    fail "show lacks the note: $body"
[ "$(jget '[o for o in d["objects"] if o.get("task") == "'"$t2"'"][0]["notes"]')" = 1 ] ||
    fail "show: notes: $body"
act deskop release "{\"ref\":\"$r2\",\"task\":\"$t2\"}"
expect_code "release by someone not holding it" 403
act desksup approve "{\"ref\":\"$r2\",\"task\":\"$t2\"}"
expect_code "supervisor approves a held task" 200
req deskop GET "$DESK/desk/api/requests/MXC-20990101-00000001"
expect_code "show unknown" 404

# Every action is journaled with its operator.
n=$(journal_show --request "$r2" | grep -c '"event":"EVENT_DESK_ACTION"')
[ "$n" = 5 ] || fail "$n desk records for $r2, expected 5 (hold, assign x2, note, approve)"
journal_show --request "$r2" | grep '"action":"assign"' | grep -q '"operator_id":"sup.torres"' ||
    fail "the supervisor's assignment does not name the supervisor"

# --- review-after: carried out at once, flagged for a second look ----------------
desk_submit subscriber-msisdn.xml
ra=$ref
req deskop GET "$DESK/desk/api/requests/$ra"
expect_code "show review-after" 200
[ "$(jget '[o for o in d["objects"] if o.get("type")][0]["review"]')" = review-after ] &&
    [ "$(jget '[o for o in d["objects"] if o.get("type")][0]["flagged"]')" = True ] ||
    fail "not flagged review-after: $body"
[ "$(jget '[o for o in d["objects"] if o.get("type")][0]["state"]')" != AwaitingApproval ] ||
    fail "a review-after task waits: $body"
act deskop2 reviewed "{\"ref\":\"$ra\"}"
expect_code "reviewed" 200
req deskop GET "$DESK/desk/api/requests/$ra"
[ "$(jget '[o for o in d["objects"] if o.get("type")][0]["flagged"]')" = False ] ||
    fail "still flagged after review: $body"
act deskop reviewed "{\"ref\":\"$ra\"}"
expect_code "reviewed twice" 409
act deskop reviewed "{\"ref\":\"$r2\",\"task\":\"$t2\"}"
expect_code "reviewed on a task not flagged" 409

# --- re-open: a supervisor flags a reviewed task again ---------------------------
act deskop reopen "{\"ref\":\"$ra\"}"
expect_code "reopen as an operator" 403
act desksup reopen "{\"ref\":\"$ra\"}"
expect_code "reopen a reviewed task" 200
req deskop GET "$DESK/desk/api/requests/$ra"
[ "$(jget '[o for o in d["objects"] if o.get("type")][0]["flagged"]')" = True ] ||
    fail "not flagged again after reopen: $body"
act desksup reopen "{\"ref\":\"$ra\"}"
expect_code "reopen with nothing to re-open" 409
act deskop2 reviewed "{\"ref\":\"$ra\"}"
expect_code "reviewed after reopen" 200
# An approval is not re-opened (the authority may have read it).
act desksup reopen "{\"ref\":\"$r2\",\"task\":\"$t2\"}"
expect_code "reopen an approved task" 409
journal_show --request "$ra" | grep '"action":"reopen"' |
    grep -q '"operator_id":"sup.torres"' || fail "the reopen is not journaled"

# --- a restart: the desk's state and the gate hold -------------------------------------
desk_submit records.xml
r4=$ref
req deskop GET "$DESK/desk/api/queue?carrier_ref=$r4&authority_ref=MX-FGR-000129"
t4=$(jget 'd["tasks"][0]["task"]')
act deskop hold "{\"ref\":\"$r4\",\"task\":\"$t4\",\"note\":\"Esperar oficio\"}"
expect_code "hold before restart" 200
act deskop2 assign "{\"ref\":\"$r4\",\"task\":\"$t4\",\"operator\":\"op.diaz\"}"
expect_code "assign before restart" 200
# A released hold is re-opened by a supervisor, with its note.
act desksup reopen "{\"ref\":\"$r4\",\"task\":\"$t4\"}"
expect_code "reopen a hold never released" 409
act desksup release "{\"ref\":\"$r4\",\"task\":\"$t4\"}"
expect_code "release before reopen" 200
req deskop GET "$DESK/desk/api/queue?carrier_ref=$r4"
[ "$(jget '[t for t in d["tasks"] if t["task"] == "'"$t4"'"][0].get("released_hold")')" = True ] ||
    fail "a released hold is not shown as one: $body"
act deskop reopen "{\"ref\":\"$r4\",\"task\":\"$t4\"}"
expect_code "reopen a hold as an operator" 403
act desksup reopen "{\"ref\":\"$r4\",\"task\":\"$t4\"}"
expect_code "reopen a released hold" 200
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null 2>&1 || fail "stack stop"
grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error:' -e 'ERROR: LeakSanitizer' \
    "$DIR/warrantd.log" && fail "sanitizer report before the restart"
"$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null || fail "stack restart"
req deskop GET "$DESK/desk/api/queue?carrier_ref=$r4"
expect_code "queue after restart" 200
[ "$(jget 'd["total"]')" = 2 ] || fail "after restart: $body"
[ "$(jget '[t for t in d["tasks"] if t["task"] == "'"$t4"'"][0]["held"]')" = True ] &&
    [ "$(jget '[t for t in d["tasks"] if t["task"] == "'"$t4"'"][0]["holder"]')" = op.diaz ] &&
    [ "$(jget '[t for t in d["tasks"] if t["task"] == "'"$t4"'"][0]["hold_note"]')" = "Esperar oficio" ] &&
    [ "$(jget '[t["state"] for t in d["tasks"]] == ["AwaitingApproval"] * 2')" = True ] ||
    fail "the desk's state or the gate did not survive the restart: $body"
journal_show --request "$r4" | grep -q '"event":"EVENT_BACKEND_CALL"' &&
    fail "the restart started calls for tasks under review"

# --- result contents: never by default -------------------------------------------
# Records of a subscriber the reference back end knows, approved: results kept.
msisdn=$(python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print(c.execute("select msisdn from subscriber order by id limit 1 offset 17").fetchone()[0])' \
    "$DIR/backend.db") || fail "no subscriber in $DIR/backend.db"
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/records.xml" >/dev/null || fail "restamp"
sed -i -e "s/>52[0-9]\{10\}</>$msisdn</g" "$work/records.xml"
fresh_uuids "$work/records.xml"
submit_as fgr "$work/records.xml"
expect_exit 0
res_ref=$(grep -o 'MXC-[0-9]*-[0-9]*' <<<"$out" | head -n 1)
req deskop GET "$DESK/desk/api/queue?carrier_ref=$res_ref"
res_task=$(jget '[t for t in d["tasks"] if t["authority_ref"] == "MX-FGR-000129"][0]["task"]')
act desksup approve "{\"ref\":\"$res_ref\",\"task\":\"$res_task\"}"
expect_code "approve records with results" 200
for i in $(seq 1 300); do
	req deskop GET "$DESK/desk/api/requests/$res_ref"
	[ "$(jget 'any(o["kind"] == "Delivery" for o in d["objects"])')" = True ] &&
	    break
	sleep 0.1
done
[ "$(jget 'any(o["kind"] == "Delivery" for o in d["objects"])')" = True ] ||
    fail "no result parts for $res_ref to test with: $body"
for r in "$res_ref" "$ra"; do
	req deskop GET "$DESK/desk/api/requests/$r"
	expect_code "show $r" 200
	[ "$(jget 'any("content_base64" in o for o in d["objects"])')" = False ] ||
	    fail "result contents shown without desk show-results: $body"
	journal_show --request "$r" | grep -q '"action":"view-results"' &&
	    fail "a view without contents was journaled as view-results"
done

# --- a reload: a suspended operator is refused; the listener stays as started --------
printf 'desk show-results communication-records\n' >>"$DIR/warrantd.conf"
sed -i -e '/^operator "op.diaz" {$/a\
	suspended' "$DIR/registry.conf"
printf 'desk pages "/nonexistent"\n' >>"$DIR/warrantd.conf"
sed -i -e '0,/^desk pages /{/^desk pages /d}' "$DIR/warrantd.conf"
kill -HUP "$(cat "$DIR/warrantd.pid")"
for i in $(seq 1 100); do
	grep -q 'configuration generation 2 in force' "$DIR/warrantd.log" && break
	sleep 0.1
done
grep -q 'configuration generation 2 in force' "$DIR/warrantd.log" || fail "reload not done"
grep -q 'desk listen and desk pages changes need a restart' "$DIR/warrantd.log" ||
    fail "a desk pages change on reload is not reported"
req deskop2 GET "$DESK/desk/api/me"
expect_code "a suspended operator after reload" 403
req deskop GET "$DESK/"
expect_code "the console after a reload that names other pages" 200

# --- result contents for the types desk show-results names, journaled -------------
req deskop GET "$DESK/desk/api/requests/$res_ref"
expect_code "show with desk show-results" 200
python3 - "$body" "$res_task" "$work/shown" <<'PY' || fail "result contents under desk show-results: $body"
import base64, hashlib, json, sys
d = json.loads(sys.argv[1])
parts = [o for o in d["objects"] if o["kind"] == "Delivery" and o["task"] == sys.argv[2]]
assert parts and all("content_base64" in p for p in parts), parts
for p in parts:
    # What is shown is what was stored: the part's own digest.
    assert hashlib.sha256(base64.b64decode(p["content_base64"])).hexdigest() == p["sha256"], p
assert isinstance(d["journal_seq"], int), d
open(sys.argv[3], "w").write(str(d["journal_seq"]))
PY
journal_show --request "$res_ref" | python3 -c '
import json, sys
recs = [json.loads(l) for l in sys.stdin if "view-results" in l]
assert len(recs) == 1, recs
r = recs[0]
assert r["desk"]["operator_id"] == "op.ramirez", r
assert r["desk"]["object_id"] == sys.argv[2], r
assert r["seq"] == int(open(sys.argv[1]).read()), r
' "$work/shown" "$res_task" || fail "the view of $res_ref is not journaled as view-results"
# Another type (subscriber-identity) stays metadata only, and is not journaled.
req deskop GET "$DESK/desk/api/requests/$ra"
expect_code "show subscriber-identity under desk show-results" 200
[ "$(jget 'any("content_base64" in o for o in d["objects"])')" = False ] ||
    fail "result contents of a type desk show-results does not name: $body"
journal_show --request "$ra" | grep -q '"action":"view-results"' &&
    fail "a view of a type not shown was journaled"

# --- warrantctl desk ------------------------------------------------------------
dctl() {
	local name=$1
	shift
	rc=0
	out=$("$WARRANTCTL" --url "$DESK" --cacert "$WARRANT_CACERT" \
	    --cert "$DIR/$name.pem" --key "$DIR/$name.key" --timeout 20 \
	    desk "$@" 2>&1) || rc=$?
}
desk_submit records.xml
r3=$ref
dctl deskop queue "carrier_ref=$r3" "sort=ref"
expect_exit 0
expect_output_contains "2 open tasks"
expect_output_contains "$r3 "
expect_output_contains " AwaitingApproval "
dctl deskop --json queue "carrier_ref=$r3"
expect_exit 0
python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["total"] == 2, d' <<<"$out" ||
    fail "desk --json queue: $out"
t3=$(python3 -c 'import json,sys; d=json.load(sys.stdin)
print([t["task"] for t in d["tasks"] if t["authority_ref"] == "MX-FGR-000129"][0])' <<<"$out")
dctl deskop approve "$r3"
expect_exit 1
expect_output_contains "HTTP 409 ambiguous"
dctl deskop approve "$r3" --task "$t3"
expect_exit 0
expect_output_contains "approve $r3: done by op.ramirez (journal record "
dctl deskop reject "$r3" --reason "Periodo fuera de la orden"
expect_exit 0
dctl deskop show "$r3"
expect_exit 0
expect_output_contains "Rejected"
# reopen: supervisors only; an approval or a rejection is never re-opened.
dctl deskop reopen "$r3" --task "$t3"
expect_exit 1
expect_output_contains "HTTP 403 forbidden"
dctl desksup reopen "$r3" --task "$t3"
expect_exit 1
expect_output_contains "HTTP 409 not-reopenable"
dctl desksup reopen "$ra"
expect_exit 0
expect_output_contains "reopen $ra: done by sup.torres (journal record "
dctl deskop reject "$r3"
expect_exit 2
dctl fgr queue
expect_exit 1
expect_output_contains "HTTP 403 forbidden"
dctl deskop note MXC-20990101-00000001 "texto"
expect_exit 1
expect_output_contains "HTTP 404"
dctl deskop queue "nonsense"
expect_exit 2

pass
