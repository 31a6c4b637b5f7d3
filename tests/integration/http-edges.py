#!/usr/bin/env python3
"""http-edges.py — raw HTTP/1.1 over mutual TLS against a test warrantd, for
the attacks curl and warrantctl cannot make: a head with bare LF line ends,
two Host fields or none, Expect, a request left unfinished, bodies held
back to fill the body budget, several requests on one kept-alive
connection, a certificate that expires while its connection is open.

Usage: http-edges.py DIR PORT CHECK [ARGS...]
  DIR holds the test PKI (tests/pki/mkpki): ca.pem and NAME.pem/NAME.key.
  CHECK is one of:
    http GOOD_XML         Expect, Host, bare LF, non-canonical numbers
    timeout SECONDS       a request begun and not finished: 408 (the
                          daemon's request-timeout is SECONDS)
    budget N SIZE GOOD_XML  N connections (fgr, fgecdmx in turn) each announce
                          a SIZE-byte body and send half of it; then a
                          request is refused 503 at once; once they are gone
                          it is accepted
    keepalive-requests N  N requests on one connection: the Nth answered
                          "Connection: close", and the connection closed
    keepalive-time SECONDS  a request after SECONDS on one connection is
                          answered "Connection: close"
    expiry NAME GOOD_XML [crl]
                          NAME's certificate (or with "crl", the CRL in
                          force) expires soon: a request before its
                          notAfter (nextUpdate) is accepted; one on the same
                          connection after it is refused 403 and closed;
                          a new connection is refused in the handshake
Prints what it checks; exit 0 if all held, 1 (with the reason) if not.
"""
import datetime
import os
import socket
import ssl
import subprocess
import sys
import time

DIR, PORT = sys.argv[1], int(sys.argv[2])


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def connect(name, timeout=20.0):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(os.path.join(DIR, "ca.pem"))
    ctx.load_cert_chain(os.path.join(DIR, name + ".pem"),
                        os.path.join(DIR, name + ".key"))
    raw = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname="localhost")


