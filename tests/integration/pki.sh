# pki.sh - a throw-away test PKI made with the openssl CLI. Source it (POSIX sh or bash).
#
#   pki_init DIR                  root CA (EC P-256) in DIR/root; trust anchor copied to DIR/ca.pem
#   pki_intermediate              intermediate CA "int" issued by the root: DIR/int.pem
#   pki_server [NAME] [ISSUER]    server certificate for 127.0.0.1, ::1 and localhost with the
#                                 serverAuth and clientAuth EKUs (NAME defaults to "server")
#   pki_client NAME [ISSUER]      client certificate "CN=NAME,O=revgate-test" (clientAuth EKU)
#   pki_client_expired NAME       a client certificate whose validity ended yesterday
#   pki_client_future NAME        a client certificate that only becomes valid tomorrow
#   pki_client_untrusted NAME     a client certificate from a CA that is not DIR/ca.pem
#   pki_client_impostor NAME      the same, from a CA that has the trusted root's exact name
#   pki_encrypt_key NAME PASS     DIR/NAME.enc.key: NAME's key as encrypted PKCS#8 (AES-256)
#   pki_p12 NAME PASS             DIR/NAME.p12: certificate, key and intermediates of NAME
#   pki_revoke NAME [REASON]      revokes NAME (a certificate or an intermediate CA) in its
#                                 issuer's index.txt
#   pki_forget NAME               removes NAME's line from its issuer's index.txt (an OCSP
#                                 responder on that index then answers "unknown" for it)
#   pki_crl [ISSUER]              DIR/ISSUER.crl.pem and DIR/ISSUER.crl.der from that index
#   pki_crl_dated ISSUER OUT LAST NEXT   DIR/OUT.pem and DIR/OUT.der: a CRL of that index whose
#                                 lastUpdate / nextUpdate are LAST / NEXT seconds from now
#                                 (negative: in the past)
#   pki_ocsp_signer [ISSUER]      DIR/ISSUER-ocsp.pem/.key: a delegated OCSP signing certificate
#   pki_fingerprint FILE          SHA-256 of the first certificate in FILE, lower-case hex
#   pki_serial FILE               its serial number, upper-case hex
#   pki_subject FILE / pki_issuer FILE    its subject / issuer as an RFC 4514 string
#
# ISSUER is a CA directory name under DIR: "root" (the default), "int" after pki_intermediate,
# or any CA made with pki_ca. Every issued certificate NAME gives DIR/NAME.key (mode 0600),
# DIR/NAME.leaf.pem (the certificate alone) and DIR/NAME.pem (the certificate followed by its
# intermediates, never the root: what a server or client sends). DIR/NAME.issuer names the CA.
#
# Certificates issued while CRL_URL or OCSP_URL is set carry a CRL Distribution Point or an
# OCSP AIA entry with that URL (they are read at issue time, so a test can set them per issuer).
#
# Each CA is an `openssl ca` directory (DIR/CA/{ca.cnf,ca.key,ca.pem,index.txt,serial,...}),
# so DIR/CA/index.txt works with `openssl ocsp -index DIR/CA/index.txt -CA DIR/CA/ca.pem`.
# openssl's chatter goes to DIR/openssl.log; functions return non-zero (with a message on
# stderr) when a step fails.

PKI_ORG=${PKI_ORG:-revgate-test}
PKI_DAYS=${PKI_DAYS:-90}	# past tls.expiryWarning (30d), so no test sees an "expires soon" warning

# pki_date OFFSET_SECONDS: a UTC time in the format `openssl ca -startdate/-enddate` takes.
pki_date() {
	date -u -d "@$(($(date +%s) + $1))" +%Y%m%d%H%M%SZ
}

# pki_run CMD...: runs an openssl step quietly; on failure shows its output.
pki_run() {
	echo "+ $*" >>"$PKI_DIR/openssl.log"
	if ! "$@" >>"$PKI_DIR/openssl.log" 2>&1 </dev/null; then
		echo "pki: failed: $*" >&2
		tail -n 20 "$PKI_DIR/openssl.log" >&2
		return 1
	fi
}

