#include "config.h"
#include "ocspmsg.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define OCSPMSG_SERIAL_MAX	64	/* RFC 5280 allows 20 octets; OpenSSL reads more */
#define OCSPMSG_NAME_MAX	256

/* Times of the SingleResponse that matched, still borrowed from the basic response. */
struct ocspmsg_single {
	int			 status;
	int			 reason;
	ASN1_GENERALIZEDTIME	*revoked_at;
	ASN1_GENERALIZEDTIME	*this_update;
	ASN1_GENERALIZEDTIME	*next_update;
};

static void __attribute__((format(printf, 3, 4)))
ocspmsg_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The reason of the most recent OpenSSL error, with its detail when there is one. */
static void
ocspmsg_ssl_reason(char *buf, size_t size)
{
	const char *data = NULL;
	int flags = 0;
	unsigned long e = ERR_peek_last_error_data(&data, &flags);
	const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;

	if (reason == NULL)
		reason = e != 0 ? "unknown OpenSSL error" : "no OpenSSL error";
	if ((flags & ERR_TXT_STRING) != 0 && data != NULL && *data != '\0')
		snprintf(buf, size, "%s: %s", reason, data);
	else
		snprintf(buf, size, "%s", reason);
}

/* NAME as RFC 2253 text (controls and non-ASCII escaped), cut to fit; "?" on failure. */
static void
ocspmsg_name(const X509_NAME *name, char *buf, size_t size)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len;

	snprintf(buf, size, "?");
	if (bio != NULL && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0 &&
	    (len = BIO_get_mem_data(bio, &data)) >= 0)
		snprintf(buf, size, "%.*s", (int)(len < INT_MAX ? len : INT_MAX), data);
	BIO_free(bio);
}

/* The serial of ID as upper-case hex, "?" if it cannot be read. */
static void
ocspmsg_serial(OCSP_CERTID *id, char *buf, size_t size)
{
	ASN1_INTEGER *serial = NULL;
	BIGNUM *bn = NULL;
	char *hex = NULL;

	snprintf(buf, size, "?");
	if (OCSP_id_get0_info(NULL, NULL, NULL, &serial, id) == 1 &&
	    (bn = ASN1_INTEGER_to_BN(serial, NULL)) != NULL && (hex = BN_bn2hex(bn)) != NULL)
		snprintf(buf, size, "%s", hex);
	OPENSSL_free(hex);
	BN_free(bn);
}

int
ocspmsg_key(X509 *cert, X509 *issuer, struct ocspmsg_key *out)
{
	const ASN1_INTEGER *serial = X509_get0_serialNumber(cert);
	ASN1_BIT_STRING *pubkey = X509_get0_pubkey_bitstr(issuer);
	int slen = serial != NULL ? ASN1_STRING_length(serial) : -1;
	unsigned int n = 0;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (pubkey == NULL || slen < 0 || slen > OCSPMSG_SERIAL_MAX)
		goto cleanup;
	if (X509_NAME_digest(X509_get_subject_name(issuer), EVP_sha1(), out->bytes, &n) != 1 ||
	    n != 20)
		goto cleanup;
	if (EVP_Digest(ASN1_STRING_get0_data(pubkey), (size_t)ASN1_STRING_length(pubkey),
	    out->bytes + 20, &n, EVP_sha1(), NULL) != 1 || n != 20)
		goto cleanup;
	/* Length and sign in one byte, so that no two serials give the same key. */
	out->bytes[40] = (unsigned char)slen |
	    (ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER ? 0x80 : 0);
	memcpy(out->bytes + 41, ASN1_STRING_get0_data(serial), (size_t)slen);
	out->len = 41 + (size_t)slen;
	ret = 0;
cleanup:
	if (ret != 0)
		memset(out, 0, sizeof(*out));
	ERR_clear_error();
	return ret;
}

