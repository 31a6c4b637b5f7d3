#!/usr/bin/env bash
# store-behind.sh — a record the object store cannot take is caught up from
# the journal, never skipped (src/warrantd/store_sync.c).
#
# Another process holds objects.db's write lock (BEGIN EXCLUSIVE) longer
# than the store's busy timeout while an authority's request is accepted:
# the request is still accepted (the journal is what it waits for), the
# daemon says the store fell behind, and once the lock is gone it catches up
# without a restart: the task answers GET with its reference, and the
# store's position is the journal's size. Before store_sync, the record was
# given up after three tries and its task stayed unknown (412) to GET.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
command -v xmllint >/dev/null || skip "xmllint missing (libxml2-utils)"
command -v sqlite3 >/dev/null || skip "sqlite3 missing"
command -v python3 >/dev/null || skip "python3 missing"
stack_up
AUDIT=${WARRANT_AUDIT:-$TOP_BUILDDIR/src/warrant-audit/warrant-audit}
LOG=$DIR/warrantd.log
DB=$DIR/state/objects.db
[ -f "$DB" ] || fail "no object store at $DB"

work=$DIR/work
records_request 3

# get AUTHORITY ID: a GET of one object, as an authority's system sends it.
get_msg() {
	cat <<XML
<?xml version="1.0" encoding="UTF-8"?>
<HI1Message xmlns="http://uri.etsi.org/03120/common/2019/10/Core">
<Header><SenderIdentifier><CountryCode>MX</CountryCode><UniqueIdentifier>$1</UniqueIdentifier></SenderIdentifier>
<ReceiverIdentifier><CountryCode>MX</CountryCode><UniqueIdentifier>MXCARRIER</UniqueIdentifier></ReceiverIdentifier>
<TransactionIdentifier>$(cat /proc/sys/kernel/random/uuid)</TransactionIdentifier><Timestamp>$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)</Timestamp>
<Version><ETSIVersion>V1.12.1</ETSIVersion><NationalProfileOwner>MX</NationalProfileOwner><NationalProfileVersion>1.0</NationalProfileVersion></Version></Header>
<Payload><RequestPayload><ActionRequests><ActionRequest><ActionIdentifier>0</ActionIdentifier><GET><Identifier>$2</Identifier></GET></ActionRequest></ActionRequests></RequestPayload></Payload></HI1Message>
XML
}
# answer_xp XPATH: its string value in the last answer, namespaces ignored.
answer_xp() {
	printf '%s\n' "$out" | sed -n '/^<?xml/,$p' | sed -e 's/xmlns="[^"]*"//' |
	    xmllint --xpath "string($1)" - 2>/dev/null
}
applied() { sqlite3 "$DB" "select value from meta where key = 'applied'"; }
journal_size() { "$AUDIT" show --journal "$DIR/state/journal" 2>/dev/null | grep -c .; }

# --- the store's write lock held for 8 s, past its 2 s busy timeout (and past
# the three tries of 2 s the store used to give a record) ------------
python3 - "$DB" "$DIR/locked" 8 <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
time.sleep(float(sys.argv[3]))
db.execute("ROLLBACK")
PY
locker=$!
for _ in $(seq 1 100); do [ -f "$DIR/locked" ] && break; sleep 0.1; done
[ -f "$DIR/locked" ] || fail "the lock on $DB was never taken"

submit_as fgr "$work/records.xml"; expect_exit 0
# (The answer's objects come from the store, so this one lacks the
# carrier's reference: the log line of the acceptance names it.)
task=$(grep -o 'LDTaskObject [0-9a-f-]*' <<<"$out" | head -n 1 | cut -d' ' -f2)
ref=$(grep -o 'MXC-[0-9]*-[0-9]* accepted' "$LOG" | tail -n 1 | cut -d' ' -f1)
[ -n "$ref" ] && [ -n "$task" ] || fail "no reference or task while the store was locked: $out"
grep -q "object store behind the journal" "$LOG" ||
    fail "the daemon did not say the store fell behind: $(tail -n 5 "$LOG")"
wait "$locker" || fail "the lock holder failed"

# --- caught up without a restart ---------------------------------------------------
for _ in $(seq 1 150); do
	grep -q "object store caught up with the journal" "$LOG" && break
	sleep 0.2
done
grep -q "object store caught up with the journal" "$LOG" ||
    fail "the store never caught up: $(grep 'object store' "$LOG" | tail -n 3)"
get_msg FGR "$task" >"$work/get.xml"
submit_as --xml fgr "$work/get.xml"
[ "$(answer_xp '//GETResponse/HI1Object/ObjectIdentifier')" = "$task" ] ||
    fail "the task accepted while the store was locked is unknown to GET: $out"
[ "$(answer_xp '//GETResponse/HI1Object/ExternalIdentifier')" = "$ref" ] ||
    fail "GET answered the task without its reference: $out"
# Everything the journal holds now (the GET's own record included) is applied.
for _ in $(seq 1 50); do
	[ "$(applied)" = "$(journal_size)" ] && break
	sleep 0.2
done
[ "$(applied)" = "$(journal_size)" ] ||
    fail "the store is at record $(applied), the journal holds $(journal_size)"
pass "a record refused by a locked store was caught up from the journal; GET finds its task"