# pki_key FILE: a new EC P-256 private key, readable only by its owner.
pki_key() {
	(umask 077 && pki_run openssl genpkey -algorithm EC \
	    -pkeyopt ec_paramgen_curve:P-256 -out "$1") && chmod 600 "$1"
}

# pki_write_req_cnf: the minimal `openssl req` configuration (the system one is never read).
pki_write_req_cnf() {
	cat >"$PKI_DIR/req.cnf" <<EOF
[ req ]
distinguished_name = req_dn
prompt = no
utf8 = yes
string_mask = utf8only
[ req_dn ]
CN = placeholder
EOF
}

# pki_write_ca_cnf CA: the `openssl ca` configuration of the CA directory DIR/CA.
pki_write_ca_cnf() {
	cat >"$PKI_DIR/$1/ca.cnf" <<EOF
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = $PKI_DIR/$1
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
certificate = \$dir/ca.pem
private_key = \$dir/ca.key
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
default_days = $PKI_DAYS
default_crl_days = 7
policy = policy_any
unique_subject = no
preserve = yes
email_in_dn = no
copy_extensions = none
crl_extensions = crl_ext
[ policy_any ]
commonName = supplied
organizationName = optional
organizationalUnitName = optional
countryName = optional
[ crl_ext ]
authorityKeyIdentifier = keyid:always
EOF
}

# pki_write_ext FILE PROFILE: the extensions of a certificate of PROFILE (ca, server, client,
# ocsp), with CRL_URL / OCSP_URL when they are set.
pki_write_ext() {
	{
		echo "[ ext ]"
		echo "subjectKeyIdentifier = hash"
		echo "authorityKeyIdentifier = keyid:always"
		case $2 in
		rootca)
			echo "basicConstraints = critical,CA:TRUE"
			echo "keyUsage = critical,keyCertSign,cRLSign"
			;;
		ca)
			echo "basicConstraints = critical,CA:TRUE,pathlen:0"
			echo "keyUsage = critical,keyCertSign,cRLSign"
			;;
		server)
			echo "basicConstraints = critical,CA:FALSE"
			echo "keyUsage = critical,digitalSignature"
			echo "extendedKeyUsage = serverAuth,clientAuth"
			echo "subjectAltName = IP:127.0.0.1,IP:::1,DNS:localhost"
			;;
		client)
			echo "basicConstraints = critical,CA:FALSE"
			echo "keyUsage = critical,digitalSignature"
			echo "extendedKeyUsage = clientAuth"
			;;
		ocsp)
			echo "basicConstraints = critical,CA:FALSE"
			echo "keyUsage = critical,digitalSignature"
			echo "extendedKeyUsage = OCSPSigning"
			echo "noCheck = ignored"
			;;
		*)
			echo "pki: unknown profile $2" >&2
			return 1
			;;
		esac
		if [ "$2" != rootca ]; then
			[ -z "${CRL_URL:-}" ] || echo "crlDistributionPoints = URI:$CRL_URL"
			[ -z "${OCSP_URL:-}" ] || echo "authorityInfoAccess = OCSP;URI:$OCSP_URL"
		fi
	} >"$1"
}

# pki_new_ca_dir CA: an empty `openssl ca` directory with a random starting serial.
pki_new_ca_dir() {
	local d="$PKI_DIR/$1" r
	mkdir -p "$d/newcerts" || return 1
	: >"$d/index.txt"
	echo "unique_subject = no" >"$d/index.txt.attr"
	# A positive serial with no leading zero byte, so every tool prints it the same way.
	r=$(openssl rand -hex 16 | tr a-f A-F) || return 1
	echo "5$r" | cut -c1-32 >"$d/serial"
	echo 1000 >"$d/crlnumber"
	pki_write_ca_cnf "$1"
}

