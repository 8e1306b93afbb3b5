#include "config.h"
#include "crl.h"

#include <endian.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

/*
 * Longest serial magnitude indexed. RFC 5280 allows 20 octets of two's complement; a positive
 * 20-octet serial with its top bit set (a CA bug that OpenSSL accepts) has 21 octets.
 */
#define CRL_SERIAL_MAX	21
#define CRL_NO_REASON	0xff
#define CRL_NUMBER_MAX	20	/* octets, RFC 5280 section 5.2.3 */

static const char crl_pem_marker[] = "-----BEGIN X509 CRL-----";

/*
 * One revoked serial: sign, length and big-endian magnitude without leading zeros (zero
 * padded), so that equal serials have equal bytes whatever their encoding; then the reason.
 * Everything before the reason is the search key.
 */
struct crl_entry {
	uint8_t	neg;
	uint8_t	len;
	uint8_t	mag[CRL_SERIAL_MAX];
	uint8_t	reason;		/* CRLReason code, or CRL_NO_REASON */
};
_Static_assert(sizeof(struct crl_entry) == 24 && offsetof(struct crl_entry, reason) == 23,
    "crl_entry: three words, the reason last");

/* One allocation: this header, COUNT sorted entries, then the two strings. */
struct crl {
	atomic_uint		 refs;
	time_t			 this_update;
	time_t			 next_update;
	size_t			 count;
	size_t			 memory;
	const char		*issuer_name;	/* points into this allocation */
	const char		*number;	/* points into this allocation */
	const char		*scope;		/* IDP URIs, '\n'-separated; "" = complete */
	bool			 only_user;	/* IDP onlyContainsUserCerts */
	struct crl_entry	 entries[];
};

/* The state of one crl_new call. */
struct crl_job {
	const unsigned char	*buf;
	size_t			 len;
	X509			*issuer;	/* borrowed */
	X509_CRL		*x;		/* owned until the index is built */
	char			*name;		/* owned; the CRL's issuer (at first: ISSUER's) */
	char			*number;	/* owned; decimal, "" when absent */
	char			*scope;		/* owned; IDP URIs, NULL when none */
	bool			 only_user;
	time_t			 this_update;
	time_t			 next_update;
	char			*msg;
	size_t			 msglen;
};

/*
 * Writes "CRL of <issuer>: <what>" to the caller's message buffer, with the reason of the
 * oldest OpenSSL error appended when WITH_OPENSSL. Returns ERR, for tail calls.
 */
static enum crl_error __attribute__((format(printf, 4, 5)))
crl_fail(struct crl_job *job, enum crl_error err, bool with_openssl, const char *fmt, ...)
{
	unsigned long code = with_openssl ? ERR_peek_error() : 0;
	const char *reason = code != 0 ? ERR_reason_error_string(code) : NULL;
	va_list ap;
	size_t off;
	int n;

	if (job->msg == NULL || job->msglen == 0)
		return err;
	n = snprintf(job->msg, job->msglen, "CRL of %s: ", job->name != NULL ? job->name : "?");
	off = n < 0 ? 0 : (size_t)n;
	if (off >= job->msglen)
		return err;
	va_start(ap, fmt);
	n = vsnprintf(job->msg + off, job->msglen - off, fmt, ap);
	va_end(ap);
	off += n < 0 ? 0 : (size_t)n;
	if (off >= job->msglen || code == 0)
		return err;
	if (reason != NULL)
		snprintf(job->msg + off, job->msglen - off, " (%s)", reason);
	else
		snprintf(job->msg + off, job->msglen - off, " (OpenSSL error %08lx)", code);
	return err;
}

/* NAME as RFC 4514 text (control and non-ASCII bytes escaped); NULL only when out of memory. */
static char *
crl_name_text(const X509_NAME *name)
{
	static const char unprintable[] = "(unprintable name)";
	BIO *bio = BIO_new(BIO_s_mem());
	const char *text = unprintable;
	char *data = NULL;
	char *out = NULL;
	long len = (long)sizeof(unprintable) - 1;

	if (bio == NULL)
		goto cleanup;
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0 &&
	    (len = BIO_get_mem_data(bio, &data)) >= 0)
		text = data;
	else
		len = (long)sizeof(unprintable) - 1;
	if ((out = malloc((size_t)len + 1)) == NULL)
		goto cleanup;
	if (len > 0)
		memcpy(out, text, (size_t)len);
	out[len] = '\0';
