#!/bin/sh
# revocation_refresh.sh - revocation takes effect without restarting revgate. With
# crl.cacheTtl 2s, a client revoked after it was admitted is refused (403 revoked) on a new
# connection within a few seconds, once the background refresh has the new CRL; a keep-alive
# connection admitted before is refused on its next request (and closed); a resumed TLS
# session of the revoked client is refused too. A refresh that fails (the CDP answers 500)
# keeps the CRL already loaded (still within its nextUpdate): its client stays admitted and
# the failure is logged.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/revlib.sh"

rv_setup
rv_start_crlserver
cv=http.mtls.certificateVerification

for name in steady bg ka resume; do
	rv_client "$name" "$cs_url/root.crl" ""
done
# keeper has an issuer of its own: a CA's CRL, once loaded, decides all its clients, and is
# refreshed from where it came.
rv_ca ikeep
rv_client keeper "$cs_url/keep.crl" "" ikeep
rv_publish root /root.crl
rv_publish ikeep /keep.crl

rv_config "$work/refresh.yaml" "$cv.failureMode=fail-closed" "$cv.ocsp.enabled=false" \
    "$cv.crl.cacheTtl=2s"
px_start_revgate "$work/refresh.yaml"

# --- a failed refresh keeps the old CRL (checked at the end, after several refresh periods)
rv_expect_good "keeper: admitted with the first /keep.crl" keeper "good; method=crl"
rv_route /keep.crl 500
keep_failed_at=$(rv_now)

# --- background refresh: a new connection after revocation is refused
rv_expect_good "bg: admitted before revocation" bg "good; method=crl"
rv_expect_good "steady: admitted" steady "good; method=crl"
pki_revoke bg || hard_error "cannot revoke bg"
rv_publish root /root.crl
if rv_poll bg 403 8; then
	pass "bg: a new connection is refused after the CRL is republished (${rv_waited} s)"
	assert_between "bg: the refusal comes within one refresh period and a bit" "$rv_waited" 0 5
	rv_check_refusal "bg: the refusal" revoked
else
	fail "bg: a new connection is refused within 8 s of republishing the CRL" "$(rv_got)"
fi
assert_ge "the CRL server was asked again (background refresh)" "$(rv_count /root.crl)" 2
rv_expect_good "steady: still admitted with the new CRL" steady "good; method=crl"

# --- a keep-alive connection admitted before revocation
cat >"$work/ka.py" <<'EOF'
import json, os, socket, ssl, sys, time

port, cacert, cert, key, ready, go = sys.argv[1:7]


def read_response(s, buf):
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise EOFError("closed before a response")
        buf += d
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = [l.split(":", 1) for l in lines[1:]]
    n = 0
    for name, value in headers:
        if name.strip().lower() == "content-length":
            n = int(value)
    while len(buf) < n:
        d = s.recv(65536)
        if not d:
            raise EOFError("closed inside a body")
        buf += d
    return {"status": int(lines[0].split()[1]), "body": buf[:n].decode("latin-1"),
            "headers": [[a.strip(), b.strip()] for a, b in headers]}, buf[n:]


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(cacert)
ctx.load_cert_chain(cert, key)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port)), timeout=20),
                    server_hostname="127.0.0.1")
req = b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
out = {"responses": [], "closed": None, "error": None}
buf = b""
try:
    s.sendall(req)
    r, buf = read_response(s, buf)
    out["responses"].append(r)
    open(ready, "w").close()
    limit = time.monotonic() + 30
    while not os.path.exists(go) and time.monotonic() < limit:
        time.sleep(0.05)
    s.sendall(req)
    r, buf = read_response(s, buf)
    out["responses"].append(r)
    s.settimeout(3)
    try:
        out["closed"] = s.recv(1) == b""
    except (socket.timeout, TimeoutError):
        out["closed"] = False
    except (ssl.SSLError, ConnectionResetError):
        out["closed"] = True
except Exception as e:
    out["error"] = "%s: %s" % (type(e).__name__, e)
print(json.dumps(out))
EOF
"$px_python" "$work/ka.py" "$revgate_port" "$PKI_DIR/ca.pem" "$PKI_DIR/ka.pem" \
    "$PKI_DIR/ka.key" "$work/ka.ready" "$work/ka.go" >"$work/ka.json" 2>"$work/ka.err" &
ka_pid=$!
track "$ka_pid"
show_log "$work/ka.err"
px_wait_until 10 test -e "$work/ka.ready" || fail "ka: the first request is answered"
pki_revoke ka || hard_error "cannot revoke ka"
rv_publish root /root.crl
rv_poll ka 403 8 || fail "ka: a new connection is refused within 8 s" "$(rv_got)"
touch "$work/ka.go"
wait_exit "$ka_pid" 20 || fail "ka: the keep-alive client ends within 20 s"
show_log "$work/ka.json"
assert_eq "ka: request 1 on the keep-alive connection, before revocation: 200" 200 \
    "$(px_json "$work/ka.json" 'd["responses"][0]["status"]')"
assert_eq "ka: request 2 on the same connection, after the refresh: 403" 403 \
    "$(px_json "$work/ka.json" 'd["responses"][1]["status"]')"
assert_eq "ka: request 2's reason is revoked" revoked \
    "$(px_json "$work/ka.json" 'json.loads(d["responses"][1]["body"])["reason"]')"
assert_eq "ka: then the connection is closed" true "$(px_json "$work/ka.json" 'd["closed"]')"

# --- a resumed session of a client revoked since
s_client() {
	printf 'GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' |
	    timeout 15 openssl s_client -connect "127.0.0.1:$revgate_port" \
	    -CAfile "$PKI_DIR/ca.pem" -cert "$PKI_DIR/resume.pem" -key "$PKI_DIR/resume.key" \
	    -ign_eof "$@" 2>&1
}
first=$(s_client -sess_out "$work/resume.sess")
assert_contains "resume: the first (full) handshake gets 200" "$first" "HTTP/1.1 200"
[ -s "$work/resume.sess" ] && pass "resume: s_client saved a session" ||
    fail "resume: s_client saved a session" "$first"
pki_revoke resume || hard_error "cannot revoke resume"
rv_publish root /root.crl
rv_poll resume 403 8 || fail "resume: a new full connection is refused within 8 s" "$(rv_got)"
second=$(s_client -sess_in "$work/resume.sess")
printf '%s\n' "$second" >"$work/resume-second.txt"
show_log "$work/resume-second.txt"
assert_contains "resume: the second handshake resumes the session" "$second" "Reused, TLS"
assert_contains "resume: the resumed session of the revoked client gets 403" "$second" \
    "HTTP/1.1 403"
assert_match "resume: with reason revoked" "$second" '"reason": ?"revoked"'

# --- back to the failed refresh
left=$(awk -v s="$keep_failed_at" -v n="$(rv_now)" 'BEGIN { d = s + 4 - n; print (d > 0 ? d : 0) }')
sleep "$left"
assert_ge "keep.crl: refreshes were attempted after it began failing" "$(rv_count /keep.crl)" 2
rv_expect_good "keeper: still admitted with the old CRL after failed refreshes" keeper \
    "good; method=crl"
if grep -F "/keep.crl" "$revgate_log" | grep -i refresh | grep -Eiq 'fail|error'; then
	pass "the log mentions the failed refresh of /keep.crl"
else
	fail "the log mentions the failed refresh of /keep.crl" "lines naming it:
$(indent "$(grep -F /keep.crl "$revgate_log")")"
fi
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"
