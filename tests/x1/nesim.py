#!/usr/bin/env python3
"""nesim -- an ETSI TS 103 221-1 (X1) network-element simulator for tests and
the demo.

It plays the network element (NE): warrantd, the ADMF, POSTs X1 requests to
it over HTTPS with mutual TLS. It answers every request it supports as the
standard says, keeps its task and destination tables in a JSON file on disk
(so a test can read what the network would intercept, and the simulator can
be restarted without losing them), and checks every request it receives
against the official X1 schemas (../shared/etsi/validate.sh x1): an invalid
request is answered HTTP 400, logged loudly on stderr and counted in
DIR/invalid.log, which tests require to be empty. Its own answers are
checked the same way (a simulator bug must not pass for a gateway one).

    nesim.py serve --dir DIR --cert C --key K --ca CA [--port N] [--ne-id ID]
                   [--rogue XID:TYPE:VALUE]...
    nesim.py ctl DIR refuse OP CODE TEXT   answer OP (e.g. ActivateTask) with
                                           an ErrorResponse from now on
    nesim.py ctl DIR hang on|off           accept requests but never answer
    nesim.py ctl DIR down on|off           close every connection at once
    nesim.py ctl DIR clear                 no refusal, no hang, not down
    nesim.py ctl DIR drop XID              forget a task (as if lost by the NE)
    nesim.py ctl DIR rogue XID TYPE VALUE  hold a task the ADMF never sent
    nesim.py ctl DIR show                  print the task table

DIR holds: port (the port it listens on, once listening), pid, state.json
(tasks, destinations, activations per XID), control.json (the knobs above),
requests.log (one JSON line per request: type, transaction, XID, answer),
invalid.log (requests that failed validation; empty when all is well).
Python 3 standard library only; validation runs xmllint (libxml2-utils).
"""

import argparse
import datetime
import fcntl
import http.server
import json
import os
import socket
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET

NS = "http://uri.etsi.org/03221/X1/2017/10"
NS280 = "http://uri.etsi.org/03280/common/2017/07"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
BODY_MAX = 1024 * 1024
HERE = os.path.dirname(os.path.abspath(__file__))
VALIDATE = os.environ.get("NESIM_VALIDATE") or os.path.normpath(
    os.path.join(HERE, "..", "..", "..", "shared", "etsi", "validate.sh"))
TARGET_TYPES = ("e164Number", "imsi", "imei", "ipv4Address", "ipv6Address")

# Error codes of the simulator's ErrorResponses (TS 103 221-1 leaves the
# numbering to the implementation; these are ours, documented in docs/x1.md).
E_UNKNOWN_XID = 1001
E_XID_EXISTS = 1002
E_UNKNOWN_DID = 1003
E_UNSUPPORTED = 1004
E_REFUSED = 1005


def q(tag, ns=NS):
    return "{%s}%s" % (ns, tag)


