#!/usr/bin/env bash
# desk-journald.sh — the alert path to journald (src/warrantd/alert_out.c): a raised
# alert is one native journal entry with PRIORITY and structured fields.
#
# libsystemd's sd_journal_send writes to the fixed path
# /run/systemd/journal/socket, which cannot be redirected. So warrantd is run
# (as systemd runs it: without -d, JOURNAL_STREAM set) in a mount namespace
# of its own (unshare -m, root) where a private /run/systemd/journal is a
# directory holding our socket: journal-sink.py, which reads the native
# protocol (KEY=VALUE and the binary-length form, memfds) and writes each
# entry as JSON. The machine's journald, if any, is never touched. With a
# 15 s answer deadline and alert-warn 1, a task under review warns at once
# (PRIORITY=4) and is missed 15 s later (PRIORITY=2); each entry must carry
# MESSAGE, WARRANTD_REF (the carrier reference), WARRANTD_DEADLINE (the
# deadline the desk's API gives), WARRANTD_ALERT_LEVEL, WARRANTD_CLOCK,
# WARRANTD_AUTHORITY, WARRANTD_OBJECT and WARRANTD_TYPE, and no identifier
# or authority reference. Skipped, loudly, only without root or unshare.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
. "$srcdir/tests/integration/desk-lib.sh"
[ "$(id -u)" = 0 ] ||
    skip "not root: the alert path to journald is NOT tested (needs a mount namespace)"
command -v unshare >/dev/null ||
    skip "no unshare (util-linux): the alert path to journald is NOT tested"
unshare -m --propagation private true 2>/dev/null ||
    skip "unshare -m refused here: the alert path to journald is NOT tested"
python3 "$TOP_SRCDIR/tests/integration/journal-sink.py" --self-test >/dev/null ||
    fail "journal-sink.py's parser self-test"

DESK_CONF="alert-warn 1
deadlines {
	communication-records 15s
}"
desk_stack_up
JD=$DIR/journald
mkdir -p "$JD/run"
python3 "$TOP_SRCDIR/tests/integration/journal-sink.py" "$JD/run/socket" \
    "$JD/entries" 300 2>"$JD/sink.err" &
sinkpid=$!
trap 'kill "$sinkpid" 2>/dev/null; stack_down' EXIT
for _ in $(seq 1 100); do [ -S "$JD/run/socket" ] && break; sleep 0.1; done
[ -S "$JD/run/socket" ] || fail "journal-sink did not bind: $(cat "$JD/sink.err")"

# The stack's warrantd (started with -d, logging to a file) is replaced by
# one run as systemd would run it, in its own mount namespace.
pid=$(cat "$DIR/warrantd.pid")
kill "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$pid" 2>/dev/null || fail "warrantd $pid did not stop"
# /run/systemd (or /run, where it does not exist) becomes a private tmpfs in
# the namespace, its journal directory our sink's: unshare without --fork
# and exec keep the daemon's pid the one we record.
if [ -d /run/systemd ]; then top=/run/systemd; else top=/run; fi
JOURNAL_STREAM=0:0 unshare -m --propagation private /bin/sh -c '
	mount -t tmpfs -o mode=0755 warrantd-test "$1" &&
	mkdir -p /run/systemd/journal &&
	mount --bind "$2" /run/systemd/journal || exit 97
	shift 2
	exec "$@"' sh "$top" "$JD/run" "$WARRANTD" -f "$DIR/warrantd.conf" \
    >>"$DIR/warrantd.log" 2>&1 &
echo $! >"$DIR/warrantd.pid"
for _ in $(seq 1 100); do
	req deskop GET "$DESK/desk/api/me"
	[ "$code" = 200 ] && break
	kill -0 "$(cat "$DIR/warrantd.pid")" 2>/dev/null ||
	    fail "warrantd in its namespace did not start: $(tail -5 "$DIR/warrantd.log")"
	sleep 0.2
done
expect_code "the desk after the restart" 200
# Its log lines go to the sink now, not to the file: the journal path works.
for _ in $(seq 1 100); do
	grep -q 'desk listening' "$JD/entries" 2>/dev/null && break
	sleep 0.1
