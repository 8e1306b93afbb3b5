#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ocspmsg.h"
#include "testpki.h"

#define SKEW	300
#define HOUR	3600
#define DAY	(24 * HOUR)

/* One PKI for the whole run, made in main() before any test forks. */
static struct testpki *pki;
static time_t now;

/* Responders and CAs beyond the common PKI. */
static struct testpki_entity responder;		/* ca's delegate, with OCSPSigning */
static struct testpki_entity responder_no_eku;	/* issued by ca, clientAuth only */
static struct testpki_entity responder_expired;	/* ca's delegate, expired yesterday */
static struct testpki_entity responder_other;	/* other_ca's delegate, with OCSPSigning */
static struct testpki_entity rogue;		/* self-signed, with OCSPSigning */
static struct testpki_entity intermediate;	/* CA issued by ca */
static struct testpki_entity inter_client;	/* issued by intermediate */
static struct testpki_entity inter_responder;	/* intermediate's delegate */

/* A self-signed certificate has no issuer key id to point at. */
static const struct testpki_ext rogue_exts[] = {
	{ NID_key_usage, "critical,digitalSignature" },
	{ NID_ext_key_usage, "OCSPSigning" },
	{ NID_undef, NULL },
};

static void
make_fixtures(void)
{
	struct testpki_cert_spec expired = {
		.subject = testpki_name("CN", "Expired Responder", NULL),
		.issuer = pki->ca.cert,
		.issuer_key = pki->ca.key,
		.not_before = -2 * DAY,
		.not_after = -DAY,
		.exts = testpki_ext_ocsp_responder,
	};

	testpki_issue(&responder, testpki_name("CN", "OCSP Responder", NULL), &pki->ca,
	    testpki_ext_ocsp_responder);
	testpki_issue(&responder_no_eku, testpki_name("CN", "Not A Responder", NULL), &pki->ca,
	    testpki_ext_client);
	testpki_issue(&responder_other, testpki_name("CN", "Other Responder", NULL),
	    &pki->other_ca, testpki_ext_ocsp_responder);
	testpki_issue(&rogue, testpki_name("CN", "Rogue Responder", NULL), NULL,
	    rogue_exts);
	testpki_issue(&intermediate, testpki_name("CN", "Intermediate CA", NULL), &pki->ca,
	    testpki_ext_ca);
	testpki_issue(&inter_client, testpki_name("CN", "bob", NULL), &intermediate,
	    testpki_ext_client);
	testpki_issue(&inter_responder, testpki_name("CN", "Intermediate Responder", NULL),
	    &intermediate, testpki_ext_ocsp_responder);
	responder_expired.key = testpki_key_new();
	expired.key = responder_expired.key;
	responder_expired.cert = testpki_cert_new(&expired);
	X509_NAME_free(expired.subject);
}

static void
free_fixtures(void)
{
	testpki_entity_clear(&responder);
	testpki_entity_clear(&responder_no_eku);
	testpki_entity_clear(&responder_expired);
	testpki_entity_clear(&responder_other);
	testpki_entity_clear(&rogue);
	testpki_entity_clear(&intermediate);
	testpki_entity_clear(&inter_client);
	testpki_entity_clear(&inter_responder);
}

/* A client certificate for CN issued by ISSUER, with SERIAL (hex; NULL: random). */
static X509 *
issue_serial(const char *cn, const struct testpki_entity *issuer, const char *serial)
{
	X509_NAME *name = testpki_name("CN", cn, NULL);
	EVP_PKEY *key = testpki_key_new();
	struct testpki_cert_spec spec = { name, key, issuer->cert, issuer->key, serial, -60,
	    DAY, testpki_ext_client };
	X509 *cert = testpki_cert_new(&spec);

	X509_NAME_free(name);
	EVP_PKEY_free(key);
	return cert;
}

