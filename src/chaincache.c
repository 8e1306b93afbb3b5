#include "config.h"
#include "chaincache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "ttlcache.h"

/*
 * What one entry is said to cost against the byte bound: a decoded leaf and a stack; the
 * issuers are shared with other entries by reference. The entry count is the real bound.
 */
#define CHAINCACHE_ENTRY_BYTES	4096
/* Entries do not expire by time: a chain stays valid while the trust anchors do. */
#define CHAINCACHE_KEEP_MS	((int64_t)365 * 24 * 3600 * 1000)

struct chaincache {
	pthread_mutex_t	 lock;
	struct ttlcache	*map;		/* leaf SHA-1 -> STACK_OF(X509); NULL after ENOMEM */
	size_t		 max_entries;
};

static void
chaincache_free_chain(void *value)
{
	sk_X509_pop_free(value, X509_free);
}

static struct ttlcache *
chaincache_map_new(size_t max_entries)
{
	return ttlcache_new(max_entries, max_entries * CHAINCACHE_ENTRY_BYTES,
	    chaincache_free_chain);
}

static int64_t
chaincache_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The leaf's SHA-1, which OpenSSL computed when it decoded the certificate: asking for it
 * after the extensions are cached is a copy, not a hash. Only a key; hits compare encodings.
 */
static int
chaincache_key(X509 *leaf, unsigned char key[EVP_MAX_MD_SIZE], unsigned int *len)
{
	X509_check_purpose(leaf, -1, 0);
	if (X509_digest(leaf, EVP_sha1(), key, len) != 1) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

struct chaincache *
chaincache_new(size_t max_entries)
{
	struct chaincache *cc = calloc(1, sizeof(*cc));

	if (cc == NULL)
		return NULL;
	if ((cc->map = chaincache_map_new(max_entries)) == NULL) {
		free(cc);
		return NULL;
	}
	cc->max_entries = max_entries;
	pthread_mutex_init(&cc->lock, NULL);
	return cc;
}

void
chaincache_put(struct chaincache *cc, STACK_OF(X509) *chain)
{
	unsigned char key[EVP_MAX_MD_SIZE];
	unsigned int len;
	STACK_OF(X509) *copy;
	bool fresh;
	int64_t now = chaincache_now_ms();

	if (sk_X509_num(chain) < 1 || chaincache_key(sk_X509_value(chain, 0), key, &len) == -1)
		return;
	pthread_mutex_lock(&cc->lock);
	if (cc->map != NULL && ttlcache_get(cc->map, key, len, now, &fresh) == NULL &&
	    (copy = X509_chain_up_ref(chain)) != NULL)
		/* The cache owns COPY from here, even when it cannot keep it. */
		(void)ttlcache_put(cc->map, key, len, copy, CHAINCACHE_ENTRY_BYTES, now +
		    CHAINCACHE_KEEP_MS, now + CHAINCACHE_KEEP_MS, now);
	pthread_mutex_unlock(&cc->lock);
}

STACK_OF(X509) *
chaincache_get1(struct chaincache *cc, X509 *leaf)
{
	unsigned char key[EVP_MAX_MD_SIZE];
	unsigned int len;
	STACK_OF(X509) *chain, *copy = NULL;
	bool fresh;

	if (chaincache_key(leaf, key, &len) == -1)
		return NULL;
	pthread_mutex_lock(&cc->lock);
	chain = cc->map == NULL ? NULL :
	    ttlcache_get(cc->map, key, len, chaincache_now_ms(), &fresh);
	if (chain != NULL && X509_cmp(sk_X509_value(chain, 0), leaf) == 0)
		copy = X509_chain_up_ref(chain);
	pthread_mutex_unlock(&cc->lock);
	return copy;
}

void
chaincache_clear(struct chaincache *cc)
{
	/* Without memory for a new map, remember nothing: an old chain may be untrusted now. */
	struct ttlcache *fresh_map = chaincache_map_new(cc->max_entries), *old;

	pthread_mutex_lock(&cc->lock);
	old = cc->map;
	cc->map = fresh_map;
	pthread_mutex_unlock(&cc->lock);
	ttlcache_free(old);
}

size_t
chaincache_count(struct chaincache *cc)
{
	size_t n;

	pthread_mutex_lock(&cc->lock);
	n = cc->map != NULL ? ttlcache_count(cc->map) : 0;
	pthread_mutex_unlock(&cc->lock);
	return n;
}

void
chaincache_free(struct chaincache *cc)
{
	if (cc == NULL)
		return;
	ttlcache_free(cc->map);
	pthread_mutex_destroy(&cc->lock);
	free(cc);
}
