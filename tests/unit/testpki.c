#include "config.h"
#include "testpki.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#define TESTPKI_DAY	(24 * 60 * 60)

const struct testpki_ext testpki_ext_ca[] = {
	{ NID_basic_constraints, "critical,CA:TRUE" },
	{ NID_key_usage, "critical,keyCertSign,cRLSign" },
	{ NID_subject_key_identifier, "hash" },
	{ NID_undef, NULL },
};

const struct testpki_ext testpki_ext_server[] = {
	{ NID_basic_constraints, "critical,CA:FALSE" },
	{ NID_key_usage, "critical,digitalSignature" },
	{ NID_ext_key_usage, "serverAuth" },
	{ NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1" },
	{ NID_authority_key_identifier, "keyid:always" },
	{ NID_undef, NULL },
};

const struct testpki_ext testpki_ext_client[] = {
	{ NID_basic_constraints, "critical,CA:FALSE" },
	{ NID_key_usage, "critical,digitalSignature" },
	{ NID_ext_key_usage, "clientAuth" },
	{ NID_authority_key_identifier, "keyid:always" },
	{ NID_undef, NULL },
};

/* A fixture that cannot be built makes every assertion after it meaningless: stop here. */
static void __attribute__((noreturn, format(printf, 1, 2)))
testpki_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("testpki: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	ERR_print_errors_fp(stderr);
	abort();
}

static char *
testpki_strdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		testpki_die("out of memory");
	return p;
}

EVP_PKEY *
testpki_key_new(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");

	if (key == NULL)
		testpki_die("cannot generate a P-256 key");
	return key;
}

EVP_PKEY *
testpki_rsa_key_new(int bits)
{
	EVP_PKEY *key = EVP_RSA_gen((unsigned int)bits);

	if (key == NULL)
		testpki_die("cannot generate an RSA-%d key", bits);
	return key;
}

X509_NAME *
testpki_name(const char *field, ...)
{
	X509_NAME *name = X509_NAME_new();
	va_list ap;

	if (name == NULL)
		testpki_die("out of memory");
	va_start(ap, field);
	for (const char *f = field; f != NULL; f = va_arg(ap, const char *)) {
		const char *value = va_arg(ap, const char *);

		if (X509_NAME_add_entry_by_txt(name, f, MBSTRING_UTF8,
		    (const unsigned char *)value, -1, -1, 0) != 1)
			testpki_die("cannot add %s=%s to a name", f, value);
	}
	va_end(ap);
	return name;
}

static void
testpki_set_serial(X509 *x, const char *hex)
{
	BIGNUM *bn = NULL;
	ASN1_INTEGER *serial;

	if (hex == NULL) {
		/* 127 random bits: positive, and unique enough that no two test certs collide. */
		bn = BN_new();
		if (bn == NULL || BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1)
			testpki_die("cannot make a random serial");
	} else if (BN_hex2bn(&bn, hex) == 0)
		testpki_die("bad serial \"%s\"", hex);
	serial = BN_to_ASN1_INTEGER(bn, NULL);
	if (serial == NULL || X509_set_serialNumber(x, serial) != 1)
		testpki_die("cannot set serial");
	ASN1_INTEGER_free(serial);
	BN_free(bn);
}

static void
testpki_add_exts(X509 *x, X509 *issuer, const struct testpki_ext *exts)
{
	X509V3_CTX v3;

	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	X509V3_set_ctx_nodb(&v3);
	for (; exts != NULL && exts->nid != NID_undef; exts++) {
		X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, &v3, exts->nid, exts->value);

		if (ext == NULL || X509_add_ext(x, ext, -1) != 1)
			testpki_die("cannot add extension %s = %s", OBJ_nid2sn(exts->nid),
			    exts->value);
		X509_EXTENSION_free(ext);
	}
}

