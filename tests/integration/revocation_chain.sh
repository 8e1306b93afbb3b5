#!/bin/sh
# revocation_chain.sh - scope: a client issued by an intermediate CA whose own certificate the
# root's CRL lists as revoked is admitted with scope leaf (only the client certificate is
# checked, against the intermediate's CRL) and refused with scope chain (403 revoked). A
# client the intermediate's CRL lists is refused under either scope. OCSP is off.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/revlib.sh"

rv_setup
rv_start_crlserver
cv=http.mtls.certificateVerification

# root -> int (CDP: the root's CRL) -> clients (CDP: the intermediate's CRL)
CRL_URL="$cs_url/root.crl" pki_intermediate int root || hard_error "cannot make the intermediate"
rv_client chained "$cs_url/int.crl" "" int
rv_client chainrevoked "$cs_url/int.crl" "" int
pki_revoke chainrevoked || hard_error "cannot revoke chainrevoked"
rv_publish root /root.crl
rv_publish int /int.crl

start() {
	rv_config "$work/$1.yaml" "$cv.failureMode=fail-closed" "$cv.ocsp.enabled=false" \
	    "$cv.scope=$1"
	px_start_revgate "$work/$1.yaml"
}

start chain
rv_expect_good "scope chain, nothing revoked above the client: admitted" chained \
    "good; method=crl"
assert_ge "scope chain: the root's CRL was fetched (for the intermediate)" \
    "$(rv_count /root.crl)" 1
assert_ge "scope chain: the intermediate's CRL was fetched (for the client)" \
    "$(rv_count /int.crl)" 1
rv_expect_refused "scope chain: a client the intermediate's CRL lists" chainrevoked revoked
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"

pki_revoke int || hard_error "cannot revoke the intermediate"
rv_publish root /root.crl
openssl crl -in "$PKI_DIR/root.crl.pem" -noout -text | grep -q "$(pki_serial "$PKI_DIR/int.pem")" ||
    hard_error "the root's CRL does not list the intermediate"

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
