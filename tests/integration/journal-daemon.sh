#!/usr/bin/env bash
# journal-daemon.sh — what the journal promises, checked on a journal the
# real daemon wrote: one record per answered request (accepted, refused,
# invalid, refused in the TLS handshake) plus the daemon's start and stop;
# warrant-audit verifies it after SIGTERM (final checkpoint signs every
# record); `show --json` holds every reference a client was given, with the
# SHA-256 of exactly the bytes sent, and nothing of the request body but the
# identifiers; `report` counts the same; a journal truncated behind its
# newest signed checkpoint makes the daemon refuse to start, saying why,
# without touching it; and the intact journal goes on where it stopped.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
AUDIT=${WARRANT_AUDIT:-$TOP_BUILDDIR/src/warrant-audit/warrant-audit}
[ -x "$AUDIT" ] || skip "$AUDIT not built"
command -v perl >/dev/null || skip "no perl"
command -v sha256sum >/dev/null || skip "no sha256sum"

stack_up

J=$DIR/state/journal
work=$DIR/samples
mkdir -p "$work/fgr" "$work/fgecdmx"
for f in "$SAMPLES"/*.xml; do
	case $(grep -m1 -A2 '<SenderIdentifier>' "$f") in
	*FGJCDMX*) who=fgecdmx ;;
	*) who=fgr ;;
	esac
	"$TOP_SRCDIR/tests/restamp" -o "$work/$who" "$f"
done

n_acc=0 n_http=0 n_tls=0
declare -A file_of	# carrier reference -> the file it was given for
declare -A acc_by	# authority -> acceptances
tally() {	# authority
	local line ref f
	while IFS= read -r line; do
		case $line in
		*": ACCEPTED (HTTP 200) carrier reference MXC-"*)
			ref=${line##* }
			f=${line%%: ACCEPTED*}
			[ -z "${file_of[$ref]:-}" ] || fail "reference $ref given twice"
			file_of[$ref]=$f
			n_acc=$((n_acc + 1))
			acc_by[$1]=$((${acc_by[$1]:-0} + 1)) ;;
		*": REFUSED (HTTP 4"*) n_http=$((n_http + 1)) ;;
		*": REFUSED by the server during the TLS handshake"*) n_tls=$((n_tls + 1)) ;;
		*": "[A-Z]*" (HTTP "*) fail "unexpected answer: $line" ;;
		esac
	done <<<"$out"
}

# Every sample, by its own authority.
submit_as fgr "$work"/fgr/*.xml; expect_exit 0; tally FGR
submit_as fgecdmx "$work"/fgecdmx/*.xml; expect_exit 0; tally FGJCDMX
[ "$n_acc" = "$(ls "$work"/fgr/*.xml "$work"/fgecdmx/*.xml | wc -l)" ] ||
    fail "not every sample was accepted: $n_acc"
# Refusals that reach HTTP: unregistered, suspended, wrong authority,
# malformed identifier (per-action error), then handshake refusals.
sed 's/Value>525512345678</Value>5255123456789</' \
    "$work/fgr/subscriber-msisdn.xml" >"$work/bad-msisdn.xml"
submit_as unregistered "$work/fgr/subscriber-msisdn.xml"; expect_exit 1; tally -
submit_as suspended "$work/fgr/subscriber-imsi.xml"; expect_exit 1; tally -
submit_as fgecdmx "$work/fgr/interception.xml"; expect_exit 1; tally -
submit_as fgr "$work/bad-msisdn.xml"; expect_exit 1; tally -
submit_as revoked "$work/fgr/subscriber-msisdn.xml"; expect_exit 1; tally -
submit_as rogue "$work/fgr/subscriber-msisdn.xml"; expect_exit 1; tally -
[ "$n_http" = 4 ] && [ "$n_tls" = 2 ] ||
    fail "expected 4 HTTP refusals and 2 handshake refusals, got $n_http and $n_tls"

"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
grep -q 'ERROR: AddressSanitizer\|runtime error:' "$DIR/warrantd.log" &&
    fail "sanitizer report in warrantd.log"
n_req=$((1 + n_acc + n_http + n_tls + 1))	# start, answers, stop

# --- show --json ------------------------------------------------------------
"$AUDIT" show --journal "$J" --json >"$DIR/show.json" 2>"$DIR/show.err" ||
    fail "show --json: $(cat "$DIR/show.err")"
# Other events (the back end's calls and results, what the lifecycle made
# of them: changes, parts, deadlines) may be journaled too; nothing else,
# and no repair of any kind, in a run without crashes.
n_rec=$(wc -l <"$DIR/show.json")
n_other=$(grep -c -v -e '"event":"EVENT_REQUEST_\(ACCEPTED\|REFUSED\|INVALID\)"' \
    -e '"event":"EVENT_TLS_REFUSED"' -e '"event":"EVENT_DAEMON_\(START\|STOP\)"' \
    -e '"event":"EVENT_\(BACKEND\|RESULT\)_[A-Z_]*"' \
    -e '"event":"EVENT_\(OBJECT_CHANGED\|DELIVERY_READY\|DEADLINE\)"' "$DIR/show.json")
[ "$n_other" = 0 ] || fail "unexpected records: $(grep -v -e REQUEST_ -e TLS_REFUSED -e DAEMON_ -e BACKEND_ -e RESULT_ -e OBJECT_CHANGED -e DELIVERY_READY -e DEADLINE "$DIR/show.json")"
count() { grep -c "\"event\":\"$1\"" "$DIR/show.json"; }

# --- verify ---------------------------------------------------------------
"$AUDIT" verify --journal "$J" --pubkey "$DIR/journal.pub" >"$DIR/verify.out" 2>&1 ||
    fail "verify: $(cat "$DIR/verify.out")"
grep -q "^OK: .* $n_rec records in 1 segments, .*newest signs $n_rec records" \
    "$DIR/verify.out" ||
    fail "verify does not count the $n_rec records show lists, all signed: $(cat "$DIR/verify.out")"
echo "verify: $(cat "$DIR/verify.out")"
[ "$(grep -c '"event":"EVENT_\(REQUEST_[A-Z]*\|TLS_REFUSED\|DAEMON_[A-Z]*\)"' "$DIR/show.json")" = "$n_req" ] ||
    fail "not one record per answer ($n_acc accepted, $n_http refused, $n_tls TLS) plus start and stop"
[ "$(count EVENT_DAEMON_START)" = 1 ] && [ "$(count EVENT_DAEMON_STOP)" = 1 ] ||
    fail "start/stop records: $(count EVENT_DAEMON_START)/$(count EVENT_DAEMON_STOP)"
[ "$(count EVENT_REQUEST_ACCEPTED)" = "$n_acc" ] || fail "accepted records: $(count EVENT_REQUEST_ACCEPTED)"
[ "$(count EVENT_TLS_REFUSED)" = "$n_tls" ] || fail "TLS refusals: $(count EVENT_TLS_REFUSED)"
[ "$(($(count EVENT_REQUEST_REFUSED) + $(count EVENT_REQUEST_INVALID)))" = "$n_http" ] ||
    fail "refused/invalid records: $(count EVENT_REQUEST_REFUSED)/$(count EVENT_REQUEST_INVALID)"
[ "$(count EVENT_REQUEST_INVALID)" -ge 1 ] || fail "the malformed MSISDN left no EVENT_REQUEST_INVALID"
# Each reference given: exactly one acceptance, with the digest of the
# bytes that were sent.
for ref in "${!file_of[@]}"; do
	line=$(grep "\"event\":\"EVENT_REQUEST_ACCEPTED\",\"carrier_ref\":\"$ref\"" "$DIR/show.json")
	[ "$(grep -c . <<<"$line")" = 1 ] || fail "$ref: $(grep -c . <<<"$line") acceptance records"
	sum=$(sha256sum <"${file_of[$ref]}" | cut -d' ' -f1)
	case $line in
	*"\"request_sha256\":\"$sum\""*) ;;
	*) fail "$ref: request_sha256 is not the SHA-256 of ${file_of[$ref]##*/} ($sum): $line" ;;
	esac
	"$AUDIT" show --journal "$J" --request "$ref" | grep -q "ref=$ref" ||
	    fail "show --request $ref does not find it"
