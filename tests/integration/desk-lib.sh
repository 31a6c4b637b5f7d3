# desk-lib.sh — sourced after lib.sh by the desk's integration tests: a
# stack with the desk's listener (DESK=https://127.0.0.1:PORT) and
# communication records under review for FGR (subscriber identity
# review-after), and helpers to call the API.

desk_stack_up() {
	command -v curl >/dev/null || skip "no curl command"
	command -v python3 >/dev/null || skip "no python3"
	command -v openssl >/dev/null || skip "no openssl command"
	[ -x "$WARRANTD" ] || skip "$WARRANTD not built"
	DIR=$(mktemp -d "${TMPDIR:-/tmp}/wd-it.XXXXXX") || fail "mktemp failed"
	trap stack_down EXIT
	trap 'exit 1' INT TERM
	"$TOP_SRCDIR/tests/pki/mkpki" "$DIR" >/dev/null 2>&1 || fail "mkpki failed"
	desk_port=$("$TOP_SRCDIR/tests/pki/mkpki" --pick-port)
	printf 'desk listen on 127.0.0.1 port %s\ndesk pages "%s"\ndesk four-eyes\n' \
	    "$desk_port" "$TOP_SRCDIR/etc/desk" >>"$DIR/warrantd.conf"
	# A test's own settings (DESK_CONF: lines of warrantd.conf).
	[ -z "${DESK_CONF:-}" ] || printf '%s\n' "$DESK_CONF" >>"$DIR/warrantd.conf"
	sed -i -e '/^authority "FGR" {$/a\
	review-policy communication-records review\
	review-policy subscriber-identity review-after' "$DIR/registry.conf"
	env=$("$TOP_SRCDIR/tests/stack" start "$DIR") || fail "tests/stack start failed"
	while IFS= read -r line; do
		case $line in WARRANT_[A-Z_]*=*) eval "export $line" ;; esac
	done <<EOF
$env
EOF
	grep -q "desk listening on 127.0.0.1:$desk_port" "$DIR/warrantd.log" ||
	    fail "the desk does not listen: $(tail -5 "$DIR/warrantd.log")"
	DESK=https://127.0.0.1:$desk_port
	work=$DIR/desk
	mkdir -p "$work"
}

# req NAME METHOD URL [CURL ARGS...]: the HTTP status in $code, body in $body
# ("000" when there was no HTTP answer: a refused handshake). NAME "none"
# presents no certificate.
req() {
	local name=$1 method=$2 url=$3 auth=()
	shift 3
	[ "$name" = none ] || auth=(--cert "$DIR/$name.pem" --key "$DIR/$name.key")
	code=$(curl -sS --max-time 30 --cacert "$WARRANT_CACERT" "${auth[@]}" \
	    -X "$method" -o "$work/body" -w '%{http_code}' "$@" "$url" 2>/dev/null) ||
	    true
	body=$(cat "$work/body" 2>/dev/null || true)
	rm -f "$work/body"
}

# act NAME ACTION JSON: POST an action as NAME.
act() {
	req "$1" POST "$DESK/desk/api/$2" -H 'Content-Type: application/json' \
	    --data-binary "$3"
}

expect_code() {	# what expected
	[ "$code" = "$2" ] || fail "$1: HTTP $code, expected $2: $body"
}

# jq-like: python3 expression over the JSON answer in $body (as d).
jget() {
	python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' \
	    "$body" "$1"
}