cleanup:
	BIO_free(bio);
	return out;
}

/* Never prompts: an encrypted PEM block is refused instead of reading a terminal. */
static int
crl_pem_no_password(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/* One DER header at *P (moved to its contents); -1 for errors and indefinite lengths. */
static int
crl_der_header(const unsigned char **p, const unsigned char *end, int *tag, long *len)
{
	int cls, ret;

	if (*p >= end)
		return -1;
	ret = ASN1_get_object(p, len, tag, &cls, (long)(end - *p));
	if ((ret & 0x80) != 0 || (ret & 0x01) != 0 || cls != V_ASN1_UNIVERSAL)
		return -1;
	return ret & V_ASN1_CONSTRUCTED;
}

/*
 * Counts revokedCertificates in DER without decoding them, stopping once past LIMIT, so that
 * an oversized CRL is refused before OpenSSL spends hundreds of bytes per entry on it.
 * Returns -1 when it cannot tell; d2i_X509_CRL and the count after it have the last word.
 */
static int
crl_der_count(const unsigned char *der, long len, size_t limit, size_t *count)
{
	const unsigned char *p = der, *end = der + len;
	bool after_time = false;
	int tag;
	long n;

	*count = 0;
	/* CertificateList, then TBSCertList: step into both. */
	for (int depth = 0; depth < 2; depth++) {
		if (crl_der_header(&p, end, &tag, &n) != V_ASN1_CONSTRUCTED ||
		    tag != V_ASN1_SEQUENCE)
			return -1;
		end = p + n;
	}
	/* version, signature, issuer, thisUpdate, nextUpdate: the first SEQUENCE after a time. */
	while (p < end) {
		int cons = crl_der_header(&p, end, &tag, &n);

		if (cons < 0)
			return -1;	/* [0] crlExtensions (context class) or junk */
		if (after_time && cons == V_ASN1_CONSTRUCTED && tag == V_ASN1_SEQUENCE)
			break;
		after_time = after_time || tag == V_ASN1_UTCTIME || tag == V_ASN1_GENERALIZEDTIME;
		p += n;
	}
	if (p >= end)
		return 0;
	for (end = p + n; p < end && *count <= limit; (*count)++) {
		if (crl_der_header(&p, end, &tag, &n) < 0)
			return -1;
		p += n;
	}
	return 0;
}

/* The DER of the first X509 CRL block of a PEM buffer; the caller frees it with OPENSSL_free. */
static enum crl_error
crl_pem_to_der(struct crl_job *job, unsigned char **der, long *len)
{
	BIO *bio;
	enum crl_error e = CRL_OK;

	if (job->len > INT_MAX)
		return crl_fail(job, CRL_E_DECODE, false, "PEM of %zu bytes is too large",
		    job->len);
	if ((bio = BIO_new_mem_buf(job->buf, (int)job->len)) == NULL)
		return crl_fail(job, CRL_E_NOMEM, true, "cannot read PEM");
	if (PEM_bytes_read_bio(der, len, NULL, PEM_STRING_X509_CRL, bio, crl_pem_no_password,
	    NULL) != 1)
		e = crl_fail(job, CRL_E_DECODE, true, "no readable X509 CRL block in PEM");
	BIO_free(bio);
	return e;
}

/* Decodes DER or PEM into job->x, refusing more than MAX_ENTRIES entries. */
static enum crl_error
crl_decode(struct crl_job *job, size_t max_entries)
{
	unsigned char *pem_der = NULL;
	const unsigned char *der = job->buf, *p;
	long len = 0;
	size_t n;
	enum crl_error e = CRL_OK;

	if (job->len > 0 && memmem(job->buf, job->len, crl_pem_marker,
	    sizeof(crl_pem_marker) - 1) != NULL) {
		if ((e = crl_pem_to_der(job, &pem_der, &len)) != CRL_OK)
			goto cleanup;
		der = pem_der;
	} else if (job->len > LONG_MAX) {
		e = crl_fail(job, CRL_E_DECODE, false, "%zu bytes are too many", job->len);
		goto cleanup;
	} else
		len = (long)job->len;
	/* The pre-count's errors are not the CRL's: d2i reports those. */
	ERR_set_mark();
	if (crl_der_count(der, len, max_entries, &n) == 0 && n > max_entries) {
		ERR_pop_to_mark();
		e = crl_fail(job, CRL_E_TOO_LARGE, false, "more than %zu entries", max_entries);
		goto cleanup;
	}
	ERR_pop_to_mark();
	p = der;
	if ((job->x = d2i_X509_CRL(NULL, &p, len)) == NULL) {
		e = crl_fail(job, CRL_E_DECODE, true, "not a DER CRL");
		goto cleanup;
	}
	if (p != der + len)
		e = crl_fail(job, CRL_E_DECODE, false, "%ld bytes follow the CRL",
		    (long)(der + len - p));
cleanup:
	OPENSSL_free(pem_der);
	return e;
}

static size_t
crl_revoked_count(X509_CRL *x)
{
	int n = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(x));

	return n < 0 ? 0 : (size_t)n;
}

