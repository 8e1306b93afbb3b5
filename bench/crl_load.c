/*
 * crl_load.c - what loading a big CRL costs: crl_new's time, the bytes its index keeps, and,
 * for comparison, the time and heap of OpenSSL's own X509_CRL for the same DER (which crl_new
 * holds only while it builds the index). The CRLs are made with the OpenSSL API (scattered
 * 64-bit serials, one in seven with a reason code) and signed by a P-256 CA.
 *
 * Not built by `make`. From a build directory configured without sanitizers (for config.h):
 *
 *   mkdir -p _build/crlbench && cd _build/crlbench && ../../configure -q
 *   cc -O2 -I. -I../../src -I../../tests/unit -DOPENSSL_API_COMPAT=30000 \
 *       -DOPENSSL_NO_DEPRECATED -o crl_load ../../bench/crl_load.c ../../src/crl.c \
 *       ../../tests/unit/testpki.c -lcrypto
 *   ./crl_load                  # 10000 100000 1000000 entries
 *   ./crl_load 5000 250000      # or the counts given
 *
 * Building and signing the 1M-entry CRL takes a few seconds and about 300 MB; the numbers
 * printed are for the load alone. Heap figures come from glibc's mallinfo2(). Lookups: 1000
 * prepared serials, half listed, searched 1000 times each.
 */
#include "config.h"

#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include <openssl/x509.h>

#include "crl.h"
#include "testpki.h"

#define BENCH_PROBES	1000

static double
bench_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t
bench_heap(void)
{
	return mallinfo2().uordblks;
}

/* splitmix64: scattered serials, so that the index really has to sort. */
static uint64_t
bench_serial(uint64_t n)
{
	uint64_t z = n + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned char *
bench_make(const struct testpki_entity *ca, size_t n, time_t now, size_t *len)
{
	struct testpki_crl_spec spec = {
		.issuer = ca, .this_update = now - 3600, .next_update = now + 86400,
	};
	ASN1_INTEGER *serial = ASN1_INTEGER_new();
	X509_CRL *x = testpki_crl_build(&spec);
	unsigned char *der;

	if (serial == NULL)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (ASN1_INTEGER_set_uint64(serial, bench_serial(i)) != 1)
			abort();
		testpki_crl_add(x, serial, now - 86400, i % 7 == 0 ? 1 : -1);
	}
	testpki_crl_sign(x, ca->key);
	der = testpki_crl_der(x, len);
	X509_CRL_free(x);
	ASN1_INTEGER_free(serial);
	return der;
}

/* Time and heap of d2i_X509_CRL alone, for comparison. */
static void
bench_openssl(const unsigned char *der, size_t len, double *secs, size_t *heap)
{
	const unsigned char *p = der;
	size_t before = bench_heap();
	double t0 = bench_now();
	X509_CRL *x = d2i_X509_CRL(NULL, &p, (long)len);

	*secs = bench_now() - t0;
	*heap = bench_heap() - before;
	if (x == NULL)
		abort();
	X509_CRL_free(x);
}

static void
bench_one(const struct testpki_entity *ca, size_t n)
{
	time_t now = time(NULL);
	double t0 = bench_now(), make, load, reload, d2i, lookups;
	size_t len, heap_before, heap_index, heap_d2i, found = 0;
	unsigned char *der = bench_make(ca, n, now, &len);
	ASN1_INTEGER *probes[BENCH_PROBES];
	enum crl_error err;
	char msg[256];
	struct crl *crl;

	make = bench_now() - t0;
	heap_before = bench_heap();
	t0 = bench_now();
	crl = crl_new(der, len, ca->cert, now, 300, n, &err, msg, sizeof(msg));
	load = bench_now() - t0;
	heap_index = bench_heap() - heap_before;
	if (crl == NULL) {
		fprintf(stderr, "crl_new: %s: %s\n", crl_error_name(err), msg);
		exit(1);
	}
	/* A refresh: the same CRL again, the first index still held. */
	t0 = bench_now();
	crl_unref(crl_new(der, len, ca->cert, now, 300, n, &err, msg, sizeof(msg)));
	reload = bench_now() - t0;
	bench_openssl(der, len, &d2i, &heap_d2i);
	/* Lookups of listed and unlisted serials, half and half, prepared beforehand. */
	for (size_t i = 0; i < BENCH_PROBES; i++)
		if ((probes[i] = ASN1_INTEGER_new()) == NULL ||
		    ASN1_INTEGER_set_uint64(probes[i], bench_serial(i % 2 == 0 ?
		    i * 7919 % n : n + i)) != 1)
			abort();
	t0 = bench_now();
	for (size_t round = 0; round < 1000; round++)
		for (size_t i = 0; i < BENCH_PROBES; i++)
			found += crl_lookup(crl, probes[i], NULL);
	lookups = bench_now() - t0;
	if (found != 1000 * BENCH_PROBES / 2)
		fprintf(stderr, "%zu lookups found, expected %d\n", found, 1000 * BENCH_PROBES / 2);
	printf("%8zu entries %9zu B DER (made+signed in %5.2f s)\n"
	    "    crl_new %.3f s (again, as a refresh: %.3f s); index %zu B = %.1f MB "
	    "(heap grew %zu B); lookup %.0f ns\n"
	    "    d2i_X509_CRL alone, for comparison: %.3f s, %.1f MB of heap\n",
	    n, len, make, load, reload, crl_memory(crl), (double)crl_memory(crl) / 1e6,
	    heap_index, lookups * 1e9 / (1000.0 * BENCH_PROBES), d2i, (double)heap_d2i / 1e6);
	fflush(stdout);
	for (size_t i = 0; i < BENCH_PROBES; i++)
		ASN1_INTEGER_free(probes[i]);
	crl_unref(crl);
	free(der);
}

int
main(int argc, char **argv)
{
	static const size_t defaults[] = { 10000, 100000, 1000000 };
	struct testpki_entity ca;
	struct rusage ru;

	testpki_issue(&ca, testpki_name("CN", "Bench CA", NULL), NULL, testpki_ext_ca);
	if (argc > 1)
		for (int i = 1; i < argc; i++)
			bench_one(&ca, (size_t)strtoull(argv[i], NULL, 10));
	else
		for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
			bench_one(&ca, defaults[i]);
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		printf("peak RSS of the whole run (building the CRLs included): %ld MB\n",
		    ru.ru_maxrss / 1024);
	testpki_entity_clear(&ca);
	return 0;
}