static void
request(struct ocspmsg_request *req, X509 *cert, X509 *issuer, bool nonce)
{
	char err[256];

	ck_assert_msg(ocspmsg_request_init(req, cert, issuer, nonce, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_uint_eq(ERR_peek_error(), 0);
}

/* The usual answer: client is good, signed by ca, valid from a minute ago for an hour. */
static struct testpki_ocsp_spec
good_spec(void)
{
	struct testpki_ocsp_spec spec = {
		.cert = pki->client.cert,
		.issuer = pki->ca.cert,
		.status = V_OCSP_CERTSTATUS_GOOD,
		.reason = -1,
		.this_update = now - 60,
		.next_update = now + HOUR,
		.signer = pki->ca.cert,
		.signer_key = pki->ca.key,
	};

	return spec;
}

static void
signed_by(struct testpki_ocsp_spec *spec, const struct testpki_entity *signer)
{
	spec->signer = signer->cert;
	spec->signer_key = signer->key;
}

/* Verifies LEN bytes at DER and checks that nothing is left in the OpenSSL error queue. */
static enum ocspmsg_error
verify_at(const unsigned char *der, size_t len, const struct ocspmsg_request *req,
    X509 *issuer, time_t at, struct ocspmsg_status *st, char *err, size_t errlen)
{
	enum ocspmsg_error e = ocspmsg_verify(der, len, req, issuer, at, SKEW, st, err, errlen);

	ck_assert_uint_eq(ERR_peek_error(), 0);
	ck_assert_msg((e == OCSPMSG_OK) == (err[0] == '\0'), "error %s with message \"%s\"",
	    ocspmsg_error_name(e), err);
	if (e != OCSPMSG_OK)
		ck_assert_int_eq(st->verdict, OCSPMSG_UNKNOWN);	/* never a stray "good" */
	return e;
}

/* Builds SPEC's response and judges it as the answer to REQ about a cert of ISSUER. */
static enum ocspmsg_error
judge_at(const struct testpki_ocsp_spec *spec, const struct ocspmsg_request *req,
    X509 *issuer, time_t at, struct ocspmsg_status *st, char *err, size_t errlen)
{
	size_t len;
	unsigned char *der = testpki_ocsp_response(spec, &len);
	enum ocspmsg_error e = verify_at(der, len, req, issuer, at, st, err, errlen);

	free(der);
	return e;
}

/* SPEC judged as the answer to a request (with or without nonce) for client of ca, now. */
static enum ocspmsg_error
judge(const struct testpki_ocsp_spec *spec, struct ocspmsg_status *st, char *err,
    size_t errlen)
{
	struct ocspmsg_request req;
	enum ocspmsg_error e;

	request(&req, pki->client.cert, pki->ca.cert, false);
	e = judge_at(spec, &req, pki->ca.cert, now, st, err, errlen);
	ocspmsg_request_clear(&req);
	return e;
}

static void
assert_contains(const char *haystack, const char *needle)
{
	ck_assert_msg(strstr(haystack, needle) != NULL, "\"%s\" lacks \"%s\"", haystack,
	    needle);
}

/* -------------------------------------------------------------------------------------- */

START_TEST(key_is_the_certid_hashes_then_length_sign_byte_and_serial)
{
	struct ocspmsg_key key;
	OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), pki->client.cert, pki->ca.cert);
	ASN1_OCTET_STRING *name_hash = NULL, *key_hash = NULL;
	ASN1_INTEGER *serial = NULL;
	const ASN1_INTEGER *cert_serial = X509_get0_serialNumber(pki->client.cert);
	int slen = ASN1_STRING_length(cert_serial);

	ck_assert_ptr_nonnull(id);
	ck_assert_int_eq(OCSP_id_get0_info(&name_hash, NULL, &key_hash, &serial, id), 1);
	ck_assert_int_eq(ocspmsg_key(pki->client.cert, pki->ca.cert, &key), 0);
	ck_assert_uint_eq(key.len, 41 + (size_t)slen);
	ck_assert_int_eq(ASN1_STRING_length(name_hash), 20);
	ck_assert_int_eq(ASN1_STRING_length(key_hash), 20);
	ck_assert_mem_eq(key.bytes, ASN1_STRING_get0_data(name_hash), 20);
	ck_assert_mem_eq(key.bytes + 20, ASN1_STRING_get0_data(key_hash), 20);
	ck_assert_uint_eq(key.bytes[40], (unsigned)slen);
	ck_assert_mem_eq(key.bytes + 41, ASN1_STRING_get0_data(cert_serial), (size_t)slen);
	OCSP_CERTID_free(id);
}
END_TEST

START_TEST(same_serial_under_sibling_issuers_gives_different_keys)
{
	X509 *ours = issue_serial("twin", &pki->ca, "1001");
	X509 *theirs = issue_serial("twin", &pki->other_ca, "1001");
	X509 *again = issue_serial("twin again", &pki->ca, "1001");
	struct ocspmsg_key a, b, c;

	ck_assert_int_eq(ocspmsg_key(ours, pki->ca.cert, &a), 0);
	ck_assert_int_eq(ocspmsg_key(theirs, pki->other_ca.cert, &b), 0);
	ck_assert_int_eq(ocspmsg_key(again, pki->ca.cert, &c), 0);
	ck_assert_uint_eq(a.len, b.len);
	ck_assert(memcmp(a.bytes, b.bytes, a.len) != 0);
	ck_assert_uint_eq(a.len, c.len);			/* same issuer, same serial */
	ck_assert_mem_eq(a.bytes, c.bytes, a.len);
	X509_free(ours);
	X509_free(theirs);
	X509_free(again);
}
END_TEST

START_TEST(negative_serial_has_another_key_than_its_magnitude)
{
	X509 *pos = issue_serial("positive", &pki->ca, "1001");
	X509 *neg = issue_serial("negative", &pki->ca, "-1001");
	struct ocspmsg_key a, b;

	ck_assert_int_eq(ocspmsg_key(pos, pki->ca.cert, &a), 0);
	ck_assert_int_eq(ocspmsg_key(neg, pki->ca.cert, &b), 0);
	ck_assert_uint_eq(a.len, b.len);
	ck_assert(memcmp(a.bytes, b.bytes, a.len) != 0);
	X509_free(pos);
	X509_free(neg);
}
END_TEST

START_TEST(serial_longer_than_64_octets_has_no_key)
{
	char hex[2 * 65 + 1];
	X509 *cert;
	struct ocspmsg_key key;

	memset(hex, '7', sizeof(hex) - 1);
	hex[sizeof(hex) - 1] = '\0';
	cert = issue_serial("long serial", &pki->ca, hex);
	ck_assert_int_eq(ocspmsg_key(cert, pki->ca.cert, &key), -1);
	ck_assert_uint_eq(key.len, 0);
	hex[2 * 64] = '\0';
	X509_free(cert);
	cert = issue_serial("longest serial", &pki->ca, hex);
	ck_assert_int_eq(ocspmsg_key(cert, pki->ca.cert, &key), 0);
	ck_assert_uint_eq(key.len, OCSPMSG_KEY_MAX);
	X509_free(cert);
	ck_assert_uint_eq(ERR_peek_error(), 0);
}
END_TEST

