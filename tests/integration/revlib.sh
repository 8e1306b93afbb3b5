# revlib.sh - helpers for the revocation integration scripts (revocation_*.sh). Sourced.
#
# A script starts with
#     [ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
#     . "$(dirname "$0")/revlib.sh"
#     rv_setup
# and gets everything proxylib.sh gives (px_*, PKI in $PKI_DIR, backend b1, assertions) plus:
#
#   rv_setup                    skips (77) when the binary has no revocation engine yet, then
#                               px_setup and a served-files directory $rv_www
#   rv_start_crlserver [NAME]   starts crlserver.py (see its --help); sets cs_port, cs_url
#                               (http://127.0.0.1:PORT) and cs_pid
#   rv_route PATH MODE [K=V]... sets a route of the crlserver at $cs_port (MODE and K=V as
#                               its /_mode takes: file=F, ms=N, code=N, to=URL)
#   rv_serve PATH FILE          routes PATH to a copy of FILE in $rv_www (atomically replaced,
#                               so a later rv_serve of the same PATH swaps what is served)
#   rv_publish CA PATH          pki_crl CA, then rv_serve PATH DIR/CA.crl.der
#   rv_count PATH               how many requests the crlserver counted for route PATH
#   rv_reset_counts             zeroes the crlserver's counters
#   rv_start_ocsp NAME CA SIGNER    `openssl ocsp` for CA's index.txt signing with DIR/SIGNER
#                               (.leaf.pem, .key), on port 0, behind the crlserver route
#                               /NAME (a counting proxy, so the URL never changes); sets
#                               ocsp_port
#   rv_restart_ocsp NAME        restarts it (it does not re-read index.txt) and re-routes
#   rv_config FILE KEY=VALUE... px_config with certificateVerification enabled and a fresh
#                               rootPath ($work/root-N) unless given
#   rv_get NAME [PATH]          GET PATH (/echo) as client NAME with a new connection; sets
#                               got_code, got_time (s), got_file (the body), got_err
#   rv_expect_good WHAT NAME HEADER     200, and the backend saw X-Client-Cert-Revocation HEADER
#   rv_expect_refused WHAT NAME REASON  403 with {"status":403,"error":"Forbidden","reason":
#                               REASON} (REASON "any": one of the documented tokens), and the
#                               backend saw nothing
#   rv_check_refusal WHAT REASON        the same checks on the last rv_get (no backend check)
#   rv_poll NAME CODE SECONDS   new connections of NAME every 0.25 s until one gets CODE (at
#                               most SECONDS); returns 1 if none did; rv_waited is the time
#                               taken (s, decimal) and got_* describe the last answer
#   rv_now                      the time in seconds, decimal
#   rv_wait_log WHAT NEEDLE...  waits (5 s) for a line of $revgate_log holding every NEEDLE
#   rv_readyz                   the admin /readyz status code
#   rv_wait_ready [SECONDS]     waits (default 5 s) for /readyz 200; a check
#   rv_closed_port              a loopback port nothing listens on
#
# Certificates get a CRL distribution point / OCSP AIA from CRL_URL / OCSP_URL at issue time
# (pki.sh); rv_client NAME CRL_URL OCSP_URL [ISSUER] issues one with exactly those (either
# may be empty).
#
# A CRL without an issuing distribution point covers every certificate of its issuer: once
# revgate holds a valid CRL of a CA it may decide all that CA's clients with it, whatever
# their own CDP says. Clients whose scenarios must not share a CRL get different issuers:
# rv_ca NAME makes an intermediate CA NAME under the root (no CDP, no AIA of its own), whose
# clients send it in their chain, so the root stays the only trust anchor.

rv_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$rv_dir/proxylib.sh"

# Every reason token revgate documents for a refusal or a fail-open admission.
rv_tokens="revoked crl-expired crl-signature crl-unavailable crl-invalid crl-too-large
crl-not-yet-valid ocsp-unknown ocsp-unreachable ocsp-timeout ocsp-signature ocsp-stale
ocsp-nonce ocsp-invalid ocsp-error no-revocation-source chain-unavailable out-of-memory"
rv_header=X-Client-Cert-Revocation
rv_n=0
rv_root_n=0
declare -A rv_ocsp_pid rv_ocsp_ca rv_ocsp_signer

rv_setup() {
	if grep -aq "not available in this build of revgate yet" "$REVGATE"; then
		px_skip "this revgate refuses certificateVerification (no revocation engine yet)"
	fi
	px_setup
	rv_www="$work/www"
	mkdir -p "$rv_www" || hard_error "cannot create $rv_www"
}

