#!/bin/sh
# cert_tool.sh - `revgate cert`: help and misuse; create-ca, create-intermediate, create-node,
# create-client with every key type, checked with the openssl CLI (extensions, chains, modes);
# refusal to overwrite; clear errors; revoke and gen-crl (signature, entries, CRL numbers);
# `openssl ocsp -index` on the CA's index answering good and revoked; show; and end to end:
# revgate serving the node certificate admits alice (200) and refuses revoked bob (403) with
# the CRL the tool made, fetched from the URL the tool wrote into the certificates; and with
# revgate's own commands only: a crl.files CRL that gen-crl rewrites in place cuts off a client
# revoked while revgate runs.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/revlib.sh"

rv_setup
rv_start_crlserver
cv=http.mtls.certificateVerification
t=$work/t
mkdir -p "$t" || hard_error "cannot create $t"
CA=(--ca-cert "$t/ca/ca.crt" --ca-key "$t/ca/ca.key")

# ok WHAT ARG...: revgate ARG... must succeed.
ok() {
	local what=$1
	shift
	run "$@"
	assert_exit 0
	[ "$rc" -eq 0 ] || fail "$what" "$(last_output)"
}

# refused CODE NEEDLE ARG...: revgate ARG... exits CODE with NEEDLE in stderr, nothing on stdout.
refused() {
	local code=$1 needle=$2
	shift 2
	run "$@"
	assert_exit "$code"
	assert_contains "$cmd: says why" "$err" "$needle"
	assert_stdout ""
}

# text FILE: the openssl description of FILE's (first) certificate.
text() {
	openssl x509 -in "$1" -noout -text 2>&1
}

mode() {
	stat -c %a "$1"
}

ncerts() {
	grep -c -- "-----BEGIN CERTIFICATE-----" "$1"
}

# --- help and misuse ------------------------------------------------------------------------
run help cert
assert_exit 0
assert_contains "$cmd: lists create-ca" "$out" "  create-ca "
assert_contains "$cmd: lists gen-crl" "$out" "  gen-crl "
run --help
assert_contains "$cmd: the overview lists cert" "$out" "  cert "
run cert --help
assert_exit 0
assert_contains "$cmd: usage" "$out" "Usage: revgate cert SUBCOMMAND [OPTIONS]"
run cert create-ca --help
assert_exit 0
assert_line "$cmd: usage" "$out" "Usage: revgate cert create-ca --out DIR [OPTIONS]"
assert_contains "$cmd: the default validity" "$out" "(default: 3650)"
run cert help create-node
assert_contains "$cmd: the default validity" "$out" "(default: 365)"
refused 2 'unknown subcommand "creat-ca" (did you mean create-ca?)' cert creat-ca --out x
refused 2 'unknown option "--ot" (did you mean --out?)' cert create-ca --ot x
refused 2 'option --crl-url does not apply to create-ca' cert create-ca --out x --crl-url http://a/b
refused 2 'missing --out DIR' cert create-ca
refused 2 'option --out needs a value' cert create-ca --out
refused 2 'missing --cn NAME' cert create-client "${CA[@]}" --out x
refused 2 'give exactly one of --cert FILE and --serial HEX' cert revoke "${CA[@]}"
refused 2 'missing the FILE to show' cert show
run cert
assert_exit 2

# --- a root CA ------------------------------------------------------------------------------
ok "create-ca" cert create-ca --out "$t/ca" --cn "Test Root" --org "revgate tests"
for f in ca.crt ca.key index.txt crlnumber; do
	[ -f "$t/ca/$f" ] && pass "create-ca wrote $f" || fail "create-ca wrote $f"
done
assert_eq "ca.key is 0600" 600 "$(mode "$t/ca/ca.key")"
assert_eq "ca.crt is 0644" 644 "$(mode "$t/ca/ca.crt")"
txt=$(text "$t/ca/ca.crt")
assert_contains "the CA is CA:TRUE, critical" "$txt" "X509v3 Basic Constraints: critical"
assert_contains "the CA is CA:TRUE" "$txt" "CA:TRUE"
assert_contains "the CA signs certificates and CRLs" "$txt" "Certificate Sign, CRL Sign"
assert_contains "the CA subject" "$txt" "Subject: O = revgate tests, CN = Test Root"
assert_contains "the CA has a subject key identifier" "$txt" "Subject Key Identifier"
assert_eq "the CA's index starts empty" "" "$(cat "$t/ca/index.txt")"

