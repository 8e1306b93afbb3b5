#include "config.h"
#include "upstream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "runtime.h"

struct upstream_backend {
	TAILQ_HEAD(, upstream_conn)	 idle;
	size_t				 nidle;
	struct timeval			 down_until;	/* zero: up */
};

struct upstream_pool {
	struct event_base		*base;		/* borrowed */
	struct runtime			*rt;		/* borrowed */
	struct upstream_backend		*backends;	/* owned, rt->nbackends */
	size_t				 nbackends;
	size_t				 next;		/* round-robin cursor */
	size_t				 nidle;
};

static struct timeval
upstream_tv(int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	return tv;
}

struct upstream_pool *
upstream_pool_new(struct event_base *base)
{
	struct upstream_pool *pool = calloc(1, sizeof(*pool));

	if (pool != NULL)
		pool->base = base;
	return pool;
}

static void
upstream_unlink_idle(struct upstream_conn *uc)
{
	struct upstream_backend *b = &uc->pool->backends[uc->backend];

	TAILQ_REMOVE(&b->idle, uc, idle);
	b->nidle--;
	uc->pool->nidle--;
}

static void
upstream_close_idle_all(struct upstream_pool *pool)
{
	struct upstream_conn *uc;

	for (size_t i = 0; i < pool->nbackends; i++) {
		while ((uc = TAILQ_FIRST(&pool->backends[i].idle)) != NULL) {
			upstream_unlink_idle(uc);
			upstream_close(uc);
		}
	}
}

void
upstream_pool_free(struct upstream_pool *pool)
{
	if (pool == NULL)
		return;
	upstream_close_idle_all(pool);
	free(pool->backends);
	free(pool);
}

void
upstream_pool_set_runtime(struct upstream_pool *pool, struct runtime *rt)
{
	struct upstream_backend *fresh;

	if ((fresh = calloc(rt->nbackends, sizeof(*fresh))) == NULL)
		return;		/* keep the old table; the next reload tries again */
	upstream_close_idle_all(pool);
	free(pool->backends);
	for (size_t i = 0; i < rt->nbackends; i++)
		TAILQ_INIT(&fresh[i].idle);
	pool->backends = fresh;
	pool->nbackends = rt->nbackends;
	pool->rt = rt;
	pool->next = 0;
}

static bool
upstream_is_down(const struct upstream_pool *pool, size_t i, const struct timeval *now)
{
	const struct timeval *t = &pool->backends[i].down_until;

	return timerisset(t) && timercmp(now, t, <);
}

size_t
upstream_pick(struct upstream_pool *pool, size_t exclude)
{
	struct timeval now;
	size_t n = pool->nbackends, fallback = SIZE_MAX;

	event_base_gettimeofday_cached(pool->base, &now);
	for (size_t tries = 0; tries < n; tries++) {
		size_t i = pool->next++ % n;

		if (i == exclude && n > 1)
			continue;
		if (!upstream_is_down(pool, i, &now))
			return i;
		if (fallback == SIZE_MAX)
			fallback = i;
	}
	/* Every candidate is down: try one anyway rather than refuse without asking. */
	return fallback != SIZE_MAX ? fallback : (exclude < n ? exclude : 0);
}

/* An idle connection heard from its backend: a close, an error, or bytes nobody asked for. */
static void
upstream_idle_event(struct bufferevent *bev, short what, void *arg)
{
	struct upstream_conn *uc = arg;

	upstream_unlink_idle(uc);
	upstream_close(uc);
}

static void
upstream_idle_read(struct bufferevent *bev, void *arg)
{
	upstream_idle_event(bev, 0, arg);
}

static void
upstream_nodelay(struct bufferevent *bev)
{
	int on = 1;
	evutil_socket_t fd = bufferevent_getfd(bev);

	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

struct upstream_conn *
upstream_get(struct upstream_pool *pool, size_t backend, bool *connected)
{
	struct upstream_backend *b = &pool->backends[backend];
	const struct runtime_backend *rb = &pool->rt->backends[backend];
	struct upstream_conn *uc;
	struct timeval tv;

	if ((uc = TAILQ_FIRST(&b->idle)) != NULL) {
		upstream_unlink_idle(uc);
		/* Reading stays on (no epoll change): the new owner's callbacks take over now. */
		bufferevent_setcb(uc->bev, NULL, NULL, NULL, NULL);
		bufferevent_set_timeouts(uc->bev, NULL, NULL);
		uc->reused = true;
		*connected = true;
		return uc;
	}
	if ((uc = calloc(1, sizeof(*uc))) == NULL)
		return NULL;
	uc->pool = pool;
	uc->backend = backend;
	uc->generation = pool->rt->generation;
	uc->bev = bufferevent_socket_new(pool->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (uc->bev == NULL) {
		free(uc);
		return NULL;
	}
	tv = upstream_tv(pool->rt->cfg->proxy.connect_timeout_ms);
	bufferevent_set_timeouts(uc->bev, NULL, &tv);
	if (bufferevent_socket_connect(uc->bev, (const struct sockaddr *)&rb->addr,
	    (int)rb->addrlen) == -1) {
		int saved = errno;

		upstream_close(uc);
		errno = saved != 0 ? saved : ECONNREFUSED;
		return NULL;
	}
	upstream_nodelay(uc->bev);
	*connected = false;
	return uc;
}

void
upstream_put(struct upstream_conn *uc)
{
	struct upstream_pool *pool = uc->pool;
	struct upstream_backend *b;
	struct timeval tv;

	if (pool->rt == NULL || uc->generation != pool->rt->generation ||
	    uc->backend >= pool->nbackends ||
	    pool->backends[uc->backend].nidle >= (size_t)pool->rt->cfg->proxy.keepalive ||
	    evbuffer_get_length(bufferevent_get_input(uc->bev)) != 0) {
		upstream_close(uc);
		return;
	}
	b = &pool->backends[uc->backend];
	tv = upstream_tv(pool->rt->cfg->proxy.keepalive_timeout_ms);
	bufferevent_setcb(uc->bev, upstream_idle_read, NULL, upstream_idle_event, uc);
	bufferevent_set_timeouts(uc->bev, &tv, NULL);
	bufferevent_setwatermark(uc->bev, EV_READ | EV_WRITE, 0, 0);
	bufferevent_enable(uc->bev, EV_READ);
	TAILQ_INSERT_HEAD(&b->idle, uc, idle);	/* most recent first: warmest socket */
	b->nidle++;
	pool->nidle++;
}

void
upstream_close(struct upstream_conn *uc)
{
	if (uc == NULL)
		return;
	if (uc->bev != NULL)
		bufferevent_free(uc->bev);
	free(uc);
}

void
upstream_mark_down(struct upstream_pool *pool, size_t backend)
{
	struct timeval now, fail;

	if (backend >= pool->nbackends)
		return;
	event_base_gettimeofday_cached(pool->base, &now);
	fail = upstream_tv(pool->rt->cfg->proxy.fail_timeout_ms);
	timeradd(&now, &fail, &pool->backends[backend].down_until);
}

void
upstream_mark_up(struct upstream_pool *pool, size_t backend)
{
	if (backend < pool->nbackends)
		timerclear(&pool->backends[backend].down_until);
}

const char *
upstream_name(const struct upstream_pool *pool, size_t backend)
{
	if (pool->rt == NULL || backend >= pool->rt->nbackends)
		return "-";
	return pool->rt->backends[backend].name;
}

size_t
upstream_idle_count(const struct upstream_pool *pool)
{
	return pool->nidle;
}

size_t
upstream_count(const struct upstream_pool *pool)
{
	return pool->nbackends;
}