X509 *
testpki_cert_new(const struct testpki_cert_spec *spec)
{
	X509 *x = X509_new();
	X509 *issuer;
	EVP_PKEY *issuer_key;

	if (x == NULL)
		testpki_die("out of memory");
	issuer = spec->issuer != NULL ? spec->issuer : x;
	issuer_key = spec->issuer_key != NULL ? spec->issuer_key : spec->key;
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    X509_set_subject_name(x, spec->subject) != 1 ||
	    X509_set_issuer_name(x, spec->issuer != NULL ?
	    X509_get_subject_name(spec->issuer) : spec->subject) != 1 ||
	    X509_set_pubkey(x, spec->key) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), (long)spec->not_before) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), (long)spec->not_after) == NULL)
		testpki_die("cannot fill in a certificate");
	testpki_set_serial(x, spec->serial);
	testpki_add_exts(x, issuer, spec->exts);
	if (X509_sign(x, issuer_key, EVP_sha256()) <= 0)
		testpki_die("cannot sign a certificate");
	return x;
}

static ASN1_TIME *
testpki_time(time_t t)
{
	ASN1_TIME *tm = ASN1_TIME_set(NULL, t);

	if (tm == NULL)
		testpki_die("cannot make a time from %lld", (long long)t);
	return tm;
}

void
testpki_crl_add(X509_CRL *crl, const ASN1_INTEGER *serial, time_t revoked_at, int reason)
{
	X509_REVOKED *rev = X509_REVOKED_new();
	ASN1_TIME *when = testpki_time(revoked_at);
	ASN1_ENUMERATED *code = NULL;

	/* The setter copies SERIAL and only reads it, whatever its prototype says. */
	if (rev == NULL || X509_REVOKED_set_serialNumber(rev, (ASN1_INTEGER *)serial) != 1 ||
	    X509_REVOKED_set_revocationDate(rev, when) != 1)
		testpki_die("cannot fill in a revoked entry");
	if (reason >= 0 && ((code = ASN1_ENUMERATED_new()) == NULL ||
	    ASN1_ENUMERATED_set(code, reason) != 1 ||
	    X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, code, 0, 0) != 1))
		testpki_die("cannot add reason %d to a revoked entry", reason);
	if (X509_CRL_add0_revoked(crl, rev) != 1)
		testpki_die("cannot add a revoked entry");
	ASN1_ENUMERATED_free(code);
	ASN1_TIME_free(when);
}

/* crlNumber and deltaCRLIndicator ("[critical,]<integer>"): OpenSSL cannot parse them. */
static void
testpki_crl_add_int_ext(X509_CRL *crl, int nid, const char *value)
{
	int critical = strncmp(value, "critical,", 9) == 0;
	ASN1_INTEGER *n = s2i_ASN1_INTEGER(NULL, value + (critical ? 9 : 0));

	if (n == NULL || X509_CRL_add1_ext_i2d(crl, nid, n, critical, X509V3_ADD_DEFAULT) != 1)
		testpki_die("cannot add CRL extension %s = %s", OBJ_nid2sn(nid), value);
	ASN1_INTEGER_free(n);
}

static void
testpki_crl_add_exts(X509_CRL *crl, X509 *issuer, const struct testpki_ext *exts)
{
	X509V3_CTX v3;

	X509V3_set_ctx(&v3, issuer, NULL, NULL, crl, 0);
	X509V3_set_ctx_nodb(&v3);
	for (; exts != NULL && exts->nid != NID_undef; exts++) {
		X509_EXTENSION *ext;

		if (exts->nid == NID_crl_number || exts->nid == NID_delta_crl) {
			testpki_crl_add_int_ext(crl, exts->nid, exts->value);
			continue;
		}
		ext = X509V3_EXT_nconf_nid(NULL, &v3, exts->nid, exts->value);

		if (ext == NULL || X509_CRL_add_ext(crl, ext, -1) != 1)
			testpki_die("cannot add CRL extension %s = %s", OBJ_nid2sn(exts->nid),
			    exts->value);
		X509_EXTENSION_free(ext);
	}
}

