# lib.sh — sourced by the integration tests (plain bash scripts run by
# `make check`: exit 0 pass, 1 fail, 77 skip). A test reads like:
#
#	srcdir=${srcdir:-$(dirname "$0")/../..}
#	. "$srcdir/tests/integration/lib.sh"
#	stack_up
#	submit_as fgr "$SAMPLES/subscriber-msisdn.xml"
#	expect_exit 0
#	expect_output_contains "ACCEPTED (HTTP 200) carrier reference MXC-"
#	pass
#
# stack_up starts warrantd with a fresh test PKI in a temporary DIR
# (tests/stack, tests/pki/mkpki) and stops it and removes DIR on exit,
# whatever happens; WD_KEEP=1 keeps DIR for a post-mortem. The source tree
# is $srcdir (set by automake), the build tree the current directory;
# WARRANTD and WARRANTCTL name other binaries if set.

# The daemon refuses group- or world-writable configuration (strict modes):
# files the tests write must not depend on the caller's umask.
umask 022
: "${srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
TOP_SRCDIR=${TOP_SRCDIR:-$srcdir}
TOP_BUILDDIR=${TOP_BUILDDIR:-$PWD}
WARRANTD=${WARRANTD:-$TOP_BUILDDIR/src/warrantd/warrantd}
WARRANTCTL=${WARRANTCTL:-$TOP_BUILDDIR/src/warrantctl/warrantctl}
SAMPLES=$TOP_SRCDIR/etc/samples
export WARRANTD		# tests/stack runs this daemon, not its own guess

DIR=
out=
rc=

test_name=${0##*/}

fail() {
	echo "FAIL: $test_name: $*" >&2
	exit 1
}

skip() {
	echo "SKIP: $test_name: $*" >&2
	exit 77
}

# A pass only counts if the daemon survived the test and the sanitizers
# said nothing: an ASan report in its log is a failure, not a footnote.
pass() {
	if [ -n "$DIR" ]; then
		"$TOP_SRCDIR/tests/stack" status "$DIR" >/dev/null ||
		    fail "warrantd is no longer running"
		if grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error:' \
		    -e 'ERROR: LeakSanitizer' "$DIR/warrantd.log" 2>/dev/null; then
			fail "sanitizer report in warrantd.log"
		fi
	fi
	echo "PASS: $test_name"
	exit 0
}

stack_down() {
	local status=$?

	[ -n "$DIR" ] || return 0
	"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null 2>&1
	if [ "$status" -ne 0 ] && [ -f "$DIR/warrantd.log" ]; then
		echo "--- last lines of $DIR/warrantd.log:" >&2
		tail -n 30 "$DIR/warrantd.log" >&2
	fi
	if [ -n "${WD_KEEP:-}" ]; then
		echo "kept $DIR" >&2
	else
		rm -rf "$DIR"
	fi
	DIR=
}

# Start the daemon; afterwards WARRANT_URL, WARRANT_CACERT, WARRANT_CERT,
# WARRANT_KEY are set and DIR holds the PKI (DIR/NAME.pem, DIR/NAME.key).
stack_up() {
	local env line

	command -v openssl >/dev/null || skip "no openssl command"
	[ -x "$WARRANTD" ] || skip "$WARRANTD not built"
	[ -x "$WARRANTCTL" ] || skip "$WARRANTCTL not built"
	DIR=$(mktemp -d "${TMPDIR:-/tmp}/wd-it.XXXXXX") || fail "mktemp failed"
	trap stack_down EXIT
	trap 'exit 1' INT TERM
	env=$("$TOP_SRCDIR/tests/stack" start "$DIR") || fail "tests/stack start failed"
	# Only the variables stack promises, whatever else it may print.
	while IFS= read -r line; do
		case $line in
		WARRANT_[A-Z_]*=*) eval "export $line" ;;
		esac
	done <<EOF
$env
EOF
	[ -n "${WARRANT_URL:-}" ] || fail "tests/stack printed no WARRANT_URL"
}

