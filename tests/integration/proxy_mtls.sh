#!/bin/sh
# proxy_mtls.sh - who gets through the TLS front end: a valid client certificate does (and the
# backend learns who it is); no certificate, an untrusted, impostor, expired or not-yet-valid
# one fails the handshake before any request reaches the backend. http.mtls.required: false
# admits clients without a certificate; http.mtls: false does not ask for one.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/proxylib.sh"

px_setup
pki_client_expired expired && pki_client_future future && pki_client_untrusted mallory &&
    pki_client_impostor eve && pki_intermediate && pki_client bob int ||
    hard_error "cannot create the client certificates"

# refused NAME WHAT CURL-ARGS...: the handshake fails and no request reaches the backend.
refused() {
	local what=$1 before after crc
	shift
	before=$(px_stat requests)
	crc=0
	"$@" -o "$work/refused.out" "$rg_url/echo" 2>"$work/refused.err" || crc=$?
	after=$(px_stat requests)
	if [ "$crc" -ne 0 ]; then
		pass "$what: curl fails (exit $crc: $(head -c 200 "$work/refused.err"))"
	else
		fail "$what: curl fails" "curl exited 0; the response was:
$(indent "$(head -c 500 "$work/refused.out")")"
	fi
	assert_eq "$what: no request reaches the backend" "$before" "$after"
}

# --- http.mtls.required: true (the default)
px_config "$work/required.yaml"
px_start_revgate "$work/required.yaml"

s_client_out=$(timeout 10 openssl s_client -connect "127.0.0.1:$revgate_port" \
    -CAfile "$PKI_DIR/ca.pem" </dev/null 2>&1)
assert_contains "the server asks for a client certificate" "$s_client_out" \
    "Requested Signature Algorithms"
assert_contains "the server offers its own certificate, which the test CA verifies" \
    "$s_client_out" "Verify return code: 0 (ok)"

code=$(px_curl -o "$work/alice.json" -w '%{http_code}' "$rg_url/echo")
assert_eq "a valid client certificate gets 200 from /echo" 200 "$code"
assert_eq "the backend sees X-Client-Verify: SUCCESS" SUCCESS \
    "$(px_header "$work/alice.json" X-Client-Verify)"
assert_eq "the backend sees the client's subject" "CN=alice,O=revgate-test" \
    "$(px_header "$work/alice.json" X-Client-Cert-Subject)"

refused "no client certificate" px_curl_anon
refused "a certificate from an untrusted CA" px_curl_as mallory
refused "a certificate from a CA impersonating the root's name" px_curl_as eve
refused "an expired certificate" px_curl_as expired
refused "a certificate that is not valid yet" px_curl_as future

# Without a certificate the failure is a TLS one: not a single HTTP byte comes back.
crc=0
px_client raw --no-cert --data 'GET /echo HTTP/1.1\r\nHost: x\r\n\r\n' --json \
    >"$work/nocert.json" 2>&1 || crc=$?
assert_eq "without a certificate the server sends no HTTP response" "" \
    "$(px_json "$work/nocert.json" 'd["raw"]' 2>/dev/null)"

code=$(px_curl_as bob -o "$work/bob.json" -w '%{http_code}' "$rg_url/echo")
assert_eq "a certificate from an intermediate CA, sent with its chain, gets 200" 200 "$code"
assert_eq "the backend sees the intermediate as the issuer" \
    "$(pki_issuer "$PKI_DIR/bob.pem")" "$(px_header "$work/bob.json" X-Client-Cert-Issuer)"

px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"

# --- http.mtls.required: false
px_config "$work/optional.yaml" http.mtls.required=false
px_start_revgate "$work/optional.yaml"

code=$(px_curl_anon -o "$work/anon.json" -w '%{http_code}' "$rg_url/echo")
assert_eq "optional mTLS: a client without a certificate gets 200" 200 "$code"
assert_eq "optional mTLS: the backend sees X-Client-Verify: NONE" NONE \
    "$(px_header "$work/anon.json" X-Client-Verify)"
assert_eq "optional mTLS: no subject is forwarded for an anonymous client" "" \
    "$(px_header "$work/anon.json" X-Client-Cert-Subject)"

code=$(px_curl -o "$work/opt-alice.json" -w '%{http_code}' "$rg_url/echo")
assert_eq "optional mTLS: a valid certificate still gets 200" 200 "$code"
assert_eq "optional mTLS: and X-Client-Verify: SUCCESS" SUCCESS \
    "$(px_header "$work/opt-alice.json" X-Client-Verify)"
refused "optional mTLS: a certificate from an untrusted CA" px_curl_as mallory
refused "optional mTLS: an expired certificate" px_curl_as expired

px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"

# --- http.mtls: false
px_config "$work/off.yaml" http.mtls=false
px_start_revgate "$work/off.yaml"

s_client_out=$(timeout 10 openssl s_client -connect "127.0.0.1:$revgate_port" \
    -CAfile "$PKI_DIR/ca.pem" </dev/null 2>&1)
assert_not_contains "mTLS off: the server sends no CertificateRequest" "$s_client_out" \
    "Requested Signature Algorithms"
code=$(px_curl -o "$work/off-alice.json" -w '%{http_code}' -H 'X-Client-Verify: SUCCESS' \
    -H 'X-Client-Cert-Subject: CN=admin' "$rg_url/echo")
assert_eq "mTLS off: a client offering a certificate gets 200" 200 "$code"
assert_match "mTLS off: the backend sees no verified identity (X-Client-Verify absent or NONE)" \
    "$(px_header "$work/off-alice.json" X-Client-Verify)" '^(NONE)?$'
assert_eq "mTLS off: a forged subject is still removed" "" \
    "$(px_header "$work/off-alice.json" X-Client-Cert-Subject)"
code=$(px_curl_as mallory -o /dev/null -w '%{http_code}' "$rg_url/echo")
assert_eq "mTLS off: an untrusted certificate is never looked at: 200" 200 "$code"

px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"
