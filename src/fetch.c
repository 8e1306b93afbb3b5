#include "config.h"
#include "fetch.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/queue.h>

#include <curl/curl.h>

#include "log.h"

/*
 * Life of a transfer: fetch_start puts it on `running` and adds it to the multi. When an
 * event callback has driven curl (curl_multi_socket_action), fetcher_collect drains
 * curl_multi_info_read and moves every finished transfer to `done`; only then does
 * fetcher_deliver remove each one from the multi and run its callback. Nothing of ours runs
 * inside a curl callback, so callbacks may start, cancel or free freely.
 */
enum fetch_state {
	FETCH_STATE_RUNNING,	/* on fetcher->running, in the multi */
	FETCH_STATE_DONE,	/* on fetcher->done, in the multi, callback pending */
	FETCH_STATE_CALLING,	/* on no list, out of the multi, its callback is running */
};

struct fetch {
	TAILQ_ENTRY(fetch)	 entry;
	struct fetcher		*fetcher;	/* borrowed */
	enum fetch_state	 state;
	CURL			*easy;		/* owned */
	struct curl_slist	*headers;	/* owned; curl borrows it */
	unsigned char		*post;		/* owned copy; curl borrows it */
	unsigned char		*body;		/* owned, cap bytes */
	size_t			 len;
	size_t			 cap;
	size_t			 max_bytes;
	bool			 too_large;	/* the write callback refused the body */
	bool			 no_memory;	/* the body could not grow */
	CURLcode		 code;		/* curl's verdict, once DONE */
	struct timespec		 started;	/* CLOCK_MONOTONIC */
	fetch_cb		 cb;
	void			*arg;
	char			 errbuf[CURL_ERROR_SIZE];
};

/* One per socket curl watches, found through curl_multi_assign (never by fd). */
struct fetch_sock {
	TAILQ_ENTRY(fetch_sock)	 entry;
	struct fetcher		*fetcher;	/* borrowed */
	struct event		*ev;		/* owned */
};

TAILQ_HEAD(fetch_list, fetch);

struct fetcher {
	struct event_base	*base;		/* borrowed */
	CURLM			*multi;		/* owned */
	struct event		*timer;		/* owned; curl's single timeout */
	struct fetch_list	 running;
	struct fetch_list	 done;
	TAILQ_HEAD(, fetch_sock) socks;		/* teardown; lookup: curl_multi_assign */
	size_t			 nactive;	/* running + done */
	bool			 delivering;	/* in fetcher_deliver: free is deferred */
	bool			 dying;		/* fetcher_free ran during delivery */
};

static int64_t
fetch_elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - since->tv_sec) * 1000 +
	    (now.tv_nsec - since->tv_nsec) / 1000000;
}

const char *
fetch_status_name(enum fetch_status status)
{
	switch (status) {
	case FETCH_OK:
		return "ok";
	case FETCH_HTTP_ERROR:
		return "http-error";
	case FETCH_TIMEOUT:
		return "timeout";
	case FETCH_TOO_LARGE:
		return "too-large";
	case FETCH_NETWORK:
		return "network";
	case FETCH_BAD_URL:
		return "bad-url";
	}
	return "?";
}

/* Frees F and everything it owns. F must be out of the multi and on no list. */
static void
fetch_free(struct fetch *f)
{
	if (f->easy != NULL)
		curl_easy_cleanup(f->easy);
	curl_slist_free_all(f->headers);
	free(f->post);
	free(f->body);
	free(f);
}

/* Takes F off its fetcher's list and out of the multi, so it can be freed or called back. */
static void
fetch_detach(struct fetch *f)
{
	struct fetcher *fx = f->fetcher;

	TAILQ_REMOVE(f->state == FETCH_STATE_RUNNING ? &fx->running : &fx->done, f, entry);
	fx->nactive--;
	f->state = FETCH_STATE_CALLING;
	curl_multi_remove_handle(fx->multi, f->easy);
}

