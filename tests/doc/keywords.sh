#!/bin/sh
#
# keywords.sh — every configuration keyword is documented, in both places.
#
# The keywords are those of the grammar's keyword table (the `keywords[]`
# array of src/warrantd/parse.y), which is what the parser accepts. Each must be:
#   - in docs/config.md, as a word between backquotes in the first cell of
#     a row of a keyword table (a table whose header's first cell is
#     "keyword"), e.g.  | `answer-within` | duration | `5s` | ... |
#   - in man/warrantd.conf.5.in, as an argument of the .Ic macro,
#     e.g.  .It Ic answer-within Ar duration
# and every word documented that way must be a keyword (nothing stale).
# A failure names the keyword and the file to fix.
set -eu

top=${TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
grammar=$top/src/warrantd/parse.y
md=$top/docs/config.md
man=$top/man/warrantd.conf.5.in
for f in "$grammar" "$md" "$man"; do
	[ -r "$f" ] || { echo "FAIL: $f: not readable"; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# { "name",	TOKEN }, lines between "keywords[] = {" and "};".
awk '/keywords\[\] = \{/ { t = 1; next }
    t && /^\};/ { exit }
    t && match($0, /\{ *"[^"]+"/) {
	s = substr($0, RSTART, RLENGTH); sub(/^\{ *"/, "", s); sub(/"$/, "", s)
	print s
    }' "$grammar" | sort -u >"$tmp/grammar"
n=$(wc -l <"$tmp/grammar")
if [ "$n" -lt 20 ]; then
	echo "FAIL: $grammar: found $n keywords in the keywords[] table;" \
	    "has the table changed shape? (this test reads { \"name\", TOKEN } lines)"
	exit 1
fi

# docs/config.md: code spans of the first cell of keyword tables' rows.
awk -F'|' '
    /^\|/ {
	cell = $2
	if (!intable) {
		intable = 1
		h = cell; gsub(/^ +| +$/, "", h)
		kw = (tolower(h) == "keyword")
		next
	}
	if (!kw || cell ~ /^ *-+ *$/) next
	while (match(cell, /`[^`]*`/)) {
		span = substr(cell, RSTART + 1, RLENGTH - 2)
		cell = substr(cell, RSTART + RLENGTH)
		n = split(span, w, /[^a-z0-9-]+/)
		for (i = 1; i <= n; i++) if (w[i] ~ /^[a-z]/) print w[i]
	}
	next
    }
    { intable = 0 }' "$md" | sort -u >"$tmp/md"

# man page: the words after each Ic macro, up to the next macro.
awk '/^\./ {
	n = split($0, t, /[ \t]+/)
	ic = 0
	for (i = 1; i <= n; i++) {
		if (t[i] == "Ic") { ic = 1; continue }
		if (t[i] ~ /^\.?[A-Z][a-z][a-z]?$/ || t[i] ~ /^\./) { ic = 0; continue }
		if (ic && t[i] ~ /^[a-z][a-z0-9-]*$/) print t[i]
	}
    }' "$man" | sort -u >"$tmp/man"

rc=0
for k in $(comm -23 "$tmp/grammar" "$tmp/md"); do
	echo "FAIL: keyword \"$k\" (src/warrantd/parse.y) is not documented in docs/config.md:" \
	    "add a row naming it to its block's keyword table, e.g. | \`$k\` | value | default | ... |"
	rc=1
done
for k in $(comm -23 "$tmp/grammar" "$tmp/man"); do
	echo "FAIL: keyword \"$k\" (src/warrantd/parse.y) is not documented in man/warrantd.conf.5.in:" \
	    "add it to its block's list, e.g. .It Ic $k Ar value"
	rc=1
done
for k in $(comm -13 "$tmp/grammar" "$tmp/md"); do
	echo "FAIL: docs/config.md documents \"$k\", which is not a keyword of src/warrantd/parse.y"
	rc=1
done
for k in $(comm -13 "$tmp/grammar" "$tmp/man"); do
	echo "FAIL: man/warrantd.conf.5.in documents \"$k\" (.Ic), which is not a keyword of src/warrantd/parse.y"
	rc=1
done
[ $rc -ne 0 ] || echo "PASS: all $n keywords of src/warrantd/parse.y are in docs/config.md and warrantd.conf(5)"
exit $rc
