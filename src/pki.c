#include "config.h"
#include "pki.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define PKI_MAX_FILE	(16 * 1024 * 1024)
#define PKI_SKEW	300	/* notBefore this many seconds early: clocks disagree */
#define PKI_SAN_MAX	4096	/* bytes of a subjectAltName value */

int
pki_fail(struct pki_err *err, const char *fmt, ...)
{
	char reason[256];
	unsigned long e;
	size_t used;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	/* The first error is the cause; later ones are the layers that passed it up. */
	if ((e = ERR_peek_error()) != 0) {
		ERR_error_string_n(e, reason, sizeof(reason));
		used = strlen(err->msg);
		snprintf(err->msg + used, sizeof(err->msg) - used, " (%s)", reason);
	}
	ERR_clear_error();
	return -1;
}

const char *
pki_key_type_name(enum pki_key_type type)
{
	switch (type) {
	case PKI_KEY_ECDSA_P256:
		return "ecdsa-p256";
	case PKI_KEY_ECDSA_P384:
		return "ecdsa-p384";
	case PKI_KEY_RSA_2048:
		return "rsa-2048";
	case PKI_KEY_RSA_4096:
		return "rsa-4096";
	case PKI_KEY_ED25519:
		return "ed25519";
	}
	return "?";
}

int
pki_key_type_parse(const char *name, enum pki_key_type *out)
{
	for (int t = 0; t < PKI_KEY_NTYPES; t++) {
		if (strcmp(name, pki_key_type_name((enum pki_key_type)t)) == 0) {
			*out = (enum pki_key_type)t;
			return 0;
		}
	}
	return -1;
}

EVP_PKEY *
pki_key_new(enum pki_key_type type, struct pki_err *err)
{
	EVP_PKEY *key = NULL;

	switch (type) {
	case PKI_KEY_ECDSA_P256:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case PKI_KEY_ECDSA_P384:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
		break;
	case PKI_KEY_RSA_2048:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	case PKI_KEY_RSA_4096:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
		break;
	case PKI_KEY_ED25519:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	}
	if (key == NULL)
		pki_fail(err, "cannot generate a %s key", pki_key_type_name(type));
	return key;
}

const char *
pki_key_describe(const EVP_PKEY *key, char *buf, size_t size)
{
	const char *nist = NULL;
	char group[64];

	if (EVP_PKEY_is_a(key, "EC")) {
		if (EVP_PKEY_get_group_name(key, group, sizeof(group), NULL) != 1)
			snprintf(group, sizeof(group), "unknown curve");
		else
			nist = EC_curve_nid2nist(OBJ_sn2nid(group));	/* "P-256", not prime256v1 */
		snprintf(buf, size, "ECDSA %s", nist != NULL ? nist : group);
	} else if (EVP_PKEY_is_a(key, "RSA")) {
		snprintf(buf, size, "RSA %d", EVP_PKEY_get_bits(key));
	} else if (EVP_PKEY_is_a(key, "ED25519")) {
		snprintf(buf, size, "Ed25519");
	} else {
		snprintf(buf, size, "%s", EVP_PKEY_get0_type_name(key));
	}
	return buf;
}

int
pki_check_dns(const char *name)
{
	const char *p = name;

	if (strncmp(p, "*.", 2) == 0)
		p += 2;
	if (*p == '\0' || *p == '.' || *p == '-' || strlen(name) > 253)
		return -1;
	for (; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			return -1;
		if (*p == '.' && (p[1] == '.' || p[1] == '\0'))
			return -1;
	}
	return 0;
}

int
pki_check_ip(const char *text)
{
	unsigned char buf[16];

	if (inet_pton(AF_INET, text, buf) == 1 || inet_pton(AF_INET6, text, buf) == 1)
		return 0;
	return -1;
}

int
pki_check_uri(const char *value)
{
	/* Commas separate values in the extension syntax this module builds. */
	if (*value == '\0' || strchr(value, ':') == NULL)
		return -1;
	for (const char *p = value; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == ',' || *p == 0x7f)
			return -1;
	return 0;
}

char *
pki_integer_hex(const ASN1_INTEGER *serial)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	char *hex;

	if (bn == NULL)
		return NULL;
	hex = BN_bn2hex(bn);
	BN_free(bn);
	return hex;
}

char *
pki_serial_hex(const X509 *cert)
{
	return pki_integer_hex(X509_get0_serialNumber(cert));
}

bool
pki_self_signed(X509 *cert)
{
	return X509_self_signed(cert, 1) == 1;
}

