# tls_startup.sh - the certificate checks as an operator meets them: revgate refuses to start
# (serve and check-config alike) on a broken TLS setup with a message naming the file and the
# remedy, logs warnings for a setup that works but will hurt, keeps the running configuration
# when a reload brings a broken one, exports the certificate's expiry on /metrics, and
# `revgate cert check` prints one line per check.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/proxylib.sh"
px_setup

# refused NAME MESSAGE KEY=VALUE...: check-config and serve both exit 1 and print MESSAGE.
refused() {
	local name=$1 message=$2
	shift 2
	px_config "$work/$name.yaml" "$@"
	run check-config -c "$work/$name.yaml"
	assert_exit 1
	assert_line "$name: check-config names the file and the remedy" "$err" "$message"
	assert_contains "$name: check-config counts it" "$err" \
	    "revgate: configuration $work/$name.yaml has 1 TLS error(s)"
	run serve -c "$work/$name.yaml"
	assert_exit 1
	assert_contains "$name: serve names the file and the remedy" "$err" "$message"
	assert_contains "$name: serve says it refuses to start" "$err" \
	    "refusing to start: the TLS files did not pass their checks"
}

# --- refusals ----------------------------------------------------------------------------

cp "$PKI_DIR/server.key" "$work/open.key" && chmod 644 "$work/open.key" ||
    hard_error "cannot copy the key"
refused open-key "tls.privateKey \"$work/open.key\" holds a private key and is accessible \
by group or others (mode 0644); run \`chmod 600 $work/open.key\`, or set \
tls.skipKeyPermissionCheck: true (or REVGATE_SKIP_KEY_PERMISSION_CHECK=true) to allow it" \
    "tls.privateKey=$work/open.key"

run REVGATE_SKIP_KEY_PERMISSION_CHECK=true check-config -c "$work/open-key.yaml"
assert_exit 0
assert_stderr "revgate: configuration $work/open-key.yaml is valid"
run check-config -c "$work/open-key.yaml" --set tls.skipKeyPermissionCheck=true
assert_exit 0

refused wrong-key "tls.privateKey \"$PKI_DIR/alice.key\" does not match the certificate in \
tls.certificate \"$PKI_DIR/server.pem\"; use the key the certificate was issued for" \
    "tls.privateKey=$PKI_DIR/alice.key"

: >"$work/empty-ca.pem"
refused empty-ca "tls.certificateAuthority \"$work/empty-ca.pem\" holds no PEM certificate; \
give a PEM bundle of the CA certificates" "tls.certificateAuthority=$work/empty-ca.pem"

pki_issue root old "/O=$PKI_ORG/CN=old" server "$(pki_date -172800)" "$(pki_date -86400)" ||
    hard_error "cannot issue an expired certificate"
px_config "$work/expired.yaml" "tls.certificate=$PKI_DIR/old.pem" \
    "tls.privateKey=$PKI_DIR/old.key"
run check-config -c "$work/expired.yaml"
assert_exit 1
assert_contains "an expired certificate is refused with its date" "$err" \
    "tls.certificate \"$PKI_DIR/old.pem\" expired on "
assert_contains "and the remedy" "$err" "; renew it"

# A PKCS#12 bundle holds the key: without its password, only the bundle is named (the
# default tls.privateKey path plays no part and must not be reported).
pki_p12 server s3cret || hard_error "cannot make the PKCS#12 bundle"
px_config "$work/p12-nopass.yaml" "tls.certificate=$PKI_DIR/server.p12"
run check-config -c "$work/p12-nopass.yaml"
assert_exit 1
assert_contains "a PKCS#12 bundle without its password is named" "$err" \
    "tls.certificate \"$PKI_DIR/server.p12\" is a password-protected PKCS#12 bundle; give its password with tls.certificatePassword"
assert_not_contains "and tls.privateKey is not reported for it" "$err" "tls.privateKey"

