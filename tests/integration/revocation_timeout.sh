#!/bin/sh
# revocation_timeout.sh - a hung OCSP responder (it reads the request and never answers) costs
# one client ocsp.timeout (1 s), not everyone: the decision arrives within about 1-3 s (403
# ocsp-timeout under fail-closed), and while it is pending a client whose status is cached
# is served at once (< 0.5 s). Clients that disconnect while their check is pending do not
# hurt revgate: it keeps serving (an ASan build would catch a use-after-free here).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/revlib.sh"

rv_setup
rv_start_crlserver
cv=http.mtls.certificateVerification
rv_route /down.crl 404
rv_route /hang hang

# fast is decided by the root's CRL; the others have an issuer of their own (ihang), whose
# CDP fails, so that their status can only come from the hung responder.
rv_ca ihang
rv_client fast "$cs_url/root.crl" ""
rv_client slowpoke "$cs_url/down.crl" "$cs_url/hang" ihang
for i in 1 2 3; do
	rv_client "quitter$i" "$cs_url/down.crl" "$cs_url/hang" ihang
done
rv_publish root /root.crl

rv_config "$work/timeout.yaml" "$cv.failureMode=fail-closed" "$cv.ocsp.timeout=1s" \
    "$cv.crl.timeout=2s"
px_start_revgate "$work/timeout.yaml"

rv_expect_good "a client decided by the CRL (warms the cache)" fast "good; method=crl"

# slowpoke: its check hangs on the responder until ocsp.timeout.
px_curl_as slowpoke -o "$work/slowpoke.out" -w '%{http_code} %{time_total}' "$rg_url/echo" \
    >"$work/slowpoke.result" 2>"$work/slowpoke.err" &
slowpoke_pid=$!
track "$slowpoke_pid"
sleep 0.3
alive "$slowpoke_pid" && pass "slowpoke is still waiting when the next client connects" ||
    fail "slowpoke is still waiting when the next client connects" \
    "$(cat "$work/slowpoke.result")"
rv_get fast
assert_eq "while slowpoke's check hangs, the cached client gets 200" 200 "$got_code"
assert_between "while slowpoke's check hangs, the cached client is served at once" \
    "$got_time" 0 0.5
wait_exit "$slowpoke_pid" 15 || fail "slowpoke's request ends within 15 s"
read -r got_code got_time <"$work/slowpoke.result"
got_file="$work/slowpoke.out"
got_err=$(cat "$work/slowpoke.err")
rv_check_refusal "hung responder, fail-closed" ocsp-timeout
assert_eq "slowpoke's check went to the hung responder" 1 "$(rv_count /hang)"
assert_between "the decision comes after ocsp.timeout (1 s), not much later" "$got_time" 0.8 3
rv_wait_log "the timeout refusal is an audit line" "audit:" "ocsp-timeout" "CN=slowpoke"

# Clients that give up while their check is pending.
for i in 1 2 3; do
	px_curl_as "quitter$i" -o /dev/null "$rg_url/echo" 2>/dev/null &
	quitter_pid=$!
	track "$quitter_pid"
	sleep 0.3
	kill -KILL "$quitter_pid" 2>/dev/null
	wait "$quitter_pid" 2>/dev/null
	rv_get fast
	assert_eq "after quitter$i disconnected mid-check, another client gets 200 at once" \
	    "200 ok" "$got_code $(awk -v t="$got_time" 'BEGIN { print (t < 0.5 ? "ok" : t) }')"
done
assert_ge "the quitters' checks had reached the hung responder (1 + 3 requests)" \
    "$(rv_count /hang)" 4
# Let the abandoned checks time out (ocsp.timeout 1 s) and be thrown away.
sleep 2
if alive "$revgate_pid"; then
	pass "revgate survives clients that disconnected mid-check"
else
	die "revgate survives clients that disconnected mid-check" "$(tail -n 30 "$revgate_log")"
fi
rv_expect_good "after the abandoned checks ended, the cached client is still served" fast \
    "good; method=crl"
code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin_port/healthz")
assert_eq "/healthz still answers 200" 200 "$code"
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM with hung fetches behind it" 0 "$rc"