START_TEST(request_holds_one_certid_for_the_certificate_and_no_nonce_unless_asked)
{
	struct ocspmsg_request req;
	const unsigned char *p;
	OCSP_REQUEST *ocsp;
	OCSP_CERTID *want = OCSP_cert_to_id(EVP_sha1(), pki->client.cert, pki->ca.cert);

	request(&req, pki->client.cert, pki->ca.cert, false);
	ck_assert(!req.has_nonce);
	p = req.der;
	ocsp = d2i_OCSP_REQUEST(NULL, &p, (long)req.len);
	ck_assert_ptr_nonnull(ocsp);
	ck_assert_ptr_eq(p, req.der + req.len);
	ck_assert_int_eq(OCSP_request_onereq_count(ocsp), 1);
	ck_assert_int_eq(OCSP_id_cmp(OCSP_onereq_get0_id(OCSP_request_onereq_get0(ocsp, 0)),
	    want), 0);
	ck_assert_int_eq(OCSP_id_cmp(req.id, want), 0);
	ck_assert_int_lt(OCSP_REQUEST_get_ext_by_NID(ocsp, NID_id_pkix_OCSP_Nonce, -1), 0);
	OCSP_REQUEST_free(ocsp);
	OCSP_CERTID_free(want);
	ocspmsg_request_clear(&req);
}
END_TEST

START_TEST(request_nonce_is_sixteen_random_bytes_in_an_octet_string)
{
	struct ocspmsg_request a, b;
	const unsigned char *p;
	OCSP_REQUEST *ocsp;
	const ASN1_OCTET_STRING *value;
	int idx;

	request(&a, pki->client.cert, pki->ca.cert, true);
	request(&b, pki->client.cert, pki->ca.cert, true);
	ck_assert(a.has_nonce);
	ck_assert(memcmp(a.nonce, b.nonce, sizeof(a.nonce)) != 0);
	p = a.der;
	ocsp = d2i_OCSP_REQUEST(NULL, &p, (long)a.len);
	ck_assert_ptr_nonnull(ocsp);
	idx = OCSP_REQUEST_get_ext_by_NID(ocsp, NID_id_pkix_OCSP_Nonce, -1);
	ck_assert_int_ge(idx, 0);
	value = X509_EXTENSION_get_data(OCSP_REQUEST_get_ext(ocsp, idx));
	ck_assert_int_eq(ASN1_STRING_length(value), 18);
	ck_assert_uint_eq(ASN1_STRING_get0_data(value)[0], V_ASN1_OCTET_STRING);
	ck_assert_uint_eq(ASN1_STRING_get0_data(value)[1], 16);
	ck_assert_mem_eq(ASN1_STRING_get0_data(value) + 2, a.nonce, 16);
	OCSP_REQUEST_free(ocsp);
	ocspmsg_request_clear(&a);
	ocspmsg_request_clear(&b);
}
END_TEST

START_TEST(request_clear_is_safe_twice_and_on_a_zeroed_struct)
{
	struct ocspmsg_request req;

	request(&req, pki->client.cert, pki->ca.cert, true);
	ocspmsg_request_clear(&req);
	ck_assert_ptr_null(req.der);
	ck_assert_ptr_null(req.id);
	ocspmsg_request_clear(&req);
	memset(&req, 0, sizeof(req));
	ocspmsg_request_clear(&req);
}
END_TEST

/* -------------------------------------------------------------------------------------- */

START_TEST(good_answer_signed_by_the_issuer_is_good)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_status st;
	char err[256];

	ck_assert_int_eq(judge(&spec, &st, err, sizeof(err)), OCSPMSG_OK);
	ck_assert_int_eq(st.verdict, OCSPMSG_GOOD);
	ck_assert_int_eq(st.this_update, now - 60);
	ck_assert_int_eq(st.next_update, now + HOUR);
	ck_assert_int_eq(st.revoked_at, 0);
	ck_assert_int_eq(st.reason, -1);
}
END_TEST

START_TEST(issuer_need_not_include_its_own_certificate)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_status st;
	char err[256];

	spec.no_certs = true;
	ck_assert_int_eq(judge(&spec, &st, err, sizeof(err)), OCSPMSG_OK);
	ck_assert_int_eq(st.verdict, OCSPMSG_GOOD);
}
END_TEST

START_TEST(responder_id_by_key_is_accepted)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_status st;
	char err[256];

	spec.by_key = true;
	spec.no_certs = true;
	ck_assert_int_eq(judge(&spec, &st, err, sizeof(err)), OCSPMSG_OK);
	spec = good_spec();
	signed_by(&spec, &responder);
	spec.by_key = true;
	ck_assert_int_eq(judge(&spec, &st, err, sizeof(err)), OCSPMSG_OK);
}
END_TEST

START_TEST(revoked_answer_carries_its_time_and_reason)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_status st;
	char err[256];

	spec.status = V_OCSP_CERTSTATUS_REVOKED;
	spec.reason = OCSP_REVOKED_STATUS_KEYCOMPROMISE;
	spec.revoked_at = now - DAY;
	ck_assert_int_eq(judge(&spec, &st, err, sizeof(err)), OCSPMSG_OK);
	ck_assert_int_eq(st.verdict, OCSPMSG_REVOKED);
	ck_assert_int_eq(st.revoked_at, now - DAY);
	ck_assert_int_eq(st.reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
}
END_TEST

START_TEST(revoked_answer_without_reason_gives_minus_one)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_status st;
	char err[256];

	spec.status = V_OCSP_CERTSTATUS_REVOKED;
	spec.reason = -1;
	spec.revoked_at = now - HOUR;
	ck_assert_int_eq(judge(&spec, &st, err, sizeof(err)), OCSPMSG_OK);
	ck_assert_int_eq(st.verdict, OCSPMSG_REVOKED);
	ck_assert_int_eq(st.reason, -1);
	ck_assert_int_eq(st.revoked_at, now - HOUR);
}
END_TEST

