#!/usr/bin/env bash
# warrantctl does not hang on a large hostile input file: a 1.5 MB request
# with 100,000 attributes on one element is refused by warrantd (413, body
# too large) at once, and warrantctl must print that refusal and exit, not
# spend minutes in quadratic work on its own side (it used to re-parse the
# request file with libxml2, whose cost grows with the square of the
# attributes of one element: about 30 s for this file on a fast machine,
# minutes on a loaded one, 16 times that for 4 times the attributes). The
# time bounds are hang detectors, not benchmarks: generous on purpose, and
# the fixed client answers each file in about a second.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
command -v timeout >/dev/null || skip "no timeout command"
stack_up

sample=$SAMPLES/subscriber-msisdn.xml
grep -q '^  <Header>$' "$sample" || fail "$sample: no <Header> line to attack"

# hostile N FILE: the sample with N attributes on its Header element.
hostile() {
	{
		sed -n '1,/^  <Header>$/p' "$sample" | sed '$s|<Header>|<Header|'
		awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++)
		    printf " attrib%06d=\"v\"", i; print ">" }'
		sed '1,/^  <Header>$/d' "$sample"
	} >"$2"
	[ "$(grep -o '="v"' "$2" | wc -l)" -eq "$1" ] ||
	    fail "${2##*/} lacks its $1 attributes"
}

# run_ctl SECONDS FILE: warrantctl under timeout; $out, $rc as submit_as.
run_ctl() {
	rc=0
	out=$(timeout "$1" "$WARRANTCTL" --url "$WARRANT_URL" \
	    --cacert "$WARRANT_CACERT" --cert "$DIR/fgr.pem" --key "$DIR/fgr.key" \
	    --timeout 20 submit "$2" 2>&1) || rc=$?
	[ "$rc" != 124 ] || fail "warrantctl still busy after $1 s on ${2##*/}: it hangs"
}

# The file of the report: 1.5 MB, 100,000 attributes.
hostile 100000 "$DIR/attributes.xml"
size=$(wc -c <"$DIR/attributes.xml")
[ "$size" -gt 1500000 ] || fail "attributes.xml has only $size bytes"
run_ctl 120 "$DIR/attributes.xml"
expect_exit 1
expect_output_contains "attributes.xml: REFUSED (HTTP 413) error 101"

# Four times the attributes: quadratic work would take many minutes here,
# whatever the machine.
hostile 400000 "$DIR/attributes-400k.xml"
run_ctl 60 "$DIR/attributes-400k.xml"
expect_exit 1
expect_output_contains "attributes-400k.xml: REFUSED (HTTP 413) error 101"

# Under the body cap, the same attack is refused by warrantd's own
# attribute limit (205), answered for the whole message.
hostile 12000 "$DIR/attributes-small.xml"
run_ctl 60 "$DIR/attributes-small.xml"
expect_exit 1
expect_output_contains "attributes-small.xml: REFUSED (HTTP 400) error 205"
expect_output_contains "more than 16 attributes"

# The client is still usable, and so is the daemon.
"$TOP_SRCDIR/tests/restamp" -o "$DIR" "$sample"
submit_as fgr "$DIR/subscriber-msisdn.xml"
expect_exit 0
expect_output_contains "ACCEPTED (HTTP 200)"
pass
