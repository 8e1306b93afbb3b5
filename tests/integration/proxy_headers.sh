#!/bin/sh
# proxy_headers.sh - what the backend is told: the client certificate's identity (verify
# status, RFC 4514 subject and issuer, upper-case hex serial, lower-case hex SHA-256
# fingerprint) and X-Forwarded-*, exactly once each, whatever identity headers the client
# forged; and no hop-by-hop headers.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/proxylib.sh"

px_setup

# once WHAT FILE NAME EXPECTED: the backend saw header NAME exactly once, with value EXPECTED.
once() {
	assert_eq "$1" "$4" "$(px_header "$2" "$3")"
}

# absent WHAT FILE NAME: the backend did not see header NAME at all.
absent() {
	assert_eq "$1" "" "$(px_header "$2" "$3")"
}

px_config "$work/revgate.yaml"
px_start_revgate "$work/revgate.yaml"
alice=$PKI_DIR/alice.pem

# --- identity, from a plain request
code=$(px_curl -o "$work/plain.json" -w '%{http_code}' "$rg_url/echo")
assert_eq "GET /echo with alice's certificate: 200" 200 "$code"
once "X-Client-Verify is SUCCESS" "$work/plain.json" X-Client-Verify SUCCESS
once "X-Client-Cert-Subject is the RFC 4514 subject" "$work/plain.json" \
    X-Client-Cert-Subject "$(pki_subject "$alice")"
once "X-Client-Cert-Subject reads CN=alice,O=revgate-test" "$work/plain.json" \
    X-Client-Cert-Subject "CN=alice,O=revgate-test"
once "X-Client-Cert-Issuer is the RFC 4514 issuer" "$work/plain.json" \
    X-Client-Cert-Issuer "$(pki_issuer "$alice")"
once "X-Client-Cert-Serial is the serial in upper-case hex" "$work/plain.json" \
    X-Client-Cert-Serial "$(pki_serial "$alice")"
once "X-Client-Cert-Fingerprint is the SHA-256 in lower-case hex" "$work/plain.json" \
    X-Client-Cert-Fingerprint "$(pki_fingerprint "$alice")"
absent "X-Client-Cert (proxy.forwardCertificate is off) is not sent" "$work/plain.json" \
    X-Client-Cert
once "X-Forwarded-For is the client address" "$work/plain.json" X-Forwarded-For 127.0.0.1
once "X-Forwarded-Proto is https" "$work/plain.json" X-Forwarded-Proto https
once "X-Forwarded-Host is the Host the client asked for" "$work/plain.json" \
    X-Forwarded-Host "127.0.0.1:$revgate_port"
once "Host reaches the backend once" "$work/plain.json" Host "127.0.0.1:$revgate_port"

# --- forged identity headers, in several spellings, some repeated
code=$(px_curl -o "$work/forged.json" -w '%{http_code}' \
    -H 'X-Client-Verify: SUCCESS' -H 'x-client-verify: FAILED:forged' \
    -H 'X-Client-Cert-Subject: CN=admin' -H 'X-CLIENT-CERT-SUBJECT: CN=root' \
    -H 'x-Client-cert-Issuer: CN=evil CA' -H 'X-Client-Cert-Serial: 01' \
    -H 'X-Client-Cert-Fingerprint: 0000' -H 'X-Client-Cert: -----BEGIN%20CERTIFICATE' \
    -H 'X-Client-Cert-Revocation: good' -H 'X-Keep-Me: yes' \
    "$rg_url/echo")
assert_eq "a request with forged identity headers still gets 200" 200 "$code"
once "forged X-Client-Verify is replaced by revgate's" "$work/forged.json" \
    X-Client-Verify SUCCESS
once "forged X-Client-Cert-Subject (two spellings) is replaced" "$work/forged.json" \
    X-Client-Cert-Subject "CN=alice,O=revgate-test"
once "forged X-Client-Cert-Issuer is replaced" "$work/forged.json" \
    X-Client-Cert-Issuer "$(pki_issuer "$alice")"
once "forged X-Client-Cert-Serial is replaced" "$work/forged.json" \
    X-Client-Cert-Serial "$(pki_serial "$alice")"
once "forged X-Client-Cert-Fingerprint is replaced" "$work/forged.json" \
    X-Client-Cert-Fingerprint "$(pki_fingerprint "$alice")"
absent "forged X-Client-Cert is removed" "$work/forged.json" X-Client-Cert
revocation=$(px_header "$work/forged.json" X-Client-Cert-Revocation)
assert_not_contains "forged X-Client-Cert-Revocation is not passed on" "|$revocation|" "|good|"
assert_le "X-Client-Cert-Revocation appears at most once" \
    "$(px_header "$work/forged.json" X-Client-Cert-Revocation | wc -l)" 1
once "an ordinary header passes unchanged" "$work/forged.json" X-Keep-Me yes

# --- hop-by-hop headers
code=$(px_curl -o "$work/hop.json" -w '%{http_code}' \
    -H 'Connection: keep-alive, X-Drop-Me, x-drop-too' -H 'Keep-Alive: timeout=5' \
    -H 'TE: trailers' -H 'Trailer: X-Checksum' -H 'Proxy-Connection: keep-alive' \
    -H 'Upgrade: h2c' -H 'X-Drop-Me: 1' -H 'X-Drop-Too: 2' -H 'X-Keep-Me: 3' \
    "$rg_url/echo")
assert_eq "a request with hop-by-hop headers gets 200" 200 "$code"
for h in Keep-Alive TE Trailer Proxy-Connection Upgrade X-Drop-Me X-Drop-Too; do
	absent "hop-by-hop $h is not forwarded" "$work/hop.json" "$h"
done
connection=$(px_header "$work/hop.json" Connection | tr 'A-Z' 'a-z')
assert_not_contains "the client's Connection header is not forwarded" "$connection" drop
once "a header not named in Connection is forwarded" "$work/hop.json" X-Keep-Me 3
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"

# --- optional mTLS: an anonymous client cannot claim an identity either
px_config "$work/optional.yaml" http.mtls.required=false
px_start_revgate "$work/optional.yaml"
code=$(px_curl_anon -o "$work/anon.json" -w '%{http_code}' \
    -H 'X-Client-Verify: SUCCESS' -H 'X-Client-Cert-Subject: CN=admin' \
    -H 'x-client-cert-serial: 01' -H 'X-Client-Cert-Fingerprint: 00' "$rg_url/echo")
assert_eq "optional mTLS, no certificate, forged headers: 200" 200 "$code"
once "the anonymous client's forged X-Client-Verify becomes NONE" "$work/anon.json" \
    X-Client-Verify NONE
absent "the anonymous client's forged subject is removed" "$work/anon.json" \
    X-Client-Cert-Subject
absent "the anonymous client's forged serial is removed" "$work/anon.json" \
    X-Client-Cert-Serial
absent "the anonymous client's forged fingerprint is removed" "$work/anon.json" \
    X-Client-Cert-Fingerprint
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"