done
grep -q 'desk listening' "$JD/entries" ||
    fail "no log line reached the journal socket: $(head -c 600 "$JD/entries" 2>/dev/null)"

"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/records.xml" >/dev/null ||
    fail "restamp records.xml"
fresh_uuids "$work/records.xml"
submit_as fgr "$work/records.xml"
expect_exit 0
ref=$(grep -o 'MXC-[0-9]*-[0-9]*' <<<"$out" | head -n 1)
[ -n "$ref" ] || fail "no carrier reference: $out"
req deskop GET "$DESK/desk/api/queue?carrier_ref=$ref"
expect_code "queue" 200
deadlines=$(jget '" ".join(sorted(t["task"] + "=" + t["deadline"] for t in d["tasks"]))')
secrets=$(grep -ho -e '<task:Value>[^<]*' -e '<task:Reference>[^<]*' \
    -e '<auth:AuthorisationReference>[^<]*' "$work/records.xml" | cut -d'>' -f2 | sort -u)
[ -n "$secrets" ] || fail "no identifiers or references taken from records.xml"

# check_entries LEVEL PRIORITY: both tasks' alerts at LEVEL, fields checked.
check_entries() {
	python3 - "$JD/entries" "$ref" "$1" "$2" "$deadlines" "$secrets" <<'EOF'
import json, re, sys
path, ref, level, prio, deadlines, secrets = sys.argv[1:7]
want = dict(x.split("=", 1) for x in deadlines.split())
got = {}
for line in open(path):
    e = json.loads(line)
    if "SINK_ERROR" in e:
        sys.exit("malformed entry: %s" % e["SINK_ERROR"][0])
    if e.get("WARRANTD_REF") != [ref] or e.get("WARRANTD_ALERT_LEVEL") != [level]:
        continue
    one = {k: v[0] for k, v in e.items()}
    for k, v in e.items():
        if len(v) != 1:
            sys.exit("field %s given %d times: %s" % (k, len(v), e))
    if one.get("PRIORITY") != prio:
        sys.exit("PRIORITY %s, expected %s: %s" % (one.get("PRIORITY"), prio, one))
    for k in ("MESSAGE", "WARRANTD_DEADLINE", "WARRANTD_CLOCK", "WARRANTD_AUTHORITY",
              "WARRANTD_OBJECT", "WARRANTD_TYPE"):
        if not one.get(k):
            sys.exit("no %s: %s" % (k, one))
    if ref not in one["MESSAGE"]:
        sys.exit("MESSAGE does not name %s: %s" % (ref, one["MESSAGE"]))
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", one["WARRANTD_DEADLINE"]):
        sys.exit("WARRANTD_DEADLINE is not ISO 8601 UTC: %s" % one["WARRANTD_DEADLINE"])
    if (one["WARRANTD_CLOCK"], one["WARRANTD_AUTHORITY"], one["WARRANTD_TYPE"]) != \
            ("answer", "FGR", "communication-records"):
        sys.exit("clock, authority or type: %s" % one)
    for s in secrets.split("\n"):
        if s and any(s in v for v in one.values()):
            sys.exit("an identifier or reference reached journald: %r in %s" % (s, one))
    got[one["WARRANTD_OBJECT"]] = one["WARRANTD_DEADLINE"]
if got != want:
    print("want %s, got %s" % (want, got), file=sys.stderr)
    sys.exit(3)
EOF
}

# wait_entries LEVEL PRIORITY: a minute at most (not a timing assertion).
wait_entries() {
	local rc
	for _ in $(seq 1 120); do
		rc=0
		check_entries "$1" "$2" 2>"$JD/check.err" || rc=$?
		[ "$rc" = 0 ] && return 0
		[ "$rc" = 3 ] || fail "$1 alert in journald: $(cat "$JD/check.err")"
		sleep 0.5
	done
	fail "no $1 alerts (PRIORITY=$2) for $ref's two tasks reached journald: $(cat "$JD/check.err")"
}
wait_entries warning 4
wait_entries critical 2
# And the file log got none of it: the alerts went to the journal only.
! grep -q "$ref: CRITICAL" "$DIR/warrantd.log" ||
    fail "the critical alert went to the log file, not journald"
kill "$sinkpid" 2>/dev/null
pass
