#!/usr/bin/env bash
# pull-stream.sh — a GET of a Delivery object streamed from the results
# store into the connection (src/warrantd/answer_stream.c), against a real daemon
# and the reference back end, with parts of many chunks (3000 records for
# one line: three parts of up to 1 MiB, each stored in 48 KiB chunks):
#
#  - every part comes whole: its Data decodes to its Checksum, which is the
#    journal's digest, and the answer is exactly its Content-Length
#  - clients that go away half way through an answer: the daemon carries
#    on, answers the next GET whole, and leaks nothing (ASan, at its stop)
#  - a byte altered in the middle of a stored part: the answer stops short
#    of Content-Length (curl: a partial transfer), what came is a prefix of
#    the true answer's data, nothing after the part (no closing tags) went
#  - a byte altered in a part's first chunk: answered as an error (the
#    first chunk is checked before the answer begins), with no Data
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
command -v curl >/dev/null || skip "curl missing"
command -v sqlite3 >/dev/null || skip "sqlite3 missing"
command -v xmllint >/dev/null || skip "xmllint missing (libxml2-utils)"
stack_up
AUDIT=${WARRANT_AUDIT:-$TOP_BUILDDIR/src/warrant-audit/warrant-audit}
[ -s "$DIR/backend.db" ] || skip "the stack runs no back end"
NREC=3000

work=$DIR/work
records_request 7
records_fill "$NREC"

uuid() { cat /proc/sys/kernel/random/uuid; }
get_msg() {	# ID...: a GET of each, as FGR
	local i=0 id
	cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<HI1Message xmlns="http://uri.etsi.org/03120/common/2019/10/Core">
<Header><SenderIdentifier><CountryCode>MX</CountryCode><UniqueIdentifier>FGR</UniqueIdentifier></SenderIdentifier>
<ReceiverIdentifier><CountryCode>MX</CountryCode><UniqueIdentifier>MXCARRIER</UniqueIdentifier></ReceiverIdentifier>
<TransactionIdentifier>$(uuid)</TransactionIdentifier><Timestamp>$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)</Timestamp>
<Version><ETSIVersion>V1.12.1</ETSIVersion><NationalProfileOwner>MX</NationalProfileOwner><NationalProfileVersion>1.0</NationalProfileVersion></Version></Header>
<Payload><RequestPayload><ActionRequests>
EOF
	for id in "$@"; do
		echo "<ActionRequest><ActionIdentifier>$i</ActionIdentifier><GET><Identifier>$id</Identifier></GET></ActionRequest>"
		i=$((i + 1))
	done
	echo "</ActionRequests></RequestPayload></Payload></HI1Message>"
}
# fetch OUT ID...: a GET by curl; the body in OUT, curl's status in $rc,
# the headers in OUT.h.
fetch() {
	local o=$1
	shift
	get_msg "$@" >"$work/get.xml"
	rc=0
	curl -sS --cacert "$WARRANT_CACERT" --cert "$DIR/fgr.pem" --key "$DIR/fgr.key" \
	    -H 'Content-Type: application/xml' --data-binary @"$work/get.xml" \
	    -D "$o.h" -o "$o" "$WARRANT_URL/hi1" 2>"$o.err" || rc=$?
}
# The text of element NAME of the Delivery's BinaryData (not the
# Manifest's: the last part has both) in FILE; N: of the N-th Delivery.
elem() {
	sed -e 's/xmlns="[^"]*"//' "$1" | xmllint --xpath "string((//*[local-name()=\"Delivery\"]/*[local-name()=\"BinaryData\"]/*[local-name()=\"$2\"])[${3:-1}])" - 2>/dev/null
}
journal() { "$AUDIT" show --journal "$DIR/state/journal" 2>/dev/null; }

submit_as fgr "$work/records.xml"; expect_exit 0
ref=$(grep -o 'MXC-[0-9]*-[0-9]*' <<<"$out" | head -n 1)
[ -n "$ref" ] || fail "no reference in: $out"
for i in $(seq 1 300); do
	journal | grep -q "EVENT_DELIVERY_READY ref=$ref " && break
	sleep 0.2
done
ready=$(journal | grep "EVENT_DELIVERY_READY ref=$ref " | head -n 1)
[ -n "$ready" ] || fail "the records were never packaged"
# part=ID:SEQ/TOTAL:RECORDS:SHA16 for each part, in order
# (the parts holding records: a part for an identifier without any is small)
mapfile -t parts < <(grep -o 'part=[^ ]*' <<<"$ready" | sed 's/^part=//' |
    awk -F: '$3 >= 500')
[ "${#parts[@]}" -ge 3 ] || fail "expected at least 3 parts of $NREC records, got ${#parts[@]}: $ready"
pid=() ; sha=() ; seq=()
for p in "${parts[@]}"; do
	IFS=: read -r i q n h <<<"$p"
	pid+=("$i")
	seq+=("${q%/*}")
	sha+=("$h")
done

