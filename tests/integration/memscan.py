#!/usr/bin/env python3
# memscan.py PID KEYFILE...: for each key, "found" or "absent" in PID's memory
# (read through /proc/PID/mem: root, or the same user with ptrace allowed).
# Used by tests/integration/parsers.sh and journal-signer.sh (lib.sh: memscan).
import re, sys
pid, keys = sys.argv[1], [open(k, 'rb').read() for k in sys.argv[2:]]
found = [False] * len(keys)
with open('/proc/%s/maps' % pid) as maps, open('/proc/%s/mem' % pid, 'rb', 0) as mem:
    for line in maps:
        m = re.match(r'([0-9a-f]+)-([0-9a-f]+) (\S+)', line)
        lo, hi, perms = int(m.group(1), 16), int(m.group(2), 16), m.group(3)
        if perms[0] != 'r' or '[vvar]' in line or hi - lo > (1 << 34):
            continue
        for off in range(lo, hi, 1 << 24):
            try:
                mem.seek(off)
                chunk = mem.read(min(hi, off + (1 << 24) + 64) - off)
            except (OSError, ValueError, OverflowError):
                break
            for i, k in enumerate(keys):
                found[i] = found[i] or k in chunk
print(' '.join('found' if f else 'absent' for f in found))