pki_encrypt_key server s3cret || hard_error "cannot encrypt the key"
refused wrong-password "tls.privateKeyPassword: wrong password for tls.privateKey \
\"$PKI_DIR/server.enc.key\"; give the password the key was encrypted with" \
    "tls.privateKey=$PKI_DIR/server.enc.key" "tls.privateKeyPassword=nope"

# --- warnings: it starts, and says what will hurt -----------------------------------------

# A certificate without serverAuth, no SAN for the configured name, ten days left.
pki_issue root soon "/O=$PKI_ORG/CN=soon" client "$(pki_date -3600)" "$(pki_date 864000)" ||
    hard_error "cannot issue the short-lived certificate"
px_config "$work/warn.yaml" "tls.certificate=$PKI_DIR/soon.pem" \
    "tls.privateKey=$PKI_DIR/soon.key" "tls.hostNames=www.example.com"
run check-config -c "$work/warn.yaml"
assert_exit 0
assert_contains "check-config marks the expiry warning" "$err" \
    "warning: tls.certificate \"$PKI_DIR/soon.pem\" expires on "
px_start_revgate "$work/warn.yaml"
log=$(cat "$revgate_log")
assert_contains "expiring soon is logged" "$log" \
    "warn: tls.certificate \"$PKI_DIR/soon.pem\" expires on "
# Ten days less the seconds since issue: 9 or, within the same second, 10.
if [[ $log =~ "expires on "[^,]*", in "(9|10)" day(s); renew it before then" ]]; then
	pass "the warning gives the days left"
else
	fail "the warning gives the days left" "$log"
fi
assert_contains "no serverAuth is logged" "$log" \
    "tls.certificate \"$PKI_DIR/soon.pem\" lacks serverAuth in its extendedKeyUsage (clientAuth)"
assert_contains "a host name outside the SANs is logged" "$log" \
    "tls.certificate \"$PKI_DIR/soon.pem\" does not cover www.example.com (subjectAltName: none)"
metrics=$(curl -sS --max-time 5 "http://127.0.0.1:$admin_port/metrics")
assert_line "/metrics types the expiry gauge" "$metrics" \
    "# TYPE revgate_tls_certificate_expiry_seconds gauge"
left=$(echo "$metrics" | sed -n 's/^revgate_tls_certificate_expiry_seconds //p')
if [[ $left =~ ^[0-9]+$ ]] && [ "$left" -gt 863000 ] && [ "$left" -le 864000 ]; then
	pass "/metrics: the certificate expires in about ten days ($left s)"
else
	fail "/metrics: the certificate expires in about ten days" "got \"$left\""
fi

# --- reload: a broken configuration is refused, the running one kept ------------------------

px_config "$work/warn.yaml" "tls.privateKey=$work/open.key"
kill -HUP "$revgate_pid"
wait_for_log "$revgate_log" "configuration reload failed: the TLS files did not pass their checks; keeping the running configuration" "$revgate_pid"
alive "$revgate_pid" && pass "revgate still runs after the refused reload" ||
    fail "revgate still runs after the refused reload"
left2=$(curl -sS --max-time 5 "http://127.0.0.1:$admin_port/metrics" |
    sed -n 's/^revgate_tls_certificate_expiry_seconds //p')
[ -n "$left2" ] && [ "$left2" -le "$left" ] && [ "$left2" -gt 863000 ] &&
    pass "/metrics keeps the running certificate's expiry" ||
    fail "/metrics keeps the running certificate's expiry" "before $left, after \"$left2\""

# A good one is taken, and the gauge follows the new certificate (90 days).
px_config "$work/warn.yaml"
kill -HUP "$revgate_pid"
wait_for_log "$revgate_log" "configuration reloaded (generation 2)" "$revgate_pid"
left3=$(curl -sS --max-time 5 "http://127.0.0.1:$admin_port/metrics" |
    sed -n 's/^revgate_tls_certificate_expiry_seconds //p')
[ -n "$left3" ] && [ "$left3" -gt 7000000 ] &&
    pass "/metrics follows the reloaded certificate ($left3 s)" ||
    fail "/metrics follows the reloaded certificate" "got \"$left3\""