static int
ocspmsg_request_encode(struct ocspmsg_request *req, OCSP_REQUEST *ocsp, char *err,
    size_t errlen)
{
	unsigned char *der = NULL;
	int len = i2d_OCSP_REQUEST(ocsp, &der);	/* allocates with OPENSSL_malloc */
	char why[256];

	if (len <= 0) {
		ocspmsg_ssl_reason(why, sizeof(why));
		ocspmsg_errf(err, errlen, "cannot encode the OCSP request (%s)", why);
		return -1;
	}
	req->der = der;
	req->len = (size_t)len;
	return 0;
}

int
ocspmsg_request_init(struct ocspmsg_request *req, X509 *cert, X509 *issuer, bool nonce,
    char *err, size_t errlen)
{
	OCSP_REQUEST *ocsp = NULL;
	OCSP_CERTID *id = NULL;
	char why[256];
	int ret = -1;

	memset(req, 0, sizeof(*req));
	if ((id = OCSP_cert_to_id(EVP_sha1(), cert, issuer)) == NULL ||
	    (req->id = OCSP_CERTID_dup(id)) == NULL) {
		ocspmsg_ssl_reason(why, sizeof(why));
		ocspmsg_errf(err, errlen, "cannot build the OCSP CertID (%s)", why);
		goto cleanup;
	}
	if ((ocsp = OCSP_REQUEST_new()) == NULL ||
	    OCSP_request_add0_id(ocsp, id) == NULL) {
		ocspmsg_errf(err, errlen, "cannot build the OCSP request: out of memory");
		goto cleanup;
	}
	id = NULL;	/* the request owns it now; req->id is our own copy */
	if (nonce) {
		if (RAND_bytes(req->nonce, (int)sizeof(req->nonce)) != 1) {
			ocspmsg_ssl_reason(why, sizeof(why));
			ocspmsg_errf(err, errlen, "cannot draw an OCSP nonce (%s)", why);
			goto cleanup;
		}
		/* Encoded as an OCTET STRING inside the extension value (RFC 8954). */
		if (OCSP_request_add1_nonce(ocsp, req->nonce, (int)sizeof(req->nonce)) != 1) {
			ocspmsg_errf(err, errlen, "cannot add the OCSP nonce: out of memory");
			goto cleanup;
		}
		req->has_nonce = true;
	}
	ret = ocspmsg_request_encode(req, ocsp, err, errlen);
cleanup:
	OCSP_CERTID_free(id);
	OCSP_REQUEST_free(ocsp);
	if (ret != 0)
		ocspmsg_request_clear(req);
	ERR_clear_error();
	return ret;
}

void
ocspmsg_request_clear(struct ocspmsg_request *req)
{
	OPENSSL_free(req->der);
	OCSP_CERTID_free(req->id);
	OPENSSL_cleanse(req->nonce, sizeof(req->nonce));
	memset(req, 0, sizeof(*req));
}

/* Decodes exactly LEN bytes as an OCSP response whose status is successful. */
static enum ocspmsg_error
ocspmsg_decode(const unsigned char *der, size_t len, OCSP_BASICRESP **bs, char *err,
    size_t errlen)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *resp = NULL;
	enum ocspmsg_error ret = OCSPMSG_E_DECODE;
	int status;

	if (len > LONG_MAX) {
		ocspmsg_errf(err, errlen, "OCSP response of %zu bytes is too long", len);
		goto cleanup;
	}
	if ((resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len)) == NULL) {
		ocspmsg_errf(err, errlen, "not a DER OCSP response");
		goto cleanup;
	}
	if (p != der + len) {
		ocspmsg_errf(err, errlen, "OCSP response followed by %zu stray bytes",
		    (size_t)(der + len - p));
		goto cleanup;
	}
	status = OCSP_response_status(resp);
	if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		ocspmsg_errf(err, errlen, "OCSP responder answered %s (%d)",
		    OCSP_response_status_str(status), status);
		ret = OCSPMSG_E_STATUS;
		goto cleanup;
	}
	if ((*bs = OCSP_response_get1_basic(resp)) == NULL) {
		ocspmsg_errf(err, errlen, "successful OCSP response without a basic response");
		goto cleanup;
	}
	ret = OCSPMSG_OK;
