#include "config.h"
#include "ttlcache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define TTLCACHE_MIN_BUCKETS	16

struct ttlcache_entry {
	struct ttlcache_entry	*hnext;		/* bucket chain */
	struct ttlcache_entry	*newer;		/* LRU list: towards the most recently used */
	struct ttlcache_entry	*older;
	uint64_t		 hash;
	void			*value;		/* owned */
	size_t			 bytes;
	int64_t			 fresh_until;
	int64_t			 keep_until;
	size_t			 keylen;
	unsigned char		 key[];
};

struct ttlcache {
	struct ttlcache_entry	**buckets;
	size_t			 nbuckets;	/* a power of two */
	struct ttlcache_entry	*newest;	/* LRU head */
	struct ttlcache_entry	*oldest;	/* LRU tail: evicted first */
	size_t			 count;
	size_t			 bytes;
	size_t			 max_entries;
	size_t			 max_bytes;
	uint64_t		 evictions;
	uint64_t		 seed[2];
	void			(*free_value)(void *value);
};

static uint64_t
ttlcache_rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static void
ttlcache_sipround(uint64_t v[4])
{
	v[0] += v[1]; v[1] = ttlcache_rotl(v[1], 13); v[1] ^= v[0];
	v[0] = ttlcache_rotl(v[0], 32);
	v[2] += v[3]; v[3] = ttlcache_rotl(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = ttlcache_rotl(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = ttlcache_rotl(v[1], 17); v[1] ^= v[2];
	v[2] = ttlcache_rotl(v[2], 32);
}

static uint64_t
ttlcache_load64(const unsigned char *p)
{
	uint64_t m = 0;

	for (int i = 7; i >= 0; i--)
		m = (m << 8) | p[i];
	return m;
}

/* SipHash-2-4 of KEY under the cache's secret seed: chosen keys cannot force collisions. */
static uint64_t
ttlcache_hash(const struct ttlcache *c, const unsigned char *key, size_t len)
{
	uint64_t v[4] = {
		0x736f6d6570736575ULL ^ c->seed[0], 0x646f72616e646f6dULL ^ c->seed[1],
		0x6c7967656e657261ULL ^ c->seed[0], 0x7465646279746573ULL ^ c->seed[1],
	};
	uint64_t last = (uint64_t)len << 56;
	size_t whole = len - len % 8;

	for (size_t i = 0; i < whole; i += 8) {
		uint64_t m = ttlcache_load64(key + i);

		v[3] ^= m;
		ttlcache_sipround(v);
		ttlcache_sipround(v);
		v[0] ^= m;
	}
	for (size_t i = 0; i < len % 8; i++)
		last |= (uint64_t)key[whole + i] << (8 * i);
	v[3] ^= last;
	ttlcache_sipround(v);
	ttlcache_sipround(v);
	v[0] ^= last;
	v[2] ^= 0xff;
	for (int i = 0; i < 4; i++)
		ttlcache_sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static int
ttlcache_seed(uint64_t seed[2])
{
	unsigned char *p = (unsigned char *)seed;
	size_t got = 0;

	while (got < 2 * sizeof(uint64_t)) {
		ssize_t n = getrandom(p + got, 2 * sizeof(uint64_t) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

struct ttlcache *
ttlcache_new(size_t max_entries, size_t max_bytes, void (*free_value)(void *value))
{
	struct ttlcache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->nbuckets = TTLCACHE_MIN_BUCKETS;
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	if (c->buckets == NULL || ttlcache_seed(c->seed) != 0) {
		free(c->buckets);
		free(c);
		return NULL;
	}
	c->max_entries = max_entries;
	c->max_bytes = max_bytes;
	c->free_value = free_value;
	return c;
}

static void
ttlcache_release(struct ttlcache *c, void *value)
{
	if (value != NULL && c->free_value != NULL)
		c->free_value(value);
}

static void
ttlcache_lru_unlink(struct ttlcache *c, struct ttlcache_entry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void
ttlcache_lru_push(struct ttlcache *c, struct ttlcache_entry *e)
{
	e->newer = NULL;
	e->older = c->newest;
	if (c->newest != NULL)
		c->newest->newer = e;
	else
		c->oldest = e;
	c->newest = e;
}

static bool
ttlcache_key_eq(const struct ttlcache_entry *e, const void *key, size_t keylen, uint64_t hash)
{
	return e->hash == hash && e->keylen == keylen &&
	    (keylen == 0 || memcmp(e->key, key, keylen) == 0);
}

/* Frees E, already unlinked from its bucket chain, with its value. */
static void
ttlcache_discard(struct ttlcache *c, struct ttlcache_entry *e)
{
	ttlcache_lru_unlink(c, e);
	c->count--;
	c->bytes -= e->bytes;
	ttlcache_release(c, e->value);
	free(e);
}

static void
ttlcache_drop(struct ttlcache *c, struct ttlcache_entry *e)
{
	struct ttlcache_entry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	ttlcache_discard(c, e);
}

/*
 * The live entry under KEY, or NULL. Entries of the chain that are past their keep deadline
 * are dropped on the way.
 */
static struct ttlcache_entry *
ttlcache_find(struct ttlcache *c, const unsigned char *key, size_t keylen, uint64_t hash,
    int64_t now)
{
	struct ttlcache_entry **pp = &c->buckets[hash & (c->nbuckets - 1)];
	struct ttlcache_entry *e;

	while ((e = *pp) != NULL) {
		if (now >= e->keep_until) {
			*pp = e->hnext;
			ttlcache_discard(c, e);
			continue;
		}
		if (ttlcache_key_eq(e, key, keylen, hash))
			return e;
		pp = &e->hnext;
	}
	return NULL;
}

/* Doubles the table when chains grow longer than one entry on average; best effort. */
static void
ttlcache_grow(struct ttlcache *c)
{
	size_t n = c->nbuckets * 2;
	struct ttlcache_entry **b;

	if (c->count <= c->nbuckets || n > SIZE_MAX / sizeof(*b))
		return;
	b = calloc(n, sizeof(*b));
	if (b == NULL)
		return;		/* longer chains, still correct */
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct ttlcache_entry *e, *next;

		for (e = c->buckets[i]; e != NULL; e = next) {
			next = e->hnext;
			e->hnext = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = n;
}

/*
 * Makes room for KEEP (most recently used, not yet counted in c->bytes) to take BYTES more:
 * drops expired entries from the LRU tail, then evicts the least recently used.
 */
static void
ttlcache_make_room(struct ttlcache *c, const struct ttlcache_entry *keep, size_t bytes,
    int64_t now)
{
	while (c->oldest != keep && now >= c->oldest->keep_until)
		ttlcache_drop(c, c->oldest);
	while (c->oldest != keep &&
	    (c->count > c->max_entries || c->bytes > c->max_bytes - bytes)) {
		ttlcache_drop(c, c->oldest);
		c->evictions++;
	}
}

static struct ttlcache_entry *
ttlcache_insert(struct ttlcache *c, const void *key, size_t keylen, uint64_t hash)
{
	struct ttlcache_entry *e;
	struct ttlcache_entry **head;

	if (keylen > SIZE_MAX - sizeof(*e))
		return NULL;
	e = calloc(1, sizeof(*e) + keylen);
	if (e == NULL)
		return NULL;
	e->hash = hash;
	e->keylen = keylen;
	if (keylen > 0)
		memcpy(e->key, key, keylen);
	head = &c->buckets[hash & (c->nbuckets - 1)];
	e->hnext = *head;
	*head = e;
	ttlcache_lru_push(c, e);
	c->count++;
	ttlcache_grow(c);
	return e;
}

int
ttlcache_put(struct ttlcache *c, const void *key, size_t keylen, void *value,
    size_t bytes, int64_t fresh_until, int64_t keep_until, int64_t now)
{
	uint64_t hash = ttlcache_hash(c, key, keylen);
	struct ttlcache_entry *e = ttlcache_find(c, key, keylen, hash, now);

	if (c->max_entries == 0 || bytes > c->max_bytes) {
		/* No older answer may outlive a newer one that could not be stored. */
		if (e != NULL)
			ttlcache_drop(c, e);
		ttlcache_release(c, value);
		return -1;
	}
	if (e != NULL) {
		void *old = e->value;

		c->bytes -= e->bytes;
		e->bytes = 0;
		e->value = NULL;
		if (old != value)
			ttlcache_release(c, old);
		ttlcache_lru_unlink(c, e);
		ttlcache_lru_push(c, e);
	} else if ((e = ttlcache_insert(c, key, keylen, hash)) == NULL) {
		ttlcache_release(c, value);
		return -1;
	}
	e->fresh_until = fresh_until;
	e->keep_until = keep_until > fresh_until ? keep_until : fresh_until;
	ttlcache_make_room(c, e, bytes, now);
	e->value = value;		/* the cache owns it from here */
	e->bytes = bytes;
	c->bytes += bytes;
	return 0;
}

void *
ttlcache_get(struct ttlcache *c, const void *key, size_t keylen, int64_t now, bool *fresh)
{
	struct ttlcache_entry *e = ttlcache_find(c, key, keylen, ttlcache_hash(c, key, keylen),
	    now);

	if (fresh != NULL)
		*fresh = false;
	if (e == NULL)
		return NULL;
	ttlcache_lru_unlink(c, e);
	ttlcache_lru_push(c, e);
	if (fresh != NULL)
		*fresh = now < e->fresh_until;
	return e->value;
}

void
ttlcache_remove(struct ttlcache *c, const void *key, size_t keylen)
{
	uint64_t hash = ttlcache_hash(c, key, keylen);
	struct ttlcache_entry *e;

	for (e = c->buckets[hash & (c->nbuckets - 1)]; e != NULL; e = e->hnext)
		if (ttlcache_key_eq(e, key, keylen, hash)) {
			ttlcache_drop(c, e);
			return;
		}
}

size_t
ttlcache_count(const struct ttlcache *c)
{
	return c->count;
}

size_t
ttlcache_bytes(const struct ttlcache *c)
{
	return c->bytes;
}

uint64_t
ttlcache_evictions(const struct ttlcache *c)
{
	return c->evictions;
}

void
ttlcache_free(struct ttlcache *c)
{
	if (c == NULL)
		return;
	while (c->oldest != NULL)
		ttlcache_drop(c, c->oldest);
	free(c->buckets);
	free(c);
}

int64_t
ttlcache_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
