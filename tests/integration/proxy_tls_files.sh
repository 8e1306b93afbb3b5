#!/bin/sh
# proxy_tls_files.sh - the server identity in its other forms: an encrypted private key with
# tls.privateKeyPassword, and a PKCS#12 bundle (certificate, key and intermediate) with
# tls.certificatePassword. A wrong or missing password stops revgate at start with exit 1
# and a message naming the setting, and a password never appears in the log.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/proxylib.sh"

px_setup
key_pw='key-pass-Zq81'
p12_pw='p12-pass-Wm37'
pki_encrypt_key server "$key_pw" && pki_intermediate && pki_server iserver int &&
    pki_p12 iserver "$p12_pw" || hard_error "cannot create the key files"

# no_secret WHAT FILE: FILE does not contain either password.
no_secret() {
	assert_not_contains "$1: the key password is not logged" "$(cat "$2")" "$key_pw"
	assert_not_contains "$1: the PKCS#12 password is not logged" "$(cat "$2")" "$p12_pw"
}

# --- encrypted PKCS#8 key
px_config "$work/enc.yaml" "tls.privateKey=$PKI_DIR/server.enc.key" \
    "tls.privateKeyPassword=\"$key_pw\""
px_start_revgate "$work/enc.yaml"
code=$(px_curl -o /dev/null -w '%{http_code}' "$rg_url/echo")
assert_eq "an encrypted key with its password: revgate serves, 200" 200 "$code"
assert_eq "with the certificate that goes with the key" \
    "$(pki_fingerprint "$PKI_DIR/server.pem")" "$(px_server_fingerprint)"
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"
no_secret "encrypted key" "$revgate_log"

# --- PKCS#12 bundle with an intermediate: the chain is sent, so the root alone verifies it
px_config "$work/p12.yaml" "tls.certificate=$PKI_DIR/iserver.p12" "tls.privateKey=" \
    "tls.certificatePassword=\"$p12_pw\""
px_start_revgate "$work/p12.yaml"
code=$(px_curl -o /dev/null -w '%{http_code}' "$rg_url/echo")
assert_eq "a PKCS#12 bundle with its password: revgate serves, 200" 200 "$code"
assert_eq "with the bundle's certificate" "$(pki_fingerprint "$PKI_DIR/iserver.pem")" \
    "$(px_server_fingerprint)"
chain=$(timeout 10 openssl s_client -connect "127.0.0.1:$revgate_port" -showcerts \
    -CAfile "$PKI_DIR/ca.pem" -cert "$PKI_DIR/alice.pem" -key "$PKI_DIR/alice.key" \
    </dev/null 2>&1)
assert_contains "the bundle's intermediate is sent with the certificate" "$chain" \
    "Intermediate CA int"
assert_contains "and the chain verifies against the root alone" "$chain" \
    "Verify return code: 0 (ok)"
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"
no_secret "PKCS#12" "$revgate_log"

# --- wrong and missing passwords: exit 1 at start, naming the setting
px_config "$work/enc-wrong.yaml" "tls.privateKey=$PKI_DIR/server.enc.key" \
    "tls.privateKeyPassword=wrong-password"
run serve -c "$work/enc-wrong.yaml"
assert_exit 1
assert_match "a wrong key password: the message names tls.privateKey" "$err" 'tls\.privateKey'
assert_contains "and the key file" "$err" "server.enc.key"

px_config "$work/enc-none.yaml" "tls.privateKey=$PKI_DIR/server.enc.key"
run serve -c "$work/enc-none.yaml"
assert_exit 1
assert_match "an encrypted key without a password: the message names tls.privateKey" \
    "$err" 'tls\.privateKey'

px_config "$work/p12-wrong.yaml" "tls.certificate=$PKI_DIR/iserver.p12" "tls.privateKey=" \
    "tls.certificatePassword=wrong-password"
run serve -c "$work/p12-wrong.yaml"
assert_exit 1
assert_match "a wrong PKCS#12 password: the message names tls.certificate" "$err" \
    'tls\.certificate'
assert_contains "and the bundle" "$err" "iserver.p12"
