#include "config.h"

#include <check.h>
#include <stdlib.h>

#include <openssl/x509.h>

#include "chaincache.h"
#include "testpki.h"

/* A root, an intermediate under it, and clients under the intermediate. */
static struct testpki_entity root, inter;

static void
make_hierarchy(void)
{
	testpki_issue(&root, testpki_name("CN", "chaincache root", NULL), NULL,
	    testpki_ext_ca);
	testpki_issue(&inter, testpki_name("CN", "chaincache intermediate", NULL), &root,
	    testpki_ext_ca);
}

/* A verified-looking chain leaf -> intermediate -> root for a new client CN. */
static STACK_OF(X509) *
chain_for(const char *cn)
{
	struct testpki_entity leaf = { 0 };
	STACK_OF(X509) *chain = sk_X509_new_null();

	testpki_issue(&leaf, testpki_name("CN", cn, NULL), &inter, testpki_ext_client);
	ck_assert_ptr_nonnull(chain);
	X509_up_ref(leaf.cert);
	sk_X509_push(chain, leaf.cert);
	X509_up_ref(inter.cert);
	sk_X509_push(chain, inter.cert);
	X509_up_ref(root.cert);
	sk_X509_push(chain, root.cert);
	testpki_entity_clear(&leaf);
	return chain;
}

/* A second, separately decoded object with the same encoding (as a session ticket gives). */
static X509 *
redecode(X509 *x)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	int len = i2d_X509(x, &der);
	X509 *copy;

	ck_assert_int_gt(len, 0);
	p = der;
	copy = d2i_X509(NULL, &p, len);
	OPENSSL_free(der);
	ck_assert_ptr_nonnull(copy);
	return copy;
}

START_TEST(test_hit_by_encoding)
{
	struct chaincache *cc = chaincache_new(8);
	STACK_OF(X509) *chain = chain_for("alice"), *got;
	X509 *leaf = redecode(sk_X509_value(chain, 0));

	ck_assert_ptr_null(chaincache_get1(cc, leaf));
	chaincache_put(cc, chain);
	got = chaincache_get1(cc, leaf);
	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(sk_X509_num(got), 3);
	ck_assert_int_eq(X509_cmp(sk_X509_value(got, 0), leaf), 0);
	ck_assert_int_eq(X509_cmp(sk_X509_value(got, 1), inter.cert), 0);
	ck_assert_int_eq(X509_cmp(sk_X509_value(got, 2), root.cert), 0);
	sk_X509_pop_free(got, X509_free);
	/* The cache holds its own references: the caller's chain can go. */
	sk_X509_pop_free(chain, X509_free);
	got = chaincache_get1(cc, leaf);
	ck_assert_ptr_nonnull(got);
	sk_X509_pop_free(got, X509_free);
	X509_free(leaf);
	chaincache_free(cc);
}
END_TEST

START_TEST(test_miss_for_other_leaf)
{
	struct chaincache *cc = chaincache_new(8);
	STACK_OF(X509) *alice = chain_for("alice"), *bob = chain_for("bob");

	chaincache_put(cc, alice);
	ck_assert_ptr_null(chaincache_get1(cc, sk_X509_value(bob, 0)));
	ck_assert_ptr_null(chaincache_get1(cc, inter.cert));
	sk_X509_pop_free(alice, X509_free);
	sk_X509_pop_free(bob, X509_free);
	chaincache_free(cc);
}
END_TEST

