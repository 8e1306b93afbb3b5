#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "tlscheck.h"
#include "testpki.h"

#define DAY 86400

/* One PKI for the whole run, made in main() before any test forks. */
static struct testpki *pki;
static struct tlscheck_input in;
static struct tlscheck_report *rep;

static void
setup(void)
{
	memset(&in, 0, sizeof(in));
	in.certificate = pki->server_chain;
	in.private_key = pki->server.key_path;
	in.ca = pki->ca_bundle;
	in.expiry_warning_s = 7 * DAY;
	in.strict_chain = true;
	in.now = time(NULL);
	in.label_certificate = "tls.certificate";
	in.label_private_key = "tls.privateKey";
	in.label_ca = "tls.certificateAuthority";
	in.label_private_key_password = "tls.privateKeyPassword";
	in.label_certificate_password = "tls.certificatePassword";
	in.skip_hint = "set tls.skipKeyPermissionCheck: true";
	rep = NULL;
}

static void
teardown(void)
{
	tlscheck_report_free(rep);
	rep = NULL;
}

/* Runs the checks on IN and returns the result named NAME (which must have run). */
static const struct tlscheck_result *
run_check(const char *name)
{
	const struct tlscheck_result *res;

	tlscheck_report_free(rep);
	rep = tlscheck_run(&in);
	ck_assert_ptr_nonnull(rep);
	res = tlscheck_report_find(rep, name);
	ck_assert_msg(res != NULL, "check %s did not run", name);
	return res;
}

static void
assert_status(const struct tlscheck_result *res, enum tlscheck_status want,
    const char *needle)
{
	ck_assert_msg(res->status == want, "%s: expected %s, got %s: %s", res->name,
	    tlscheck_status_name(want), tlscheck_status_name(res->status), res->message);
	if (needle != NULL)
		ck_assert_msg(strstr(res->message, needle) != NULL, "%s: \"%s\" lacks \"%s\"",
		    res->name, res->message, needle);
}

/* A certificate issued by the test CA with the given window (seconds from now) and EXTS. */
static void
write_leaf(struct testpki_entity *e, const char *name, int64_t from, int64_t until,
    const struct testpki_entity *issuer, const struct testpki_ext *exts)
{
	X509_NAME *subject = testpki_name("CN", name, NULL);
	struct testpki_cert_spec spec = {
		.subject = subject, .issuer = issuer->cert, .issuer_key = issuer->key,
		.not_before = from, .not_after = until, .exts = exts,
	};
	char file[64];

	memset(e, 0, sizeof(*e));
	e->key = testpki_key_new();
	spec.key = e->key;
	e->cert = testpki_cert_new(&spec);
	X509_NAME_free(subject);
	snprintf(file, sizeof(file), "%s.pem", name);
	e->cert_path = testpki_path(pki, file);
	testpki_write_certs(e->cert_path, &e->cert, 1);
	snprintf(file, sizeof(file), "%s.key", name);
	e->key_path = testpki_path(pki, file);
	testpki_write_key(e->key_path, e->key, NULL);
	ck_assert_int_eq(chmod(e->key_path, 0600), 0);
}

