/*
 * upstream: connections to the backends, owned by one worker thread (no locks).
 *
 * Backends are chosen round-robin; one that refuses or times out is marked down for
 * proxy.failTimeout and skipped while another is up (passive health). Idle keep-alive
 * connections are pooled per backend (at most proxy.keepalive each) and closed after
 * proxy.keepaliveTimeout, or as soon as the backend closes them or sends anything unasked.
 */
#ifndef REVGATE_UPSTREAM_H
#define REVGATE_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/queue.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

struct runtime;
struct upstream_pool;

struct upstream_conn {
	struct bufferevent		*bev;		/* owned */
	struct upstream_pool		*pool;		/* borrowed */
	size_t				 backend;	/* index in the runtime's backends */
	uint64_t			 generation;	/* runtime it was opened under */
	bool				 reused;	/* came from the idle pool */
	TAILQ_ENTRY(upstream_conn)	 idle;
};

/* A pool for the worker running BASE. Returns NULL on ENOMEM. */
struct upstream_pool *upstream_pool_new(struct event_base *base);

/* Closes every connection (idle or not yet handed back) and frees the pool. */
void upstream_pool_free(struct upstream_pool *pool);

/*
 * Switches to the backends of RT (borrowed; the caller keeps it alive while the pool uses it).
 * Idle connections of an older runtime are closed; health state starts afresh.
 */
void upstream_pool_set_runtime(struct upstream_pool *pool, struct runtime *rt);

/* Next backend round-robin, skipping those down (unless every one is) and EXCLUDE. */
size_t upstream_pick(struct upstream_pool *pool, size_t exclude);

/*
 * An idle connection to BACKEND (*CONNECTED true), or a new one whose connect is under way
 * (*CONNECTED false; the caller's event callback gets BEV_EVENT_CONNECTED or an error, bounded
 * by proxy.connectTimeout through the write timeout). The caller owns the result, sets the
 * callbacks and hands it back with upstream_put or upstream_close. NULL: could not even start
 * (errno set).
 */
struct upstream_conn *upstream_get(struct upstream_pool *pool, size_t backend,
    bool *connected);

/* Returns a connection that finished a response cleanly to the idle pool (or closes it). */
void upstream_put(struct upstream_conn *uc);

/* Closes and frees a connection. NULL is a no-op. */
void upstream_close(struct upstream_conn *uc);

/* Passive health: BACKEND failed (refused, timed out) or answered. */
void upstream_mark_down(struct upstream_pool *pool, size_t backend);
void upstream_mark_up(struct upstream_pool *pool, size_t backend);

/* "host:port" of BACKEND for logs. */
const char *upstream_name(const struct upstream_pool *pool, size_t backend);

/* Number of backends in the current runtime. */
size_t upstream_count(const struct upstream_pool *pool);

/* Number of idle pooled connections (tests, metrics). */
size_t upstream_idle_count(const struct upstream_pool *pool);

#endif
