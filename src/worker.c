#include "config.h"
#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "log.h"
#include "proxy.h"
#include "runtime.h"
#include "upstream.h"

#define WORKER_MAX_LISTENERS 64

struct worker_task {
	void			(*fn)(void *);
	void			*arg;
	struct worker_task	*next;
};

struct worker {
	unsigned		 id;
	pthread_t		 thread;
	bool			 started;
	struct event_base	*base;		/* owned */
	struct evconnlistener	*listeners[WORKER_MAX_LISTENERS];	/* owned */
	size_t			 nlisteners;
	struct event		*mailbox;	/* owned; activated by other threads */
	struct event		*resume;	/* owned; re-enables accepting after EMFILE */
	struct upstream_pool	*pool;		/* owned */
	struct proxy_ctx	 proxy;
	struct runtime		*rt;		/* owned reference */
	void			(*on_exit)(void *);
	void			*arg;

	pthread_mutex_t		 lock;		/* guards the mail below */
	struct worker_task	*tasks;		/* owned; posted by other threads, FIFO */
	struct worker_task	*tasks_tail;
	struct runtime		*mail_rt;	/* owned reference, not yet taken in */
	bool			 mail_drain;
	bool			 mail_stop;
};

static void
worker_close_listeners(struct worker *w)
{
	for (size_t i = 0; i < w->nlisteners; i++)
		evconnlistener_free(w->listeners[i]);	/* closes the socket */
	w->nlisteners = 0;
}

static void
worker_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
    void *arg)
{
	struct worker *w = arg;

	proxy_accept(&w->proxy, fd, sa, len);
}

/* Out of descriptors: stop accepting for a moment instead of spinning on the error. */
static void
worker_on_accept_error(struct evconnlistener *l, void *arg)
{
	struct worker *w = arg;
	struct timeval pause = { 1, 0 };
	int err = EVUTIL_SOCKET_ERROR();

	log_warn("worker %u: accept failed: %s; pausing new connections for 1 s", w->id,
	    evutil_socket_error_to_string(err));
	for (size_t i = 0; i < w->nlisteners; i++)
		evconnlistener_disable(w->listeners[i]);
	evtimer_add(w->resume, &pause);
}

static void
worker_on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	if (w->proxy.draining)
		return;
	for (size_t i = 0; i < w->nlisteners; i++)
		evconnlistener_enable(w->listeners[i]);
}

static void
worker_adopt_runtime(struct worker *w, struct runtime *rt)
{
	struct runtime *old = w->rt;

	w->rt = rt;
	w->proxy.rt = rt;
	upstream_pool_set_runtime(w->pool, rt);
	runtime_unref(old);	/* connections accepted under it keep their own references */
}

static void
worker_on_drained(void *arg)
{
	struct worker *w = arg;

	event_base_loopexit(w->base, NULL);
}

/* Runs the posted tasks, in order. */
static void
worker_run_tasks(struct worker_task *t)
{
	while (t != NULL) {
		struct worker_task *next = t->next;

		t->fn(t->arg);
		free(t);
		t = next;
	}
}

static void
worker_on_mail(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct worker_task *tasks;
	struct runtime *rt;
	bool drain, stop;

	pthread_mutex_lock(&w->lock);
	tasks = w->tasks;
	w->tasks = w->tasks_tail = NULL;
	rt = w->mail_rt;
	w->mail_rt = NULL;
	drain = w->mail_drain;
	stop = w->mail_stop;
	w->mail_drain = false;
	pthread_mutex_unlock(&w->lock);
	if (rt != NULL)
		worker_adopt_runtime(w, rt);
	worker_run_tasks(tasks);
	if (stop) {
		worker_close_listeners(w);
		proxy_close_all(&w->proxy);
		event_base_loopexit(w->base, NULL);
		return;
	}
	if (drain && !w->proxy.draining) {
		worker_close_listeners(w);
		w->proxy.on_drained = worker_on_drained;
		w->proxy.arg = w;
		proxy_drain(&w->proxy);
	}
}

/*
 * A worker's loop. With the epoll changelist, the several enable/disable calls a connection
 * makes in one callback (bufferevent_openssl re-arms its events when the handshake ends, the
 * proxy pauses and resumes reading) become at most one epoll_ctl per descriptor and loop
 * turn. libevent's caveat for it is descriptors cloned with dup(), which revgate never does.
 */