# Submit FILE... with DIR/NAME.pem and DIR/NAME.key; stdout and stderr
# together land in $out, the exit status in $rc. Extra warrantctl options
# (--xml, --timeout N) may come before NAME.
submit_as() {
	local opts=()

	while [ $# -gt 0 ] && [ "${1#--}" != "$1" ]; do
		opts+=("$1")
		case $1 in --timeout|--url|--cacert) opts+=("$2"); shift ;; esac
		shift
	done
	[ $# -ge 2 ] || fail "usage: submit_as [OPTIONS] NAME FILE..."
	local name=$1
	shift
	rc=0
	out=$("$WARRANTCTL" --url "$WARRANT_URL" --cacert "$WARRANT_CACERT" \
	    --cert "$DIR/$name.pem" --key "$DIR/$name.key" --timeout 20 \
	    "${opts[@]}" submit "$@" 2>&1) || rc=$?
}

expect_exit() {
	[ "$rc" = "$1" ] ||
	    fail "warrantctl exited $rc, expected $1; its output:
$out"
}

expect_output_contains() {
	case $out in
	*"$1"*) ;;
	*) fail "warrantctl output lacks \"$1\"; its output:
$out" ;;
	esac
}

# Long tests, while others may relink the shared build tree: run private
# copies of the binaries (WARRANTD, WARRANTCTL, AUDIT), checked once.
stack_private_bins() {
	local b i

	mkdir -p "$DIR/bin"
	for b in "$WARRANTD" "$WARRANTCTL" "$AUDIT"; do
		for i in 1 2 3 4 5 6 7 8 9 10; do
			cp "$b" "$DIR/bin/" 2>/dev/null && [ -x "$DIR/bin/${b##*/}" ] &&
			    cmp -s "$b" "$DIR/bin/${b##*/}" && break
			sleep 1
		done
		cmp -s "$b" "$DIR/bin/${b##*/}" || fail "cannot copy $b"
	done
	# warrantd starts the warrantd-parser beside its own executable.
	b=${WARRANTD%/*}/warrantd-parser
	cp "$b" "$DIR/bin/" && cmp -s "$b" "$DIR/bin/warrantd-parser" ||
	    fail "cannot copy $b"
	"$DIR/bin/warrantctl" --version >/dev/null 2>&1 || fail "$WARRANTCTL does not run"
	WARRANTD=$DIR/bin/${WARRANTD##*/}
	WARRANTCTL=$DIR/bin/${WARRANTCTL##*/}
	AUDIT=$DIR/bin/${AUDIT##*/}
	export WARRANTD
}

# fresh_uuids FILE...: give every UUID in each file (object identifiers, the
# links between them, the transaction) a new value, the same new value for
# the same old one within a file: the message becomes new objects, not a
# repeat of the old ones (a repeated CREATE is answered, not carried out).
fresh_uuids() {
	local f u
	for f in "$@"; do
		for u in $(grep -o '[0-9a-f]\{8\}-[0-9a-f]\{4\}-[0-9a-f]\{4\}-[0-9a-f]\{4\}-[0-9a-f]\{12\}' "$f" | sort -u); do
			sed -i "s/$u/$(cat /proc/sys/kernel/random/uuid)/g" "$f"
		done
	done
}

# fresh_copy FILE: print the path of a copy of FILE (under $DIR) with
# fresh UUIDs, for a test that means "a new request": submitting the same
# file twice is a repeat, answered from the store and not carried out again.
fresh_copy() {
	local d

	d=$(mktemp -d "$DIR/fresh.XXXXXX") || fail "mktemp failed"
	cp "$1" "$d/" || fail "cannot copy $1"
	fresh_uuids "$d/${1##*/}"
	printf '%s\n' "$d/${1##*/}"
}


# submit_new NAME FILE: submit_as NAME a fresh copy of FILE (a new request,
# never a repeat of an earlier submission of FILE).
submit_new() {
	[ $# -eq 2 ] || fail "usage: submit_new NAME FILE"
	submit_as "$1" "$(fresh_copy "$2")"
}

# --- fixtures shared by the lifecycle and delivery tests ----------------------

# push_stack_up TIMEOUT: stack_up with push delivery for FGR to a receiver
# at https://127.0.0.1:$rport/hi1/deliver (started by the test, its pid in
# $rpid, stopped with the stack whatever happens); $db is the back end's
# dataset (skipped if the stack runs none).
rpid=
push_stack_down() {
	local status=$?

	if [ -n "$rpid" ]; then
		kill -TERM "$rpid" 2>/dev/null
		wait "$rpid" 2>/dev/null
		rpid=
	fi
	(exit "$status")
	stack_down
}
push_stack_up() {
	local env

	DIR=$(mktemp -d "${TMPDIR:-/tmp}/wd-it.XXXXXX") || fail "mktemp failed"
	trap push_stack_down EXIT
	trap 'exit 1' INT TERM
	"$TOP_SRCDIR/tests/pki/mkpki" "$DIR" 2>/dev/null || fail "mkpki failed"
	rport=$("$TOP_SRCDIR/tests/pki/mkpki" --pick-port)
	cat >>"$DIR/warrantd.conf" <<CONF
delivery {
	certificate "$DIR/carrier.pem"
	key "$DIR/carrier.key"
	ca "$DIR/ca.pem"
	timeout $1
}
CONF
	sed -i "s|^\tkind federal-prosecutor\$|&\n\tdeliver-to \"https://127.0.0.1:$rport/hi1/deliver\"|" \
	    "$DIR/registry.conf"
	grep -q deliver-to "$DIR/registry.conf" || fail "cannot add deliver-to"
	env=$("$TOP_SRCDIR/tests/stack" start "$DIR") || fail "tests/stack start failed"
	eval "$(printf '%s\n' "$env" | grep '^WARRANT_[A-Z_]*=')"
	db=$DIR/backend.db
	[ -s "$db" ] || skip "the stack runs no back end (warrant-backend not built?)"
}

# records_request OFFSET: $DIR/work/records.xml, the records sample restamped
# with fresh identifiers, for the dataset's subscriber at OFFSET (its id in
# $sub, its line in $msisdn).
records_request() {
	mkdir -p "$DIR/work"
	"$TOP_SRCDIR/tests/restamp" -o "$DIR/work" "$SAMPLES/records.xml" ||
	    fail "cannot restamp the records sample"
	sub=$(sqlite3 "$DIR/backend.db" "select id from subscriber order by id limit 1 offset $1")
	msisdn=$(sqlite3 "$DIR/backend.db" "select msisdn from subscriber where id = $sub")
	[ -n "$msisdn" ] || fail "no subscriber at offset $1 in $DIR/backend.db"
	sed -i "s/>52[0-9]\{10\}</>$msisdn</g" "$DIR/work/records.xml"
	fresh_uuids "$DIR/work/records.xml"
}

# records_fill N: N records for $sub over the window of $DIR/work/records.xml,
# copies of the dataset's own rows (as bench/lifecycle/delivery.sh does).
records_fill() {
	local f=$DIR/work/records.xml ws we s_us e_us step imei

	ws=$(sed -n 's:.*<task\:StartTime>\([^<]*\)</task\:StartTime>.*:\1:p' "$f" | head -n 1)
	we=$(sed -n 's:.*<task\:EndTime>\([^<]*\)</task\:EndTime>.*:\1:p' "$f" | head -n 1)
	[ -n "$ws" ] && [ -n "$we" ] || fail "no task window in the records request"
	s_us=$(($(date -u -d "$ws" +%s) * 1000000))
	e_us=$(($(date -u -d "$we" +%s) * 1000000))
	step=$(((e_us - s_us) / $1))
	imei=$(sqlite3 "$DIR/backend.db" "select imei from device where subscriber = $sub order by since_us limit 1")
	sqlite3 "$DIR/backend.db" >/dev/null <<SQL || fail "cannot put records into the dataset"
PRAGMA busy_timeout=10000;
BEGIN;
DELETE FROM cdr WHERE subscriber = $sub;
CREATE TEMP TABLE t (k INTEGER PRIMARY KEY, service, direction, other, duration_s,
    cell_start, cell_end, private_ip, public_ip, port_first, port_last, bytes_up, bytes_down);
INSERT INTO t SELECT NULL, service, direction, other, duration_s, cell_start, cell_end,
    private_ip, public_ip, port_first, port_last, bytes_up, bytes_down FROM cdr;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $1 - 1)
INSERT INTO cdr SELECT $sub, t.service, t.direction, t.other, $s_us + n.i * $step,
    t.duration_s, $imei, t.cell_start, t.cell_end, t.private_ip, t.public_ip,
    t.port_first, t.port_last, t.bytes_up, t.bytes_down
    FROM n JOIN t ON t.k = 1 + n.i % (SELECT count(*) FROM t);
COMMIT;
SQL
}

# --- keys in memory (parsers.sh, journal-signer.sh) ----------------------------

# key_bytes DIR: DIR/sign.raw, the journal signing key's 32 private bytes,
# and DIR/results.raw, the results key, as a memory search looks for them.
key_bytes() {
	openssl pkey -in "$DIR/journal.key" -outform DER 2>/dev/null | tail -c 32 >"$1/sign.raw"
	[ "$(wc -c <"$1/sign.raw")" -eq 32 ] || fail "cannot read the signing key's 32 bytes"
	cp "$DIR/results.key" "$1/results.raw"
}

# memscan PID KEYFILE...: "found" or "absent" for each key in PID's memory.
memscan() {
	python3 "$TOP_SRCDIR/tests/integration/memscan.py" "$@"
}
