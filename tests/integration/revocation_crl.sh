#!/bin/sh
# revocation_crl.sh - CRL decisions: a client whose CRL distribution point serves a CRL not
# listing it is admitted (X-Client-Cert-Revocation: good; method=crl); one the CRL lists is
# refused with 403 {"reason":"revoked"}, nothing reaches the backend, and an audit line is
# logged; the same from a static crl.files CRL (no CDP in the certificate), with /readyz 200
# once it is loaded. A CRL signed by another key (an impostor CA with the root's name, or the
# real CRL with a broken signature) is never believed: 403 crl-signature. A CRL past its
# nextUpdate is "stale-crl" within gracePeriod and crl-expired beyond it. Garbage at the CDP
# is a failure (fail-closed 403 with a documented reason). OCSP is off throughout.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/revlib.sh"

rv_setup
rv_start_crlserver
cv=http.mtls.certificateVerification

# Clients: the CDP path says which CRL decides them.
rv_client crlgood "$cs_url/root.crl" ""
rv_client crlrevoked "$cs_url/root.crl" ""
rv_client stale "$cs_url/stale.crl" ""
rv_client expired "$cs_url/expired.crl" ""
rv_client forged "$cs_url/forged.crl" ""
rv_client tampered "$cs_url/tampered.crl" ""
rv_client garbage "$cs_url/garbage.crl" ""
rv_client staticgood "" ""
rv_client staticrevoked "" ""
pki_ca impostor "/O=$PKI_ORG/CN=$PKI_ORG Root CA" || hard_error "cannot make the impostor CA"

pki_revoke crlrevoked && pki_revoke staticrevoked || hard_error "cannot revoke"
rv_publish root /root.crl
# The same CRL, dated: nextUpdate an hour ago (lastUpdate two hours ago).
pki_crl_dated root old -7200 -3600 || hard_error "cannot make the dated CRL"
rv_serve /stale.crl "$PKI_DIR/old.der"
rv_serve /expired.crl "$PKI_DIR/old.der"
# The impostor's CRL names the root as its issuer but is signed with another key.
pki_crl impostor || hard_error "cannot make the impostor CRL"
rv_serve /forged.crl "$PKI_DIR/impostor.crl.der"
# The real CRL with the last byte of its ECDSA signature changed (still well-formed DER).
"$px_python" -c '
import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[-1] ^= 0x01
open(sys.argv[2], "wb").write(d)' "$PKI_DIR/root.crl.der" "$work/tampered.der" ||
    hard_error "cannot tamper with the CRL"
# (openssl crl exits 0 either way; it says "verify OK" or "verify failure".)
for f in "$work/tampered.der" "$PKI_DIR/impostor.crl.der"; do
	[[ $(openssl crl -inform DER -in "$f" -CAfile "$PKI_DIR/ca.pem" -noout 2>&1) == \
	    *"verify failure"* ]] || hard_error "$f verifies against the root"
done
[[ $(openssl crl -inform DER -in "$PKI_DIR/root.crl.der" -CAfile "$PKI_DIR/ca.pem" -noout \
    2>&1) == *"verify OK"* ]] || hard_error "the root's CRL does not verify"
rv_serve /tampered.crl "$work/tampered.der"
rv_route /garbage.crl garbage

# A CRL without an issuing distribution point covers every certificate of its issuer, so
# once revgate holds a good root CRL it may decide any root client with it, whatever that
# client's CDP says. Each CDP scenario below therefore gets a revgate of its own (fresh
# memory, fresh rootPath), where the CRL under test is the only one it can have.

# instance NAME SETTING...: stops the running revgate, starts one (fail-closed, OCSP off).
instance() {
	local name=$1
	shift
	if [ -n "$revgate_pid" ]; then
		alive "$revgate_pid" && pass "revgate is still running" ||
		    fail "revgate is still running"
		px_stop_revgate
		assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"
	fi
	rv_config "$work/$name.yaml" "$cv.failureMode=fail-closed" "$cv.ocsp.enabled=false" "$@"
	px_start_revgate "$work/$name.yaml"
}

# --- CRLs from the distribution points
instance cdp
rv_expect_good "CDP: a client the CRL does not list" crlgood "good; method=crl"
assert_ge "CDP: revgate fetched /root.crl" "$(rv_count /root.crl)" 1
rv_expect_refused "CDP: a client the CRL lists as revoked" crlrevoked revoked
rv_wait_log "CDP: the refusal is logged as an audit line naming the reason and the client" \
    "audit:" "revoked" "CN=crlrevoked"
rv_expect_good "CDP: the good client again (cached)" crlgood "good; method=crl"
assert_eq "CDP: /root.crl was fetched once for both of its clients (then cached)" 1 \
    "$(rv_count /root.crl)"

instance stale
rv_expect_good "a CRL past nextUpdate but within gracePeriod (1d) is used, marked stale" \
    stale "good; method=crl; stale-crl"

instance forged
rv_expect_refused "a CRL signed by an impostor CA with the root's name" forged crl-signature
assert_ge "the impostor's CRL was fetched" "$(rv_count /forged.crl)" 1
rv_wait_log "that refusal is an audit line" "audit:" "crl-signature" "CN=forged"
rv_expect_good "the forged CRL did not poison anything: the good client is admitted" crlgood \
    "good; method=crl"

instance tampered
rv_expect_refused "the real CRL with a broken signature" tampered crl-signature
assert_ge "the tampered CRL was fetched" "$(rv_count /tampered.crl)" 1

instance garbage
rv_expect_refused "garbage instead of a CRL (fail-closed)" garbage any
assert_ge "the garbage was fetched" "$(rv_count /garbage.crl)" 1
alive "$revgate_pid" && pass "revgate is still running" || fail "revgate is still running"
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"

# --- gracePeriod 0: the same old CRL is expired
rv_config "$work/expired.yaml" "$cv.failureMode=fail-closed" "$cv.ocsp.enabled=false" \
    "$cv.crl.gracePeriod=0" "$cv.clockSkew=0"
px_start_revgate "$work/expired.yaml"
rv_expect_refused "a CRL past nextUpdate beyond gracePeriod 0" expired crl-expired
rv_wait_log "the crl-expired refusal is an audit line" "audit:" "crl-expired" "CN=expired"
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"

# --- a static CRL file; the certificates have no CDP
rv_config "$work/static.yaml" "$cv.failureMode=fail-closed" "$cv.ocsp.enabled=false" \
    "$cv.crl.files=[\"$PKI_DIR/root.crl.pem\"]"
before=$(curl -sS --max-time 5 "$cs_url/_stats" | "$px_python" -c \
    'import json,sys; print(json.load(sys.stdin)["requests"])')
px_start_revgate "$work/static.yaml"
rv_wait_ready 5
rv_expect_good "static CRL: a client it does not list" staticgood "good; method=crl"
rv_expect_refused "static CRL: a client it lists as revoked" staticrevoked revoked
rv_wait_log "static CRL: the refusal is an audit line" "audit:" "revoked" "CN=staticrevoked"
after=$(curl -sS --max-time 5 "$cs_url/_stats" | "$px_python" -c \
    'import json,sys; print(json.load(sys.stdin)["requests"])')
assert_eq "static CRL: nothing was fetched from the network" "$before" "$after"
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"
