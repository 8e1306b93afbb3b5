/*
 * libFuzzer target: crl_new, the first code that a downloaded CRL meets. The issuer, "CN=revgate
 * fuzz CA" with a P-256 key, is made once at start-up. Each input is loaded twice: as it is
 * (DER or PEM decoding, bounds, extension and issuer checks - its signature almost never
 * verifies), and, when OpenSSL decodes it, renamed to the issuer, stripped of its authority key
 * identifier and re-signed with the issuer's key, so that mutations also reach the time, number
 * and index code behind the signature check. A CRL that loads must list exactly the serials
 * that OpenSSL decoded.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crl.h"

#define FUZZ_NOW		((time_t)2000000000)	/* 2033: after every seed's thisUpdate */
#define FUZZ_SKEW		300
#define FUZZ_MAX_ENTRIES	256

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *fuzz_key;
static X509 *fuzz_issuer;

static void
fuzz_add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
	X509V3_set_ctx_nodb(&v3);
	ext = X509V3_EXT_nconf_nid(NULL, &v3, nid, value);
	if (ext == NULL || X509_add_ext(cert, ext, -1) != 1)
		abort();
	X509_EXTENSION_free(ext);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	X509_NAME *name = X509_NAME_new();

	fuzz_key = EVP_EC_gen("P-256");
	fuzz_issuer = X509_new();
	if (name == NULL || fuzz_key == NULL || fuzz_issuer == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"revgate fuzz CA", -1, -1, 0) != 1 ||
	    X509_set_version(fuzz_issuer, X509_VERSION_3) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(fuzz_issuer), 1) != 1 ||
	    X509_set_subject_name(fuzz_issuer, name) != 1 ||
	    X509_set_issuer_name(fuzz_issuer, name) != 1 ||
	    X509_set_pubkey(fuzz_issuer, fuzz_key) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(fuzz_issuer), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(fuzz_issuer), 86400) == NULL)
		abort();
	fuzz_add_ext(fuzz_issuer, NID_basic_constraints, "critical,CA:TRUE");
	fuzz_add_ext(fuzz_issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
	fuzz_add_ext(fuzz_issuer, NID_subject_key_identifier, "hash");
	if (X509_sign(fuzz_issuer, fuzz_key, EVP_sha256()) <= 0)
		abort();
	X509_NAME_free(name);
	return 0;
}

/* A CRL that loaded must answer for every serial OpenSSL found in it. */
static void
fuzz_check(const struct crl *crl, X509_CRL *x)
{
	STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(x);
	int n = sk_X509_REVOKED_num(revs);

	if (crl_count(crl) != (size_t)(n < 0 ? 0 : n) || crl_memory(crl) < crl_count(crl) * 24 ||
	    crl_issuer_name(crl) == NULL || crl_number(crl) == NULL)
		abort();
	if (X509_CRL_get0_nextUpdate(x) == NULL && crl_next_update(crl) != 0)
		abort();
	for (int i = 0; i < n; i++) {
		int reason = -2;

		if (!crl_lookup(crl, X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revs, i)),
		    &reason) || reason < -1 || reason > 10)
			abort();
	}
}

static void
fuzz_load(const unsigned char *buf, size_t len, X509_CRL *x)
{
	enum crl_error err = CRL_OK;
	char msg[256];
	struct crl *crl = crl_new(buf, len, fuzz_issuer, FUZZ_NOW, FUZZ_SKEW, FUZZ_MAX_ENTRIES,
	    &err, msg, sizeof(msg));

	if ((crl == NULL) != (err != CRL_OK) || ERR_peek_error() != 0)
		abort();	/* NULL exactly on error, and no stale OpenSSL error left behind */
	if (crl != NULL && x != NULL)
		fuzz_check(crl, x);
	crl_unref(crl);
}

/* The input as OpenSSL reads it, renamed to our issuer and signed by its key. */
static void
fuzz_resigned(const uint8_t *data, size_t size)
{
	const unsigned char *p = data;
	X509_CRL *x = d2i_X509_CRL(NULL, &p, (long)size);
	unsigned char *der = NULL;
	int i, len;

	if (x == NULL)
		goto cleanup;
	/* Its key identifier names another key: drop it (the raw load checks it). */
	while ((i = X509_CRL_get_ext_by_NID(x, NID_authority_key_identifier, -1)) >= 0)
		X509_EXTENSION_free(X509_CRL_delete_ext(x, i));
	if (X509_CRL_set_issuer_name(x, X509_get_subject_name(fuzz_issuer)) != 1 ||
	    X509_CRL_sign(x, fuzz_key, EVP_sha256()) <= 0 || (len = i2d_X509_CRL(x, &der)) <= 0)
		goto cleanup;
	fuzz_load(der, (size_t)len, x);
cleanup:
	OPENSSL_free(der);
	X509_CRL_free(x);
	ERR_clear_error();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_load(data, size, NULL);
	fuzz_resigned(data, size);
	return 0;
}
