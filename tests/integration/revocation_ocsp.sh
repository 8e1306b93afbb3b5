#!/bin/sh
# revocation_ocsp.sh - OCSP as the fallback: when the CRL distribution point fails (404, or a
# closed port) the OCSP responder of the AIA decides: good (X-Client-Cert-Revocation: good;
# method=ocsp), revoked (403 revoked), unknown (403 ocsp-unknown). A response signed by a key
# the CA never authorised for OCSP (a certificate of the CA without the OCSPSigning EKU, or
# another CA's OCSP signer) is refused: 403 ocsp-signature. With neither source reachable,
# fail-closed refuses with a documented reason, fail-open admits with "unchecked; fail-open;
# reason=..." and logs it. The responders are `openssl ocsp` behind crlserver.py.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/revlib.sh"

rv_setup
rv_start_crlserver
cv=http.mtls.certificateVerification
closed=$(rv_closed_port)
rv_route /down.crl 404

rv_client ogood "$cs_url/down.crl" "$cs_url/ocsp"
rv_client orevoked "http://127.0.0.1:$closed/root.crl" "$cs_url/ocsp"
rv_client oclosed "http://127.0.0.1:$closed/root.crl" "$cs_url/ocsp"
rv_client ounknown "$cs_url/down.crl" "$cs_url/ocsp"
rv_client obadsigner "$cs_url/down.crl" "$cs_url/ocsp-badsigner"
rv_client oothersigner "$cs_url/down.crl" "$cs_url/ocsp-othersigner"
rv_client odown "$cs_url/down.crl" "http://127.0.0.1:$closed/ocsp"
# Signers: the root's delegated OCSP signer; a certificate of the root without OCSPSigning
# (clientAuth only); the OCSP signer of another CA.
pki_ocsp_signer root && pki_client notsigner && pki_ca other "/O=$PKI_ORG/CN=Other CA" &&
    pki_ocsp_signer other || hard_error "cannot make the OCSP signers"

pki_revoke orevoked && pki_forget ounknown || hard_error "cannot revoke / forget"
# The responders read index.txt once, at start: after the changes above.
rv_start_ocsp ocsp root root-ocsp
rv_start_ocsp ocsp-badsigner root notsigner
rv_start_ocsp ocsp-othersigner root other-ocsp

# Sanity of the test PKI itself: openssl's own client agrees with what we expect revgate to say.
for pair in ogood:good orevoked:revoked ounknown:unknown; do
	name=${pair%%:*}
	want=${pair#*:}
	got=$(timeout 10 openssl ocsp -issuer "$PKI_DIR/ca.pem" -cert "$PKI_DIR/$name.leaf.pem" \
	    -url "$cs_url/ocsp" -CAfile "$PKI_DIR/ca.pem" 2>&1)
	[[ $got == *"$name.leaf.pem: $want"* ]] ||
	    hard_error "openssl ocsp does not say $want for $name: $got"
done
rv_reset_counts

# --- fail-closed
rv_config "$work/closed.yaml" "$cv.failureMode=fail-closed"
px_start_revgate "$work/closed.yaml"

rv_expect_good "CDP 404, OCSP good" ogood "good; method=ocsp"
assert_ge "the CDP was tried" "$(rv_count /down.crl)" 1
assert_ge "the responder was asked" "$(rv_count /ocsp)" 1
rv_expect_good "CDP on a closed port, OCSP good" oclosed "good; method=ocsp"
rv_expect_refused "CDP on a closed port, OCSP revoked" orevoked revoked
rv_wait_log "the OCSP refusal is an audit line" "audit:" "revoked" "CN=orevoked"
rv_expect_refused "CDP 404, OCSP unknown (not in the responder's index)" ounknown ocsp-unknown
rv_expect_refused "a response signed by a CA certificate without OCSPSigning" obadsigner \
    ocsp-signature
assert_ge "the bad-signer responder was asked" "$(rv_count /ocsp-badsigner)" 1
rv_expect_refused "a response signed by another CA's OCSP signer" oothersigner ocsp-signature
assert_ge "the other-signer responder was asked" "$(rv_count /ocsp-othersigner)" 1
rv_expect_refused "neither the CDP (404) nor the responder (closed port) answers" odown any
rv_wait_log "that refusal is an audit line" "audit:" "CN=odown"
rv_expect_good "the good client still gets through" ogood "good; method=ocsp"
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"

# --- fail-open
rv_config "$work/open.yaml" "$cv.failureMode=fail-open"
px_start_revgate "$work/open.yaml"
rv_get odown
if [ "$got_code" == 200 ]; then
	pass "fail-open: neither source answers: 200"
	value=$(px_header "$got_file" "$rv_header")
	assert_match "fail-open: the backend sees $rv_header: unchecked; fail-open; reason=..." \
	    "$value" '^unchecked; fail-open; reason=[a-z-]+$'
	token=${value##*reason=}
	if rv_is_token "$token"; then
		pass "fail-open: the reason \"$token\" is a documented token"
	else
		fail "fail-open: the reason is a documented token" "got \"$value\""
	fi
else
	fail "fail-open: neither source answers: 200" "$(rv_got)"
fi
rv_wait_log "fail-open: the admission is logged with \"fail-open\" and the client" \
    "fail-open" "CN=odown"
rv_expect_refused "fail-open still refuses a revoked client" orevoked revoked
metrics=$(curl -sS --max-time 5 "http://127.0.0.1:$admin_port/metrics")
assert_match "fail-open: /metrics counts the admission without a verdict" \
    "$(echo "$metrics" | grep '^revgate_revocation_fail_open_total ')" \
    '^revgate_revocation_fail_open_total [1-9][0-9]*$'
assert_match "fail-open: /metrics counts the refusal" \
    "$(echo "$metrics" | grep '^revgate_revocation_decisions_total{verdict="revoked"}')" \
    '^revgate_revocation_decisions_total\{verdict="revoked"\} [1-9][0-9]*$'
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"
