#include "config.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "fetch.h"

/*
 * A loopback HTTP/1.1 server on 127.0.0.1, port 0, run by one thread with poll(2). It reads
 * a whole request (head plus Content-Length body), answers by path and closes; "/hang" reads
 * the request and never answers.
 */
#define SRV_MAXCONN	64
#define SRV_MAXREQ	(1024 * 1024)
#define OK_LEN		3000	/* body of /ok and /ok-chunked */
#define BIG_LEN		8000	/* body of /big and /big-chunked */

struct srv_conn {
	int	 fd;		/* -1: free slot */
	char	*buf;
	size_t	 len;
	bool	 hung;		/* "/hang": keep the connection, never answer */
};

struct srv {
	int		 lfd;
	int		 wake[2];
	uint16_t	 port;
	pthread_t	 thread;
	struct srv_conn	 conns[SRV_MAXCONN];
	atomic_int	 requests;	/* complete requests seen */
	atomic_int	 target_hits;	/* requests for "/target" */
};

static unsigned char
pattern_byte(size_t i)
{
	return (unsigned char)(i * 7 + 3);	/* every value, NUL included */
}

static void
srv_send_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;		/* the client gave up (too-large tests): fine */
		p += n;
		len -= (size_t)n;
	}
}

static void
srv_pattern(FILE *out, size_t len, bool chunked)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (chunked && i % 1000 == 0)
			fprintf(out, "%s%zx\r\n", i == 0 ? "" : "\r\n",
			    len - i < 1000 ? len - i : (size_t)1000);
		fputc(pattern_byte(i), out);
	}
	if (chunked)
		fputs("\r\n0\r\n\r\n", out);
}

/* Finds header NAME in the head H (NUL-terminated); copies its value into OUT or "none". */
static void
srv_header(const char *h, const char *name, char *out, size_t size)
{
	const char *line = strstr(h, "\r\n"), *end;
	size_t n = strlen(name);

	snprintf(out, size, "none");
	while (line != NULL && strncmp(line, "\r\n\r\n", 4) != 0) {
		line += 2;
		if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
			line += n + 1;
			while (*line == ' ')
				line++;
			end = strstr(line, "\r\n");
			snprintf(out, size, "%.*s", (int)(end - line), line);
			return;
		}
		line = strstr(line, "\r\n");
	}
}

