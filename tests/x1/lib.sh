# tests/x1/lib.sh — network-element simulators (tests/x1/nesim.py) for the
# X1 tests and the demo, sourced after tests/integration/lib.sh or alone.
#
#	ne_up NAME DIR PKI [nesim serve options...]   start one; sets NE_PORT_<NAME>
#	ne_ctl NAME ARGS...                           nesim.py ctl DIR/ne-NAME ARGS
#	ne_down NAME                                  stop it (also done by ne_down_all)
#
# A simulator listens on 127.0.0.1 on an ephemeral port, presents
# PKI/endpoint.pem and requires client certificates of PKI/ca.pem. Its files
# are in DIR/ne-NAME (tests/x1/nesim.py says which).

: "${TOP_SRCDIR:=${srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}}"
NESIM="$TOP_SRCDIR/tests/x1/nesim.py"
NE_PIDS=()

ne_up() {
	local name=$1 dir=$2 pki=$3 i
	shift 3
	mkdir -p "$dir/ne-$name"
	rm -f "$dir/ne-$name/port"
	python3 "$NESIM" serve --dir "$dir/ne-$name" --cert "$pki/endpoint.pem" \
	    --key "$pki/endpoint.key" --ca "$pki/ca.pem" --ne-id "$name" "$@" \
	    2>>"$dir/ne-$name/nesim.log" &
	NE_PIDS+=("$!")
	echo "$!" >"$dir/ne-$name/spawned"
	for i in $(seq 1 100); do
		[ -s "$dir/ne-$name/port" ] && break
		kill -0 "$!" 2>/dev/null || break
		sleep 0.1
	done
	[ -s "$dir/ne-$name/port" ] || { tail "$dir/ne-$name/nesim.log" >&2; return 1; }
	eval "NE_PORT_$name=$(cat "$dir/ne-$name/port")"
	eval "NE_DIR_$name=$dir/ne-$name"
}

ne_ctl() {
	local name=$1 d
	shift
	eval "d=\$NE_DIR_$name"
	python3 "$NESIM" ctl "$d" "$@"
}

ne_down() {
	local name=$1 d pid
	eval "d=\$NE_DIR_$name"
	pid=$(cat "$d/spawned" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
	rm -f "$d/spawned"
	return 0
}

ne_down_all() {
	local pid
	for pid in "${NE_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null || true
	done
	NE_PIDS=()
	return 0
}

# Requests the simulator received of TYPE (e.g. ActivateTaskRequest), for XID
# if given.
ne_count() {
	local name=$1 type=$2 xid=${3:-} d
	eval "d=\$NE_DIR_$name"
	python3 - "$d/requests.log" "$type" "$xid" <<'PY'
import json, sys
n = 0
try:
    for line in open(sys.argv[1]):
        r = json.loads(line)
        if r["type"] == sys.argv[2] and (not sys.argv[3] or r["xid"] == sys.argv[3]):
            n += 1
except FileNotFoundError:
    pass
print(n)
PY
}

# XIDs of the tasks the simulator holds, one a line, sorted.
ne_tasks() {
	local name=$1 d
	eval "d=\$NE_DIR_$name"
	python3 -c 'import json,sys; print("\n".join(sorted(json.load(open(sys.argv[1]))["tasks"])))' \
	    "$d/state.json" 2>/dev/null
}

# Every request the simulator received was valid under the official schemas.
ne_all_valid() {
	local name=$1 d
	eval "d=\$NE_DIR_$name"
	[ ! -s "$d/invalid.log" ]
}

# x1_stack_up [RECONCILE]: a fresh PKI in a temporary DIR, two simulated
# elements — "a" serving e164 imsi, "b" serving e164 imei — and the gateway
# configured with them (reconciliation every RECONCILE, default 1h; the line
# X1_NE_EXTRA, if set, added to both blocks; X1_CONF_EXTRA to the file), as
# lib.sh's stack_up does; everything is stopped and removed on exit.
x1_stack_up() {
	local reconcile=${1:-1h} env line
	command -v openssl >/dev/null || skip "no openssl command"
	command -v python3 >/dev/null || skip "no python3"
	[ -x "$TOP_SRCDIR/../shared/etsi/validate.sh" ] || skip "no ../shared/etsi"
	[ -x "$WARRANTD" ] || skip "$WARRANTD not built"
	DIR=$(mktemp -d "${TMPDIR:-/tmp}/wd-x1.XXXXXX") || fail "mktemp failed"
	trap 'ne_down_all; stack_down' EXIT
	trap 'exit 1' INT TERM
	"$TOP_SRCDIR/tests/pki/mkpki" "$DIR" >/dev/null 2>&1 || fail "mkpki failed"
	# Provisioning is under test here, not the desk's review gate (its
	# default holds an interception for a desk operator: desk-api.sh).
	sed -i 's/^\tkind federal-prosecutor$/&\n\treview-policy interception auto/' \
	    "$DIR/registry.conf"
	ne_up a "$DIR" "$DIR" || fail "element a did not start"
	ne_up b "$DIR" "$DIR" || fail "element b did not start"
	x1_ne_block a "e164 imsi" "$reconcile" >>"$DIR/warrantd.conf"
	x1_ne_block b "e164 imei" "$reconcile" >>"$DIR/warrantd.conf"
	[ -z "${X1_CONF_EXTRA:-}" ] || printf '%s\n' "$X1_CONF_EXTRA" >>"$DIR/warrantd.conf"
	x1_gateway_start
}

x1_ne_block() {	# NAME SERVES RECONCILE
	local port
	eval "port=\$NE_PORT_$1"
	cat <<EOC
ne "$1" {
	url "https://127.0.0.1:$port/X1/NE"
	certificate "$DIR/carrier.pem"
	key "$DIR/carrier.key"
	ca "$DIR/ca.pem"
	serves $2
	destination "192.0.2.10:4000"
	deadline 3s
	retries 1
	reconcile $3${X1_NE_EXTRA:+
	$X1_NE_EXTRA}
}
EOC
}

x1_gateway_start() {
	local env line
	env=$("$TOP_SRCDIR/tests/stack" start "$DIR") || fail "tests/stack start failed"
	while IFS= read -r line; do
		case $line in
		WARRANT_[A-Z_]*=*) eval "export $line" ;;
		esac
	done <<EOF2
$env
EOF2
	[ -n "${WARRANT_URL:-}" ] || fail "tests/stack printed no WARRANT_URL"
}

