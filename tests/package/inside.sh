#!/bin/sh
#
# inside.sh — the part of the package test (tests/package/run.sh) that runs
# inside the booted Debian 12 container, as a systemd unit, once the
# packages are installed. Everything an operator does after
# `apt install ./warrantd_*.deb` (docs/operations.md), then a request from
# an authority and an auditor's check:
#
#   1. put the certificates and keys in place (mkpki's test PKI, made by
#      run.sh in /root/wdpkg/pki) with the owners and modes of operations.md;
#   2. `warrantd -t` on the packaged default configuration, unchanged;
#   3. the operator's edits (CRL, journal signing key, registry, a back end)
#      and `warrantd -t` again, as the service user;
#   4. generate the reference back end's database and start
#      warrant-backend.service, then warrantd.service: the packaged units,
#      under systemd, with their sandboxing; check that the daemon runs as
#      the service user with no capabilities, no new privileges, a seccomp
#      filter and a read-only file system;
#   5. submit a restamped sample with the packaged warrantctl: accepted;
#   6. the structured log fields reach the system journal;
#   7. stop warrantd (final checkpoint), verify the journal with the
#      packaged warrant-audit and find the request in it;
#   8. stop the back end, remove what the operator put in /etc/warrantd.
#
# It writes "ok" or the failure to /root/wdpkg/result; run.sh reads it after
# the container has powered off (the unit's ExecStopPost=).
set -u

w=/root/wdpkg
pki=$w/pki
log=$w/inside.log
exec >>"$log" 2>&1
echo "inside: $(date -u +%FT%TZ) starting"

fail() {
	echo "inside: FAIL: $*"
	echo "FAIL: $*" >"$w/result"
	systemctl --no-pager status warrantd.service warrant-backend.service || :
	journalctl --no-pager -n 40 -u warrantd.service -u warrant-backend.service || :
	exit 1
}
step() { echo "inside: -- $*"; }

step "operator: certificates and keys into /etc/warrantd"
install -o root -g warrantd -m 0640 "$pki/server.pem" "$pki/ca.pem" \
    "$pki/crl.pem" /etc/warrantd/ || fail "cannot install certificates"
install -o warrantd -g warrantd -m 0600 "$pki/server.key" "$pki/journal.key" \
    /etc/warrantd/ || fail "cannot install keys"
( umask 077 && head -c 32 /dev/urandom >/etc/warrantd/results.key ) &&
    chown warrantd:warrantd /etc/warrantd/results.key ||
    fail "cannot make the results key"

step "warrantd -t on the packaged default configuration"
runuser -u warrantd -- /usr/sbin/warrantd -t >"$w/t-default.out" 2>&1 ||
    { cat "$w/t-default.out"; fail "warrantd -t refuses the packaged default configuration"; }
grep -q 'configuration OK' "$w/t-default.out" || fail "warrantd -t did not say OK"

step "operator: CRL, signing key, registry and back end in warrantd.conf"
conf=/etc/warrantd/warrantd.conf
sed -i -e 's|^[[:space:]]*#crl "/etc/warrantd/crl.pem"|	crl "/etc/warrantd/crl.pem"|' "$conf"
grep -q '^[[:space:]]*crl "/etc/warrantd/crl.pem"' "$conf" ||
    fail "the default configuration has no '#crl \"/etc/warrantd/crl.pem\"' line to enable"
cat >>"$conf" <<'CONF'
journal {
	signing-key "/etc/warrantd/journal.key"
	origin "pkgtest.example/warrantd"
}
backend "reference" {
	address "unix:/run/warrant-backend/backend.sock"
	serves subscriber-identity realtime-location historical-location communication-records preservation
}
results {
	key "/etc/warrantd/results.key"
}
include "registry.conf"
CONF
install -o root -g warrantd -m 0640 "$pki/registry.conf" /etc/warrantd/ ||
    fail "cannot install the registry"
runuser -u warrantd -- /usr/sbin/warrantd -t >"$w/t-test.out" 2>&1 ||
    { cat "$w/t-test.out"; fail "warrantd -t refuses the test configuration"; }

step "warrant-backend: database, then the packaged unit"
install -d -o warrantd -g warrantd -m 0700 /var/lib/warrant-backend
runuser -u warrantd -- /usr/bin/warrant-backend --generate \
    /var/lib/warrant-backend/backend.db --subscribers 200 --days 14 --seed 1 \
    >"$w/generate.out" 2>&1 || { cat "$w/generate.out"; fail "warrant-backend --generate"; }
