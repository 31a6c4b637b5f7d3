#!/bin/sh
# tests/templates/run.sh: checks warrantd's Mexican HI-1 profile (etc/templates/) with xmllint.
#
#  1. every sample, etc/samples/*.xml and etc/samples/responses/*.xml, is valid under our
#     templates (etc/templates/hi1-mx.xsd) AND under the official ETSI schemas;
#  2. every fixture in tests/templates/invalid/ is REJECTED by our templates, for the reason
#     its comment gives (its "expect:" line must appear in xmllint's errors);
#  3. every fixture in tests/templates/semantic/ is ACCEPTED by our templates (and the
#     official schemas): those are the cases only warrantd's semantic checks can refuse;
#     The annotated example of docs/profile.md is checked like a sample.
#  4. etc/templates/mx-dictionaries.xml is valid under the ETSI dictionary schema, and its
#     RequestType and AuthorisationLegalType values are exactly the enumerations of
#     etc/templates/mx-common.xsd;
#  5. the templates keep the rules that make them a subset (ETSI type names only,
#     blockDefault="#all", no fixed/default);
#  6. no tracked file of the repository is a copy of an official ETSI schema file.
#
# The official checks need ../shared beside the repository (shared/etsi/validate.sh); without
# it they are skipped, loudly.  One line per file, then "N passed, M failed".
# Exit status: 0 if everything passed, 1 otherwise.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here" && git rev-parse --show-toplevel 2>/dev/null) || root=$(cd "$here/../.." && pwd)
cd "$root" || exit 1
shared="$root/../shared"
xsd=etc/templates/hi1-mx.xsd
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wd-templates.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT HUP INT TERM

