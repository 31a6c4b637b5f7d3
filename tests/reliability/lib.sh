# tests/reliability/lib.sh — sourced by the reliability tests, on top of
# tests/integration/lib.sh (stack_up, submit_as, fail, skip, pass).
#
# WD_REL_SCALE=short (the default, what `make check` runs: each test in
# seconds) or full (`make check-reliability`: the real numbers). rel_pick
# SHORT FULL prints the one that applies; WD_REL_* variables of each test
# override both.
#
# Every test gets its own TMPDIR (REL_TMP, removed at exit unless WD_KEEP):
# another process on shared machines removes /tmp/wd-it.* while tests run.
#
# rel_plain finds or builds a warrantd *without* sanitizers (for the
# power-cut shim, which must be the only preloaded object, and for RSS
# figures that mean something): the tested build itself when it has no
# ASan, else a copy of the source tree configured without sanitizers in
# $TOP_BUILDDIR/build/reliability/plain (rebuilt incrementally; 30 s the
# first time).

: "${srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$srcdir/tests/integration/lib.sh"

REL_SCALE=${WD_REL_SCALE:-short}
case $REL_SCALE in short|full) ;; *) fail "WD_REL_SCALE is short or full, not $REL_SCALE" ;; esac
AUDIT=${WARRANT_AUDIT:-$TOP_BUILDDIR/src/warrant-audit/warrant-audit}
REL_BUILD=${WD_REL_BUILDDIR:-$TOP_BUILDDIR/build/reliability}
RELDIR=$TOP_SRCDIR/tests/reliability
SLOWLORIS=${WD_SLOWLORIS:-$TOP_BUILDDIR/tests/reliability/slowloris}

rel_pick() {	# short full
	if [ "$REL_SCALE" = full ]; then echo "$2"; else echo "$1"; fi
}

rel_note() {
	echo "--- $test_name: $*"
}

# --- a private TMPDIR ----------------------------------------------------
if [ -z "${REL_TMP:-}" ]; then
	REL_TMP=$(mktemp -d "/tmp/wd-rel.XXXXXX") || fail "mktemp failed"
	export TMPDIR=$REL_TMP
fi

REL_PIDS=	# background jobs of the test, stopped at exit

rel_exit() {
	local st=$? p
	for p in $REL_PIDS; do kill "$p" 2>/dev/null; done
	for p in $REL_PIDS; do wait "$p" 2>/dev/null; done
	(exit "$st")
	stack_down
	if [ -n "${WD_KEEP:-}" ]; then
		echo "kept $REL_TMP" >&2
	else
		rm -rf "$REL_TMP"
	fi
	exit "$st"
}
trap rel_exit EXIT
trap 'exit 1' INT TERM