px_stop_revgate

# --- revgate cert check -------------------------------------------------------------------

run cert check --cert "$PKI_DIR/server.pem" --key "$PKI_DIR/server.key" \
    --ca "$PKI_DIR/ca.pem" --host localhost --host 127.0.0.1
assert_exit 0
assert_line "cert check: summary names the subject" "$out" "  subject:  CN=server,O=$PKI_ORG"
assert_line "cert check: summary lists the SANs" "$out" \
    "  names:    IP:127.0.0.1, IP:::1, DNS:localhost"
assert_line "cert check: summary lists the EKU" "$out" "  usage:    serverAuth, clientAuth"
assert_line "cert check: key match passes" "$out" \
    "PASS  key-match: --key \"$PKI_DIR/server.key\" matches the certificate in --cert \"$PKI_DIR/server.pem\""
assert_line "cert check: chain passes" "$out" \
    "PASS  chain: --cert \"$PKI_DIR/server.pem\" verifies against --ca \"$PKI_DIR/ca.pem\" (2 certificates up to \"CN=$PKI_ORG Root CA,O=$PKI_ORG\")"
assert_line "cert check: closing count" "$out" "9 check(s): 0 failed, 0 warning(s)"

pki_intermediate && pki_server s2 int || hard_error "cannot issue behind an intermediate"
awk '/BEGIN CERTIFICATE/ { n++ } n == 1' "$PKI_DIR/s2.pem" >"$work/s2-alone.pem"
run cert check --cert "$work/s2-alone.pem" --key "$PKI_DIR/s2.key" --ca "$PKI_DIR/ca.pem"
assert_exit 1
assert_line "cert check: a missing intermediate fails and says what to do" "$out" \
    "FAIL  chain: --cert \"$work/s2-alone.pem\" does not chain to a CA in --ca \"$PKI_DIR/ca.pem\": no certificate for \"CN=$PKI_ORG Intermediate CA int,O=$PKI_ORG\", the issuer of \"CN=s2,O=$PKI_ORG\"; if that is an intermediate CA, append it to \"$work/s2-alone.pem\" after the certificate; if it is the root, add it to --ca"
run cert check --cert "$PKI_DIR/s2.pem" --key "$PKI_DIR/s2.key" --ca "$PKI_DIR/ca.pem"
assert_exit 0

run cert check --cert "$PKI_DIR/alice.pem" --key "$PKI_DIR/alice.key" --ca "$PKI_DIR/ca.pem" \
    --client
assert_exit 0
assert_contains "cert check --client: clientAuth passes" "$out" \
    "PASS  extended-key-usage: --cert \"$PKI_DIR/alice.pem\" allows clientAuth"
run cert check --cert "$PKI_DIR/server.pem" --key "$work/open.key" --ca "$PKI_DIR/ca.pem"
assert_exit 1
assert_contains "cert check: an open key fails" "$out" "FAIL  key-permissions: --key "
run REVGATE_SKIP_KEY_PERMISSION_CHECK=true cert check --cert "$PKI_DIR/server.pem" \
    --key "$work/open.key" --ca "$PKI_DIR/ca.pem"
assert_exit 0

# A certificate given as the key: one failure (no private key), not a permissions complaint.
run cert check --cert "$PKI_DIR/server.pem" --key "$PKI_DIR/server.leaf.pem" \
    --ca "$PKI_DIR/ca.pem"
assert_exit 1
assert_contains "cert check: a certificate given as --key fails private-key" "$out" \
    "FAIL  private-key:"
assert_not_contains "cert check: and says nothing of its permissions" "$out" \
    "key-permissions"

run cert check
assert_exit 2
assert_stderr "revgate cert check: --cert is required; see revgate cert check --help"
run cert chek
assert_exit 2
assert_stderr 'revgate cert: unknown subcommand "chek" (did you mean check?); see revgate cert --help'
