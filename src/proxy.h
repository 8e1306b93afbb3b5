/*
 * proxy: the life of one client connection - TLS handshake, admission, then HTTP/1.1 requests
 * forwarded to a backend and responses streamed back, with keep-alive, pipelining, upgrades
 * (tunnelled byte for byte) and bounded buffers in both directions.
 *
 * Everything here runs on one worker thread's event loop; a connection never leaves the
 * worker that accepted it. proxy_conn_free is the only place a connection dies: it cancels the
 * timer, closes the upstream connection and drops the runtime reference.
 */
#ifndef REVGATE_PROXY_H
#define REVGATE_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/event.h>

struct proxy_conn;
struct runtime;
struct upstream_pool;

/* The per-worker state that connections share. Owned by the worker. */
struct proxy_ctx {
	struct event_base		*base;		/* borrowed */
	struct runtime			*rt;		/* borrowed: the worker holds a reference */
	struct upstream_pool		*pool;		/* borrowed */
	TAILQ_HEAD(, proxy_conn)	 conns;
	struct evbuffer			*stage;		/* owned: a response's first bytes */
	size_t				 nconns;
	bool				 draining;	/* finish what runs, start nothing new */
	unsigned			 worker_id;
	uint64_t			 next_id;
	/* Runs a function on this worker's thread; used by the revocation thread. */
	void				(*post)(void *post_ctx, void (*fn)(void *), void *arg);
	void				*post_ctx;
	/* Called when the last connection closes while draining. */
	void				(*on_drained)(void *arg);
	void				*arg;
};

/* Initialises CTX for a worker running BASE. Returns 0, or -1 when memory runs out. */
int proxy_ctx_init(struct proxy_ctx *ctx, struct event_base *base, unsigned worker_id);

/* Frees what proxy_ctx_init made; close every connection first. A zeroed CTX is fine. */
void proxy_ctx_clear(struct proxy_ctx *ctx);

/*
 * Takes over the accepted socket FD from PEER: starts the TLS handshake under ctx->rt.
 * Closes FD itself when the connection cannot be set up (or the worker is at
 * http.maxConnections).
 */
void proxy_accept(struct proxy_ctx *ctx, evutil_socket_t fd, const struct sockaddr *peer,
    int peerlen);

/*
 * Starts draining: idle connections close now, busy ones after their current response.
 * ctx->on_drained fires once none is left (maybe before this returns).
 */
void proxy_drain(struct proxy_ctx *ctx);

/* Closes every connection at once (drain timeout, shutdown). */
void proxy_close_all(struct proxy_ctx *ctx);

#endif