# pki_ca CA SUBJECT: a self-signed root CA in DIR/CA (valid from three days ago, ten years).
pki_ca() {
	local d="$PKI_DIR/$1"
	pki_new_ca_dir "$1" || return 1
	pki_key "$d/ca.key" || return 1
	pki_run openssl req -new -config "$PKI_DIR/req.cnf" -key "$d/ca.key" -subj "$2" \
	    -out "$d/ca.csr" || return 1
	pki_write_ext "$d/ca.ext" rootca || return 1
	pki_run openssl ca -batch -config "$d/ca.cnf" -selfsign -keyfile "$d/ca.key" \
	    -in "$d/ca.csr" -out "$d/ca.pem" -notext -preserveDN -extfile "$d/ca.ext" \
	    -extensions ext -startdate "$(pki_date -259200)" \
	    -enddate "$(pki_date 315360000)" || return 1
	echo "$1" >"$d/ca.issuer"
}

# pki_init DIR: starts a fresh PKI in DIR with its root CA.
pki_init() {
	PKI_DIR=$(mkdir -p "$1" && cd "$1" && pwd) || return 1
	: >"$PKI_DIR/openssl.log"
	pki_write_req_cnf
	pki_ca root "/O=$PKI_ORG/CN=$PKI_ORG Root CA" || return 1
	cp "$PKI_DIR/root/ca.pem" "$PKI_DIR/ca.pem"
}

# pki_issue ISSUER NAME SUBJECT PROFILE [STARTDATE ENDDATE]: the general issuing step.
pki_issue() {
	local issuer="$1" name="$2" subj="$3" profile="$4" ca="$PKI_DIR/$1" out="$PKI_DIR/$2"
	local start end
	if [ ! -f "$ca/ca.cnf" ]; then
		echo "pki: no CA named \"$issuer\" in $PKI_DIR" >&2
		return 1
	fi
	start=${5:-$(pki_date -3600)}
	end=${6:-$(pki_date $((PKI_DAYS * 86400)))}
	pki_key "$out.key" || return 1
	pki_run openssl req -new -config "$PKI_DIR/req.cnf" -key "$out.key" -subj "$subj" \
	    -out "$out.csr" || return 1
	pki_write_ext "$out.ext" "$profile" || return 1
	pki_run openssl ca -batch -config "$ca/ca.cnf" -in "$out.csr" -out "$out.leaf.pem" \
	    -notext -preserveDN -extfile "$out.ext" -extensions ext -startdate "$start" \
	    -enddate "$end" || return 1
	echo "$issuer" >"$out.issuer"
	# The sent chain: the leaf, then every CA up to (not including) the self-signed root.
	cat "$out.leaf.pem" >"$out.pem"
	while [ "$(cat "$ca/ca.issuer")" != "$(basename "$ca")" ]; do
		cat "$ca/ca.pem" >>"$out.pem"
		ca="$PKI_DIR/$(cat "$ca/ca.issuer")"
	done
	rm -f "$out.csr"
}

# pki_intermediate [NAME] [ISSUER]: an intermediate CA (default "int", issued by the root).
pki_intermediate() {
	local name="${1:-int}" issuer="${2:-root}" d
	d="$PKI_DIR/$name"
	pki_new_ca_dir "$name" || return 1
	pki_issue "$issuer" "$name" "/O=$PKI_ORG/CN=$PKI_ORG Intermediate CA $name" ca ||
	    return 1
	mv "$PKI_DIR/$name.key" "$d/ca.key"
	cp "$PKI_DIR/$name.leaf.pem" "$d/ca.pem"
	echo "$issuer" >"$d/ca.issuer"
	mv "$PKI_DIR/$name.leaf.pem" "$PKI_DIR/$name.pem"
	rm -f "$PKI_DIR/$name.ext"
}

pki_server() {
	pki_issue "${2:-root}" "${1:-server}" "/O=$PKI_ORG/CN=${1:-server}" server
}

pki_client() {
	pki_issue "${2:-root}" "$1" "/O=$PKI_ORG/CN=$1" client
}

pki_client_expired() {
	pki_issue "${2:-root}" "$1" "/O=$PKI_ORG/CN=$1" client "$(pki_date -172800)" \
	    "$(pki_date -86400)"
}

pki_client_future() {
	pki_issue "${2:-root}" "$1" "/O=$PKI_ORG/CN=$1" client "$(pki_date 86400)" \
	    "$(pki_date 172800)"
}

