#include "config.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "clientcert.h"
#include "testpki.h"

/* One PKI for the whole run, made in main() before any test forks. */
static struct testpki *pki;

/* A client certificate for NAME (taken over and freed) with SERIAL (hex; NULL: random). */
static X509 *
issue(X509_NAME *name, const char *serial)
{
	EVP_PKEY *key = testpki_key_new();
	struct testpki_cert_spec spec = { name, key, pki->ca.cert, pki->ca.key, serial, -60,
	    3600, testpki_ext_client };
	X509 *cert = testpki_cert_new(&spec);

	X509_NAME_free(name);
	EVP_PKEY_free(key);
	return cert;
}

static void
describe_ok(X509 *cert, bool with_pem, struct clientcert *out)
{
	ck_assert_int_eq(clientcert_describe(cert, with_pem, out), 0);
}

/* No byte a header value cannot carry. */
static void
assert_header_safe(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		ck_assert_msg(*p >= 0x20 && *p < 0x7f, "byte 0x%02x in \"%s\"", *p, s);
}

/* The serial as `openssl x509 -serial` prints it (that command calls i2a_ASN1_INTEGER). */
static void
openssl_serial(X509 *cert, char *out, size_t size)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long len;

	ck_assert_ptr_nonnull(bio);
	ck_assert_int_gt(i2a_ASN1_INTEGER(bio, X509_get0_serialNumber(cert)), 0);
	len = BIO_get_mem_data(bio, &data);
	ck_assert_int_lt(len, (long)size);
	memcpy(out, data, (size_t)len);
	out[len] = '\0';
	BIO_free(bio);
}

START_TEST(subject_and_issuer_read_most_specific_first)
{
	struct clientcert cc;

	describe_ok(pki->client.cert, false, &cc);
	ck_assert_str_eq(cc.subject, "CN=alice,O=Example Corp,C=US");
	ck_assert_str_eq(cc.issuer, "CN=Test Root CA,O=revgate tests");
	ck_assert_ptr_null(cc.pem_urlencoded);
	clientcert_clear(&cc);
}
END_TEST

START_TEST(comma_in_a_value_is_escaped)
{
	X509 *cert = issue(testpki_name("O", "Example, Inc.", "CN", "Smith, John", NULL), NULL);
	struct clientcert cc;

	describe_ok(cert, false, &cc);
	ck_assert_str_eq(cc.subject, "CN=Smith\\, John,O=Example\\, Inc.");
	clientcert_clear(&cc);
	X509_free(cert);
}
END_TEST

START_TEST(newline_in_a_common_name_never_reaches_the_output)
{
	X509 *cert = issue(testpki_name("CN", "eve\r\nX-Client-Verify: SUCCESS", NULL), NULL);
	struct clientcert cc;

	describe_ok(cert, false, &cc);
	ck_assert_ptr_null(strchr(cc.subject, '\r'));
	ck_assert_ptr_null(strchr(cc.subject, '\n'));
	ck_assert_str_eq(cc.subject, "CN=eve\\0D\\0AX-Client-Verify: SUCCESS");
	assert_header_safe(cc.subject);
	clientcert_clear(&cc);
	X509_free(cert);
}
END_TEST

START_TEST(non_ascii_and_nul_are_escaped_as_hex_pairs)
{
	X509_NAME *name = X509_NAME_new();
	X509 *cert;
	struct clientcert cc;

	ck_assert_ptr_nonnull(name);
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
	    (const unsigned char *)"Caf\xc3\xa9", -1, -1, 0), 1);
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"a\0b\x7f", 4, -1, 0), 1);
	cert = issue(name, NULL);
	describe_ok(cert, false, &cc);
	ck_assert_str_eq(cc.subject, "CN=a\\00b\\7F,O=Caf\\C3\\A9");
	assert_header_safe(cc.subject);
	clientcert_clear(&cc);
	X509_free(cert);
}
END_TEST

START_TEST(serial_is_upper_case_hex_as_openssl_x509_prints_it)
{
	static const char *const serials[] = {
		"01", "7F", "80", "0A1B2C3D4E5F", "FF01",
		"7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",	/* 20 octets: RFC 5280's limit */
	};

	for (size_t i = 0; i < sizeof(serials) / sizeof(serials[0]); i++) {
		X509 *cert = issue(testpki_name("CN", "s", NULL), serials[i]);
		struct clientcert cc;
		char expected[256];

		openssl_serial(cert, expected, sizeof(expected));
		describe_ok(cert, false, &cc);
		ck_assert_str_eq(cc.serial, serials[i]);
		ck_assert_str_eq(cc.serial, expected);
		clientcert_clear(&cc);
		X509_free(cert);
	}
}
END_TEST

START_TEST(random_serial_matches_openssl_x509)
{
	X509 *cert = issue(testpki_name("CN", "r", NULL), NULL);
	struct clientcert cc;
	char expected[256];

	openssl_serial(cert, expected, sizeof(expected));
	describe_ok(cert, false, &cc);
	ck_assert_str_eq(cc.serial, expected);
	clientcert_clear(&cc);
	X509_free(cert);
}
END_TEST

