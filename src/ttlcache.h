/*
 * ttlcache: a bounded map from byte-string keys to owned values, each with two deadlines:
 * fresh until one time (served as is) and kept until a later one (served as stale, so a
 * known answer can stand in while its replacement is fetched). Bounded in entries and in
 * bytes (what the caller says each value costs), least recently used evicted first.
 *
 * Time is passed in (milliseconds on the caller's clock), so tests advance a clock instead of
 * sleeping. Not thread-safe: one owner, or the owner's lock. Keys are hashed with a per-cache
 * random seed, so chosen keys cannot degrade lookups.
 */
#ifndef REVGATE_TTLCACHE_H
#define REVGATE_TTLCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ttlcache;

/* FREE_VALUE releases a value the cache drops (may be NULL). Returns NULL on ENOMEM. */
struct ttlcache *ttlcache_new(size_t max_entries, size_t max_bytes,
    void (*free_value)(void *value));

/*
 * Stores VALUE (owned by the cache from now on, even on failure) under KEY (copied), costing
 * BYTES, fresh until FRESH_UNTIL and kept until KEEP_UNTIL (>= FRESH_UNTIL). Replaces an
 * existing entry. Evicts expired, then least recently used entries to stay within bounds.
 * Returns 0, or -1 when the value alone exceeds the byte bound (or MAX_ENTRIES is 0) or memory
 * runs out; after a failure no entry is left under KEY, so an older answer never outlives a
 * newer one that could not be stored.
 */
int ttlcache_put(struct ttlcache *c, const void *key, size_t keylen, void *value,
    size_t bytes, int64_t fresh_until, int64_t keep_until, int64_t now);

/*
 * The value under KEY if NOW is before its keep deadline (borrowed until the next call that
 * changes the cache), with *FRESH telling whether it is still fresh; NULL otherwise (an
 * entry past its keep deadline is dropped). A hit makes the entry most recently used.
 */
void *ttlcache_get(struct ttlcache *c, const void *key, size_t keylen, int64_t now,
    bool *fresh);

/* Drops KEY if present. */
void ttlcache_remove(struct ttlcache *c, const void *key, size_t keylen);

size_t ttlcache_count(const struct ttlcache *c);
size_t ttlcache_bytes(const struct ttlcache *c);
uint64_t ttlcache_evictions(const struct ttlcache *c);	/* dropped to honour the bounds */

/* The clock callers usually pass in: CLOCK_MONOTONIC in milliseconds. */
int64_t ttlcache_now_ms(void);

/* Frees every value and the cache. NULL is a no-op. */
void ttlcache_free(struct ttlcache *c);

#endif