X509_CRL *
testpki_crl_build(const struct testpki_crl_spec *spec)
{
	X509_CRL *crl = X509_CRL_new();
	X509_NAME *name = spec->name != NULL ? spec->name :
	    X509_get_subject_name(spec->issuer->cert);
	ASN1_TIME *this_update = testpki_time(spec->this_update);
	ASN1_TIME *next_update = NULL;

	if (crl == NULL || X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
	    X509_CRL_set_issuer_name(crl, name) != 1 ||
	    X509_CRL_set1_lastUpdate(crl, this_update) != 1)
		testpki_die("cannot fill in a CRL");
	if (spec->next_update != 0 && ((next_update = testpki_time(spec->next_update)) == NULL ||
	    X509_CRL_set1_nextUpdate(crl, next_update) != 1))
		testpki_die("cannot set nextUpdate");
	for (const struct testpki_revoked *r = spec->revoked; r != NULL && r->serial != NULL;
	    r++) {
		BIGNUM *bn = NULL;
		ASN1_INTEGER *serial;

		if (BN_hex2bn(&bn, r->serial) == 0 ||
		    (serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL)
			testpki_die("bad serial \"%s\"", r->serial);
		testpki_crl_add(crl, serial, spec->this_update, r->reason);
		ASN1_INTEGER_free(serial);
		BN_free(bn);
	}
	testpki_crl_add_exts(crl, spec->issuer->cert, spec->exts);
	ASN1_TIME_free(this_update);
	ASN1_TIME_free(next_update);
	return crl;
}

void
testpki_crl_sign(X509_CRL *crl, EVP_PKEY *key)
{
	if (X509_CRL_sign(crl, key, EVP_sha256()) <= 0)
		testpki_die("cannot sign a CRL");
}

X509_CRL *
testpki_crl_new(const struct testpki_crl_spec *spec)
{
	X509_CRL *crl = testpki_crl_build(spec);

	testpki_crl_sign(crl, spec->key != NULL ? spec->key : spec->issuer->key);
	return crl;
}

unsigned char *
testpki_crl_der(X509_CRL *crl, size_t *len)
{
	int n = i2d_X509_CRL(crl, NULL);
	unsigned char *der, *p;

	if (n <= 0 || (der = malloc((size_t)n)) == NULL)
		testpki_die("cannot encode a CRL");
	p = der;
	if (i2d_X509_CRL(crl, &p) != n)
		testpki_die("cannot encode a CRL");
	*len = (size_t)n;
	return der;
}

char *
testpki_crl_pem(X509_CRL *crl, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *pem;
	long n;

	if (bio == NULL || PEM_write_bio_X509_CRL(bio, crl) != 1 ||
	    (n = BIO_get_mem_data(bio, &data)) <= 0 || (pem = malloc((size_t)n + 1)) == NULL)
		testpki_die("cannot write a CRL as PEM");
	memcpy(pem, data, (size_t)n);
	pem[n] = '\0';
	*len = (size_t)n;
	BIO_free(bio);
	return pem;
}

static BIO *
testpki_open(const char *path)
{
	BIO *bio = BIO_new_file(path, "wb");

	if (bio == NULL)
		testpki_die("cannot create %s", path);
	return bio;
}

static void
testpki_close(BIO *bio, const char *path)
{
	if (BIO_flush(bio) != 1)
		testpki_die("cannot write %s", path);
	BIO_free(bio);
}

void
testpki_write_certs(const char *path, X509 *const *certs, size_t n)
{
	BIO *bio = testpki_open(path);

	for (size_t i = 0; i < n; i++)
		if (PEM_write_bio_X509(bio, certs[i]) != 1)
			testpki_die("cannot write a certificate to %s", path);
	testpki_close(bio, path);
}

void
testpki_write_key(const char *path, EVP_PKEY *key, const char *password)
{
	BIO *bio = testpki_open(path);
	const EVP_CIPHER *cipher = password != NULL ? EVP_aes_256_cbc() : NULL;

	if (PEM_write_bio_PKCS8PrivateKey(bio, key, cipher, NULL, 0, NULL,
	    (void *)password) != 1)
		testpki_die("cannot write a key to %s", path);
	testpki_close(bio, path);
}

void
testpki_write_key_traditional(const char *path, EVP_PKEY *key, const char *password)
{
	BIO *bio = testpki_open(path);
	const EVP_CIPHER *cipher = password != NULL ? EVP_aes_256_cbc() : NULL;
	size_t plen = password != NULL ? strlen(password) : 0;

	if (PEM_write_bio_PrivateKey_traditional(bio, key, cipher,
	    (unsigned char *)password, (int)plen, NULL, NULL) != 1)
		testpki_die("cannot write a traditional key to %s", path);
	testpki_close(bio, path);
}

void
testpki_write_p12(const char *path, EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
    const char *password)
{
	/* Zero NIDs and iteration counts pick OpenSSL 3's defaults: AES-256, PBKDF2, SHA-256. */
	PKCS12 *p12 = PKCS12_create(password, "revgate test", key, cert, chain, 0, 0, 0, 0, 0);
	BIO *bio;

	if (p12 == NULL)
		testpki_die("cannot build a PKCS#12 bundle");
	bio = testpki_open(path);
	if (i2d_PKCS12_bio(bio, p12) != 1)
		testpki_die("cannot write %s", path);
	testpki_close(bio, path);
	PKCS12_free(p12);
}

void
testpki_write_hashed(const char *dir, X509 *cert)
{
	char path[4096];
	int ok = 0;
	unsigned long h = X509_NAME_hash_ex(X509_get_subject_name(cert), NULL, NULL, &ok);

	if (ok != 1)
		testpki_die("cannot hash a subject name");
	if ((size_t)snprintf(path, sizeof(path), "%s/%08lx.0", dir, h) >= sizeof(path))
		testpki_die("path too long in %s", dir);
	testpki_write_certs(path, &cert, 1);
}

void
testpki_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		testpki_die("cannot write %s", path);
}

