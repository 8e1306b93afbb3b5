/*
 * runtime: one immutable snapshot of everything the workers read - the configuration, the TLS
 * context and the resolved backend addresses. Built off the hot path (start-up, SIGHUP),
 * handed to each worker, referenced by every connection accepted under it, and freed when the
 * last reference goes. A connection keeps the TLS session, limits and timeouts of the
 * snapshot it was accepted under; each new request goes to the backends of the worker's
 * current snapshot (its upstream pool), so a reload moves traffic without cutting connections.
 */
#ifndef REVGATE_RUNTIME_H
#define REVGATE_RUNTIME_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include <openssl/ssl.h>

#include "conf.h"
#include "forward.h"

struct revoker;
struct tlsctx_resume;

struct runtime_backend {
	char			 name[300];	/* "127.0.0.1:9925", for logs */
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
};

struct runtime {
	atomic_uint		 refs;
	uint64_t		 generation;	/* 1 for the first, +1 per reload */
	struct conf		*cfg;		/* owned */
	SSL_CTX			*ssl_ctx;	/* owned reference; = worker_ctx[0] */
	/*
	 * One context per worker thread, built alike: OpenSSL 3.0 serialises threads on a
	 * context's certificate store and caches, so workers do not share one on the handshake
	 * path. Owned references; nworker_ctx of them.
	 */
	SSL_CTX			**worker_ctx;
	size_t			 nworker_ctx;
	struct runtime_backend	*backends;	/* owned, cfg->proxy.backends.n of them */
	size_t			 nbackends;
	struct forward_names	 header_names;	/* borrowed from cfg */
	struct revoker		*revoker;	/* borrowed from the server; NULL: none */
};

/*
 * Builds a snapshot from CFG (taken: freed on failure too). Resolves backend host names
 * (blocking DNS: start-up and reload only) and builds the TLS context. Returns the snapshot
 * with one reference, or NULL with a message in ERR.
 */
struct runtime *runtime_new(struct conf *cfg, const struct tlsctx_resume *resume,
    uint64_t generation, char *err, size_t errlen);

/* The TLS context worker ID accepts with. */
SSL_CTX *runtime_ssl_ctx(const struct runtime *rt, unsigned id);

/* Takes another reference; returns RT. Thread-safe. */
struct runtime *runtime_ref(struct runtime *rt);

/* Drops a reference; the last one frees. NULL is a no-op. Thread-safe. */
void runtime_unref(struct runtime *rt);

#endif
