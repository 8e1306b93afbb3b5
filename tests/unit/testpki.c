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
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
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
