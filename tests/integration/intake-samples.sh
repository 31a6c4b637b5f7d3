#!/usr/bin/env bash
# Every sample request is accepted when its own authority's official sends
# it, over one kept-alive connection; every answer validates against our
# templates and (when ../shared is there) against ETSI's official schemas.
srcdir=${srcdir:-$(dirname "$0")/../..}
. "$srcdir/tests/integration/lib.sh"
stack_up

work=$DIR/samples
mkdir -p "$work/fgr" "$work/fgecdmx" "$work/answers"
for f in "$SAMPLES"/*.xml; do
	case $(grep -m1 -A2 '<SenderIdentifier>' "$f") in
	*FGJCDMX*) who=fgecdmx ;;
	*) who=fgr ;;
	esac
	"$TOP_SRCDIR/tests/restamp" -o "$work/$who" "$f"
done
n_fgr=$(ls "$work/fgr" | wc -l)
n_cdmx=$(ls "$work/fgecdmx" | wc -l)
[ "$n_fgr" -ge 9 ] || fail "expected at least 9 FGR samples, found $n_fgr"

submit_as fgr "$work"/fgr/*.xml
expect_exit 0
[ "$(grep -c 'ACCEPTED (HTTP 200) carrier reference MXC-' <<<"$out")" = "$n_fgr" ] ||
    fail "not every FGR sample was accepted with a reference:
$out"
submit_as fgecdmx "$work"/fgecdmx/*.xml
expect_exit 0
[ "$(grep -c 'ACCEPTED (HTTP 200)' <<<"$out")" = "$n_cdmx" ] || fail "FGJCDMX: $out"

# References are unique and increasing.
refs=$(grep -o 'MXC-[0-9]*-[0-9]*' <<<"$(submit_as fgr "$work"/fgr/*.xml; echo "$out")")
[ "$(sort -u <<<"$refs" | wc -l)" = "$n_fgr" ] || fail "duplicate references: $refs"

# Raw answers: accepted, refused as a whole message, refused per action.
i=0
for f in "$work"/fgr/subscriber-msisdn.xml "$work"/fgr/interception.xml; do
	submit_as --xml fgr "$f"
	printf '%s\n' "$out" >"$work/answers/ok$((i++)).xml"
done
submit_as --xml unregistered "$work/fgr/subscriber-msisdn.xml"
printf '%s\n' "$out" >"$work/answers/refused.xml"
sed 's/Value>525512345678</Value>5255123456789</' \
    "$work/fgr/subscriber-msisdn.xml" >"$work/bad-msisdn.xml"
cmp -s "$work/bad-msisdn.xml" "$work/fgr/subscriber-msisdn.xml" && fail "sample MSISDN not found"
submit_as --xml fgr "$work/bad-msisdn.xml"
printf '%s\n' "$out" >"$work/answers/action-error.xml"
grep -q '<ErrorCode>203</ErrorCode>\|<ErrorCode>407</ErrorCode>' "$work/answers/action-error.xml" ||
    fail "malformed MSISDN was not answered with an error: $(cat "$work/answers/action-error.xml")"

# A per-action semantic error (wrong IMEI check digit): ActionResponses.
imei=$(grep -o 'Value>[0-9]\{15\}<' "$work/fgr/subscriber-imei.xml" | head -n 1 | tr -dc 0-9)
bad=${imei%?}$(( (${imei: -1} + 1) % 10 ))
sed "s/Value>$imei</Value>$bad</" "$work/fgr/subscriber-imei.xml" >"$work/bad-imei.xml"
submit_as --xml fgr "$work/bad-imei.xml"
printf '%s\n' "$out" >"$work/answers/luhn.xml"
grep -q '<ErrorCode>407</ErrorCode>' "$work/answers/luhn.xml" ||
    fail "bad IMEI check digit not answered with error 407: $out"
grep -q '<ErrorCode>410</ErrorCode>' "$work/answers/luhn.xml" ||
    fail "the other action of the refused message does not say 410: $out"

xmllint --noout --nonet --schema "$TOP_SRCDIR/etc/templates/hi1-mx.xsd" \
    "$work"/answers/*.xml 2>"$work/xmllint.out" ||
    fail "answers do not validate against our templates: $(cat "$work/xmllint.out")"
shared=${WD_SHARED_DIR:-$TOP_SRCDIR/../shared}
if [ -x "$shared/etsi/validate.sh" ]; then
	"$shared/etsi/validate.sh" hi1 "$work"/answers/*.xml 2>"$work/etsi.out" ||
	    fail "answers do not validate against ETSI's schemas: $(cat "$work/etsi.out")"
else
	echo "SKIPPED: ETSI conformance of answers (no $shared/etsi/validate.sh)" >&2
fi
pass