START_TEST(unknown_answer_is_unknown)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_status st;
	char err[256];

	spec.status = V_OCSP_CERTSTATUS_UNKNOWN;
	ck_assert_int_eq(judge(&spec, &st, err, sizeof(err)), OCSPMSG_OK);
	ck_assert_int_eq(st.verdict, OCSPMSG_UNKNOWN);
}
END_TEST

/* -------------------------------------------------------------------------------------- */

START_TEST(delegate_with_ocsp_signing_issued_by_the_issuer_is_accepted)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_status st;
	char err[256];

	signed_by(&spec, &responder);
	ck_assert_int_eq(judge(&spec, &st, err, sizeof(err)), OCSPMSG_OK);
	ck_assert_int_eq(st.verdict, OCSPMSG_GOOD);
}
END_TEST

START_TEST(delegate_without_ocsp_signing_is_refused_by_name)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_status st;
	char err[256];

	signed_by(&spec, &responder_no_eku);
	ck_assert_int_eq(judge(&spec, &st, err, sizeof(err)), OCSPMSG_E_SIGNATURE);
	assert_contains(err, "signed by CN=Not A Responder, which the issuer "
	    "CN=Test Root CA,O=revgate tests did not authorise");
}
END_TEST

START_TEST(issuer_marked_trusted_for_ocsp_signing_still_needs_the_eku)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_request req;
	struct ocspmsg_status st;
	char err[256];
	X509 *marked = X509_dup(pki->ca.cert);

	/* An "aux" trust setting, as a TRUSTED CERTIFICATE PEM can carry, is no delegation. */
	ck_assert_ptr_nonnull(marked);
	ck_assert_int_eq(X509_add1_trust_object(marked, OBJ_nid2obj(NID_OCSP_sign)), 1);
	signed_by(&spec, &responder_no_eku);
	request(&req, pki->client.cert, marked, false);
	ck_assert_int_eq(judge_at(&spec, &req, marked, now, &st, err, sizeof(err)),
	    OCSPMSG_E_SIGNATURE);
	ocspmsg_request_clear(&req);
	X509_free(marked);
}
END_TEST

START_TEST(unrelated_self_signed_signer_carrying_its_certificate_is_refused)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_status st;
	char err[256];

	signed_by(&spec, &rogue);
	ck_assert_int_eq(judge(&spec, &st, err, sizeof(err)), OCSPMSG_E_SIGNATURE);
	assert_contains(err, "CN=Rogue Responder");
}
END_TEST

START_TEST(unrelated_signer_carrying_the_issuer_certificate_too_is_refused)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_status st;
	char err[256];

	signed_by(&spec, &rogue);
	spec.extra = pki->ca.cert;
	ck_assert_int_eq(judge(&spec, &st, err, sizeof(err)), OCSPMSG_E_SIGNATURE);
}
END_TEST

START_TEST(delegate_of_a_sibling_ca_is_refused)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_status st;
	char err[256];

	signed_by(&spec, &responder_other);
	spec.extra = pki->other_ca.cert;
	ck_assert_int_eq(judge(&spec, &st, err, sizeof(err)), OCSPMSG_E_SIGNATURE);
}
END_TEST

START_TEST(sibling_ca_answering_for_our_certificate_is_refused)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_status st;
	char err[256];

	signed_by(&spec, &pki->other_ca);
	ck_assert_int_eq(judge(&spec, &st, err, sizeof(err)), OCSPMSG_E_SIGNATURE);
}
END_TEST

START_TEST(answer_naming_another_issuer_in_its_certid_is_refused)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_status st;
	char err[256];

	/* Signed by our CA, but about a certificate of other_ca: ca may not speak for it. */
	spec.issuer = pki->other_ca.cert;
	ck_assert_int_ne(judge(&spec, &st, err, sizeof(err)), OCSPMSG_OK);
}
END_TEST

START_TEST(expired_delegate_is_refused)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_status st;
	char err[256];

	signed_by(&spec, &responder_expired);
	ck_assert_int_eq(judge(&spec, &st, err, sizeof(err)), OCSPMSG_E_SIGNATURE);
	assert_contains(err, "expired");
}
END_TEST

START_TEST(delegate_is_judged_valid_at_the_time_given_not_the_wall_clock)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_request req;
	struct ocspmsg_status st;
	char err[256];
	time_t later = now + 60 * DAY;		/* the responder certificate ends in 30 days */

	signed_by(&spec, &responder);
	spec.this_update = later - 60;
	spec.next_update = 0;
	request(&req, pki->client.cert, pki->ca.cert, false);
	ck_assert_int_eq(judge_at(&spec, &req, pki->ca.cert, later, &st, err, sizeof(err)),
	    OCSPMSG_E_SIGNATURE);
	ocspmsg_request_clear(&req);
}
END_TEST

START_TEST(delegate_that_left_out_its_certificate_is_refused)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_status st;
	char err[256];

	signed_by(&spec, &responder);
	spec.no_certs = true;
	ck_assert_int_eq(judge(&spec, &st, err, sizeof(err)), OCSPMSG_E_SIGNATURE);
	assert_contains(err, "neither the issuer");
}
END_TEST

START_TEST(tampered_signature_is_refused)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_request req;
	struct ocspmsg_status st;
	char err[256];
	size_t len;
	unsigned char *der;

	spec.no_certs = true;			/* the signature is then the last field */
	der = testpki_ocsp_response(&spec, &len);
	der[len - 1] ^= 0x01;
	request(&req, pki->client.cert, pki->ca.cert, false);
	ck_assert_int_eq(verify_at(der, len, &req, pki->ca.cert, now, &st, err, sizeof(err)),
	    OCSPMSG_E_SIGNATURE);
	assert_contains(err, "signature does not verify with the key of CN=Test Root CA");
	ocspmsg_request_clear(&req);
	free(der);
}
END_TEST

