#!/bin/sh
#
# man-lint.sh — the manual pages, as built (man/*.in with the installation
# paths substituted), pass `mandoc -Tlint` at the style level.
#
# Ignored: "referenced manual not found" and "outdated mandoc.db", which
# depend on what else is installed on the machine; instead, every .Xr to
# one of our own pages must name a page we build.
# Skipped (77) without mandoc(1): apt-get install mandoc (scripts/deps.sh).
set -eu

src=${TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${TOP_BUILDDIR:-$src}
if ! command -v mandoc >/dev/null 2>&1; then
	echo "SKIP: mandoc is not installed (apt-get install mandoc): manual pages not linted"
	exit 77
fi

rc=0
pages=
for in in "$src"/man/*.in; do
	p=${in##*/}
	p=$build/man/${p%.in}
	if [ ! -f "$p" ]; then
		echo "FAIL: $p was not built from $in (make all builds it)"
		rc=1
		continue
	fi
	pages="$pages $p"
done
[ -n "$pages" ] || { echo "FAIL: no manual page in $src/man"; exit 1; }

for p in $pages; do
	if grep -n '@[A-Z_]*@' "$p"; then
		echo "FAIL: $p: a placeholder was not substituted (mk/pkg.am)"
		rc=1
	fi
	out=$(mandoc -Tlint -Wstyle "$p" 2>&1 |
	    grep -v -e ': STYLE: referenced manual not found: Xr ' \
	    -e 'outdated mandoc.db' || :)
	if [ -n "$out" ]; then
		printf 'FAIL: mandoc -Tlint %s:\n%s\n' "$p" "$out"
		rc=1
	fi
	# .Xr warrant... N: one of ours, so it must exist.
	for xr in $(awk '$1 == ".Xr" && $2 ~ /^warrant/ { print $2 "." $3 }' "$p"); do
		if [ ! -f "$build/man/$xr" ]; then
			echo "FAIL: $p refers to $xr, which is not one of our pages"
			rc=1
		fi
	done
done
[ $rc -ne 0 ] || echo "PASS: mandoc -Tlint clean:$pages"
exit $rc
