#!/bin/sh
# proxy_http.sh - HTTP/1.1 through the proxy: keep-alive on both sides, HEAD / 204 / 304
# without bodies, pipelined requests answered in order, chunked bodies both ways,
# Expect: 100-continue, a backend that closes, a WebSocket-style upgrade, and the access log.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/proxylib.sh"

px_setup
px_config "$work/revgate.yaml" "log.access.file=$work/access.log"
show_log "$work/access.log"
px_start_revgate "$work/revgate.yaml"

# --- keep-alive: five requests on one client connection, one backend connection
curl -sS --max-time 5 "http://127.0.0.1:$backend_port/stats?reset=1" >/dev/null
urls=()
for i in 1 2 3 4 5; do urls+=("$rg_url/echo?n=$i"); done
connects=$(px_curl -o /dev/null -o /dev/null -o /dev/null -o /dev/null -o /dev/null \
    -w '%{num_connects}\n' "${urls[@]}" | awk '{ n += $1 } END { print n }')
assert_eq "five requests in one curl run open one connection to revgate" 1 "$connects"
assert_eq "all five reach the backend" 5 "$(px_stat requests)"
assert_le "and travel over at most one backend connection" "$(px_stat connections)" 1

curl -sS --max-time 5 "http://127.0.0.1:$backend_port/stats?reset=1" >/dev/null
for i in 1 2 3 4 5 6; do
	px_curl -o /dev/null "$rg_url/echo?separate=$i"
done
assert_eq "six separate client connections: six backend requests" 6 "$(px_stat requests)"
assert_le "backend connections are pooled and reused (at most one per worker)" \
    "$(px_stat connections)" 2

# --- HEAD, 204 and 304 have no body: the response after them parses on the same connection
px_client raw --responses 4 --methods HEAD,GET,GET,GET --json \
    --data 'HEAD /download?bytes=12345 HTTP/1.1\r\nHost: x\r\n\r\n' \
    --data 'GET /status?code=204 HTTP/1.1\r\nHost: x\r\n\r\n' \
    --data 'GET /status?code=304 HTTP/1.1\r\nHost: x\r\n\r\n' \
    --data 'GET /echo?after=bodyless HTTP/1.1\r\nHost: x\r\n\r\n' >"$work/bodyless.json"
assert_eq "HEAD, 204, 304 and a GET on one connection: statuses in order" \
    "[200, 204, 304, 200]" \
    "$(px_json "$work/bodyless.json" '[r["status"] for r in d["responses"]]')"
assert_eq "HEAD keeps the Content-Length of the GET" "12345" \
    "$(px_json "$work/bodyless.json" \
    '[v for n, v in d["responses"][0]["headers"] if n.lower() == "content-length"][0]')"
assert_eq "HEAD, 204 and 304 carry no body bytes" "[0, 0, 0]" \
    "$(px_json "$work/bodyless.json" '[r["body_length"] for r in d["responses"][:3]]')"
assert_eq "the GET behind them gets its own answer" "/echo?after=bodyless" \
    "$(px_json "$work/bodyless.json" 'b(3)["target"]')"

# --- pipelining: three requests in one write, three answers in order
px_client raw --responses 3 --json \
    --data 'GET /echo?seq=1 HTTP/1.1\r\nHost: x\r\n\r\n' \
    --data 'GET /slow?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n' \
    --data 'POST /echo?seq=3 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' \
    >"$work/pipeline.json"
assert_eq "three pipelined requests: three 200s" "[200, 200, 200]" \
    "$(px_json "$work/pipeline.json" '[r["status"] for r in d["responses"]]')"
assert_eq "pipelined answers come in request order" '["/echo?seq=1", 300, "/echo?seq=3"]' \
    "$(px_json "$work/pipeline.json" '[b(0)["target"], b(1)["slept_ms"], b(2)["target"]]')"
assert_eq "the pipelined POST body arrives intact" 5 \
    "$(px_json "$work/pipeline.json" 'b(2)["body_length"]')"