# stack_up, keeping our exit handler (stack_up sets its own).
rel_stack_up() {
	stack_up
	trap rel_exit EXIT
	PORT=${WARRANT_URL##*:}
	HOSTPORT=127.0.0.1:$PORT
}

# tests/stack start DIR, with env assignments. tests/stack before 26e6714
# could take the forked shell, before it execs the daemon, for a daemon
# that already exited (the pid's command line did not name DIR yet):
# "exited during start-up" although the daemon said nothing fatal (it logs
# "crit" before it exits, and ASan its report). That one case is retried
# once, and said; any other failure is returned (message in DIR/start.err).
rel_start() {	# [VAR=value...]
	env "$@" "$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null 2>"$DIR/start.err" &&
	    return 0
	if grep -q 'exited during start-up' "$DIR/start.err" &&
	    ! grep -q -e ' crit: ' -e 'Sanitizer' -e 'runtime error' \
	    "$DIR/warrantd.log" 2>/dev/null; then
		rel_note "tests/stack start-up race (nothing fatal logged): starting again"
		# tests/stack removed the pid file without stopping the daemon,
		# which went on to listen: stop that one, found by its
		# configuration file (this test's own).
		local p i
		for p in $(pgrep -f -- "-f $DIR/warrantd.conf\$"); do
			kill -TERM "$p" 2>/dev/null
			for i in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
			kill -KILL "$p" 2>/dev/null
		done
		"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null 2>&1
		env "$@" "$TOP_SRCDIR/tests/stack" start "$DIR" >/dev/null 2>"$DIR/start.err" &&
		    return 0
	fi
	return 1
}

# Set "keyword value" inside DIR/warrantd.conf; with a block name, only
# inside that top-level block ("connections" is both a limit and a back
# end's pool size). The line must exist.
rel_conf() {	# [block] keyword value
	local blk= n
	[ $# = 3 ] && { blk=$1; shift; }
	n=$(awk -v b="$blk" -v k="$1" -v v="$2" '
	    /^[a-z-]+[^{]*\{[[:space:]]*$/ { cur = $1 }
	    /^\}/ { cur = "" }
	    { split($0, w, /[[:space:]]+/) }
	    (b == "" || cur == b) && (w[1] == k || w[2] == k) && !/\{/ {
		match($0, /^[[:space:]]*/); $0 = substr($0, 1, RLENGTH) k " " v; n++ }
	    { print > (FILENAME ".new") }
	    END { print n + 0 > "/dev/stderr" }' "$DIR/warrantd.conf" 2>&1 >/dev/null)
	[ "$n" -ge 1 ] 2>/dev/null || fail "no '$1' line${blk:+ in $blk} in warrantd.conf"
	mv "$DIR/warrantd.conf.new" "$DIR/warrantd.conf"
}

rel_pid() {
	cat "$DIR/warrantd.pid"
}

# VmRSS / VmHWM of the daemon, in KiB.
rel_rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$(rel_pid)/status"; }
rel_hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$(rel_pid)/status"; }
rel_fds() { ls "/proc/$(rel_pid)/fd" 2>/dev/null | wc -l; }

rel_sanitized() {	# binary
	ldd "$1" 2>/dev/null | grep -q -e libasan -e libubsan
}

# A sanitizer report in the daemon's log fails the test there and then.
rel_sanitizer_check() {	# when
	grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error:' \
	    -e 'ERROR: LeakSanitizer' "$DIR/warrantd.log" 2>/dev/null || return 0
	fail "$1: sanitizer report in warrantd.log:
$(grep -A12 -e 'ERROR: .*Sanitizer' -e 'runtime error:' "$DIR/warrantd.log" | head -n 30)"
}

# Restamped samples in DIR/samples; GOOD is one that is accepted.
rel_samples() {
	mkdir -p "$DIR/samples"
	"$TOP_SRCDIR/tests/restamp" -o "$DIR/samples" "$SAMPLES"/subscriber-*.xml \
	    "$SAMPLES"/interception.xml "$SAMPLES"/preservation.xml \
	    "$SAMPLES"/records.xml "$SAMPLES"/location-realtime.xml ||
	    fail "restamp failed"
	GOOD=$DIR/samples/subscriber-msisdn.xml
}

# Accepted references in the journal, sorted, one per line.
rel_journal_refs() {	# journal dir
	"$AUDIT" show --journal "$1" --json 2>/dev/null |
	    grep -o '"event":"EVENT_REQUEST_ACCEPTED","carrier_ref":"[^"]*"' |
	    sed 's/.*"carrier_ref":"//; s/"$//' | sort
}

# A client that keeps submitting FILE... as fgr until DIR/stop.N exists,
# one warrantctl per round, and logs one line per answer to DIR/lat.N:
# "<epoch ms> <latency ms> <outcome>" with outcome ok, refused, 503, or
# error; accepted references go to DIR/given.N, those whose acceptance
# carried a result (a DeliveryObject) also to DIR/delivered.N. Its copies
# of the files are restamped every minute: the daemon refuses a request
# whose timestamp is more than clock-skew (5 minutes) old, as a replay; and
# get fresh UUIDs every round (the same objects again would be a repeat).
rel_client() {	# N timeout file...
	local n=$1 to=$2 o r t0 t1 what stamped=0 f
	shift 2
	local src=("$@") files=()
	mkdir -p "$DIR/client.$n"
	for f in "${src[@]}"; do files+=("$DIR/client.$n/${f##*/}"); done
	: >"$DIR/lat.$n"
	: >"$DIR/given.$n"
	: >"$DIR/delivered.$n"
	while [ ! -e "$DIR/stop.$n" ] && [ ! -e "$DIR/stop.all" ]; do
		if [ "$(date +%s)" -ge $((stamped + 60)) ]; then
			"$TOP_SRCDIR/tests/restamp" -o "$DIR/client.$n" "${src[@]}" ||
			    echo "restamp failed" >>"$DIR/errors.$n"
			stamped=$(date +%s)
		fi
		# Each round is a new request, not a repeat of the last one.
		fresh_uuids "${files[@]}"
		t0=$(date +%s%3N)
		r=0
		o=$("$WARRANTCTL" --url "$WARRANT_URL" --cacert "$WARRANT_CACERT" \
		    --cert "$DIR/fgr.pem" --key "$DIR/fgr.key" --timeout "$to" \
		    submit "${files[@]}" 2>&1) || r=$?
		t1=$(date +%s%3N)
		case $o in
		*"ACCEPTED (HTTP 200)"*) what=ok ;;
		*"HTTP 503"*) what=503 ;;
		*"(HTTP 4"*) what=refused ;;
		*) what=error ;;
		esac
		grep 'ACCEPTED (HTTP 200) carrier reference' <<<"$o" |
		    grep -o 'MXC-[0-9]*-[0-9]*$' >>"$DIR/given.$n"
		# Acceptances that carried a back end's result (DeliveryObject).
		awk '/ACCEPTED \(HTTP 200\) carrier reference/ { r = $NF }
		    / DeliveryObject / && r != "" { print r; r = "" }' <<<"$o" \
		    >>"$DIR/delivered.$n"
		echo "$t1 $((t1 - t0)) $what" >>"$DIR/lat.$n"
		case $what in error|refused) echo "$o" >>"$DIR/errors.$n" ;; esac
		[ "$r" = 0 ] || sleep 0.05
	done
}