done
# Nothing of the request body but what the profile records: no markup,
# no free text (approver names, descriptions, external ids, comments).
grep -n '[<>]' "$DIR/show.json" && fail "markup in the journal"
grep -n -i 'xmlns\|HI1Message\|ETSIVersion' "$DIR/show.json" && fail "XML in the journal"
forbidden=$(cat "$work"/fgr/*.xml "$work"/fgecdmx/*.xml |
    sed -n -e 's/.*<[a-z:]*\(ApproverName\|ApprovalDescription\|ApproverRole\|ExternalIdentifier\|ApprovalType\)>\([^<]*\)<.*/\2/p' |
    sort -u)
[ -n "$forbidden" ] || fail "the samples no longer carry approver names or external ids to look for"
while IFS= read -r text; do
	grep -qF -- "$text" "$DIR/show.json" && fail "request text in the journal: \"$text\""
done <<<"$forbidden"
# A refusal of an unknown caller says who, not what was asked.
grep '"event":"EVENT_TLS_REFUSED"' "$DIR/show.json" | grep -q '"tasks":\[\]' ||
    fail "a handshake refusal carries tasks"
# The JSON digests are 64 hex digits, never the body.
grep -o '"request_sha256":"[^"]*"' "$DIR/show.json" |
    grep -v '"request_sha256":"\([0-9a-f]\{64\}\)\?"$' && fail "request_sha256 is not a digest"

# --- report -----------------------------------------------------------------
"$AUDIT" report --journal "$J" --from 2000-01-01 --to 2100-01-01 >"$DIR/report.out" 2>&1 ||
    fail "report: $(cat "$DIR/report.out")"
