/*
 * sesscache: TLS sessions kept in memory, shared by every worker thread, for resumption
 * without sealing the session into a ticket.
 *
 * Why: a stateless TLS 1.3 ticket carries the session, the client's certificate included.
 * OpenSSL 3.0 encodes the session, decodes it and encodes it again to issue a ticket, and
 * decodes it to resume one, and decoding a certificate is costly in OpenSSL 3.0. Measured on
 * the benchmark machine, issuing the ticket took about a fifth of a full handshake's CPU, and
 * reading and renewing one about half of a resumed handshake's (docs/BENCHMARKS.md). A session
 * kept here as an SSL_SESSION object is neither encoded nor decoded: the client gets a ticket
 * that only names it (TLS 1.3) or a session ID (TLS 1.2). Threads share memory, so every
 * worker resumes every session, which nginx's worker processes can only do through a
 * shared-memory cache of encoded sessions.
 *
 * Bounded in entries (least recently used dropped first); an entry also goes at its session's
 * timeout. TLS 1.3 sessions are single use (RFC 8446 C.4): a resumption takes the session out
 * and the connection brings a new ticket. The cache holds copies, never a session that a
 * connection holds. Sharded by session ID, each shard with its own lock, held for a hash
 * lookup per handshake.
 */
#ifndef REVGATE_SESSCACHE_H
#define REVGATE_SESSCACHE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

struct sesscache;

struct sesscache_stats {
	size_t		entries;
	uint64_t	hits;		/* resumptions served */
	uint64_t	misses;		/* unknown, expired or already used session offered */
	uint64_t	evictions;	/* dropped to stay within the bound */
};

/* An empty cache of at most MAX_ENTRIES sessions (0: keeps none). NULL on ENOMEM. */
struct sesscache *sesscache_new(size_t max_entries);

/*
 * Makes CTX keep its server sessions in SC (OpenSSL's external cache callbacks; its internal
 * cache off). SC must outlive CTX. Returns 0, or -1 when OpenSSL refuses.
 */
int sesscache_attach(struct sesscache *sc, SSL_CTX *ctx);

/*
 * Forgets every session and sets a new bound: a reload with new trust anchors (an old
 * session's client was verified against the old ones) or a new tls.sessionCache.
 */
int sesscache_reset(struct sesscache *sc, size_t max_entries);

void sesscache_stats(struct sesscache *sc, struct sesscache_stats *st);

/* Frees every session. NULL is a no-op. */
void sesscache_free(struct sesscache *sc);

#endif
