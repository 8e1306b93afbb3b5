#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crl.h"
#include "testpki.h"

#define DAY		(24 * 60 * 60)
#define SKEW		300
#define MAX_ENTRIES	1000

/* Made in main() before any test forks: the common PKI, and an RSA-2048 CA beside it. */
static struct testpki *pki;
static struct testpki_entity rsa_ca;
static time_t now;

static const struct testpki_revoked three_revoked[] = {
	{ "1001", 1 },		/* keyCompromise */
	{ "0BADC0DE", 4 },	/* superseded */
	{ "2002", -1 },		/* no reason extension */
	{ NULL, 0 },
};

/* A spec for a CRL of ISSUER, issued an hour ago, due in a day, listing nothing. */
static struct testpki_crl_spec
spec_of(const struct testpki_entity *issuer)
{
	struct testpki_crl_spec spec = {
		.issuer = issuer,
		.this_update = now - 3600,
		.next_update = now + DAY,
	};

	return spec;
}

/* Loads CRL (DER) as a CRL of ISSUER with the tests' skew and entry bound. */
static struct crl *
load_der(X509_CRL *x, X509 *issuer, size_t max_entries, enum crl_error *err, char *msg,
    size_t msglen)
{
	size_t len;
	unsigned char *der = testpki_crl_der(x, &len);
	struct crl *crl = crl_new(der, len, issuer, now, SKEW, max_entries, err, msg, msglen);

	free(der);
	return crl;
}

/* Loads CRL, which must be accepted. */
static struct crl *
load_ok(X509_CRL *x, X509 *issuer)
{
	enum crl_error err = CRL_E_NOMEM;
	char msg[512];
	struct crl *crl = load_der(x, issuer, MAX_ENTRIES, &err, msg, sizeof(msg));

	ck_assert_msg(crl != NULL, "refused: %s: %s", crl_error_name(err), msg);
	ck_assert_int_eq(err, CRL_OK);
	ck_assert_str_eq(msg, "");
	return crl;
}

/* Loads CRL, which must be refused with WANT and a message containing PART. */
static void
load_fails(X509_CRL *x, X509 *issuer, enum crl_error want, const char *part)
{
	enum crl_error err = CRL_OK;
	char msg[512];
	struct crl *crl = load_der(x, issuer, MAX_ENTRIES, &err, msg, sizeof(msg));

	ck_assert_ptr_null(crl);
	ck_assert_msg(err == want, "got %s (%s), want %s", crl_error_name(err), msg,
	    crl_error_name(want));
	ck_assert_msg(strstr(msg, part) != NULL, "\"%s\" not in \"%s\"", part, msg);
}

/* Loads LEN bytes at BUF as a CRL of the test CA, which must be refused with WANT. */
static void
bytes_fail(const void *buf, size_t len, enum crl_error want)
{
	enum crl_error err = CRL_OK;
	char msg[512];
	struct crl *crl = crl_new(buf, len, pki->ca.cert, now, SKEW, MAX_ENTRIES, &err, msg,
	    sizeof(msg));

	ck_assert_ptr_null(crl);
	ck_assert_msg(err == want, "%zu bytes: got %s (%s), want %s", len, crl_error_name(err),
	    msg, crl_error_name(want));
	ck_assert_msg(strncmp(msg, "CRL of ", 7) == 0, "message \"%s\"", msg);
}

static ASN1_INTEGER *
serial_hex(const char *hex)
{
	BIGNUM *bn = NULL;
	ASN1_INTEGER *serial;

	ck_assert_int_gt(BN_hex2bn(&bn, hex), 0);
	serial = BN_to_ASN1_INTEGER(bn, NULL);
	ck_assert_ptr_nonnull(serial);
	BN_free(bn);
	return serial;
}

/* An INTEGER with exactly these content octets, leading zeros and all. */
static ASN1_INTEGER *
serial_raw(const void *bytes, int len, bool negative)
{
	ASN1_INTEGER *serial = ASN1_STRING_type_new(negative ? V_ASN1_NEG_INTEGER :
	    V_ASN1_INTEGER);

	ck_assert_ptr_nonnull(serial);
	ck_assert_int_eq(ASN1_STRING_set(serial, bytes, len), 1);
	return serial;
}

static void
assert_lookup(const struct crl *crl, const ASN1_INTEGER *serial, bool listed, int want_reason,
    const char *what)
{
	int reason = 12345;

	ck_assert_msg(crl_lookup(crl, serial, &reason) == listed, "%s: expected %s", what,
	    listed ? "revoked" : "good");
	ck_assert_msg(reason == want_reason, "%s: reason %d, want %d", what, reason, want_reason);
}

static void
assert_revoked(const struct crl *crl, const char *hex, int want_reason)
{
	ASN1_INTEGER *serial = serial_hex(hex);

	assert_lookup(crl, serial, true, want_reason, hex);
	ASN1_INTEGER_free(serial);
}

static void
assert_good(const struct crl *crl, const char *hex)
{
	ASN1_INTEGER *serial = serial_hex(hex);

	assert_lookup(crl, serial, false, -1, hex);
	ASN1_INTEGER_free(serial);
}