static struct event_base *
worker_base_new(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base;

	if (cfg == NULL)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

struct worker *
worker_new(unsigned id, struct runtime *rt, const int *fds, size_t nfds,
    void (*on_exit)(void *), void *arg)
{
	struct worker *w = calloc(1, sizeof(*w));
	size_t i = 0;

	if (w == NULL || nfds > WORKER_MAX_LISTENERS)
		goto fail;
	w->id = id;
	w->on_exit = on_exit;
	w->arg = arg;
	pthread_mutex_init(&w->lock, NULL);
	if ((w->base = worker_base_new()) == NULL ||
	    (w->mailbox = event_new(w->base, -1, 0, worker_on_mail, w)) == NULL ||
	    (w->resume = evtimer_new(w->base, worker_on_resume, w)) == NULL ||
	    (w->pool = upstream_pool_new(w->base)) == NULL ||
	    proxy_ctx_init(&w->proxy, w->base, id) == -1)
		goto fail;
	w->proxy.pool = w->pool;
	w->proxy.post = worker_post;
	w->proxy.post_ctx = w;
	worker_adopt_runtime(w, runtime_ref(rt));
	for (; i < nfds; i++) {
		w->listeners[i] = evconnlistener_new(w->base, worker_on_accept, w,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fds[i]);
		if (w->listeners[i] == NULL)
			goto fail;
		evconnlistener_set_error_cb(w->listeners[i], worker_on_accept_error);
		w->nlisteners++;
	}
	return w;
fail:
	for (size_t j = i; j < nfds; j++)
		close(fds[j]);
	if (w != NULL)
		worker_free(w);
	return NULL;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	log_debug("worker %u: running", w->id);
	event_base_dispatch(w->base);
	/* Whatever is left (stop, or a loop that ran out of events) closes here, on our thread. */
	worker_close_listeners(w);
	proxy_close_all(&w->proxy);
	log_debug("worker %u: stopped", w->id);
	if (w->on_exit != NULL)
		w->on_exit(w->arg);
	return NULL;
}

int
worker_start(struct worker *w)
{
	int rc = pthread_create(&w->thread, NULL, worker_main, w);

	if (rc != 0) {
		errno = rc;
		return -1;
	}
	w->started = true;
	return 0;
}

static void
worker_send_mail(struct worker *w, struct runtime *rt, bool drain, bool stop)
{
	pthread_mutex_lock(&w->lock);
	if (rt != NULL) {
		runtime_unref(w->mail_rt);	/* an unread older one is superseded */
		w->mail_rt = runtime_ref(rt);
	}
	w->mail_drain |= drain;
	w->mail_stop |= stop;
	pthread_mutex_unlock(&w->lock);
	event_active(w->mailbox, EV_READ, 0);
}

void
worker_set_runtime(struct worker *w, struct runtime *rt)
{
	worker_send_mail(w, rt, false, false);
}

void
worker_drain(struct worker *w)
{
	worker_send_mail(w, NULL, true, false);
}

void
worker_stop(struct worker *w)
{
	worker_send_mail(w, NULL, false, true);
}

void
worker_post(void *arg, void (*fn)(void *), void *fnarg)
{
	struct worker *w = arg;
	struct worker_task *t = calloc(1, sizeof(*t));

	if (t == NULL) {
		/* Running it here would be on the wrong thread: it is lost (and what it holds). */
		log_error("worker %u: out of memory posting a task", w->id);
		return;
	}
	t->fn = fn;
	t->arg = fnarg;
	pthread_mutex_lock(&w->lock);
	if (w->tasks_tail != NULL)
		w->tasks_tail->next = t;
	else
		w->tasks = t;
	w->tasks_tail = t;
	pthread_mutex_unlock(&w->lock);
	event_active(w->mailbox, EV_READ, 0);
}

void
worker_join(struct worker *w)
{
	if (w == NULL || !w->started)
		return;
	pthread_join(w->thread, NULL);
	w->started = false;
}

void
worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	worker_join(w);
	worker_run_tasks(w->tasks);
	w->tasks = w->tasks_tail = NULL;
	worker_close_listeners(w);
	proxy_close_all(&w->proxy);
	proxy_ctx_clear(&w->proxy);
	upstream_pool_free(w->pool);
	if (w->mailbox != NULL)
		event_free(w->mailbox);
	if (w->resume != NULL)
		event_free(w->resume);
	if (w->base != NULL)
		event_base_free(w->base);
	runtime_unref(w->mail_rt);
	runtime_unref(w->rt);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