/* ---- curl's side: socket and timer callbacks, driving curl from libevent ---- */

static void fetcher_deliver(struct fetcher *fx);

static void
fetcher_socket_event(evutil_socket_t fd, short what, void *arg)
{
	struct fetch_sock *s = arg;
	struct fetcher *fx = s->fetcher;	/* S may be freed by socket_action below */
	int flags = 0, running;
	CURLMcode rc;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	rc = curl_multi_socket_action(fx->multi, fd, flags, &running);
	if (rc != CURLM_OK)
		log_error("fetch: curl_multi_socket_action: %s", curl_multi_strerror(rc));
	fetcher_deliver(fx);
}

static void
fetcher_timer_event(evutil_socket_t fd, short what, void *arg)
{
	struct fetcher *fx = arg;
	int running;
	CURLMcode rc;

	rc = curl_multi_socket_action(fx->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	if (rc != CURLM_OK)
		log_error("fetch: curl_multi_socket_action: %s", curl_multi_strerror(rc));
	fetcher_deliver(fx);
}

static void
fetcher_sock_free(struct fetcher *fx, struct fetch_sock *s)
{
	TAILQ_REMOVE(&fx->socks, s, entry);
	event_free(s->ev);
	free(s);
}

/* CURLMOPT_SOCKETFUNCTION: watch FD for WHAT; SOCKP is what curl_multi_assign stored. */
static int
fetcher_curl_socket(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct fetcher *fx = arg;
	struct fetch_sock *s = sockp;
	short events = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			fetcher_sock_free(fx, s);
			curl_multi_assign(fx->multi, fd, NULL);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= EV_READ;
	if (what & CURL_POLL_OUT)
		events |= EV_WRITE;
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return -1;
		s->fetcher = fx;
		if ((s->ev = event_new(fx->base, fd, events, fetcher_socket_event, s)) == NULL) {
			free(s);
			return -1;
		}
		TAILQ_INSERT_TAIL(&fx->socks, s, entry);
		if (curl_multi_assign(fx->multi, fd, s) != CURLM_OK) {
			fetcher_sock_free(fx, s);
			return -1;
		}
	} else {
		event_del(s->ev);
		event_assign(s->ev, fx->base, fd, events, fetcher_socket_event, s);
	}
	return event_add(s->ev, NULL) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION: one timer; -1 stops it, 0 means "soon" (never call curl here). */
static int
fetcher_curl_timer(CURLM *multi, long timeout_ms, void *arg)
{
	struct fetcher *fx = arg;
	struct timeval tv;

	if (timeout_ms < 0)
		return evtimer_del(fx->timer) == 0 ? 0 : -1;
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(fx->timer, &tv) == 0 ? 0 : -1;
}

/* ---- completion ---- */

/* Size cap: MAXFILESIZE catches an honest Content-Length, this catches the rest. */
static size_t
fetch_curl_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct fetch *f = arg;
	size_t n = size * nmemb, cap;
	unsigned char *p;

	if (n > f->max_bytes - f->len) {
		f->too_large = true;
		return 0;
	}
	if (n > f->cap - f->len) {
		/* Double, from 4 KiB, never past max_bytes (which len + n does not pass). */
		cap = f->cap < 2048 ? 4096 : f->cap;
		if (cap == f->cap)
			cap = cap > f->max_bytes / 2 ? f->max_bytes : cap * 2;
		if (cap > f->max_bytes)
			cap = f->max_bytes;
		if (cap < f->len + n)
			cap = f->len + n;
		if ((p = realloc(f->body, cap)) == NULL) {
			f->no_memory = true;
			return 0;
		}
		f->body = p;
		f->cap = cap;
	}
	memcpy(f->body + f->len, data, n);
	f->len += n;
	return n;
}

