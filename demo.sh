#!/usr/bin/env bash
# demo.sh — on a fresh Debian 12: install what is missing, build, start a
# local stack on 127.0.0.1 (throwaway PKI, registry, daemon), submit every
# sample request as a registered federal prosecutor's official, show what
# the gateway does with callers it must refuse, print the answers, verify
# nothing was lost, stop everything. Exit 0 only if every step behaved.
set -euo pipefail
top=$(cd "$(dirname "$0")" && pwd)
cd "$top"
. scripts/deps.sh
wd_install_deps

echo "== building"
autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
mkdir -p build/demo
(cd build/demo &&
    { [ -f Makefile ] || "$top/configure" -q; } &&
    make -j"$(nproc)" >/dev/null)
export WARRANTD=$top/build/demo/src/warrantd/warrantd
ctl=$top/build/demo/src/warrantctl/warrantctl

# Strict modes: the daemon refuses group-writable files (a umask 002 shell).
umask 022
dir=$(mktemp -d /tmp/warrantd-demo.XXXXXX)
TOP_SRCDIR=$top
. "$top/tests/x1/lib.sh"	# the X1 network-element simulators
cleanup() {
	"$top/tests/stack" stop "$dir" >/dev/null 2>&1 || true
	ne_down_all
	rm -rf "$dir"
}
trap cleanup EXIT

echo "== starting the stack in $dir"
# The PKI first, so that the compliance desk's listener can be added.
"$top/tests/pki/mkpki" "$dir" >/dev/null
desk_port=$("$top/tests/pki/mkpki" --pick-port)
echo "desk listen on 127.0.0.1 port $desk_port" >>"$dir/warrantd.conf"
# Two simulated network elements (ETSI X1) beside the gateway: "msc" (a
# switch: E.164 and IMSI) and "pgw" (a packet gateway: E.164 and IMEI).
ne_up msc "$dir" "$dir" && ne_up pgw "$dir" "$dir" ||
    { echo "the network-element simulators did not start"; exit 1; }
for ne in "msc e164 imsi" "pgw e164 imei"; do
	set -- $ne
	eval "port=\$NE_PORT_$1"
	cat >>"$dir/warrantd.conf" <<EOF
ne "$1" {
	url "https://127.0.0.1:$port/X1/NE"
	certificate "$dir/carrier.pem"
	key "$dir/carrier.key"
	ca "$dir/ca.pem"
	serves $2 $3
	destination "192.0.2.10:4000"
	reconcile 10s
}
EOF
done
eval "$("$top/tests/stack" start "$dir")"
echo "   network elements msc and pgw (simulated) at 127.0.0.1:$NE_PORT_msc and :$NE_PORT_pgw"
echo "   daemon at $WARRANT_URL"
DESK_URL=https://127.0.0.1:$desk_port
# For a browser: the operator's certificate and key as PKCS#12 (password "demo").
openssl pkcs12 -export -in "$dir/deskop.pem" -inkey "$dir/deskop.key" \
    -certfile "$dir/ca.pem" -name "op.ramirez (warrantd demo)" \
    -passout pass:demo -out "$dir/deskop.p12"