# --- chunked request body
head -c 300000 /dev/urandom >"$work/random.bin"
want=$(sha256sum <"$work/random.bin" | cut -d' ' -f1)
code=$(px_curl -o "$work/chunked-up.json" -w '%{http_code}' -H 'Transfer-Encoding: chunked' \
    -T - "$rg_url/upload" <"$work/random.bin")
assert_eq "a chunked upload gets 200" 200 "$code"
assert_eq "the backend receives every byte of the chunked upload" "300000 $want" \
    "$(px_json "$work/chunked-up.json" '"%d %s" % (d["length"], d["sha256"])')"

# --- chunked response body
code=$(px_curl -o "$work/chunked-down.bin" -D "$work/chunked-down.head" -w '%{http_code}' \
    "$rg_url/chunked?chunks=50&size=1000")
assert_eq "a chunked response gets 200" 200 "$code"
assert_eq "the chunked response body arrives intact" \
    "$("$px_python" "$px_dir/backend.py" --pattern-sha256 50000)" \
    "$(sha256sum <"$work/chunked-down.bin" | cut -d' ' -f1)"

# --- Expect: 100-continue (curl would wait 30 s for the 100 before sending anyway)
head -c 2000000 /dev/urandom >"$work/expect.bin"
want=$(sha256sum <"$work/expect.bin" | cut -d' ' -f1)
out=$(px_curl -o "$work/expect.json" -w '%{http_code} %{time_total}' \
    -H 'Expect: 100-continue' --expect100-timeout 30 -T "$work/expect.bin" "$rg_url/upload")
assert_eq "an upload with Expect: 100-continue gets 200" 200 "${out%% *}"
assert_between "the 100 Continue comes at once (no 30 s wait)" "${out#* }" 0 10
assert_eq "the 100-continue upload arrives intact" "2000000 $want" \
    "$(px_json "$work/expect.json" '"%d %s" % (d["length"], d["sha256"])')"

# --- a backend that closes after answering: the client connection is still usable
out=$(px_curl -o /dev/null -o /dev/null -w '%{http_code}\n' "$rg_url/close" "$rg_url/echo" |
    tr '\n' ' ')
assert_eq "/close then /echo: both 200" "200 200 " "$out"

# --- WebSocket-style upgrade, then raw bytes both ways
px_client ws --bytes 300000 >"$work/ws.json" 2>&1
assert_eq "GET /ws with Upgrade: websocket gets 101" 101 \
    "$(px_json "$work/ws.json" 'd["status"]')"
assert_eq "300000 bytes come back byte for byte after the upgrade" "true 300000" \
    "$(px_json "$work/ws.json" '"%s %d" % (str(d["ok"]).lower(), d["echoed"])')"

# --- access log: one line per request with method, path, status, identity, upstream
for i in 1 2 3; do
	px_curl -o /dev/null "$rg_url/access-marker-$i"
done
has_marker() { grep -q "access-marker-3" "$work/access.log" 2>/dev/null; }
px_wait_until 5 has_marker
for i in 1 2 3; do
	lines=$(grep "/access-marker-$i" "$work/access.log" 2>/dev/null)
	assert_eq "access log: exactly one line for request $i" 1 \
	    "$(printf '%s' "$lines" | grep -c .)"
done
line=$(grep "/access-marker-1" "$work/access.log" 2>/dev/null | head -n 1)
assert_contains "access log line names the method" "$line" "GET"
assert_contains "access log line names the status (the backend's 404)" "$line" "404"
assert_contains "access log line names the client subject" "$line" "CN=alice"
serial=$(pki_serial "$PKI_DIR/alice.pem")
assert_match "access log line names the client serial (hex, either case)" "$line" \
    "$serial|$(printf '%s' "$serial" | tr A-F a-f)"
assert_contains "access log line names the verify status" "$line" "SUCCESS"
assert_contains "access log line names the upstream address" "$line" \
    "127.0.0.1:$backend_port"

px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"