# --- node and clients -----------------------------------------------------------------------
ok "create-node" cert create-node "${CA[@]}" --out "$t/node"
txt=$(text "$t/node/node.crt")
assert_contains "node: default SANs" "$txt" \
    "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1"
assert_contains "node: serverAuth and clientAuth" "$txt" \
    "TLS Web Server Authentication, TLS Web Client Authentication"
assert_contains "node: authority key identifier" "$txt" "Authority Key Identifier"
assert_eq "node.key is 0600" 600 "$(mode "$t/node/node.key")"
assert_eq "node.crt is 0644" 644 "$(mode "$t/node/node.crt")"
assert_eq "node.crt from a root holds the leaf alone" 1 "$(ncerts "$t/node/node.crt")"
assert_eq "openssl verify: node" "$t/node/node.crt: OK" \
    "$(openssl verify -CAfile "$t/ca/ca.crt" -purpose sslserver "$t/node/node.crt" 2>&1)"

ok "create-node with names" cert create-node "${CA[@]}" --out "$t/node2" \
    --ip-addresses 10.1.2.3,fd00::7 --dns-names db.example.com,*.svc.example.com
txt=$(text "$t/node2/node.crt")
assert_contains "node2: the SANs given" "$txt" \
    "DNS:db.example.com, DNS:*.svc.example.com, IP Address:10.1.2.3, IP Address:FD00:0:0:0:0:0:0:7"

crl_url="$cs_url/pki.crl"
for who in alice bob carol; do
	ok "create-client $who" cert create-client "${CA[@]}" --out "$t/clients" --cn "$who" \
	    --crl-url "$crl_url" --ocsp-url "http://127.0.0.1:1/ocsp"
done
txt=$(text "$t/clients/client.alice.crt")
assert_contains "client: clientAuth" "$txt" "TLS Web Client Authentication"
assert_not_contains "client: not serverAuth" "$txt" "TLS Web Server Authentication"
assert_contains "client: CRL distribution point" "$txt" "URI:$crl_url"
assert_contains "client: AIA OCSP" "$txt" "OCSP - URI:http://127.0.0.1:1/ocsp"
assert_not_contains "client: no SAN unless asked" "$txt" "Subject Alternative Name"
assert_eq "openssl verify: alice" "$t/clients/client.alice.crt: OK" \
    "$(openssl verify -CAfile "$t/ca/ca.crt" -purpose sslclient "$t/clients/client.alice.crt" 2>&1)"
assert_eq "the root's index lists the 2 nodes and 3 clients, all valid" "V V V V V" \
    "$(cut -f1 "$t/ca/index.txt" | xargs)"
assert_line "alice's index line in openssl ca format" "$(cat "$t/ca/index.txt")" \
    "$(printf 'V\t%s\t\t%s\tunknown\t/CN=alice' \
    "$(openssl x509 -in "$t/clients/client.alice.crt" -noout -enddate | sed 's/notAfter=//' |
    xargs -I{} date -u -d {} +%y%m%d%H%M%SZ)" "$(pki_serial "$t/clients/client.alice.crt")")"

# --- every key type -------------------------------------------------------------------------
declare -A algo=([ecdsa-p256]="NIST CURVE: P-256" [ecdsa-p384]="NIST CURVE: P-384"
    [rsa-2048]="Public-Key: (2048 bit)" [rsa-4096]="Public-Key: (4096 bit)"
    [ed25519]="Public Key Algorithm: ED25519")
for kt in ecdsa-p256 ecdsa-p384 rsa-2048 rsa-4096 ed25519; do
	ok "create-client --key-type $kt" cert create-client "${CA[@]}" --out "$t/kt" --cn "$kt" \
	    --key-type "$kt"
	assert_contains "$kt: the key" "$(text "$t/kt/client.$kt.crt")" "${algo[$kt]}"
	assert_eq "$kt: openssl verify" "$t/kt/client.$kt.crt: OK" \
	    "$(openssl verify -CAfile "$t/ca/ca.crt" "$t/kt/client.$kt.crt" 2>&1)"
	openssl pkey -in "$t/kt/client.$kt.key" -noout 2>/dev/null &&
	    pass "$kt: the key file parses" || fail "$kt: the key file parses"
done
assert_contains "rsa: keyEncipherment" "$(text "$t/kt/client.rsa-2048.crt")" \
    "Digital Signature, Key Encipherment"
