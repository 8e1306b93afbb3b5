#!/bin/sh
# dev_certs.sh - development certificates out of the box: the first `revgate serve` with no
# tls.* settings and an empty rootPath generates a CA, a server and a client certificate under
# rootPath/keys, warns loudly and logs a curl command that works; later starts reuse them; an
# incomplete set, a reload, an explicit tls.* setting and check-config never generate.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/proxylib.sh"

for tool in "$px_python" curl openssl; do
	command -v "$tool" >/dev/null 2>&1 || px_skip "$tool is not installed"
done
px_start_backend b1
PKI_DIR="$work/no-pki"	# px_config names it in defaults that are all removed here

root="$work/devroot"
keys="$root/keys"
# No tls.* at all: the paths derive from rootPath, as an out-of-the-box install has them.
px_config "$work/dev.yaml" "rootPath=$root" "tls.certificate=" "tls.privateKey=" \
    "tls.certificateAuthority="

# --- check-config is read-only: it says what serve would do and creates nothing
run check-config -c "$work/dev.yaml"
assert_exit 0
assert_contains "check-config announces the development certificates" "$err" \
    "notice: tls.certificate $keys/certificate.pem and tls.privateKey $keys/privateKey.pem do not exist: revgate serve will generate development certificates (not for production) in $keys at start"
if [ -e "$root" ]; then
	fail "check-config creates nothing" "$(ls -laR "$root")"
else
	pass "check-config creates nothing"
fi

# --- first start: the set is generated, with its modes, a warning and a curl command
px_start_revgate "$work/dev.yaml"
log=$(cat "$revgate_log")
assert_contains "the log warns that these are development certificates" "$log" \
    "warn: WARNING: generated DEVELOPMENT certificates in $keys: a CA of its own"
assert_contains "the log says how to use one's own certificates" "$log" \
    "set tls.certificate, tls.privateKey and tls.certificateAuthority, or make a CA and certificates with \`revgate cert\`"
curl_line="--cacert $keys/ca.pem --cert $keys/client.pem --key $keys/client.key https://127.0.0.1:$revgate_port/"
assert_contains "the log gives the curl command with the bound port" "$log" \
    "warn: development certificates: try curl $curl_line"

modes=$(cd "$root" && stat -c '%a %n' . keys keys/ca.pem keys/ca.key keys/certificate.pem \
    keys/privateKey.pem keys/client.pem keys/client.key)
assert_eq "modes: rootPath 0755, keys 0700, keys 0600, certificates 0644" "755 .
700 keys
644 keys/ca.pem
600 keys/ca.key
644 keys/certificate.pem
600 keys/privateKey.pem
644 keys/client.pem
600 keys/client.key" "$modes"
[ -f "$keys/index.txt" ] && [ -f "$keys/crlnumber" ] && pass "the CA has its database" ||
    fail "the CA has its database" "$(ls -la "$keys")"

got=$(cd "$keys" && openssl verify -CAfile ca.pem certificate.pem client.pem 2>&1)
assert_eq "both certificates verify against ca.pem" "certificate.pem: OK
client.pem: OK" "$got"
got=$(openssl x509 -in "$keys/certificate.pem" -noout -ext subjectAltName,extendedKeyUsage 2>&1)
assert_contains "the server certificate names localhost" "$got" "DNS:localhost"
assert_contains "the server certificate names 127.0.0.1" "$got" "IP Address:127.0.0.1"
assert_contains "the server certificate names ::1" "$got" "IP Address:0:0:0:0:0:0:0:1"
assert_contains "the server certificate is for serverAuth" "$got" "TLS Web Server Authentication"
host=$(hostname 2>/dev/null)
if [[ $host =~ ^[A-Za-z0-9.-]+$ ]] && [ "$host" != localhost ]; then
	assert_contains "the server certificate names the host ($host)" "$got" "DNS:$host"
fi
got=$(openssl x509 -in "$keys/certificate.pem" -noout -issuer 2>&1)
assert_contains "the issuer is the development CA" "$got" "CN = revgate development CA"
n=$(grep -c "BEGIN CERTIFICATE" "$keys/certificate.pem")
assert_eq "certificate.pem holds the leaf alone" 1 "$n"

# The printed command, word for word (the paths hold no spaces), against a backend path.
read -ra words <<<"$curl_line"
code=$(curl -sS --max-time "$px_curl_max_time" -o "$work/echo.json" -w '%{http_code}' \
    "${words[@]:0:6}" "${words[6]}echo" 2>&1)