systemctl start warrant-backend.service || fail "systemctl start warrant-backend"

step "warrantd: the packaged unit"
systemctl start warrantd.service || fail "systemctl start warrantd"
systemctl is-active --quiet warrantd.service || fail "warrantd.service is not active"
pid=$(systemctl show -P MainPID warrantd.service)
[ -n "$pid" ] && [ "$pid" != 0 ] || fail "no main pid for warrantd.service"
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
[ "$uid" = "$(id -u warrantd)" ] || fail "warrantd runs as uid $uid, not as the service user"
user=warrantd
status=/proc/$pid/status
grep -q '^NoNewPrivs:[[:space:]]*1$' "$status" || fail "NoNewPrivileges= not in force"
grep -q '^CapEff:[[:space:]]*0*$' "$status" || fail "the daemon has capabilities"
grep -q '^CapBnd:[[:space:]]*0*$' "$status" || fail "the capability bounding set is not empty"
grep -q '^Seccomp:[[:space:]]*2$' "$status" || fail "no seccomp filter (SystemCallFilter=)"
# ProtectSystem=strict: / read-only in the daemon's mount namespace, the
# state directory writable.
awk '$5 == "/" { print $6 }' "/proc/$pid/mountinfo" | grep -q '^ro' ||
    fail "/ is not read-only for the daemon (ProtectSystem=strict)"
awk '$5 == "/var/lib/warrantd" { print $6 }' "/proc/$pid/mountinfo" | grep -q '^rw' ||
    fail "/var/lib/warrantd is not writable for the daemon"
echo "inside: warrantd pid $pid as $user: $(grep -E '^(NoNewPrivs|CapEff|Seccomp):' "$status" | tr -s '\t\n' '  ')"

step "warrantctl: an authority submits a sample"
mkdir -p "$w/samples"
perl "$w/restamp" -o "$w/samples" /usr/share/warrantd/samples/subscriber-msisdn.xml ||
    fail "restamp"
warrantctl --url https://127.0.0.1:8443 --cacert "$pki/ca.pem" \
    --cert "$pki/fgr.pem" --key "$pki/fgr.key" \
    submit "$w/samples/subscriber-msisdn.xml" >"$w/submit.out" 2>&1
rc=$?
cat "$w/submit.out"
[ $rc -eq 0 ] || fail "warrantctl exit $rc"
ref=$(sed -n 's/.*ACCEPTED.*carrier reference \(MXC-[0-9]*-[0-9]*\).*/\1/p' "$w/submit.out")
[ -n "$ref" ] || fail "no carrier reference in warrantctl's answer"
# A revoked official is refused in the TLS handshake (the CRL is in force).
warrantctl --url https://127.0.0.1:8443 --cacert "$pki/ca.pem" \
    --cert "$pki/revoked.pem" --key "$pki/revoked.key" \
    submit "$w/samples/subscriber-msisdn.xml" >"$w/revoked.out" 2>&1
rc=$?
cat "$w/revoked.out"
[ $rc -eq 1 ] && grep -q 'certificate revoked' "$w/revoked.out" ||
    fail "a revoked official was not refused (warrantctl exit $rc)"

step "system journal: the request's structured fields"
journalctl --no-pager -u warrantd.service WARRANT_REQUEST="$ref" -o cat >"$w/log.out" || :
grep -q . "$w/log.out" || fail "no log line with WARRANT_REQUEST=$ref in the system journal"

step "stop, then warrant-audit verifies the journal"
systemctl stop warrantd.service || fail "systemctl stop warrantd"
j=/var/lib/warrantd/journal
warrant-audit verify --journal "$j" --pubkey "$pki/journal.pub" >"$w/verify.out" 2>&1
rc=$?
cat "$w/verify.out"
[ $rc -eq 0 ] || fail "warrant-audit verify exit $rc"
warrant-audit show --journal "$j" --request "$ref" >"$w/show.out" 2>&1 ||
    fail "warrant-audit show"
grep -q "$ref" "$w/show.out" || fail "the request $ref is not in the journal"
cat "$w/show.out"

step "stop the back end; the operator's files out of /etc/warrantd"
systemctl stop warrant-backend.service || fail "systemctl stop warrant-backend"
rm -f /etc/warrantd/server.pem /etc/warrantd/ca.pem /etc/warrantd/crl.pem \
    /etc/warrantd/server.key /etc/warrantd/journal.key \
    /etc/warrantd/results.key /etc/warrantd/registry.conf
echo ok >"$w/result"
echo "inside: ok"
