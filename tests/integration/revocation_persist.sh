#!/bin/sh
# revocation_persist.sh - downloaded CRLs are kept under rootPath/cache/ and used after a
# restart even when the CRL server is gone: the revoked client is still refused (403 revoked),
# the good one admitted (good; method=crl), and /readyz answers 200.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/revlib.sh"

rv_setup
rv_start_crlserver
cv=http.mtls.certificateVerification

rv_client pgood "$cs_url/root.crl" ""
rv_client prevoked "$cs_url/root.crl" ""
pki_revoke prevoked || hard_error "cannot revoke prevoked"
rv_publish root /root.crl

root="$work/persist-root"
mkdir -p "$root" || hard_error "cannot create $root"
rv_config "$work/persist.yaml" "rootPath=$root" "$cv.failureMode=fail-closed" \
    "$cv.ocsp.enabled=false"

px_start_revgate "$work/persist.yaml"
rv_wait_ready 5
rv_expect_good "first run: the good client" pgood "good; method=crl"
rv_expect_refused "first run: the revoked client" prevoked revoked
assert_eq "first run: one download" 1 "$(rv_count /root.crl)"
persisted() {
	[ -n "$(find "$root/cache" -type f -size +0 2>/dev/null)" ]
}
if px_wait_until 5 persisted; then
	pass "the CRL is persisted under rootPath/cache/"
else
	fail "the CRL is persisted under rootPath/cache/" "$(ls -laR "$root" 2>&1)"
fi
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"

# The CRL server goes away.
kill -TERM "$cs_pid"
wait_exit "$cs_pid" 5 || hard_error "the CRL server does not stop"
curl -sS --max-time 2 -o /dev/null "$cs_url/root.crl" 2>/dev/null &&
    hard_error "the CRL server still answers"

px_start_revgate "$work/persist.yaml"
rv_wait_ready 5
rv_expect_good "after a restart without the CRL server: the good client" pgood \
    "good; method=crl"
rv_expect_refused "after a restart without the CRL server: the revoked client" prevoked revoked
rv_wait_log "the refusal is an audit line" "audit:" "revoked" "CN=prevoked"
assert_eq "/readyz is still 200" 200 "$(rv_readyz)"
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"
