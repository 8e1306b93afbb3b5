#!/bin/sh
# revocation_cache.sh - what the caches save: five sequential new connections of one client
# cost one CRL download, or one OCSP request when OCSP decides; 30 concurrent new connections
# on a cold cache cost exactly one CRL download (the CRL server answers slowly, so they all
# wait on the same fetch), and 10 concurrent ones one OCSP request. A failed OCSP attempt is
# remembered for ocsp.errorCacheTtl: with the responder down (it closes without answering),
# two fail-open admissions cost one attempt.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/revlib.sh"

rv_setup
# The dead responder has a server of its own: a connection revgate reused after fetching a
# CRL and then saw closed would be retried by libcurl, and counted twice.
rv_start_crlserver dead
dead_url=$cs_url
cs_url=$dead_url rv_route /ocsp-dead close
rv_start_crlserver
cv=http.mtls.certificateVerification
# One issuing CA per scenario: a CA's CRL, once loaded, decides all its clients.
for ca in iseq iburst iocsp idown; do
	rv_ca "$ca"
done
pki_crl iseq || hard_error "cannot make the CRL of iseq"
rv_serve /seq.crl "$PKI_DIR/iseq.crl.der"
# Slow: every one of the concurrent connections arrives while the first fetch is in flight.
pki_crl iburst || hard_error "cannot make the CRL of iburst"
cp "$PKI_DIR/iburst.crl.der" "$work/burst.der"
rv_route /burst.crl slow ms=1500 "file=$work/burst.der"
rv_route /down.crl 404

rv_client seq "$cs_url/seq.crl" "" iseq
rv_client oseq "$cs_url/down.crl" "$cs_url/ocsp" iocsp
rv_client oburst "$cs_url/down.crl" "$cs_url/ocsp" iocsp
rv_client burst "$cs_url/burst.crl" "" iburst
rv_client edown "$cs_url/down.crl" "$dead_url/ocsp-dead" idown
pki_ocsp_signer iocsp || hard_error "cannot make the OCSP signer"
rv_start_ocsp ocsp iocsp iocsp-ocsp

# --- fail-closed, default cache settings
rv_config "$work/cache.yaml" "$cv.failureMode=fail-closed"
px_start_revgate "$work/cache.yaml"

for i in 1 2 3 4 5; do
	rv_expect_good "CRL: connection $i of the same client" seq "good; method=crl"
done
assert_eq "CRL: five connections, one download of /seq.crl" 1 "$(rv_count /seq.crl)"

for i in 1 2 3 4 5; do
	rv_expect_good "OCSP: connection $i of the same client" oseq "good; method=ocsp"
done
assert_eq "OCSP: five connections, one request to the responder" 1 "$(rv_count /ocsp)"

# burst NAME N: N concurrent new connections as client NAME, each one request; waits for all
# (25 s at most each) and sets codes to the tally of their statuses ("N 200" when all pass).
# Responses are in $work/NAME-I.out.
burst() {
	local name=$1 n=$2 i pid pids=()
	for i in $(seq 1 "$n"); do
		px_curl_as "$name" -o "$work/$name-$i.out" -w '%{http_code}' "$rg_url/echo" \
		    >"$work/$name-$i.code" 2>"$work/$name-$i.err" &
		pids+=($!)
		track "$!"
	done
	for pid in "${pids[@]}"; do
		wait_exit "$pid" 25 || fail "a concurrent request ends within 25 s"
	done
	codes=$(for i in $(seq 1 "$n"); do cat "$work/$name-$i.code"; echo; done | sort |
	    uniq -c | sed 's/^ *//')
}

# 30 concurrent new connections, cold cache, slow CRL server.
burst burst 30
assert_eq "CRL: 30 concurrent connections on a cold cache all get 200" "30 200" "$codes"
bad=0
for i in $(seq 1 30); do
	[ "$(px_header "$work/burst-$i.out" "$rv_header" 2>/dev/null)" == "good; method=crl" ] ||
	    bad=$((bad + 1))
done
assert_eq "CRL: all 30 carry good; method=crl" 0 "$bad"
assert_eq "CRL: 30 concurrent connections, one download of /burst.crl" 1 \
    "$(rv_count /burst.crl)"

rv_reset_counts
burst oburst 10
assert_eq "OCSP: 10 concurrent connections on a cold cache all get 200" "10 200" "$codes"
assert_eq "OCSP: 10 concurrent connections, one request to the responder" 1 \
    "$(rv_count /ocsp)"
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"

# --- the error cache: responder down, fail-open, errorCacheTtl 5m
rv_config "$work/errors.yaml" "$cv.failureMode=fail-open" "$cv.ocsp.errorCacheTtl=5m"
px_start_revgate "$work/errors.yaml"
cs_url=$dead_url rv_reset_counts
for i in 1 2; do
	rv_get edown
	assert_eq "responder down, fail-open: connection $i gets 200" 200 "$got_code"
	assert_match "responder down, fail-open: connection $i is marked unchecked" \
	    "$(px_header "$got_file" "$rv_header")" '^unchecked; fail-open; reason=[a-z-]+$'
done
assert_eq "responder down: two connections, one attempt (the failure is cached)" 1 \
    "$(cs_url=$dead_url rv_count /ocsp-dead)"
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"