/* A random positive serial of 16 bytes whose top byte is never zero (all tools agree). */
static int
pki_set_serial(X509 *cert)
{
	unsigned char raw[16];
	BIGNUM *bn = NULL;
	int rc = -1;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		goto out;
	raw[0] = (unsigned char)((raw[0] & 0x7f) | 0x40);
	if ((bn = BN_bin2bn(raw, sizeof(raw), NULL)) == NULL)
		goto out;
	if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL)
		goto out;
	rc = 0;
out:
	BN_free(bn);
	return rc;
}

static int
pki_set_name(X509 *cert, const struct pki_cert_spec *spec)
{
	X509_NAME *name = X509_get_subject_name(cert);

	if (spec->org != NULL && X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
	    (const unsigned char *)spec->org, -1, -1, 0) != 1)
		return -1;
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)spec->cn, -1, -1, 0) != 1)
		return -1;
	if (spec->issuer == NULL)
		return X509_set_issuer_name(cert, name) == 1 ? 0 : -1;
	return X509_set_issuer_name(cert, X509_get_subject_name(spec->issuer)) == 1 ? 0 : -1;
}

static int
pki_add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	int rc;

	if (ext == NULL)
		return -1;
	rc = X509_add_ext(cert, ext, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ext);
	return rc;
}

/* "DNS:a,DNS:b,IP:c" from the validated lists (so no value can smuggle a comma in). */
static int
pki_san_value(const struct pki_cert_spec *spec, char *buf, size_t size)
{
	size_t used = 0;
	int n;

	buf[0] = '\0';
	for (size_t i = 0; i < spec->ndns + spec->nips; i++) {
		n = snprintf(buf + used, size - used, "%s%s:%s", used > 0 ? "," : "",
		    i < spec->ndns ? "DNS" : "IP",
		    i < spec->ndns ? spec->dns[i] : spec->ips[i - spec->ndns]);
		if (n < 0 || (size_t)n >= size - used)
			return -1;
		used += (size_t)n;
	}
	return 0;
}

/* The extensions that say what the certificate is for. */
static int
pki_add_role_exts(X509 *cert, X509V3_CTX *ctx, const struct pki_cert_spec *spec)
{
	/* keyEncipherment only means something for RSA key transport. */
	const char *leaf_ku = EVP_PKEY_is_a(spec->key, "RSA") ?
	    "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature";

	switch (spec->profile) {
	case PKI_PROFILE_ROOT_CA:
		return pki_add_ext(cert, ctx, NID_basic_constraints, "critical,CA:TRUE") != 0 ||
		    pki_add_ext(cert, ctx, NID_key_usage, "critical,keyCertSign,cRLSign") != 0 ?
		    -1 : 0;
	case PKI_PROFILE_INTERMEDIATE_CA:
		return pki_add_ext(cert, ctx, NID_basic_constraints,
		    "critical,CA:TRUE,pathlen:0") != 0 ||
		    pki_add_ext(cert, ctx, NID_key_usage, "critical,keyCertSign,cRLSign") != 0 ?
		    -1 : 0;
	case PKI_PROFILE_NODE:
		return pki_add_ext(cert, ctx, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
		    pki_add_ext(cert, ctx, NID_key_usage, leaf_ku) != 0 ||
		    pki_add_ext(cert, ctx, NID_ext_key_usage, "serverAuth,clientAuth") != 0 ?
		    -1 : 0;
	case PKI_PROFILE_CLIENT:
		return pki_add_ext(cert, ctx, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
		    pki_add_ext(cert, ctx, NID_key_usage, leaf_ku) != 0 ||
		    pki_add_ext(cert, ctx, NID_ext_key_usage, "clientAuth") != 0 ? -1 : 0;
	}
	return -1;
}

/* SKI, AKI, SANs, CDP and AIA. */
static int
pki_add_exts(X509 *cert, const struct pki_cert_spec *spec, struct pki_err *err)
{
	X509V3_CTX ctx;
	char san[PKI_SAN_MAX], uri[PKI_SAN_MAX];

	X509V3_set_ctx(&ctx, spec->issuer != NULL ? spec->issuer : cert, cert, NULL, NULL, 0);
	if (pki_add_role_exts(cert, &ctx, spec) != 0 ||
	    pki_add_ext(cert, &ctx, NID_subject_key_identifier, "hash") != 0 ||
	    pki_add_ext(cert, &ctx, NID_authority_key_identifier, "keyid:always") != 0)
		return pki_fail(err, "cannot add the certificate extensions");
	if (pki_san_value(spec, san, sizeof(san)) != 0)
		return pki_fail(err, "too many subject alternative names (%zu bytes at most)",
		    sizeof(san));
	if (san[0] != '\0' && pki_add_ext(cert, &ctx, NID_subject_alt_name, san) != 0)
		return pki_fail(err, "cannot add the subject alternative names \"%s\"", san);
	if (spec->crl_url != NULL) {
		snprintf(uri, sizeof(uri), "URI:%s", spec->crl_url);
		if (pki_add_ext(cert, &ctx, NID_crl_distribution_points, uri) != 0)
			return pki_fail(err, "cannot add the CRL URL \"%s\"", spec->crl_url);
	}
	if (spec->ocsp_url != NULL) {
		snprintf(uri, sizeof(uri), "OCSP;URI:%s", spec->ocsp_url);
		if (pki_add_ext(cert, &ctx, NID_info_access, uri) != 0)
			return pki_fail(err, "cannot add the OCSP URL \"%s\"", spec->ocsp_url);
	}
	return 0;
}

const EVP_MD *
pki_sign_md(EVP_PKEY *key)
{
	return EVP_PKEY_is_a(key, "ED25519") ? NULL : EVP_sha256();
}

X509 *
pki_cert_new(const struct pki_cert_spec *spec, struct pki_err *err)
{
	EVP_PKEY *signer = spec->issuer_key != NULL ? spec->issuer_key : spec->key;
	time_t now = spec->now;
	X509 *cert = NULL;

	if ((cert = X509_new()) == NULL || X509_set_version(cert, X509_VERSION_3) != 1 ||
	    pki_set_serial(cert) != 0) {
		pki_fail(err, "cannot create a certificate");
		goto fail;
	}
	if (pki_set_name(cert, spec) != 0) {
		pki_fail(err, "cannot set the name CN=%s", spec->cn);
		goto fail;
	}
	if (X509_time_adj_ex(X509_getm_notBefore(cert), 0, -PKI_SKEW, &now) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), spec->days, 0, &now) == NULL ||
	    X509_set_pubkey(cert, spec->key) != 1) {
		pki_fail(err, "cannot set the validity or the public key");
		goto fail;
	}
	if (pki_add_exts(cert, spec, err) != 0)
		goto fail;
	if (X509_sign(cert, signer, pki_sign_md(signer)) <= 0) {
		pki_fail(err, "cannot sign the certificate for CN=%s", spec->cn);
		goto fail;
	}
	return cert;
fail:
	X509_free(cert);
	return NULL;
}

