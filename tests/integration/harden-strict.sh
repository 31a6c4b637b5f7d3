#!/usr/bin/env bash
# Issue 14 section 6, as it was found: the daemon started, and `warrantd -t`
# said OK, with the configuration and registry at mode 0666, the state and
# journal directories at 0777 and the signing key owned by another user.
# Now each is refused by `-t`, by a start and (configuration, registry,
# keys, CA) by a reload, naming the file and the command that fixes it;
# the running daemon keeps serving. What tests/pki/mkpki writes passes.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
stack_up

work=$DIR/samples
mkdir -p "$work"
"$TOP_SRCDIR/tests/restamp" -o "$work" "$SAMPLES/subscriber-msisdn.xml"
req=$work/subscriber-msisdn.xml
conf=$DIR/warrantd.conf
pid=$(cat "$DIR/warrantd.pid")
refused=0

check_conf() {
	rc=0; out=$("$WARRANTD" -t -f "$conf" 2>&1) || rc=$?
}
# -t refuses, saying what $1 and $2 say (the file and the fix).
expect_refused() {	# what fix
	check_conf
	[ "$rc" = 1 ] || fail "warrantd -t exited $rc with $1: $out"
	case $out in
	*"strict modes: "*"$1"*"run: $2"*) ;;
	*) fail "warrantd -t does not say \"$1\" and \"run: $2\": $out" ;;
	esac
}
# A second daemon on the same configuration refuses to start (it never
# gets to listen: the checks come first).
expect_start_refused() {	# what
	rc=0; out=$(timeout 60 "$WARRANTD" -d -f "$conf" 2>&1) || rc=$?
	[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "warrantd started (exit $rc) with $1"
	case $out in *"strict modes: "*"$1"*) ;; *) fail "start refused without naming $1: $out" ;; esac
}
expect_reload_refused() {	# what
	local i
	refused=$((refused + 1))
	kill -HUP "$pid"
	for i in $(seq 1 100); do
		[ "$(grep -c 'reload failed' "$DIR/warrantd.log")" -ge "$refused" ] && break
		sleep 0.1
	done
	[ "$(grep -c 'reload failed' "$DIR/warrantd.log")" -ge "$refused" ] ||
	    fail "reload with $1 not refused"
	grep -q "strict modes: .*$1" "$DIR/warrantd.log" || fail "the reload log does not name $1"
	submit_as fgr "$req"; expect_exit 0
}

check_conf
[ "$rc" = 0 ] || fail "warrantd -t refuses what mkpki wrote: $out"

# The configuration and the registry, world- then group-writable.
chmod 0666 "$conf"
expect_refused "file $conf is writable by group or others (mode 0666)" "chmod go-w $conf"
expect_start_refused "$conf"
expect_reload_refused "$conf"
chmod 0644 "$conf"
chmod 0664 "$DIR/registry.conf"
expect_refused "file $DIR/registry.conf is writable by group or others (mode 0664)" \
    "chmod go-w $DIR/registry.conf"
expect_reload_refused "$DIR/registry.conf"
chmod 0644 "$DIR/registry.conf"
# Who can write the CA bundle chooses whom we trust.
chmod 0666 "$DIR/ca.pem"
expect_refused "file $DIR/ca.pem is writable" "chmod go-w $DIR/ca.pem"
expect_reload_refused "$DIR/ca.pem"
chmod 0644 "$DIR/ca.pem"
# A directory above them.
chmod 0777 "$DIR"
expect_refused "directory $DIR (above $conf) is writable by group or others (mode 0777)" \
    "chmod go-w $DIR"
chmod 0700 "$DIR"

# The state and journal directories (the daemon made both, 0700).
[ -d "$DIR/state/journal" ] || fail "no journal directory"
chmod 0777 "$DIR/state"
expect_refused "directory $DIR/state is writable by group or others (mode 0777)" \
    "chmod go-w $DIR/state"
expect_start_refused "$DIR/state"
chmod 0700 "$DIR/state"
chmod 0777 "$DIR/state/journal"
expect_refused "directory $DIR/state/journal is writable" "chmod go-w $DIR/state/journal"
expect_start_refused "$DIR/state/journal"
chmod 0700 "$DIR/state/journal"

# Keys: readable by others, then (as root, who can give files away) owned
# by another user.
chmod 0640 "$DIR/journal.key"
expect_refused "key $DIR/journal.key is readable by group or others (mode 0640)" \
    "chmod 600 $DIR/journal.key"
chmod 0600 "$DIR/journal.key"
if [ "$(id -u)" = 0 ]; then
	me=$(id -un)
	chown 65534 "$DIR/journal.key"
	expect_refused "key $DIR/journal.key is owned by uid 65534, not by $me" \
	    "chown $me $DIR/journal.key"
	expect_start_refused "$DIR/journal.key"
	chown 0 "$DIR/journal.key"
	chown 65534 "$DIR/server.key"
	expect_refused "key $DIR/server.key is owned by uid 65534" "chown $me $DIR/server.key"
	expect_reload_refused "$DIR/server.key"
	chown 0 "$DIR/server.key"
	chown 65534 "$DIR/results.key"
	expect_refused "key $DIR/results.key is owned by uid 65534" "chown $me $DIR/results.key"
	chown 0 "$DIR/results.key"
	# The configuration may belong to root or to us, not to a third user.
	chown 65534 "$DIR/registry.conf"
	expect_refused "file $DIR/registry.conf is owned by uid 65534, not by root or $me" \
	    "chown root $DIR/registry.conf"
	chown 0 "$DIR/registry.conf"
else
	echo "not root: ownership cases skipped" >&2
fi

check_conf
[ "$rc" = 0 ] || fail "warrantd -t refuses the restored files: $out"
submit_as fgr "$req"; expect_exit 0
pass