static enum fetch_status
fetch_classify(const struct fetch *f, long http_code)
{
	switch (f->code) {
	case CURLE_OK:
		return http_code >= 200 && http_code <= 299 ? FETCH_OK : FETCH_HTTP_ERROR;
	case CURLE_OPERATION_TIMEDOUT:
		return FETCH_TIMEOUT;
	case CURLE_FILESIZE_EXCEEDED:
		return FETCH_TOO_LARGE;
	case CURLE_WRITE_ERROR:
		return f->too_large ? FETCH_TOO_LARGE : FETCH_NETWORK;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return FETCH_BAD_URL;
	default:
		return FETCH_NETWORK;
	}
}

/* Fills RES for F (finished, still in the multi); REASON backs res->error. */
static void
fetch_result_build(struct fetch *f, struct fetch_result *res, char *reason, size_t size)
{
	long code = 0;

	curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &code);
	res->http_code = code;
	res->status = fetch_classify(f, code);
	res->elapsed_ms = fetch_elapsed_ms(&f->started);
	/* Only complete responses carry a body; a truncated one must not be mistaken for it. */
	res->body = (const unsigned char *)"";
	res->len = 0;
	if ((res->status == FETCH_OK || res->status == FETCH_HTTP_ERROR) && f->body != NULL) {
		res->body = f->body;
		res->len = f->len;
	}
	if (res->status == FETCH_OK)
		snprintf(reason, size, "HTTP %ld", code);
	else if (res->status == FETCH_HTTP_ERROR)
		snprintf(reason, size, "HTTP status %ld", code);
	else if (res->status == FETCH_TOO_LARGE)
		snprintf(reason, size, "response body exceeds %zu bytes", f->max_bytes);
	else if (f->no_memory)
		snprintf(reason, size, "out of memory for the response body");
	else
		snprintf(reason, size, "%s", f->errbuf[0] != '\0' ? f->errbuf :
		    curl_easy_strerror(f->code));
	res->error = reason;
}

/* Moves every finished transfer to `done`, reading all messages before removing any. */
static void
fetcher_collect(struct fetcher *fx)
{
	CURLMsg *msg;
	struct fetch *f;
	void *priv;
	int left;

	while ((msg = curl_multi_info_read(fx->multi, &left)) != NULL) {
		priv = NULL;
		if (msg->msg != CURLMSG_DONE ||
		    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv) != CURLE_OK ||
		    priv == NULL)
			continue;
		f = priv;
		if (f->state != FETCH_STATE_RUNNING)
			continue;
		f->code = msg->data.result;
		TAILQ_REMOVE(&fx->running, f, entry);
		f->state = FETCH_STATE_DONE;
		TAILQ_INSERT_TAIL(&fx->done, f, entry);
	}
}

static void fetcher_destroy(struct fetcher *fx);

/*
 * Runs the callbacks of finished transfers, after curl has returned. A callback may start
 * or cancel fetches (even ones finished in the same round) and may free the fetcher.
 */
static void
fetcher_deliver(struct fetcher *fx)
{
	struct fetch_result res;
	struct fetch *f;
	char reason[CURL_ERROR_SIZE + 64];

	fetcher_collect(fx);
	fx->delivering = true;
	while (!fx->dying && (f = TAILQ_FIRST(&fx->done)) != NULL) {
		memset(&res, 0, sizeof(res));
		fetch_result_build(f, &res, reason, sizeof(reason));
		fetch_detach(f);
		f->cb(&res, f->arg);
		fetch_free(f);
	}
	fx->delivering = false;
	if (fx->dying)
		fetcher_destroy(fx);
}

/* ---- setup ---- */

