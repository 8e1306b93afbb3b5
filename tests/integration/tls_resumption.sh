#!/bin/sh
# tls_resumption.sh - TLS session resumption as clients see it. With the session cache (the
# default) a TLS 1.3 session resumes on any worker thread, once, and every resumed connection
# brings the next ticket, also after a client went away without close_notify; TLS 1.2 resumes
# by session ID; /metrics counts it; a reload that
# changes the trust anchors forgets every session, one that changes tls.sessionCache starts an
# empty cache; the cache keeps at most tls.sessionCache sessions. With tls.sessionCache: 0 the
# stateless tickets resume, as often as a client offers them. tls.sessionTickets: false leaves
# TLS 1.3 without resumption.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/proxylib.sh"

px_setup

# s_client ARGS...: one GET /echo as alice through openssl s_client; prints what it printed.
s_client() {
	printf 'GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' |
	    timeout 15 openssl s_client -connect "127.0.0.1:$revgate_port" \
	    -CAfile "$PKI_DIR/ca.pem" -cert "$PKI_DIR/alice.pem" -key "$PKI_DIR/alice.key" \
	    -ign_eof "$@" 2>&1
}

# metric NAME: one sample of /metrics ("revgate_x" or 'revgate_x{result="hit"}').
metric() {
	curl -sS --max-time 5 "http://127.0.0.1:$admin_port/metrics" |
	    awk -v name="$1" '$1 == name { print $2 }'
}

# resumed_workers: the worker threads that logged a resumed handshake, one per line
resumed_workers() {
	sed -n 's/.* conn \([0-9]*\)-[0-9]* .*: resumed handshake, .*/\1/p' "$revgate_log" | sort -u
}

# --- the session cache (the default), four workers
px_config "$work/cache.yaml" "http.threads=4"
px_start_revgate "$work/cache.yaml"

out=$(s_client -sess_out "$work/s0.sess")
assert_contains "cache: the first handshake is a full one" "$out" "New, TLSv1.3"
assert_contains "cache: and gets 200" "$out" "HTTP/1.1 200"
ok=0
for i in 1 2 3 4 5 6 7 8; do
	out=$(s_client -sess_in "$work/s$((i - 1)).sess" -sess_out "$work/s$i.sess")
	case $out in
	*"Reused, TLSv1.3"*"HTTP/1.1 200"*) ok=$((ok + 1)) ;;
	*) fail "cache: resumption $i resumes and gets 200" "$out" ;;
	esac
done
assert_eq "cache: each of 8 connections resumes with the ticket the one before brought" 8 "$ok"
workers=$(resumed_workers | wc -l)
assert_ge "cache: the resumptions landed on more than one worker thread" "$workers" 2
out=$(s_client -sess_in "$work/s7.sess")
assert_contains "cache: a TLS 1.3 ticket used once does not resume again (full handshake)" \
    "$out" "New, TLSv1.3"
assert_contains "cache: that client is still admitted" "$out" "HTTP/1.1 200"
assert_eq "/metrics: 8 lookups found their session" 8 \
    "$(metric 'revgate_tls_session_cache_lookups_total{result="hit"}')"
assert_eq "/metrics: 1 lookup (the reused ticket) found none" 1 \
    "$(metric 'revgate_tls_session_cache_lookups_total{result="miss"}')"
# the last resumption's session and the full handshake's; each used one left the cache
assert_eq "/metrics: 2 sessions cached" 2 "$(metric revgate_tls_session_cache_entries)"

# a resumed session is still an identified client: the backend learns who it is
out=$(s_client -sess_in "$work/s8.sess")
assert_contains "cache: resumed, the backend sees X-Client-Verify SUCCESS" "$out" \
    '["X-Client-Verify", "SUCCESS"]'
assert_contains "cache: and the client's subject" "$out" \
    '["X-Client-Cert-Subject", "CN=alice,O=revgate-test"]'

# a client that goes away without close_notify (killed): its session still resumes
printf 'GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' |
    timeout 3 openssl s_client -connect "127.0.0.1:$revgate_port" -CAfile "$PKI_DIR/ca.pem" \
    -cert "$PKI_DIR/alice.pem" -key "$PKI_DIR/alice.key" -ign_eof \
    -sess_out "$work/dirty.sess" >"$work/dirty.out" 2>&1
assert_contains "dirty close: the keep-alive request got 200 before the client was killed" \
    "$(cat "$work/dirty.out")" "HTTP/1.1 200"
out=$(s_client -sess_in "$work/dirty.sess")
assert_contains "dirty close: the session resumes afterwards" "$out" "Reused, TLSv1.3"