cleanup:
	OCSP_RESPONSE_free(resp);
	return ret;
}

/* Explains why OCSP_basic_verify refused BS, naming the signer when it can be found. */
static void
ocspmsg_explain_signature(OCSP_BASICRESP *bs, STACK_OF(X509) *ours, X509 *issuer,
    char *err, size_t errlen)
{
	char why[256], signer_name[OCSPMSG_NAME_MAX], issuer_name[OCSPMSG_NAME_MAX];
	unsigned long e = ERR_peek_last_error();
	X509 *signer = NULL;

	if (e != 0)
		ocspmsg_ssl_reason(why, sizeof(why));
	else	/* OpenSSL says nothing when the CertIDs name an issuer the signer is not */
		snprintf(why, sizeof(why), "its answers are about another issuer");
	ocspmsg_name(X509_get_subject_name(issuer), issuer_name, sizeof(issuer_name));
	if (OCSP_resp_get0_signer(bs, &signer, ours) != 1) {
		ocspmsg_errf(err, errlen, "OCSP response signer is neither the issuer %s nor "
		    "among the response's certificates", issuer_name);
		return;
	}
	ocspmsg_name(X509_get_subject_name(signer), signer_name, sizeof(signer_name));
	if (ERR_GET_LIB(e) == ERR_LIB_OCSP && ERR_GET_REASON(e) == OCSP_R_SIGNATURE_FAILURE)
		ocspmsg_errf(err, errlen, "OCSP response signature does not verify with the "
		    "key of %s", signer_name);
	else
		ocspmsg_errf(err, errlen, "OCSP response signed by %s, which the issuer %s did "
		    "not authorise (%s)", signer_name, issuer_name, why);
}

/*
 * Accepts BS only if it is signed by ISSUER, or by a certificate that ISSUER issued for
 * OCSP signing and that is valid at NOW. The issuer is the only trust anchor (partial chain:
 * it may be an intermediate); the response's certificates only help find and chain the
 * signer. ISSUER is also offered as a candidate signer, since a CA that signs its own
 * responses need not include its certificate. No OCSP_TRUSTOTHER: nothing is trusted for
 * being in a list; OCSP_NOEXPLICIT: no aux trust setting can stand in for the EKU check.
 */
static enum ocspmsg_error
ocspmsg_check_signature(OCSP_BASICRESP *bs, X509 *issuer, time_t now, char *err,
    size_t errlen)
{
	X509_STORE *store = NULL;
	STACK_OF(X509) *ours = NULL;
	enum ocspmsg_error ret = OCSPMSG_E_NOMEM;
	int rc;

	if ((store = X509_STORE_new()) == NULL || X509_STORE_add_cert(store, issuer) != 1 ||
	    X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN) != 1 ||
	    (ours = sk_X509_new_null()) == NULL || sk_X509_push(ours, issuer) <= 0) {
		ocspmsg_errf(err, errlen, "cannot check the OCSP signature: out of memory");
		goto cleanup;
	}
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), now);
	rc = OCSP_basic_verify(bs, ours, store, OCSP_NOEXPLICIT);
	if (rc != 1) {
		ocspmsg_explain_signature(bs, ours, issuer, err, errlen);
		ret = OCSPMSG_E_SIGNATURE;
		goto cleanup;
	}
	ret = OCSPMSG_OK;
cleanup:
	sk_X509_free(ours);	/* borrowed the issuer, not a reference */
	X509_STORE_free(store);
	return ret;
}

/*
 * A nonce in the response must be our nonce, encoded as the request encoded it (an OCTET
 * STRING inside the extension value); no nonce at all is accepted (responders that
 * pre-produce answers cannot echo one).
 */
