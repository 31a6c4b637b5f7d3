#!/bin/sh
#
# include-cycles.sh — no include cycle between modules (issue 12): the
# edge, the intake, the dispatch and the auditors' API, and every other
# module of src/ (every program's folder) and lib/, include one another's headers one way only.
#
# A module is the files of src/ whose names share the part before the
# first '_' (hi1.c, hi1_response.c and hi1.h are "hi1"; server.c and
# server_alert.c "server"). A header belongs to the module its name says,
# and also to every module that defines a function it declares (server.h
# declaring intake_request() would make it the intake's too). A module
# depends on another when one of its .c files includes a header of the
# other. A cycle in that graph fails, named with the headers that make it.
#
# The checker first proves itself on a made-up tree with a cycle hidden in
# a shared header, then reads src/, lib/ and include/.
set -eu

top=${TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 77; }

check() {	# DIR: 0 if no cycle, 1 (and the cycles on stdout) if any
	python3 - "$1" <<'PY'
import glob, os, re, sys

top = sys.argv[1]
cfiles = sorted(glob.glob(top + '/src/**/*.c', recursive=True) +
                glob.glob(top + '/lib/*.c'))
# bison's output of a .y (in the tarball beside its grammar) is not a module.
cfiles = [f for f in cfiles if not os.path.exists(f[:-2] + '.y')]
hfiles = sorted(glob.glob(top + '/src/**/*.h', recursive=True) +
                glob.glob(top + '/lib/*.h') + glob.glob(top + '/include/*.h'))


def module(path):
    return os.path.splitext(os.path.basename(path))[0].split('_')[0]


def text(path):
    with open(path, errors='replace') as f:
        return re.sub(r'/\*.*?\*/', ' ', f.read(), flags=re.S)


defined = {}	# function -> modules defining it (BSD style: name at column 0)
for f in cfiles:
    for m in re.finditer(r'^([a-z_][a-z0-9_]*)\(', text(f), re.M):
        defined.setdefault(m.group(1), set()).add(module(f))
owners = {}	# header name -> modules it belongs to
for h in hfiles:
    o = {module(h)}
    for n in re.findall(r'\b([a-z_][a-z0-9_]*)\s*\(', text(h)):
        o |= defined.get(n, set())
    owners[os.path.basename(h)] = o
graph = {}	# module -> {module: {headers}}
for f in cfiles:
    a = module(f)
    for inc in re.findall(r'^\s*#\s*include\s+"([^"]+)"', text(f), re.M):
        for b in owners.get(os.path.basename(inc), ()):
            if b != a:
                graph.setdefault(a, {}).setdefault(b, set()).add(inc)

# Tarjan's strongly connected components, iteratively.
index, low, stack, on, sccs = {}, {}, [], set(), []
for root in sorted(graph):
    if root in index:
        continue
    work = [(root, iter(sorted(graph.get(root, {}))))]
    index[root] = low[root] = len(index)
    stack.append(root)
    on.add(root)
    while work:
        v, it = work[-1]
        w = next(it, None)
        if w is not None:
            if w not in index:
                index[w] = low[w] = len(index)
                stack.append(w)
                on.add(w)
                work.append((w, iter(sorted(graph.get(w, {})))))
            elif w in on:
                low[v] = min(low[v], index[w])
            continue
        work.pop()
        if work:
            low[work[-1][0]] = min(low[work[-1][0]], low[v])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                sccs.append(sorted(scc))
for scc in sccs:
    print('include cycle between modules: ' + ' '.join(scc))
    for a in scc:
        for b in sorted(graph.get(a, {})):
            if b in scc:
                print('  %s -> %s (includes %s)' %
                      (a, b, ', '.join(sorted(graph[a][b]))))
sys.exit(1 if sccs else 0)
PY
}

# 1. The checker finds a cycle hidden in a shared header: the edge's header
# declares the intake's entry point, the intake includes the edge's header.
t=$(mktemp -d "${TMPDIR:-/tmp}/wd-cycles.XXXXXX")
trap 'rm -rf "$t"' EXIT
mkdir -p "$t/src" "$t/include"
printf 'void conn_respond(int);\nvoid intake_request(int);\n' >"$t/src/server.h"
printf '#include "server.h"\nvoid\nconn_respond(int c)\n{\n\tintake_request(c);\n}\n' >"$t/src/server.c"
printf '#include "server.h"\nvoid\nintake_request(int c)\n{\n\tconn_respond(c);\n}\n' >"$t/src/intake.c"
if out=$(check "$t"); then
	echo "FAIL: include-cycles.sh: the checker missed a made-up cycle" >&2
	exit 1
fi
case $out in
*'include cycle between modules: intake server'*) ;;
*) echo "FAIL: include-cycles.sh: made-up cycle reported as: $out" >&2; exit 1 ;;
esac
# ... and none once the declaration moves to the intake's own header.
printf 'void conn_respond(int);\n' >"$t/src/server.h"
printf 'void intake_request(int);\n' >"$t/src/intake.h"
printf '#include "server.h"\nvoid\nconn_respond(int c)\n{\n\t(void)c;\n}\n' >"$t/src/server.c"
printf '#include "intake.h"\n#include "server.h"\nvoid\nintake_request(int c)\n{\n\tconn_respond(c);\n}\n' >"$t/src/intake.c"
check "$t" >/dev/null || { echo "FAIL: include-cycles.sh: a one-way include taken for a cycle" >&2; exit 1; }

# 2. The tree.
if ! out=$(check "$top"); then
	echo "FAIL: include-cycles.sh:" >&2
	echo "$out" >&2
	exit 1
fi
echo "PASS: include-cycles.sh: no include cycle between the modules of src/"