static void
srv_answer(struct srv *s, struct srv_conn *c, const char *path, const char *body,
    size_t body_len)
{
	char *resp = NULL, ct[128], expect[128];
	size_t resp_len = 0;
	FILE *out = open_memstream(&resp, &resp_len);
	bool chunked = strstr(path, "-chunked") != NULL;

	if (strcmp(path, "/hang") == 0) {
		c->hung = true;
		fclose(out);
		free(resp);
		return;
	}
	if (strcmp(path, "/ok") == 0 || strcmp(path, "/ok-chunked") == 0 ||
	    strcmp(path, "/big") == 0 || strcmp(path, "/big-chunked") == 0) {
		size_t len = strncmp(path, "/ok", 3) == 0 ? OK_LEN : BIG_LEN;

		if (chunked)
			fprintf(out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n");
		else
			fprintf(out, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n", len);
		fprintf(out, "Content-Type: application/pkix-crl\r\nConnection: close\r\n\r\n");
		srv_pattern(out, len, chunked);
	} else if (strcmp(path, "/echo") == 0) {
		srv_header(c->buf, "Content-Type", ct, sizeof(ct));
		srv_header(c->buf, "Expect", expect, sizeof(expect));
		fprintf(out, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n"
		    "ct=%s\nexpect=%s\n", strlen(ct) + strlen(expect) + 12 + body_len, ct, expect);
		fwrite(body, 1, body_len, out);
	} else if (strcmp(path, "/empty") == 0) {
		fprintf(out, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	} else if (strcmp(path, "/500") == 0) {
		fprintf(out, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n"
		    "Connection: close\r\n\r\noops\n");
	} else if (strcmp(path, "/redirect") == 0) {
		fprintf(out, "HTTP/1.1 302 Found\r\nLocation: /target\r\nContent-Length: 0\r\n"
		    "Connection: close\r\n\r\n");
	} else {
		if (strcmp(path, "/target") == 0)
			s->target_hits++;
		fprintf(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n"
		    "Connection: close\r\n\r\nnot here\n");
	}
	fclose(out);
	srv_send_all(c->fd, resp, resp_len);
	free(resp);
	close(c->fd);
	c->fd = -1;
}

static void
srv_conn_close(struct srv_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->len = 0;
	c->hung = false;
}

/* Reads what C has; answers once the request is complete. */
static void
srv_conn_read(struct srv *s, struct srv_conn *c)
{
	char tmp[16384], method[16], path[256], cl[32];
	const char *end;
	size_t head, body_len;
	ssize_t n = recv(c->fd, tmp, sizeof(tmp), 0);

	if (n <= 0) {
		srv_conn_close(c);
		return;
	}
	if (c->hung)
		return;
	if (c->len + (size_t)n + 1 > SRV_MAXREQ) {
		srv_conn_close(c);
		return;
	}
	c->buf = realloc(c->buf, c->len + (size_t)n + 1);
	memcpy(c->buf + c->len, tmp, (size_t)n);
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	if ((end = strstr(c->buf, "\r\n\r\n")) == NULL)
		return;
	head = (size_t)(end - c->buf) + 4;
	srv_header(c->buf, "Content-Length", cl, sizeof(cl));
	body_len = strcmp(cl, "none") == 0 ? 0 : strtoul(cl, NULL, 10);
	if (c->len < head + body_len)
		return;
	if (sscanf(c->buf, "%15s %255s", method, path) != 2) {
		srv_conn_close(c);
		return;
	}
	s->requests++;
	srv_answer(s, c, path, c->buf + head, body_len);
	if (c->fd < 0)
		srv_conn_close(c);
}

static void
srv_accept(struct srv *s)
{
	int fd = accept(s->lfd, NULL, NULL);
	size_t i;

	if (fd < 0)
		return;
	for (i = 0; i < SRV_MAXCONN; i++) {
		if (s->conns[i].fd < 0) {
			s->conns[i].fd = fd;
			return;
		}
	}
	close(fd);
}

static void *
srv_main(void *arg)
{
	struct srv *s = arg;
	struct pollfd pfd[SRV_MAXCONN + 2];
	struct srv_conn *which[SRV_MAXCONN + 2];
	size_t i, n;

	for (;;) {
		pfd[0] = (struct pollfd){ .fd = s->wake[0], .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = s->lfd, .events = POLLIN };
		for (n = 2, i = 0; i < SRV_MAXCONN; i++) {
			if (s->conns[i].fd >= 0) {
				which[n] = &s->conns[i];
				pfd[n++] = (struct pollfd){ s->conns[i].fd, POLLIN, 0 };
			}
		}
		if (poll(pfd, n, -1) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents != 0)
			break;
		for (i = 2; i < n; i++)
			if (pfd[i].revents != 0)
				srv_conn_read(s, which[i]);
		if (pfd[1].revents & POLLIN)
			srv_accept(s);
	}
	for (i = 0; i < SRV_MAXCONN; i++)
		srv_conn_close(&s->conns[i]);
	return NULL;
}

/* A TCP socket bound to 127.0.0.1 on a free port; it listens only when LISTEN says so. */
static int
loopback_socket(bool listening, uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	if (listening)
		ck_assert_int_eq(listen(fd, 128), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void
srv_start(struct srv *s)
{
	size_t i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < SRV_MAXCONN; i++)
		s->conns[i].fd = -1;
	s->lfd = loopback_socket(true, &s->port);
	ck_assert_int_eq(pipe(s->wake), 0);
	ck_assert_int_eq(pthread_create(&s->thread, NULL, srv_main, s), 0);
}

static void
srv_stop(struct srv *s)
{
	ck_assert_int_eq(write(s->wake[1], "x", 1), 1);
	pthread_join(s->thread, NULL);
	close(s->lfd);
	close(s->wake[0]);
	close(s->wake[1]);
}

/* ---- fixture and helpers ---- */

static struct event_base *base;
static struct fetcher *fx;
static struct srv srv;

static void
setup(void)
{
	srv_start(&srv);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	fx = fetcher_new(base);
	ck_assert_ptr_nonnull(fx);
}

/* Every test ends with a freed fetcher leaving nothing on the base, so a loop could exit. */
static void
teardown(void)
{
	fetcher_free(fx);
	fx = NULL;
	ck_assert_int_eq(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 0);
	ck_assert_int_eq(event_base_dispatch(base), 1);	/* 1: no events at all */
	event_base_free(base);
	srv_stop(&srv);
}

static const char *
url(const char *path)
{
	static char buf[8][128];
	static unsigned next;
	char *u = buf[next++ % 8];

	snprintf(u, sizeof(buf[0]), "http://127.0.0.1:%u%s", (unsigned)srv.port, path);
	return u;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct outcome {
	bool			 returned;	/* fetch_start has returned */
	bool			 early;		/* the callback ran before that */
	int			 calls;
	enum fetch_status	 status;
	long			 http_code;
	unsigned char		*body;
	size_t			 len;
	char			 error[512];
	int64_t			 elapsed_ms;
};

static void
on_done(const struct fetch_result *r, void *arg)
{
	struct outcome *o = arg;

	if (!o->returned)
		o->early = true;
	o->calls++;
	o->status = r->status;
	o->http_code = r->http_code;
	ck_assert_ptr_nonnull(r->body);
	ck_assert_ptr_nonnull(r->error);
	free(o->body);
	o->body = malloc(r->len + 1);
	memcpy(o->body, r->body, r->len);
	o->len = r->len;
	snprintf(o->error, sizeof(o->error), "%s", r->error);
	o->elapsed_ms = r->elapsed_ms;
}

static struct fetch *
start_cb(const struct fetch_request *req, struct outcome *o, fetch_cb cb)
{
	struct fetch *f;

	o->returned = false;
	f = fetch_start(fx, req, cb, o);
	o->returned = true;
	ck_assert_int_eq(o->calls, 0);
	return f;
}

static struct fetch *
start(const struct fetch_request *req, struct outcome *o)
{
	return start_cb(req, o, on_done);
}

struct waiter {
	struct event_base	*base;
	bool			(*done)(void *);
	void			*arg;
};

static void
wait_tick(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;

	if (w->done(w->arg))
		event_base_loopbreak(w->base);
}

/*
 * Runs the loop until DONE(ARG) holds or MS milliseconds pass; returns DONE(ARG). The bound
 * is a timer of our own, freed on return, so it never cuts short a later wait.
 */
static bool
run_until(bool (*done)(void *), void *arg, int64_t ms)
{
	struct waiter w = { base, done, arg };
	struct event *tick = event_new(base, -1, EV_PERSIST, wait_tick, &w);
	struct timeval tv = { 0, 5000 };
	int64_t deadline = now_ms() + ms;

	ck_assert_ptr_nonnull(tick);
	ck_assert_int_eq(event_add(tick, &tv), 0);
	while (!done(arg) && now_ms() < deadline)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(tick);
	return done(arg);
}

static bool
never(void *arg)
{
	return false;
}

/* Runs the loop for MS milliseconds. */
static void
run_for(int64_t ms)
{
	run_until(never, NULL, ms);
}

static bool
outcome_done(void *arg)
{
	return ((struct outcome *)arg)->calls > 0;
}

/* GETs U and waits (at most 2 s) for the callback. */
static void
get(const char *u, int64_t timeout_ms, size_t max_bytes, struct outcome *o)
{
	struct fetch_request req = { .url = u, .timeout_ms = timeout_ms,
	    .max_bytes = max_bytes };

	memset(o, 0, sizeof(*o));
	ck_assert_ptr_nonnull(start(&req, o));
	ck_assert_msg(run_until(outcome_done, o, 2000), "no callback for %s", u);
	ck_assert_int_eq(o->calls, 1);
	ck_assert(!o->early);
}

static void
outcome_clear(struct outcome *o)
{
	free(o->body);
	o->body = NULL;
}

static void
assert_pattern(const struct outcome *o, size_t len)
{
	size_t i;

	ck_assert_uint_eq(o->len, len);
	for (i = 0; i < len; i++)
		ck_assert_msg(o->body[i] == pattern_byte(i), "byte %zu differs", i);
}

/* ---- tests ---- */

START_TEST(status_names_are_stable)
{
	ck_assert_str_eq(fetch_status_name(FETCH_OK), "ok");
	ck_assert_str_eq(fetch_status_name(FETCH_HTTP_ERROR), "http-error");
	ck_assert_str_eq(fetch_status_name(FETCH_TIMEOUT), "timeout");
	ck_assert_str_eq(fetch_status_name(FETCH_TOO_LARGE), "too-large");
	ck_assert_str_eq(fetch_status_name(FETCH_NETWORK), "network");
	ck_assert_str_eq(fetch_status_name(FETCH_BAD_URL), "bad-url");
}
END_TEST

START_TEST(a_2xx_body_arrives_byte_for_byte_up_to_exactly_max_bytes)
{
	struct outcome o;

	get(url("/ok"), 2000, OK_LEN, &o);
	ck_assert_str_eq(fetch_status_name(o.status), "ok");
	ck_assert_int_eq(o.http_code, 200);
	ck_assert_int_ge(o.elapsed_ms, 0);
	assert_pattern(&o, OK_LEN);
	outcome_clear(&o);

	get(url("/ok-chunked"), 2000, OK_LEN, &o);
	ck_assert_str_eq(fetch_status_name(o.status), "ok");
	assert_pattern(&o, OK_LEN);
	outcome_clear(&o);

	get(url("/big-chunked"), 2000, BIG_LEN, &o);	/* the buffer grows in steps */
	ck_assert_str_eq(fetch_status_name(o.status), "ok");
	assert_pattern(&o, BIG_LEN);
	outcome_clear(&o);

	get(url("/empty"), 2000, 0, &o);
	ck_assert_str_eq(fetch_status_name(o.status), "ok");
	ck_assert_uint_eq(o.len, 0);
	outcome_clear(&o);
	ck_assert_uint_eq(fetcher_active(fx), 0);
}
END_TEST

START_TEST(non_2xx_statuses_are_http_errors_with_their_code)
{
	struct outcome o;

	get(url("/404"), 2000, 1000, &o);
	ck_assert_str_eq(fetch_status_name(o.status), "http-error");
	ck_assert_int_eq(o.http_code, 404);
	ck_assert_uint_eq(o.len, 9);
	ck_assert_mem_eq(o.body, "not here\n", 9);
	ck_assert_str_eq(o.error, "HTTP status 404");
	outcome_clear(&o);

	get(url("/500"), 2000, 1000, &o);
	ck_assert_str_eq(fetch_status_name(o.status), "http-error");
	ck_assert_int_eq(o.http_code, 500);
	outcome_clear(&o);
}
END_TEST

START_TEST(redirects_are_reported_not_followed)
{
	struct outcome o;

	get(url("/redirect"), 2000, 1000, &o);
	ck_assert_str_eq(fetch_status_name(o.status), "http-error");
	ck_assert_int_eq(o.http_code, 302);
	ck_assert_int_eq(srv.target_hits, 0);
	outcome_clear(&o);
}
END_TEST

START_TEST(a_silent_server_times_out_within_the_bound)
{
	struct outcome o;
	int64_t t0 = now_ms(), wall;

	get(url("/hang"), 300, 1000, &o);
	wall = now_ms() - t0;
	ck_assert_str_eq(fetch_status_name(o.status), "timeout");
	ck_assert_int_eq(o.http_code, 0);
	ck_assert_int_ge(o.elapsed_ms, 290);
	ck_assert_int_lt(o.elapsed_ms, 1000);
	ck_assert_int_lt(wall, 1000);
	ck_assert_int_eq(srv.requests, 1);
	outcome_clear(&o);
}
END_TEST

START_TEST(bodies_past_max_bytes_are_too_large_with_or_without_content_length)
{
	static const char *paths[] = { "/big", "/big-chunked" };
	struct outcome o;
	size_t i;

	for (i = 0; i < 2; i++) {
		get(url(paths[i]), 2000, 1000, &o);
		ck_assert_msg(o.status == FETCH_TOO_LARGE, "%s: %s (%s)", paths[i],
		    fetch_status_name(o.status), o.error);
		ck_assert_uint_eq(o.len, 0);	/* no truncated body */
		outcome_clear(&o);
	}
	/* One byte over is over, with or without Content-Length. */
	get(url("/ok"), 2000, OK_LEN - 1, &o);
	ck_assert_str_eq(fetch_status_name(o.status), "too-large");
	outcome_clear(&o);
	get(url("/ok-chunked"), 2000, OK_LEN - 1, &o);
	ck_assert_str_eq(fetch_status_name(o.status), "too-large");
	ck_assert_str_eq(o.error, "response body exceeds 2999 bytes");
	outcome_clear(&o);
}
END_TEST

START_TEST(a_closed_port_is_a_network_error)
{
	struct outcome o;
	uint16_t port;
	int fd = loopback_socket(false, &port);	/* bound, not listening: refused */
	char u[64];

	snprintf(u, sizeof(u), "http://127.0.0.1:%u/ok", (unsigned)port);
	get(u, 2000, 1000, &o);
	ck_assert_str_eq(fetch_status_name(o.status), "network");
	ck_assert_int_eq(o.http_code, 0);
	ck_assert_str_ne(o.error, "");
	outcome_clear(&o);
	close(fd);
}
END_TEST

START_TEST(only_http_and_https_urls_are_fetched)
{
	static const char *urls[] = { "ftp://x", "file:///etc/passwd", "gopher://127.0.0.1/",
	    "http://[::1" };
	struct outcome o;
	size_t i;

	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		get(urls[i], 2000, 1000, &o);
		ck_assert_msg(o.status == FETCH_BAD_URL, "%s: %s (%s)", urls[i],
		    fetch_status_name(o.status), o.error);
		ck_assert_uint_eq(o.len, 0);
		outcome_clear(&o);
	}
	ck_assert_int_eq(srv.requests, 0);
}
END_TEST

START_TEST(a_post_body_and_its_content_type_arrive_intact)
{
	static const char head[] = "ct=application/ocsp-request\nexpect=none\n";
	unsigned char *post = malloc(2000);
	struct fetch_request req = { .url = url("/echo"), .post = post, .post_len = 2000,
	    .content_type = "application/ocsp-request", .timeout_ms = 2000, .max_bytes = 4096 };
	struct outcome o = { 0 };
	size_t i;

	for (i = 0; i < 2000; i++)
		post[i] = pattern_byte(i);
	ck_assert_ptr_nonnull(start(&req, &o));
	memset(post, 0xAA, 2000);	/* the request was copied */
	free(post);
	ck_assert(run_until(outcome_done, &o, 2000));
	ck_assert_str_eq(fetch_status_name(o.status), "ok");
	ck_assert_uint_eq(o.len, strlen(head) + 2000);
	ck_assert_mem_eq(o.body, head, strlen(head));
	for (i = 0; i < 2000; i++)
		ck_assert_msg(o.body[strlen(head) + i] == pattern_byte(i), "byte %zu", i);
	ck_assert_int_lt(o.elapsed_ms, 900);	/* no "Expect: 100-continue" stall */
	outcome_clear(&o);

	/* An empty POST without a content type: curl's form type is not invented. */
	memset(&o, 0, sizeof(o));
	req.post = (const unsigned char *)"";
	req.post_len = 0;
	req.content_type = NULL;
	ck_assert_ptr_nonnull(start(&req, &o));
	ck_assert(run_until(outcome_done, &o, 2000));
	ck_assert_str_eq(fetch_status_name(o.status), "ok");
	ck_assert_uint_eq(o.len, strlen("ct=none\nexpect=none\n"));
	ck_assert_mem_eq(o.body, "ct=none\nexpect=none\n", o.len);
	outcome_clear(&o);
}
END_TEST

static bool
all_done(void *arg)
{
	struct outcome *o = arg;
	size_t i;

	for (i = 0; i < 20; i++)
		if (o[i].calls == 0)
			return false;
	return true;
}

START_TEST(twenty_concurrent_fetches_all_complete)
{
	struct outcome o[20];
	struct fetch_request req = { .url = url("/ok-chunked"), .timeout_ms = 2000,
	    .max_bytes = OK_LEN };
	size_t i;

	memset(o, 0, sizeof(o));
	for (i = 0; i < 20; i++) {
		req.url = url(i % 2 ? "/ok" : "/ok-chunked");
		ck_assert_ptr_nonnull(start(&req, &o[i]));
	}
	ck_assert_uint_eq(fetcher_active(fx), 20);
	ck_assert(run_until(all_done, o, 2000));
	for (i = 0; i < 20; i++) {
		ck_assert_int_eq(o[i].calls, 1);
		ck_assert(!o[i].early);
		ck_assert_msg(o[i].status == FETCH_OK, "%zu: %s", i, o[i].error);
		assert_pattern(&o[i], OK_LEN);
		outcome_clear(&o[i]);
	}
	ck_assert_uint_eq(fetcher_active(fx), 0);
	ck_assert_int_eq(srv.requests, 20);
}
END_TEST

static bool
server_saw_a_request(void *arg)
{
	return srv.requests > 0;
}

START_TEST(a_cancelled_fetch_never_calls_back_and_free_leaves_no_events)
{
	struct fetch_request req = { .url = url("/hang"), .timeout_ms = 300, .max_bytes = 100 };
	struct outcome o = { 0 };
	struct fetch *f = start(&req, &o);

	ck_assert_ptr_nonnull(f);
	ck_assert(run_until(server_saw_a_request, NULL, 1000));	/* in flight */
	fetch_cancel(f);
	ck_assert_uint_eq(fetcher_active(fx), 0);
	run_for(500);				/* past the fetch's own timeout */
	ck_assert_int_eq(o.calls, 0);
	fetcher_free(fx);
	fx = NULL;
	ck_assert_int_eq(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 0);
	ck_assert_int_eq(event_base_dispatch(base), 1);
	ck_assert_int_eq(o.calls, 0);
}
END_TEST

static bool
server_saw_four(void *arg)
{
	return srv.requests >= 4;
}

START_TEST(freeing_the_fetcher_with_transfers_in_flight_calls_nothing_back)
{
	struct fetch_request req = { .timeout_ms = 300, .max_bytes = 100 };
	struct outcome o[5];
	size_t i;

	memset(o, 0, sizeof(o));
	for (i = 0; i < 4; i++) {
		req.url = url("/hang");
		ck_assert_ptr_nonnull(start(&req, &o[i]));
	}
	req.url = "ftp://x";		/* finishes at the first turn of the loop */
	ck_assert_ptr_nonnull(start(&req, &o[4]));
	ck_assert(run_until(server_saw_four, NULL, 1000));
	ck_assert_int_eq(o[4].calls, 1);
	ck_assert_uint_eq(fetcher_active(fx), 4);
	fetcher_free(fx);
	fx = NULL;
	ck_assert_int_eq(event_base_dispatch(base), 1);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(o[i].calls, 0);
	outcome_clear(&o[4]);
}
END_TEST

START_TEST(the_callback_never_runs_before_fetch_start_returns)
{
	static const char *urls[] = { "ftp://x", "http://[::1", "http://127.0.0.1:1/" };
	struct fetch_request req = { .timeout_ms = 1000, .max_bytes = 100 };
	struct outcome o[3];
	size_t i;

	memset(o, 0, sizeof(o));
	for (i = 0; i < 3; i++) {
		req.url = urls[i];
		ck_assert_ptr_nonnull(start(&req, &o[i]));	/* asserts no call yet */
	}
	for (i = 0; i < 3; i++) {
		ck_assert(run_until(outcome_done, &o[i], 2000));
		ck_assert(!o[i].early);
		outcome_clear(&o[i]);
	}
}
END_TEST

START_TEST(invalid_requests_are_refused_without_a_callback)
{
	struct fetch_request req = { .url = NULL, .timeout_ms = 1000, .max_bytes = 100 };
	struct outcome o = { 0 };

	ck_assert_ptr_null(fetch_start(fx, &req, on_done, &o));
	req.url = url("/ok");
	req.timeout_ms = 0;			/* unbounded: refused */
	ck_assert_ptr_null(fetch_start(fx, &req, on_done, &o));
	req.timeout_ms = 1000;
	req.post = (const unsigned char *)"x";
	req.post_len = 1;
	req.content_type = "text/plain\r\nX-Injected: 1";
	ck_assert_ptr_null(fetch_start(fx, &req, on_done, &o));
	ck_assert_uint_eq(fetcher_active(fx), 0);
	run_for(50);
	ck_assert_int_eq(o.calls, 0);
	ck_assert_int_eq(srv.requests, 0);
}
END_TEST

/* Two fetches whose callbacks act on the other: A's callback handles B per `mode`. */
struct pair {
	struct outcome	 o[2];
	struct fetch	*f[2];
	int		 mode;		/* 0: cancel B, 1: free fetcher, 2: start /ok */
	struct outcome	 chained;
};

static void
pair_first_done(const struct fetch_result *r, void *arg)
{
	struct pair *p = arg;
	struct fetch_request req = { .url = url("/ok"), .timeout_ms = 2000,
	    .max_bytes = OK_LEN };

	on_done(r, &p->o[0]);
	if (p->mode == 0) {
		fetch_cancel(p->f[1]);
	} else if (p->mode == 1) {
		fetcher_free(fx);
		fx = NULL;
	} else {
		p->chained.returned = false;
		ck_assert_ptr_nonnull(fetch_start(fx, &req, on_done, &p->chained));
		p->chained.returned = true;
	}
}

static void
pair_second_done(const struct fetch_result *r, void *arg)
{
	struct pair *p = arg;

	on_done(r, &p->o[1]);
}

/* Starts two fetches of URL that finish in the same turn of the loop, A's first. */
static void
pair_run(struct pair *p, const char *u)
{
	struct fetch_request req = { .url = u, .timeout_ms = 1000, .max_bytes = 100 };

	p->f[0] = fetch_start(fx, &req, pair_first_done, p);
	p->f[1] = fetch_start(fx, &req, pair_second_done, p);
	ck_assert_ptr_nonnull(p->f[0]);
	ck_assert_ptr_nonnull(p->f[1]);
	p->o[0].returned = p->o[1].returned = true;
	run_until(outcome_done, &p->o[0], 2000);
	ck_assert_int_eq(p->o[0].calls, 1);
	run_for(100);
}

START_TEST(a_callback_may_cancel_a_fetch_that_finished_alongside)
{
	struct pair p = { .mode = 0 };

	pair_run(&p, "ftp://x");
	ck_assert_int_eq(p.o[1].calls, 0);
	ck_assert_uint_eq(fetcher_active(fx), 0);
	outcome_clear(&p.o[0]);
}
END_TEST

START_TEST(a_callback_may_free_the_fetcher)
{
	struct pair p = { .mode = 1 };

	pair_run(&p, "ftp://x");
	ck_assert_ptr_null(fx);
	ck_assert_int_eq(p.o[1].calls, 0);
	ck_assert_int_eq(event_base_dispatch(base), 1);
	outcome_clear(&p.o[0]);
}
END_TEST

START_TEST(a_callback_may_start_another_fetch)
{
	struct pair p = { .mode = 2 };

	pair_run(&p, "ftp://x");
	ck_assert(run_until(outcome_done, &p.chained, 2000));
	ck_assert(!p.chained.early);
	ck_assert_str_eq(fetch_status_name(p.chained.status), "ok");
	assert_pattern(&p.chained, OK_LEN);
	ck_assert_int_eq(p.o[1].calls, 1);
	ck_assert_uint_eq(fetcher_active(fx), 0);
	outcome_clear(&p.o[0]);
	outcome_clear(&p.o[1]);
	outcome_clear(&p.chained);
}
END_TEST

static void
cancel_self(const struct fetch_result *r, void *arg)
{
	struct pair *p = arg;

	on_done(r, &p->o[0]);
	fetch_cancel(p->f[0]);		/* tolerated: the fetch is freed after we return */
}

START_TEST(cancelling_a_fetch_from_its_own_callback_is_harmless)
{
	struct fetch_request req = { .url = url("/ok"), .timeout_ms = 2000,
	    .max_bytes = OK_LEN };
	struct pair p = { .mode = 0 };

	p.f[0] = fetch_start(fx, &req, cancel_self, &p);
	p.o[0].returned = true;
	ck_assert(run_until(outcome_done, &p.o[0], 2000));
	ck_assert_int_eq(p.o[0].calls, 1);
	ck_assert_uint_eq(fetcher_active(fx), 0);
	outcome_clear(&p.o[0]);
}
END_TEST

static Suite *
fetch_suite(void)
{
	Suite *s = suite_create("fetch");
	TCase *res = tcase_create("results"), *life = tcase_create("lifecycle");

	tcase_add_checked_fixture(res, setup, teardown);
	tcase_add_checked_fixture(life, setup, teardown);
	tcase_set_timeout(res, 10);
	tcase_set_timeout(life, 10);
	tcase_add_test(res, status_names_are_stable);
	tcase_add_test(res, a_2xx_body_arrives_byte_for_byte_up_to_exactly_max_bytes);
	tcase_add_test(res, non_2xx_statuses_are_http_errors_with_their_code);
	tcase_add_test(res, redirects_are_reported_not_followed);
	tcase_add_test(res, a_silent_server_times_out_within_the_bound);
	tcase_add_test(res, bodies_past_max_bytes_are_too_large_with_or_without_content_length);
	tcase_add_test(res, a_closed_port_is_a_network_error);
	tcase_add_test(res, only_http_and_https_urls_are_fetched);
	tcase_add_test(res, a_post_body_and_its_content_type_arrive_intact);
	tcase_add_test(life, twenty_concurrent_fetches_all_complete);
	tcase_add_test(life, a_cancelled_fetch_never_calls_back_and_free_leaves_no_events);
	tcase_add_test(life, freeing_the_fetcher_with_transfers_in_flight_calls_nothing_back);
	tcase_add_test(life, the_callback_never_runs_before_fetch_start_returns);
	tcase_add_test(life, invalid_requests_are_refused_without_a_callback);
	tcase_add_test(life, a_callback_may_cancel_a_fetch_that_finished_alongside);
	tcase_add_test(life, a_callback_may_free_the_fetcher);
	tcase_add_test(life, a_callback_may_start_another_fetch);
	tcase_add_test(life, cancelling_a_fetch_from_its_own_callback_is_harmless);
	suite_add_tcase(s, res);
	suite_add_tcase(s, life);
	return s;
}

int
main(void)
{
	static const char *proxies[] = { "http_proxy", "HTTP_PROXY", "https_proxy",
	    "HTTPS_PROXY", "all_proxy", "ALL_PROXY" };
	SRunner *sr;
	size_t i;
	int failed;

	for (i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++)
		unsetenv(proxies[i]);		/* loopback only, never through a proxy */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 99;
	sr = srunner_create(fetch_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
