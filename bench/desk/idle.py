#!/usr/bin/python3
"""idle.py — what idle consoles cost warrantd (bench/desk/run, issue 10:
"the live update of the queue costs the daemon no more than 1% of a core per
connected console when idle").

  idle.py DESK_URL CACERT CERTS PID N SECONDS

N clients each hold one kept-alive mutual-TLS connection to the desk's
listener, as the console's page does (etc/desk/desk.js): every 3 s a GET of
/desk/api/queue and one of /desk/api/alerts, the clients' phases spread over
the 3 s. CERTS is a comma-separated list of CERT:KEY pairs given to the
clients in turn (several operators: one certificate may hold at most
connections-per-official connections). Once every client is connected and
has polled once, warrantd's CPU time (utime + stime of /proc/PID/stat) is
read, SECONDS later again. Prints one line:

  idle N SECONDS CPU_PCT PER_CONSOLE_PCT POLLS ERRORS
"""
import http.client
import os
import ssl
import sys
import threading
import time
import urllib.parse

PERIOD = 3.0	# desk.js: setInterval(loadQueue, 3000)


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])	# utime, stime (fields 14, 15)


class Console(threading.Thread):
    def __init__(self, url, cacert, cert, key, phase, stop, ready):
        super().__init__(daemon=True)
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.ctx = ssl.create_default_context(cafile=cacert)
        self.ctx.load_cert_chain(cert, key)
        self.phase, self.stop, self.ready = phase, stop, ready
        self.polls = self.errors = 0
        self.conn = None

    def get(self, path):
        for attempt in (0, 1):	# a closed kept-alive connection: once more
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPSConnection(
                        self.host, self.port, context=self.ctx, timeout=30)
                self.conn.request("GET", path)
                r = self.conn.getresponse()
                r.read()
                if r.status != 200:
                    raise RuntimeError("HTTP %d" % r.status)
                return
            except (OSError, http.client.HTTPException, RuntimeError):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 1:
                    self.errors += 1

    def run(self):
        time.sleep(self.phase)
        first = True
        nxt = time.monotonic()
        while not self.stop.is_set():
            self.get("/desk/api/queue")
            self.get("/desk/api/alerts")
            self.polls += 1
            if first:
                self.ready.release()
                first = False
            nxt += PERIOD
            self.stop.wait(max(0.0, nxt - time.monotonic()))
        if self.conn is not None:
            self.conn.close()


def main():
    url, cacert, certs, pid, n, secs = sys.argv[1:7]
    pid, n, secs = int(pid), int(n), float(secs)
    pairs = [c.split(":", 1) for c in certs.split(",")]
    stop, ready = threading.Event(), threading.Semaphore(0)
    consoles = [Console(url, cacert, *pairs[i % len(pairs)], PERIOD * i / max(n, 1),
                        stop, ready) for i in range(n)]
    for c in consoles:
        c.start()
    for _ in consoles:	# every console connected and polled once
        if not ready.acquire(timeout=120):
            sys.exit("idle.py: a console did not connect")
    time.sleep(PERIOD)
    polls0 = sum(c.polls for c in consoles)
    t0, c0 = time.monotonic(), cpu_ticks(pid)
    time.sleep(secs)
    t1, c1 = time.monotonic(), cpu_ticks(pid)
    polls = sum(c.polls for c in consoles) - polls0
    stop.set()
    for c in consoles:
        c.join(timeout=10)
    pct = 100.0 * (c1 - c0) / os.sysconf("SC_CLK_TCK") / (t1 - t0)
    print("idle %d %.0f %.3f %.3f %d %d" % (n, t1 - t0, pct, pct / n if n else pct,
                                             polls, sum(c.errors for c in consoles)))


if __name__ == "__main__":
    main()
