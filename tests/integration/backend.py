#!/usr/bin/env python3
"""The plain-HTTP/1.1 test backend of revgate's integration tests (Python 3 standard library).

    backend.py PORT_FILE [--name NAME] [--host 127.0.0.1]
        listens on HOST, port 0 (a free port), writes the port to PORT_FILE once listening.
    backend.py --pattern N          writes the N-byte test pattern to stdout
    backend.py --pattern-sha256 N   prints the SHA-256 (hex) of the N-byte test pattern

Raw sockets, one thread per connection, HTTP/1.1 keep-alive, pipelining, HEAD everywhere,
Content-Length and chunked request bodies read as a stream (never stored), and
"Expect: 100-continue" answered with an interim "HTTP/1.1 100 Continue" before the body is read.
It is deliberately lenient (bare LF, obs-fold, both framings: Transfer-Encoding wins), so that
whatever a proxy lets through is seen and counted here rather than refused.

Paths:
  /echo                     JSON: method, target, path, version, headers ([name, value] in
                            order, duplicates kept), body_length, body_sha256, chunked,
                            expect_continue, backend, connection, request_on_connection
  /download?bytes=N         N bytes of the test pattern, with Content-Length
  /chunked?chunks=N&size=M  N chunks of M bytes of the test pattern, chunked
  /upload                   JSON: length, sha256, chunked, expect_continue of the request body
  /slow?ms=N                reads the body, sleeps N ms, then answers JSON
  /hang                     reads the body, never answers; returns when the peer closes
  /status?code=N            that status; 1xx/204/304 have no body, others a short text
  /ws                       "Upgrade: websocket" -> 101, then echoes raw bytes until EOF
  /close                    answers with "Connection: close" and closes
  /stats                    JSON counters (not counted themselves); ?reset=1 zeroes them
Every response carries "X-Backend: NAME".

The test pattern is 64 KiB blocks, each an 8-byte big-endian block number followed by a fixed
filler, so a lost, repeated or reordered block changes its SHA-256.
"""

import argparse
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

BLOCK = 65536
FILLER = bytes((i * 7 + 13) & 0xFF for i in range(BLOCK - 8))
HEAD_MAX = 1 << 20
LINE_MAX = 65536
IDLE_TIMEOUT = 300.0
HANG_MAX = 600.0
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
REASONS = {
    100: "Continue", 101: "Switching Protocols", 200: "OK", 201: "Created",
    202: "Accepted", 204: "No Content", 206: "Partial Content", 301: "Moved Permanently",
    302: "Found", 304: "Not Modified", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
    413: "Content Too Large", 426: "Upgrade Required", 500: "Internal Server Error",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}


class Pattern:
    """The test pattern as a stream: read(k) returns the next k bytes (fewer at the end)."""

    def __init__(self, total):
        self.left = total
        self.block = 0
        self.pending = b""

    def read(self, k):
        out = []
        want = min(k, self.left)
        self.left -= want
        while want > 0:
            if not self.pending:
                self.pending = struct.pack(">Q", self.block) + FILLER
                self.block += 1
            piece = self.pending[:want]
            self.pending = self.pending[want:]
            out.append(piece)
            want -= len(piece)
        return b"".join(out)


def pattern_write(total, out):
    p = Pattern(total)
    while True:
        data = p.read(BLOCK)
        if not data:
            return
        out.write(data)


def pattern_sha256(total):
    h = hashlib.sha256()
    p = Pattern(total)
    while True:
        data = p.read(BLOCK)
        if not data:
            return h.hexdigest()
        h.update(data)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.accepted = 0        # TCP connections accepted
        self.connections = 0     # connections that carried at least one counted request
        self.active = 0          # connections open now
        self.requests = 0        # requests, /stats excluded
        self.malformed = 0       # requests that could not be parsed
        self.upgrades = 0        # /ws upgrades done
        self.paths = {}          # path -> requests

    def snapshot(self):
        return {
            "accepted": self.accepted, "connections": self.connections,
            "active": self.active, "requests": self.requests, "malformed": self.malformed,
            "upgrades": self.upgrades, "paths": dict(self.paths),
        }


