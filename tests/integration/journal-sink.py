#!/usr/bin/python3
"""journal-sink.py — plays journald's native socket for desk-journald.sh.

  journal-sink.py SOCKET OUT [SECONDS]   bind a datagram socket at SOCKET and
                                         write every entry received to OUT, one
                                         JSON object per line, until killed or
                                         SECONDS have passed (default 600)
  journal-sink.py --self-test            check the parser on hand-made entries

The native protocol (systemd's journal-native-protocol): one datagram per
entry, fields separated by newlines, each either KEY=VALUE (no newline in
the value) or KEY, a newline, the value's length as 64-bit little-endian,
the value (any bytes) and a newline. An entry too large for a datagram
comes as an empty datagram carrying a memfd (SCM_RIGHTS) with the same
bytes. Field names are upper-case letters, digits and '_', not starting
with '_' (the client may not set trusted fields).
"""
import array
import json
import os
import re
import socket
import struct
import sys
import time

NAME = re.compile(rb"^[A-Z0-9][A-Z0-9_]{0,63}$")


def parse(data):
    """A native entry's fields as {name: [values...]}; ValueError if bad."""
    fields = {}
    i = 0
    while i < len(data):
        nl = data.find(b"\n", i)
        if nl == -1:
            raise ValueError("a field without its newline at %d" % i)
        line = data[i:nl]
        eq = line.find(b"=")
        if eq != -1:
            name, value = line[:eq], line[eq + 1:]
            i = nl + 1
        else:
            name = line
            if nl + 9 > len(data):
                raise ValueError("%r: binary length cut short" % name)
            (n,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            start = nl + 9
            if start + n + 1 > len(data) or data[start + n:start + n + 1] != b"\n":
                raise ValueError("%r: binary value of %d bytes cut short" % (name, n))
            value = data[start:start + n]
            i = start + n + 1
        if not NAME.match(name):
            raise ValueError("bad field name %r" % name)
        fields.setdefault(name.decode(), []).append(value.decode("utf-8", "replace"))
    return fields


def receive(sock):
    """One entry's bytes: the datagram, or the memfd it carried."""
    fds = array.array("i")
    msg, anc, _, _ = sock.recvmsg(1 << 20, socket.CMSG_SPACE(4 * fds.itemsize))
    for level, kind, cdata in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(cdata[:len(cdata) - len(cdata) % fds.itemsize])
    for fd in fds:
        try:
            if not msg:
                os.lseek(fd, 0, os.SEEK_SET)
                chunks = []
                while True:
                    b = os.read(fd, 1 << 16)
                    if not b:
                        break
                    chunks.append(b)
                msg = b"".join(chunks)
        finally:
            os.close(fd)
    return msg


def self_test():
    value = b"two\nlines"
    data = (b"MESSAGE=hello\nPRIORITY=2\nWARRANTD_NOTE\n" +
            struct.pack("<Q", len(value)) + value + b"\nWARRANTD_REF=MXC-1\n")
    f = parse(data)
    assert f == {"MESSAGE": ["hello"], "PRIORITY": ["2"],
                 "WARRANTD_NOTE": ["two\nlines"], "WARRANTD_REF": ["MXC-1"]}, f
    for bad in (b"MESSAGE=x", b"_PID=1\n", b"lower=x\n",
                b"K\n" + struct.pack("<Q", 10) + b"short\n"):
        try:
            parse(bad)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % bad)
    print("journal-sink: parser self-test ok")


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return
    path, out = sys.argv[1], sys.argv[2]
    until = time.time() + (float(sys.argv[3]) if len(sys.argv) > 3 else 600)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    os.chmod(path, 0o666)
    sock.settimeout(0.5)
    with open(out, "a", buffering=1) as f:
        while time.time() < until:
            try:
                data = receive(sock)
            except socket.timeout:
                continue
            try:
                entry = parse(data)
            except ValueError as e:
                entry = {"SINK_ERROR": [str(e)]}
            f.write(json.dumps(entry) + "\n")


if __name__ == "__main__":
    main()