static enum ocspmsg_error
ocspmsg_check_nonce(OCSP_BASICRESP *bs, const struct ocspmsg_request *req, char *err,
    size_t errlen)
{
	unsigned char want[2 + sizeof(req->nonce)];
	const ASN1_OCTET_STRING *got;
	int idx;

	if (!req->has_nonce)
		return OCSPMSG_OK;
	idx = OCSP_BASICRESP_get_ext_by_NID(bs, NID_id_pkix_OCSP_Nonce, -1);
	if (idx < 0)
		return OCSPMSG_OK;
	if (OCSP_BASICRESP_get_ext_by_NID(bs, NID_id_pkix_OCSP_Nonce, idx) >= 0) {
		ocspmsg_errf(err, errlen, "OCSP response carries more than one nonce");
		return OCSPMSG_E_NONCE;
	}
	want[0] = V_ASN1_OCTET_STRING;
	want[1] = (unsigned char)sizeof(req->nonce);
	memcpy(want + 2, req->nonce, sizeof(req->nonce));
	got = X509_EXTENSION_get_data(OCSP_BASICRESP_get_ext(bs, idx));
	if (got == NULL || ASN1_STRING_length(got) != (int)sizeof(want) ||
	    memcmp(ASN1_STRING_get0_data(got), want, sizeof(want)) != 0) {
		ocspmsg_errf(err, errlen, "OCSP response nonce differs from the request's");
		return OCSPMSG_E_NONCE;
	}
	return OCSPMSG_OK;
}

static int
ocspmsg_time(const ASN1_GENERALIZEDTIME *t, time_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = timegm(&tm);
	return 0;
}

static void
ocspmsg_format_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "%lld", (long long)t);
}

/* Converts the borrowed times of S into OUT (before the response that holds them goes). */
static enum ocspmsg_error
ocspmsg_convert(const struct ocspmsg_single *s, struct ocspmsg_status *out, char *err,
    size_t errlen)
{
	switch (s->status) {
	case V_OCSP_CERTSTATUS_GOOD:
		out->verdict = OCSPMSG_GOOD;
		break;
	case V_OCSP_CERTSTATUS_REVOKED:
		out->verdict = OCSPMSG_REVOKED;
		out->reason = s->reason;
		if (ocspmsg_time(s->revoked_at, &out->revoked_at) != 0) {
			ocspmsg_errf(err, errlen, "OCSP response has an unreadable "
			    "revocationTime");
			return OCSPMSG_E_DECODE;
		}
		break;
	case V_OCSP_CERTSTATUS_UNKNOWN:
		out->verdict = OCSPMSG_UNKNOWN;
		break;
	default:
		ocspmsg_errf(err, errlen, "OCSP response has certificate status %d", s->status);
		return OCSPMSG_E_DECODE;
	}
	if (ocspmsg_time(s->this_update, &out->this_update) != 0 ||
	    (s->next_update != NULL && ocspmsg_time(s->next_update, &out->next_update) != 0)) {
		ocspmsg_errf(err, errlen, "OCSP response has an unreadable thisUpdate or "
		    "nextUpdate");
		return OCSPMSG_E_DECODE;
	}
	return OCSPMSG_OK;
}

/* thisUpdate <= NOW + SKEW, and NOW - SKEW <= nextUpdate when there is one. */
static enum ocspmsg_error
ocspmsg_check_window(const struct ocspmsg_status *st, bool has_next, time_t now,
    int64_t skew, char *err, size_t errlen)
{
	char when[64];
	int64_t ahead = (int64_t)st->this_update - (int64_t)now;
	int64_t behind = (int64_t)now - (int64_t)st->next_update;

	if (skew < 0)
		skew = 0;
	if (ahead > skew) {
		ocspmsg_format_time(st->this_update, when, sizeof(when));
		ocspmsg_errf(err, errlen, "OCSP response not yet valid: thisUpdate %s is %lld s "
		    "ahead", when, (long long)ahead);
		return OCSPMSG_E_STALE;
	}
	if (!has_next)
		return OCSPMSG_OK;
	if (st->next_update < st->this_update) {
		ocspmsg_errf(err, errlen, "OCSP response nextUpdate precedes its thisUpdate");
		return OCSPMSG_E_STALE;
	}
	if (behind > skew) {
		ocspmsg_format_time(st->next_update, when, sizeof(when));
		ocspmsg_errf(err, errlen, "OCSP response expired: nextUpdate %s passed %lld s "
		    "ago", when, (long long)behind);
		return OCSPMSG_E_STALE;
	}
	return OCSPMSG_OK;
}