ok "an Ed25519 CA" cert create-ca --out "$t/edca" --key-type ed25519
ok "a client of the Ed25519 CA" cert create-client --ca-cert "$t/edca/ca.crt" \
    --ca-key "$t/edca/ca.key" --out "$t/edca" --cn e
assert_eq "openssl verify: Ed25519-signed" "$t/edca/client.e.crt: OK" \
    "$(openssl verify -CAfile "$t/edca/ca.crt" "$t/edca/client.e.crt" 2>&1)"

# --- an intermediate ------------------------------------------------------------------------
ok "create-intermediate" cert create-intermediate "${CA[@]}" --out "$t/int" \
    --crl-url "$cs_url/root.crl"
txt=$(text "$t/int/ca.crt")
assert_contains "intermediate: pathlen 0" "$txt" "CA:TRUE, pathlen:0"
assert_contains "intermediate: CDP" "$txt" "URI:$cs_url/root.crl"
assert_eq "ca-chain.crt: intermediate and root" 2 "$(ncerts "$t/int/ca-chain.crt")"
assert_contains "the root recorded the intermediate" "$(cat "$t/ca/index.txt")" \
    "$(pki_serial "$t/int/ca.crt")"
[ -f "$t/int/index.txt" ] && pass "the intermediate has an index of its own" ||
    fail "the intermediate has an index of its own"
ok "create-node under the intermediate" cert create-node --ca-cert "$t/int/ca.crt" \
    --ca-key "$t/int/ca.key" --out "$t/inode"
assert_eq "node.crt under an intermediate: leaf and intermediate" 2 \
    "$(ncerts "$t/inode/node.crt")"
assert_eq "openssl verify via the intermediate (-untrusted)" "$t/inode/node.crt: OK" \
    "$(openssl verify -CAfile "$t/ca/ca.crt" -untrusted "$t/int/ca.crt" "$t/inode/node.crt" 2>&1)"
assert_contains "without the intermediate it does not verify" \
    "$(openssl verify -CAfile "$t/ca/ca.crt" "$t/inode/node.crt" 2>&1)" "error"
assert_contains "the intermediate's index recorded the node" "$(cat "$t/int/index.txt")" \
    "$(pki_serial "$t/inode/node.crt")"
refused 1 "is the issuing CA's directory" cert create-intermediate "${CA[@]}" --out "$t/ca" \
    --overwrite

# --- refusing to overwrite ------------------------------------------------------------------
before=$(sha256sum "$t/node/node.crt" "$t/node/node.key")
lines=$(wc -l <"$t/ca/index.txt")
refused 1 "$t/node/node.crt already exists; pass --overwrite to replace it" \
    cert create-node "${CA[@]}" --out "$t/node"
assert_eq "the refused run changed nothing" "$before" \
    "$(sha256sum "$t/node/node.crt" "$t/node/node.key")"
assert_eq "the refused run recorded nothing" "$lines" "$(wc -l <"$t/ca/index.txt")"
refused 1 "$t/ca/ca.crt already exists" cert create-ca --out "$t/ca"
ok "--overwrite replaces" cert create-node "${CA[@]}" --out "$t/node" --overwrite
[ "$before" != "$(sha256sum "$t/node/node.crt" "$t/node/node.key")" ] &&
    pass "the node files were replaced" || fail "the node files were replaced"
assert_eq "the replacement key is still 0600" 600 "$(mode "$t/node/node.key")"

# --- user errors ----------------------------------------------------------------------------
refused 1 "--ca-cert: $t/nope.crt: cannot open: No such file or directory" \
    cert create-node --ca-cert "$t/nope.crt" --ca-key "$t/ca/ca.key" --out "$t/x"
refused 1 "--ca-key $t/int/ca.key is not the key of --ca-cert $t/ca/ca.crt" \
    cert create-node --ca-cert "$t/ca/ca.crt" --ca-key "$t/int/ca.key" --out "$t/x"
refused 1 "is not a CA certificate" \
    cert create-node --ca-cert "$t/node/node.crt" --ca-key "$t/node/node.key" --out "$t/x"
refused 1 "--ca-key: $t/ca/ca.crt: no private key in it" \
    cert create-node --ca-cert "$t/ca/ca.crt" --ca-key "$t/ca/ca.crt" --out "$t/x"
refused 2 '--key-type: unknown key type "rsa-1024"' \
    cert create-node "${CA[@]}" --out "$t/x" --key-type rsa-1024