# Latency summary of DIR/lat.N lines between two epoch-ms instants:
# "n=.. ok=.. 503=.. refused=.. error=.. p50=.. p99=.. max=.." (ms, ok only).
rel_lat_summary() {	# n from_ms to_ms
	awk -v a="$2" -v b="$3" '
	$1 >= a && $1 <= b { n++; c[$3]++; if ($3 == "ok") v[k++] = $2 }
	END {
		# insertion sort: a few thousand values at most
		for (i = 1; i < k; i++) { x = v[i]; for (j = i - 1; j >= 0 && v[j] > x; j--) v[j+1] = v[j]; v[j+1] = x }
		p50 = k ? v[int(k * 0.5)] : -1; p99 = k ? v[int(k * 0.99)] : -1; mx = k ? v[k-1] : -1
		printf "n=%d ok=%d 503=%d refused=%d error=%d p50=%d p99=%d max=%d\n", n, c["ok"], c["503"], c["refused"], c["error"], p50, p99, mx
	}' "$DIR/lat.$1"
}

# Value of key K in a "k=v k=v" line.
rel_kv() {	# line key
	tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"
}

# --- private builds -------------------------------------------------------------
# Copy the source tree as it is (tracked and untracked, not ignored files),
# with its timestamps, so that make in the copy rebuilds only what changed.
# Without git, everything but build/ is copied; if the source tree is
# configured in place that brings its configuration and objects along, and
# REL_COPY_DIRTY=1 tells the caller to start the copy's build afresh.
rel_copy_tree() {	# dest
	local top=$TOP_SRCDIR
	REL_COPY_DIRTY=
	mkdir -p "$1"
	if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$top" ls-files -z --cached --others --exclude-standard |
		    grep -zv '^build' |
		    (cd "$top" && tar --null -T - -cf - 2>/dev/null) |
		    tar -xf - -C "$1"
	else
		tar -C "$top" --exclude=./build --exclude=.git -cf - . | tar -xf - -C "$1"
		[ -f "$top/config.status" ] && REL_COPY_DIRTY=1
	fi
}

# Build TARGETS in REL_BUILD/NAME, configured with ARGS the first time;
# one build at a time (flock). Returns 1 with REL_WHY set on failure.
rel_private_build() {	# name "configure args" targets...
	local name=$1 args=$2 tree=$REL_BUILD/$1 log
	shift 2
	mkdir -p "$REL_BUILD" || { REL_WHY="cannot create $REL_BUILD"; return 1; }
	log=$REL_BUILD/$name-build.log
	(
		flock 9
		rel_copy_tree "$tree"
		# A copy of a tree configured in place (no git to tell what is
		# generated) brings that configuration along: start afresh.
		if [ -f "$tree/Makefile" ] && { [ -n "$REL_COPY_DIRTY" ] ||
		    [ "$(cat "$tree/.rel-configure" 2>/dev/null)" != "$args" ]; }; then
			make -C "$tree" distclean || rm -f "$tree/Makefile"
		fi
		if [ ! -f "$tree/Makefile" ]; then
			(cd "$tree" && autoreconf -fi && eval "./configure -q $args") ||
			    exit 1
			echo "$args" >"$tree/.rel-configure"
		fi
		# The generated sources first (a copy's stale journal.pb-c.h
		# once broke the plain build after a .proto change).
		make -C "$tree" built-sources &&
		    make -C "$tree" -j"$(nproc)" "$@"
	) 9>"$REL_BUILD/$name.lock" >"$log" 2>&1 || {
		REL_WHY="the $name build failed (see $log): $(tail -n 3 "$log" | tr '\n' ' ')"
		return 1
	}
}

