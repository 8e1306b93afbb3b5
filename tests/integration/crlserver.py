#!/usr/bin/env python3
"""A controllable, counting HTTP server for revgate's revocation tests (Python 3 stdlib).

    crlserver.py PORT_FILE [--route PATH=SPEC]... [--hang-max SECONDS] [--host 127.0.0.1]

Listens on HOST, port 0 (a free port), writes the port to PORT_FILE once listening, and answers
each request by the route of its path. A route PATH matches the path PATH itself and every path
under "PATH/" (so an OCSP GET "/ocsp/<base64>" counts for the route "/ocsp"); the longest route
wins; a path no route matches gets 404 and is counted under its own path.

Route modes (SPEC on the command line; mode=... and its parameters through /_mode):

  file:FILE          200 with the bytes of FILE, read at each request (DER or PEM, as on disk),
                     so replacing FILE (write a copy, then mv) changes what is served
  404 / 500          that status with a short text body
  status:CODE        any status with a short text body
  garbage            200, Content-Type application/pkix-crl, 1000 random bytes
  hang               reads the request and never answers (the connection stays open until the
                     client gives up, or --hang-max seconds pass: default 60)
  slow:MS:FILE       waits MS milliseconds, then serves FILE as "file" does
  close              reads the request and closes the connection without an answer
  proxy:URL          forwards the request (method, path minus the route prefix, query,
                     Content-Type, body) to URL (http://HOST:PORT[/base]) and relays the
                     status, Content-Type and body: a counting reverse proxy, e.g. in front of
                     `openssl ocsp` (which may then be restarted on another port)

Control (never counted):

  GET or POST /_mode?path=/x&mode=MODE[&file=F][&ms=N][&code=N][&to=URL]
                     sets (or replaces) the route /x; POST may carry the same parameters as a
                     form body. Answers the route as JSON; 400 on a bad request.
  GET /_stats[?reset=1]
                     JSON {"counts": {KEY: n}, "requests": n, "connections": n,
                     "inflight": n, "routes": {PATH: SPEC}}: KEY is the route a request
                     matched (or its path when none did); a request is counted when its
                     request line and headers have been read, before it is answered.
                     reset=1 zeroes the counters after reporting them.

Every request is logged to stderr (one line, with its route and what was done).
It uses ThreadingHTTPServer (one thread per connection, HTTP/1.1 keep-alive), so concurrent
requests, including hung ones, never block each other or the control paths.
"""

import argparse
import http.client
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MODES = ("file", "404", "500", "status", "garbage", "hang", "slow", "close", "proxy")


class State:
    def __init__(self, hang_max):
        self.lock = threading.Lock()
        self.routes = {}        # path -> dict(mode=..., file=..., ms=..., code=..., to=...)
        self.counts = {}
        self.requests = 0
        self.connections = 0
        self.inflight = 0
        self.hang_max = hang_max
        self.stop = threading.Event()

    def set_route(self, path, route):
        if not path.startswith("/") or path.startswith("/_"):
            raise ValueError("a route path starts with / and not with /_: %r" % path)
        mode = route.get("mode")
        if mode not in MODES:
            raise ValueError("unknown mode %r (one of %s)" % (mode, ", ".join(MODES)))
        if mode in ("file", "slow") and not route.get("file"):
            raise ValueError("mode %s needs file" % mode)
        if mode == "slow":
            route["ms"] = int(route.get("ms", "0"))
        if mode == "status":
            route["code"] = int(route.get("code", "0"))
            if not 200 <= route["code"] <= 599:
                raise ValueError("mode status needs code between 200 and 599")
        if mode == "proxy":
            to = urlsplit(route.get("to", ""))
            if to.scheme != "http" or not to.hostname or not to.port:
                raise ValueError("mode proxy needs to=http://HOST:PORT[/base]")
        clean = {k: v for k, v in route.items() if k in ("mode", "file", "ms", "code", "to")}
        with self.lock:
            self.routes[path] = clean
        return clean

    def match(self, path):
        with self.lock:
            best = None
            for r in self.routes:
                if path == r or path.startswith(r.rstrip("/") + "/"):
                    if best is None or len(r) > len(best):
                        best = r
            return best, (dict(self.routes[best]) if best is not None else None)

    def count(self, key):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1
            self.requests += 1

    def stats(self, reset):
        with self.lock:
            out = {"counts": dict(self.counts), "requests": self.requests,
                   "connections": self.connections, "inflight": self.inflight,
                   "routes": {p: spec_of(r) for p, r in self.routes.items()}}
            if reset:
                self.counts = {}
                self.requests = 0
                self.connections = 0
            return out


def spec_of(route):
    mode = route["mode"]
    if mode == "file":
        return "file:" + route["file"]
    if mode == "slow":
        return "slow:%d:%s" % (route["ms"], route["file"])
    if mode == "status":
        return "status:%d" % route["code"]
    if mode == "proxy":
        return "proxy:" + route["to"]
    return mode


