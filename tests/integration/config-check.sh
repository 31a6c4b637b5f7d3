#!/bin/bash
#
# config-check.sh — `warrantd -t` (what `systemctl reload` runs first)
# accepts the configuration tests/pki/mkpki writes, and refuses, exit 1,
# naming the problem (file:line for syntax), each of these:
#   unknown keyword; syntax error; bad value in an included file; missing
#   certificate; key of another certificate; CA file that is not a
#   certificate (text, a CRL); CRL file of random bytes; templates whose
#   hi1-mx.xsd or mx-core.xsd names a type that does not exist; a registry
#   with a duplicate fingerprint; a journal signing key readable by group.
# The daemon itself (`warrantd -d -f`) must refuse each of them too: exit
# non-zero without ever accepting a connection.
#
srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$srcdir/tests/integration/lib.sh"

command -v openssl >/dev/null || skip "no openssl command (tests/pki/mkpki needs it)"
[ -x "$WARRANTD" ] || skip "$WARRANTD not built"

T=
daemon=

cleanup() {
	[ -n "$daemon" ] && kill -KILL "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	[ -n "$T" ] || return 0
	if [ -n "${WD_KEEP:-}" ]; then
		echo "kept $T" >&2
	else
		rm -rf "$T"
	fi
}

T=$(mktemp -d "${TMPDIR:-/tmp}/wd-conf.XXXXXX") || fail "mktemp failed"
trap cleanup EXIT
trap 'exit 1' INT TERM
"$TOP_SRCDIR/tests/pki/mkpki" "$T" >"$T/mkpki.log" 2>&1 ||
    fail "tests/pki/mkpki failed: $(tail -n 5 "$T/mkpki.log")"
conf=$T/warrantd.conf
grep -q '^listen on 127.0.0.1 port [0-9]*$' "$conf" || fail "no listen line in $conf"

why=

port_accepts() {
	( exec 3<>"/dev/tcp/127.0.0.1/$port" ) 2>/dev/null
}

# A free port below the kernel's ephemeral range: mkpki's may lie inside it,
# where any outgoing connection of a test running alongside can take it.
low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
case $low in ''|*[!0-9]*) low=32768 ;; esac
[ "$low" -gt 21000 ] || low=32768
for i in $(seq 1 50); do
	port=$((20000 + RANDOM % (low - 20000)))
	port_accepts || break
done
sed -i -e "s/^listen on 127.0.0.1 port [0-9]*\$/listen on 127.0.0.1 port $port/" "$conf"

# Line number of the first line of FILE matching the fixed string S.
line_of() {	# file string
	grep -n -F -m 1 -- "$2" "$1" | cut -d: -f1
}

# NAME.conf: the good configuration through sed ARGS.
variant() {	# name sed-args...
	local name=$1
	shift
	sed "$@" "$conf" >"$T/$name.conf" || fail "sed failed for $name"
}

# Run `warrantd -t -f FILE`: output in $out, status in $rc.
check_conf() {
	rc=0
	out=$("$WARRANTD" -t -f "$1" 2>&1) || rc=$?
}

# `warrantd -d -f FILE` must exit non-zero, never accepting a connection.
# If it does start, returns 1 with the reason in $why.
daemon_refuses() {	# file
	local i status

	port_accepts && fail "127.0.0.1:$port is in use before the test"
	"$WARRANTD" -d -f "$1" </dev/null >"$1.log" 2>&1 &
	daemon=$!
	for i in $(seq 1 150); do
		if port_accepts; then
			kill -TERM "$daemon" 2>/dev/null
			wait "$daemon" 2>/dev/null
			daemon=
			why="warrantd -f ${1##*/} listens on 127.0.0.1:$port"
			return 1
		fi
		if ! kill -0 "$daemon" 2>/dev/null; then
			status=0
			wait "$daemon" || status=$?
			daemon=
			[ "$status" -ne 0 ] && return 0
			why="warrantd -f ${1##*/} exited 0"
			return 1
		fi
		sleep 0.1
	done
	kill -KILL "$daemon" 2>/dev/null
	wait "$daemon" 2>/dev/null
	daemon=
	why="warrantd -f ${1##*/} still runs after 15 s"
	return 1
}