passed=0
failed=0
pass() { passed=$((passed + 1)); printf 'PASS  %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$*"; }
# show the first error lines of a failed validation, indented
show() { sed -n '1,5s/^/      /p' "$1"; }

if ! command -v xmllint >/dev/null 2>&1; then
	echo "FAIL  xmllint not found: apt-get install -y libxml2-utils"
	echo "0 passed, 1 failed"
	exit 1
fi

official=0
if [ -x "$shared/etsi/validate.sh" ]; then
	official=1
else
	echo "######################################################################"
	echo "SKIPPED: official ETSI conformance (../shared absent)"
	echo "######################################################################"
fi

ours_valid() {		# file errfile
	xmllint --noout --nonet --schema "$xsd" "$1" >"$2" 2>&1
}
official_valid() {	# file errfile
	"$shared/etsi/validate.sh" hi1 "$1" >"$2" 2>&1
}

# 1 + 3: files that must be valid under ours (and the official schemas).
check_valid() {		# file what [name to print]
	f=$1
	name=${3:-$1}
	if ! ours_valid "$f" "$tmp/err"; then
		fail "$name: $2 REJECTED by our templates"
		show "$tmp/err"
		return
	fi
	if [ "$official" -eq 0 ]; then
		pass "$name: $2 valid under our templates (official check skipped)"
	elif official_valid "$f" "$tmp/err"; then
		pass "$name: $2 valid under our templates and the official schemas"
	else
		fail "$name: $2 valid under our templates but NOT under the official schemas (profile too wide)"
		show "$tmp/err"
	fi
}

for f in etc/samples/*.xml etc/samples/responses/*.xml; do
	[ -e "$f" ] || continue
	check_valid "$f" "sample"
done

# 2: negative fixtures.
for f in tests/templates/invalid/*.xml; do
	[ -e "$f" ] || continue
	expect=$(sed -n 's/^ *expect: //p' "$f" | head -n 1)
	if ours_valid "$f" "$tmp/err"; then
		fail "$f: ACCEPTED by our templates, must be rejected"
	elif [ -z "$expect" ]; then
		fail "$f: rejected, but the fixture has no 'expect:' line"
		show "$tmp/err"
	elif grep -F -q -- "$expect" "$tmp/err"; then
		pass "$f: rejected as expected"
	else
		fail "$f: rejected, but not for the expected reason ($expect)"
		show "$tmp/err"
	fi
done

# 3: schema-valid fixtures that warrantd must refuse semantically.
for f in tests/templates/semantic/*.xml; do
	[ -e "$f" ] || continue
	check_valid "$f" "semantic-only case:"
done

# 3b: the annotated example of docs/profile.md (its only ```xml block) must stay valid.
doc=docs/profile.md
if [ -f "$doc" ]; then
	awk '/^```xml$/ { on = 1; next } /^```$/ { on = 0 } on' "$doc" >"$tmp/doc-example.xml"
	if [ -s "$tmp/doc-example.xml" ]; then
		check_valid "$tmp/doc-example.xml" "annotated example" "$doc"
	else
		fail "$doc: no \`\`\`xml example found"
	fi
fi

# 4: dictionaries.
dict=etc/templates/mx-dictionaries.xml
dxsd="$shared/etsi/ts103120-v1.12.1/dictionaries/ts_103120_Dictionaries.xsd"
dict_values() {		# dictionary name -> sorted values in mx-dictionaries.xml
	xmllint --xpath "//*[local-name()='Dictionary'][*[local-name()='Owner']='MX'][*[local-name()='Name']='$1']//*[local-name()='DictionaryEntry']/*[local-name()='Value']/text()" "$dict" 2>/dev/null | tr ' ' '\n' | sed '/^$/d' | sort
}
xsd_values() {		# model group name -> sorted enumerations of its Value element
	xmllint --xpath "//*[local-name()='group'][@name='$1']//*[local-name()='element'][@name='Value']//*[local-name()='enumeration']/@value" etc/templates/mx-common.xsd 2>/dev/null | tr ' ' '\n' | sed -n 's/^value="\(.*\)"$/\1/p' | sort
}
dict_ok=1
if [ "$official" -eq 1 ]; then
	if ! xmllint --noout --nonet --schema "$dxsd" "$dict" >"$tmp/err" 2>&1; then
		dict_ok=0
		show "$tmp/err"
	fi
elif ! xmllint --noout --nonet "$dict" >"$tmp/err" 2>&1; then
	dict_ok=0
	show "$tmp/err"
fi
for pair in RequestType:MXRequestTypeEntry AuthorisationLegalType:MXAuthorisationLegalTypeEntry; do
	dict_values "${pair%%:*}" >"$tmp/d"
	xsd_values "${pair#*:}" >"$tmp/x"
	if [ ! -s "$tmp/d" ] || ! cmp -s "$tmp/d" "$tmp/x"; then
		dict_ok=0
		echo "      ${pair%%:*}: dictionary [$(tr '\n' ' ' <"$tmp/d")] vs mx-common.xsd [$(tr '\n' ' ' <"$tmp/x")]"
	fi
done
if [ "$dict_ok" -eq 0 ]; then
	fail "$dict: invalid, or out of step with mx-common.xsd"
elif [ "$official" -eq 1 ]; then
	pass "$dict: valid under the ETSI dictionary schema, values match mx-common.xsd"
else
	pass "$dict: well-formed, values match mx-common.xsd (official check skipped)"
fi

# 5: the rules that keep the profile inside the standard (see mx-etsi280.xsd's header):
# every named type or global element is one the official schema of that namespace declares
# too (so an xsi:type can never name something the official validator does not know),
# xsi:type substitution is blocked by default, no element has 'fixed' or 'default'.
rules=""
for f in etc/templates/mx-*.xsd; do
	grep -q 'blockDefault="#all"' "$f" || rules="$rules $f:no-blockDefault"
	grep -Eq '[[:space:]](fixed|default)=' "$f" && rules="$rules $f:fixed-or-default"
	[ "$official" -eq 1 ] || continue
	tns=$(xmllint --xpath 'string(/*/@targetNamespace)' "$f")
	off=$(grep -l "targetNamespace=\"$tns\"" "$shared"/etsi/ts103120-v1.12.1/schema/*.xsd | head -n 1)
	for kind in complexType simpleType element; do
		for n in $(xmllint --xpath "/*/*[local-name()='$kind']/@name" "$f" 2>/dev/null | sed 's/ name="\([^"]*\)"/\1 /g'); do
			[ -n "$off" ] && [ "$(xmllint --xpath "count(/*/*[local-name()='$kind'][@name='$n'])" "$off")" -ge 1 ] ||
			    rules="$rules $f:$kind:$n"
		done
	done
done
if [ -n "$rules" ]; then
	fail "etc/templates: profile rules broken:$rules"
elif [ "$official" -eq 1 ]; then
	pass "etc/templates: only ETSI type names, xsi:type blocked by default, no fixed/default"
else
	pass "etc/templates: xsi:type blocked by default, no fixed/default (ETSI names not checked: official skipped)"
fi

# 6: no copy of an official schema file in the repository.
if [ "$official" -eq 1 ]; then
	find "$shared/etsi" -name '*.xsd' -type f -exec sha256sum {} + | cut -d' ' -f1 | sort -u >"$tmp/etsi"
	copies=$(git ls-files -z -- '*.xsd' '*.xml' 2>/dev/null | xargs -0 -r sha256sum 2>/dev/null |
	    while read -r sum name; do grep -qx "$sum" "$tmp/etsi" && echo "$name"; done)
	if [ -n "$copies" ]; then
		fail "repository: copies of official ETSI schema files: $copies"
	else
		pass "repository: no copy of an official ETSI schema file"
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