START_TEST(negative_and_zero_serials_are_spelled_out)
{
	X509 *neg = issue(testpki_name("CN", "n", NULL), "-1234");
	X509 *zero = issue(testpki_name("CN", "z", NULL), "0");
	struct clientcert cc;
	char expected[256];

	describe_ok(neg, false, &cc);
	openssl_serial(neg, expected, sizeof(expected));
	ck_assert_str_eq(cc.serial, "-1234");
	ck_assert_str_eq(cc.serial, expected);
	clientcert_clear(&cc);
	describe_ok(zero, false, &cc);
	openssl_serial(zero, expected, sizeof(expected));
	ck_assert_str_eq(cc.serial, "00");
	ck_assert_str_eq(cc.serial, expected);
	clientcert_clear(&cc);
	X509_free(neg);
	X509_free(zero);
}
END_TEST

START_TEST(serial_longer_than_64_octets_is_refused_and_out_is_cleared)
{
	char hex[2 * 65 + 1];
	X509 *cert;
	struct clientcert cc;

	memset(hex, 'A', sizeof(hex) - 1);
	hex[sizeof(hex) - 1] = '\0';
	cert = issue(testpki_name("CN", "long", NULL), hex);
	ck_assert_int_eq(clientcert_describe(cert, true, &cc), -1);
	ck_assert_ptr_null(cc.subject);
	ck_assert_ptr_null(cc.issuer);
	ck_assert_ptr_null(cc.pem_urlencoded);
	ck_assert_str_eq(cc.serial, "");
	X509_free(cert);
}
END_TEST

START_TEST(fingerprint_is_lower_case_sha256_of_the_der)
{
	unsigned char *der = NULL;
	unsigned char md[32];
	unsigned int mdlen = 0;
	char expected[65];
	struct clientcert cc;
	int len = i2d_X509(pki->client.cert, &der);

	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL), 1);
	ck_assert_uint_eq(mdlen, 32);
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(expected + 2 * i, 3, "%02x", md[i]);
	describe_ok(pki->client.cert, false, &cc);
	ck_assert_str_eq(cc.fingerprint, expected);
	clientcert_clear(&cc);
	OPENSSL_free(der);
}
END_TEST

static int
unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

START_TEST(pem_urlencoded_decodes_back_to_the_pem)
{
	struct clientcert cc;
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem, *decoded;
	long pemlen;
	size_t n = 0;

	ck_assert_ptr_nonnull(bio);
	ck_assert_int_eq(PEM_write_bio_X509(bio, pki->client.cert), 1);
	pemlen = BIO_get_mem_data(bio, &pem);
	describe_ok(pki->client.cert, true, &cc);
	ck_assert_ptr_nonnull(cc.pem_urlencoded);
	ck_assert_ptr_nonnull(strstr(cc.pem_urlencoded, "-----BEGIN%20CERTIFICATE-----%0A"));
	decoded = malloc(strlen(cc.pem_urlencoded) + 1);
	ck_assert_ptr_nonnull(decoded);
	for (const char *p = cc.pem_urlencoded; *p != '\0'; p++) {
		if (*p == '%') {
			int hi = unhex(p[1]), lo = hi >= 0 ? unhex(p[2]) : -1;

			ck_assert_msg(hi >= 0 && lo >= 0, "bad escape at \"%.8s\"", p);
			decoded[n++] = (char)(hi << 4 | lo);
			p += 2;
			continue;
		}
		ck_assert_msg(strchr("-._~", *p) != NULL || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'),
		    "unescaped '%c'", *p);
		decoded[n++] = *p;
	}
	ck_assert_uint_eq(n, (size_t)pemlen);
	ck_assert_mem_eq(decoded, pem, n);
	free(decoded);
	clientcert_clear(&cc);
	BIO_free(bio);
}
END_TEST

START_TEST(clear_is_safe_twice_and_on_a_zeroed_struct)
{
	struct clientcert cc = { 0 };

	clientcert_clear(&cc);
	describe_ok(pki->client.cert, true, &cc);
	clientcert_clear(&cc);
	clientcert_clear(&cc);
	ck_assert_ptr_null(cc.subject);
}
END_TEST

static Suite *
clientcert_suite(void)
{
	Suite *s = suite_create("clientcert");
	TCase *tc = tcase_create("describe");

	tcase_add_test(tc, subject_and_issuer_read_most_specific_first);
	tcase_add_test(tc, comma_in_a_value_is_escaped);
	tcase_add_test(tc, newline_in_a_common_name_never_reaches_the_output);
	tcase_add_test(tc, non_ascii_and_nul_are_escaped_as_hex_pairs);
	tcase_add_test(tc, serial_is_upper_case_hex_as_openssl_x509_prints_it);
	tcase_add_test(tc, random_serial_matches_openssl_x509);
	tcase_add_test(tc, negative_and_zero_serials_are_spelled_out);
	tcase_add_test(tc, serial_longer_than_64_octets_is_refused_and_out_is_cleared);
	tcase_add_test(tc, fingerprint_is_lower_case_sha256_of_the_der);
	tcase_add_test(tc, pem_urlencoded_decodes_back_to_the_pem);
	tcase_add_test(tc, clear_is_safe_twice_and_on_a_zeroed_struct);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	pki = testpki_new();
	sr = srunner_create(clientcert_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	testpki_free(pki);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