char *
testpki_path(const struct testpki *pki, const char *name)
{
	size_t len = strlen(pki->dir) + 1 + strlen(name) + 1;
	char *p = malloc(len);

	if (p == NULL)
		testpki_die("out of memory");
	snprintf(p, len, "%s/%s", pki->dir, name);
	return p;
}

static void
testpki_issue_for(struct testpki_entity *e, X509_NAME *subject,
    const struct testpki_entity *issuer, int64_t not_before, int64_t not_after,
    const struct testpki_ext *exts)
{
	struct testpki_cert_spec spec = {
		.subject = subject,
		.issuer = issuer != NULL ? issuer->cert : NULL,
		.issuer_key = issuer != NULL ? issuer->key : NULL,
		.not_before = not_before,
		.not_after = not_after,
		.exts = exts,
	};

	memset(e, 0, sizeof(*e));
	e->key = testpki_key_new();
	spec.key = e->key;
	e->cert = testpki_cert_new(&spec);
	X509_NAME_free(subject);
}

void
testpki_issue(struct testpki_entity *e, X509_NAME *subject,
    const struct testpki_entity *issuer, const struct testpki_ext *exts)
{
	testpki_issue_for(e, subject, issuer, -TESTPKI_DAY, 30 * TESTPKI_DAY, exts);
}

/* Issues E as testpki_issue does, then writes STEM.pem and STEM.key into the directory. */
static void
testpki_make(struct testpki *pki, struct testpki_entity *e, const char *stem, X509_NAME *name,
    const struct testpki_entity *issuer, int64_t not_before, int64_t not_after,
    const struct testpki_ext *exts)
{
	char file[256];

	testpki_issue_for(e, name, issuer, not_before, not_after, exts);
	snprintf(file, sizeof(file), "%s.pem", stem);
	e->cert_path = testpki_path(pki, file);
	testpki_write_certs(e->cert_path, &e->cert, 1);
	snprintf(file, sizeof(file), "%s.key", stem);
	e->key_path = testpki_path(pki, file);
	testpki_write_key(e->key_path, e->key, NULL);
}

static void
testpki_make_bundles(struct testpki *pki)
{
	static const char no_cert[] = "# not a certificate\n";
	X509 *chain[2] = { pki->server.cert, pki->ca.cert };
	STACK_OF(X509) *extra = sk_X509_new_null();

	pki->ca_bundle = testpki_strdup(pki->ca.cert_path);
	pki->server_chain = testpki_path(pki, "server-chain.pem");
	testpki_write_certs(pki->server_chain, chain, 2);
	pki->server_key_enc = testpki_path(pki, "server-enc.key");
	testpki_write_key(pki->server_key_enc, pki->server.key, TESTPKI_PASSWORD);
	if (extra == NULL || sk_X509_push(extra, pki->ca.cert) <= 0)
		testpki_die("out of memory");
	pki->server_p12 = testpki_path(pki, "server.p12");
	testpki_write_p12(pki->server_p12, pki->server.key, pki->server.cert, extra,
	    TESTPKI_PASSWORD);
	sk_X509_free(extra);
	pki->no_cert = testpki_path(pki, "no-cert.pem");
	testpki_write_file(pki->no_cert, no_cert, sizeof(no_cert) - 1);
}

