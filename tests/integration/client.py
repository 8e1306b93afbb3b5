#!/usr/bin/env python3
"""A raw HTTP/1.1-over-TLS client for revgate's integration tests: the things curl cannot do.

Common options: --port N (required), --host (127.0.0.1), --plain (no TLS), --cacert FILE,
--cert FILE, --key FILE, --key-password PW, --servername NAME, --insecure (no server
verification), --timeout S (the whole exchange; default 10).

  client.py raw --data 'GET /echo HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' [--data ...] [--file F]
        Sends the exact bytes (--data takes Python escapes: \\r \\n \\t \\x00; several --data
        are concatenated; --file is appended as is), then reads. Without --responses it reads
        until the peer closes or the timeout; with --responses N it stops after N final
        responses (--methods GET,HEAD,... tells which responses have no body).
        --dribble S sends one byte every S seconds (a slowloris) while watching for an answer.
        --shut-wr half-closes after sending (--plain only). Output: the raw bytes received, or with --json one
        object: {"responses": [{status, reason, headers, body, body_length, body_sha256,
        interim}], "closed", "reset", "elapsed", "error", "raw"}.
  client.py ws [--path /ws] [--bytes N]
        Upgrades to a WebSocket-style echo, sends N random bytes in uneven pieces, checks that
        exactly those bytes come back. Prints JSON {status, echoed, ok}; exit 0 only if ok.
  client.py keepalive --first PATH --second PATH [--ready-file F] [--go-file G] [--wait S]
        On one connection: GET the first path, create F, wait (at most S seconds, default 30)
        for G to exist, GET the second path. Prints JSON {responses, peer_fingerprint}.
  client.py fingerprint
        Prints the SHA-256 fingerprint (lower-case hex) of the server's certificate.

Exit status: 0 done, 1 a check failed, 2 could not connect or the TLS handshake failed before
any response byte arrived.
"""

import argparse
import base64
import codecs
import hashlib
import json
import os
import select
import socket
import ssl
import sys
import time


class Closed(Exception):
    pass


