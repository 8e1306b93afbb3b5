/*
 * chaincache: verified certificate chains remembered by their leaf, so a resumed TLS session
 * (whose ticket carries the client's certificate but not its chain) can be checked for
 * revocation without verifying the chain's signatures again.
 *
 * Only chains that OpenSSL verified go in (a full handshake's verified chain, or a chain
 * rebuilt with X509_verify_cert), and a resumed session's leaf comes from a ticket revgate
 * encrypted after such a verification; so a hit hands back what a fresh verification would
 * find. Bounded in entries, least recently used dropped first. Thread-safe: workers share one.
 */
#ifndef REVGATE_CHAINCACHE_H
#define REVGATE_CHAINCACHE_H

#include <stddef.h>

#include <openssl/x509.h>

struct chaincache;

/* An empty cache of at most MAX_ENTRIES chains. NULL on ENOMEM. */
struct chaincache *chaincache_new(size_t max_entries);

/*
 * Remembers CHAIN (leaf first; borrowed: the cache takes its own references) unless a chain
 * for the same leaf is already there. Never blocks on I/O; a failure only means a later miss.
 */
void chaincache_put(struct chaincache *cc, STACK_OF(X509) *chain);

/*
 * The chain remembered for LEAF (by issuer and serial, confirmed by signature), as a new stack
 * the caller frees with sk_X509_pop_free(..., X509_free); NULL when none is known.
 */
STACK_OF(X509) *chaincache_get1(struct chaincache *cc, X509 *leaf);

/* Forgets every chain (the trust anchors changed). */
void chaincache_clear(struct chaincache *cc);

size_t chaincache_count(struct chaincache *cc);

/* NULL is a no-op. */
void chaincache_free(struct chaincache *cc);

#endif
