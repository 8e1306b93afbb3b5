#include "config.h"
#include "chaincache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/asn1.h>
#include <openssl/x509v3.h>

#include "ttlcache.h"

/*
 * What one entry is said to cost against the byte bound: a decoded leaf and a stack; the
 * issuers are shared with other entries by reference. The entry count is the real bound.
 */
#define CHAINCACHE_ENTRY_BYTES	4096
/* Entries do not expire by time: a chain stays valid while the trust anchors do. */
#define CHAINCACHE_KEEP_MS	((int64_t)365 * 24 * 3600 * 1000)
#define CHAINCACHE_KEY_MAX	1024	/* issuer DER + serial; larger ones are not cached */

struct chaincache {
	pthread_mutex_t	 lock;
	struct ttlcache	*map;		/* issuer DER + serial -> STACK_OF(X509); NULL after ENOMEM */
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

/*
 * The key of LEAF: its issuer's DER name and its serial, which identify a certificate among
 * those a CA issued. Read from what decoding left in place: a resumed session's leaf was just
 * decoded from its ticket, and hashing it or caching its extensions would cost more than the
 * rest of the lookup. Returns the key length, or 0 when the key would not fit (no caching).
 */
static size_t
chaincache_key(X509 *leaf, unsigned char key[CHAINCACHE_KEY_MAX])
{
	const ASN1_INTEGER *serial = X509_get0_serialNumber(leaf);
	const unsigned char *name;
	size_t namelen;
	int seriallen = ASN1_STRING_length(serial);

	if (X509_NAME_get0_der(X509_get_issuer_name(leaf), &name, &namelen) != 1 ||
	    seriallen <= 0 || namelen + (size_t)seriallen > CHAINCACHE_KEY_MAX) {
		ERR_clear_error();
		return 0;
	}
	memcpy(key, name, namelen);
	memcpy(key + namelen, ASN1_STRING_get0_data(serial), (size_t)seriallen);
	return namelen + (size_t)seriallen;
}

/*
 * The same certificate as A? Both were verified against the same CA (one in a full handshake,
 * one when its session began), so equal issuer and serial and an equal signature value mean
 * equal signed content: a CA's signature covers the whole certificate.
 */
static bool
chaincache_same(X509 *a, X509 *b)
{
	const ASN1_BIT_STRING *sa, *sb;

	X509_get0_signature(&sa, NULL, a);
	X509_get0_signature(&sb, NULL, b);
	return ASN1_STRING_cmp(sa, sb) == 0 &&
	    ASN1_INTEGER_cmp(X509_get0_serialNumber(a), X509_get0_serialNumber(b)) == 0 &&
	    X509_NAME_cmp(X509_get_issuer_name(a), X509_get_issuer_name(b)) == 0;
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
	unsigned char key[CHAINCACHE_KEY_MAX];
	size_t len;
	STACK_OF(X509) *copy;
	bool fresh;
	int64_t now = ttlcache_now_ms();

	if (sk_X509_num(chain) < 1 || (len = chaincache_key(sk_X509_value(chain, 0), key)) == 0)
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
	unsigned char key[CHAINCACHE_KEY_MAX];
	size_t len;
	STACK_OF(X509) *chain, *copy = NULL;
	bool fresh;

	if ((len = chaincache_key(leaf, key)) == 0)
		return NULL;
	pthread_mutex_lock(&cc->lock);
	chain = cc->map == NULL ? NULL :
	    ttlcache_get(cc->map, key, len, ttlcache_now_ms(), &fresh);
	if (chain != NULL && chaincache_same(sk_X509_value(chain, 0), leaf))
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