/* Extension NID of the CRL decoded into *OUT (NULL when absent); refuses repeats and junk. */
static enum crl_error
crl_get_ext(struct crl_job *job, int nid, void **out)
{
	int crit = -1;

	*out = X509_CRL_get_ext_d2i(job->x, nid, &crit, NULL);
	if (*out == NULL && crit != -1)
		return crl_fail(job, CRL_E_DECODE, crit != -2, "%s extension is %s",
		    OBJ_nid2ln(nid), crit == -2 ? "repeated" : "malformed");
	return CRL_OK;
}

/* A complete CRL for every kind of certificate: refuses the scopes we cannot honour. */
/*
 * A CRL whose issuingDistributionPoint names a distribution point covers only the
 * certificates that name it too (a partitioned CRL): remember the URIs to check that.
 */
static enum crl_error
crl_read_scope(struct crl_job *job, const DIST_POINT_NAME *dpn)
{
	size_t len = 0;

	if (dpn->type != 0)
		return crl_fail(job, CRL_E_UNSUPPORTED, false, "names its distribution point "
		    "relative to its issuer");
	for (int i = 0; i < sk_GENERAL_NAME_num(dpn->name.fullname); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(dpn->name.fullname, i);
		const ASN1_IA5STRING *uri;
		char *grown;
		int n;

		if (gn->type != GEN_URI)
			continue;
		uri = gn->d.uniformResourceIdentifier;
		n = ASN1_STRING_length(uri);
		if (n <= 0 || n > 4096 || memchr(ASN1_STRING_get0_data(uri), '\0', (size_t)n) ||
		    memchr(ASN1_STRING_get0_data(uri), '\n', (size_t)n))
			return crl_fail(job, CRL_E_DECODE, false, "has a malformed distribution point");
		if ((grown = realloc(job->scope, len + (size_t)n + 2)) == NULL)
			return crl_fail(job, CRL_E_NOMEM, false, "out of memory");
		job->scope = grown;
		memcpy(job->scope + len, ASN1_STRING_get0_data(uri), (size_t)n);
		len += (size_t)n;
		job->scope[len++] = '\n';
		job->scope[len] = '\0';
	}
	return CRL_OK;
}

static enum crl_error
crl_check_idp(struct crl_job *job)
{
	ISSUING_DIST_POINT *idp;
	void *ext;
	enum crl_error e;

	if ((e = crl_get_ext(job, NID_issuing_distribution_point, &ext)) != CRL_OK)
		return e;
	if ((idp = ext) == NULL)
		return CRL_OK;
	if (idp->indirectCRL > 0)
		e = crl_fail(job, CRL_E_UNSUPPORTED, false, "is an indirect CRL");
	else if (idp->onlyattr > 0)
		e = crl_fail(job, CRL_E_UNSUPPORTED, false, "covers only attribute certificates");
	else if (idp->onlyCA > 0)
		e = crl_fail(job, CRL_E_UNSUPPORTED, false, "covers only CA certificates");
	else if (idp->onlysomereasons != NULL)
		e = crl_fail(job, CRL_E_UNSUPPORTED, false, "covers only some revocation reasons");
	else if (idp->distpoint != NULL)
		e = crl_read_scope(job, idp->distpoint);
	job->only_user = idp->onlyuser > 0;
	ISSUING_DIST_POINT_free(idp);
	return e;
}

