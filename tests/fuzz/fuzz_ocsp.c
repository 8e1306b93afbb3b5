/*
 * libFuzzer target: OCSP responses, the bytes that a responder - or anyone on the path to
 * one - sends back. Each input is judged twice, as the answer to a request without and with
 * a nonce, about certificate 0x1001 of a fixed issuer. Then, when it parses as a basic
 * response, its SingleResponses and extensions are copied into a new one signed with the
 * issuer's key and judged again, so that mutations reach the nonce, CertID and time checks
 * behind the signature. (Copied, not re-signed in place: OCSP_basic_sign on a parsed response
 * whose ResponderID is byKey frees the key hash as a name and crashes in OpenSSL 3.0.)
 *
 * The issuer key is a fixed Ed25519 key (public by design: it signs nothing but fuzz
 * inputs), so that the committed seeds in tests/fuzz/corpus/ocsp carry valid signatures; the
 * issuer certificate is made at start-up. The seeds were made with the openssl CLI:
 *
 *   printf 302e020100300506032b657004220420 > k.hex
 *   printf 'revgate fuzz ocsp issuer seed!!!' | xxd -p | tr -d '\n' >> k.hex
 *   xxd -r -p k.hex | openssl pkey -inform DER -out ca.key
 *   openssl req -x509 -new -key ca.key -subj "/CN=revgate fuzz CA" -days 3650 \
 *       -addext basicConstraints=critical,CA:TRUE -out ca.pem
 *   openssl ocsp -issuer ca.pem -serial 0x1001 [-no_nonce] -reqout req.der
 *   openssl ocsp -index index.txt -CA ca.pem -rsigner ca.pem -rkey ca.key \
 *       -reqin req.der -respout good.der [-ndays 1] [-resp_no_certs] [-resp_key_id]
 *
 * with index.txt lines "V\t301231235959Z\t\t1001\tunknown\t/CN=leaf" (or R, revoked);
 * delegated.der is signed by an Ed25519 responder certificate with OCSPSigning that
 * `openssl x509 -req -CA ca.pem -CAkey ca.key` issued.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ocspmsg.h"

#define FUZZ_SKEW	300

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char fuzz_key_seed[32] = "revgate fuzz ocsp issuer seed!!!";
static const unsigned char fuzz_nonce[16] = "revgate nonce 16";

static EVP_PKEY *fuzz_key;
static X509 *fuzz_issuer;
static struct ocspmsg_request fuzz_req;		/* no nonce */
static struct ocspmsg_request fuzz_req_nonce;	/* nonce fuzz_nonce */
static time_t fuzz_now;

static X509 *
fuzz_cert(const char *cn, long serial, X509 *issuer, bool ca)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509_EXTENSION *ext = NULL;
	X509V3_CTX v3;

	if (x == NULL || name == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
	    -1, -1, 0) != 1 ||
	    X509_set_version(x, X509_VERSION_3) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), serial) != 1 ||
	    X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -86400) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400) == NULL ||
	    X509_set_pubkey(x, fuzz_key) != 1)
		abort();
	if (ca) {
		X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
		X509V3_set_ctx_nodb(&v3);
		ext = X509V3_EXT_nconf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
		if (ext == NULL || X509_add_ext(x, ext, -1) != 1)
			abort();
		X509_EXTENSION_free(ext);
	}
	if (X509_sign(x, fuzz_key, NULL) <= 0)	/* Ed25519: no separate digest */
		abort();
	X509_NAME_free(name);
	return x;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];
	X509 *leaf;

	fuzz_now = time(NULL);
	fuzz_key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, fuzz_key_seed,
	    sizeof(fuzz_key_seed));
	if (fuzz_key == NULL)
		abort();
	fuzz_issuer = fuzz_cert("revgate fuzz CA", 1, NULL, true);
	leaf = fuzz_cert("leaf", 0x1001, fuzz_issuer, false);
	if (ocspmsg_request_init(&fuzz_req, leaf, fuzz_issuer, false, err, sizeof(err)) != 0 ||
	    ocspmsg_request_init(&fuzz_req_nonce, leaf, fuzz_issuer, true, err,
	    sizeof(err)) != 0)
		abort();
	/* A fixed nonce, so that an input can echo it (the DER keeps the random one). */
	memcpy(fuzz_req_nonce.nonce, fuzz_nonce, sizeof(fuzz_nonce));
	X509_free(leaf);
	return 0;
}

