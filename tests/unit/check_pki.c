#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cadb.h"
#include "pki.h"

/* A CA with a node and a client it issued, in a fresh directory. */
struct fixture {
	char		 dir[64];
	EVP_PKEY	*ca_key;
	X509		*ca;
	EVP_PKEY	*leaf_key;
	X509		*node;
	X509		*client;
};

static struct fixture fx;

static X509 *
issue(enum pki_profile profile, const char *cn, EVP_PKEY *key, X509 *issuer,
    EVP_PKEY *issuer_key)
{
	static const char *const dns[] = { "localhost" };
	static const char *const ips[] = { "127.0.0.1", "::1" };
	struct pki_cert_spec spec = {
		.profile = profile, .cn = cn, .org = "revgate tests", .days = 30,
		.now = time(NULL), .key = key, .issuer = issuer, .issuer_key = issuer_key,
		.crl_url = "http://127.0.0.1:1/ca.crl", .ocsp_url = "http://127.0.0.1:2/",
	};
	struct pki_err err;
	X509 *cert;

	if (profile == PKI_PROFILE_NODE) {
		spec.dns = dns;
		spec.ndns = 1;
		spec.ips = ips;
		spec.nips = 2;
	}
	cert = pki_cert_new(&spec, &err);
	ck_assert_msg(cert != NULL, "%s", err.msg);
	return cert;
}

static void
setup(void)
{
	struct pki_err err;

	snprintf(fx.dir, sizeof(fx.dir), "/tmp/check_pki.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fx.dir));
	ck_assert_ptr_nonnull(fx.ca_key = pki_key_new(PKI_KEY_ECDSA_P256, &err));
	ck_assert_ptr_nonnull(fx.leaf_key = pki_key_new(PKI_KEY_ECDSA_P256, &err));
	fx.ca = issue(PKI_PROFILE_ROOT_CA, "Test CA", fx.ca_key, NULL, NULL);
	fx.node = issue(PKI_PROFILE_NODE, "node", fx.leaf_key, fx.ca, fx.ca_key);
	fx.client = issue(PKI_PROFILE_CLIENT, "alice", fx.leaf_key, fx.ca, fx.ca_key);
	ck_assert_int_eq(cadb_init(fx.dir, false, &err), 0);
}

static void
teardown(void)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(fx.dir);

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", fx.dir, e->d_name);
		unlink(path);
	}
	if (d != NULL)
		closedir(d);
	rmdir(fx.dir);
	X509_free(fx.ca);
	X509_free(fx.node);
	X509_free(fx.client);
	EVP_PKEY_free(fx.ca_key);
	EVP_PKEY_free(fx.leaf_key);
}

/* X509_verify_cert of CERT against the CA alone, for PURPOSE. */
static int
verify(X509 *cert, int purpose)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc, err;

	ck_assert_int_eq(X509_STORE_add_cert(store, fx.ca), 1);
	ck_assert_int_eq(X509_STORE_CTX_init(ctx, store, cert, NULL), 1);
	X509_STORE_CTX_set_purpose(ctx, purpose);
	rc = X509_verify_cert(ctx);
	err = X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rc == 1 ? X509_V_OK : err;
}

static char *
path_of(const char *name)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", fx.dir, name);
	return path;
}