assert_eq "the logged curl command gets 200 from the backend" 200 "$code"
code=$(curl -sS --max-time "$px_curl_max_time" -o /dev/null -w '%{http_code}' \
    --cacert "$keys/ca.pem" "https://127.0.0.1:$revgate_port/echo" 2>&1)
if [[ $code == *200* ]]; then
	fail "a request without a client certificate is refused" "$code"
else
	pass "a request without a client certificate is refused"
fi

# --- SIGHUP with the set gone: the reload is refused, nothing generated, still serving
mv "$keys" "$root/keys.away"
kill -HUP "$revgate_pid"
wait_for_log "$revgate_log" "development certificates are generated only when revgate starts, never on reload" "$revgate_pid"
wait_for_log "$revgate_log" "configuration reload failed" "$revgate_pid"
[ -e "$keys" ] && fail "a reload generates nothing" "$(ls -la "$keys")" ||
    pass "a reload generates nothing"
mv "$root/keys.away" "$keys"
alive "$revgate_pid" && pass "revgate keeps running after the refused reload" ||
    fail "revgate keeps running after the refused reload"
px_stop_revgate
assert_eq "revgate stops with status 0" 0 "$rc"

# --- second start: nothing regenerated, a short note instead of the warning
fingerprint() {
	(cd "$keys" && for f in *; do printf '%s %s\n' "$(stat -c %Y "$f")" "$(sha256sum "$f")"; done)
}
before=$(fingerprint)
sleep 1		# an mtime would change visibly
px_start_revgate "$work/dev.yaml"
log=$(cat "$revgate_log")
assert_not_contains "the second start does not warn about generating" "$log" "WARNING: generated"
assert_contains "the second start notes the development certificates" "$log" \
    "info: tls.certificate was issued by the revgate development CA ($keys): not for production; try curl --cacert $keys/ca.pem"
assert_eq "the second start regenerates nothing (mtime and SHA-256 unchanged)" "$before" \
    "$(fingerprint)"
px_stop_revgate

# --- the set works with revgate cert: its CA database knows the client certificate
run cert revoke --ca-cert "$keys/ca.pem" --ca-key "$keys/ca.key" --cert "$keys/client.pem"
assert_exit 0

# --- an incomplete set: refused, named, nothing written
rm "$keys/privateKey.pem"
partial="tls.privateKey $keys/privateKey.pem does not exist, but tls.certificate $keys/certificate.pem does; revgate generates development certificates only when neither exists"
run serve -c "$work/dev.yaml"
assert_exit 1
assert_contains "serve names the missing key" "$err" "$partial"
[ -e "$keys/privateKey.pem" ] && fail "serve writes no key into an incomplete set" ||
    pass "serve writes no key into an incomplete set"
run check-config -c "$work/dev.yaml"
assert_exit 1
assert_contains "check-config names the missing key" "$err" "$partial"

# --- a CA without certificate and key (e.g. an interrupted generation): refused too
rm "$keys/certificate.pem"
run serve -c "$work/dev.yaml"
assert_exit 1
assert_contains "serve refuses a CA without certificate and key" "$err" \
    "but $keys/ca.pem does, so revgate does not generate development certificates there"
[ -e "$keys/certificate.pem" ] && fail "serve generates nothing next to an existing CA" ||
    pass "serve generates nothing next to an existing CA"

# --- tls.certificate set explicitly (file, environment, --set): the normal error, no generation
px_config "$work/explicit.yaml" "rootPath=$work/root2" "tls.certificate=$work/nope.pem" \
    "tls.privateKey=" "tls.certificateAuthority="
missing="tls.certificate \"$work/nope.pem\": cannot read: No such file or directory"
run serve -c "$work/explicit.yaml"
assert_exit 1
assert_contains "an explicit tls.certificate that does not exist is the normal error" "$err" "$missing"
px_config "$work/bare.yaml" "rootPath=$work/root2" "tls.certificate=" "tls.privateKey=" \
    "tls.certificateAuthority="
run "REVGATE_TLS_CERTIFICATE=$work/nope.pem" serve -c "$work/bare.yaml"
assert_exit 1
assert_contains "tls.certificate from the environment: the normal error" "$err" "$missing"
run serve -c "$work/bare.yaml" --set "tls.privateKey=$work/nope.key"
assert_exit 1
assert_contains "tls.privateKey from --set: the normal error" "$err" "$work/nope.key"
[ -e "$work/root2" ] && fail "an explicit tls.* setting generates nothing" \
    "$(ls -laR "$work/root2")" || pass "an explicit tls.* setting generates nothing"