/* Refuses delta CRLs and critical extensions we do not understand. */
static enum crl_error
crl_check_extensions(struct crl_job *job)
{
	const STACK_OF(X509_EXTENSION) *exts = X509_CRL_get0_extensions(job->x);
	char oid[128];

	for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, i);
		ASN1_OBJECT *obj = X509_EXTENSION_get_object(ext);

		switch (OBJ_obj2nid(obj)) {
		case NID_delta_crl:
			return crl_fail(job, CRL_E_UNSUPPORTED, false, "is a delta CRL");
		case NID_authority_key_identifier:
		case NID_crl_number:
		case NID_issuing_distribution_point:
			break;	/* understood, checked on their own */
		default:
			if (X509_EXTENSION_get_critical(ext) == 0)
				break;
			if (OBJ_obj2txt(oid, sizeof(oid), obj, 0) <= 0)
				snprintf(oid, sizeof(oid), "?");
			return crl_fail(job, CRL_E_UNSUPPORTED, false,
			    "unknown critical extension %s", oid);
		}
	}
	return crl_check_idp(job);
}

/* The CRL names the issuer and its key (when both say which), and the key may sign CRLs. */
static enum crl_error
crl_check_issuer(struct crl_job *job)
{
	AUTHORITY_KEYID *akid = NULL;
	const ASN1_OCTET_STRING *skid;
	uint32_t usage;
	char *want = NULL;
	void *ext;
	enum crl_error e;

	if (X509_NAME_cmp(X509_CRL_get_issuer(job->x), X509_get_subject_name(job->issuer)) != 0) {
		want = crl_name_text(X509_get_subject_name(job->issuer));
		e = crl_fail(job, CRL_E_ISSUER, false, "expected a CRL of %s",
		    want != NULL ? want : "the configured issuer");
		goto cleanup;
	}
	if ((e = crl_get_ext(job, NID_authority_key_identifier, &ext)) != CRL_OK)
		goto cleanup;
	akid = ext;
	skid = X509_get0_subject_key_id(job->issuer);
	if (akid != NULL && akid->keyid != NULL && skid != NULL &&
	    ASN1_OCTET_STRING_cmp(akid->keyid, skid) != 0) {
		e = crl_fail(job, CRL_E_ISSUER, false, "authority key identifier names another "
		    "key than the issuer certificate's");
		goto cleanup;
	}
	/* UINT32_MAX: no keyUsage extension, so any use is allowed. */
	usage = X509_get_key_usage(job->issuer);
	if (usage != UINT32_MAX && (usage & KU_CRL_SIGN) == 0)
		e = crl_fail(job, CRL_E_ISSUER, false,
		    "the issuer certificate's key usage does not include cRLSign");
cleanup:
	AUTHORITY_KEYID_free(akid);
	free(want);
	return e;
}

static enum crl_error
crl_check_signature(struct crl_job *job)
{
	EVP_PKEY *key = X509_get0_pubkey(job->issuer);
	int ret;

	if (key == NULL)
		return crl_fail(job, CRL_E_ISSUER, true,
		    "the issuer certificate has no usable public key");
	/* 0: a wrong signature (OpenSSL says only "EVP lib"); -1: why it could not verify. */
	if ((ret = X509_CRL_verify(job->x, key)) != 1)
		return crl_fail(job, CRL_E_SIGNATURE, ret < 0,
		    "signature does not verify with the issuer's key");
	return CRL_OK;
}

static int
crl_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = timegm(&tm);
	return 0;
}