class Conn:
    """One TLS connection and what has been read from it."""

    def __init__(self, name, timeout=20.0):
        self.s = connect(name, timeout)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        try:
            chunk = self.s.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            chunk = b""
        if not chunk:
            raise EOFError
        self.buf += chunk

    def response(self):
        """(status, headers, body) of the next response; EOFError if closed."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        hdrs = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
        n = int(hdrs.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, hdrs, body.decode("utf-8", "replace")

    def closed(self):
        """True if the daemon has closed the connection (nothing more comes)."""
        try:
            while True:
                self._fill()
        except EOFError:
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def post(body, extra=b"", host=b"Host: x\r\n", length=None):
    n = len(body) if length is None else length
    return (b"POST /hi1 HTTP/1.1\r\n" + host +
            b"Content-Type: application/xml\r\n" +
            b"Content-Length: " + str(n).encode() + b"\r\n" + extra + b"\r\n")


def get(path, host=b"Host: x\r\n", version=b"1.1"):
    return b"GET " + path + b" HTTP/" + version + b"\r\n" + host + b"\r\n"


def expect_status(what, got, want):
    """want: a status, or a tuple of the statuses that will do."""
    ok = got in want if isinstance(want, tuple) else got == want
    if not ok:
        fail("%s: HTTP %s, expected %s" % (what, got, want))
    print("%s: HTTP %d as expected" % (what, got))


def one(name, data, what, want, within=None):
    """Send data on a new connection; the first response must be want,
    within `within` seconds (the deadlines are far longer)."""
    c = Conn(name)
    t0 = time.monotonic()
    c.send(data)
    try:
        st, hdrs, body = c.response()
    except EOFError:
        fail("%s: connection closed without an answer" % what)
    dt = time.monotonic() - t0
    expect_status(what, st, want)
    if within is not None and dt > within:
        fail("%s: answered after %.1f s, expected at once" % (what, dt))
    c.close()
    return hdrs, body


def check_http(good):
    body = open(good, "rb").read()
    # Expect: 100-continue: "go on" before the body is sent, then the answer.
    c = Conn("fgr")
    c.send(post(body, b"Expect: 100-continue\r\n"))
    st, _, _ = c.response()
    expect_status("Expect: 100-continue, before the body", st, 100)
    c.send(body)
    st, _, text = c.response()
    if st != 200 or "MXC-" not in text:
        fail("Expect: 100-continue: the request was not accepted: %d %s" %
             (st, text[:300]))
    print("Expect: 100-continue: body sent after 100, request accepted")
    c.close()
    # Any other expectation: 417, and the body is never needed.
    one("fgr", post(body, b"Expect: the-impossible\r\n"),
        "Expect: the-impossible", 417, within=5)
    # Host: exactly one in HTTP/1.1.
    one("fgr", post(body, host=b"") + body, "HTTP/1.1 without Host", 400,
        within=5)
    one("fgr", post(body, host=b"Host: x\r\nHost: y\r\n") + body,
        "two Host fields", 400, within=5)
    # (404 while no checkpoint has been signed yet: not a 400 either way.)
    one("auditor", get(b"/journal/checkpoint", host=b"", version=b"1.0"),
        "HTTP/1.0 without Host (allowed)", (200, 404))
    # Bare LF: 400 at once, not after the request deadline.
    one("fgr", b"GET /journal/checkpoint HTTP/1.1\nHost: x\n\n",
        "head with bare LF line ends", 400, within=5)
    one("fgr", b"POST /hi1 HTTP/1.1\r\nHost: x\nContent-Length: 5\r\n\r\n",
        "bare LF after a CRLF line", 400, within=5)
    # Numbers: one way to write each.
    one("auditor", get(b"/journal/proof?seq=01"), "seq=01", 400)
    one("auditor", get(b"/journal/proof?seq=00"), "seq=00", 400)
    one("auditor", get(b"/journal/proof?seq=+1"), "seq=+1", 400)
    one("auditor", get(b"/journal/proof?seq=0"), "seq=0 (canonical)",
        (200, 404))
    one("fgr", b"POST /hi1 HTTP/1.1\r\nHost: x\r\nContent-Type: "
        b"application/xml\r\nContent-Length: 0" + str(len(body)).encode() +
        b"\r\n\r\n" + body, "Content-Length with a leading zero", 400)


def check_timeout(seconds):
    for what, data in (("an unfinished head",
                        b"POST /hi1 HTTP/1.1\r\nHost: x\r\n"),
                       ("an unfinished body",
                        post(b"", length=100) + b"<x>")):
        c = Conn("fgr", timeout=seconds + 10)
        t0 = time.monotonic()
        c.send(data)
        try:
            st, hdrs, _ = c.response()
        except EOFError:
            fail("%s: closed without a 408" % what)
        dt = time.monotonic() - t0
        expect_status(what, st, 408)
        if hdrs.get("connection") != "close":
            fail("%s: 408 without Connection: close" % what)
        if dt < seconds - 0.5:
            fail("%s: 408 after %.1f s, before the %d-s deadline" %
                 (what, dt, seconds))
        if not c.closed():
            fail("%s: connection left open after the 408" % what)
        print("%s: 408 after %.1f s (deadline %d s), then closed" %
              (what, dt, seconds))
        c.close()


def check_budget(n, size, good):
    names = ["fgr", "fgecdmx"]
    holders = []
    half = b"<" + b"x" * (size // 2)
    for i in range(n):
        c = Conn(names[i % 2])
        c.send(post(b"", length=size) + half)
        holders.append(c)
    time.sleep(1)
    body = open(good, "rb").read()
    c = Conn("fgr")
    t0 = time.monotonic()
    c.send(post(body, b"Expect: 100-continue\r\n"))
    st, hdrs, text = c.response()
    expect_status("a body past body-budget (%d held of %d bytes)" % (n, size),
                  st, 503)
    if "Retry-After" not in [k.title() for k in hdrs]:
        fail("503 without Retry-After")
    if "body-budget" not in text:
        fail("503 does not say body-budget: %s" % text[:300])
    if time.monotonic() - t0 > 5:
        fail("the 503 took %.1f s" % (time.monotonic() - t0))
    c.close()
    for h in holders:
        h.close()
    time.sleep(1)
    c = Conn("fgr")
    c.send(post(body) + body)
    st, _, text = c.response()
    expect_status("the same request once the held bodies are gone", st, 200)
    c.close()


def check_keepalive_requests(n):
    c = Conn("auditor")
    for i in range(1, n + 1):
        c.send(get(b"/journal/checkpoint"))
        try:
            st, hdrs, _ = c.response()
        except EOFError:
            fail("request %d of %d: connection closed early" % (i, n))
        want = "close" if i == n else "keep-alive"
        if hdrs.get("connection") != want:
            fail("request %d of %d: Connection: %s, expected %s" %
                 (i, n, hdrs.get("connection"), want))
    if not c.closed():
        fail("connection still open after %d requests" % n)
    print("keepalive-requests %d: the last answered Connection: close, "
          "then closed" % n)


def check_keepalive_time(seconds):
    c = Conn("auditor")
    c.send(get(b"/journal/checkpoint"))
    st, hdrs, _ = c.response()
    if hdrs.get("connection") != "keep-alive":
        fail("first request: Connection: %s" % hdrs.get("connection"))
    time.sleep(seconds + 0.5)
    c.send(get(b"/journal/checkpoint"))
    try:
        st, hdrs, _ = c.response()
    except EOFError:
        fail("request after keepalive-time: closed without an answer")
    if hdrs.get("connection") != "close" or not c.closed():
        fail("request after keepalive-time %d s: Connection: %s" %
             (seconds, hdrs.get("connection")))
    print("keepalive-time %d s: the request after it was answered, then "
          "the connection closed" % seconds)


def not_after(name):
    out = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-in",
                          os.path.join(DIR, name + ".pem")],
                         capture_output=True, text=True, check=True).stdout
    d = datetime.datetime.strptime(out.strip().split("=", 1)[1],
                                   "%b %d %H:%M:%S %Y %Z")
    return d.replace(tzinfo=datetime.timezone.utc).timestamp()


def crl_next_update():
    out = subprocess.run(["openssl", "crl", "-noout", "-nextupdate", "-in",
                          os.path.join(DIR, "crl.pem")],
                         capture_output=True, text=True, check=True).stdout
    d = datetime.datetime.strptime(out.strip().split("=", 1)[1],
                                   "%b %d %H:%M:%S %Y %Z")
    return d.replace(tzinfo=datetime.timezone.utc).timestamp()


def check_expiry(name, good, what):
    body = open(good, "rb").read()
    end = crl_next_update() if what == "crl" else not_after(name)
    if end - time.time() < 2:
        fail("%s expires in %.1f s: too soon to test" % (name, end - time.time()))
    c = Conn(name, timeout=60)
    c.send(post(body) + body)
    st, hdrs, text = c.response()
    expect_status("before notAfter", st, 200)
    if hdrs.get("connection") != "keep-alive":
        fail("before notAfter: Connection: %s" % hdrs.get("connection"))
    time.sleep(max(0, end - time.time()) + 1.5)
    c.send(post(body) + body)
    try:
        st, hdrs, text = c.response()
    except EOFError:
        fail("after notAfter: closed without an answer")
    expect_status("after notAfter, same connection", st, 403)
    want = "CRL expired" if what == "crl" else "certificate has expired"
    if want not in text:
        fail("the 403 does not say \"%s\": %s" % (want, text[:400]))
    if not c.closed():
        fail("the connection stays open after the expiry")
    print("after the expiry: 403 (%s), then closed" % want)
    try:
        c2 = Conn(name)
        c2.send(post(body) + body)
        c2.response()
        fail("a new connection with the expired certificate was served")
    except (ssl.SSLError, EOFError, ConnectionResetError) as e:
        print("a new connection with it: refused in the handshake (%s)" %
              type(e).__name__)


def main():
    check, args = sys.argv[3], sys.argv[4:]
    if check == "http":
        check_http(args[0])
    elif check == "timeout":
        check_timeout(int(args[0]))
    elif check == "budget":
        check_budget(int(args[0]), int(args[1]), args[2])
    elif check == "keepalive-requests":
        check_keepalive_requests(int(args[0]))
    elif check == "keepalive-time":
        check_keepalive_time(int(args[0]))
    elif check == "expiry":
        check_expiry(args[0], args[1], args[2] if len(args) > 2 else "cert")
    else:
        fail("unknown check " + check)


main()