# A warrantd without sanitizers. Sets PLAIN_WARRANTD, PLAIN_WARRANTCTL,
# PLAIN_AUDIT; returns 1 with REL_WHY set if there is none and none can be
# built.
rel_plain() {
	local tree=$REL_BUILD/plain

	REL_WHY=
	if [ -x "$WARRANTD" ] && ! rel_sanitized "$WARRANTD"; then
		PLAIN_WARRANTD=$WARRANTD
		PLAIN_WARRANTCTL=$WARRANTCTL
		PLAIN_AUDIT=$AUDIT
		return 0
	fi
	if [ -n "${WD_REL_NO_BUILD:-}" ] && [ ! -x "$tree/src/warrantd/warrantd" ]; then
		REL_WHY="only a sanitizer build exists and WD_REL_NO_BUILD is set"
		return 1
	fi
	rel_private_build plain 'CFLAGS="-O2 -g"' src/warrantd/warrantd src/warrantd/warrantd-parser src/warrantctl/warrantctl \
	    src/warrant-audit/warrant-audit src/warrant-backend/warrant-backend || return 1
	if rel_sanitized "$tree/src/warrantd/warrantd"; then
		REL_WHY="$tree is configured with sanitizers; remove it"
		return 1
	fi
	PLAIN_WARRANTD=$tree/src/warrantd/warrantd
	PLAIN_WARRANTCTL=$tree/src/warrantctl/warrantctl
	PLAIN_AUDIT=$tree/src/warrant-audit/warrant-audit
	return 0
}

# After kill -9 the thread group leader is a zombie before its other
# threads are gone and its listening socket closed: wait for both.
rel_gone() {	# pid
	local n
	for n in $(seq 1 1000); do
		if ! grep -q '^State:[[:space:]]*[RSDT]' /proc/"$1"/task/*/status 2>/dev/null &&
		    ! ss -Hltn "src 127.0.0.1 and sport = :$PORT" 2>/dev/null | grep -q .; then
			return 0
		fi
		sleep 0.01
	done
	return 1
}

# Private copies of the binaries, taken once: others may relink the shared
# build tree while a long test runs. The back end goes along (tests/stack
# runs the warrant-backend found beside warrantd).
rel_snapshot() {
	local b i dst=$REL_TMP/bin be pa

	mkdir -p "$dst"
	be=$(dirname "$WARRANTD")/warrant-backend
	[ -f "$be" ] || be=$(dirname "$WARRANTD")/../warrant-backend/warrant-backend
	# warrantd starts its parser workers from beside its own executable.
	pa=$(dirname "$WARRANTD")/warrantd-parser
	for b in "$WARRANTD" "$WARRANTCTL" "$AUDIT" "$be" "$pa"; do
		[ -x "$b" ] || continue
		for i in 1 2 3 4 5 6 7 8 9 10; do
			cp "$b" "$dst/" 2>/dev/null && cmp -s "$b" "$dst/${b##*/}" && break
			sleep 1
		done
		cmp -s "$b" "$dst/${b##*/}" || fail "cannot copy $b"
	done
	[ -x "$dst/${WARRANTD##*/}" ] || skip "$WARRANTD not built"
	[ -x "$dst/warrantd-parser" ] || fail "$pa not built (warrantd needs it beside itself)"
	[ -x "$dst/${WARRANTCTL##*/}" ] || skip "$WARRANTCTL not built"
	WARRANTD=$dst/${WARRANTD##*/}
	WARRANTCTL=$dst/${WARRANTCTL##*/}
	[ -x "$dst/${AUDIT##*/}" ] && AUDIT=$dst/${AUDIT##*/}
	export WARRANTD
	# Whatever wrapper later stands for warrantd, the same back end.
	if [ -z "${WARRANT_BACKEND:-}" ] && [ -x "$dst/warrant-backend" ]; then
		WARRANT_BACKEND=$dst/warrant-backend
		export WARRANT_BACKEND
	fi
}

# A check program of this build, or one built from source into REL_TMP.
rel_shim() {	# build-relative path of the .so, source file
	local so=$TOP_BUILDDIR/$1 out

	if [ -f "$so" ]; then
		echo "$so"
		return 0
	fi
	out=$REL_TMP/${1##*/}
	"${CC:-cc}" -O2 -shared -fPIC -o "$out" "$TOP_SRCDIR/$2" -ldl -lpthread \
	    >"$REL_TMP/cc.out" 2>&1 || return 1
	echo "$out"
}