START_TEST(intermediate_issuer_signing_for_its_certificates_is_accepted)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_request req;
	struct ocspmsg_status st;
	char err[256];

	spec.cert = inter_client.cert;
	spec.issuer = intermediate.cert;
	signed_by(&spec, &intermediate);
	request(&req, inter_client.cert, intermediate.cert, false);
	ck_assert_int_eq(judge_at(&spec, &req, intermediate.cert, now, &st, err, sizeof(err)),
	    OCSPMSG_OK);
	signed_by(&spec, &inter_responder);
	ck_assert_int_eq(judge_at(&spec, &req, intermediate.cert, now, &st, err, sizeof(err)),
	    OCSPMSG_OK);
	ocspmsg_request_clear(&req);
}
END_TEST

START_TEST(delegate_of_the_root_does_not_speak_for_an_intermediate)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_request req;
	struct ocspmsg_status st;
	char err[256];

	spec.cert = inter_client.cert;
	spec.issuer = intermediate.cert;
	signed_by(&spec, &responder);		/* issued by the root, not the intermediate */
	spec.extra = pki->ca.cert;
	request(&req, inter_client.cert, intermediate.cert, false);
	ck_assert_int_eq(judge_at(&spec, &req, intermediate.cert, now, &st, err, sizeof(err)),
	    OCSPMSG_E_SIGNATURE);
	signed_by(&spec, &pki->ca);		/* nor does the root itself */
	ck_assert_int_eq(judge_at(&spec, &req, intermediate.cert, now, &st, err, sizeof(err)),
	    OCSPMSG_E_SIGNATURE);
	ocspmsg_request_clear(&req);
}
END_TEST

/* -------------------------------------------------------------------------------------- */

START_TEST(answer_for_another_serial_does_not_match)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_status st;
	char err[256];

	spec.serial = "1234";
	ck_assert_int_eq(judge(&spec, &st, err, sizeof(err)), OCSPMSG_E_NO_MATCH);
	assert_contains(err, "no answer for serial");
	assert_contains(err, "of CN=Test Root CA");
}
END_TEST

START_TEST(this_update_beyond_the_skew_is_stale_and_within_it_is_accepted)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_status st;
	char err[256];

	spec.this_update = now + SKEW + 60;
	spec.next_update = now + DAY;
	ck_assert_int_eq(judge(&spec, &st, err, sizeof(err)), OCSPMSG_E_STALE);
	assert_contains(err, "not yet valid");
	spec.this_update = now + SKEW - 60;
	ck_assert_int_eq(judge(&spec, &st, err, sizeof(err)), OCSPMSG_OK);
}
END_TEST

START_TEST(next_update_passed_beyond_the_skew_is_stale_and_within_it_is_accepted)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_status st;
	char err[256];

	spec.this_update = now - DAY;
	spec.next_update = now - SKEW - 60;
	ck_assert_int_eq(judge(&spec, &st, err, sizeof(err)), OCSPMSG_E_STALE);
	assert_contains(err, "expired");
	spec.next_update = now - SKEW + 60;
	ck_assert_int_eq(judge(&spec, &st, err, sizeof(err)), OCSPMSG_OK);
}
END_TEST

START_TEST(next_update_before_this_update_is_stale)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_status st;
	char err[256];

	spec.this_update = now - 60;
	spec.next_update = now - 120;
	ck_assert_int_eq(judge(&spec, &st, err, sizeof(err)), OCSPMSG_E_STALE);
}
END_TEST

START_TEST(missing_next_update_is_accepted_as_zero)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_status st;
	char err[256];

	spec.this_update = now - 30 * DAY;
	spec.next_update = 0;
	ck_assert_int_eq(judge(&spec, &st, err, sizeof(err)), OCSPMSG_OK);
	ck_assert_int_eq(st.next_update, 0);
	ck_assert_int_eq(st.this_update, now - 30 * DAY);
}
END_TEST

/* -------------------------------------------------------------------------------------- */

/* SPEC judged as the answer to a request with a nonce. */
static enum ocspmsg_error
judge_nonce(struct testpki_ocsp_spec *spec, const unsigned char *echo, bool raw)
{
	struct ocspmsg_request req;
	struct ocspmsg_status st;
	char err[256];
	enum ocspmsg_error e;

	request(&req, pki->client.cert, pki->ca.cert, true);
	spec->nonce = echo != NULL ? echo : req.nonce;
	spec->nonce_len = 16;
	spec->nonce_raw = raw;
	e = judge_at(spec, &req, pki->ca.cert, now, &st, err, sizeof(err));
	ocspmsg_request_clear(&req);
	return e;
}

START_TEST(echoed_nonce_is_accepted)
{
	struct testpki_ocsp_spec spec = good_spec();

	ck_assert_int_eq(judge_nonce(&spec, NULL, false), OCSPMSG_OK);
}
END_TEST

START_TEST(different_nonce_is_refused)
{
	struct testpki_ocsp_spec spec = good_spec();
	static const unsigned char other[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 };

	ck_assert_int_eq(judge_nonce(&spec, other, false), OCSPMSG_E_NONCE);
}
END_TEST

START_TEST(nonce_not_wrapped_in_an_octet_string_is_refused)
{
	struct testpki_ocsp_spec spec = good_spec();

	ck_assert_int_eq(judge_nonce(&spec, NULL, true), OCSPMSG_E_NONCE);
}
END_TEST