refused 2 '--ip-addresses: "10.0.0.300" is not an IPv4 or IPv6 address' \
    cert create-node "${CA[@]}" --out "$t/x" --ip-addresses 10.0.0.300
refused 2 '--dns-names: "bad name" is not a DNS name' \
    cert create-node "${CA[@]}" --out "$t/x" --dns-names "bad name"
refused 2 '--days: expected a whole number from 1 to 36500, got "ten"' \
    cert create-node "${CA[@]}" --out "$t/x" --days ten
refused 2 '--crl-url: "not a url" is not a URL' \
    cert create-client "${CA[@]}" --out "$t/x" --cn x --crl-url "not a url"
refused 2 '--reason: unknown reason "keyCompromize" (did you mean keyCompromise?)' \
    cert revoke "${CA[@]}" --serial 01 --reason keyCompromize
[ ! -e "$t/x" ] && pass "no failed run left files behind" || fail "no failed run left files behind"

# --- revoke and gen-crl ---------------------------------------------------------------------
bob=$(pki_serial "$t/clients/client.bob.crt")
ok "revoke bob" cert revoke "${CA[@]}" --cert "$t/clients/client.bob.crt" --reason keyCompromise
assert_contains "$cmd: names the serial" "$out" "revoked serial $bob (keyCompromise)"
assert_match "bob's index line is R with time and reason" \
    "$(grep -P "\t$bob\t" "$t/ca/index.txt")" "^R	[0-9]{12}Z	[0-9]{12}Z,keyCompromise	$bob	unknown	/CN=bob$"
run cert revoke "${CA[@]}" --serial "$bob"
assert_exit 0
assert_contains "revoking twice says so" "$err" "is already revoked"
refused 1 "serial 0ABCDEF0 was not issued by this CA" cert revoke "${CA[@]}" --serial abcdef0
refused 1 "was not issued by --ca-cert" cert revoke "${CA[@]}" --cert "$t/inode/node.crt"
refused 1 "was not issued by this CA" cert revoke "${CA[@]}" \
    --serial "$(pki_serial "$t/inode/node.crt")"

ok "gen-crl" cert gen-crl "${CA[@]}" --out "$t/ca.crl"
assert_contains "openssl crl verifies the signature" \
    "$(openssl crl -in "$t/ca.crl" -CAfile "$t/ca/ca.crt" -noout 2>&1)" "verify OK"
crltext=$(openssl crl -in "$t/ca.crl" -noout -text)
assert_contains "the CRL lists bob" "$crltext" "Serial Number: $bob"
assert_contains "with his reason" "$crltext" "Key Compromise"
assert_not_contains "the CRL does not list alice" "$crltext" \
    "Serial Number: $(pki_serial "$t/clients/client.alice.crt")"
assert_contains "the CRL has an authority key identifier" "$crltext" "Authority Key Identifier"
n1=$(openssl crl -in "$t/ca.crl" -noout -crlnumber | sed 's/crlNumber=0x//')
ok "gen-crl --der" cert gen-crl "${CA[@]}" --out "$t/ca.crl.der" --der --days 2
n2=$(openssl crl -inform DER -in "$t/ca.crl.der" -noout -crlnumber | sed 's/crlNumber=0x//')
assert_eq "CRL numbers increase" "$((16#$n1 + 1))" "$((16#$n2))"
assert_contains "the DER CRL verifies" \
    "$(openssl crl -inform DER -in "$t/ca.crl.der" -CAfile "$t/ca/ca.crt" -noout 2>&1)" "verify OK"
assert_eq "the CRL is 0644" 644 "$(mode "$t/ca.crl.der")"

# --- openssl ocsp on the CA's index ---------------------------------------------------------
ocsplog=$work/ocsp.log
show_log "$ocsplog"
openssl ocsp -index "$t/ca/index.txt" -CA "$t/ca/ca.crt" -rsigner "$t/ca/ca.crt" \
    -rkey "$t/ca/ca.key" -port 0 -nrequest 10 -ignore_err >"$ocsplog" 2>&1 </dev/null &
