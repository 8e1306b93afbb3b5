#include "config.h"
#include "sesscache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "ttlcache.h"

#define SESSCACHE_SHARDS	16
/*
 * What an entry is said to cost against ttlcache's byte bound. The entry count is the real
 * bound; this figure only keeps the byte bound from binding first. (Measured, a session with
 * a client certificate takes about 6 KB: docs/BENCHMARKS.md.)
 */
#define SESSCACHE_ENTRY_BYTES	2048

struct sesscache_shard {
	pthread_mutex_t	 lock;
	struct ttlcache	*map;		/* session ID -> SSL_SESSION (one reference); NULL: none */
	uint64_t	 hits;
	uint64_t	 misses;
	uint64_t	 evictions;	/* by maps already replaced */
};

struct sesscache {
	struct sesscache_shard	shards[SESSCACHE_SHARDS];
};

static int		sesscache_ex_index = -1;
static pthread_once_t	sesscache_ex_once = PTHREAD_ONCE_INIT;

static void
sesscache_ex_index_init(void)
{
	sesscache_ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static void
sesscache_free_session(void *value)
{
	SSL_SESSION_free(value);
}

/* A shard's map for MAX_ENTRIES sessions in all; NULL when that is 0 (or on ENOMEM). */
static struct ttlcache *
sesscache_map_new(size_t max_entries)
{
	size_t per_shard = (max_entries + SESSCACHE_SHARDS - 1) / SESSCACHE_SHARDS;

	if (per_shard == 0)
		return NULL;
	return ttlcache_new(per_shard, per_shard * SESSCACHE_ENTRY_BYTES, sesscache_free_session);
}

/*
 * The shard of a session ID. IDs that revgate issued are random; one a client makes up only
 * picks the shard its own lookup goes to, and ttlcache hashes keys with a secret seed.
 */
static struct sesscache_shard *
sesscache_shard(struct sesscache *sc, const unsigned char *id, size_t len)
{
	unsigned int h = 0;

	for (size_t i = 0; i < len; i++)
		h = h * 31 + id[i];
	return &sc->shards[h % SESSCACHE_SHARDS];
}

static struct sesscache *
sesscache_of(SSL_CTX *ctx)
{
	return sesscache_ex_index < 0 ? NULL : SSL_CTX_get_ex_data(ctx, sesscache_ex_index);
}

/*
 * OpenSSL shows a new session (one per TLS 1.3 ticket sent). The cache keeps its own copy:
 * OpenSSL marks the connection's session not resumable when the connection ends in an error,
 * including a client that closes without close_notify, which TLS 1.1 and later allow to
 * resume. A session in the cache is never one a connection uses. Returns 0: OpenSSL drops the
 * reference it passed.
 */
static int
sesscache_on_new(SSL *ssl, SSL_SESSION *sess)
{
	struct sesscache *sc = sesscache_of(SSL_get_SSL_CTX(ssl));
	struct sesscache_shard *sh;
	SSL_SESSION *copy;
	const unsigned char *id;
	unsigned int len;
	int64_t now = ttlcache_now_ms();
	int64_t until = now + (int64_t)SSL_SESSION_get_timeout(sess) * 1000;

	id = SSL_SESSION_get_id(sess, &len);
	if (sc == NULL || len == 0 || (copy = SSL_SESSION_dup(sess)) == NULL)
		return 0;
	sh = sesscache_shard(sc, id, len);
	pthread_mutex_lock(&sh->lock);
	if (sh->map != NULL)
		/* The cache owns COPY from here, even when it cannot keep it. */
		(void)ttlcache_put(sh->map, id, len, copy, SESSCACHE_ENTRY_BYTES, until, until,
		    now);
	else
		SSL_SESSION_free(copy);
	pthread_mutex_unlock(&sh->lock);
	return 0;
}

/*
 * The session a client offers, as a reference OpenSSL takes over (*COPY = 0). A TLS 1.3
 * session leaves the cache on its first use (RFC 8446 C.4), so the cached object itself goes;
 * a TLS 1.2 session ID stays until it expires, and the connection gets a copy (see
 * sesscache_on_new). Both under the shard's lock, as another thread may drop the entry at once.
 */
static SSL_SESSION *
sesscache_on_get(SSL *ssl, const unsigned char *id, int len, int *copy)
{
	struct sesscache *sc = sesscache_of(SSL_get_SSL_CTX(ssl));
	struct sesscache_shard *sh;
	SSL_SESSION *cached, *sess = NULL;

	*copy = 0;
	if (sc == NULL || len <= 0)
		return NULL;
	sh = sesscache_shard(sc, id, (size_t)len);
	pthread_mutex_lock(&sh->lock);
	if (sh->map != NULL &&
	    (cached = ttlcache_get(sh->map, id, (size_t)len, ttlcache_now_ms(), NULL)) != NULL) {
		if (SSL_version(ssl) >= TLS1_3_VERSION) {
			SSL_SESSION_up_ref(cached);
			ttlcache_remove(sh->map, id, (size_t)len);	/* drops the cache's one */
			sess = cached;
		} else
			sess = SSL_SESSION_dup(cached);
	}
	if (sess != NULL)
		sh->hits++;
	else
		sh->misses++;
	pthread_mutex_unlock(&sh->lock);
	return sess;
}

struct sesscache *
sesscache_new(size_t max_entries)
{
	struct sesscache *sc = calloc(1, sizeof(*sc));

	if (sc == NULL)
		return NULL;
	for (int i = 0; i < SESSCACHE_SHARDS; i++)
		pthread_mutex_init(&sc->shards[i].lock, NULL);
	if (sesscache_reset(sc, max_entries) == -1) {
		sesscache_free(sc);
		return NULL;
	}
	return sc;
}

int
sesscache_attach(struct sesscache *sc, SSL_CTX *ctx)
{
	pthread_once(&sesscache_ex_once, sesscache_ex_index_init);
	if (sesscache_ex_index < 0 || SSL_CTX_set_ex_data(ctx, sesscache_ex_index, sc) != 1)
		return -1;
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
	SSL_CTX_sess_set_new_cb(ctx, sesscache_on_new);
	SSL_CTX_sess_set_get_cb(ctx, sesscache_on_get);
	/*
	 * No remove callback: OpenSSL calls it when a connection ends in an error, and the
	 * cache's copy stays resumable then (see sesscache_on_new). A session leaves the cache
	 * by use (TLS 1.3), timeout, the bound, or a reset.
	 */
	return 0;
}

int
sesscache_reset(struct sesscache *sc, size_t max_entries)
{
	struct ttlcache *fresh[SESSCACHE_SHARDS] = { NULL }, *old;
	int ret = 0;

	/* Without memory for new maps a shard keeps nothing: an old session may be untrusted. */
	for (int i = 0; i < SESSCACHE_SHARDS; i++)
		if (max_entries > 0 && (fresh[i] = sesscache_map_new(max_entries)) == NULL)
			ret = -1;
	for (int i = 0; i < SESSCACHE_SHARDS; i++) {
		struct sesscache_shard *sh = &sc->shards[i];

		pthread_mutex_lock(&sh->lock);
		old = sh->map;
		sh->map = fresh[i];
		if (old != NULL)
			sh->evictions += ttlcache_evictions(old);
		pthread_mutex_unlock(&sh->lock);
		/* Sessions in use keep their own references: freeing the map only drops ours. */
		ttlcache_free(old);
	}
	return ret;
}

void
sesscache_stats(struct sesscache *sc, struct sesscache_stats *st)
{
	*st = (struct sesscache_stats){ 0 };
	for (int i = 0; i < SESSCACHE_SHARDS; i++) {
		struct sesscache_shard *sh = &sc->shards[i];

		pthread_mutex_lock(&sh->lock);
		if (sh->map != NULL) {
			st->entries += ttlcache_count(sh->map);
			st->evictions += ttlcache_evictions(sh->map);
		}
		st->evictions += sh->evictions;
		st->hits += sh->hits;
		st->misses += sh->misses;
		pthread_mutex_unlock(&sh->lock);
	}
}

void
sesscache_free(struct sesscache *sc)
{
	if (sc == NULL)
		return;
	for (int i = 0; i < SESSCACHE_SHARDS; i++) {
		ttlcache_free(sc->shards[i].map);
		pthread_mutex_destroy(&sc->shards[i].lock);
	}
	free(sc);
}