START_TEST(missing_nonce_is_accepted)
{
	struct testpki_ocsp_spec spec = good_spec();
	struct ocspmsg_request req;
	struct ocspmsg_status st;
	char err[256];

	request(&req, pki->client.cert, pki->ca.cert, true);
	ck_assert_int_eq(judge_at(&spec, &req, pki->ca.cert, now, &st, err, sizeof(err)),
	    OCSPMSG_OK);
	ocspmsg_request_clear(&req);
}
END_TEST

START_TEST(nonce_in_answer_to_a_request_without_one_is_ignored)
{
	struct testpki_ocsp_spec spec = good_spec();
	static const unsigned char any[16] = { 42 };
	struct ocspmsg_status st;
	char err[256];

	spec.nonce = any;
	spec.nonce_len = sizeof(any);
	ck_assert_int_eq(judge(&spec, &st, err, sizeof(err)), OCSPMSG_OK);
}
END_TEST

/* -------------------------------------------------------------------------------------- */

static enum ocspmsg_error
verify_bytes(const unsigned char *der, size_t len, char *err, size_t errlen)
{
	struct ocspmsg_request req;
	struct ocspmsg_status st;
	enum ocspmsg_error e;

	request(&req, pki->client.cert, pki->ca.cert, true);
	e = verify_at(der, len, &req, pki->ca.cert, now, &st, err, errlen);
	ocspmsg_request_clear(&req);
	return e;
}

START_TEST(unsuccessful_response_status_is_named)
{
	OCSP_RESPONSE *resp = OCSP_response_create(OCSP_RESPONSE_STATUS_TRYLATER, NULL);
	unsigned char *der = NULL;
	int len = i2d_OCSP_RESPONSE(resp, &der);
	char err[256];

	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(verify_bytes(der, (size_t)len, err, sizeof(err)), OCSPMSG_E_STATUS);
	assert_contains(err, "trylater");
	OPENSSL_free(der);
	OCSP_RESPONSE_free(resp);
	resp = OCSP_response_create(OCSP_RESPONSE_STATUS_UNAUTHORIZED, NULL);
	der = NULL;
	len = i2d_OCSP_RESPONSE(resp, &der);
	ck_assert_int_eq(verify_bytes(der, (size_t)len, err, sizeof(err)), OCSPMSG_E_STATUS);
	assert_contains(err, "unauthorized");
	OPENSSL_free(der);
	OCSP_RESPONSE_free(resp);
}
END_TEST

START_TEST(garbage_is_a_decode_error)
{
	static const unsigned char garbage[] = "HTTP/1.1 200 OK\r\n\r\n<html>";
	static const unsigned char empty_seq[] = { 0x30, 0x00 };
	char err[256];

	ck_assert_int_eq(verify_bytes(garbage, sizeof(garbage) - 1, err, sizeof(err)),
	    OCSPMSG_E_DECODE);
	ck_assert_int_eq(verify_bytes(empty_seq, sizeof(empty_seq), err, sizeof(err)),
	    OCSPMSG_E_DECODE);
	ck_assert_int_eq(verify_bytes(garbage, 0, err, sizeof(err)), OCSPMSG_E_DECODE);
}
END_TEST

START_TEST(truncated_or_padded_response_is_a_decode_error)
{
	struct testpki_ocsp_spec spec = good_spec();
	size_t len;
	unsigned char *der = testpki_ocsp_response(&spec, &len);
	unsigned char *padded = malloc(len + 1);
	char err[256];

	ck_assert_ptr_nonnull(padded);
	ck_assert_int_eq(verify_bytes(der, len, err, sizeof(err)), OCSPMSG_OK);
	for (size_t cut = 1; cut < len; cut += cut < 16 ? 1 : 37)
		ck_assert_int_eq(verify_bytes(der, len - cut, err, sizeof(err)),
		    OCSPMSG_E_DECODE);
	memcpy(padded, der, len);
	padded[len] = 0;
	ck_assert_int_eq(verify_bytes(padded, len + 1, err, sizeof(err)), OCSPMSG_E_DECODE);
	assert_contains(err, "1 stray bytes");
	free(padded);
	free(der);
}
END_TEST

START_TEST(names_are_spelled_as_logs_expect)
{
	ck_assert_str_eq(ocspmsg_verdict_name(OCSPMSG_GOOD), "good");
	ck_assert_str_eq(ocspmsg_verdict_name(OCSPMSG_REVOKED), "revoked");
	ck_assert_str_eq(ocspmsg_verdict_name(OCSPMSG_UNKNOWN), "unknown");
	ck_assert_str_eq(ocspmsg_error_name(OCSPMSG_OK), "ok");
	ck_assert_str_eq(ocspmsg_error_name(OCSPMSG_E_DECODE), "ocsp-decode");
	ck_assert_str_eq(ocspmsg_error_name(OCSPMSG_E_STATUS), "ocsp-status");
	ck_assert_str_eq(ocspmsg_error_name(OCSPMSG_E_SIGNATURE), "ocsp-signature");
	ck_assert_str_eq(ocspmsg_error_name(OCSPMSG_E_NO_MATCH), "ocsp-no-match");
	ck_assert_str_eq(ocspmsg_error_name(OCSPMSG_E_STALE), "ocsp-stale");
	ck_assert_str_eq(ocspmsg_error_name(OCSPMSG_E_NONCE), "ocsp-nonce");
	ck_assert_str_eq(ocspmsg_error_name(OCSPMSG_E_NOMEM), "out-of-memory");
}
END_TEST

/* -------------------------------------------------------------------------------------- */
/* Interoperability with the `openssl ocsp` responder, from an index in `openssl ca` form. */

static void
run_openssl(const char *const argv[])
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd >= 0)
			dup2(fd, STDOUT_FILENO);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "openssl %s failed (status %d)", argv[1], status);
}