# -t on NAME.conf exits 1 with every WANT in its output, and the daemon
# refuses the file too.
expect_refused() {	# name want...
	local name=$1 file=$T/$1.conf want

	shift
	check_conf "$file"
	[ "$rc" = 1 ] || fail "$name: warrantd -t exited $rc, expected 1; output:
$out"
	case $out in
	*"configuration OK"*) fail "$name: \"configuration OK\" for a bad file" ;;
	esac
	for want in "$@"; do
		case $out in
		*"$want"*) ;;
		*) fail "$name: warrantd -t output lacks \"$want\"; output:
$out" ;;
		esac
	done
	daemon_refuses "$file" || fail "$name: $why"
}

# --- the good configuration ------------------------------------------------
check_conf "$conf"
[ "$rc" = 0 ] || fail "warrantd -t exited $rc on mkpki's configuration:
$out"
case $out in
*"configuration OK"*) ;;
*) fail "warrantd -t printed no \"configuration OK\": $out" ;;
esac
port_accepts && fail "warrantd -t left something listening on 127.0.0.1:$port"

# --- syntax: file:line -----------------------------------------------------
variant unknown-keyword -e '3a frobnicate 1'
expect_refused unknown-keyword "$T/unknown-keyword.conf:4:" frobnicate

variant bad-port -e 's/^\(listen on [^ ]* port\) [0-9]*$/\1 banana/'
n=$(line_of "$T/bad-port.conf" "port banana")
expect_refused bad-port "$T/bad-port.conf:$n:" banana

# A mistake in an included file names that file and its line.
sed -e 's/^\tkind state-prosecutor$/\tkind state-persecutor/' \
    "$T/registry.conf" >"$T/registry-kind.conf"
n=$(line_of "$T/registry-kind.conf" state-persecutor)
[ -n "$n" ] || fail "registry.conf has no \"kind state-prosecutor\" line to break"
variant bad-include -e "s|^include \".*\"\$|include \"$T/registry-kind.conf\"|"
expect_refused bad-include "$T/registry-kind.conf:$n:" state-persecutor

# --- TLS files -------------------------------------------------------------
variant missing-cert -e "s|certificate \"$T/server.pem\"|certificate \"$T/missing.pem\"|"
expect_refused missing-cert "$T/missing.pem"

# fgr.key is a key of the same CA's PKI, but not the server certificate's.
variant wrong-key -e "s|key \"$T/server.key\"|key \"$T/fgr.key\"|"
expect_refused wrong-key "$T/fgr.key" "mismatch"

echo "this is not a certificate" >"$T/not-a-cert.pem"
variant ca-text -e "s|ca \"$T/ca.pem\"|ca \"$T/not-a-cert.pem\"|"
expect_refused ca-text "$T/not-a-cert.pem" "CA"

head -c 512 /dev/urandom >"$T/garbage.crl"
variant crl-garbage -e "s|crl \"$T/crl.pem\"|crl \"$T/garbage.crl\"|"
expect_refused crl-garbage "$T/garbage.crl" "CRL"

# A CRL past its nextUpdate would make OpenSSL refuse every client.
# Made already past it (OpenSSL 3's -crl_nextupdate), rather than waited out.
openssl ca -gencrl -config "$T/ca.cnf" -crl_lastupdate 20000101000000Z \
    -crl_nextupdate 20000102000000Z \
    -out "$T/expired-crl.pem" 2>/dev/null || fail "cannot make an expired CRL"
variant crl-expired -e "s|crl \"$T/crl.pem\"|crl \"$T/expired-crl.pem\"|"
expect_refused crl-expired "$T/expired-crl.pem" "nextUpdate"