out=$(s_client -tls1_2 -sess_out "$work/t0.sess")
assert_contains "cache, TLS 1.2: a full handshake" "$out" "New, TLSv1.2"
ok=0
for i in 1 2 3; do
	out=$(s_client -tls1_2 -sess_in "$work/t0.sess")
	case $out in
	*"Reused, TLSv1.2"*"HTTP/1.1 200"*) ok=$((ok + 1)) ;;
	*) fail "cache, TLS 1.2: resumption $i of the same session ID" "$out" ;;
	esac
done
assert_eq "cache, TLS 1.2: a session ID resumes each of 3 times" 3 "$ok"

# a new tls.sessionCache starts an empty cache
px_config "$work/cache.yaml" "http.threads=4" "tls.sessionCache=500"
kill -HUP "$revgate_pid"
wait_for_log "$revgate_log" "tls.sessionCache changed from 10000 to 500" "$revgate_pid"
assert_eq "reload: the cache is empty after it" 0 "$(metric revgate_tls_session_cache_entries)"
out=$(s_client -tls1_2 -sess_in "$work/t0.sess")
assert_contains "reload: the TLS 1.2 session no longer resumes" "$out" "New, TLSv1.2"

# new trust anchors: every session is forgotten
s_client -tls1_2 -sess_out "$work/t1.sess" >/dev/null
out=$(s_client -tls1_2 -sess_in "$work/t1.sess")
assert_contains "trust: a TLS 1.2 session resumes before the reload" "$out" "Reused, TLSv1.2"
cp "$PKI_DIR/ca.pem" "$work/ca-copy.pem"
px_config "$work/cache.yaml" "http.threads=4" "tls.sessionCache=500" \
    "tls.certificateAuthority=$work/ca-copy.pem"
kill -HUP "$revgate_pid"
wait_for_log "$revgate_log" "client trust changed: earlier TLS sessions will not resume" \
    "$revgate_pid"
out=$(s_client -tls1_2 -sess_in "$work/t1.sess")
assert_contains "trust: the session does not resume after the reload" "$out" "New, TLSv1.2"
assert_contains "trust: the client is verified again and admitted" "$out" "HTTP/1.1 200"
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"

# --- the bound: 40 full handshakes into a cache of 16
px_config "$work/small.yaml" "tls.sessionCache=16"
px_start_revgate "$work/small.yaml"
for i in $(seq 1 40); do
	px_curl -o /dev/null "$rg_url/echo" || fail "bound: request $i" "curl failed"
done
entries=$(metric revgate_tls_session_cache_entries)
evicted=$(metric revgate_tls_session_cache_evictions_total)
assert_le "bound: at most 16 sessions are kept" "$entries" 16
assert_eq "bound: every other session was evicted" 40 "$((entries + evicted))"
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"

# --- tls.sessionCache: 0: stateless tickets, which a client may offer more than once
px_config "$work/tickets.yaml" "tls.sessionCache=0"
px_start_revgate "$work/tickets.yaml"
s_client -sess_out "$work/k0.sess" >/dev/null
ok=0
for i in 1 2 3; do
	out=$(s_client -sess_in "$work/k0.sess")
	case $out in
	*"Reused, TLSv1.3"*"HTTP/1.1 200"*) ok=$((ok + 1)) ;;
	*) fail "tickets: resumption $i with the same ticket" "$out" ;;
	esac
done
assert_eq "tickets: the same stateless ticket resumes each of 3 times" 3 "$ok"
assert_eq "tickets: no session is cached" 0 "$(metric revgate_tls_session_cache_entries)"
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"

# --- tls.sessionTickets: false: TLS 1.3 gets no ticket, TLS 1.2 still resumes by session ID
px_config "$work/noticket.yaml" "tls.sessionTickets=false"
px_start_revgate "$work/noticket.yaml"
out=$(s_client -sess_out "$work/n0.sess")
assert_contains "no tickets: TLS 1.3 handshake completes" "$out" "HTTP/1.1 200"
[ ! -s "$work/n0.sess" ] && pass "no tickets: TLS 1.3 gets no ticket (s_client saved no session)" ||
    fail "no tickets: TLS 1.3 gets no ticket (s_client saved no session)" \
    "$(openssl sess_id -in "$work/n0.sess" -noout -text 2>&1)"
s_client -tls1_2 -sess_out "$work/n1.sess" >/dev/null
out=$(s_client -tls1_2 -sess_in "$work/n1.sess")
assert_contains "no tickets: TLS 1.2 resumes by session ID" "$out" "Reused, TLSv1.2"
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"