pki_client_untrusted() {
	[ -f "$PKI_DIR/untrusted/ca.pem" ] ||
	    pki_ca untrusted "/O=$PKI_ORG-other/CN=Untrusted CA" || return 1
	pki_issue untrusted "$1" "/O=$PKI_ORG/CN=$1" client
}

pki_client_impostor() {
	[ -f "$PKI_DIR/impostor/ca.pem" ] ||
	    pki_ca impostor "/O=$PKI_ORG/CN=$PKI_ORG Root CA" || return 1
	pki_issue impostor "$1" "/O=$PKI_ORG/CN=$1" client
}

pki_encrypt_key() {
	(umask 077 && pki_run openssl pkey -in "$PKI_DIR/$1.key" -aes256 \
	    -passout "pass:$2" -out "$PKI_DIR/$1.enc.key") && chmod 600 "$PKI_DIR/$1.enc.key"
}

pki_p12() {
	local chain="$PKI_DIR/$1.p12chain" name="$1" pass="$2"
	# NAME.pem minus its first certificate: the intermediates (possibly none).
	awk '/-----BEGIN CERTIFICATE-----/ { n++ } n > 1' "$PKI_DIR/$name.pem" >"$chain"
	set --
	[ ! -s "$chain" ] || set -- -certfile "$chain"
	(umask 077 && pki_run openssl pkcs12 -export -name "$name" \
	    -in "$PKI_DIR/$name.leaf.pem" -inkey "$PKI_DIR/$name.key" "$@" \
	    -passout "pass:$pass" -out "$PKI_DIR/$name.p12") &&
	    chmod 600 "$PKI_DIR/$name.p12"
	rm -f "$chain"
}

pki_revoke() {
	local issuer cert="$PKI_DIR/$1.leaf.pem"
	issuer=$(cat "$PKI_DIR/$1.issuer") || return 1
	# An intermediate CA keeps its certificate in its own directory.
	[ -f "$cert" ] || cert="$PKI_DIR/$1/ca.pem"
	pki_run openssl ca -batch -config "$PKI_DIR/$issuer/ca.cnf" \
	    -revoke "$cert" -crl_reason "${2:-keyCompromise}"
}

pki_forget() {
	local issuer serial cert="$PKI_DIR/$1.leaf.pem"
	issuer=$(cat "$PKI_DIR/$1.issuer") || return 1
	[ -f "$cert" ] || cert="$PKI_DIR/$1/ca.pem"
	serial=$(pki_serial "$cert") || return 1
	# index.txt: status, expiry, [revocation,] serial, file, subject - tab separated.
	awk -F '\t' -v s="$serial" '$4 != s' "$PKI_DIR/$issuer/index.txt" \
	    >"$PKI_DIR/$issuer/index.txt.new" &&
	    mv "$PKI_DIR/$issuer/index.txt.new" "$PKI_DIR/$issuer/index.txt"
}

pki_crl() {
	local ca="${1:-root}"
	pki_run openssl ca -batch -config "$PKI_DIR/$ca/ca.cnf" -gencrl \
	    -out "$PKI_DIR/$ca.crl.pem" || return 1
	pki_run openssl crl -in "$PKI_DIR/$ca.crl.pem" -outform DER -out "$PKI_DIR/$ca.crl.der"
}

pki_crl_dated() {
	local ca="$1" out="$PKI_DIR/$2"
	pki_run openssl ca -batch -config "$PKI_DIR/$ca/ca.cnf" -gencrl \
	    -crl_lastupdate "$(pki_date "$3")" -crl_nextupdate "$(pki_date "$4")" \
	    -out "$out.pem" || return 1
	pki_run openssl crl -in "$out.pem" -outform DER -out "$out.der"
}

pki_ocsp_signer() {
	local ca="${1:-root}"
	pki_issue "$ca" "$ca-ocsp" "/O=$PKI_ORG/CN=$PKI_ORG OCSP responder for $ca" ocsp
}

pki_fingerprint() {
	openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/^[^=]*=//; s/://g' |
	    tr A-F a-f
}

pki_serial() {
	openssl x509 -in "$1" -noout -serial | sed 's/^serial=//'
}

pki_subject() {
	openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//'
}

pki_issuer() {
	openssl x509 -in "$1" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//'
}