/* The SingleResponse for REQ's CertID, judged at NOW. */
static enum ocspmsg_error
ocspmsg_check_single(OCSP_BASICRESP *bs, const struct ocspmsg_request *req, X509 *issuer,
    time_t now, int64_t skew, struct ocspmsg_status *out, char *err, size_t errlen)
{
	struct ocspmsg_single s = { .reason = -1 };
	char serial[2 * OCSPMSG_SERIAL_MAX + 8], issuer_name[OCSPMSG_NAME_MAX];
	enum ocspmsg_error ret;

	if (OCSP_resp_find_status(bs, req->id, &s.status, &s.reason, &s.revoked_at,
	    &s.this_update, &s.next_update) != 1) {
		ocspmsg_serial(req->id, serial, sizeof(serial));
		ocspmsg_name(X509_get_subject_name(issuer), issuer_name, sizeof(issuer_name));
		ocspmsg_errf(err, errlen, "OCSP response has no answer for serial %s of %s",
		    serial, issuer_name);
		return OCSPMSG_E_NO_MATCH;
	}
	ret = ocspmsg_convert(&s, out, err, errlen);
	if (ret != OCSPMSG_OK)
		return ret;
	return ocspmsg_check_window(out, s.next_update != NULL, now, skew, err, errlen);
}

enum ocspmsg_error
ocspmsg_verify(const unsigned char *der, size_t len, const struct ocspmsg_request *req,
    X509 *issuer, time_t now, int64_t skew, struct ocspmsg_status *out, char *err,
    size_t errlen)
{
	OCSP_BASICRESP *bs = NULL;
	struct ocspmsg_status st = { .verdict = OCSPMSG_UNKNOWN, .reason = -1 };
	enum ocspmsg_error ret;

	ocspmsg_errf(err, errlen, "%s", "");
	*out = st;
	ret = ocspmsg_decode(der, len, &bs, err, errlen);
	if (ret != OCSPMSG_OK)
		goto cleanup;
	ret = ocspmsg_check_signature(bs, issuer, now, err, errlen);
	if (ret != OCSPMSG_OK)
		goto cleanup;
	ret = ocspmsg_check_nonce(bs, req, err, errlen);
	if (ret != OCSPMSG_OK)
		goto cleanup;
	ret = ocspmsg_check_single(bs, req, issuer, now, skew, &st, err, errlen);
	if (ret != OCSPMSG_OK)
		goto cleanup;
	*out = st;
cleanup:
	OCSP_BASICRESP_free(bs);
	ERR_clear_error();
	return ret;
}

const char *
ocspmsg_verdict_name(enum ocspmsg_verdict v)
{
	switch (v) {
	case OCSPMSG_GOOD:
		return "good";
	case OCSPMSG_REVOKED:
		return "revoked";
	case OCSPMSG_UNKNOWN:
		return "unknown";
	}
	return "?";
}

const char *
ocspmsg_error_name(enum ocspmsg_error e)
{
	switch (e) {
	case OCSPMSG_OK:
		return "ok";
	case OCSPMSG_E_DECODE:
		return "ocsp-decode";
	case OCSPMSG_E_STATUS:
		return "ocsp-status";
	case OCSPMSG_E_SIGNATURE:
		return "ocsp-signature";
	case OCSPMSG_E_NO_MATCH:
		return "ocsp-no-match";
	case OCSPMSG_E_STALE:
		return "ocsp-stale";
	case OCSPMSG_E_NONCE:
		return "ocsp-nonce";
	case OCSPMSG_E_NOMEM:
		return "out-of-memory";
	}
	return "?";
}