/* TIME as `openssl ca` writes it in an index: YYMMDDHHMMSSZ. */
static void
index_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	ck_assert_ptr_nonnull(gmtime_r(&t, &tm));
	snprintf(buf, size, "%02d%02d%02d%02d%02d%02dZ", tm.tm_year % 100, tm.tm_mon + 1,
	    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* One index line: status V or R, expiry, revocation ("time,reason" or ""), serial, name. */
static void
index_line(FILE *f, char status, X509 *cert, const char *revoked)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *serial = bn != NULL ? BN_bn2hex(bn) : NULL;
	char expiry[32], name[256];

	ck_assert_ptr_nonnull(serial);
	index_time(now + 30 * DAY, expiry, sizeof(expiry));
	ck_assert_ptr_nonnull(X509_NAME_oneline(X509_get_subject_name(cert), name,
	    sizeof(name)));
	fprintf(f, "%c\t%s\t%s\t%s\tunknown\t%s\n", status, expiry, revoked, serial, name);
	OPENSSL_free(serial);
	BN_free(bn);
}

struct interop {
	X509	*revoked;	/* R in the index, keyCompromise an hour ago */
	X509	*stranger;	/* issued by ca, absent from the index */
	time_t	 revoked_at;
	char	*index;
	char	*reqin;
	char	*respout;
};

static void
interop_init(struct interop *io)
{
	char revoked[64];
	FILE *f;

	memset(io, 0, sizeof(*io));
	io->revoked = issue_serial("revoked client", &pki->ca, NULL);
	io->stranger = issue_serial("stranger", &pki->ca, NULL);
	io->revoked_at = now - HOUR;
	io->index = testpki_path(pki, "index.txt");
	io->reqin = testpki_path(pki, "req.der");
	io->respout = testpki_path(pki, "resp.der");
	index_time(io->revoked_at, revoked, sizeof(revoked));
	strcat(revoked, ",keyCompromise");
	f = fopen(io->index, "w");
	ck_assert_ptr_nonnull(f);
	index_line(f, 'V', pki->client.cert, "");
	index_line(f, 'R', io->revoked, revoked);
	ck_assert_int_eq(fclose(f), 0);
}

static void
interop_clear(struct interop *io)
{
	X509_free(io->revoked);
	X509_free(io->stranger);
	free(io->index);
	free(io->reqin);
	free(io->respout);
}

/* Asks `openssl ocsp` (signing with SIGNER) about CERT; judges its answer at NOW. */
static enum ocspmsg_error
interop_ask(const struct interop *io, const struct testpki_entity *signer, X509 *cert,
    struct ocspmsg_status *st, char *err, size_t errlen)
{
	const char *argv[] = { "openssl", "ocsp", "-index", io->index, "-CA",
	    pki->ca.cert_path, "-rsigner", signer->cert_path, "-rkey", signer->key_path,
	    "-reqin", io->reqin, "-respout", io->respout, "-ndays", "1", NULL };
	struct ocspmsg_request req;
	enum ocspmsg_error e;
	unsigned char buf[8192];
	size_t len;
	FILE *f;

	request(&req, cert, pki->ca.cert, true);
	testpki_write_file(io->reqin, req.der, req.len);
	unlink(io->respout);
	run_openssl(argv);
	f = fopen(io->respout, "rb");
	ck_assert_ptr_nonnull(f);
	len = fread(buf, 1, sizeof(buf), f);
	ck_assert(feof(f));
	fclose(f);
	e = verify_at(buf, len, &req, pki->ca.cert, time(NULL), st, err, errlen);
	ocspmsg_request_clear(&req);
	return e;
}

/* Writes E's certificate and key next to the PKI, for `openssl ocsp -rsigner/-rkey`. */
static void
write_entity(struct testpki_entity *e, const char *stem)
{
	char file[64];

	snprintf(file, sizeof(file), "%s.pem", stem);
	e->cert_path = testpki_path(pki, file);
	testpki_write_certs(e->cert_path, &e->cert, 1);
	snprintf(file, sizeof(file), "%s.key", stem);
	e->key_path = testpki_path(pki, file);
	testpki_write_key(e->key_path, e->key, NULL);
}