echo "   compliance desk console at $DESK_URL/ (API under $DESK_URL/desk/api/)"
echo "   urgent-orders board at $DESK_URL/urgent.html, a day's statistics at $DESK_URL/stats.html"
echo "   desk operator op.ramirez: certificate $dir/deskop.pem, key $dir/deskop.key"
echo "   to import in a browser: $dir/deskop.p12 (password: demo), CA $dir/ca.pem"
mkdir -p "$dir/samples"
"$top/tests/restamp" -o "$dir/samples" "$top"/etc/samples/*.xml
# The samples name made-up lines; point them at lines of the reference back
# end's generated dataset, so that the answers carry real (synthetic) data.
db=$dir/backend.db
if [ -s "$db" ]; then
	q() { sqlite3 "$db" "$1"; }
	msisdn=$(q "select msisdn from subscriber order by id limit 1 offset 7")
	imsi=$(q "select imsi from subscriber order by id limit 1 offset 11")
	imei=$(q "select imei from device order by rowid limit 1 offset 13")
	# MSISDNs are 52 + 10 digits, IMSIs 334 + 12, the samples' IMEIs 35 + 13.
	sed -i -e "s/>52[0-9]\{10\}</>$msisdn</g" -e "s/>334[0-9]\{12\}</>$imsi</g" \
	    -e "s/>35[0-9]\{13\}</>$imei</g" "$dir"/samples/*.xml
	echo "   sample lines: MSISDN $msisdn, IMSI $imsi, IMEI $imei"
fi

as() {	# NAME FILE... : submit as the holder of DIR/NAME.pem
	local who=$1; shift
	"$ctl" --url "$WARRANT_URL" --cacert "$WARRANT_CACERT" \
	    --cert "$dir/$who.pem" --key "$dir/$who.key" submit "$@"
}
fgr() {	# the federal prosecutor's follow-up commands (status, fetch...)
	"$ctl" --url "$WARRANT_URL" --cacert "$WARRANT_CACERT" \
	    --cert "$dir/fgr.pem" --key "$dir/fgr.key" --authority FGR \
	    --carrier MXCARRIER --templates "$top/etc/templates" "$@"
}
ref_of() { grep -o 'MXC-[0-9]*-[0-9]*' | head -n 1; }
# A fresh urgent order, approved now (a copy of the sample with new UUIDs).
urgent() {
	local u
	cp "$dir/samples/location-realtime-urgent.xml" "$dir/urgent.xml"
	sed -i "s|<common:ApprovalTimestamp>[^<]*|<common:ApprovalTimestamp>$(date -u +%Y-%m-%dT%H:%M:%SZ)|" "$dir/urgent.xml"
	for u in $(grep -o '[0-9a-f]\{8\}-[0-9a-f]\{4\}-[0-9a-f]\{4\}-[0-9a-f]\{4\}-[0-9a-f]\{12\}' "$dir/urgent.xml" | sort -u); do
		sed -i "s/$u/$(cat /proc/sys/kernel/random/uuid)/g" "$dir/urgent.xml"
	done
	as fgr "$dir/urgent.xml" | ref_of
}

status=0
echo
echo "== every sample request, each sent by an official of its own authority"
for f in "$dir"/samples/*.xml; do
	case $(grep -m1 -A2 '<SenderIdentifier>' "$f") in
	*FGJCDMX*) who=fgecdmx ;;	# Luis García, Mexico City prosecutor
	*) who=fgr ;;			# Ana López, federal prosecutor
	esac
	as "$who" "$f" || { echo "   ^ UNEXPECTED: a valid sample was not accepted"; status=1; }
done
echo
echo "== callers the gateway must refuse (each is expected to fail)"
for who in revoked expired unregistered suspended rogue; do
	printf '%-13s ' "$who:"
	if as "$who" "$dir/samples/subscriber-msisdn.xml" 2>&1 | tail -n 1; then
		echo "   ^ UNEXPECTED: accepted"; status=1
	fi
done
printf '%-13s ' "FGJCDMX:"
sed 's/FGR/FGJCDMX/g' "$dir/samples/records.xml" >"$dir/records-cdmx.xml"
if as fgecdmx "$dir/records-cdmx.xml" | tail -n 1; then
	echo "   ^ UNEXPECTED: a state prosecutor got records without permission"; status=1
fi

echo
echo "== after the acceptance: a records request answered in parts, polled, fetched"
rec_ref=$(as fgr "$dir/samples/records.xml" | ref_of)	# a repeat: same reference
echo "   $rec_ref (sent again: the carrier answers a repeated CREATE with the same reference)"
for i in $(seq 1 60); do
	fgr status "$rec_ref" >"$dir/status.out" 2>&1 || true
	[ "$(grep -c 'parts\?, not all fetched yet' "$dir/status.out")" -ge 2 ] && break
	sleep 0.5
done
sed 's/^/   /' "$dir/status.out"
if fgr fetch "$rec_ref" -o "$dir/results" | sed 's/^/   /'; then
	ls "$dir/results" | sed 's/^/     /'
	fgr status "$rec_ref" | sed 's/^/   /'
else
	echo "   ^ UNEXPECTED: the results did not verify"; status=1
fi

echo
echo "== an urgent order (CNPP art. 303) ratified by a judge, and one that lapses"
# A shortened ratification clock for the demo (the law says 48 h): 20 s.
sed -i 's/ratification 48h/ratification 20s/' "$dir/warrantd.conf"
kill -HUP "$(cat "$dir/warrantd.pid")"
sleep 1
ok_ref=$(urgent)
printf '%s\n' "judge = Mtra. Laura Patricia Hernández Ochoa" "role = Jueza de Control" \
    "case = CP-201/2026" "time = $(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    "approval-type = Ratificación judicial" "document = CP-201/2026-R" \
    >"$dir/ratification.txt"
echo "   $ok_ref: ratified with the judge's resolution:"
fgr ratify "$ok_ref" --order "$dir/ratification.txt" | sed 's/^/   /' ||
    { echo "   ^ UNEXPECTED: the ratification was refused"; status=1; }
lapse_ref=$(urgent)
echo "   $lapse_ref: not ratified; waiting for its clock (20 s in this demo)..."
sleep 23
fgr status "$lapse_ref" | sed 's/^/   /'
fgr status "$lapse_ref" | grep -q 'Expired (621' ||
    { echo "   ^ UNEXPECTED: the urgent order did not lapse"; status=1; }
fgr status "$ok_ref" | grep -q 'Approved' ||
    { echo "   ^ UNEXPECTED: the ratified order is not Approved"; status=1; }

echo
echo "== the compliance desk (docs/desk-api.md): the interception waits for review"
desk() {	# as the desk operator op.ramirez
	"$ctl" --url "$DESK_URL" --cacert "$WARRANT_CACERT" \
	    --cert "$dir/deskop.pem" --key "$dir/deskop.key" desk "$@"
}
desk queue state=AwaitingApproval | sed 's/^/   /'
desk queue state=AwaitingApproval type=interception | grep -q ' AwaitingApproval ' ||
    { echo "   ^ UNEXPECTED: no interception waiting for review"; status=1; }
li_ref=$(desk queue state=AwaitingApproval type=interception | awk '/ AwaitingApproval / { print $1; exit }')
echo "   $li_ref: approved by the operator (or 'desk reject REF --reason TEXT';"
echo "   the authority sees either in its GET):"
desk approve "$li_ref" | sed 's/^/   /' ||
    { echo "   ^ UNEXPECTED: the desk could not approve $li_ref"; status=1; }

echo "== an interception provisioned over ETSI X1 at two network elements, cancelled, and a rogue task found"
li=$(grep -o '<ObjectIdentifier>[0-9a-f-]*' "$dir/samples/interception.xml" | sed -n 2p | cut -d'>' -f2)
for i in $(seq 1 30); do
	fgr status "$li" 2>&1 | grep -q ' Active,' && break
	sleep 0.5
done
fgr status "$li" | sed 's/^/   /'
fgr status "$li" | grep -q ' Active,' ||
    { echo "   ^ UNEXPECTED: the interception is not Active"; status=1; }
echo "   tasks held by msc: $(ne_tasks msc | tr '\n' ' ')"
echo "   tasks held by pgw: $(ne_tasks pgw | tr '\n' ' ')"
fgr cancel "$li" | sed 's/^/   /'
for i in $(seq 1 30); do
	[ -z "$(ne_tasks msc)$(ne_tasks pgw)" ] && break
	sleep 0.5
done
fgr status "$li" | sed 's/^/   /'
[ -z "$(ne_tasks msc)$(ne_tasks pgw)" ] ||
    { echo "   ^ UNEXPECTED: an element still holds the cancelled interception"; status=1; }
echo "   deactivated at both elements; now msc is made to hold a task no order justifies..."
ne_ctl msc rogue 0badbeef-0000-4000-8000-000000000de0 e164Number 525500000000
for i in $(seq 1 50); do
	[ -z "$(ne_tasks msc)" ] && break
	sleep 0.5
done
if [ -z "$(ne_tasks msc)" ]; then
	echo "   ...and the next reconciliation (every 10 s in this demo) removed it:"
	grep 'CRITICAL: x1' "$dir/warrantd.log" | tail -n 1 | cut -c1-200 | sed 's/^/   /'
else
	echo "   ^ UNEXPECTED: the rogue task is still at msc"; status=1
fi
for ne in msc pgw; do
	ne_all_valid "$ne" || { echo "   ^ UNEXPECTED: $ne received X1 invalid under the official schemas"; status=1; }
done

echo
echo "== the journal, as an auditor sees it (offline, with only the public key)"
"$top/tests/stack" stop "$dir" >/dev/null
audit=$top/build/demo/src/warrant-audit/warrant-audit
"$audit" show --journal "$dir/state/journal" | grep -v 'op=GetAllDetails' |
    tail -n 12 | cut -c1-240
echo
echo "== what the network elements were told (X1), and the differences reconciliation found"
"$audit" show --journal "$dir/state/journal" | grep -e EVENT_X1_DIFFERENCE \
    -e 'op=ActivateTask' -e 'op=DeactivateTask' | cut -c1-240
echo
echo "== what the back end answered, per task (counts and digests only: the data stays out of the journal)"
"$audit" show --journal "$dir/state/journal" |
    sed -n 's/.*EVENT_BACKEND_RESULT ref=\([^ ]*\) .* task=[0-9]*:REQUEST_\([A-Z_]*\).*count=\([0-9]*\).*/  \1 \2: \3 record(s)/p;
	s/.*EVENT_BACKEND_RESULT ref=\([^ ]*\) .*error=[0-9]* "\([^"]*\)" task=[0-9]*:REQUEST_\([A-Z_]*\).*/  \1 \3: \2/p'
"$audit" verify --journal "$dir/state/journal" --pubkey "$dir/journal.pub" || status=1

echo
echo "== the target list at rest: sealed for the auditor's key (issue 14)"
msisdn=${msisdn:-$(grep -o '>52[0-9]\{10\}<' "$dir/samples/subscriber-msisdn.xml" |
    head -n 1 | tr -d '<>')}
if grep -rlaF "$msisdn" "$dir/state" "$dir/warrantd.log" 2>/dev/null; then
	echo "   ^ UNEXPECTED: MSISDN $msisdn in clear in these files"; status=1
else
	echo "   MSISDN $msisdn: in no file of the state directory nor in the logs"
fi
echo "   the auditor, with the private key: was $msisdn requested, under which order?"
"$audit" search --journal "$dir/state/journal" --key "$dir/audit.key" \
    --identifier "msisdn:$msisdn" | cut -c1-240 | sed 's/^/   /' || status=1
exit $status