START_TEST(node_and_client_certificates_verify_against_their_ca)
{
	ck_assert_int_eq(verify(fx.node, X509_PURPOSE_SSL_SERVER), X509_V_OK);
	ck_assert_int_eq(verify(fx.node, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
	ck_assert_int_eq(verify(fx.client, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
	ck_assert_int_ne(verify(fx.client, X509_PURPOSE_SSL_SERVER), X509_V_OK);
}
END_TEST

START_TEST(profiles_carry_their_extensions)
{
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(fx.ca, NID_basic_constraints, NULL, NULL);

	ck_assert_ptr_nonnull(bc);
	ck_assert(bc->ca);
	BASIC_CONSTRAINTS_free(bc);
	ck_assert(X509_get_key_usage(fx.ca) & KU_KEY_CERT_SIGN);
	ck_assert(X509_get_extended_key_usage(fx.node) & XKU_SSL_SERVER);
	ck_assert(X509_get_extended_key_usage(fx.node) & XKU_SSL_CLIENT);
	ck_assert_uint_eq(X509_get_extended_key_usage(fx.client), XKU_SSL_CLIENT);
	ck_assert_int_ge(X509_get_ext_by_NID(fx.node, NID_subject_alt_name, -1), 0);
	ck_assert_int_lt(X509_get_ext_by_NID(fx.client, NID_subject_alt_name, -1), 0);
	ck_assert_int_ge(X509_get_ext_by_NID(fx.client, NID_crl_distribution_points, -1), 0);
	ck_assert_int_ge(X509_get_ext_by_NID(fx.client, NID_info_access, -1), 0);
	ck_assert_int_ge(X509_get_ext_by_NID(fx.client, NID_authority_key_identifier, -1), 0);
}
END_TEST

START_TEST(serials_are_random_positive_and_128_bits)
{
	char *a = pki_serial_hex(fx.node), *b = pki_serial_hex(fx.client);

	ck_assert_uint_eq(strlen(a), 32);
	ck_assert_str_ne(a, b);
	ck_assert(a[0] >= '4' && a[0] <= '7');	/* top bit clear, never a leading zero byte */
	OPENSSL_free(a);
	OPENSSL_free(b);
}
END_TEST

START_TEST(every_key_type_issues_a_verifiable_certificate)
{
	struct pki_err err;
	char desc[64];

	for (int t = 0; t < PKI_KEY_NTYPES; t++) {
		/* RSA-4096 takes seconds; the integration test covers it through the CLI. */
		if (t == PKI_KEY_RSA_4096)
			continue;
		EVP_PKEY *key = pki_key_new((enum pki_key_type)t, &err);
		X509 *cert;

		ck_assert_msg(key != NULL, "%s", err.msg);
		cert = issue(PKI_PROFILE_ROOT_CA, "self", key, NULL, NULL);
		ck_assert_int_eq(X509_verify(cert, key), 1);
		ck_assert_ptr_nonnull(pki_key_describe(key, desc, sizeof(desc)));
		X509_free(cert);
		EVP_PKEY_free(key);
	}
}
END_TEST

START_TEST(key_type_names_round_trip)
{
	enum pki_key_type t;

	ck_assert_int_eq(pki_key_type_parse("ed25519", &t), 0);
	ck_assert_int_eq(t, PKI_KEY_ED25519);
	ck_assert_int_eq(pki_key_type_parse("rsa-1024", &t), -1);
	ck_assert_str_eq(pki_key_type_name(PKI_KEY_ECDSA_P384), "ecdsa-p384");
}
END_TEST

START_TEST(names_and_urls_are_validated)
{
	ck_assert_int_eq(pki_check_ip("10.0.0.1"), 0);
	ck_assert_int_eq(pki_check_ip("fe80::1"), 0);
	ck_assert_int_eq(pki_check_ip("10.0.0.256"), -1);
	ck_assert_int_eq(pki_check_dns("*.example.com"), 0);
	ck_assert_int_eq(pki_check_dns("a..b"), -1);
	ck_assert_int_eq(pki_check_dns("a,DNS:evil"), -1);
	ck_assert_int_eq(pki_check_uri("http://x/ca.crl"), 0);
	ck_assert_int_eq(pki_check_uri("http://x/a,URI:y"), -1);
}
END_TEST

START_TEST(keys_are_written_0600_and_certificates_0644)
{
	struct pki_err err;
	struct stat st;
	EVP_PKEY *back;

	ck_assert_int_eq(pki_write_key(path_of("k.key"), fx.leaf_key, false, &err), 0);
	ck_assert_int_eq(stat(path_of("k.key"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(pki_write_certs(path_of("c.crt"), &fx.node, 1, false, &err), 0);
	ck_assert_int_eq(stat(path_of("c.crt"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0644);
	ck_assert_ptr_nonnull(back = pki_read_key(path_of("k.key"), &err));
	ck_assert_int_eq(EVP_PKEY_eq(back, fx.leaf_key), 1);
	EVP_PKEY_free(back);
}
END_TEST

START_TEST(existing_files_are_kept_unless_overwrite)
{
	struct pki_err err;

	ck_assert_int_eq(pki_write_file(path_of("f"), "one", 3, 0644, false, &err), 0);
	ck_assert_int_eq(pki_write_file(path_of("f"), "two", 3, 0644, false, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "already exists"));
	ck_assert_int_eq(pki_write_file(path_of("f"), "two", 3, 0644, true, &err), 0);
}
END_TEST

/* The CRL that cadb makes now, checked against the CA. */
static X509_CRL *
crl_now(void)
{
	struct pki_err err;
	X509_CRL *crl = cadb_crl_new(fx.dir, fx.ca, fx.ca_key, 7, time(NULL), &err);

	ck_assert_msg(crl != NULL, "%s", err.msg);
	ck_assert_int_eq(X509_CRL_verify(crl, X509_get0_pubkey(fx.ca)), 1);
	return crl;
}

static long
crl_number(X509_CRL *crl)
{
	ASN1_INTEGER *n = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	long v;

	ck_assert_ptr_nonnull(n);
	v = ASN1_INTEGER_get(n);
	ASN1_INTEGER_free(n);
	return v;
}

START_TEST(revocation_is_recorded_and_published_in_the_crl)
{
	char *serial = pki_serial_hex(fx.client);
	X509_REVOKED *entry = NULL;
	struct pki_err err;
	X509_CRL *crl;
	bool already;
	ASN1_ENUMERATED *reason;

	ck_assert_int_eq(cadb_record(fx.dir, fx.node, &err), 0);
	ck_assert_int_eq(cadb_record(fx.dir, fx.client, &err), 0);
	ck_assert_int_eq(cadb_record(fx.dir, fx.client, &err), -1);	/* same serial */
	crl = crl_now();
	ck_assert_int_eq(X509_CRL_get0_by_cert(crl, &entry, fx.client), 0);
	ck_assert_int_eq(crl_number(crl), 1);
	X509_CRL_free(crl);

	ck_assert_int_eq(cadb_revoke(fx.dir, serial, 1, time(NULL), &already, &err), 0);
	ck_assert_int_eq(cadb_revoke(fx.dir, serial, 1, time(NULL), &already, &err), -1);
	ck_assert(already);
	ck_assert_int_eq(cadb_revoke(fx.dir, "abcdef", -1, time(NULL), &already, &err), -1);
	ck_assert(!already);

	crl = crl_now();
	ck_assert_int_eq(crl_number(crl), 2);
	ck_assert_int_eq(X509_CRL_get0_by_cert(crl, &entry, fx.client), 1);
	reason = X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, NULL, NULL);
	ck_assert_int_eq(ASN1_ENUMERATED_get(reason), 1);
	ASN1_ENUMERATED_free(reason);
	ck_assert_int_eq(X509_CRL_get0_by_cert(crl, &entry, fx.node), 0);
	X509_CRL_free(crl);
	OPENSSL_free(serial);
}
END_TEST

START_TEST(reason_names_map_to_crl_reason_codes)
{
	ck_assert_int_eq(cadb_reason_parse("keyCompromise"), 1);
	ck_assert_int_eq(cadb_reason_parse("certificateHold"), 6);
	ck_assert_int_eq(cadb_reason_parse("removeFromCRL"), -1);
	ck_assert_str_eq(cadb_reason_name(5), "cessationOfOperation");
}
END_TEST

static Suite *
pki_suite(void)
{
	Suite *s = suite_create("pki");
	TCase *tc = tcase_create("issue, write, revoke");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, node_and_client_certificates_verify_against_their_ca);
	tcase_add_test(tc, profiles_carry_their_extensions);
	tcase_add_test(tc, serials_are_random_positive_and_128_bits);
	tcase_add_test(tc, every_key_type_issues_a_verifiable_certificate);
	tcase_add_test(tc, key_type_names_round_trip);
	tcase_add_test(tc, names_and_urls_are_validated);
	tcase_add_test(tc, keys_are_written_0600_and_certificates_0644);
	tcase_add_test(tc, existing_files_are_kept_unless_overwrite);
	tcase_add_test(tc, revocation_is_recorded_and_published_in_the_crl);
	tcase_add_test(tc, reason_names_map_to_crl_reason_codes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(pki_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