struct testpki *
testpki_new(void)
{
	const char *tmp = getenv("TMPDIR");
	char tmpl[4096];
	struct testpki *pki = calloc(1, sizeof(*pki));

	if (pki == NULL)
		testpki_die("out of memory");
	snprintf(tmpl, sizeof(tmpl), "%s/revgate-pki.XXXXXX", tmp != NULL ? tmp : "/tmp");
	if (mkdtemp(tmpl) == NULL)
		testpki_die("mkdtemp %s failed", tmpl);
	pki->dir = testpki_strdup(tmpl);

	testpki_make(pki, &pki->ca, "ca", testpki_name("O", "revgate tests", "CN",
	    "Test Root CA", NULL), NULL, -TESTPKI_DAY, 30 * TESTPKI_DAY, testpki_ext_ca);
	testpki_make(pki, &pki->server, "server", testpki_name("CN", "localhost", NULL),
	    &pki->ca, -TESTPKI_DAY, 30 * TESTPKI_DAY, testpki_ext_server);
	testpki_make(pki, &pki->client, "client", testpki_name("C", "US", "O",
	    "Example Corp", "CN", "alice", NULL), &pki->ca, -TESTPKI_DAY, 30 * TESTPKI_DAY,
	    testpki_ext_client);
	testpki_make(pki, &pki->expired, "expired", testpki_name("CN", "expired", NULL),
	    &pki->ca, -2 * TESTPKI_DAY, -TESTPKI_DAY, testpki_ext_client);
	testpki_make(pki, &pki->other_ca, "other-ca", testpki_name("CN", "Other CA", NULL),
	    NULL, -TESTPKI_DAY, 30 * TESTPKI_DAY, testpki_ext_ca);
	testpki_make(pki, &pki->other_client, "other-client", testpki_name("CN", "mallory",
	    NULL), &pki->other_ca, -TESTPKI_DAY, 30 * TESTPKI_DAY, testpki_ext_client);
	testpki_make_bundles(pki);
	return pki;
}

void
testpki_entity_clear(struct testpki_entity *e)
{
	EVP_PKEY_free(e->key);
	X509_free(e->cert);
	free(e->cert_path);
	free(e->key_path);
	memset(e, 0, sizeof(*e));
}

/* Removes DIR's entries (files and, one level down, directories of files) and DIR. */
static void
testpki_rmtree(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4096];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) != 0 && depth < 2)
			testpki_rmtree(path, depth + 1);
	}
	closedir(d);
	rmdir(dir);
}

void
testpki_free(struct testpki *pki)
{
	if (pki == NULL)
		return;
	if (pki->dir != NULL)
		testpki_rmtree(pki->dir, 0);
	testpki_entity_clear(&pki->ca);
	testpki_entity_clear(&pki->server);
	testpki_entity_clear(&pki->client);
	testpki_entity_clear(&pki->expired);
	testpki_entity_clear(&pki->other_ca);
	testpki_entity_clear(&pki->other_client);
	free(pki->ca_bundle);
	free(pki->server_chain);
	free(pki->server_key_enc);
	free(pki->server_p12);
	free(pki->no_cert);
	free(pki->dir);
	free(pki);
}

const struct testpki_ext testpki_ext_ocsp_responder[] = {
	{ NID_basic_constraints, "critical,CA:FALSE" },
	{ NID_key_usage, "critical,digitalSignature" },
	{ NID_ext_key_usage, "OCSPSigning" },
	{ NID_authority_key_identifier, "keyid:always" },
	{ NID_undef, NULL },
};

static ASN1_GENERALIZEDTIME *
testpki_gentime(time_t t)
{
	ASN1_GENERALIZEDTIME *g = ASN1_GENERALIZEDTIME_set(NULL, t);

	if (g == NULL)
		testpki_die("cannot make a GeneralizedTime for %lld", (long long)t);
	return g;
}