rv_start_crlserver() {
	local name=${1:-cs} portfile="$work/crlserver-${1:-cs}.port"
	rm -f "$portfile"
	"$px_python" "$rv_dir/crlserver.py" "$portfile" 2>"$work/crlserver-$name.log" </dev/null &
	cs_pid=$!
	track "$cs_pid"
	show_log "$work/crlserver-$name.log"
	px_wait_until 10 test -s "$portfile" ||
	    hard_error "crlserver $name did not report its port within 10 s"
	cs_port=$(cat "$portfile")
	cs_url="http://127.0.0.1:$cs_port"
}

rv_route() {
	local path=$1 mode=$2 args=() out
	shift 2
	args=(--data-urlencode "path=$path" --data-urlencode "mode=$mode")
	while [ $# -gt 0 ]; do
		args+=(--data-urlencode "$1")
		shift
	done
	out=$(curl -sS --max-time 5 -f "${args[@]}" "$cs_url/_mode" 2>&1) ||
	    hard_error "crlserver: cannot set route $path to $mode: $out"
}

rv_serve() {
	local path=$1 file=$2 name
	name=$(printf '%s' "$1" | tr -c 'A-Za-z0-9._-' _)
	cp "$file" "$rv_www/.$name.tmp" && mv -f "$rv_www/.$name.tmp" "$rv_www/$name" ||
	    hard_error "cannot copy $file to $rv_www"
	rv_route "$path" file "file=$rv_www/$name"
}

rv_publish() {
	pki_crl "$1" || hard_error "cannot make the CRL of $1"
	rv_serve "$2" "$PKI_DIR/$1.crl.der"
}

rv_count() {
	curl -sS --max-time 5 "$cs_url/_stats" | "$px_python" -c '
import json, sys
print(json.load(sys.stdin)["counts"].get(sys.argv[1], 0))' "$1"
}

rv_reset_counts() {
	curl -sS --max-time 5 -o /dev/null "$cs_url/_stats?reset=1" ||
	    hard_error "cannot reset the crlserver's counters"
}

rv_client() {
	CRL_URL=$2 OCSP_URL=$3 pki_client "$1" "${4:-root}" ||
	    hard_error "cannot issue the client certificate $1"
}

rv_ca() {
	CRL_URL= OCSP_URL= pki_intermediate "$1" root ||
	    hard_error "cannot make the intermediate CA $1"
}

rv_closed_port() {
	px_free_port
}

rv_ocsp_launch() {
	local name=$1 ca=${rv_ocsp_ca[$1]} signer=${rv_ocsp_signer[$1]} log i
	log="$work/ocsp-$name.log"
	: >"$log"
	openssl ocsp -index "$PKI_DIR/$ca/index.txt" -CA "$PKI_DIR/$ca/ca.pem" \
	    -rsigner "$PKI_DIR/$signer.leaf.pem" -rkey "$PKI_DIR/$signer.key" \
	    -port 0 -nrequest 100000 -nmin 5 -ignore_err >>"$log" 2>&1 </dev/null &
	rv_ocsp_pid[$name]=$!
	track "${rv_ocsp_pid[$name]}"
	ocsp_port=
	for ((i = 0; i < 100; i++)); do
		ocsp_port=$(sed -n 's/^ACCEPT .*:\([0-9][0-9]*\) PID=.*/\1/p' "$log" | head -n 1)
		[ -n "$ocsp_port" ] && break
		alive "${rv_ocsp_pid[$name]}" || break
		sleep 0.1
	done
	[ -n "$ocsp_port" ] ||
	    hard_error "openssl ocsp ($name) did not report its port: $(cat "$log")"
	rv_route "/$name" proxy "to=http://127.0.0.1:$ocsp_port"
}

rv_start_ocsp() {
	rv_ocsp_ca[$1]=$2
	rv_ocsp_signer[$1]=$3
	show_log "$work/ocsp-$1.log"
	rv_ocsp_launch "$1"
}

rv_restart_ocsp() {
	local pid=${rv_ocsp_pid[$1]}
	kill -TERM "$pid" 2>/dev/null
	wait_exit "$pid" 5 || { kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
	rv_ocsp_launch "$1"
}

rv_config() {
	local file=$1
	shift
	rv_root_n=$((rv_root_n + 1))
	mkdir -p "$work/root-$rv_root_n" || hard_error "cannot create $work/root-$rv_root_n"
	px_config "$file" "rootPath=$work/root-$rv_root_n" \
	    "http.mtls.certificateVerification.enabled=true" "$@"
}

rv_get() {
	local name=$1 path=${2:-/echo} out
	rv_n=$((rv_n + 1))
	got_file="$work/resp-$rv_n-$name.out"
	got_err=
	out=$(px_curl_as "$name" -o "$got_file" -w '%{http_code} %{time_total}' \
	    "$rg_url$path" 2>"$got_file.err")
	got_code=${out%% *}
	got_time=${out#* }
	got_err=$(cat "$got_file.err")
	[ -f "$got_file" ] || : >"$got_file"
}

# rv_got: the last answer, for failure reports.
rv_got() {
	echo "status $got_code after ${got_time}s; curl: ${got_err:-(no error)}"
	echo "body:"
	indent "$(head -c 1500 "$got_file")"
}

rv_expect_good() {
	local what=$1 name=$2 header=$3
	rv_get "$name"
	if [ "$got_code" != 200 ]; then
		fail "$what: 200" "$(rv_got)"
		return 1
	fi
	pass "$what: 200"
	assert_eq "$what: the backend sees $rv_header: $header" "$header" \
	    "$(px_header "$got_file" "$rv_header")"
}

rv_is_token() {
	local t
	for t in $rv_tokens; do
		[ "$t" == "$1" ] && return 0
	done
	return 1
}

rv_check_refusal() {
	local what=$1 want=$2 status error reason
	if [ "$got_code" != 403 ]; then
		fail "$what: 403" "$(rv_got)"
		return 1
	fi
	pass "$what: 403"
	status=$(px_json "$got_file" 'd.get("status")' 2>&1)
	error=$(px_json "$got_file" 'd.get("error")' 2>&1)
	reason=$(px_json "$got_file" 'd.get("reason")' 2>&1)
	if [ "$status" == 403 ] && [ "$error" == Forbidden ]; then
		pass "$what: the body is JSON with status 403 and error Forbidden"
	else
		fail "$what: the body is JSON with status 403 and error Forbidden" "$(rv_got)"
	fi
	if [ "$want" == any ]; then
		if rv_is_token "$reason"; then
			pass "$what: the reason \"$reason\" is a documented token"
		else
			fail "$what: the reason is a documented token" "got \"$reason\"; tokens: \
$(echo $rv_tokens)
$(rv_got)"
		fi
	else
		assert_eq "$what: reason" "$want" "$reason"
	fi
}

rv_expect_refused() {
	local what=$1 name=$2 want=$3 before after
	before=$(px_stat requests)
	rv_get "$name"
	rv_check_refusal "$what" "$want" || return 1
	after=$(px_stat requests)
	assert_eq "$what: nothing reaches the backend (its request count)" "$before" "$after"
}

rv_now() {
	date +%s.%N
}

rv_poll() {
	local name=$1 code=$2 limit=$3 start end
	start=$(rv_now)
	end=$(awk -v s="$start" -v l="$limit" 'BEGIN { printf "%.3f", s + l }')
	while :; do
		rv_get "$name"
		rv_waited=$(awk -v s="$start" -v n="$(rv_now)" 'BEGIN { printf "%.2f", n - s }')
		[ "$got_code" == "$code" ] && return 0
		awk -v e="$end" -v n="$(rv_now)" 'BEGIN { exit !(n > e) }' && return 1
		sleep 0.25
	done
}

# rv_log_has NEEDLE...: a line of $revgate_log holds every NEEDLE.
rv_log_has() {
	local lines n
	lines=$(cat "$revgate_log" 2>/dev/null)
	for n in "$@"; do
		lines=$(printf '%s\n' "$lines" | grep -F -- "$n")
		[ -n "$lines" ] || return 1
	done
	return 0
}

rv_wait_log() {
	local what=$1 i
	shift
	for ((i = 0; i < 50; i++)); do
		if rv_log_has "$@"; then
			pass "$what"
			return 0
		fi
		sleep 0.1
	done
	fail "$what" "no line of $revgate_log holds all of: $*; its last lines:
$(indent "$(tail -n 15 "$revgate_log")")"
	return 1
}

rv_readyz() {
	curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin_port/readyz" \
	    2>/dev/null
}

rv_wait_ready() {
	local limit=${1:-5} i code=
	for ((i = 0; i < limit * 10; i++)); do
		code=$(rv_readyz)
		[ "$code" == 200 ] && break
		sleep 0.1
	done
	assert_eq "/readyz answers 200 within $limit s" 200 "$code"
}
