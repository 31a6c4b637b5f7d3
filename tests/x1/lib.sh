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
	wait "$pid" 2>/dev/null
	rm -f "$d/spawned"
	return 0
}

ne_down_all() {
	local pid
	for pid in "${NE_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
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