def now_ts():
    t = datetime.datetime.now(datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def esc(s):
    return (str(s).replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;").replace('"', "&quot;"))


def validate(body):
    """(ok, message) of the official schemas' verdict on body."""
    if not os.access(VALIDATE, os.X_OK):
        # Without ../shared (the official schemas) nothing can be checked:
        # say so on every message rather than pass silently.
        sys.stderr.write("nesim: NOT VALIDATED (no %s)\n" % VALIDATE)
        return True, "not validated"
    with tempfile.NamedTemporaryFile(suffix=".xml", delete=False) as f:
        f.write(body)
        path = f.name
    try:
        p = subprocess.run([VALIDATE, "x1", path], capture_output=True,
                           timeout=60)
        return p.returncode == 0, p.stderr.decode("utf-8", "replace").strip()
    finally:
        os.unlink(path)


class Store:
    """The NE's tables in DIR/state.json, under an flock on DIR/lock, so
    that `ctl` commands and the server never see half a change."""

    def __init__(self, d):
        self.dir = d
        self.path = os.path.join(d, "state.json")
        self.ctlpath = os.path.join(d, "control.json")
        self.lockf = open(os.path.join(d, "lock"), "a+")
        self.mutex = threading.Lock()

    def __enter__(self):
        self.mutex.acquire()
        fcntl.flock(self.lockf, fcntl.LOCK_EX)
        try:
            with open(self.path) as f:
                self.state = json.load(f)
        except FileNotFoundError:
            self.state = {"tasks": {}, "destinations": {}, "activations": {}}
        return self

    def __exit__(self, *exc):
        try:
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.state, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.rename(tmp, self.path)
        finally:
            fcntl.flock(self.lockf, fcntl.LOCK_UN)
            self.mutex.release()

    def control(self):
        try:
            with open(self.ctlpath) as f:
                return json.load(f)
        except (FileNotFoundError, ValueError):
            return {}


def append_line(path, obj):
    with open(path, "a") as f:
        f.write(json.dumps(obj, sort_keys=True) + "\n")


class NE:
    def __init__(self, d, ne_id):
        self.dir = d
        self.ne_id = ne_id
        self.store = Store(d)

    # ---- answers -------------------------------------------------------
    def head(self, rtype, req):
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<ns1:X1Response xmlns:ns1="%s" xmlns:ns2="%s" '
                'xmlns:xsi="%s">\n'
                '<ns1:x1ResponseMessage xsi:type="ns1:%s">\n'
                '<ns1:admfIdentifier>%s</ns1:admfIdentifier>\n'
                '<ns1:neIdentifier>%s</ns1:neIdentifier>\n'
                '<ns1:messageTimestamp>%s</ns1:messageTimestamp>\n'
                '<ns1:version>v1.22.1</ns1:version>\n'
                '<ns1:x1TransactionId>%s</ns1:x1TransactionId>\n'
                % (NS, NS280, XSI, rtype, esc(req["admf"]), esc(self.ne_id),
                   now_ts(), esc(req["txid"])))

    TAIL = "</ns1:x1ResponseMessage>\n</ns1:X1Response>\n"

    def ok(self, req):
        return (self.head(req["type"].replace("Request", "Response"), req) +
                "<ns1:oK>AcknowledgedAndCompleted</ns1:oK>\n" + self.TAIL)

    def error(self, req, code, text):
        op = req["type"][:-len("Request")]
        return (self.head("ErrorResponse", req) +
                "<ns1:requestMessageType>%s</ns1:requestMessageType>\n"
                "<ns1:errorInformation><ns1:errorCode>%d</ns1:errorCode>"
                "<ns1:errorDescription>%s</ns1:errorDescription>"
                "</ns1:errorInformation>\n" % (op, code, esc(text)) +
                self.TAIL)

    @staticmethod
    def task_xml(xid, t):
        ids = "".join("<ns1:targetIdentifier><ns1:%s>%s</ns1:%s>"
                      "</ns1:targetIdentifier>" % (k, esc(v), k)
                      for k, v in t["targets"])
        dids = "".join("<ns1:dId>%s</ns1:dId>" % esc(d) for d in t["dids"])
        return ("<ns1:taskResponseDetails><ns1:taskDetails>"
                "<ns1:xId>%s</ns1:xId><ns1:targetIdentifiers>%s"
                "</ns1:targetIdentifiers><ns1:deliveryType>%s"
                "</ns1:deliveryType><ns1:listOfDIDs>%s</ns1:listOfDIDs>"
                "</ns1:taskDetails><ns1:taskStatus><ns1:provisioningStatus>"
                "complete</ns1:provisioningStatus><ns1:listOfFaults/>"
                "</ns1:taskStatus></ns1:taskResponseDetails>\n"
                % (esc(xid), ids, esc(t["deliveryType"]), dids))

    @staticmethod
    def dest_xml(did, d):
        return ("<ns1:destinationResponseDetails><ns1:destinationDetails>"
                "<ns1:dId>%s</ns1:dId><ns1:deliveryType>%s</ns1:deliveryType>"
                "<ns1:deliveryAddress><ns1:ipAddressAndPort><ns2:address>"
                "<ns2:%s>%s</ns2:%s></ns2:address><ns2:port><ns2:TCPPort>%d"
                "</ns2:TCPPort></ns2:port></ns1:ipAddressAndPort>"
                "</ns1:deliveryAddress></ns1:destinationDetails>"
                "<ns1:destinationStatus><ns1:destinationDeliveryStatus>"
                "activeAndWorking</ns1:destinationDeliveryStatus>"
                "<ns1:listOfFaults/></ns1:destinationStatus>"
                "</ns1:destinationResponseDetails>\n"
                % (esc(did), esc(d["deliveryType"]), d["family"],
                   esc(d["address"]), d["family"], d["port"]))

    # ---- requests ------------------------------------------------------
    @staticmethod
    def parse_task(m):
        td = m.find(q("taskDetails"))
        targets = []
        for ti in td.find(q("targetIdentifiers")):
            c = list(ti)[0]
            targets.append([c.tag.split("}")[1], c.text or ""])
        return td.findtext(q("xId")), {
            "targets": targets,
            "deliveryType": td.findtext(q("deliveryType")),
            "dids": [e.text for e in td.find(q("listOfDIDs"))
                     if e.tag == q("dId")],
        }

    def handle(self, req, m, st):
        t = req["type"]
        tasks, dests = st["tasks"], st["destinations"]
        if t in ("PingRequest", "KeepaliveRequest"):
            return self.ok(req)
        if t == "CreateDestinationRequest":
            dd = m.find(q("destinationDetails"))
            did = dd.findtext(q("dId"))
            ip = dd.find(q("deliveryAddress")).find(q("ipAddressAndPort"))
            addr = list(ip.find(q("address", NS280)))[0]
            port = list(ip.find(q("port", NS280)))[0]
            if did in dests:
                return self.error(req, E_XID_EXISTS, "dId already exists")
            dests[did] = {"deliveryType": dd.findtext(q("deliveryType")),
                          "family": addr.tag.split("}")[1],
                          "address": addr.text, "port": int(port.text)}
            return self.ok(req)
        if t == "GetDestinationDetailsRequest":
            did = m.findtext(q("dId"))
            if did not in dests:
                return self.error(req, E_UNKNOWN_DID, "no such dId")
            return (self.head("GetDestinationDetailsResponse", req) +
                    self.dest_xml(did, dests[did]) + self.TAIL)
        if t == "RemoveDestinationRequest":
            did = m.findtext(q("dId"))
            if did not in dests:
                return self.error(req, E_UNKNOWN_DID, "no such dId")
            del dests[did]
            return self.ok(req)
        if t in ("ActivateTaskRequest", "ModifyTaskRequest"):
            xid, task = self.parse_task(m)
            req["xid"] = xid
            for did in task["dids"]:
                if did not in dests:
                    return self.error(req, E_UNKNOWN_DID,
                                      "dId %s is not known" % did)
            if t == "ActivateTaskRequest":
                if xid in tasks:
                    return self.error(req, E_XID_EXISTS,
                                      "XID already exists")
                st["activations"][xid] = st["activations"].get(xid, 0) + 1
            elif xid not in tasks:
                return self.error(req, E_UNKNOWN_XID, "no such XID")
            tasks[xid] = task
            return self.ok(req)
        if t == "DeactivateTaskRequest":
            xid = req["xid"] = m.findtext(q("xId"))
            if xid not in tasks:
                return self.error(req, E_UNKNOWN_XID, "no such XID")
            del tasks[xid]
            return self.ok(req)
        if t == "GetTaskDetailsRequest":
            xid = req["xid"] = m.findtext(q("xId"))
            if xid not in tasks:
                return self.error(req, E_UNKNOWN_XID, "no such XID")
            return (self.head("GetTaskDetailsResponse", req) +
                    self.task_xml(xid, tasks[xid]) +
                    self.TAIL)
        if t == "GetNEStatusRequest":
            return (self.head("GetNEStatusResponse", req) +
                    "<ns1:neStatusDetails><ns1:neStatus>OK</ns1:neStatus>"
                    "<ns1:listOfFaults/></ns1:neStatusDetails>\n" + self.TAIL)
        if t == "GetAllDetailsRequest":
            return (self.head("GetAllDetailsResponse", req) +
                    "<ns1:neStatusDetails><ns1:neStatus>OK</ns1:neStatus>"
                    "<ns1:listOfFaults/></ns1:neStatusDetails>\n"
                    "<ns1:listOfTaskResponseDetails>\n" +
                    "".join(self.task_xml(x, tasks[x]) for x in sorted(tasks)) +
                    "</ns1:listOfTaskResponseDetails>\n"
                    "<ns1:listOfDestinationResponseDetails>\n" +
                    "".join(self.dest_xml(d, dests[d]) for d in sorted(dests)) +
                    "</ns1:listOfDestinationResponseDetails>\n" + self.TAIL)
        return self.error(req, E_UNSUPPORTED, "not supported by nesim")

    def answer(self, body):
        """(HTTP status, body) for one POSTed body."""
        ok, why = validate(body)
        if not ok:
            sys.stderr.write("nesim %s: INVALID X1 REQUEST: %s\n"
                             % (self.ne_id, why))
            sys.stderr.flush()
            append_line(os.path.join(self.dir, "invalid.log"),
                        {"why": why, "body": body.decode("utf-8", "replace")})
            return 400, b"invalid X1 request\n"
        root = ET.fromstring(body)
        msgs = root.findall(q("x1RequestMessage"))
        out = []
        with self.store as st:
            ctl = st.control()
            for m in msgs:
                req = {"type": m.get(q("type", XSI)).split(":")[-1],
                       "admf": m.findtext(q("admfIdentifier")),
                       "txid": m.findtext(q("x1TransactionId")), "xid": None}
                refuse = ctl.get("refuse", {}).get(req["type"][:-7])
                if refuse:
                    x = m.find(q("taskDetails"))
                    req["xid"] = (x.findtext(q("xId")) if x is not None
                                  else m.findtext(q("xId")))
                    a = self.error(req, int(refuse[0]), refuse[1])
                else:
                    a = self.handle(req, m, st.state)
                req["answer"] = "error" if "ErrorResponse" in a else "ok"
                append_line(os.path.join(self.dir, "requests.log"), req)
                out.append(a)
        # One response message per request message, in one container.
        if len(out) > 1:
            parts = [a.split('<ns1:x1ResponseMessage', 1)[1]
                     .rsplit("</ns1:X1Response>", 1)[0] for a in out]
            first = out[0].split("<ns1:x1ResponseMessage", 1)[0]
            text = first + "".join("<ns1:x1ResponseMessage" + p
                                   for p in parts) + "</ns1:X1Response>\n"
        else:
            text = out[0]
        data = text.encode()
        ok, why = validate(data)
        if not ok:
            sys.stderr.write("nesim %s: BUG: own answer invalid: %s\n%s\n"
                             % (self.ne_id, why, text))
            append_line(os.path.join(self.dir, "invalid.log"),
                        {"why": "own answer: " + why, "body": text})
        return 200, data


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nesim/1"

    def log_message(self, fmt, *args):
        sys.stderr.write("nesim %s: %s\n" % (self.server.ne.ne_id,
                                             fmt % args))

    def reply(self, status, data):
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        ne = self.server.ne
        ctl = ne.store.control()
        if ctl.get("down"):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        try:
            n = int(self.headers.get("Content-Length", ""))
        except ValueError:
            n = -1
        if n < 0 or n > BODY_MAX:
            self.close_connection = True
            return self.reply(400, b"bad length\n")
        body = self.rfile.read(n)
        if ctl.get("hang"):
            # Hold the connection and never answer: the ADMF's deadline must
            # end it. Poll so that `ctl hang off` and a stop release us.
            while ne.store.control().get("hang") and not self.server.stopping:
                time.sleep(0.1)
            self.close_connection = True
            return
        status, data = ne.answer(body)
        self.reply(status, data)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    stopping = False


def serve(a):
    os.makedirs(a.dir, exist_ok=True)
    ne = NE(a.dir, a.ne_id)
    for r in a.rogue:
        xid, typ, val = r.split(":", 2)
        with ne.store as st:
            st.state["tasks"][xid] = {"targets": [[typ, val]],
                                      "deliveryType": "X2andX3", "dids": []}
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(a.cert, a.key)
    ctx.load_verify_locations(a.ca)
    ctx.verify_mode = ssl.CERT_REQUIRED		# mutual TLS
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.ne = ne
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(os.path.join(a.dir, "pid"), "w") as f:
        f.write("%d\n" % os.getpid())
    tmp = os.path.join(a.dir, "port.tmp")
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, os.path.join(a.dir, "port"))
    open(os.path.join(a.dir, "invalid.log"), "a").close()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.stopping = True