/* Writes all of DATA to FD; 0 or -1 with errno. */
static int
pki_write_all(int fd, const unsigned char *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, data, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Moves the finished temporary file TMP to PATH; EEXIST unless OVERWRITE. */
static int
pki_publish(const char *tmp, const char *path, bool overwrite)
{
	int saved;

	if (overwrite)
		return rename(tmp, path);
	/* link() refuses an existing PATH atomically, which rename() cannot do. */
	if (link(tmp, path) != 0) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	unlink(tmp);
	return 0;
}

int
pki_write_file(const char *path, const void *data, size_t len, mode_t mode,
    bool overwrite, struct pki_err *err)
{
	char tmp[PATH_MAX];
	int fd = -1, n;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return pki_fail(err, "%s: path too long", path);
	/* mkstemp creates the file 0600, so a key is never readable by others, even briefly. */
	if ((fd = mkstemp(tmp)) < 0)
		return pki_fail(err, "%s: cannot create a file next to it: %s", path,
		    strerror(errno));
	if (fchmod(fd, mode) != 0 || pki_write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		pki_fail(err, "%s: cannot write: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) != 0) {
		unlink(tmp);
		return pki_fail(err, "%s: cannot write: %s", tmp, strerror(errno));
	}
	if (pki_publish(tmp, path, overwrite) != 0) {
		if (errno == EEXIST)
			return pki_fail(err, "%s: already exists", path);
		unlink(tmp);
		return pki_fail(err, "%s: cannot create: %s", path, strerror(errno));
	}
	return 0;
}

/* Writes what BIO holds to PATH as pki_write_file. */
static int
pki_write_bio(const char *path, BIO *bio, mode_t mode, bool overwrite, struct pki_err *err)
{
	char *data;
	long len = BIO_get_mem_data(bio, &data);

	return pki_write_file(path, data, (size_t)len, mode, overwrite, err);
}

int
pki_write_key(const char *path, EVP_PKEY *key, bool overwrite, struct pki_err *err)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	int rc = -1;

	if (bio == NULL || PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1) {
		pki_fail(err, "%s: cannot encode the private key", path);
		goto out;
	}
	rc = pki_write_bio(path, bio, 0600, overwrite, err);
out:
	BIO_free(bio);	/* a secure-heap BIO cleanses what it held */
	return rc;
}

int
pki_write_certs(const char *path, X509 *const *certs, size_t n, bool overwrite,
    struct pki_err *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int rc = -1;

	if (bio == NULL) {
		pki_fail(err, "%s: out of memory", path);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (PEM_write_bio_X509(bio, certs[i]) != 1) {
			pki_fail(err, "%s: cannot encode certificate %zu", path, i + 1);
			goto out;
		}
	}
	rc = pki_write_bio(path, bio, 0644, overwrite, err);
out:
	BIO_free(bio);
	return rc;
}

int
pki_join(char *buf, const char *dir, const char *name, struct pki_err *err)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s", dir, name);

	if (n < 0 || n >= PATH_MAX)
		return pki_fail(err, "%s/%s: path too long", dir, name);
	return 0;
}

