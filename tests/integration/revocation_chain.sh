#!/bin/sh
# revocation_chain.sh - scope: a client issued by an intermediate CA whose own certificate the
# root's CRL lists as revoked is admitted with scope leaf (only the client certificate is
# checked, against the intermediate's CRL) and refused with scope chain (403 revoked). A
# client the intermediate's CRL lists is refused under either scope. A resumed TLS session
# (whose ticket carries the client certificate but not its chain) is checked along the whole
# chain too: admitted before the intermediate is revoked, refused after. OCSP is off.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/revlib.sh"

rv_setup
rv_start_crlserver
cv=http.mtls.certificateVerification

# root -> int (CDP: the root's CRL) -> clients (CDP: the intermediate's CRL)
CRL_URL="$cs_url/root.crl" pki_intermediate int root || hard_error "cannot make the intermediate"
rv_client chained "$cs_url/int.crl" "" int
rv_client chainrevoked "$cs_url/int.crl" "" int
rv_client chainresume "$cs_url/int.crl" "" int
pki_revoke chainrevoked || hard_error "cannot revoke chainrevoked"
rv_publish root /root.crl
rv_publish int /int.crl

start() {
	rv_config "$work/$1.yaml" "$cv.failureMode=fail-closed" "$cv.ocsp.enabled=false" \
	    "$cv.scope=$1" "${@:2}"
	px_start_revgate "$work/$1.yaml"
}

# s_client as chainresume, sending one request; more options follow.
s_client() {
	printf 'GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' |
	    timeout 15 openssl s_client -connect "127.0.0.1:$revgate_port" \
	    -CAfile "$PKI_DIR/ca.pem" -cert "$PKI_DIR/chainresume.pem" \
	    -key "$PKI_DIR/chainresume.key" -cert_chain "$PKI_DIR/int/ca.pem" -ign_eof "$@" 2>&1
}

start chain "$cv.crl.cacheTtl=2s"
rv_expect_good "scope chain, nothing revoked above the client: admitted" chained \
    "good; method=crl"
assert_ge "scope chain: the root's CRL was fetched (for the intermediate)" \
    "$(rv_count /root.crl)" 1
assert_ge "scope chain: the intermediate's CRL was fetched (for the client)" \
    "$(rv_count /int.crl)" 1
rv_expect_refused "scope chain: a client the intermediate's CRL lists" chainrevoked revoked

# --- resumed sessions: the chain comes from the full handshake, not from the ticket
first=$(s_client -sess_out "$work/chain.sess")
assert_contains "resume, scope chain: the full handshake gets 200" "$first" "HTTP/1.1 200"
# a TLS 1.3 session resumes once (RFC 8446 C.4); the resumed connection brings the next ticket
again=$(s_client -sess_in "$work/chain.sess" -sess_out "$work/chain2.sess")
assert_contains "resume, scope chain: the session resumes" "$again" "Reused, TLS"
assert_contains "resume, scope chain: the resumed session is admitted" "$again" "HTTP/1.1 200"
assert_match "resume, scope chain: checked by CRL" "$again" "good; method=crl"

pki_revoke int || hard_error "cannot revoke the intermediate"
rv_publish root /root.crl
openssl crl -in "$PKI_DIR/root.crl.pem" -noout -text | grep -q "$(pki_serial "$PKI_DIR/int.pem")" ||
    hard_error "the root's CRL does not list the intermediate"
rv_poll chained 403 8 ||
    fail "scope chain: a new connection is refused within 8 s of revoking the intermediate" \
    "$(rv_got)"
again=$(s_client -sess_in "$work/chain2.sess")
printf '%s\n' "$again" >"$work/chain-resumed.txt"
show_log "$work/chain-resumed.txt"
assert_contains "resume, intermediate revoked: the session resumes" "$again" "Reused, TLS"
assert_contains "resume, intermediate revoked: the resumed session gets 403" "$again" \
    "HTTP/1.1 403"
assert_match "resume, intermediate revoked: with reason revoked" "$again" \
    '"reason": ?"revoked"'
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"

rv_reset_counts
start leaf
rv_expect_good "scope leaf, intermediate revoked: the client is admitted" chained \
    "good; method=crl"
assert_eq "scope leaf: the root's CRL is not needed" 0 "$(rv_count /root.crl)"
rv_expect_refused "scope leaf: a client the intermediate's CRL lists" chainrevoked revoked
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"

start chain
rv_expect_refused "scope chain, intermediate revoked: the client is refused" chained revoked
rv_wait_log "the refusal is an audit line naming the intermediate" "audit:" "revoked" \
    "Intermediate CA int"
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"