track $!
px_wait_until 10 grep -q '^ACCEPT' "$ocsplog" || hard_error "openssl ocsp did not start"
oport=$(sed -n 's/^ACCEPT .*:\([0-9][0-9]*\) PID=.*/\1/p' "$ocsplog" | head -n 1)
oc=$(timeout 10 openssl ocsp -issuer "$t/ca/ca.crt" -cert "$t/clients/client.alice.crt" \
    -cert "$t/clients/client.bob.crt" -url "http://127.0.0.1:$oport" -CAfile "$t/ca/ca.crt" \
    -respout "$t/resp.der" 2>&1)
assert_contains "openssl ocsp: the response verifies" "$oc" "Response verify OK"
assert_contains "openssl ocsp: alice is good" "$oc" "client.alice.crt: good"
assert_contains "openssl ocsp: bob is revoked" "$oc" "client.bob.crt: revoked"

# --- show -----------------------------------------------------------------------------------
ok "show a chain" cert show "$t/inode/node.crt"
assert_contains "$cmd: both certificates" "$out" "Certificate 2 of 2"
assert_contains "$cmd: the SANs" "$out" "DNS:localhost, IP Address:127.0.0.1"
assert_contains "$cmd: the key" "$out" "ECDSA P-256"
ok "show a client" cert show "$t/clients/client.alice.crt"
assert_contains "$cmd: the CDP" "$out" "URI:$crl_url"
assert_contains "$cmd: the serial" "$out" "$(pki_serial "$t/clients/client.alice.crt")"
ok "show a DER CRL" cert show "$t/ca.crl.der"
assert_contains "$cmd: its entries" "$out" "Revoked certificates:    1"
assert_contains "$cmd: bob" "$out" "$bob"
ok "show an OCSP response" cert show "$t/resp.der"
assert_contains "$cmd: status" "$out" "Response status:         successful"
assert_contains "$cmd: bob revoked" "$out" "revoked at"
refused 1 "not a certificate, CRL or OCSP response" cert show "$t/ca/index.txt"

# --- end to end: revgate with the tool's node certificate and CRL ---------------------------
rv_serve /pki.crl "$t/ca.crl.der"
rv_config "$work/e2e.yaml" "tls.certificate=$t/node/node.crt" "tls.privateKey=$t/node/node.key" \
    "tls.certificateAuthority=$t/ca/ca.crt" "$cv.failureMode=fail-closed" \
    "$cv.ocsp.enabled=false"
px_start_revgate "$work/e2e.yaml"

# as NAME: GET /echo with NAME's client certificate, trusting the tool's CA; prints the status.
as() {
	curl -sS --max-time 20 --cacert "$t/ca/ca.crt" --cert "$t/clients/client.$1.crt" \
	    --key "$t/clients/client.$1.key" -o "$work/e2e-$1.out" -w '%{http_code}' \
	    "https://localhost:$revgate_port/echo" 2>"$work/e2e-$1.err"
}
assert_eq "alice is admitted (the server certificate matches localhost)" 200 "$(as alice)"
assert_eq "bob, revoked by the tool, is refused" 403 "$(as bob)"
assert_ge "revgate fetched the CRL from the URL the tool put in the certificates" \
    "$(rv_count /pki.crl)" 1
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"

# --- revgate's own commands only: a crl.files CRL that `revgate cert` rewrites ---------------
ok "gen-crl for crl.files" cert gen-crl "${CA[@]}" --out "$t/static.crl.pem"
rv_config "$work/static.yaml" "tls.certificate=$t/node/node.crt" \
    "tls.privateKey=$t/node/node.key" "tls.certificateAuthority=$t/ca/ca.crt" \
    "$cv.failureMode=fail-closed" "$cv.ocsp.enabled=false" \
    "$cv.crl.files=[\"$t/static.crl.pem\"]"
rv_reset_counts
px_start_revgate "$work/static.yaml"
assert_eq "crl.files: carol is admitted before her revocation" 200 "$(as carol)"
assert_eq "crl.files: bob is refused" 403 "$(as bob)"
ok "revoke carol" cert revoke "${CA[@]}" --cert "$t/clients/client.carol.crt"
ok "publish the new CRL in place" cert gen-crl "${CA[@]}" --out "$t/static.crl.pem"
got=""
for _ in $(seq 1 40); do
	got=$(as carol)
	[ "$got" = 403 ] && break
	sleep 0.25
done
assert_eq "crl.files: carol is refused within 10 s, without a restart" 403 "$got"
assert_eq "crl.files: alice is still admitted" 200 "$(as alice)"
assert_eq "crl.files: the distribution point was not needed" 0 "$(rv_count /pki.crl)"
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"
