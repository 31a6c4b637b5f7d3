#!/usr/bin/env bash
# Issue 14 section 2, as it was found: ana.lopez of FGR is registered by the
# hash of her certificate, and someone of another authority by the hash of
# the public key of that same certificate. Before the fix `warrantd -t` said
# OK and the first entry in file order won at connect time.
#  1. `warrantd -t`, a start and a reload all refuse that registry, naming
#     both entries; the running daemon keeps its registry and ana stays ana.
#  2. With every entry naming both hashes (the loader can then compare
#     them) but two keys swapped between entries, each certificate matches
#     two people: the daemon refuses it at connect (403, error 301), says
#     which entries in its log, and journals the refusal.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
stack_up

work=$DIR/samples
mkdir -p "$work"
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/subscriber-msisdn.xml"
req=$work/subscriber-msisdn.xml
sed -e 's/FGR/FGEMOR/g' "$req" >"$work/as-morelos.xml"
pid=$(cat "$DIR/warrantd.pid")
reg=$DIR/registry.conf
from=$(date -u -d '1 year ago' +%F)
until=$(date -u -d '2 years' +%F)

certfp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//'; }
keyfp() {
	openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER |
	    sha256sum | cut -d' ' -f1
}

# Another authority whose one official is named by the lines given.
morelos() {	# fingerprint lines...
	echo 'authority "FGEMOR" {'
	printf '\tname "Fiscalía General del Estado de Morelos"\n'
	printf '\tkind state-prosecutor\n'
	printf '\tallow subscriber-identity\n'
	printf '\tofficial "impostor" {\n\t\tname "Impostor"\n'
	printf '\t\t%s\n' "$@"
	printf '\t\tvalid %s to %s\n\t}\n}\n' "$from" "$until"
}

# Wait for the Nth occurrence of a log line.
wait_log() {	# pattern count
	local i
	for i in $(seq 1 100); do
		[ "$(grep -c -- "$1" "$DIR/warrantd.log")" -ge "$2" ] && return 0
		sleep 0.1
	done
	fail "no \"$1\" (x$2) in warrantd.log"
}

submit_as fgr "$req"; expect_exit 0
cp "$reg" "$DIR/registry.good"

# --- 1. certificate hash of one, public-key hash of the same cert for another
morelos "public-key sha256 \"$(keyfp "$DIR/fgr.pem")\"" >>"$reg"
rc=0; out=$("$WARRANTD" -t -f "$DIR/warrantd.conf" 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "warrantd -t exited $rc on a registry where one certificate is two people: $out"
case $out in
*'"impostor" and "ana.lopez"'*'can match one certificate'*) ;;
*) fail "warrantd -t does not name both entries: $out" ;;
esac
# A fresh start is refused the same way (before it listens).
rc=0; out=$(timeout 30 "$WARRANTD" -d -f "$DIR/warrantd.conf" 2>&1) || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "warrantd started (exit $rc) with that registry: $out"
case $out in *'can match one certificate'*) ;; *) fail "start refused without saying why: $out" ;; esac
# A reload is refused, and the running registry stays.
kill -HUP "$pid"
wait_log 'reload failed' 1
grep -q 'can match one certificate' "$DIR/warrantd.log" || fail "reload refused without saying why"
submit_as fgr "$req"; expect_exit 0
submit_as fgr "$work/as-morelos.xml"; expect_exit 1
expect_output_contains "error 304"		# ana is still of FGR, nobody else

# The same in the other order: the key entry first, the certificate after.
{ morelos "public-key sha256 \"$(keyfp "$DIR/fgr.pem")\""; cat "$DIR/registry.good"; } >"$reg"
rc=0; out=$("$WARRANTD" -t -f "$DIR/warrantd.conf" 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "warrantd -t exited $rc with the key entry first: $out"
case $out in *'add to "ana.lopez" the public-key sha256'*) ;; *) fail "no fix named: $out" ;; esac

# --- 2. every entry names both hashes; two keys swapped between entries ----
both=$DIR/registry.both
cp "$DIR/registry.good" "$both"
for p in "$DIR"/*.pem; do
	fp=$(certfp "$p" 2>/dev/null) || continue
	grep -q "certificate sha256 \"$fp\"" "$both" || continue
	kp=$(keyfp "$p")
	[ "$p" = "$DIR/fgr.pem" ] && kp=$(keyfp "$DIR/unregistered.pem")	# the slip
	sed -i -e "s|certificate sha256 \"$fp\"|certificate sha256 \"$fp\"; public-key sha256 \"$kp\"|" "$both"
done
{ cat "$both"; morelos "certificate sha256 \"$(certfp "$DIR/unregistered.pem")\"" \
    "public-key sha256 \"$(keyfp "$DIR/fgr.pem")\""; } >"$reg"
rc=0; out=$("$WARRANTD" -t -f "$DIR/warrantd.conf" 2>&1) || rc=$?
[ "$rc" = 0 ] || fail "warrantd -t refused a registry where every entry names both: $out"
kill -HUP "$pid"
wait_log 'configuration generation 2 in force' 1
submit_as fgr "$req"; expect_exit 1
expect_output_contains "REFUSED (HTTP 403) error 301"
expect_output_contains "carrier must correct its registry"
grep -q "certificate $(certfp "$DIR/fgr.pem" | tr -d : | tr A-F a-f) matches the certificate sha256 of \"ana.lopez\"" \
    "$DIR/warrantd.log" || fail "the log does not say which entry"
submit_as unregistered "$work/as-morelos.xml"; expect_exit 1
expect_output_contains "REFUSED (HTTP 403) error 301"
submit_as fgecdmx "$work/as-morelos.xml"; expect_exit 1	# others unaffected
expect_output_contains "error 304"
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
n=$("$WARRANT_AUDIT" show --journal "$DIR/state/journal" |
    grep -c 'carrier must correct its registry') || true
[ "$n" -ge 2 ] || fail "the refusals were not journaled ($n records)"
"$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null || fail "restart failed"
pass