/* Builds F's header list: the POST's content type, and no "Expect: 100-continue". */
static int
fetch_headers(struct fetch *f, const struct fetch_request *req)
{
	struct curl_slist *l;
	char *line;
	size_t n;

	if (req->post == NULL)
		return 0;
	if (req->content_type == NULL) {
		line = strdup("Content-Type:");		/* drop curl's form type */
	} else {
		if (strpbrk(req->content_type, "\r\n") != NULL)
			return -1;
		n = strlen("Content-Type: ") + strlen(req->content_type) + 1;
		if ((line = malloc(n)) != NULL)
			snprintf(line, n, "Content-Type: %s", req->content_type);
	}
	if (line == NULL)
		return -1;
	l = curl_slist_append(f->headers, line);
	free(line);
	if (l == NULL)
		return -1;
	f->headers = l;
	if ((l = curl_slist_append(f->headers, "Expect:")) == NULL)
		return -1;
	f->headers = l;
	return 0;
}

#define FETCH_SETOPT(f, opt, val) \
	fetch_setopt_check(curl_easy_setopt((f)->easy, (opt), (val)), #opt)

static bool
fetch_setopt_check(CURLcode rc, const char *name)
{
	if (rc == CURLE_OK)
		return true;
	log_error("fetch: curl_easy_setopt %s: %s", name, curl_easy_strerror(rc));
	return false;
}

/*
 * Sets F's options. The connect timeout is the whole timeout (curl applies the earlier).
 * QUICK_EXIT: a timeout or cancel during DNS detaches the resolver thread instead of
 * joining it, which would block the loop until getaddrinfo returns.
 */
static int
fetch_setup(struct fetch *f, const struct fetch_request *req)
{
	long timeout = req->timeout_ms > LONG_MAX ? LONG_MAX : (long)req->timeout_ms;
	curl_off_t max = req->max_bytes > (size_t)INT64_MAX ? INT64_MAX :
	    (curl_off_t)req->max_bytes;

	if (!FETCH_SETOPT(f, CURLOPT_PRIVATE, (void *)f) ||
	    !FETCH_SETOPT(f, CURLOPT_URL, req->url) ||
	    !FETCH_SETOPT(f, CURLOPT_PROTOCOLS_STR, "http,https") ||
	    !FETCH_SETOPT(f, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") ||
	    !FETCH_SETOPT(f, CURLOPT_FOLLOWLOCATION, 0L) ||
	    !FETCH_SETOPT(f, CURLOPT_NOSIGNAL, 1L) ||
	    !FETCH_SETOPT(f, CURLOPT_QUICK_EXIT, 1L) ||
	    !FETCH_SETOPT(f, CURLOPT_TIMEOUT_MS, timeout) ||
	    !FETCH_SETOPT(f, CURLOPT_CONNECTTIMEOUT_MS, timeout) ||
	    !FETCH_SETOPT(f, CURLOPT_USERAGENT, "revgate/" PACKAGE_VERSION) ||
	    !FETCH_SETOPT(f, CURLOPT_ERRORBUFFER, f->errbuf) ||
	    !FETCH_SETOPT(f, CURLOPT_WRITEFUNCTION, fetch_curl_write) ||
	    !FETCH_SETOPT(f, CURLOPT_WRITEDATA, (void *)f) ||
	    !FETCH_SETOPT(f, CURLOPT_MAXFILESIZE_LARGE, max) ||
	    !FETCH_SETOPT(f, CURLOPT_HTTPHEADER, f->headers))
		return -1;
	if (req->post == NULL)
		return 0;
	if (!FETCH_SETOPT(f, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->post_len) ||
	    !FETCH_SETOPT(f, CURLOPT_POSTFIELDS, (void *)f->post))	/* borrows f->post */
		return -1;
	return 0;
}

struct fetch *
fetch_start(struct fetcher *fx, const struct fetch_request *req, fetch_cb cb, void *arg)
{
	struct fetch *f;

	if (fx->dying || req->url == NULL || req->timeout_ms <= 0 || cb == NULL)
		return NULL;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	f->fetcher = fx;
	f->cb = cb;
	f->arg = arg;
	f->max_bytes = req->max_bytes;
	if (req->post != NULL) {
		if ((f->post = malloc(req->post_len > 0 ? req->post_len : 1)) == NULL)
			goto fail;
		if (req->post_len > 0)
			memcpy(f->post, req->post, req->post_len);
	}
	if (fetch_headers(f, req) == -1 || (f->easy = curl_easy_init()) == NULL ||
	    fetch_setup(f, req) == -1)
		goto fail;
	clock_gettime(CLOCK_MONOTONIC, &f->started);
	/* Only schedules curl's timer ("soon"): nothing completes before we return. */
	if (curl_multi_add_handle(fx->multi, f->easy) != CURLM_OK)
		goto fail;
	f->state = FETCH_STATE_RUNNING;
	TAILQ_INSERT_TAIL(&fx->running, f, entry);
	fx->nactive++;
	return f;
fail:
	fetch_free(f);
	return NULL;
}

void
fetch_cancel(struct fetch *f)
{
	/* Cancelling from inside F's own callback is tolerated: it is freed on return. */
	if (f == NULL || f->state == FETCH_STATE_CALLING)
		return;
	fetch_detach(f);
	fetch_free(f);
}

size_t
fetcher_active(const struct fetcher *fx)
{
	return fx->nactive;
}

/* ---- the fetcher ---- */

static void
fetcher_cancel_all(struct fetcher *fx)
{
	struct fetch *f;

	while ((f = TAILQ_FIRST(&fx->done)) != NULL)
		fetch_cancel(f);
	while ((f = TAILQ_FIRST(&fx->running)) != NULL)
		fetch_cancel(f);
}

/* Teardown in STYLE order: easy handles, the multi, then the events curl asked for. */
static void
fetcher_destroy(struct fetcher *fx)
{
	struct fetch_sock *s;

	fetcher_cancel_all(fx);
	if (fx->multi != NULL)
		curl_multi_cleanup(fx->multi);	/* may still call our curl callbacks */
	fx->multi = NULL;
	while ((s = TAILQ_FIRST(&fx->socks)) != NULL)
		fetcher_sock_free(fx, s);
	if (fx->timer != NULL)
		event_free(fx->timer);
	fx->timer = NULL;
	free(fx);
}

struct fetcher *
fetcher_new(struct event_base *base)
{
	const curl_version_info_data *ver = curl_version_info(CURLVERSION_NOW);
	struct fetcher *fx;

	if ((fx = calloc(1, sizeof(*fx))) == NULL)
		return NULL;
	fx->base = base;
	TAILQ_INIT(&fx->running);
	TAILQ_INIT(&fx->done);
	TAILQ_INIT(&fx->socks);
	if ((fx->timer = evtimer_new(base, fetcher_timer_event, fx)) == NULL ||
	    (fx->multi = curl_multi_init()) == NULL ||
	    curl_multi_setopt(fx->multi, CURLMOPT_SOCKETFUNCTION, fetcher_curl_socket) !=
	    CURLM_OK ||
	    curl_multi_setopt(fx->multi, CURLMOPT_SOCKETDATA, (void *)fx) != CURLM_OK ||
	    curl_multi_setopt(fx->multi, CURLMOPT_TIMERFUNCTION, fetcher_curl_timer) !=
	    CURLM_OK ||
	    curl_multi_setopt(fx->multi, CURLMOPT_TIMERDATA, (void *)fx) != CURLM_OK) {
		fetcher_destroy(fx);
		return NULL;
	}
	if (ver == NULL || !(ver->features & CURL_VERSION_ASYNCHDNS))
		log_warn("fetch: libcurl %s resolves names synchronously: DNS lookups for CRL "
		    "and OCSP URLs may block the revocation thread",
		    ver != NULL ? ver->version : "?");
	return fx;
}

void
fetcher_free(struct fetcher *fx)
{
	if (fx == NULL || fx->dying)
		return;
	if (fx->delivering) {
		/* Called from a callback: fetcher_deliver finishes the job once it returns. */
		fetcher_cancel_all(fx);
		fx->dying = true;
		return;
	}
	fetcher_destroy(fx);
}