# ctl ARGS...: warrantctl as FGR; output in $out, status in $rc.
ctl() {
	rc=0
	out=$("$WARRANTCTL" --url "$WARRANT_URL" --cacert "$WARRANT_CACERT" \
	    --cert "$DIR/fgr.pem" --key "$DIR/fgr.key" --timeout 20 \
	    --authority FGR --carrier MXCARRIER \
	    --templates "$TOP_SRCDIR/etc/templates" "$@" 2>&1) || rc=$?
}

# An interception request (the sample, restamped, new identifiers) in FILE;
# extra sed expressions may follow.
x1_request() {	# FILE [SED-EXPR...]
	local f=$1 e
	shift
	"$TOP_SRCDIR/tests/restamp" "$SAMPLES/interception.xml" >"$f" || fail "restamp"
	fresh_uuids "$f"
	for e in "$@"; do sed -i "$e" "$f"; done
}

# submit FILE: sets ref (carrier reference) and task (LITaskObject id).
x1_submit() {
	submit_as fgr "$1"
	expect_exit 0
	ref=$(grep -o 'MXC-[0-9A-Za-z-]*' <<<"$out" | head -n 1)
	task=$(grep -o '<ObjectIdentifier>[0-9a-f-]*' "$1" | sed -n 2p | cut -d'>' -f2)
	[ -n "$ref" ] && [ -n "$task" ] || fail "no reference or task: $out"
}

# wait_status UUID STATUS [SECONDS]: poll the task's status until it is STATUS.
wait_status() {
	local i
	for i in $(seq 1 $((${3:-30} * 2))); do
		ctl status "$1"
		case $out in *"$2"*) return 0 ;; esac
		sleep 0.5
	done
	fail "task $1 never became $2; last status: $out"
}

# wait_until SECONDS COMMAND...: poll until COMMAND succeeds.
wait_until() {
	local n=$1 i
	shift
	for i in $(seq 1 $((n * 2))); do
		"$@" && return 0
		sleep 0.5
	done
	return 1
}

# The XID the gateway derives for FGR's task UUID (src/warrantd/x1.c, x1_derive_uuid).
xid_of() {
	python3 - "$1" <<'PY'
import hashlib, sys
h = bytearray(hashlib.sha256(b"warrantd x1 xid\0FGR\0" + sys.argv[1].encode() + b"\0").digest()[:16])
h[6] = (h[6] & 0x0f) | 0x80
h[8] = (h[8] & 0x3f) | 0x80
x = h.hex()
print("%s-%s-%s-%s-%s" % (x[:8], x[8:12], x[12:16], x[16:20], x[20:]))
PY
}

ne_holds() { ne_tasks "$1" | grep -qx "$2"; }
ne_lacks() { ! ne_tasks "$1" | grep -qx "$2"; }