START_TEST(openssl_ocsp_signing_with_the_ca_key_is_understood)
{
	struct interop io;
	struct ocspmsg_status st;
	char err[256];

	interop_init(&io);
	ck_assert_msg(interop_ask(&io, &pki->ca, pki->client.cert, &st, err, sizeof(err)) ==
	    OCSPMSG_OK, "%s", err);
	ck_assert_int_eq(st.verdict, OCSPMSG_GOOD);
	ck_assert_int_gt(st.next_update, st.this_update);
	ck_assert_int_eq(interop_ask(&io, &pki->ca, io.revoked, &st, err, sizeof(err)),
	    OCSPMSG_OK);
	ck_assert_int_eq(st.verdict, OCSPMSG_REVOKED);
	ck_assert_int_eq(st.reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
	ck_assert_int_eq(st.revoked_at, io.revoked_at);
	ck_assert_int_eq(interop_ask(&io, &pki->ca, io.stranger, &st, err, sizeof(err)),
	    OCSPMSG_OK);
	ck_assert_int_eq(st.verdict, OCSPMSG_UNKNOWN);
	interop_clear(&io);
}
END_TEST

START_TEST(openssl_ocsp_delegated_responder_is_understood)
{
	struct interop io;
	struct ocspmsg_status st;
	char err[256];

	interop_init(&io);
	write_entity(&responder, "responder");
	ck_assert_msg(interop_ask(&io, &responder, pki->client.cert, &st, err,
	    sizeof(err)) == OCSPMSG_OK, "%s", err);
	ck_assert_int_eq(st.verdict, OCSPMSG_GOOD);
	ck_assert_int_eq(interop_ask(&io, &responder, io.revoked, &st, err, sizeof(err)),
	    OCSPMSG_OK);
	ck_assert_int_eq(st.verdict, OCSPMSG_REVOKED);
	ck_assert_int_eq(st.reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
	interop_clear(&io);
}
END_TEST

START_TEST(openssl_ocsp_responder_without_ocsp_signing_is_refused)
{
	struct interop io;
	struct ocspmsg_status st;
	char err[256];

	interop_init(&io);
	write_entity(&responder_no_eku, "no-eku");
	ck_assert_int_eq(interop_ask(&io, &responder_no_eku, pki->client.cert, &st, err,
	    sizeof(err)), OCSPMSG_E_SIGNATURE);
	interop_clear(&io);
}
END_TEST

static Suite *
ocspmsg_suite(void)
{
	Suite *s = suite_create("ocspmsg");
	TCase *req = tcase_create("request");
	TCase *ans = tcase_create("answer");
	TCase *auth = tcase_create("authority");
	TCase *fit = tcase_create("match and time");
	TCase *nonce = tcase_create("nonce");
	TCase *bad = tcase_create("malformed");
	TCase *interop = tcase_create("openssl ocsp");

	tcase_add_test(req, key_is_the_certid_hashes_then_length_sign_byte_and_serial);
	tcase_add_test(req, same_serial_under_sibling_issuers_gives_different_keys);
	tcase_add_test(req, negative_serial_has_another_key_than_its_magnitude);
	tcase_add_test(req, serial_longer_than_64_octets_has_no_key);
	tcase_add_test(req,
	    request_holds_one_certid_for_the_certificate_and_no_nonce_unless_asked);
	tcase_add_test(req, request_nonce_is_sixteen_random_bytes_in_an_octet_string);
	tcase_add_test(req, request_clear_is_safe_twice_and_on_a_zeroed_struct);
	suite_add_tcase(s, req);

	tcase_add_test(ans, good_answer_signed_by_the_issuer_is_good);
	tcase_add_test(ans, issuer_need_not_include_its_own_certificate);
	tcase_add_test(ans, responder_id_by_key_is_accepted);
	tcase_add_test(ans, revoked_answer_carries_its_time_and_reason);
	tcase_add_test(ans, revoked_answer_without_reason_gives_minus_one);
	tcase_add_test(ans, unknown_answer_is_unknown);
	suite_add_tcase(s, ans);

	tcase_add_test(auth, delegate_with_ocsp_signing_issued_by_the_issuer_is_accepted);
	tcase_add_test(auth, delegate_without_ocsp_signing_is_refused_by_name);
	tcase_add_test(auth, issuer_marked_trusted_for_ocsp_signing_still_needs_the_eku);
	tcase_add_test(auth, unrelated_self_signed_signer_carrying_its_certificate_is_refused);
	tcase_add_test(auth, unrelated_signer_carrying_the_issuer_certificate_too_is_refused);
	tcase_add_test(auth, delegate_of_a_sibling_ca_is_refused);
	tcase_add_test(auth, sibling_ca_answering_for_our_certificate_is_refused);
	tcase_add_test(auth, answer_naming_another_issuer_in_its_certid_is_refused);
	tcase_add_test(auth, expired_delegate_is_refused);
	tcase_add_test(auth, delegate_is_judged_valid_at_the_time_given_not_the_wall_clock);
	tcase_add_test(auth, delegate_that_left_out_its_certificate_is_refused);
	tcase_add_test(auth, tampered_signature_is_refused);
	tcase_add_test(auth, intermediate_issuer_signing_for_its_certificates_is_accepted);
	tcase_add_test(auth, delegate_of_the_root_does_not_speak_for_an_intermediate);
	suite_add_tcase(s, auth);

	tcase_add_test(fit, answer_for_another_serial_does_not_match);
	tcase_add_test(fit, this_update_beyond_the_skew_is_stale_and_within_it_is_accepted);
	tcase_add_test(fit,
	    next_update_passed_beyond_the_skew_is_stale_and_within_it_is_accepted);
	tcase_add_test(fit, next_update_before_this_update_is_stale);
	tcase_add_test(fit, missing_next_update_is_accepted_as_zero);
	suite_add_tcase(s, fit);

	tcase_add_test(nonce, echoed_nonce_is_accepted);
	tcase_add_test(nonce, different_nonce_is_refused);
	tcase_add_test(nonce, nonce_not_wrapped_in_an_octet_string_is_refused);
	tcase_add_test(nonce, missing_nonce_is_accepted);
	tcase_add_test(nonce, nonce_in_answer_to_a_request_without_one_is_ignored);
	suite_add_tcase(s, nonce);

	tcase_add_test(bad, unsuccessful_response_status_is_named);
	tcase_add_test(bad, garbage_is_a_decode_error);
	tcase_add_test(bad, truncated_or_padded_response_is_a_decode_error);
	tcase_add_test(bad, names_are_spelled_as_logs_expect);
	suite_add_tcase(s, bad);

	tcase_set_timeout(interop, 30);
	tcase_add_test(interop, openssl_ocsp_signing_with_the_ca_key_is_understood);
	tcase_add_test(interop, openssl_ocsp_delegated_responder_is_understood);
	tcase_add_test(interop, openssl_ocsp_responder_without_ocsp_signing_is_refused);
	suite_add_tcase(s, interop);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	now = time(NULL);
	pki = testpki_new();
	make_fixtures();
	sr = srunner_create(ocspmsg_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	free_fixtures();
	testpki_free(pki);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