# --- every part whole ----------------------------------------------------------
for k in 0 1 2; do
	fetch "$work/good$k" "${pid[$k]}"
	[ "$rc" = 0 ] || fail "GET of part $((k + 1)): curl $rc: $(cat "$work/good$k.err")"
	len=$(tr -d '\r' <"$work/good$k.h" | sed -n 's/^Content-Length: //Ip')
	[ "$(wc -c <"$work/good$k")" = "$len" ] || fail "part $((k + 1)): not Content-Length bytes"
	data=$(elem "$work/good$k" Data)
	size=$(printf '%s' "$data" | base64 -d | wc -c)
	[ "$size" -gt $((96 * 1024)) ] || fail "part $((k + 1)) is $size bytes: not several chunks"
	sum=$(printf '%s' "$data" | base64 -d | sha256sum | cut -d' ' -f1)
	[ "$sum" = "$(elem "$work/good$k" Checksum)" ] || fail "part $((k + 1)): Data is not its Checksum"
	[ "${sum:0:16}" = "${sha[$k]}" ] || fail "part $((k + 1)): not the journal's digest"
done
# Several parts in one answer, streamed one after the other.
fetch "$work/two" "${pid[0]}" "${pid[1]}"
[ "$rc" = 0 ] || fail "GET of two parts: curl $rc"
[ "$(elem "$work/two" Data 1 | base64 -d | sha256sum | cut -c1-16)" = "${sha[0]}" ] ||
    fail "two parts: the first is not whole"
[ "$(elem "$work/two" Data 2 | base64 -d | sha256sum | cut -c1-16)" = "${sha[1]}" ] ||
    fail "two parts: the second is not whole"

# --- clients that go away half way ----------------------------------------------
get_msg "${pid[0]}" "${pid[1]}" >"$work/get-gone.xml"
for i in 1 2 3 4 5; do
	curl -sS --cacert "$WARRANT_CACERT" --cert "$DIR/fgr.pem" --key "$DIR/fgr.key" \
	    -H 'Content-Type: application/xml' --data-binary @"$work/get-gone.xml" \
	    "$WARRANT_URL/hi1" 2>/dev/null | head -c $((i * 100000)) >/dev/null || true
done
fetch "$work/after" "${pid[0]}"
[ "$rc" = 0 ] || fail "a GET after the clients that went away: curl $rc"
[ "$(elem "$work/after" Data)" = "$(elem "$work/good0" Data)" ] || fail "part 1 changed"

# --- a byte altered in the middle of a stored part --------------------------------
# The request made two tasks, so two deliveries: every stored part SEQ is
# altered (the part fetched is one of them).
res() {	# SEQ: the stored files of part SEQ
	local f
	f=$(ls "$DIR"/state/results/*".p$1.res" 2>/dev/null)
	[ -n "$f" ] || fail "no stored file for part $1 in $(ls "$DIR/state/results")"
	echo "$f"
}
flip() {	# FILE OFFSET
	local b
	b=$(dd if="$1" bs=1 skip="$2" count=1 2>/dev/null | xxd -p)
	[ -n "$b" ] || fail "cannot read byte $2 of $1"
	printf "$(printf '\\x%02x' $((0x$b ^ 0x55)))" |
	    dd of="$1" bs=1 seek="$2" count=1 conv=notrunc 2>/dev/null
}
for f in $(res "${seq[1]}"); do
	flip "$f" $(($(stat -c %s "$f") / 2))
done
fetch "$work/bad1" "${pid[1]}"
[ "$rc" = 18 ] || fail "an altered part: curl $rc, expected 18 (a partial transfer): $(cat "$work/bad1.err")"
grep -q '</HI1Message>' "$work/bad1" && fail "the altered part's answer was completed"
grep -q '</delivery:Data>' "$work/bad1" && fail "the text after the altered part went out"
got=$(sed -n 's/.*<delivery:Data>//p' "$work/bad1" | tr -d '\n')
want=$(elem "$work/good1" Data)
[ "${#got}" -gt 0 ] && [ "${#got}" -lt $((${#want} * 3 / 4)) ] ||
    fail "an altered part: ${#got} characters of Data sent, of ${#want}"
[ "${want:0:${#got}}" = "$got" ] || fail "what went out of the altered part is not its true beginning"
grep -q 'the answer cannot be completed' "$DIR/warrantd.log" || fail "the cut answer was not logged"

# --- a byte altered in a part's first chunk ------------------------------------------
for f in $(res "${seq[2]}"); do
	name=$(basename "$f" .res)
	flip "$f" $((8 + 4 + 4 + 8 + 32 + ${#name} + 17 + 100))
done
fetch "$work/bad0" "${pid[2]}"
[ "$rc" = 0 ] || fail "a part altered at its start: curl $rc"
grep -q '<ErrorInformation>' "$work/bad0" || fail "a part altered at its start was not an error: $(head -c 2000 "$work/bad0")"
grep -q '<delivery:Data>' "$work/bad0" && fail "a part altered at its start went out"

# --- nothing leaked: a stop under ASan reports any leak ------------------------------
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
if grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error:' -e 'ERROR: LeakSanitizer' \
    "$DIR/warrantd.log" 2>/dev/null; then
	fail "sanitizer report in warrantd.log: $(grep -A12 'ERROR:' "$DIR/warrantd.log" | head -n 30)"
fi
"$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null || fail "restart failed"
pass