def parse_spec(spec):
    """The command-line SPEC of a route as a dict."""
    mode, _, rest = spec.partition(":")
    if mode == "file":
        return {"mode": mode, "file": rest}
    if mode == "slow":
        ms, _, f = rest.partition(":")
        return {"mode": mode, "ms": ms, "file": f}
    if mode == "status":
        return {"mode": mode, "code": rest}
    if mode == "proxy":
        return {"mode": mode, "to": rest}
    return {"mode": mode}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "crlserver"
    sys_version = ""

    def setup(self):
        super().setup()
        st = self.server.state
        with st.lock:
            st.connections += 1

    def log_message(self, fmt, *args):
        sys.stderr.write("%.3f %s %s\n" % (time.time(), self.address_string(), fmt % args))
        sys.stderr.flush()

    def note(self, text):
        self.log_message("%s %s -> %s", self.command, self.path, text)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def reply(self, code, data, ctype="text/plain; charset=utf-8"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_HEAD(self):
        self.handle_any()

    def handle_any(self):
        st = self.server.state
        url = urlsplit(self.path)
        if url.path == "/_stats":
            self.body()
            reset = parse_qs(url.query).get("reset", ["0"])[0] not in ("", "0")
            self.reply(200, json.dumps(st.stats(reset), sort_keys=True).encode(),
                       "application/json")
            return
        if url.path == "/_mode":
            params = {k: v[-1] for k, v in parse_qs(url.query).items()}
            data = self.body()
            if self.command == "POST" and data:
                params.update({k: v[-1] for k, v in parse_qs(data.decode("latin-1")).items()})
            try:
                route = st.set_route(params.get("path", ""), params)
            except ValueError as e:
                self.note("bad control request: %s" % e)
                self.reply(400, ("%s\n" % e).encode())
                return
            self.note("route %s = %s" % (params["path"], spec_of(route)))
            self.reply(200, json.dumps(route, sort_keys=True).encode(), "application/json")
            return

        key, route = st.match(url.path)
        st.count(key if key is not None else url.path)
        with st.lock:
            st.inflight += 1
        try:
            self.serve_route(url, key, route)
        finally:
            with st.lock:
                st.inflight -= 1

    def serve_file(self, path):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            self.note("cannot read %s: %s" % (path, e))
            self.reply(500, b"cannot read the file\n")
            return
        self.note("200 %s (%d bytes)" % (path, len(data)))
        self.reply(200, data, "application/pkix-crl")

    def serve_route(self, url, key, route):
        st = self.server.state
        request_body = self.body()
        if route is None:
            self.note("404 (no route)")
            self.reply(404, b"no route\n")
            return
        mode = route["mode"]
        if mode == "file":
            self.serve_file(route["file"])
        elif mode in ("404", "500"):
            self.note(mode)
            self.reply(int(mode), ("%s from crlserver\n" % mode).encode())
        elif mode == "status":
            self.note(str(route["code"]))
            self.reply(route["code"], b"status from crlserver\n")
        elif mode == "garbage":
            self.note("200 garbage")
            self.reply(200, os.urandom(1000), "application/pkix-crl")
        elif mode == "hang":
            self.note("hanging (at most %g s)" % st.hang_max)
            self.hang(st.hang_max)
            self.close_connection = True
        elif mode == "slow":
            self.note("sleeping %d ms" % route["ms"])
            if st.stop.wait(route["ms"] / 1000.0):
                self.close_connection = True
                return
            self.serve_file(route["file"])
        elif mode == "close":
            self.note("closing without an answer")
            self.close_connection = True
        elif mode == "proxy":
            self.proxy(url, key, route["to"], request_body)

    def hang(self, limit):
        """Waits until the peer closes, the limit passes or the server stops."""
        st = self.server.state
        end = time.monotonic() + limit
        self.connection.settimeout(0.2)
        while not st.stop.is_set():
            left = end - time.monotonic()
            if left <= 0:
                self.note("hang limit reached; closing")
                return
            try:
                if self.connection.recv(4096) == b"":
                    self.note("the peer closed the hung connection")
                    return
            except OSError as e:
                if "timed out" not in str(e):
                    self.note("hung connection: %s" % e)
                    return

    def proxy(self, url, key, to, request_body):
        target = urlsplit(to)
        rest = url.path[len(key.rstrip("/")):] if key != "/" else url.path
        path = target.path.rstrip("/") + (rest if rest.startswith("/") else "/" + rest)
        if url.query:
            path += "?" + url.query
        headers = {}
        if self.headers.get("Content-Type"):
            headers["Content-Type"] = self.headers["Content-Type"]
        try:
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            conn.request(self.command, path, body=request_body if request_body else None,
                         headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
        except (OSError, http.client.HTTPException) as e:
            self.note("proxy to %s%s failed: %s; closing" % (to, path, e))
            self.close_connection = True
            return
        self.note("proxied to %s%s: %d (%d bytes)" % (to, path, resp.status, len(data)))
        self.reply(resp.status, data,
                   resp.getheader("Content-Type") or "application/octet-stream")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__)
    ap.add_argument("port_file")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--route", action="append", default=[], metavar="PATH=SPEC")
    ap.add_argument("--hang-max", type=float, default=60.0)
    args = ap.parse_args()
    state = State(args.hang_max)
    for r in args.route:
        path, sep, spec = r.partition("=")
        if not sep:
            ap.error("--route takes PATH=SPEC, got %r" % r)
        try:
            state.set_route(path, parse_spec(spec))
        except ValueError as e:
            ap.error("--route %s: %s" % (r, e))
    server = Server((args.host, 0), Handler)
    server.state = state
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, args.port_file)
    sys.stderr.write("crlserver listening on %s:%d\n" % (args.host, server.server_address[1]))
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        state.stop.set()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