grep -q ": $n_rec events$" "$DIR/report.out" || fail "report: $(cat "$DIR/report.out")"
for a in FGR FGJCDMX; do
	awk -v a="$a" -v n="${acc_by[$a]}" '$1 == a && $2 == n { f = 1 } END { exit !f }' \
	    "$DIR/report.out" || fail "report: $a did not get ${acc_by[$a]} acceptances: $(cat "$DIR/report.out")"
done

# --- truncated behind the newest checkpoint: refuse to start ---------------
frames() {	# segment: byte offset of each frame
	perl -e 'open(F, "<", $ARGV[0]) or die; binmode F; local $/; my $d = <F>;
	    my $o = 24; while ($o + 8 <= length $d) { print "$o\n";
	    $o += 8 + unpack("N", substr($d, $o, 4)); }' "$1"
}
last_seg=$(ls "$J"/seg-*.wj | tail -n 1)
[ "$(frames "$last_seg" | wc -l)" = "$n_rec" ] || fail "cannot parse $last_seg"
try_truncated() {	# NAME BYTES-TO-KEEP VERIFY-SAYS
	local T=$DIR/$1 rc=0
	rm -rf "$T"
	mkdir -p "$T"
	cp -a "$DIR/state" "$T/state"
	sed -e "s|^state .*|state \"$T/state\"|" "$DIR/warrantd.conf" >"$T/warrantd.conf"
	truncate -s "$2" "$T/state/journal/${last_seg##*/}"
	cp "$T/state/journal/${last_seg##*/}" "$T/seg.before"
	timeout 30 "$WARRANTD" -d -f "$T/warrantd.conf" >"$T/log" 2>&1 || rc=$?
	[ "$rc" != 0 ] && [ "$rc" != 124 ] ||
	    fail "$1: warrantd started on a journal truncated to $2 bytes (exit $rc): $(cat "$T/log")"
	grep -q "refusing to run: $((n_rec - 3)) records but a signed checkpoint covers $n_rec: records were removed (rollback or truncation)" "$T/log" &&
	grep -q "journal is not usable; refusing to start" "$T/log" ||
	    fail "$1: no clear reason: $(cat "$T/log")"
	cmp -s "$T/seg.before" "$T/state/journal/${last_seg##*/}" ||
	    fail "$1: the refused start modified the journal"
	"$AUDIT" verify --journal "$T/state/journal" --pubkey "$DIR/journal.pub" \
	    >"$T/verify.out" 2>&1 && fail "$1: verify passes a truncated journal"
	grep -q "$3" "$T/verify.out" || fail "$1: verify: $(cat "$T/verify.out")"
	echo "$1: refused: $(grep -o 'refusing to run: .*' "$T/log" | head -n 1)"
}
cut_at=$(frames "$last_seg" | tail -n 3 | head -n 1)
try_truncated trunc-3-records "$cut_at" "records were removed"
# Cut inside the third last record: a "torn tail" that a checkpoint covers
# is a truncation, not something to repair.
# (warrant-audit names the first damage it meets: the torn tail.)
try_truncated trunc-torn $((cut_at + 20)) "offset $cut_at, seq $((n_rec - 3)): torn tail"
grep -q "torn tail" "$DIR/trunc-torn/log" && fail "truncation behind a checkpoint was cut as a torn tail"

# --- the intact journal goes on ------------------------------------------------
"$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null || fail "restart on the intact journal failed"
grep -q "journal holds $n_rec records, $n_acc accepted requests" "$DIR/warrantd.log" ||
    fail "restart: $(grep 'journal holds' "$DIR/warrantd.log")"
# (new objects: the same ones again would be a repeat, answered with their
# old reference)
fresh_uuids "$work/fgr/subscriber-msisdn.xml"
submit_as fgr "$work/fgr/subscriber-msisdn.xml"; expect_exit 0
next=$(grep -o 'MXC-[0-9]*-[0-9]*' <<<"$out")
# Opaque, never a number that counts the acceptances (issue 14 section 5).
[[ $next =~ ^MXC-[0-9]{8}-[0-9]{22}$ ]] || fail "not a carrier reference: $next"
[ "${next##*-}" != "$(printf '%08d' $((n_acc + 1)))" ] || fail "the reference counts acceptances: $next"
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
"$AUDIT" show --journal "$J" >"$DIR/show2.out" || fail "show after the second run"
n2=$(wc -l <"$DIR/show2.out")
tail -n +$((n_rec + 1)) "$DIR/show2.out" | awk '{ print $3 }' | grep -v 'EVENT_\(BACKEND\|RESULT\)_' |
    tr '\n' ' ' | grep -qx 'EVENT_DAEMON_START EVENT_REQUEST_ACCEPTED EVENT_DAEMON_STOP ' ||
    fail "second run: $(tail -n +$((n_rec + 1)) "$DIR/show2.out")"
"$AUDIT" verify --journal "$J" --pubkey "$DIR/journal.pub" >"$DIR/verify.out" 2>&1 &&
    grep -q " $n2 records in 1 segments, .*newest signs $n2 records" "$DIR/verify.out" ||
    fail "verify after the second run: $(cat "$DIR/verify.out")"
"$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null || fail "third start failed"
pass