static OCSP_CERTID *
testpki_ocsp_id(const struct testpki_ocsp_spec *spec)
{
	ASN1_INTEGER *serial = NULL;
	BIGNUM *bn = NULL;
	OCSP_CERTID *id;

	if (spec->serial != NULL && (BN_hex2bn(&bn, spec->serial) == 0 ||
	    (serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL))
		testpki_die("bad serial \"%s\"", spec->serial);
	id = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(spec->issuer),
	    X509_get0_pubkey_bitstr(spec->issuer),
	    serial != NULL ? serial : X509_get0_serialNumber(spec->cert));
	if (id == NULL)
		testpki_die("cannot make an OCSP CertID");
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	return id;
}

static void
testpki_ocsp_nonce(OCSP_BASICRESP *bs, const struct testpki_ocsp_spec *spec)
{
	ASN1_OCTET_STRING *os;
	X509_EXTENSION *ext = NULL;

	if (!spec->nonce_raw) {
		if (OCSP_basic_add1_nonce(bs, (unsigned char *)spec->nonce,
		    (int)spec->nonce_len) != 1)
			testpki_die("cannot add an OCSP nonce");
		return;
	}
	os = ASN1_OCTET_STRING_new();
	if (os == NULL || ASN1_OCTET_STRING_set(os, spec->nonce, (int)spec->nonce_len) != 1 ||
	    (ext = X509_EXTENSION_create_by_NID(NULL, NID_id_pkix_OCSP_Nonce, 0, os)) == NULL ||
	    OCSP_BASICRESP_add_ext(bs, ext, -1) != 1)
		testpki_die("cannot add a raw OCSP nonce");
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
}

static unsigned char *
testpki_ocsp_encode(OCSP_BASICRESP *bs, size_t *len)
{
	OCSP_RESPONSE *resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
	unsigned char *der, *p;
	int n;

	if (resp == NULL || (n = i2d_OCSP_RESPONSE(resp, NULL)) <= 0 ||
	    (der = malloc((size_t)n)) == NULL)
		testpki_die("cannot encode an OCSP response");
	p = der;
	if (i2d_OCSP_RESPONSE(resp, &p) != n)
		testpki_die("cannot encode an OCSP response");
	OCSP_RESPONSE_free(resp);
	*len = (size_t)n;
	return der;
}

unsigned char *
testpki_ocsp_response(const struct testpki_ocsp_spec *spec, size_t *len)
{
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	OCSP_CERTID *id = testpki_ocsp_id(spec);
	ASN1_GENERALIZEDTIME *this_update = testpki_gentime(spec->this_update);
	ASN1_GENERALIZEDTIME *next_update = spec->next_update != 0 ?
	    testpki_gentime(spec->next_update) : NULL;
	ASN1_GENERALIZEDTIME *revoked_at = spec->status == V_OCSP_CERTSTATUS_REVOKED ?
	    testpki_gentime(spec->revoked_at) : NULL;
	STACK_OF(X509) *certs = sk_X509_new_null();
	unsigned long flags = (spec->no_certs ? OCSP_NOCERTS : 0) |
	    (spec->by_key ? OCSP_RESPID_KEY : 0);
	unsigned char *der;

	if (bs == NULL || certs == NULL ||
	    (spec->extra != NULL && sk_X509_push(certs, spec->extra) <= 0))
		testpki_die("out of memory");
	if (OCSP_basic_add1_status(bs, id, spec->status, spec->reason, revoked_at,
	    this_update, next_update) == NULL)
		testpki_die("cannot add an OCSP SingleResponse");
	if (spec->nonce != NULL)
		testpki_ocsp_nonce(bs, spec);
	if (OCSP_basic_sign(bs, spec->signer, spec->signer_key, EVP_sha256(), certs,
	    flags) != 1)
		testpki_die("cannot sign an OCSP response");
	der = testpki_ocsp_encode(bs, len);
	sk_X509_free(certs);
	ASN1_GENERALIZEDTIME_free(revoked_at);
	ASN1_GENERALIZEDTIME_free(next_update);
	ASN1_GENERALIZEDTIME_free(this_update);
	OCSP_CERTID_free(id);
	OCSP_BASICRESP_free(bs);
	return der;
}