unsigned char *
pki_read_file(const char *path, size_t *len, struct pki_err *err)
{
	unsigned char *buf = NULL;
	FILE *f = NULL;
	size_t n;

	if ((f = fopen(path, "rb")) == NULL) {
		pki_fail(err, "%s: cannot open: %s", path, strerror(errno));
		goto fail;
	}
	if ((buf = malloc(PKI_MAX_FILE + 1)) == NULL) {
		pki_fail(err, "%s: out of memory", path);
		goto fail;
	}
	n = fread(buf, 1, PKI_MAX_FILE + 1, f);
	if (ferror(f)) {
		pki_fail(err, "%s: cannot read: %s", path, strerror(errno));
		goto fail;
	}
	if (n > PKI_MAX_FILE) {
		pki_fail(err, "%s: larger than %d MiB", path, PKI_MAX_FILE / (1024 * 1024));
		goto fail;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	if (f != NULL)
		fclose(f);
	free(buf);
	return NULL;
}

/* Every PEM certificate in DATA (none: an empty stack), or NULL on a broken one. */
static STACK_OF(X509) *
pki_parse_pem_certs(const unsigned char *data, size_t len)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	X509 *cert;

	if (certs == NULL || bio == NULL)
		goto fail;
	while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (sk_X509_push(certs, cert) <= 0) {
			X509_free(cert);
			goto fail;
		}
	}
	/* The loop ends on "no start line" at the end of the file; that is not an error. */
	ERR_clear_error();
	BIO_free(bio);
	return certs;
fail:
	BIO_free(bio);
	sk_X509_pop_free(certs, X509_free);
	return NULL;
}

STACK_OF(X509) *
pki_read_certs(const char *path, struct pki_err *err)
{
	STACK_OF(X509) *certs = NULL;
	const unsigned char *p;
	unsigned char *data;
	X509 *der;
	size_t len;

	if ((data = pki_read_file(path, &len, err)) == NULL)
		return NULL;
	if ((certs = pki_parse_pem_certs(data, len)) != NULL && sk_X509_num(certs) == 0) {
		p = data;
		if ((der = d2i_X509(NULL, &p, (long)len)) != NULL && sk_X509_push(certs, der) <= 0)
			X509_free(der);
	}
	free(data);
	if (certs == NULL || sk_X509_num(certs) == 0) {
		sk_X509_pop_free(certs, X509_free);
		pki_fail(err, "%s: no certificate in it (expected PEM or DER)", path);
		return NULL;
	}
	return certs;
}

/* Password callback: encrypted keys are out of scope, and a prompt would hang a script. */
static int
pki_no_password(char *buf, int size, int rwflag, void *arg)
{
	*(bool *)arg = true;
	return -1;
}

EVP_PKEY *
pki_read_key(const char *path, struct pki_err *err)
{
	bool encrypted = false;
	EVP_PKEY *key = NULL;
	unsigned char *data;
	const unsigned char *p;
	BIO *bio = NULL;
	size_t len;

	if ((data = pki_read_file(path, &len, err)) == NULL)
		return NULL;
	if ((bio = BIO_new_mem_buf(data, (int)len)) != NULL)
		key = PEM_read_bio_PrivateKey(bio, NULL, pki_no_password, &encrypted);
	if (key == NULL && !encrypted) {
		p = data;
		key = d2i_AutoPrivateKey(NULL, &p, (long)len);
	}
	OPENSSL_cleanse(data, len);
	free(data);
	BIO_free(bio);
	if (key == NULL && encrypted)
		pki_fail(err, "%s: the key is encrypted; decrypt it first "
		    "(openssl pkey -in KEY -out PLAIN)", path);
	else if (key == NULL)
		pki_fail(err, "%s: no private key in it (expected PEM or DER)", path);
	return key;
}