START_TEST(good_setup_passes_every_check)
{
	static const char *const names[] = { "ca-file", "certificate", "private-key",
	    "key-permissions", "key-match", "chain", "validity", "extended-key-usage" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_status(run_check(names[i]), TLSCHECK_PASS, NULL);
	ck_assert_uint_eq(tlscheck_report_tally(rep, TLSCHECK_FAIL), 0);
	ck_assert_uint_eq(tlscheck_report_tally(rep, TLSCHECK_WARN), 0);
	ck_assert_ptr_null(tlscheck_report_find(rep, "host-names"));	/* none configured */
}
END_TEST

START_TEST(expired_certificate_fails_with_its_date)
{
	struct testpki_entity e;

	write_leaf(&e, "expired-server", -2 * DAY, -DAY, &pki->ca, testpki_ext_server);
	in.certificate = e.cert_path;
	in.private_key = e.key_path;
	assert_status(run_check("validity"), TLSCHECK_FAIL, "expired on ");
	assert_status(run_check("validity"), TLSCHECK_FAIL, "renew it");
	/* The chain check leaves the leaf's dates to the validity check. */
	assert_status(run_check("chain"), TLSCHECK_PASS, NULL);
	testpki_entity_clear(&e);
}
END_TEST

START_TEST(not_yet_valid_certificate_fails_and_mentions_the_clock)
{
	struct testpki_entity e;

	write_leaf(&e, "future-server", DAY, 60 * DAY, &pki->ca, testpki_ext_server);
	in.certificate = e.cert_path;
	in.private_key = e.key_path;
	assert_status(run_check("validity"), TLSCHECK_FAIL, "is not valid yet: from ");
	assert_status(run_check("validity"), TLSCHECK_FAIL, "clock");
	testpki_entity_clear(&e);
}
END_TEST

START_TEST(certificate_expiring_within_the_warning_time_warns)
{
	in.expiry_warning_s = 60 * DAY;
	assert_status(run_check("validity"), TLSCHECK_WARN, "renew it before then");
	in.expiry_warning_s = DAY;
	assert_status(run_check("validity"), TLSCHECK_PASS, "days left");
}
END_TEST

START_TEST(not_after_is_exposed)
{
	time_t na = 0;
	int diff_days = -1, diff_secs = -1;
	ASN1_TIME *t;

	run_check("validity");
	ck_assert_int_eq(tlscheck_report_not_after(rep, &na), 0);
	t = ASN1_TIME_set(NULL, na);
	ck_assert_int_eq(ASN1_TIME_diff(&diff_days, &diff_secs, t,
	    X509_get0_notAfter(pki->server.cert)), 1);
	ck_assert_int_eq(diff_days, 0);
	ck_assert_int_eq(diff_secs, 0);
	ASN1_TIME_free(t);
}
END_TEST

START_TEST(key_of_another_certificate_fails_naming_both_files)
{
	in.private_key = pki->client.key_path;
	ck_assert_int_eq(chmod(pki->client.key_path, 0600), 0);
	assert_status(run_check("key-match"), TLSCHECK_FAIL, pki->client.key_path);
	assert_status(run_check("key-match"), TLSCHECK_FAIL, pki->server_chain);
}
END_TEST

START_TEST(key_readable_by_others_fails_with_chmod_remedy)
{
	char *copy = testpki_path(pki, "open.key"), want[512];
	struct testpki_entity e;

	write_leaf(&e, "open", -DAY, 60 * DAY, &pki->ca, testpki_ext_server);
	ck_assert_int_eq(chmod(e.key_path, 0644), 0);
	in.certificate = e.cert_path;
	in.private_key = e.key_path;
	snprintf(want, sizeof(want), "run `chmod 600 %s`, or set tls.skipKeyPermissionCheck",
	    e.key_path);
	assert_status(run_check("key-permissions"), TLSCHECK_FAIL, want);
	assert_status(run_check("key-permissions"), TLSCHECK_FAIL, "mode 0644");
	ck_assert_int_eq(chmod(e.key_path, 0640), 0);
	assert_status(run_check("key-permissions"), TLSCHECK_FAIL, "mode 0640");
	in.skip_key_permissions = true;
	assert_status(run_check("key-permissions"), TLSCHECK_PASS, "not checked");
	in.skip_key_permissions = false;
	ck_assert_int_eq(chmod(e.key_path, 0600), 0);
	assert_status(run_check("key-permissions"), TLSCHECK_PASS, "mode 0600");
	testpki_entity_clear(&e);
	free(copy);
}
END_TEST

START_TEST(chain_missing_its_intermediate_fails_and_says_to_append_it)
{
	struct testpki_entity inter, leaf;
	X509 *both[2];
	char *full = testpki_path(pki, "leaf-int.pem");

	testpki_issue(&inter, testpki_name("CN", "Test Intermediate", NULL), &pki->ca,
	    testpki_ext_ca);
	write_leaf(&leaf, "behind-int", -DAY, 60 * DAY, &inter, testpki_ext_server);
	in.certificate = leaf.cert_path;
	in.private_key = leaf.key_path;
	assert_status(run_check("chain"), TLSCHECK_FAIL, "no certificate for \"CN=Test "
	    "Intermediate\", the issuer of \"CN=behind-int\"; if that is an intermediate CA, "
	    "append it to");
	in.strict_chain = false;	/* start-up: another CA may be the server's */
	assert_status(run_check("chain"), TLSCHECK_WARN, "different CAs");
	both[0] = leaf.cert;
	both[1] = inter.cert;
	testpki_write_certs(full, both, 2);
	in.certificate = full;
	in.strict_chain = true;
	assert_status(run_check("chain"), TLSCHECK_PASS, "3 certificates up to");
	testpki_entity_clear(&leaf);
	testpki_entity_clear(&inter);
	free(full);
}
END_TEST

START_TEST(chain_file_in_the_wrong_order_fails)
{
	X509 *certs[2] = { pki->server.cert, pki->other_ca.cert };
	char *path = testpki_path(pki, "unordered.pem");

	testpki_write_certs(path, certs, 2);
	in.certificate = path;
	assert_status(run_check("chain"), TLSCHECK_FAIL, "did not issue certificate 1");
	free(path);
}
END_TEST

START_TEST(no_ca_file_leaves_the_chain_unverified_and_says_what_to_give)
{
	in.ca = NULL;
	in.strict_chain = false;
	assert_status(run_check("chain"), TLSCHECK_WARN, "give the CA bundle that holds its "
	    "root with tls.certificateAuthority");
	ck_assert_ptr_null(tlscheck_report_find(rep, "ca-file"));
}
END_TEST

START_TEST(certificate_without_server_auth_warns_and_client_check_passes)
{
	in.certificate = pki->client.cert_path;
	in.private_key = pki->client.key_path;
	ck_assert_int_eq(chmod(pki->client.key_path, 0600), 0);
	assert_status(run_check("extended-key-usage"), TLSCHECK_WARN,
	    "lacks serverAuth in its extendedKeyUsage (clientAuth)");
	in.client = true;
	assert_status(run_check("extended-key-usage"), TLSCHECK_PASS, "allows clientAuth");
	in.certificate = pki->server_chain;
	in.private_key = pki->server.key_path;
	assert_status(run_check("extended-key-usage"), TLSCHECK_FAIL, "lacks clientAuth");
}
END_TEST

START_TEST(host_names_not_in_the_sans_warn)
{
	const char *good[] = { "localhost", "127.0.0.1" };
	const char *bad[] = { "localhost", "www.example.com", "10.9.8.7" };

	in.host_names = good;
	in.nhost_names = 2;
	assert_status(run_check("host-names"), TLSCHECK_PASS, "DNS:localhost, IP:127.0.0.1");
	in.host_names = bad;
	in.nhost_names = 3;
	assert_status(run_check("host-names"), TLSCHECK_WARN,
	    "does not cover www.example.com, 10.9.8.7");
}
END_TEST

START_TEST(ca_file_without_certificates_fails)
{
	char *dir = testpki_path(pki, "hashed"), *empty = testpki_path(pki, "empty-dir");

	in.ca = pki->no_cert;
	assert_status(run_check("ca-file"), TLSCHECK_FAIL, "holds no PEM certificate");
	ck_assert_ptr_null(tlscheck_report_find(rep, "chain"));	/* nothing to verify with */
	ck_assert_int_eq(mkdir(empty, 0700), 0);
	in.ca = empty;
	assert_status(run_check("ca-file"), TLSCHECK_FAIL, "run `openssl rehash");
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	testpki_write_hashed(dir, pki->ca.cert);
	in.ca = dir;
	assert_status(run_check("ca-file"), TLSCHECK_PASS, "(hashed)");
	assert_status(run_check("chain"), TLSCHECK_PASS, NULL);
	free(dir);
	free(empty);
}
END_TEST

START_TEST(wrong_or_missing_password_fails_clearly)
{
	ck_assert_int_eq(chmod(pki->server_key_enc, 0600), 0);
	in.private_key = pki->server_key_enc;
	in.private_key_password = TESTPKI_PASSWORD;
	assert_status(run_check("private-key"), TLSCHECK_PASS, "an encrypted");
	in.private_key_password = "wrong";
	assert_status(run_check("private-key"), TLSCHECK_FAIL,
	    "tls.privateKeyPassword: wrong password for tls.privateKey");
	in.private_key_password = NULL;
	assert_status(run_check("private-key"), TLSCHECK_FAIL,
	    "is encrypted; give its password with tls.privateKeyPassword");

	ck_assert_int_eq(chmod(pki->server_p12, 0600), 0);
	in.certificate = pki->server_p12;
	in.private_key = NULL;
	in.certificate_password = TESTPKI_PASSWORD;
	assert_status(run_check("certificate"), TLSCHECK_PASS, "PKCS#12 bundle");
	assert_status(run_check("key-match"), TLSCHECK_PASS, NULL);
	in.certificate_password = "wrong";
	assert_status(run_check("certificate"), TLSCHECK_FAIL,
	    "tls.certificatePassword: wrong password");
	in.certificate_password = NULL;
	assert_status(run_check("certificate"), TLSCHECK_FAIL, "password-protected");
}
END_TEST

START_TEST(missing_certificate_file_fails_naming_it)
{
	in.certificate = "/nonexistent/cert.pem";
	assert_status(run_check("certificate"), TLSCHECK_FAIL,
	    "tls.certificate \"/nonexistent/cert.pem\": cannot read: No such file");
	ck_assert_ptr_null(tlscheck_report_get0_leaf(rep));
}
END_TEST

static Suite *
tlscheck_suite(void)
{
	Suite *s = suite_create("tlscheck");
	TCase *tc = tcase_create("checks");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, good_setup_passes_every_check);
	tcase_add_test(tc, expired_certificate_fails_with_its_date);
	tcase_add_test(tc, not_yet_valid_certificate_fails_and_mentions_the_clock);
	tcase_add_test(tc, certificate_expiring_within_the_warning_time_warns);
	tcase_add_test(tc, not_after_is_exposed);
	tcase_add_test(tc, key_of_another_certificate_fails_naming_both_files);
	tcase_add_test(tc, key_readable_by_others_fails_with_chmod_remedy);
	tcase_add_test(tc, chain_missing_its_intermediate_fails_and_says_to_append_it);
	tcase_add_test(tc, chain_file_in_the_wrong_order_fails);
	tcase_add_test(tc, no_ca_file_leaves_the_chain_unverified_and_says_what_to_give);
	tcase_add_test(tc, certificate_without_server_auth_warns_and_client_check_passes);
	tcase_add_test(tc, host_names_not_in_the_sans_warn);
	tcase_add_test(tc, ca_file_without_certificates_fails);
	tcase_add_test(tc, wrong_or_missing_password_fails_clearly);
	tcase_add_test(tc, missing_certificate_file_fails_naming_it);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	pki = testpki_new();
	/* The fixture writes keys with the umask's mode; a server key must be private. */
	if (chmod(pki->server.key_path, 0600) != 0) {
		perror(pki->server.key_path);
		testpki_free(pki);
		return EXIT_FAILURE;
	}
	sr = srunner_create(tlscheck_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	testpki_free(pki);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