/* Reads thisUpdate and nextUpdate; thisUpdate may be at most SKEW seconds after NOW. */
static enum crl_error
crl_check_times(struct crl_job *job, time_t now, int64_t skew)
{
	const ASN1_TIME *next = X509_CRL_get0_nextUpdate(job->x);
	int64_t ahead;
	struct tm tm;
	char when[32];

	if (crl_time(X509_CRL_get0_lastUpdate(job->x), &job->this_update) != 0)
		return crl_fail(job, CRL_E_DECODE, true, "thisUpdate is malformed");
	job->next_update = 0;
	if (next != NULL && crl_time(next, &job->next_update) != 0)
		return crl_fail(job, CRL_E_DECODE, true, "nextUpdate is malformed");
	ahead = (int64_t)job->this_update - (int64_t)now;
	if (job->this_update <= now || ahead <= skew)
		return CRL_OK;
	if (gmtime_r(&job->this_update, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(when, sizeof(when), "?");
	return crl_fail(job, CRL_E_FUTURE, false, "thisUpdate %s is %lld s ahead of the clock "
	    "(allowed skew: %lld s)", when, (long long)ahead, (long long)skew);
}

/* The CRL number as decimal text into job->number ("" without one). */
static enum crl_error
crl_read_number(struct crl_job *job)
{
	ASN1_INTEGER *num;
	BIGNUM *bn = NULL;
	char *dec = NULL;
	void *ext;
	enum crl_error e;

	if ((e = crl_get_ext(job, NID_crl_number, &ext)) != CRL_OK)
		return e;
	if ((num = ext) != NULL && ASN1_STRING_length(num) > CRL_NUMBER_MAX) {
		e = crl_fail(job, CRL_E_DECODE, false, "CRL number is longer than %d octets",
		    CRL_NUMBER_MAX);
		goto cleanup;
	}
	if (num != NULL && ((bn = ASN1_INTEGER_to_BN(num, NULL)) == NULL ||
	    (dec = BN_bn2dec(bn)) == NULL)) {
		e = crl_fail(job, CRL_E_NOMEM, true, "cannot convert the CRL number");
		goto cleanup;
	}
	if ((job->number = strdup(dec != NULL ? dec : "")) == NULL)
		e = crl_fail(job, CRL_E_NOMEM, false, "out of memory");
cleanup:
	OPENSSL_free(dec);
	BN_free(bn);
	ASN1_INTEGER_free(num);
	return e;
}

/* Fills E's key from SERIAL. Returns -1 when the magnitude exceeds CRL_SERIAL_MAX octets. */
static int
crl_entry_key(struct crl_entry *e, const ASN1_INTEGER *serial)
{
	const unsigned char *p = ASN1_STRING_get0_data(serial);
	int n = ASN1_STRING_length(serial);

	memset(e, 0, sizeof(*e));
	e->reason = CRL_NO_REASON;
	while (n > 0 && *p == 0) {
		p++;
		n--;
	}
	if (n > CRL_SERIAL_MAX)
		return -1;
	if (n > 0) {
		memcpy(e->mag, p, (size_t)n);
		e->neg = ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER;
	}
	e->len = (uint8_t)n;
	return 0;
}

/* Reads the CRLReason of entry I (1-based, for messages) and refuses what we cannot honour. */
static enum crl_error
crl_entry_exts(struct crl_job *job, size_t i, const X509_REVOKED *rev, uint8_t *reason)
{
	const STACK_OF(X509_EXTENSION) *exts = X509_REVOKED_get0_extensions(rev);
	ASN1_ENUMERATED *code;
	char oid[128];
	long v;

	for (int j = 0; j < sk_X509_EXTENSION_num(exts); j++) {
		X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, j);
		ASN1_OBJECT *obj = X509_EXTENSION_get_object(ext);

		switch (OBJ_obj2nid(obj)) {
		case NID_crl_reason:
			if (*reason != CRL_NO_REASON)
				return crl_fail(job, CRL_E_DECODE, false,
				    "entry %zu repeats its reason code", i);
			if ((code = X509V3_EXT_d2i(ext)) == NULL)
				return crl_fail(job, CRL_E_DECODE, true,
				    "entry %zu has a malformed reason code", i);
			v = ASN1_ENUMERATED_get(code);
			ASN1_ENUMERATED_free(code);
			/* RFC 5280 section 5.3.1: 0 to 10, 7 unused. */
			if (v < 0 || v > 10 || v == 7)
				return crl_fail(job, CRL_E_DECODE, false,
				    "entry %zu has the undefined reason code %ld", i, v);
			*reason = (uint8_t)v;
			break;
		case NID_certificate_issuer:
			return crl_fail(job, CRL_E_UNSUPPORTED, false,
			    "entry %zu names a certificate issuer (indirect CRL)", i);
		default:
			if (X509_EXTENSION_get_critical(ext) == 0)
				break;
			if (OBJ_obj2txt(oid, sizeof(oid), obj, 0) <= 0)
				snprintf(oid, sizeof(oid), "?");
			return crl_fail(job, CRL_E_UNSUPPORTED, false,
			    "entry %zu has an unknown critical extension %s", i, oid);
		}
	}
	return CRL_OK;
}

/* Copies the entries and strings into one new allocation, in CRL order (unsorted). */
static enum crl_error
crl_index(struct crl_job *job, struct crl **out)
{
	STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(job->x);
	size_t n = crl_revoked_count(job->x);
	size_t namelen = strlen(job->name) + 1, numlen = strlen(job->number) + 1;
	size_t scopelen = (job->scope != NULL ? strlen(job->scope) : 0) + 1;
	size_t size = sizeof(struct crl) + namelen + numlen + scopelen;
	struct crl *crl = NULL;
	char *strings;
	enum crl_error e = CRL_OK;

	if (n <= (SIZE_MAX - size) / sizeof(struct crl_entry)) {
		size += n * sizeof(struct crl_entry);
		crl = malloc(size);
	}
	if (crl == NULL)
		return crl_fail(job, CRL_E_NOMEM, false, "cannot allocate the index of %zu entries",
		    n);
	for (size_t i = 0; i < n; i++) {
		const X509_REVOKED *rev = sk_X509_REVOKED_value(revs, (int)i);

		if (crl_entry_key(&crl->entries[i], X509_REVOKED_get0_serialNumber(rev)) != 0) {
			e = crl_fail(job, CRL_E_DECODE, false, "entry %zu has a serial longer "
			    "than %d octets", i + 1, CRL_SERIAL_MAX);
			goto cleanup;
		}
		if ((e = crl_entry_exts(job, i + 1, rev, &crl->entries[i].reason)) != CRL_OK)
			goto cleanup;
	}
	strings = (char *)&crl->entries[n];
	memcpy(strings, job->name, namelen);
	memcpy(strings + namelen, job->number, numlen);
	memcpy(strings + namelen + numlen, job->scope != NULL ? job->scope : "", scopelen);
	crl->scope = strings + namelen + numlen;
	crl->only_user = job->only_user;
	atomic_init(&crl->refs, 1);
	crl->this_update = job->this_update;
	crl->next_update = job->next_update;
	crl->count = n;
	crl->memory = size;
	crl->issuer_name = strings;
	crl->number = strings + namelen;
	*out = crl;
	crl = NULL;
cleanup:
	free(crl);
	return e;
}

/*
 * Orders records as memcmp would, a big-endian word at a time: most serials differ in the
 * first word (sign, length, 6 octets), and sorting a million entries takes 0.23 s instead of
 * memcmp's 0.35 s. KEY_ONLY leaves out the reason, the record's last byte.
 */
static int
crl_entry_order(const struct crl_entry *a, const struct crl_entry *b, bool key_only)
{
	const unsigned char *pa = (const unsigned char *)a, *pb = (const unsigned char *)b;
	uint64_t x, y;

	for (size_t off = 0; off < sizeof(*a); off += sizeof(x)) {
		memcpy(&x, pa + off, sizeof(x));
		memcpy(&y, pb + off, sizeof(y));
		x = be64toh(x);
		y = be64toh(y);
		if (key_only && off + sizeof(x) == sizeof(*a)) {
			x >>= 8;
			y >>= 8;
		}
		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}

static int
crl_entry_cmp(const void *a, const void *b)
{
	/* The whole record, so that duplicates order by reason and lookups are deterministic. */
	return crl_entry_order(a, b, false);
}

struct crl *
crl_new(const unsigned char *buf, size_t len, X509 *issuer, time_t now, int64_t skew,
    size_t max_entries, enum crl_error *err, char *msg, size_t msglen)
{
	struct crl_job job = { .buf = buf, .len = len, .issuer = issuer, .msg = msg,
	    .msglen = msglen };
	struct crl *crl = NULL;
	enum crl_error e;

	if (msg != NULL && msglen > 0)
		msg[0] = '\0';
	/* Errors already queued are not this CRL's: keep them out of its messages. */
	ERR_clear_error();
	/* Until the CRL names its issuer, messages name the one we expected. */
	if ((job.name = crl_name_text(X509_get_subject_name(issuer))) == NULL) {
		e = crl_fail(&job, CRL_E_NOMEM, false, "out of memory");
		goto cleanup;
	}
	if ((e = crl_decode(&job, max_entries)) != CRL_OK)
		goto cleanup;
	free(job.name);
	if ((job.name = crl_name_text(X509_CRL_get_issuer(job.x))) == NULL) {
		e = crl_fail(&job, CRL_E_NOMEM, false, "out of memory");
		goto cleanup;
	}
	if (crl_revoked_count(job.x) > max_entries) {
		e = crl_fail(&job, CRL_E_TOO_LARGE, false, "%zu entries, more than %zu",
		    crl_revoked_count(job.x), max_entries);
		goto cleanup;
	}
	if ((e = crl_check_extensions(&job)) != CRL_OK ||
	    (e = crl_check_issuer(&job)) != CRL_OK ||
	    (e = crl_check_signature(&job)) != CRL_OK ||
	    (e = crl_check_times(&job, now, skew)) != CRL_OK ||
	    (e = crl_read_number(&job)) != CRL_OK ||
	    (e = crl_index(&job, &crl)) != CRL_OK)
		goto cleanup;
	/* The index holds all we keep: give OpenSSL's copy back before sorting. */
	X509_CRL_free(job.x);
	job.x = NULL;
	qsort(crl->entries, crl->count, sizeof(crl->entries[0]), crl_entry_cmp);
cleanup:
	X509_CRL_free(job.x);
	free(job.name);
	free(job.number);
	free(job.scope);
	/* Leave no stale error for the next TLS call on this thread to trip over. */
	ERR_clear_error();
	*err = e;
	return crl;
}

struct crl *
crl_ref(struct crl *crl)
{
	if (crl != NULL)
		atomic_fetch_add_explicit(&crl->refs, 1, memory_order_relaxed);
	return crl;
}

void
crl_unref(struct crl *crl)
{
	if (crl != NULL && atomic_fetch_sub_explicit(&crl->refs, 1, memory_order_acq_rel) == 1)
		free(crl);
}

bool
crl_lookup(const struct crl *crl, const ASN1_INTEGER *serial, int *reason)
{
	struct crl_entry key;
	size_t lo = 0, hi = crl->count;

	if (reason != NULL)
		*reason = -1;
	if (serial == NULL || crl_entry_key(&key, serial) != 0)
		return false;	/* too long to be listed: crl_new refuses such entries */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (crl_entry_order(&crl->entries[mid], &key, true) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == crl->count || crl_entry_order(&crl->entries[lo], &key, true) != 0)
		return false;
	if (reason != NULL && crl->entries[lo].reason != CRL_NO_REASON)
		*reason = crl->entries[lo].reason;
	return true;
}

time_t
crl_this_update(const struct crl *crl)
{
	return crl->this_update;
}

time_t
crl_next_update(const struct crl *crl)
{
	return crl->next_update;
}

size_t
crl_count(const struct crl *crl)
{
	return crl->count;
}

size_t
crl_memory(const struct crl *crl)
{
	return crl->memory;
}

const char *
crl_issuer_name(const struct crl *crl)
{
	return crl->issuer_name;
}

const char *
crl_number(const struct crl *crl)
{
	return crl->number;
}

const char *
crl_error_name(enum crl_error err)
{
	switch (err) {
	case CRL_OK:
		return "ok";
	case CRL_E_DECODE:
		return "crl-decode";
	case CRL_E_TOO_LARGE:
		return "crl-too-large";
	case CRL_E_UNSUPPORTED:
		return "crl-unsupported";
	case CRL_E_ISSUER:
		return "crl-issuer";
	case CRL_E_SIGNATURE:
		return "crl-signature";
	case CRL_E_FUTURE:
		return "crl-future";
	case CRL_E_NOMEM:
		return "out-of-memory";
	}
	return "crl-unknown";
}

bool
crl_covers(const struct crl *crl, X509 *cert)
{
	STACK_OF(DIST_POINT) *dps;
	bool found = false;

	if (crl->only_user && X509_check_ca(cert) != 0)
		return false;
	if (crl->scope[0] == '\0')
		return true;
	/* A partitioned CRL: the certificate must name one of its distribution points. */
	dps = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
	for (int i = 0; dps != NULL && !found && i < sk_DIST_POINT_num(dps); i++) {
		const DIST_POINT *dp = sk_DIST_POINT_value(dps, i);

		if (dp->distpoint == NULL || dp->distpoint->type != 0)
			continue;
		for (int j = 0; !found && j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname); j++) {
			const GENERAL_NAME *gn = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, j);
			const char *p = crl->scope;
			size_t n;

			if (gn->type != GEN_URI)
				continue;
			n = (size_t)ASN1_STRING_length(gn->d.uniformResourceIdentifier);
			for (; *p != '\0' && !found; p = strchr(p, '\n') + 1)
				found = strcspn(p, "\n") == n && memcmp(p,
				    ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier), n) == 0;
		}
	}
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	ERR_clear_error();
	return found;
}

bool
crl_is_partitioned(const struct crl *crl)
{
	return crl->scope[0] != '\0';
}