static void
fuzz_verify(const unsigned char *der, size_t len, const struct ocspmsg_request *req)
{
	struct ocspmsg_status st;
	char err[256];
	enum ocspmsg_error e;

	memset(err, 'x', sizeof(err));
	e = ocspmsg_verify(der, len, req, fuzz_issuer, fuzz_now, FUZZ_SKEW, &st, err,
	    sizeof(err));
	if (memchr(err, '\0', sizeof(err)) == NULL)
		abort();	/* the message must be terminated */
	if (ERR_peek_error() != 0)
		abort();	/* a stale error would be blamed on the next connection */
	if (strcmp(ocspmsg_error_name(e), "?") == 0 ||
	    strcmp(ocspmsg_verdict_name(st.verdict), "?") == 0)
		abort();
	if (e != OCSPMSG_OK) {
		if (err[0] == '\0' || st.verdict != OCSPMSG_UNKNOWN)
			abort();	/* every refusal explains itself and leaves no verdict */
		return;
	}
	if (err[0] != '\0' || st.this_update > fuzz_now + FUZZ_SKEW ||
	    (st.verdict != OCSPMSG_REVOKED && (st.revoked_at != 0 || st.reason != -1)))
		abort();
}

/* Copies the SingleResponses and extensions of IN into OUT; -1 if one does not fit. */
static int
fuzz_copy(OCSP_BASICRESP *in, OCSP_BASICRESP *out)
{
	for (int i = 0; i < OCSP_resp_count(in); i++) {
		OCSP_SINGLERESP *single = OCSP_resp_get0(in, i);
		ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
		int reason = -1;
		int status = OCSP_single_get0_status(single, &reason, &rev, &thisupd, &nextupd);

		if (status < 0 || OCSP_basic_add1_status(out,
		    (OCSP_CERTID *)OCSP_SINGLERESP_get0_id(single), status, reason, rev, thisupd,
		    nextupd) == NULL)
			return -1;
	}
	for (int i = 0; i < OCSP_BASICRESP_get_ext_count(in); i++)
		if (OCSP_BASICRESP_add_ext(out, OCSP_BASICRESP_get_ext(in, i), -1) != 1)
			return -1;
	return 0;
}

/* Signs the content of DATA's basic response anew with the issuer key and judges it. */
static void
fuzz_resign(const uint8_t *data, size_t size)
{
	const unsigned char *p = data;
	OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)size);
	OCSP_BASICRESP *bs = NULL, *fresh = OCSP_BASICRESP_new();
	OCSP_RESPONSE *out = NULL;
	unsigned char *der = NULL;
	int len;

	if (resp == NULL || fresh == NULL ||
	    OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL ||
	    (bs = OCSP_response_get1_basic(resp)) == NULL || fuzz_copy(bs, fresh) != 0 ||
	    OCSP_basic_sign(fresh, fuzz_issuer, fuzz_key, NULL, NULL, OCSP_NOCERTS) != 1 ||
	    (out = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, fresh)) == NULL ||
	    (len = i2d_OCSP_RESPONSE(out, &der)) <= 0)
		goto cleanup;
	ERR_clear_error();
	fuzz_verify(der, (size_t)len, &fuzz_req);
	fuzz_verify(der, (size_t)len, &fuzz_req_nonce);
cleanup:
	OPENSSL_free(der);
	OCSP_RESPONSE_free(out);
	OCSP_BASICRESP_free(fresh);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	ERR_clear_error();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	fuzz_verify(data, size, &fuzz_req);
	fuzz_verify(data, size, &fuzz_req_nonce);
	fuzz_resign(data, size);
	return 0;
}