# A CRL is not a certificate either: with it as the CA file no client
# certificate can ever verify, and the daemon would refuse everyone.
variant ca-is-crl -e "s|ca \"$T/ca.pem\"|ca \"$T/crl.pem\"|"
expect_refused ca-is-crl "$T/crl.pem" "no CA certificate"

# --- templates -------------------------------------------------------------
[ -f "$TOP_SRCDIR/etc/templates/hi1-mx.xsd" ] ||
    fail "$TOP_SRCDIR/etc/templates/hi1-mx.xsd missing"
cp -R "$TOP_SRCDIR/etc/templates" "$T/templates-entry"
sed -i -e 's|^</xs:schema>|  <xs:element name="Probe" type="xs:noSuchType"/>\n</xs:schema>|' \
    "$T/templates-entry/hi1-mx.xsd"
n=$(line_of "$T/templates-entry/hi1-mx.xsd" noSuchType)
[ -n "$n" ] || fail "could not break $T/templates-entry/hi1-mx.xsd"
variant bad-entry-xsd -e "s|^templates \".*\"\$|templates \"$T/templates-entry\"|"
expect_refused bad-entry-xsd "$T/templates-entry/hi1-mx.xsd:$n:" noSuchType

# A type name broken in a schema hi1-mx.xsd imports.
cp -R "$TOP_SRCDIR/etc/templates" "$T/templates-core"
sed -i -e 's|type="MessageHeader"|type="MessageHeaderTypo"|' "$T/templates-core/mx-core.xsd"
n=$(line_of "$T/templates-core/mx-core.xsd" MessageHeaderTypo)
[ -n "$n" ] || fail "mx-core.xsd has no type=\"MessageHeader\" to break"
variant bad-core-xsd -e "s|^templates \".*\"\$|templates \"$T/templates-core\"|"
expect_refused bad-core-xsd "$T/templates-core/mx-core.xsd:$n:" MessageHeaderTypo

# --- registry --------------------------------------------------------------
# luis.garcia (FGJCDMX) given ana.lopez's (FGR) certificate fingerprint.
fp=$(sed -n -e '/official "ana.lopez"/,/}/s/.*certificate sha256 "\([^"]*\)".*/\1/p' \
    "$T/registry.conf")
[ -n "$fp" ] || fail "no fingerprint for ana.lopez in registry.conf"
awk -v fp="$fp" '/official "luis.garcia"/ { f = 1 }
    f && /certificate sha256/ { sub(/"[^"]*"/, "\"" fp "\""); f = 0 } { print }' \
    "$T/registry.conf" >"$T/registry-dup.conf"
n=$(grep -n -F "\"$fp\"" "$T/registry-dup.conf" | sed -n -e '2s/:.*//p')
[ -n "$n" ] || fail "could not duplicate a fingerprint in registry.conf"
variant dup-fingerprint -e "s|^include \".*\"\$|include \"$T/registry-dup.conf\"|"
expect_refused dup-fingerprint "$T/registry-dup.conf:$n:" "ana.lopez"

# --- journal signing key ---------------------------------------------------
cp "$T/journal.key" "$T/journal-640.key"
chmod 640 "$T/journal-640.key"
variant journal-key-640 -e "s|signing-key \"$T/journal.key\"|signing-key \"$T/journal-640.key\"|"
check_conf "$T/journal-key-640.conf"
[ "$rc" = 1 ] || fail "journal-key-640: warrantd -t exited $rc, expected 1: $out"
case $out in
*"$T/journal-640.key"*"readable by group"*) ;;
*) fail "journal-key-640: output does not name the key and its mode: $out" ;;
esac
daemon_refuses "$T/journal-key-640.conf" ||
    fail "group-readable journal signing key: -t refuses it, but $why"

# The good configuration still passes: nothing above touched it.
check_conf "$conf"
[ "$rc" = 0 ] || fail "warrantd -t no longer accepts $conf: $out"
pass