/* A CA that reused a serial: same issuer and serial, another certificate. Never confused. */
START_TEST(test_reused_serial_is_another_certificate)
{
	struct chaincache *cc = chaincache_new(8);
	EVP_PKEY *k1 = testpki_key_new(), *k2 = testpki_key_new();
	X509_NAME *n1 = testpki_name("CN", "first", NULL), *n2 = testpki_name("CN", "second", NULL);
	struct testpki_cert_spec s1 = { n1, k1, inter.cert, inter.key, "1234", -60, 3600,
	    testpki_ext_client };
	struct testpki_cert_spec s2 = { n2, k2, inter.cert, inter.key, "1234", -60, 3600,
	    testpki_ext_client };
	X509 *first = testpki_cert_new(&s1), *second = testpki_cert_new(&s2);
	STACK_OF(X509) *chain = sk_X509_new_null(), *got;

	X509_up_ref(first);
	sk_X509_push(chain, first);
	X509_up_ref(inter.cert);
	sk_X509_push(chain, inter.cert);
	chaincache_put(cc, chain);
	ck_assert_ptr_null(chaincache_get1(cc, second));
	got = chaincache_get1(cc, first);
	ck_assert_ptr_nonnull(got);
	sk_X509_pop_free(got, X509_free);
	sk_X509_pop_free(chain, X509_free);
	X509_free(first);
	X509_free(second);
	X509_NAME_free(n1);
	X509_NAME_free(n2);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	chaincache_free(cc);
}
END_TEST

START_TEST(test_put_twice_keeps_one)
{
	struct chaincache *cc = chaincache_new(8);
	STACK_OF(X509) *chain = chain_for("alice");

	chaincache_put(cc, chain);
	chaincache_put(cc, chain);
	ck_assert_uint_eq(chaincache_count(cc), 1);
	sk_X509_pop_free(chain, X509_free);
	chaincache_free(cc);
}
END_TEST

START_TEST(test_bounded_lru)
{
	struct chaincache *cc = chaincache_new(2);
	STACK_OF(X509) *a = chain_for("a"), *b = chain_for("b"), *c = chain_for("c"), *got;

	chaincache_put(cc, a);
	chaincache_put(cc, b);
	got = chaincache_get1(cc, sk_X509_value(a, 0));	/* a is now the most recent */
	sk_X509_pop_free(got, X509_free);
	chaincache_put(cc, c);
	ck_assert_uint_eq(chaincache_count(cc), 2);
	ck_assert_ptr_null(chaincache_get1(cc, sk_X509_value(b, 0)));
	got = chaincache_get1(cc, sk_X509_value(a, 0));
	ck_assert_ptr_nonnull(got);
	sk_X509_pop_free(got, X509_free);
	sk_X509_pop_free(a, X509_free);
	sk_X509_pop_free(b, X509_free);
	sk_X509_pop_free(c, X509_free);
	chaincache_free(cc);
}
END_TEST

START_TEST(test_clear_forgets)
{
	struct chaincache *cc = chaincache_new(8);
	STACK_OF(X509) *chain = chain_for("alice");

	chaincache_put(cc, chain);
	chaincache_clear(cc);
	ck_assert_uint_eq(chaincache_count(cc), 0);
	ck_assert_ptr_null(chaincache_get1(cc, sk_X509_value(chain, 0)));
	chaincache_put(cc, chain);
	ck_assert_uint_eq(chaincache_count(cc), 1);
	sk_X509_pop_free(chain, X509_free);
	chaincache_free(cc);
}
END_TEST

START_TEST(test_empty_chain_ignored)
{
	struct chaincache *cc = chaincache_new(8);
	STACK_OF(X509) *empty = sk_X509_new_null();

	chaincache_put(cc, empty);
	ck_assert_uint_eq(chaincache_count(cc), 0);
	sk_X509_free(empty);
	chaincache_free(cc);
	chaincache_free(NULL);
}
END_TEST

static Suite *
chaincache_suite(void)
{
	Suite *s = suite_create("chaincache");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_hit_by_encoding);
	tcase_add_test(tc, test_miss_for_other_leaf);
	tcase_add_test(tc, test_reused_serial_is_another_certificate);
	tcase_add_test(tc, test_put_twice_keeps_one);
	tcase_add_test(tc, test_bounded_lru);
	tcase_add_test(tc, test_clear_forgets);
	tcase_add_test(tc, test_empty_chain_ignored);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	make_hierarchy();
	sr = srunner_create(chaincache_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	testpki_entity_clear(&inter);
	testpki_entity_clear(&root);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