class Conn:
    """A socket (plain or TLS) with a read buffer and an overall deadline."""

    def __init__(self, args):
        self.deadline = time.monotonic() + args.timeout
        self.buf = bytearray()
        self.raw = bytearray()      # everything received, for --json raw and debugging
        self.closed = False
        self.reset = False
        self.fingerprint = None
        raw = socket.create_connection((args.host, args.port), timeout=args.timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if args.plain:
            self.sock = raw
            return
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if args.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif args.cacert:
            ctx.load_verify_locations(args.cacert)
        else:
            ctx.load_default_certs()
        if args.cert:
            ctx.load_cert_chain(args.cert, args.key, args.key_password)
        ctx.set_alpn_protocols(["http/1.1"])
        name = args.servername or args.host
        try:
            self.sock = ctx.wrap_socket(raw, server_hostname=name)
        except Exception:
            raw.close()
            raise
        der = self.sock.getpeercert(binary_form=True)
        if der:
            self.fingerprint = hashlib.sha256(der).hexdigest()

    def remaining(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        return left

    def send(self, data):
        self.sock.settimeout(self.remaining())
        self.sock.sendall(data)

    def fill(self, wait=None):
        """Reads what is available; raises Closed at EOF, TimeoutError at the deadline."""
        if self.closed:
            raise Closed()
        self.sock.settimeout(min(self.remaining(), wait) if wait else self.remaining())
        try:
            data = self.sock.recv(65536)
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
            data = b""
        except ConnectionResetError:
            self.reset = True
            data = b""
        except socket.timeout:
            if wait:
                return
            raise TimeoutError("timed out")
        if not data:
            self.closed = True
            raise Closed()
        self.buf += data
        self.raw += data

    def readline(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return line
            self.fill()

    def read(self, n):
        while len(self.buf) < n:
            self.fill()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def read_until_close(self):
        try:
            while True:
                self.fill()
        except Closed:
            pass
        data = bytes(self.buf)
        del self.buf[:]
        return data

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def header_values(headers, name):
    return [v for n, v in headers if n.lower() == name.lower()]


def read_response(conn, method="GET"):
    """Reads one response (an interim 1xx counts as one). Returns a dict."""
    line = conn.readline()
    while line in (b"\r\n", b"\n"):
        line = conn.readline()
    parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError("not a status line: %r" % line[:80])
    status = int(parts[1])
    headers = []
    while True:
        h = conn.readline().decode("latin-1").rstrip("\r\n")
        if not h:
            break
        name, _, value = h.partition(":")
        headers.append([name, value.strip()])
    resp = {"version": parts[0], "status": status, "reason": parts[2] if len(parts) > 2 else "",
            "headers": headers, "interim": 100 <= status < 200}
    te = ",".join(header_values(headers, "transfer-encoding")).lower()
    cl = header_values(headers, "content-length")
    if method == "HEAD" or 100 <= status < 200 or status in (204, 304):
        body = b""
    elif "chunked" in te:
        pieces = []
        while True:
            size = int(conn.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while conn.readline() not in (b"\r\n", b"\n"):
                    pass
                break
            pieces.append(conn.read(size))
            conn.readline()
        body = b"".join(pieces)
    elif cl:
        body = conn.read(int(cl[-1]))
    else:
        body = conn.read_until_close()
    resp["body"] = body
    return resp


def describe(resp):
    body = resp.pop("body")
    resp["body_length"] = len(body)
    resp["body_sha256"] = hashlib.sha256(body).hexdigest()
    resp["body"] = body[:65536].decode("latin-1")
    return resp


def read_responses(conn, count, methods):
    """Reads COUNT final responses (interim ones are kept too). Stops early at EOF."""
    out = []
    final = 0
    while count is None or final < count:
        method = methods[final] if final < len(methods) else "GET"
        try:
            resp = read_response(conn, method)
        except Closed:
            break
        out.append(resp)
        if not resp["interim"]:
            final += 1
    return out


def send_raw(args, conn, data):
    if not args.dribble:
        conn.send(data)
    else:
        for i in range(len(data)):
            try:
                conn.send(data[i:i + 1])
                conn.fill(wait=args.dribble)
            except (Closed, BrokenPipeError, ConnectionResetError):
                return
            if conn.raw:
                return      # the server answered (a 408, say) before the request was done
    if args.shut_wr:
        conn.sock.shutdown(socket.SHUT_WR)


def cmd_raw(args, conn):
    data = b"".join(codecs.escape_decode(d.encode())[0] for d in args.data or [])
    if args.file:
        with open(args.file, "rb") as f:
            data += f.read()
    methods = [m.strip().upper() for m in args.methods.split(",")] if args.methods else []
    responses = []
    error = None
    start = time.monotonic()
    try:
        send_raw(args, conn, data)
        if args.responses is not None or args.json:
            responses = read_responses(conn, args.responses, methods)
        else:
            conn.read_until_close()
    except (TimeoutError, ValueError, ssl.SSLError, OSError) as e:
        error = "%s: %s" % (type(e).__name__, e)
    elapsed = time.monotonic() - start
    if args.json:
        print(json.dumps({
            "responses": [describe(r) for r in responses], "closed": conn.closed,
            "reset": conn.reset, "elapsed": round(elapsed, 3), "error": error,
            "raw": bytes(conn.raw[:65536]).decode("latin-1"),
        }, sort_keys=True))
    else:
        sys.stdout.buffer.write(bytes(conn.raw))
        sys.stdout.flush()
        if error:
            print("client.py: %s" % error, file=sys.stderr)
    if not conn.raw and error and "SSL" in error:
        return 2
    return 0


def request_bytes(method, path, host, extra=()):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % host]
    lines += list(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def host_header(args):
    return "%s:%d" % (args.host if ":" not in args.host else "[%s]" % args.host, args.port)


def cmd_ws(args, conn):
    key = base64.b64encode(os.urandom(16)).decode()
    conn.send(request_bytes("GET", args.path, host_header(args), [
        "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: " + key,
        "Sec-WebSocket-Version: 13"]))
    resp = read_response(conn)
    result = {"status": resp["status"], "headers": resp["headers"], "echoed": 0, "ok": False}
    if resp["status"] != 101:
        result["body"] = resp["body"].decode("latin-1")
        print(json.dumps(result, sort_keys=True))
        return 1
    payload = os.urandom(args.bytes)
    sent = 0
    got = bytearray(conn.buf)           # bytes that arrived right behind the 101
    del conn.buf[:]
    sizes = [1, 7, 100, 1500, 4096, 65536]
    i = 0
    while sent < len(payload):
        n = sizes[i % len(sizes)]
        i += 1
        conn.send(payload[sent:sent + n])
        sent += len(payload[sent:sent + n])
        while len(got) < sent:
            conn.fill()
            got += conn.buf
            del conn.buf[:]
    result["echoed"] = len(got)
    result["ok"] = bytes(got) == payload
    print(json.dumps(result, sort_keys=True))
    return 0 if result["ok"] else 1


def cmd_keepalive(args, conn):
    responses = []
    conn.send(request_bytes("GET", args.first, host_header(args)))
    responses.append(describe(read_response(conn)))
    if args.ready_file:
        with open(args.ready_file, "w") as f:
            f.write("ready\n")
    if args.go_file:
        limit = time.monotonic() + args.wait
        while not os.path.exists(args.go_file):
            if time.monotonic() > limit:
                print(json.dumps({"responses": responses, "error": "no go file"}))
                return 1
            time.sleep(0.05)
    error = None
    try:
        conn.send(request_bytes("GET", args.second, host_header(args)))
        responses.append(describe(read_response(conn)))
    except (Closed, TimeoutError, ValueError, OSError) as e:
        error = "%s: %s" % (type(e).__name__, e)
    print(json.dumps({"responses": responses, "peer_fingerprint": conn.fingerprint,
                      "error": error}, sort_keys=True))
    return 0 if error is None else 1


def cmd_fingerprint(args, conn):
    print(conn.fingerprint)
    return 0


def main():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--host", default="127.0.0.1")
    common.add_argument("--port", type=int, required=True)
    common.add_argument("--plain", action="store_true", help="plain TCP, no TLS")
    common.add_argument("--cacert")
    common.add_argument("--cert")
    common.add_argument("--key")
    common.add_argument("--key-password")
    common.add_argument("--servername")
    common.add_argument("--insecure", action="store_true")
    common.add_argument("--timeout", type=float, default=10.0)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("raw", parents=[common])
    p.add_argument("--data", action="append")
    p.add_argument("--file")
    p.add_argument("--responses", type=int)
    p.add_argument("--methods")
    p.add_argument("--dribble", type=float)
    p.add_argument("--shut-wr", action="store_true")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("ws", parents=[common])
    p.add_argument("--path", default="/ws")
    p.add_argument("--bytes", type=int, default=100000)
    p = sub.add_parser("keepalive", parents=[common])
    p.add_argument("--first", default="/echo")
    p.add_argument("--second", default="/echo")
    p.add_argument("--ready-file")
    p.add_argument("--go-file")
    p.add_argument("--wait", type=float, default=30.0)
    sub.add_parser("fingerprint", parents=[common])
    args = ap.parse_args()
    if args.cmd == "raw" and args.shut_wr and not args.plain:
        ap.error("--shut-wr needs --plain (TLS has no half-close)")
    if args.cmd == "keepalive" and args.go_file:
        args.timeout = max(args.timeout, args.wait + 10)
    try:
        conn = Conn(args)
    except (OSError, ssl.SSLError) as e:
        print("client.py: cannot connect: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 2
    try:
        return {"raw": cmd_raw, "ws": cmd_ws, "keepalive": cmd_keepalive,
                "fingerprint": cmd_fingerprint}[args.cmd](args, conn)
    except (Closed, TimeoutError, ValueError, ssl.SSLError, OSError) as e:
        print("client.py: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 2 if not conn.raw else 1
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