class PeerClosed(Exception):
    pass


class BadRequest(Exception):
    pass


class Request:
    def __init__(self, method, target, version, headers):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        parts = urlsplit(target)
        self.path = parts.path
        self.query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.expect_continue = False
        self.continue_sent = False
        self.chunked = False

    def header(self, name):
        """The last value of header NAME (case-insensitive), or None."""
        found = None
        for n, v in self.headers:
            if n.lower() == name.lower():
                found = v
        return found

    def tokens(self, name):
        out = set()
        for n, v in self.headers:
            if n.lower() == name.lower():
                out.update(t.strip().lower() for t in v.split(",") if t.strip())
        return out

    def keep_alive(self):
        conn = self.tokens("connection")
        if "close" in conn:
            return False
        return self.version == "HTTP/1.1" or "keep-alive" in conn

    def int_query(self, key, default):
        try:
            return int(self.query.get(key, default))
        except ValueError:
            raise BadRequest("query %s is not a number" % key)


class Connection:
    def __init__(self, server, sock, cid):
        self.server = server
        self.sock = sock
        self.id = cid
        self.buf = bytearray()
        self.counted = False
        self.nreq = 0

    # ---- input
    def fill(self):
        data = self.sock.recv(BLOCK)
        if not data:
            raise PeerClosed()
        self.buf += data

    def read_head(self):
        """Returns the bytes of the next request head (terminator excluded), None at EOF."""
        while True:
            crlf = self.buf.find(b"\r\n\r\n")
            lf = self.buf.find(b"\n\n")
            ends = [(i, n) for i, n in ((crlf, 4), (lf, 2)) if i >= 0]
            if ends:
                i, n = min(ends)
                head = bytes(self.buf[:i])
                del self.buf[:i + n]
                return head
            if len(self.buf) > HEAD_MAX:
                raise BadRequest("head too large")
            try:
                self.fill()
            except PeerClosed:
                if self.buf.strip():
                    raise BadRequest("connection closed inside a request head")
                return None

    def read_line(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i]).rstrip(b"\r")
                del self.buf[:i + 1]
                return line
            if len(self.buf) > LINE_MAX:
                raise BadRequest("line too long")
            self.fill()

    def read_some(self, limit):
        if not self.buf:
            self.fill()
        data = bytes(self.buf[:limit])
        del self.buf[:limit]
        return data

    def body(self, req):
        """Yields the request body in pieces as it arrives (chunked framing removed)."""
        te = req.tokens("transfer-encoding")
        cl = req.header("content-length")
        if "chunked" in te:
            req.chunked = True
        elif cl is not None:
            req.chunked = False
            try:
                left = int(cl.strip())
            except ValueError:
                raise BadRequest("bad Content-Length")
        else:
            req.chunked = False
            left = 0
        if req.expect_continue and not req.continue_sent and (req.chunked or left > 0):
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            req.continue_sent = True
        if not req.chunked:
            while left > 0:
                data = self.read_some(min(left, BLOCK))
                left -= len(data)
                yield data
            return
        while True:
            line = self.read_line()
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadRequest("bad chunk size %r" % line[:40])
            if size == 0:
                while self.read_line():     # trailers, up to the blank line
                    pass
                return
            while size > 0:
                data = self.read_some(min(size, BLOCK))
                size -= len(data)
                yield data
            if self.read_line():
                raise BadRequest("chunk not followed by CRLF")

    def drain(self, req):
        h = hashlib.sha256()
        n = 0
        for piece in self.body(req):
            h.update(piece)
            n += len(piece)
        return n, h.hexdigest()

    # ---- output
    def send_head(self, status, headers, reason=None):
        lines = ["HTTP/1.1 %d %s" % (status, reason or REASONS.get(status, "Status"))]
        lines += ["%s: %s" % (n, v) for n, v in headers]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def respond(self, req, status, body=b"", ctype="text/plain", extra=(), close=False):
        headers = [("X-Backend", self.server.name)]
        if status >= 200 and status not in (204, 304):
            headers += [("Content-Type", ctype), ("Content-Length", str(len(body)))]
        headers += list(extra)
        if close:
            headers.append(("Connection", "close"))
        self.send_head(status, headers)
        if req.method != "HEAD" and status >= 200 and status not in (204, 304):
            self.sock.sendall(body)

    def respond_json(self, req, obj, status=200, close=False):
        body = (json.dumps(obj, sort_keys=True) + "\n").encode()
        self.respond(req, status, body, "application/json", close=close)

    # ---- requests
    def parse(self, head):
        lines = head.split(b"\n")
        lines = [l[:-1] if l.endswith(b"\r") else l for l in lines]
        while lines and not lines[0]:       # tolerate CRLF between pipelined requests
            lines.pop(0)
        if not lines:
            raise BadRequest("empty request")
        parts = lines[0].decode("latin-1").split(" ")
        if len(parts) != 3:
            raise BadRequest("bad request line")
        headers = []
        for raw in lines[1:]:
            text = raw.decode("latin-1")
            if text[:1] in (" ", "\t") and headers:
                name, value = headers[-1]
                headers[-1] = (name, value + " " + text.strip())
                continue
            name, sep, value = text.partition(":")
            if not sep:
                raise BadRequest("header line without colon")
            headers.append((name, value.strip(" \t")))
        req = Request(parts[0], parts[1], parts[2], headers)
        req.expect_continue = (req.header("expect") or "").lower() == "100-continue" \
            and req.version == "HTTP/1.1"
        return req

    def count(self, req):
        st = self.server.stats
        with st.lock:
            if req.path == "/stats":
                return
            st.requests += 1
            st.paths[req.path] = st.paths.get(req.path, 0) + 1
            if not self.counted:
                self.counted = True
                st.connections += 1

    def serve(self):
        while True:
            head = self.read_head()
            if head is None:
                return
            try:
                req = self.parse(head)
            except BadRequest:
                with self.server.stats.lock:
                    self.server.stats.requests += 1
                    self.server.stats.malformed += 1
                raise
            self.nreq += 1
            self.count(req)
            status = self.dispatch(req)
            self.server.log("conn=%d req=%d %s %s -> %s" %
                            (self.id, self.nreq, req.method, req.target, status))
            if status == "upgraded" or status == "closed" or not req.keep_alive():
                return

    def dispatch(self, req):
        handler = {
            "/echo": self.do_echo, "/download": self.do_download,
            "/chunked": self.do_chunked, "/upload": self.do_upload, "/slow": self.do_slow,
            "/hang": self.do_hang, "/status": self.do_status, "/ws": self.do_ws,
            "/close": self.do_close, "/stats": self.do_stats,
        }.get(req.path)
        if handler is None:
            self.drain(req)
            self.respond_json(req, {"error": "no such path", "path": req.path}, 404)
            return 404
        return handler(req)

    def do_echo(self, req):
        n, digest = self.drain(req)
        self.respond_json(req, {
            "method": req.method, "target": req.target, "path": req.path,
            "version": req.version, "headers": [[k, v] for k, v in req.headers],
            "body_length": n, "body_sha256": digest, "chunked": req.chunked,
            "expect_continue": req.continue_sent, "backend": self.server.name,
            "connection": self.id, "request_on_connection": self.nreq,
        })
        return 200

    def do_upload(self, req):
        n, digest = self.drain(req)
        self.respond_json(req, {"length": n, "sha256": digest, "chunked": req.chunked,
                                "expect_continue": req.continue_sent,
                                "backend": self.server.name})
        return 200

    def do_download(self, req):
        total = req.int_query("bytes", 0)
        self.drain(req)
        self.send_head(200, [("X-Backend", self.server.name),
                             ("Content-Type", "application/octet-stream"),
                             ("Content-Length", str(total))])
        if req.method != "HEAD":
            p = Pattern(total)
            while True:
                data = p.read(BLOCK)
                if not data:
                    break
                self.sock.sendall(data)
        return 200

    def do_chunked(self, req):
        chunks = req.int_query("chunks", 1)
        size = req.int_query("size", 1024)
        self.drain(req)
        if size <= 0:
            raise BadRequest("size must be positive")
        self.send_head(200, [("X-Backend", self.server.name),
                             ("Content-Type", "application/octet-stream"),
                             ("Transfer-Encoding", "chunked")])
        if req.method != "HEAD":
            p = Pattern(chunks * size)
            for _ in range(chunks):
                self.sock.sendall(b"%x\r\n" % size + p.read(size) + b"\r\n")
            self.sock.sendall(b"0\r\n\r\n")
        return 200

    def do_slow(self, req):
        ms = req.int_query("ms", 1000)
        self.drain(req)
        time.sleep(ms / 1000.0)
        self.respond_json(req, {"slept_ms": ms, "backend": self.server.name})
        return 200

    def do_hang(self, req):
        self.drain(req)
        self.sock.settimeout(HANG_MAX)
        try:
            while self.sock.recv(BLOCK):
                pass
        except OSError:
            pass
        return "closed"

    def do_status(self, req):
        code = req.int_query("code", 200)
        self.drain(req)
        if code < 100 or code > 999:
            raise BadRequest("bad code")
        extra = [("ETag", '"revgate-test"')] if code == 304 else []
        self.respond(req, code, b"status %d\n" % code, extra=extra)
        return code

    def do_ws(self, req):
        self.drain(req)
        if "websocket" not in req.tokens("upgrade") or \
                "upgrade" not in req.tokens("connection"):
            self.respond_json(req, {"error": "expected Upgrade: websocket"}, 426)
            return 426
        headers = [("X-Backend", self.server.name), ("Upgrade", "websocket"),
                   ("Connection", "Upgrade")]
        key = req.header("sec-websocket-key")
        if key:
            accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest())
            headers.append(("Sec-WebSocket-Accept", accept.decode()))
        self.send_head(101, headers)
        with self.server.stats.lock:
            self.server.stats.upgrades += 1
        try:
            while True:
                if self.buf:
                    self.sock.sendall(bytes(self.buf))
                    del self.buf[:]
                self.fill()
        except PeerClosed:
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        return "upgraded"

    def do_close(self, req):
        self.drain(req)
        self.respond(req, 200, b"closing\n", close=True)
        return "closed"

    def do_stats(self, req):
        self.drain(req)
        st = self.server.stats
        with st.lock:
            snap = st.snapshot()
            if req.query.get("reset") == "1":
                st.reset()
                st.active = snap["active"]
        self.respond_json(req, snap)
        return 200


