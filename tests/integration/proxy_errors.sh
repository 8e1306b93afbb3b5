#!/bin/sh
# proxy_errors.sh - what revgate refuses and how: ambiguous or malformed requests (request
# smuggling) get 400 and never reach the backend; an oversized head 431, an oversized body 413,
# a slowloris 408; a dead backend 502, a silent one 504; with two backends, one dead, requests
# still succeed.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/proxylib.sh"

px_setup
live_port=$backend_port

# refused WHAT STATUS REQUEST: REQUEST (client.py --data escapes) on a fresh connection gets
# STATUS (a regular expression) first, and nothing reaches the backend.
refused() {
	local what=$1 want=$2 before after got
	before=$(px_stat requests "$live_port")
	px_client raw --responses 1 --timeout 10 --json --data "$3" >"$work/refused.json" 2>&1
	sleep 0.3	# a request forwarded despite the refusal needs a moment to be counted
	after=$(px_stat requests "$live_port")
	got=$(px_json "$work/refused.json" 'd["responses"][0]["status"] if d["responses"] else d["error"]' 2>&1)
	assert_match "$what: answered $want" "$got" "^($want)\$"
	assert_eq "$what: nothing reaches the backend" "$before" "$after"
}

px_config "$work/strict.yaml" http.maxHeaderSize=4096 http.maxBodySize=1024 \
    http.headerTimeout=1s proxy.readTimeout=1s
px_start_revgate "$work/strict.yaml"

code=$(px_curl -o /dev/null -w '%{http_code}' "$rg_url/echo")
assert_eq "a well-formed request gets 200 (the baseline)" 200 "$code"

# --- request smuggling and malformed heads
refused "Content-Length together with Transfer-Encoding" 400 \
    'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
refused "Transfer-Encoding together with Content-Length" 400 \
    'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n'
refused "two different Content-Length headers" 400 \
    'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd'
refused "a Content-Length list with different values" 400 \
    'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\nabcd'
refused "a non-numeric Content-Length" 400 \
    'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3x\r\n\r\nabc'
# The bad chunk comes with the head: a proxy must look at it before forwarding the head. Three
# times, so that both a pooled and a fresh backend connection are tried.
for i in 1 2 3; do
	refused "a bad chunk size (try $i)" 400 \
	    'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n'
done
refused "a transfer coding other than chunked" "400|501" \
    'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc'
refused "whitespace before the colon" 400 \
    'GET /echo HTTP/1.1\r\nHost: x\r\nX-Foo : bar\r\n\r\n'
refused "whitespace before the colon of Transfer-Encoding" 400 \
    'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n'
refused "obsolete line folding" 400 \
    'GET /echo HTTP/1.1\r\nHost: x\r\nX-Foo: a\r\n  b\r\n\r\n'
refused "a NUL byte in a header value" 400 \
    'GET /echo HTTP/1.1\r\nHost: x\r\nX-Foo: a\x00b\r\n\r\n'
refused "bare LF line endings" 400 \
    'GET /echo HTTP/1.1\nHost: x\n\n'
refused "a bare LF inside a header line" 400 \
    'GET /echo HTTP/1.1\r\nHost: x\r\nX-Foo: a\nX-Bar: b\r\n\r\n'

# --- limits
long=$(head -c 5000 /dev/zero | tr '\0' a)
refused "a request head larger than http.maxHeaderSize (4096)" 431 \
    "GET /echo HTTP/1.1\\r\\nHost: x\\r\\nX-Big: $long\\r\\n\\r\\n"
body=$(head -c 2048 /dev/zero | tr '\0' b)
refused "a Content-Length over http.maxBodySize (1024)" 413 \
    "POST /upload HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 2048\\r\\n\\r\\n$body"
code=$(px_curl -o /dev/null -w '%{http_code}' --data-binary "$(head -c 1000 /dev/zero | tr '\0' c)" \
    "$rg_url/upload")
assert_eq "a body under http.maxBodySize still passes" 200 "$code"

# --- slowloris: a partial head held past http.headerTimeout (1 s)
px_client raw --timeout 8 --json --data 'GET /echo HTTP/1.1\r\nHost: x\r\n' \
    >"$work/slow-head.json" 2>&1
assert_eq "a partial head is answered 408" 408 \
    "$(px_json "$work/slow-head.json" 'd["responses"][0]["status"] if d["responses"] else d["error"]')"
assert_eq "and the connection is closed" true \
    "$(px_json "$work/slow-head.json" 'str(d["closed"] or d["reset"]).lower()')"
assert_between "the 408 comes about one http.headerTimeout later" \
    "$(px_json "$work/slow-head.json" 'd["elapsed"]')" 0.8 4.5
px_client raw --timeout 8 --json --dribble 0.25 \
    --data 'GET /echo HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n' \
    >"$work/dribble.json" 2>&1
assert_eq "a head sent one byte every 250 ms is cut off with 408 too" 408 \
    "$(px_json "$work/dribble.json" 'd["responses"][0]["status"] if d["responses"] else d["error"]')"
assert_between "the dribbled head is cut off after about http.headerTimeout in all" \
    "$(px_json "$work/dribble.json" 'd["elapsed"]')" 0.8 4.5

# --- a backend that never answers: 504 after proxy.readTimeout (1 s)
out=$(px_curl --max-time 10 -o "$work/hang.body" -w '%{http_code} %{time_total}' "$rg_url/hang")
assert_eq "a backend that never answers: 504" 504 "${out%% *}"
assert_between "the 504 comes after about proxy.readTimeout" "${out#* }" 0.8 4.5
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"

# --- a dead backend: 502 with a short JSON body that says why
dead=$(px_free_port)
px_config "$work/dead.yaml" "proxy.backend=http://127.0.0.1:$dead"
px_start_revgate "$work/dead.yaml"
code=$(px_curl -o "$work/dead.body" -w '%{http_code}' "$rg_url/echo")
assert_eq "a backend that refuses connections: 502" 502 "$code"
assert_le "the 502 body is short" "$(wc -c <"$work/dead.body")" 512
"$px_python" -c 'import json, sys; json.load(open(sys.argv[1]))' "$work/dead.body" 2>/dev/null &&
    pass "the 502 body is JSON" || fail "the 502 body is JSON" "$(indent "$(cat "$work/dead.body")")"
assert_match "the 502 body says what went wrong" "$(cat "$work/dead.body")" \
    "[Bb]ackend|[Uu]pstream|[Gg]ateway|[Cc]onnect|[Uu]navailable"
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"

# --- two backends, one dead: every request still succeeds on the live one
dead=$(px_free_port)
curl -sS --max-time 5 "http://127.0.0.1:$live_port/stats?reset=1" >/dev/null
px_config "$work/pair.yaml" \
    "proxy.backend=[http://127.0.0.1:$dead, http://127.0.0.1:$live_port]"
px_start_revgate "$work/pair.yaml"
codes=
for i in 1 2 3 4 5 6; do
	codes="$codes$(px_curl -o /dev/null -w '%{http_code}' "$rg_url/echo?rr=$i") "
done
assert_eq "with one of two backends dead, six requests all get 200" \
    "200 200 200 200 200 200 " "$codes"
assert_eq "the live backend served all six" 6 "$(px_stat requests "$live_port")"
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"