/* Adds a private-arc extension (value: DER NULL) to the CRL, or to its first entry. */
static void
add_private_ext(X509_CRL *x, bool to_entry, int critical)
{
	ASN1_OBJECT *obj = OBJ_txt2obj("1.3.6.1.4.1.55555.7", 1);
	ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext;

	ck_assert_ptr_nonnull(obj);
	ck_assert_ptr_nonnull(value);
	ck_assert_int_eq(ASN1_OCTET_STRING_set(value, (const unsigned char *)"\x05\x00", 2), 1);
	ext = X509_EXTENSION_create_by_OBJ(NULL, obj, critical, value);
	ck_assert_ptr_nonnull(ext);
	if (to_entry)
		ck_assert_int_eq(X509_REVOKED_add_ext(sk_X509_REVOKED_value(
		    X509_CRL_get_REVOKED(x), 0), ext, -1), 1);
	else
		ck_assert_int_eq(X509_CRL_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(value);
	ASN1_OBJECT_free(obj);
}

/* A CA for NAME (taken over) with EXTS, self-signed. */
static void
make_ca(struct testpki_entity *e, X509_NAME *name, const struct testpki_ext *exts)
{
	testpki_issue(e, name, NULL, exts);
}

START_TEST(listed_serial_is_revoked_with_its_reason)
{
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;
	struct crl *crl;

	spec.revoked = three_revoked;
	x = testpki_crl_new(&spec);
	crl = load_ok(x, pki->ca.cert);
	ck_assert_uint_eq(crl_count(crl), 3);
	assert_revoked(crl, "1001", 1);
	assert_revoked(crl, "0BADC0DE", 4);
	ck_assert_int_eq(crl_this_update(crl), now - 3600);
	ck_assert_int_eq(crl_next_update(crl), now + DAY);
	crl_unref(crl);
	X509_CRL_free(x);
}
END_TEST

START_TEST(unlisted_serial_is_good)
{
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;
	struct crl *crl;

	spec.revoked = three_revoked;
	x = testpki_crl_new(&spec);
	crl = load_ok(x, pki->ca.cert);
	assert_good(crl, "1002");
	assert_good(crl, "01");
	assert_good(crl, "FFFFFFFFFFFFFFFFFFFF");
	ck_assert(!crl_lookup(crl, X509_get0_serialNumber(pki->client.cert), NULL));
	crl_unref(crl);
	X509_CRL_free(x);
}
END_TEST

START_TEST(entry_without_a_reason_code_reports_minus_one)
{
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;
	struct crl *crl;

	spec.revoked = three_revoked;
	x = testpki_crl_new(&spec);
	crl = load_ok(x, pki->ca.cert);
	assert_revoked(crl, "2002", -1);
	crl_unref(crl);
	X509_CRL_free(x);
}
END_TEST

START_TEST(crl_of_an_rsa_2048_issuer_loads_and_answers)
{
	struct testpki_crl_spec spec = spec_of(&rsa_ca);
	X509_CRL *x;
	struct crl *crl;

	spec.revoked = three_revoked;
	x = testpki_crl_new(&spec);
	crl = load_ok(x, rsa_ca.cert);
	assert_revoked(crl, "1001", 1);
	assert_good(crl, "1002");
	ck_assert_str_eq(crl_issuer_name(crl), "CN=RSA Test CA,O=revgate tests");
	crl_unref(crl);
	X509_CRL_free(x);
	/* The same CRL is no CRL of the EC CA. */
	spec = spec_of(&rsa_ca);
	x = testpki_crl_new(&spec);
	load_fails(x, pki->ca.cert, CRL_E_ISSUER, "expected a CRL of CN=Test Root CA");
	X509_CRL_free(x);
}
END_TEST

START_TEST(serial_with_leading_zero_octets_is_the_same_serial)
{
	static const unsigned char padded[] = { 0x00, 0x00, 0x10, 0x01 };
	static const unsigned char plain[] = { 0x10, 0x01 };
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	ASN1_INTEGER *a = serial_raw(padded, sizeof(padded), false);
	ASN1_INTEGER *b = serial_raw(plain, sizeof(plain), false);
	X509_CRL *x;
	struct crl *crl;

	spec.revoked = three_revoked;
	x = testpki_crl_new(&spec);
	crl = load_ok(x, pki->ca.cert);
	assert_lookup(crl, a, true, 1, "00001001");
	assert_lookup(crl, b, true, 1, "1001");
	crl_unref(crl);
	X509_CRL_free(x);
	ASN1_INTEGER_free(a);
	ASN1_INTEGER_free(b);
}
END_TEST

START_TEST(serials_of_different_lengths_are_not_confused)
{
	static const struct testpki_revoked revoked[] = {
		{ "01", 1 }, { "0100", 2 }, { "FF00", 3 }, { "10", 4 }, { NULL, 0 },
	};
	static const unsigned char x0001[] = { 0x00, 0x01 };
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	ASN1_INTEGER *padded_one = serial_raw(x0001, sizeof(x0001), false);
	X509_CRL *x;
	struct crl *crl;

	spec.revoked = revoked;
	x = testpki_crl_new(&spec);
	crl = load_ok(x, pki->ca.cert);
	assert_revoked(crl, "01", 1);
	assert_revoked(crl, "0100", 2);
	assert_revoked(crl, "FF00", 3);
	assert_revoked(crl, "10", 4);
	assert_lookup(crl, padded_one, true, 1, "0001");
	assert_good(crl, "010000");
	assert_good(crl, "FF");
	assert_good(crl, "1000");
	assert_good(crl, "0101");
	assert_good(crl, "02");
	crl_unref(crl);
	X509_CRL_free(x);
	ASN1_INTEGER_free(padded_one);
}
END_TEST

START_TEST(negative_serial_is_not_its_positive_twin)
{
	static const struct testpki_revoked revoked[] = { { "-05", 6 }, { NULL, 0 } };
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;
	struct crl *crl;

	spec.revoked = revoked;
	x = testpki_crl_new(&spec);
	crl = load_ok(x, pki->ca.cert);
	assert_revoked(crl, "-05", 6);
	assert_good(crl, "05");
	crl_unref(crl);
	X509_CRL_free(x);
}
END_TEST

START_TEST(zero_serial_is_a_serial_like_any_other)
{
	static const struct testpki_revoked revoked[] = { { "00", 5 }, { NULL, 0 } };
	static const unsigned char zeros[] = { 0x00, 0x00 };
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	ASN1_INTEGER *padded_zero = serial_raw(zeros, sizeof(zeros), false);
	X509_CRL *x;
	struct crl *crl;

	spec.revoked = revoked;
	x = testpki_crl_new(&spec);
	crl = load_ok(x, pki->ca.cert);
	assert_revoked(crl, "00", 5);
	assert_lookup(crl, padded_zero, true, 5, "0000");
	assert_good(crl, "01");
	crl_unref(crl);
	X509_CRL_free(x);
	ASN1_INTEGER_free(padded_zero);
}
END_TEST

START_TEST(serial_listed_twice_is_revoked)
{
	static const struct testpki_revoked revoked[] = {
		{ "77", 4 }, { "78", -1 }, { "77", 1 }, { NULL, 0 },
	};
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;
	struct crl *crl;

	spec.revoked = revoked;
	x = testpki_crl_new(&spec);
	crl = load_ok(x, pki->ca.cert);
	ck_assert_uint_eq(crl_count(crl), 3);
	assert_revoked(crl, "77", 1);	/* duplicates answer with the lowest reason code */
	assert_revoked(crl, "78", -1);
	crl_unref(crl);
	X509_CRL_free(x);
}
END_TEST

START_TEST(serial_of_21_octets_is_indexed_and_of_22_refused)
{
	/* 21 octets of magnitude: a 20-octet serial with its top bit set, as some CAs make. */
	static const struct testpki_revoked ok[] = {
		{ "FF000000000000000000000000000000000000000A", 1 }, { NULL, 0 },
	};
	static const struct testpki_revoked too_long[] = {
		{ "01FF000000000000000000000000000000000000000A", 1 }, { NULL, 0 },
	};
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;
	struct crl *crl;

	spec.revoked = ok;
	x = testpki_crl_new(&spec);
	crl = load_ok(x, pki->ca.cert);
	assert_revoked(crl, ok[0].serial, 1);
	assert_good(crl, "FF000000000000000000000000000000000000000B");
	assert_good(crl, too_long[0].serial);	/* longer than any entry can be */
	crl_unref(crl);
	X509_CRL_free(x);

	spec.revoked = too_long;
	x = testpki_crl_new(&spec);
	load_fails(x, pki->ca.cert, CRL_E_DECODE, "entry 1 has a serial longer than 21 octets");
	X509_CRL_free(x);
}
END_TEST

START_TEST(pem_and_der_both_load)
{
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;
	struct crl *crl;
	enum crl_error err;
	char msg[256];
	size_t len;
	char *pem;

	spec.revoked = three_revoked;
	x = testpki_crl_new(&spec);
	crl = load_ok(x, pki->ca.cert);
	assert_revoked(crl, "1001", 1);
	crl_unref(crl);

	pem = testpki_crl_pem(x, &len);
	crl = crl_new((const unsigned char *)pem, len, pki->ca.cert, now, SKEW, MAX_ENTRIES, &err,
	    msg, sizeof(msg));
	ck_assert_msg(crl != NULL, "PEM refused: %s", msg);
	ck_assert_uint_eq(crl_count(crl), 3);
	assert_revoked(crl, "1001", 1);
	assert_good(crl, "1002");
	crl_unref(crl);
	free(pem);
	X509_CRL_free(x);
}
END_TEST

START_TEST(first_crl_block_of_a_pem_bundle_is_used)
{
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	BIO *bio = BIO_new(BIO_s_mem());
	X509_CRL *first, *second;
	struct crl *crl;
	enum crl_error err;
	char msg[256], *data;
	long len;

	spec.revoked = three_revoked;
	first = testpki_crl_new(&spec);
	spec.revoked = NULL;
	second = testpki_crl_new(&spec);
	ck_assert_ptr_nonnull(bio);
	ck_assert_int_eq(BIO_puts(bio, "a bundle: certificate first\n"), 28);
	ck_assert_int_eq(PEM_write_bio_X509(bio, pki->ca.cert), 1);
	ck_assert_int_eq(PEM_write_bio_X509_CRL(bio, first), 1);
	ck_assert_int_eq(PEM_write_bio_X509_CRL(bio, second), 1);
	len = BIO_get_mem_data(bio, &data);
	crl = crl_new((const unsigned char *)data, (size_t)len, pki->ca.cert, now, SKEW,
	    MAX_ENTRIES, &err, msg, sizeof(msg));
	ck_assert_msg(crl != NULL, "refused: %s", msg);
	ck_assert_uint_eq(crl_count(crl), 3);
	crl_unref(crl);
	BIO_free(bio);
	X509_CRL_free(first);
	X509_CRL_free(second);
}
END_TEST

START_TEST(encrypted_pem_block_is_refused_without_asking_for_a_password)
{
	static const char headers[] = "Proc-Type: 4,ENCRYPTED\n"
	    "DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n";
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x = testpki_crl_new(&spec);
	size_t len;
	char *pem = testpki_crl_pem(x, &len);
	char *body = strchr(pem, '\n') + 1;
	size_t head = (size_t)(body - pem);
	char *enc = malloc(len + sizeof(headers));

	ck_assert_ptr_nonnull(enc);
	memcpy(enc, pem, head);
	memcpy(enc + head, headers, sizeof(headers) - 1);
	memcpy(enc + head + sizeof(headers) - 1, body, len - head);
	bytes_fail(enc, len + sizeof(headers) - 1, CRL_E_DECODE);
	free(enc);
	free(pem);
	X509_CRL_free(x);
}
END_TEST

START_TEST(input_that_is_not_a_crl_is_a_decode_error)
{
	static const char garbage[] = "this is not a CRL at all";
	static const char bad_pem[] = "-----BEGIN X509 CRL-----\n!!!!\n-----END X509 CRL-----\n";
	static const char marker_only[] = "-----BEGIN X509 CRL-----\n";
	static const unsigned char sequence[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	unsigned char *der = NULL;
	int len;

	bytes_fail("", 0, CRL_E_DECODE);
	bytes_fail(garbage, sizeof(garbage) - 1, CRL_E_DECODE);
	bytes_fail(bad_pem, sizeof(bad_pem) - 1, CRL_E_DECODE);
	bytes_fail(marker_only, sizeof(marker_only) - 1, CRL_E_DECODE);
	bytes_fail(sequence, sizeof(sequence), CRL_E_DECODE);
	/* A certificate is DER too, but not a CRL. */
	len = i2d_X509(pki->ca.cert, &der);
	ck_assert_int_gt(len, 0);
	bytes_fail(der, (size_t)len, CRL_E_DECODE);
	OPENSSL_free(der);
}
END_TEST

START_TEST(every_truncation_of_a_crl_is_a_decode_error)
{
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;
	unsigned char *der;
	size_t len;

	spec.revoked = three_revoked;
	x = testpki_crl_new(&spec);
	der = testpki_crl_der(x, &len);
	for (size_t n = 0; n < len; n++) {
		unsigned char *copy = malloc(n + 1);	/* exact size, so ASan sees overreads */

		ck_assert_ptr_nonnull(copy);
		memcpy(copy, der, n);
		bytes_fail(copy, n, CRL_E_DECODE);
		free(copy);
	}
	free(der);
	X509_CRL_free(x);
}
END_TEST

START_TEST(bytes_after_the_der_are_a_decode_error)
{
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x = testpki_crl_new(&spec);
	size_t len;
	unsigned char *der = testpki_crl_der(x, &len);
	unsigned char *longer = malloc(len + 1);
	enum crl_error err;
	char msg[256];

	ck_assert_ptr_nonnull(longer);
	memcpy(longer, der, len);
	longer[len] = 0x00;
	ck_assert_ptr_null(crl_new(longer, len + 1, pki->ca.cert, now, SKEW, MAX_ENTRIES, &err,
	    msg, sizeof(msg)));
	ck_assert_int_eq(err, CRL_E_DECODE);
	ck_assert_str_eq(msg, "CRL of CN=Test Root CA,O=revgate tests: 1 bytes follow the CRL");
	free(longer);
	free(der);
	X509_CRL_free(x);
}
END_TEST

START_TEST(crl_signed_by_another_key_is_a_signature_error)
{
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;

	spec.revoked = three_revoked;
	spec.key = pki->other_ca.key;	/* the right name, the wrong key, no key identifier */
	x = testpki_crl_new(&spec);
	load_fails(x, pki->ca.cert, CRL_E_SIGNATURE, "CRL of CN=Test Root CA,O=revgate tests: "
	    "signature does not verify with the issuer's key");
	X509_CRL_free(x);
}
END_TEST

START_TEST(crl_signed_with_a_key_of_another_type_is_a_signature_error)
{
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;

	spec.key = rsa_ca.key;
	x = testpki_crl_new(&spec);
	load_fails(x, pki->ca.cert, CRL_E_SIGNATURE,
	    "signature does not verify with the issuer's key (wrong public key type)");
	X509_CRL_free(x);
}
END_TEST

START_TEST(tampered_entry_is_a_signature_error)
{
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;
	size_t len;
	unsigned char *der, *hit = NULL;
	enum crl_error err;
	char msg[256];

	spec.revoked = three_revoked;
	x = testpki_crl_new(&spec);
	der = testpki_crl_der(x, &len);
	/* Serial 0BADC0DE becomes 0BADC0DF: still a CRL, no longer the one signed. */
	for (size_t i = 0; i + 4 <= len && hit == NULL; i++)
		if (memcmp(der + i, "\x0b\xad\xc0\xde", 4) == 0)
			hit = der + i;
	ck_assert_ptr_nonnull(hit);
	hit[3] = 0xdf;
	ck_assert_ptr_null(crl_new(der, len, pki->ca.cert, now, SKEW, MAX_ENTRIES, &err, msg,
	    sizeof(msg)));
	ck_assert_int_eq(err, CRL_E_SIGNATURE);
	free(der);
	X509_CRL_free(x);
}
END_TEST

START_TEST(crl_naming_another_issuer_is_an_issuer_error)
{
	struct testpki_crl_spec spec = spec_of(&pki->other_ca);
	X509_CRL *x = testpki_crl_new(&spec);

	load_fails(x, pki->ca.cert, CRL_E_ISSUER,
	    "CRL of CN=Other CA: expected a CRL of CN=Test Root CA,O=revgate tests");
	X509_CRL_free(x);
}
END_TEST

START_TEST(authority_key_id_of_another_key_is_an_issuer_error)
{
	static const struct testpki_ext akid[] = {
		{ NID_authority_key_identifier, "keyid:always" }, { NID_undef, NULL },
	};
	struct testpki_crl_spec spec = spec_of(&pki->other_ca);
	X509_CRL *x;

	/* Claims the test CA's name, but its key identifier is Other CA's. */
	spec.name = X509_get_subject_name(pki->ca.cert);
	spec.exts = akid;
	x = testpki_crl_new(&spec);
	load_fails(x, pki->ca.cert, CRL_E_ISSUER, "authority key identifier names another key");
	X509_CRL_free(x);
}
END_TEST

START_TEST(authority_key_id_of_the_issuer_is_accepted)
{
	static const struct testpki_ext akid[] = {
		{ NID_authority_key_identifier, "keyid:always" }, { NID_undef, NULL },
	};
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;
	struct crl *crl;

	spec.exts = akid;
	x = testpki_crl_new(&spec);
	crl = load_ok(x, pki->ca.cert);
	crl_unref(crl);
	X509_CRL_free(x);
}
END_TEST

START_TEST(issuer_without_crl_sign_key_usage_is_an_issuer_error)
{
	static const struct testpki_ext exts[] = {
		{ NID_basic_constraints, "critical,CA:TRUE" },
		{ NID_key_usage, "critical,keyCertSign" },
		{ NID_subject_key_identifier, "hash" },
		{ NID_undef, NULL },
	};
	struct testpki_entity ca;
	struct testpki_crl_spec spec;
	X509_CRL *x;

	make_ca(&ca, testpki_name("CN", "No CRL Sign CA", NULL), exts);
	spec = spec_of(&ca);
	x = testpki_crl_new(&spec);
	load_fails(x, ca.cert, CRL_E_ISSUER, "key usage does not include cRLSign");
	X509_CRL_free(x);
	testpki_entity_clear(&ca);
}
END_TEST

START_TEST(issuer_without_a_key_usage_extension_may_sign_crls)
{
	static const struct testpki_ext exts[] = {
		{ NID_basic_constraints, "critical,CA:TRUE" }, { NID_undef, NULL },
	};
	struct testpki_entity ca;
	struct testpki_crl_spec spec;
	X509_CRL *x;
	struct crl *crl;

	make_ca(&ca, testpki_name("CN", "Old Style CA", NULL), exts);
	spec = spec_of(&ca);
	x = testpki_crl_new(&spec);
	crl = load_ok(x, ca.cert);
	crl_unref(crl);
	X509_CRL_free(x);
	testpki_entity_clear(&ca);
}
END_TEST

START_TEST(this_update_beyond_the_skew_is_in_the_future)
{
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;

	spec.this_update = now + SKEW + 60;
	spec.next_update = now + DAY;
	x = testpki_crl_new(&spec);
	load_fails(x, pki->ca.cert, CRL_E_FUTURE, "s ahead of the clock (allowed skew: 300 s)");
	X509_CRL_free(x);
}
END_TEST

START_TEST(this_update_within_the_skew_is_accepted)
{
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;
	struct crl *crl;

	spec.this_update = now + SKEW - 60;
	x = testpki_crl_new(&spec);
	crl = load_ok(x, pki->ca.cert);
	ck_assert_int_eq(crl_this_update(crl), now + SKEW - 60);
	crl_unref(crl);
	X509_CRL_free(x);
}
END_TEST

START_TEST(crl_past_its_next_update_still_loads_and_says_when)
{
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;
	struct crl *crl;

	spec.revoked = three_revoked;
	spec.this_update = now - 8 * DAY;
	spec.next_update = now - DAY;
	x = testpki_crl_new(&spec);
	crl = load_ok(x, pki->ca.cert);
	ck_assert_int_eq(crl_this_update(crl), now - 8 * DAY);
	ck_assert_int_eq(crl_next_update(crl), now - DAY);
	assert_revoked(crl, "1001", 1);
	crl_unref(crl);
	X509_CRL_free(x);
}
END_TEST

START_TEST(crl_without_next_update_reports_zero)
{
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;
	struct crl *crl;

	spec.next_update = 0;
	x = testpki_crl_new(&spec);
	ck_assert_ptr_null(X509_CRL_get0_nextUpdate(x));
	crl = load_ok(x, pki->ca.cert);
	ck_assert_int_eq(crl_next_update(crl), 0);
	crl_unref(crl);
	X509_CRL_free(x);
}
END_TEST

START_TEST(generalized_time_after_2049_is_read)
{
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;
	struct crl *crl;

	spec.next_update = (time_t)2556143999;	/* 2050-12-31T23:59:59Z, a GeneralizedTime */
	x = testpki_crl_new(&spec);
	ck_assert_int_eq(ASN1_STRING_type(X509_CRL_get0_nextUpdate(x)), V_ASN1_GENERALIZEDTIME);
	crl = load_ok(x, pki->ca.cert);
	ck_assert_int_eq(crl_next_update(crl), (time_t)2556143999);
	crl_unref(crl);
	X509_CRL_free(x);
}
END_TEST

START_TEST(more_entries_than_allowed_is_too_large)
{
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;
	struct crl *crl;
	enum crl_error err;
	char msg[256];
	size_t len;
	char *pem;

	spec.revoked = three_revoked;
	x = testpki_crl_new(&spec);
	ck_assert_ptr_null(load_der(x, pki->ca.cert, 2, &err, msg, sizeof(msg)));
	ck_assert_int_eq(err, CRL_E_TOO_LARGE);
	ck_assert_str_eq(msg, "CRL of CN=Test Root CA,O=revgate tests: more than 2 entries");
	pem = testpki_crl_pem(x, &len);
	ck_assert_ptr_null(crl_new((const unsigned char *)pem, len, pki->ca.cert, now, SKEW, 0,
	    &err, msg, sizeof(msg)));
	ck_assert_int_eq(err, CRL_E_TOO_LARGE);
	crl = load_der(x, pki->ca.cert, 3, &err, msg, sizeof(msg));
	ck_assert_ptr_nonnull(crl);
	crl_unref(crl);
	free(pem);
	X509_CRL_free(x);
}
END_TEST

START_TEST(too_large_is_decided_before_the_signature)
{
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;
	enum crl_error err;
	char msg[256];

	spec.revoked = three_revoked;
	spec.key = pki->other_ca.key;
	x = testpki_crl_new(&spec);
	ck_assert_ptr_null(load_der(x, pki->ca.cert, 2, &err, msg, sizeof(msg)));
	ck_assert_int_eq(err, CRL_E_TOO_LARGE);
	X509_CRL_free(x);
}
END_TEST

START_TEST(delta_crl_is_unsupported)
{
	static const struct testpki_ext delta[] = {
		{ NID_crl_number, "7" }, { NID_delta_crl, "critical,6" }, { NID_undef, NULL },
	};
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;

	spec.exts = delta;
	x = testpki_crl_new(&spec);
	load_fails(x, pki->ca.cert, CRL_E_UNSUPPORTED, "is a delta CRL");
	X509_CRL_free(x);
}
END_TEST

START_TEST(distribution_point_scopes_we_cannot_honour_are_unsupported)
{
	static const struct {
		const char	*value;
		const char	*message;
	} cases[] = {
		{ "critical,indirectCRL:TRUE", "is an indirect CRL" },
		{ "critical,onlyAA:TRUE", "covers only attribute certificates" },
		{ "critical,onlyCA:TRUE", "covers only CA certificates" },
		{ "critical,onlysomereasons:keyCompromise", "covers only some revocation reasons" },
	};
	struct testpki_ext exts[] = {
		{ NID_issuing_distribution_point, cases[_i].value }, { NID_undef, NULL },
	};
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;

	spec.exts = exts;
	x = testpki_crl_new(&spec);
	load_fails(x, pki->ca.cert, CRL_E_UNSUPPORTED, cases[_i].message);
	X509_CRL_free(x);
}
END_TEST

START_TEST(critical_distribution_point_for_user_certificates_is_accepted)
{
	static const struct testpki_ext exts[] = {
		{ NID_issuing_distribution_point,
		    "critical,fullname:URI:http://127.0.0.1/ca.crl,onlyuser:TRUE" },
		{ NID_undef, NULL },
	};
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;
	struct crl *crl;

	spec.revoked = three_revoked;
	spec.exts = exts;
	x = testpki_crl_new(&spec);
	crl = load_ok(x, pki->ca.cert);
	assert_revoked(crl, "1001", 1);
	crl_unref(crl);
	X509_CRL_free(x);
}
END_TEST

/* A leaf of the test CA, optionally naming a CRL distribution point. */
static X509 *
leaf_naming(const char *cdp, bool ca)
{
	struct testpki_ext exts[] = {
		{ NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE" },
		{ cdp != NULL ? NID_crl_distribution_points : NID_undef, cdp },
		{ NID_undef, NULL },
	};
	EVP_PKEY *key = testpki_key_new();
	X509_NAME *name = testpki_name("CN", "partition", NULL);
	struct testpki_cert_spec spec = { .subject = name, .key = key, .issuer = pki->ca.cert,
	    .issuer_key = pki->ca.key, .not_before = -60, .not_after = 3600, .exts = exts };
	X509 *x = testpki_cert_new(&spec);

	X509_NAME_free(name);
	EVP_PKEY_free(key);
	return x;
}

START_TEST(partitioned_crl_covers_only_certificates_naming_its_point)
{
	static const struct testpki_ext exts[] = {
		{ NID_issuing_distribution_point, "critical,fullname:URI:http://127.0.0.1/p1.crl" },
		{ NID_undef, NULL },
	};
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509 *in = leaf_naming("URI:http://127.0.0.1/p1.crl", false);
	X509 *out = leaf_naming("URI:http://127.0.0.1/p2.crl", false);
	X509 *none = leaf_naming(NULL, false);
	X509_CRL *x;
	struct crl *crl;

	spec.exts = exts;
	x = testpki_crl_new(&spec);
	crl = load_ok(x, pki->ca.cert);
	ck_assert(crl_is_partitioned(crl));
	ck_assert(crl_covers(crl, in));
	ck_assert(!crl_covers(crl, out));
	ck_assert(!crl_covers(crl, none));
	crl_unref(crl);
	X509_CRL_free(x);
	X509_free(in);
	X509_free(out);
	X509_free(none);
}
END_TEST

START_TEST(user_only_crl_never_speaks_for_a_ca_certificate)
{
	static const struct testpki_ext user_only[] = {
		{ NID_issuing_distribution_point, "critical,onlyuser:TRUE" }, { NID_undef, NULL },
	};
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509 *leaf = leaf_naming(NULL, false), *ca = leaf_naming(NULL, true);
	X509_CRL *x, *complete;
	struct crl *crl, *all;

	spec.exts = user_only;
	x = testpki_crl_new(&spec);
	crl = load_ok(x, pki->ca.cert);
	ck_assert(!crl_is_partitioned(crl));
	ck_assert(crl_covers(crl, leaf));
	ck_assert(!crl_covers(crl, ca));
	spec.exts = NULL;
	complete = testpki_crl_new(&spec);
	all = load_ok(complete, pki->ca.cert);
	ck_assert(crl_covers(all, leaf) && crl_covers(all, ca));
	crl_unref(crl);
	crl_unref(all);
	X509_CRL_free(x);
	X509_CRL_free(complete);
	X509_free(leaf);
	X509_free(ca);
}
END_TEST

START_TEST(unknown_critical_extension_is_unsupported)
{
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x = testpki_crl_build(&spec);

	add_private_ext(x, false, 1);
	testpki_crl_sign(x, pki->ca.key);
	load_fails(x, pki->ca.cert, CRL_E_UNSUPPORTED,
	    "unknown critical extension 1.3.6.1.4.1.55555.7");
	X509_CRL_free(x);
}
END_TEST

START_TEST(unknown_extensions_that_are_not_critical_are_ignored)
{
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;
	struct crl *crl;

	spec.revoked = three_revoked;
	x = testpki_crl_build(&spec);
	add_private_ext(x, false, 0);
	add_private_ext(x, true, 0);
	testpki_crl_sign(x, pki->ca.key);
	crl = load_ok(x, pki->ca.cert);
	crl_unref(crl);
	X509_CRL_free(x);
}
END_TEST

START_TEST(entry_with_an_unknown_critical_extension_is_unsupported)
{
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;

	spec.revoked = three_revoked;
	x = testpki_crl_build(&spec);
	add_private_ext(x, true, 1);
	testpki_crl_sign(x, pki->ca.key);
	load_fails(x, pki->ca.cert, CRL_E_UNSUPPORTED,
	    "entry 1 has an unknown critical extension 1.3.6.1.4.1.55555.7");
	X509_CRL_free(x);
}
END_TEST

START_TEST(entry_naming_a_certificate_issuer_is_unsupported)
{
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	GENERAL_NAMES *names = GENERAL_NAMES_new();
	GENERAL_NAME *dns = a2i_GENERAL_NAME(NULL, NULL, NULL, GEN_DNS, "other.example", 0);
	X509_CRL *x;

	ck_assert_ptr_nonnull(names);
	ck_assert_ptr_nonnull(dns);
	ck_assert_int_gt(sk_GENERAL_NAME_push(names, dns), 0);
	spec.revoked = three_revoked;
	x = testpki_crl_build(&spec);
	ck_assert_int_eq(X509_REVOKED_add1_ext_i2d(sk_X509_REVOKED_value(X509_CRL_get_REVOKED(x),
	    1), NID_certificate_issuer, names, 1, X509V3_ADD_DEFAULT), 1);
	testpki_crl_sign(x, pki->ca.key);
	load_fails(x, pki->ca.cert, CRL_E_UNSUPPORTED, "entry 2 names a certificate issuer");
	GENERAL_NAMES_free(names);
	X509_CRL_free(x);
}
END_TEST

START_TEST(undefined_reason_code_is_a_decode_error)
{
	static const int codes[] = { 7, 11, 99 };
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	struct testpki_revoked revoked[] = { { "42", codes[_i] }, { NULL, 0 } };
	X509_CRL *x;
	char want[64];

	spec.revoked = revoked;
	x = testpki_crl_new(&spec);
	snprintf(want, sizeof(want), "entry 1 has the undefined reason code %d", codes[_i]);
	load_fails(x, pki->ca.cert, CRL_E_DECODE, want);
	X509_CRL_free(x);
}
END_TEST

START_TEST(every_defined_reason_code_is_reported)
{
	static const struct testpki_revoked revoked[] = {
		{ "A0", 0 }, { "A1", 1 }, { "A2", 2 }, { "A3", 3 }, { "A4", 4 }, { "A5", 5 },
		{ "A6", 6 }, { "A8", 8 }, { "A9", 9 }, { "AA", 10 }, { NULL, 0 },
	};
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;
	struct crl *crl;

	spec.revoked = revoked;
	x = testpki_crl_new(&spec);
	crl = load_ok(x, pki->ca.cert);
	for (const struct testpki_revoked *r = revoked; r->serial != NULL; r++)
		assert_revoked(crl, r->serial, r->reason);
	crl_unref(crl);
	X509_CRL_free(x);
}
END_TEST

START_TEST(crl_number_is_reported_in_decimal)
{
	static const struct testpki_ext number[] = {
		{ NID_crl_number, "0x0123456789ABCDEF0123" }, { NID_undef, NULL },
	};
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;
	struct crl *crl;

	spec.exts = number;
	x = testpki_crl_new(&spec);
	crl = load_ok(x, pki->ca.cert);
	ck_assert_str_eq(crl_number(crl), "5373003642731685151011");
	crl_unref(crl);
	X509_CRL_free(x);
}
END_TEST

START_TEST(crl_without_a_number_reports_an_empty_string)
{
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x = testpki_crl_new(&spec);
	struct crl *crl = load_ok(x, pki->ca.cert);

	ck_assert_str_eq(crl_number(crl), "");
	crl_unref(crl);
	X509_CRL_free(x);
}
END_TEST

START_TEST(crl_number_longer_than_20_octets_is_a_decode_error)
{
	static const struct testpki_ext number[] = {
		{ NID_crl_number, "0x0102030405060708090A0B0C0D0E0F101112131415" },
		{ NID_undef, NULL },
	};
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;

	spec.exts = number;
	x = testpki_crl_new(&spec);
	load_fails(x, pki->ca.cert, CRL_E_DECODE, "CRL number is longer than 20 octets");
	X509_CRL_free(x);
}
END_TEST

START_TEST(issuer_name_reads_most_specific_first)
{
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x = testpki_crl_new(&spec);
	struct crl *crl = load_ok(x, pki->ca.cert);

	ck_assert_str_eq(crl_issuer_name(crl), "CN=Test Root CA,O=revgate tests");
	crl_unref(crl);
	X509_CRL_free(x);
}
END_TEST

START_TEST(memory_is_24_bytes_an_entry_plus_a_small_header)
{
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x = testpki_crl_new(&spec);
	struct crl *empty = load_ok(x, pki->ca.cert), *three;

	X509_CRL_free(x);
	spec.revoked = three_revoked;
	x = testpki_crl_new(&spec);
	three = load_ok(x, pki->ca.cert);
	ck_assert_uint_eq(crl_memory(three) - crl_memory(empty), 3 * 24);
	ck_assert_uint_lt(crl_memory(empty), 256);
	crl_unref(empty);
	crl_unref(three);
	X509_CRL_free(x);
}
END_TEST

START_TEST(a_reference_keeps_the_index_alive)
{
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	X509_CRL *x;
	struct crl *crl, *ref;

	spec.revoked = three_revoked;
	x = testpki_crl_new(&spec);
	crl = load_ok(x, pki->ca.cert);
	ref = crl_ref(crl);
	ck_assert_ptr_eq(ref, crl);
	crl_unref(crl);
	assert_revoked(ref, "1001", 1);	/* ASan would flag a use after free */
	crl_unref(ref);
	crl_unref(NULL);
	X509_CRL_free(x);
}
END_TEST

START_TEST(short_or_missing_message_buffer_is_safe)
{
	struct testpki_crl_spec spec = spec_of(&pki->other_ca);
	X509_CRL *x = testpki_crl_new(&spec);
	enum crl_error err = CRL_OK;
	char msg[8];

	memset(msg, 'x', sizeof(msg));
	ck_assert_ptr_null(load_der(x, pki->ca.cert, MAX_ENTRIES, &err, msg, sizeof(msg)));
	ck_assert_int_eq(err, CRL_E_ISSUER);
	ck_assert_str_eq(msg, "CRL of ");
	err = CRL_OK;
	ck_assert_ptr_null(load_der(x, pki->ca.cert, MAX_ENTRIES, &err, NULL, 0));
	ck_assert_int_eq(err, CRL_E_ISSUER);
	X509_CRL_free(x);
}
END_TEST

START_TEST(error_names_are_spelled_for_logs)
{
	ck_assert_str_eq(crl_error_name(CRL_OK), "ok");
	ck_assert_str_eq(crl_error_name(CRL_E_DECODE), "crl-decode");
	ck_assert_str_eq(crl_error_name(CRL_E_TOO_LARGE), "crl-too-large");
	ck_assert_str_eq(crl_error_name(CRL_E_UNSUPPORTED), "crl-unsupported");
	ck_assert_str_eq(crl_error_name(CRL_E_ISSUER), "crl-issuer");
	ck_assert_str_eq(crl_error_name(CRL_E_SIGNATURE), "crl-signature");
	ck_assert_str_eq(crl_error_name(CRL_E_FUTURE), "crl-future");
	ck_assert_str_eq(crl_error_name(CRL_E_NOMEM), "out-of-memory");
}
END_TEST

/* Runs `openssl ARGV...` with output to LOG; fails the test with the log on error. */
static void
run_openssl(char *const argv[], const char *log)
{
	pid_t pid = fork();
	int status = 0;
	char out[2048] = "";
	FILE *f;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		execvp("openssl", argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	if ((f = fopen(log, "r")) != NULL) {
		out[fread(out, 1, sizeof(out) - 1, f)] = '\0';
		fclose(f);
	}
	ck_abort_msg("openssl %s failed (status %d): %s", argv[1], status, out);
}

static unsigned char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = malloc(1 << 16);

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(buf);
	*len = fread(buf, 1, 1 << 16, f);
	ck_assert_int_eq(ferror(f), 0);
	fclose(f);
	return buf;
}

/*
 * `openssl ca -gencrl` from an index in the format `openssl ca` keeps, with keyid AKID and a
 * CRL number: the CRL that a small real CA publishes.
 */
START_TEST(crl_from_openssl_ca_gencrl_interoperates)
{
	const struct testpki_entity *ca = _i == 0 ? &pki->ca : &rsa_ca;
	char *cnf = testpki_path(pki, "gencrl.cnf"), *index = testpki_path(pki, "index.txt");
	char *number = testpki_path(pki, "crlnumber"), *pem = testpki_path(pki, "gencrl.pem");
	char *der = testpki_path(pki, "gencrl.der"), *log = testpki_path(pki, "openssl.log");
	char *cert = testpki_path(pki, "gencrl-ca.pem"), *key = testpki_path(pki, "gencrl-ca.key");
	char *gencrl[] = { "openssl", "ca", "-gencrl", "-batch", "-config", cnf, "-out", pem,
	    NULL };
	char *todie[] = { "openssl", "crl", "-in", pem, "-outform", "DER", "-out", der, NULL };
	static const char index_text[] =
	    "R\t491231235959Z\t240102030405Z,keyCompromise\t1A2B3C\tunknown\t/CN=alice\n"
	    "V\t491231235959Z\t\t1A2B3D\tunknown\t/CN=bob\n"
	    "R\t491231235959Z\t240102030405Z,superseded\t00F1\tunknown\t/CN=carol\n"
	    "R\t491231235959Z\t240102030405Z\t0100000000000000000000000000000001\tunknown"
	    "\t/CN=dave\n";
	char config[4096];
	const char *files[] = { pem, der };
	int n;

	n = snprintf(config, sizeof(config),
	    "[ ca ]\ndefault_ca = test_ca\n"
	    "[ test_ca ]\ndatabase = %s\ncrlnumber = %s\ncertificate = %s\nprivate_key = %s\n"
	    "default_md = sha256\ndefault_crl_days = 7\ncrl_extensions = crl_ext\n"
	    "[ crl_ext ]\nauthorityKeyIdentifier = keyid:always\n", index, number, cert, key);
	ck_assert_int_lt(n, (int)sizeof(config));
	testpki_write_file(cnf, config, (size_t)n);
	testpki_write_file(index, index_text, sizeof(index_text) - 1);
	testpki_write_file(number, "1000\n", 5);
	testpki_write_certs(cert, &ca->cert, 1);
	testpki_write_key(key, ca->key, NULL);
	run_openssl(gencrl, log);
	run_openssl(todie, log);

	for (size_t f = 0; f < 2; f++) {
		enum crl_error err;
		char msg[512];
		size_t len;
		unsigned char *buf = read_file(files[f], &len);
		struct crl *crl = crl_new(buf, len, ca->cert, time(NULL), SKEW, MAX_ENTRIES, &err,
		    msg, sizeof(msg));

		ck_assert_msg(crl != NULL, "%s refused: %s", files[f], msg);
		ck_assert_uint_eq(crl_count(crl), 3);
		assert_revoked(crl, "1A2B3C", 1);
		assert_revoked(crl, "F1", 4);
		assert_revoked(crl, "0100000000000000000000000000000001", -1);
		assert_good(crl, "1A2B3D");
		ck_assert_str_eq(crl_number(crl), "4096");
		ck_assert_int_eq(crl_next_update(crl) - crl_this_update(crl), 7 * DAY);
		ck_assert_int_le(llabs((long long)(crl_this_update(crl) - time(NULL))), 60);
		crl_unref(crl);
		free(buf);
	}
	free(cnf);
	free(index);
	free(number);
	free(pem);
	free(der);
	free(log);
	free(cert);
	free(key);
}
END_TEST

/* The Nth serial of a big CRL: scattered 64-bit values (splitmix64), added unsorted. */
static uint64_t
bulk_serial(uint64_t n)
{
	uint64_t z = n + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double
seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

START_TEST(hundred_thousand_entries_answer_every_thousandth_lookup)
{
	const size_t n = 100000;
	struct testpki_crl_spec spec = spec_of(&pki->ca);
	ASN1_INTEGER *serial = ASN1_INTEGER_new();
	X509_CRL *x = testpki_crl_build(&spec);
	struct timespec t0;
	enum crl_error err;
	char msg[256];
	unsigned char *der;
	size_t len;
	struct crl *crl;
	double load;

	ck_assert_ptr_nonnull(serial);
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(ASN1_INTEGER_set_uint64(serial, bulk_serial(i)), 1);
		testpki_crl_add(x, serial, now - DAY, i % 7 == 0 ? 1 : -1);
	}
	testpki_crl_sign(x, pki->ca.key);
	der = testpki_crl_der(x, &len);
	X509_CRL_free(x);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	crl = crl_new(der, len, pki->ca.cert, now, SKEW, n, &err, msg, sizeof(msg));
	load = seconds_since(&t0);
	ck_assert_msg(crl != NULL, "refused: %s", msg);
	ck_assert_uint_eq(crl_count(crl), n);
	printf("crl: %zu entries, %zu bytes of DER: loaded in %.3f s, index holds %zu bytes\n",
	    n, len, load, crl_memory(crl));
	fflush(stdout);
	for (size_t i = 0; i < n; i += 1000) {
		int reason;

		ck_assert_int_eq(ASN1_INTEGER_set_uint64(serial, bulk_serial(i)), 1);
		ck_assert_msg(crl_lookup(crl, serial, &reason), "entry %zu not found", i);
		ck_assert_int_eq(reason, i % 7 == 0 ? 1 : -1);
		ck_assert_int_eq(ASN1_INTEGER_set_uint64(serial, bulk_serial(n + i)), 1);
		ck_assert_msg(!crl_lookup(crl, serial, NULL), "serial %zu listed", n + i);
	}
	/* One entry more than allowed is refused, and quickly. */
	ck_assert_ptr_null(crl_new(der, len, pki->ca.cert, now, SKEW, n - 1, &err, msg,
	    sizeof(msg)));
	ck_assert_int_eq(err, CRL_E_TOO_LARGE);
	crl_unref(crl);
	free(der);
	ASN1_INTEGER_free(serial);
}
END_TEST

static Suite *
crl_suite(void)
{
	Suite *s = suite_create("crl");
	TCase *lookup = tcase_create("lookup");
	TCase *decode = tcase_create("decode");
	TCase *validate = tcase_create("validate");
	TCase *extensions = tcase_create("extensions");
	TCase *report = tcase_create("report");
	TCase *interop = tcase_create("interop");
	TCase *scale = tcase_create("scale");

	tcase_add_test(lookup, listed_serial_is_revoked_with_its_reason);
	tcase_add_test(lookup, unlisted_serial_is_good);
	tcase_add_test(lookup, entry_without_a_reason_code_reports_minus_one);
	tcase_add_test(lookup, crl_of_an_rsa_2048_issuer_loads_and_answers);
	tcase_add_test(lookup, serial_with_leading_zero_octets_is_the_same_serial);
	tcase_add_test(lookup, serials_of_different_lengths_are_not_confused);
	tcase_add_test(lookup, negative_serial_is_not_its_positive_twin);
	tcase_add_test(lookup, zero_serial_is_a_serial_like_any_other);
	tcase_add_test(lookup, serial_listed_twice_is_revoked);
	tcase_add_test(lookup, serial_of_21_octets_is_indexed_and_of_22_refused);
	tcase_add_test(lookup, every_defined_reason_code_is_reported);
	tcase_add_test(lookup, a_reference_keeps_the_index_alive);
	suite_add_tcase(s, lookup);

	tcase_add_test(decode, pem_and_der_both_load);
	tcase_add_test(decode, first_crl_block_of_a_pem_bundle_is_used);
	tcase_add_test(decode, encrypted_pem_block_is_refused_without_asking_for_a_password);
	tcase_add_test(decode, input_that_is_not_a_crl_is_a_decode_error);
	tcase_add_test(decode, every_truncation_of_a_crl_is_a_decode_error);
	tcase_add_test(decode, bytes_after_the_der_are_a_decode_error);
	tcase_add_test(decode, more_entries_than_allowed_is_too_large);
	tcase_add_test(decode, too_large_is_decided_before_the_signature);
	tcase_add_loop_test(decode, undefined_reason_code_is_a_decode_error, 0, 3);
	suite_add_tcase(s, decode);

	tcase_add_test(validate, crl_signed_by_another_key_is_a_signature_error);
	tcase_add_test(validate, crl_signed_with_a_key_of_another_type_is_a_signature_error);
	tcase_add_test(validate, tampered_entry_is_a_signature_error);
	tcase_add_test(validate, crl_naming_another_issuer_is_an_issuer_error);
	tcase_add_test(validate, authority_key_id_of_another_key_is_an_issuer_error);
	tcase_add_test(validate, authority_key_id_of_the_issuer_is_accepted);
	tcase_add_test(validate, issuer_without_crl_sign_key_usage_is_an_issuer_error);
	tcase_add_test(validate, issuer_without_a_key_usage_extension_may_sign_crls);
	tcase_add_test(validate, this_update_beyond_the_skew_is_in_the_future);
	tcase_add_test(validate, this_update_within_the_skew_is_accepted);
	tcase_add_test(validate, crl_past_its_next_update_still_loads_and_says_when);
	tcase_add_test(validate, crl_without_next_update_reports_zero);
	tcase_add_test(validate, generalized_time_after_2049_is_read);
	suite_add_tcase(s, validate);

	tcase_add_test(extensions, delta_crl_is_unsupported);
	tcase_add_loop_test(extensions, distribution_point_scopes_we_cannot_honour_are_unsupported,
	    0, 4);
	tcase_add_test(extensions, critical_distribution_point_for_user_certificates_is_accepted);
	tcase_add_test(extensions, partitioned_crl_covers_only_certificates_naming_its_point);
	tcase_add_test(extensions, user_only_crl_never_speaks_for_a_ca_certificate);
	tcase_add_test(extensions, unknown_critical_extension_is_unsupported);
	tcase_add_test(extensions, unknown_extensions_that_are_not_critical_are_ignored);
	tcase_add_test(extensions, entry_with_an_unknown_critical_extension_is_unsupported);
	tcase_add_test(extensions, entry_naming_a_certificate_issuer_is_unsupported);
	suite_add_tcase(s, extensions);

	tcase_add_test(report, crl_number_is_reported_in_decimal);
	tcase_add_test(report, crl_without_a_number_reports_an_empty_string);
	tcase_add_test(report, crl_number_longer_than_20_octets_is_a_decode_error);
	tcase_add_test(report, issuer_name_reads_most_specific_first);
	tcase_add_test(report, memory_is_24_bytes_an_entry_plus_a_small_header);
	tcase_add_test(report, short_or_missing_message_buffer_is_safe);
	tcase_add_test(report, error_names_are_spelled_for_logs);
	suite_add_tcase(s, report);

	tcase_add_loop_test(interop, crl_from_openssl_ca_gencrl_interoperates, 0, 2);
	suite_add_tcase(s, interop);

	/* About 1 s; 4 s under the sanitizers, which is check's default limit. */
	tcase_set_timeout(scale, 30);
	tcase_add_test(scale, hundred_thousand_entries_answer_every_thousandth_lookup);
	suite_add_tcase(s, scale);
	return s;
}

int
main(void)
{
	struct testpki_cert_spec spec = { 0 };
	X509_NAME *name;
	SRunner *sr;
	int failed;

	pki = testpki_new();
	now = time(NULL);
	name = testpki_name("O", "revgate tests", "CN", "RSA Test CA", NULL);
	rsa_ca.key = testpki_rsa_key_new(2048);
	spec.subject = name;
	spec.key = rsa_ca.key;
	spec.not_before = -DAY;
	spec.not_after = 30 * DAY;
	spec.exts = testpki_ext_ca;
	rsa_ca.cert = testpki_cert_new(&spec);
	X509_NAME_free(name);

	sr = srunner_create(crl_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	testpki_entity_clear(&rsa_ca);
	testpki_free(pki);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
