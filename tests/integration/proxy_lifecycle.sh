#!/bin/sh
# proxy_lifecycle.sh - a running proxy: the admin endpoints answer; SIGHUP swaps in a new
# server certificate for new connections while an open keep-alive connection carries on;
# a SIGHUP with a broken configuration keeps the running one; SIGTERM stops accepting, lets
# the request in flight finish and exits 0.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/proxylib.sh"

px_setup
pki_server server2 || hard_error "cannot create the second server certificate"
mkdir -p "$work/tls"
cp "$PKI_DIR/server.pem" "$work/tls/cert.pem" && cp "$PKI_DIR/server.key" "$work/tls/key.pem" ||
    hard_error "cannot copy the server certificate"
fp_old=$(pki_fingerprint "$PKI_DIR/server.pem")
fp_new=$(pki_fingerprint "$PKI_DIR/server2.pem")

# log_count REGEX: how many lines of the revgate log match REGEX.
log_count() {
	grep -Ec -- "$1" "$revgate_log" 2>/dev/null
}

# wait_log_count REGEX N: waits up to 10 s until more than N lines match REGEX.
wait_log_count() {
	local regex=$1 n=$2
	above() { [ "$(log_count "$regex")" -gt "$n" ]; }
	px_wait_until 10 above
}

reloaded='configuration reloaded'
rejected='keeping the running configuration'

px_config "$work/revgate.yaml" "tls.certificate=$work/tls/cert.pem" \
    "tls.privateKey=$work/tls/key.pem"
cp "$work/revgate.yaml" "$work/revgate.yaml.good"
px_start_revgate "$work/revgate.yaml"

# --- admin listener
code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin_port/healthz")
assert_eq "admin GET /healthz: 200" 200 "$code"
code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin_port/readyz")
assert_eq "admin GET /readyz once listening: 200" 200 "$code"

# --- SIGHUP with a new certificate while a keep-alive connection stays open
assert_eq "before the reload revgate serves the first certificate" "$fp_old" \
    "$(px_server_fingerprint)"
px_client keepalive --first "/echo?ka=1" --second "/echo?ka=2" --ready-file "$work/ka.ready" \
    --go-file "$work/ka.go" --wait 30 >"$work/ka.json" 2>&1 &
ka_pid=$!
track "$ka_pid"
px_wait_until 10 test -e "$work/ka.ready" ||
    fail "the keep-alive client got its first answer" "$(indent "$(cat "$work/ka.json")")"

cp "$PKI_DIR/server2.pem" "$work/tls/cert.pem.new" &&
    cp "$PKI_DIR/server2.key" "$work/tls/key.pem.new" &&
    mv "$work/tls/cert.pem.new" "$work/tls/cert.pem" &&
    mv "$work/tls/key.pem.new" "$work/tls/key.pem" || hard_error "cannot swap the certificate"
n=$(log_count "$reloaded")
kill -HUP "$revgate_pid"
wait_log_count "$reloaded" "$n" && pass "SIGHUP: revgate logs \"$reloaded\"" ||
    fail "SIGHUP: revgate logs \"$reloaded\"" "$(indent "$(tail -n 20 "$revgate_log")")"
assert_eq "after the reload new connections get the new certificate" "$fp_new" \
    "$(px_server_fingerprint)"
code=$(px_curl -o /dev/null -w '%{http_code}' "$rg_url/echo")
assert_eq "and a new request on a new connection gets 200" 200 "$code"

touch "$work/ka.go"
wait_exit "$ka_pid" 15 || fail "the keep-alive client finishes"
assert_eq "the connection opened before the reload completes its second request" \
    "[200, 200]" "$(px_json "$work/ka.json" '[r["status"] for r in d["responses"]]')"
assert_eq "both requests travelled on that one connection, under the old certificate" \
    "$fp_old" "$(px_json "$work/ka.json" 'd["peer_fingerprint"]')"

# --- SIGHUP with a configuration that does not parse
printf 'http:\n  securePort: [\n' >"$work/revgate.yaml"
n=$(log_count "$rejected")
kill -HUP "$revgate_pid"
wait_log_count "$rejected" "$n" && pass "SIGHUP with broken YAML: revgate logs \"$rejected\"" ||
    fail "SIGHUP with broken YAML: revgate logs \"$rejected\"" \
    "$(indent "$(tail -n 20 "$revgate_log")")"
alive "$revgate_pid" && pass "revgate is still running" || die "revgate is still running"
code=$(px_curl -o /dev/null -w '%{http_code}' "$rg_url/echo")
assert_eq "after a rejected reload revgate still serves: 200" 200 "$code"

# --- SIGHUP with a valid configuration naming a certificate that does not exist
px_config "$work/revgate.yaml" "tls.certificate=$work/tls/missing.pem" \
    "tls.privateKey=$work/tls/key.pem"
n=$(log_count "$rejected")
kill -HUP "$revgate_pid"
wait_log_count "$rejected" "$n" &&
    pass "SIGHUP with a missing certificate file: revgate logs \"$rejected\"" ||
    fail "SIGHUP with a missing certificate file: revgate logs \"$rejected\"" \
    "$(indent "$(tail -n 20 "$revgate_log")")"
alive "$revgate_pid" && pass "revgate is still running" || die "revgate is still running"
code=$(px_curl -o /dev/null -w '%{http_code}' "$rg_url/echo")
assert_eq "after a rejected certificate revgate still serves: 200" 200 "$code"
assert_eq "with the certificate it had" "$fp_new" "$(px_server_fingerprint)"
cp "$work/revgate.yaml.good" "$work/revgate.yaml"

# --- SIGTERM with a request in flight
before=$(px_stat paths./slow)
px_curl -o "$work/slow.body" -w '%{http_code}' "$rg_url/slow?ms=1500" >"$work/slow.code" \
    2>"$work/slow.err" &
slow_pid=$!
track "$slow_pid"
slow_arrived() { [ "$(px_stat paths./slow)" -gt "$before" ]; }
px_wait_until 5 slow_arrived || fail "the slow request reaches the backend"
echo_before=$(px_stat paths./echo)
start=$(date +%s.%N)
kill -TERM "$revgate_pid"
px_wait_until 5 grep -q "SIGTERM" "$revgate_log"
sleep 0.3
crc=0
curl -sS --max-time 3 --cacert "$PKI_DIR/ca.pem" --cert "$PKI_DIR/alice.pem" \
    --key "$PKI_DIR/alice.key" -o "$work/after-term.body" "$rg_url/echo" \
    2>"$work/after-term.err" || crc=$?
assert_ge "after SIGTERM a new connection is refused (curl exit $crc)" "$crc" 1
assert_eq "after SIGTERM no new request reaches the backend" "$echo_before" \
    "$(px_stat paths./echo)"
wait_exit "$slow_pid" 10 || fail "the request in flight finishes"
assert_eq "the request in flight at SIGTERM completes with 200" 200 "$(cat "$work/slow.code")"
assert_contains "with the backend's whole answer" "$(cat "$work/slow.body")" '"slept_ms": 1500'
wait_exit "$revgate_pid" 10
assert_eq "revgate exits 0 after draining" 0 "$rc"
elapsed=$(echo "$(date +%s.%N) $start" | awk '{ printf "%.2f", $1 - $2 }')
assert_between "revgate is gone within a few seconds of SIGTERM" "$elapsed" 0 8
revgate_pid=
