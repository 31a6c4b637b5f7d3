#!/bin/sh
#
# layout.sh — the house (issue 12): one folder per program under src/, lib/
# for what they share, and no program's sources inside another's.
#
# Read from the tree (src/, lib/) and from the build rules (Makefile.am and
# mk/*.am, continuation lines joined, $(VAR)s expanded, conditionals read as
# if every one held):
#   - every .c (and .y) under src/ is in src/PROG/, PROG a program that
#     Makefile.am installs (sbin_PROGRAMS, bin_PROGRAMS), and is compiled by
#     that program or by a library of its folder; every .c under lib/ is in
#     lib/libwarrant.a; none is compiled into two of them;
#   - the SOURCES of a program name only its own folder, lib/, include/ and
#     the generated proto/; those of a library (noinst_LIBRARIES) only its
#     own folder, include/ and proto/ (lib/libwarrant.a: lib/ only);
#   - a program links (LDADD) only lib/libwarrant.a and the libraries of its
#     own folder.
# The folder of a program is src/NAME/, NAME its file name: warrantd-parser
# is built beside warrantd (src/warrantd/warrantd-parser, which warrantd
# starts from its own directory) from src/warrantd-parser/.
# Tests, fuzz targets and benchmarks (check_, noinst_, EXTRA_PROGRAMS) may
# compile any module: they are not programs of the house.
#
# The checker first proves itself on a made-up tree with a misplaced file,
# then reads this one.
set -eu

top=${TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 77; }

check() {	# DIR: 0 if the layout holds, 1 (and what breaks it on stdout) if not
	python3 - "$1" <<'PY'
import glob, os, re, sys

top = sys.argv[1]
text = ''
for f in [top + '/Makefile.am'] + sorted(glob.glob(top + '/mk/*.am')):
    with open(f) as fh:
        text += re.sub(r'\\\n', ' ', fh.read()) + '\n'

var = {}	# name -> [values], every assignment and += in order
for m in re.finditer(r'^([A-Za-z_][A-Za-z0-9_]*)\s*(\+?=)(.*)$', text, re.M):
    name, op, val = m.group(1), m.group(2), m.group(3).split('#')[0].split()
    var[name] = (var.get(name, []) if op == '+=' else []) + val


def expand(vals, depth=0):
    out = []
    for v in vals:
        r = re.fullmatch(r'\$\(([A-Za-z_][A-Za-z0-9_]*)\)', v)
        if r and depth < 10:
            out += expand(var.get(r.group(1), []), depth + 1)
        elif '$' not in v:
            out.append(v)
    return out


def canon(path):
    return re.sub(r'[^A-Za-z0-9_]', '_', path)


def sources(target):
    return expand(var.get(canon(target) + '_SOURCES', []) +
                  var.get('nodist_' + canon(target) + '_SOURCES', []))


bad = []
programs = expand(var.get('sbin_PROGRAMS', []) + var.get('bin_PROGRAMS', []))
libraries = expand(var.get('noinst_LIBRARIES', []))
folders = {'src/%s/' % os.path.basename(p) for p in programs}
owner = {}	# compiled file -> targets that compile it

for p in programs:
    home = 'src/%s/' % os.path.basename(p)
    for s in sources(p):
        owner.setdefault(s, []).append(p)
        if not s.startswith((home, 'lib/', 'include/', 'proto/')):
            bad.append('%s: program %s compiles it (its folder is %s)' % (s, p, home))
    for l in expand(var.get(canon(p) + '_LDADD', [])):
        if l.endswith('.a') and l != 'lib/libwarrant.a' and \
                not l.startswith(home):
            bad.append('%s: linked by program %s (its folder is %s)' % (l, p, home))
for lib in libraries:
    home = os.path.dirname(lib) + '/'
    for s in sources(lib):
        owner.setdefault(s, []).append(lib)
        if not s.startswith((home, 'include/', 'proto/')):
            bad.append('%s: in library %s (only %s)' % (s, lib, home))

found = sorted(glob.glob(top + '/src/**/*.[cy]', recursive=True) +
               glob.glob(top + '/lib/**/*.[cy]', recursive=True))
# bison's output of a .y, shipped in the tarball beside its grammar: the
# grammar is the module.
found = [f for f in found
         if not (f.endswith('.c') and os.path.exists(f[:-2] + '.y'))]
for path in (f[len(top) + 1:] for f in found):
    if path.startswith('src/') and os.path.dirname(path) + '/' not in folders:
        bad.append('%s: not in a program\'s folder (%s) or lib/' %
                   (path, ' '.join(sorted(folders))))
    by = owner.get(path, [])
    if not by:
        bad.append('%s: compiled by no program or library' % path)
    elif len(by) > 1:
        bad.append('%s: compiled into %s' % (path, ' and '.join(by)))
for line in bad:
    print(line)
sys.exit(1 if bad else 0)
PY
}

# A made-up tree: two programs and the shared library, then a module of
# one program placed in the other's folder, at the top of src/, and a
# program linking the other's library.
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
mkdir -p "$t/mk" "$t/src/one" "$t/src/two" "$t/lib"
cat >"$t/Makefile.am" <<'EOF'
noinst_LIBRARIES = lib/libwarrant.a src/one/libone.a
lib_libwarrant_a_SOURCES = lib/log.c
src_one_libone_a_SOURCES = src/one/store.c
bin_PROGRAMS = src/one/one src/two/two
src_one_one_SOURCES = src/one/one.c
src_one_one_LDADD = src/one/libone.a lib/libwarrant.a
src_two_two_SOURCES = src/two/two.c \
	src/two/net.c
src_two_two_LDADD = lib/libwarrant.a
EOF
touch "$t/lib/log.c" "$t/src/one/store.c" "$t/src/one/one.c" \
    "$t/src/two/two.c" "$t/src/two/net.c"
check "$t" >"$t/out" || { cat "$t/out"; echo "FAIL: the tidy made-up tree"; exit 1; }
mv "$t/src/two/net.c" "$t/src/one/net.c"
sed -i 's#src/two/net.c#src/one/net.c#' "$t/Makefile.am"
if check "$t" >"$t/out"; then
	echo "FAIL: a module of two in one's folder was not found"; exit 1
fi
grep -q '^src/one/net.c: program src/two/two compiles it' "$t/out" ||
	{ cat "$t/out"; echo "FAIL: the misplaced module not named"; exit 1; }
mv "$t/src/one/net.c" "$t/src/net.c"
sed -i 's#src/one/net.c#src/net.c#' "$t/Makefile.am"
check "$t" >"$t/out" && { echo "FAIL: a module at the top of src/ was not found"; exit 1; }
grep -q '^src/net.c: not in a program' "$t/out" ||
	{ cat "$t/out"; echo "FAIL: the module at the top of src/ not named"; exit 1; }
mv "$t/src/net.c" "$t/src/two/net.c"
sed -i 's#src/net.c#src/two/net.c#; s#^src_two_two_LDADD = #&src/one/libone.a #' "$t/Makefile.am"
check "$t" >"$t/out" && { echo "FAIL: two linking one's library was not found"; exit 1; }
grep -q '^src/one/libone.a: linked by program src/two/two' "$t/out" ||
	{ cat "$t/out"; echo "FAIL: the library linked by another not named"; exit 1; }

if ! check "$top" >"$t/out"; then
	sed 's/^/FAIL: /' "$t/out"
	exit 1
fi
echo "PASS: $(find "$top/src" "$top/lib" -name '*.[cy]' | wc -l) modules, each in its program's folder or lib/"