class Server:
    def __init__(self, name, host):
        self.name = name
        self.stats = Stats()
        self.log_lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(256)
        self.next_id = 0

    def log(self, msg):
        with self.log_lock:
            sys.stderr.write("backend %s: %s\n" % (self.name, msg))
            sys.stderr.flush()

    def handle(self, sock, cid):
        conn = Connection(self, sock, cid)
        try:
            conn.serve()
        except BadRequest as e:
            self.log("conn=%d bad request: %s" % (cid, e))
            try:
                sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                             b"Connection: close\r\n\r\n")
            except OSError:
                pass
        except (PeerClosed, OSError):
            pass
        finally:
            with self.stats.lock:
                self.stats.active -= 1
            try:
                sock.close()
            except OSError:
                pass

    def run(self):
        while True:
            sock, _ = self.sock.accept()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(IDLE_TIMEOUT)
            with self.stats.lock:
                self.stats.accepted += 1
                self.stats.active += 1
            self.next_id += 1
            threading.Thread(target=self.handle, args=(sock, self.next_id),
                             daemon=True).start()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("port_file", nargs="?", help="file to write the bound port to")
    ap.add_argument("--name", default="backend", help="name sent as X-Backend")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--pattern", type=int, metavar="N", help="write N pattern bytes")
    ap.add_argument("--pattern-sha256", type=int, metavar="N", help="hash of N pattern bytes")
    args = ap.parse_args()
    if args.pattern is not None:
        pattern_write(args.pattern, sys.stdout.buffer)
        return 0
    if args.pattern_sha256 is not None:
        print(pattern_sha256(args.pattern_sha256))
        return 0
    if not args.port_file:
        ap.error("PORT_FILE is required")
    server = Server(args.name, args.host)
    port = server.sock.getsockname()[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, args.port_file)
    server.log("listening on %s:%d" % (args.host, port))
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