def ctl(a):
    ne = NE(a.dir, "ctl")
    cmd, args = a.cmd, a.args
    if cmd in ("refuse", "hang", "down", "clear"):
        c = ne.store.control()
        if cmd == "refuse":
            c.setdefault("refuse", {})[args[0]] = [int(args[1]), args[2]]
        elif cmd == "clear":
            c = {}
        else:
            c[cmd] = args[0] == "on"
        tmp = ne.store.ctlpath + ".tmp"
        with open(tmp, "w") as f:
            json.dump(c, f)
        os.rename(tmp, ne.store.ctlpath)
        return 0
    with ne.store as st:
        if cmd == "drop":
            if st.state["tasks"].pop(args[0], None) is None:
                print("no such XID", file=sys.stderr)
                return 1
        elif cmd == "rogue":
            st.state["tasks"][args[0]] = {"targets": [[args[1], args[2]]],
                                          "deliveryType": "X2andX3",
                                          "dids": []}
        elif cmd == "show":
            print(json.dumps(st.state, indent=1, sort_keys=True))
        else:
            print("unknown command %s" % cmd, file=sys.stderr)
            return 2
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--dir", required=True)
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--ca", required=True)
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--ne-id", default="ne1")
    s.add_argument("--rogue", action="append", default=[],
                   help="XID:TYPE:VALUE, a task the ADMF never sent")
    c = sub.add_parser("ctl")
    c.add_argument("dir")
    c.add_argument("cmd")
    c.add_argument("args", nargs="*")
    a = p.parse_args()
    if a.what == "serve":
        serve(a)
        return 0
    return ctl(a)


if __name__ == "__main__":
    sys.exit(main())
