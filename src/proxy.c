#include "config.h"
#include "proxy.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "accesslog.h"
#include "clientcert.h"
#include "forward.h"
#include "http1.h"
#include "log.h"
#include "revoke.h"
#include "runtime.h"
#include "tlsctx.h"
#include "upstream.h"

#define PROXY_RESPONSE_HEAD_MAX	(64 * 1024)
#define PROXY_LOG_TARGET_MAX	512
#define PROXY_NO_BACKEND	SIZE_MAX
#define PROXY_TLS_RECORD	16384	/* the most plaintext one TLS record carries */

enum proxy_state {
	PROXY_HANDSHAKE,	/* TLS handshake under way */
	PROXY_ADMISSION,	/* handshake done, deciding whether the client may go on */
	PROXY_IDLE,		/* waiting for (the rest of) a request head */
	PROXY_CONNECTING,	/* request parsed, backend connection being opened */
	PROXY_FORWARDING,	/* request and response streaming */
	PROXY_TUNNEL,		/* after a 101: bytes both ways */
	PROXY_CLOSING,		/* flushing a last response, then close */
};

/* What the timer means right now. */
enum proxy_timer {
	PROXY_TIMER_NONE,
	PROXY_TIMER_HANDSHAKE,
	PROXY_TIMER_KEEPALIVE,	/* idle between requests: close quietly */
	PROXY_TIMER_HEADER,	/* a request head is arriving too slowly: 408 */
	PROXY_TIMER_CLOSING,	/* the client does not take its last response */
};

/* One request and its response. Reset between requests. */
struct proxy_req {
	bool			 active;
	char			 method[24];
	char			 target[PROXY_LOG_TARGET_MAX];
	int			 minor;
	bool			 keep_alive;	/* the client wants the connection kept */
	bool			 idempotent;
	bool			 upgrade;
	bool			 is_head;
	enum http1_framing	 framing;
	uint64_t		 remaining;	/* Content-Length bytes left */
	struct http1_chunked	 chunked;
	bool			 body_done;
	bool			 body_started;	/* body bytes went to a backend */
	uint64_t		 body_bytes;	/* payload received */
	uint64_t		 bytes_in;	/* head + body from the client */
	int			 tries;
	size_t			 backend;
	struct timeval		 started;
	struct timeval		 upstream_started;

	bool			 resp_head_done;
	int			 status;
	enum http1_framing	 resp_framing;
	uint64_t		 resp_remaining;
	struct http1_chunked	 resp_chunked;
	bool			 resp_keep_alive;
	bool			 client_keep_alive;	/* decided when the response head is sent */
	bool			 resp_started;		/* bytes went to the client */
	uint64_t		 bytes_out;
	const char		*error;			/* revgate's own refusal reason, for the log */
};

struct proxy_conn {
	TAILQ_ENTRY(proxy_conn)	 link;
	struct proxy_ctx	*ctx;		/* borrowed */
	struct runtime		*rt;		/* owned reference */
	uint64_t		 id;
	char			 peer_ip[INET6_ADDRSTRLEN];
	char			 peer[INET6_ADDRSTRLEN + 8];
	struct bufferevent	*client;	/* owned; owns the SSL and the socket */
	struct upstream_conn	*up;		/* owned while a request uses it */
	struct event		*timer;		/* owned */
	enum proxy_timer	 timer_kind;
	enum proxy_state	 state;
	struct evbuffer		*head;		/* owned; rewritten request head, kept for a retry */
	struct proxy_req	 req;
	struct clientcert	 cert;
	char			 verify[160];
	struct revoke_check	*check;		/* a revocation decision under way */
	struct revoke_decision	 rev;		/* the last one */
	bool			 rev_done;
	bool			 client_paused;	/* reading stopped for back-pressure */
	bool			 up_paused;
	unsigned		 requests;
};

static void proxy_client_read(struct bufferevent *bev, void *arg);
static void proxy_client_write(struct bufferevent *bev, void *arg);
static void proxy_client_event(struct bufferevent *bev, short what, void *arg);
static void proxy_up_read(struct bufferevent *bev, void *arg);
static void proxy_up_write(struct bufferevent *bev, void *arg);
static void proxy_up_event(struct bufferevent *bev, short what, void *arg);
static int proxy_read_request(struct proxy_conn *c);
static int proxy_upstream_start(struct proxy_conn *c, size_t exclude);

/* --- small helpers ----------------------------------------------------------------------- */

static struct timeval
proxy_tv(int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	return tv;
}

static const struct conf *
proxy_cfg(const struct proxy_conn *c)
{
	return c->rt->cfg;
}

static size_t
proxy_buffer_size(const struct proxy_conn *c)
{
	return (size_t)proxy_cfg(c)->http.buffer_size;
}

static void
proxy_timer_set(struct proxy_conn *c, enum proxy_timer kind, int64_t ms)
{
	struct timeval tv = proxy_tv(ms);

	c->timer_kind = kind;
	evtimer_add(c->timer, &tv);
}

static void
proxy_timer_clear(struct proxy_conn *c)
{
	c->timer_kind = PROXY_TIMER_NONE;
	evtimer_del(c->timer);
}

static double
proxy_elapsed(const struct proxy_conn *c, const struct timeval *since)
{
	struct timeval now, d;

	if (!timerisset(since))
		return 0;
	event_base_gettimeofday_cached(c->ctx->base, &now);
	timersub(&now, since, &d);
	return (double)d.tv_sec + (double)d.tv_usec / 1e6;
}

/* Drains OpenSSL's error queue into one short string (for logs). */
static const char *
proxy_ssl_errors(struct bufferevent *bev, char *buf, size_t size)
{
	unsigned long e;
	size_t n = 0;

	buf[0] = '\0';
	while ((e = bufferevent_get_openssl_error(bev)) != 0 || (e = ERR_get_error()) != 0) {
		char one[256];

		if (ERR_GET_LIB(e) == 0)
			continue;	/* libevent's own markers carry no library or reason */
		ERR_error_string_n(e, one, sizeof(one));
		n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "%s%s", n > 0 ? "; " : "",
		    one);
		if (n >= size)
			break;
	}
	return buf[0] != '\0' ? buf : "connection closed";
}

/* --- access log -------------------------------------------------------------------------- */

/* Copies S for a quoted log field: quotes, backslashes and non-printables become \xHH. */
static void
proxy_log_escape(const char *s, char *out, size_t size)
{
	size_t n = 0;

	for (; s != NULL && *s != '\0' && n + 5 < size; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
			n += (size_t)snprintf(out + n, size - n, "\\x%02X", ch);
		else
			out[n++] = (char)ch;
	}
	out[n] = '\0';
}

static void
proxy_access_log(struct proxy_conn *c)
{
	struct proxy_req *r = &c->req;
	char line[2048], when[64], subject[512], target[PROXY_LOG_TARGET_MAX * 2];
	struct tm tm;
	time_t now = time(NULL);
	int n;

	if (!proxy_cfg(c)->log.access || !r->active)
		return;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%d/%b/%Y:%H:%M:%S +0000", &tm);
	proxy_log_escape(c->cert.subject != NULL ? c->cert.subject : "-", subject,
	    sizeof(subject));
	proxy_log_escape(r->target, target, sizeof(target));
	n = snprintf(line, sizeof(line),
	    "%s - - [%s] \"%s %s HTTP/1.%d\" %d %" PRIu64 " in=%" PRIu64 " verify=%s "
	    "subject=\"%s\" serial=%s revocation=\"%s\" upstream=%s rt=%.3f urt=%.3f "
	    "conn=%u-%" PRIu64 " req=%u%s%s\n",
	    c->peer_ip, when, r->method[0] != '\0' ? r->method : "-", target, r->minor,
	    r->status, r->bytes_out, r->bytes_in, c->verify, subject,
	    c->cert.serial[0] != '\0' ? c->cert.serial : "-",
	    c->rev_done ? c->rev.header : "-",
	    r->backend != PROXY_NO_BACKEND ? upstream_name(c->ctx->pool, r->backend) : "-",
	    proxy_elapsed(c, &r->started), proxy_elapsed(c, &r->upstream_started),
	    c->ctx->worker_id, c->id, c->requests, r->error != NULL ? " error=" : "",
	    r->error != NULL ? r->error : "");
	if (n > 0)
		accesslog_write(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* --- the one place a connection dies ----------------------------------------------------- */

static void
proxy_conn_free(struct proxy_conn *c)
{
	struct proxy_ctx *ctx = c->ctx;

	log_debug("conn %u-%" PRIu64 " %s: closed after %u request(s)", ctx->worker_id, c->id,
	    c->peer, c->requests);
	TAILQ_REMOVE(&ctx->conns, c, link);
	ctx->nconns--;
	if (c->timer != NULL)
		event_free(c->timer);
	revoke_check_cancel(c->check);	/* its callback never runs now */
	c->check = NULL;
	upstream_close(c->up);
	if (c->client != NULL)
		bufferevent_free(c->client);	/* frees the SSL and closes the socket */
	if (c->head != NULL)
		evbuffer_free(c->head);
	clientcert_clear(&c->cert);
	runtime_unref(c->rt);
	free(c);
	if (ctx->draining && ctx->nconns == 0 && ctx->on_drained != NULL)
		ctx->on_drained(ctx->arg);
}

/* Sends close_notify when the session is healthy, then frees. */
static void
proxy_conn_finish(struct proxy_conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->client);

	if (ssl != NULL && c->state != PROXY_HANDSHAKE && SSL_is_init_finished(ssl)) {
		(void)SSL_shutdown(ssl);
		ERR_clear_error();
	}
	proxy_conn_free(c);
}

/* Stops reading, lets the output drain (bounded by http.sendTimeout), then closes. */
static void
proxy_close_after_flush(struct proxy_conn *c)
{
	upstream_close(c->up);
	c->up = NULL;
	c->state = PROXY_CLOSING;
	bufferevent_disable(c->client, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->client)) == 0) {
		proxy_conn_finish(c);
		return;
	}
	bufferevent_setwatermark(c->client, EV_WRITE, 0, 0);
	bufferevent_enable(c->client, EV_WRITE);
	proxy_timer_set(c, PROXY_TIMER_CLOSING, proxy_cfg(c)->http.send_timeout_ms);
}

/* --- refusals ---------------------------------------------------------------------------- */

static const char *
proxy_status_text(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

/*
 * Answers with revgate's own short JSON error and closes the connection. REASON is a fixed,
 * machine-readable token; details belong in the log, not in what the client sees. Returns -1:
 * the caller must not touch C afterwards (it may be freed).
 */
static int
proxy_refuse(struct proxy_conn *c, int status, const char *reason)
{
	struct evbuffer *out = bufferevent_get_output(c->client);
	char body[256];
	int n;

	c->req.error = reason;
	if (c->req.resp_started) {
		/* The client already has part of a response: cutting the connection is all we can do. */
		proxy_access_log(c);
		proxy_conn_free(c);
		return -1;
	}
	n = snprintf(body, sizeof(body), "{\"status\":%d,\"error\":\"%s\",\"reason\":\"%s\"}\n",
	    status, proxy_status_text(status), reason);
	n = evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: %d\r\nConnection: close\r\n\r\n%s", status,
	    proxy_status_text(status), n, body);
	c->req.status = status;
	c->req.bytes_out += n > 0 ? (uint64_t)n : 0;
	c->req.resp_started = true;
	if (!c->req.active) {
		c->req.active = true;	/* refused before a request line was understood */
		c->req.backend = PROXY_NO_BACKEND;
		c->req.minor = 1;
		snprintf(c->req.target, sizeof(c->req.target), "-");
	}
	proxy_access_log(c);
	proxy_close_after_flush(c);
	return -1;
}

/* --- moving bodies ----------------------------------------------------------------------- */

/*
 * Moves body bytes of FRAMING from SRC to DST. Returns the bytes moved and sets *DONE at the
 * end of the body, or -1 on a chunked-framing error. PAYLOAD accumulates payload bytes.
 */
static long
proxy_move_body(struct evbuffer *src, struct evbuffer *dst, enum http1_framing framing,
    uint64_t *remaining, struct http1_chunked *chunked, uint64_t *payload, bool *done)
{
	size_t avail = evbuffer_get_length(src), take = 0;
	struct evbuffer_iovec vec[16];
	int nvec;

	switch (framing) {
	case HTTP1_BODY_NONE:
		*done = true;
		return 0;
	case HTTP1_BODY_LENGTH:
		take = avail < *remaining ? avail : (size_t)*remaining;
		*remaining -= take;
		*payload += take;
		*done = *remaining == 0;
		break;
	case HTTP1_BODY_UNTIL_CLOSE:
		take = avail;
		*payload += take;
		break;
	case HTTP1_BODY_CHUNKED:
		nvec = evbuffer_peek(src, -1, NULL, vec, 16);
		for (int i = 0; i < nvec && i < 16 && !*done; i++) {
			long used = http1_chunked_feed(chunked, vec[i].iov_base, vec[i].iov_len,
			    payload, done);

			if (used < 0)
				return -1;
			take += (size_t)used;
		}
		break;
	}
	if (take > 0 && evbuffer_remove_buffer(src, dst, take) != (int)take)
		return -1;
	return (long)take;
}

/* --- admission ----------------------------------------------------------------------------- */

/*
 * The admission seam: decides whether an authenticated client may send requests. Today the
 * TLS layer's verification is the whole decision; revocation checking plugs in here and may
 * complete later (reading stays disabled until it does).
 */
static void
proxy_admission_done(struct proxy_conn *c, bool admit, const char *reason)
{
	if (!admit) {
		log_info("conn %u-%" PRIu64 " %s: refused: %s", c->ctx->worker_id, c->id, c->peer,
		    reason);
		proxy_refuse(c, 403, reason);
		return;
	}
	if (c->ctx->draining) {
		proxy_conn_finish(c);
		return;
	}
	c->state = PROXY_IDLE;
	proxy_timer_set(c, PROXY_TIMER_HEADER, proxy_cfg(c)->http.header_timeout_ms);
	bufferevent_enable(c->client, EV_READ);
	if (evbuffer_get_length(bufferevent_get_input(c->client)) > 0)
		(void)proxy_read_request(c);
}

/* Logs what a revocation decision means for this connection; returns whether to admit. */
static bool
proxy_revocation_verdict(struct proxy_conn *c, const struct revoke_decision *d)
{
	switch (d->verdict) {
	case REVOKE_GOOD:
		log_debug("conn %u-%" PRIu64 " %s: revocation %s (%s, %" PRId64 " ms)",
		    c->ctx->worker_id, c->id, c->peer, d->header, d->cached ? "cached" : "fetched",
		    d->elapsed_ms);
		return true;
	case REVOKE_UNCHECKED:
		log_warn("audit: conn %u-%" PRIu64 " %s: admitted by fail-open without a revocation "
		    "verdict: subject \"%s\" serial %s: %s (source %s)", c->ctx->worker_id, c->id,
		    c->peer, d->subject, d->serial, d->reason, d->source[0] ? d->source : "-");
		return true;
	case REVOKE_REVOKED:
	case REVOKE_FAILED:
		break;
	}
	log_info("audit: conn %u-%" PRIu64 " %s: refused: subject \"%s\" serial %s: %s "
	    "(method %s, source %s, %s, %" PRId64 " ms)", c->ctx->worker_id, c->id, c->peer,
	    d->subject, d->serial, d->reason, d->method, d->source[0] ? d->source : "-",
	    d->cached ? "cached" : "fetched", d->elapsed_ms);
	return false;
}

static void
proxy_revocation_apply(struct proxy_conn *c)
{
	if (!proxy_revocation_verdict(c, &c->rev)) {
		proxy_admission_done(c, false, c->rev.reason);
		return;
	}
	proxy_admission_done(c, true, NULL);
}

/* The revocation thread's answer, on this worker's thread. */
static void
proxy_revocation_done(void *arg, const struct revoke_decision *d)
{
	struct proxy_conn *c = arg;

	c->check = NULL;
	c->rev = *d;
	c->rev_done = true;
	proxy_revocation_apply(c);
}

/* Asks for a decision; reading stays off until it comes (at once, from the caches, or later). */
static void
proxy_revocation_start(struct proxy_conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->client);

	c->state = PROXY_ADMISSION;
	/*
	 * Reading stays on while the decision is pending, only to notice a client that goes
	 * away (its check is then cancelled); what it sends waits in the input buffer, bounded
	 * by the read watermark, until the decision admits it.
	 */
	bufferevent_enable(c->client, EV_READ);
	proxy_timer_clear(c);
	if (revoke_check_start(c->rt->revoker, ssl, c->ctx->post, c->ctx->post_ctx,
	    proxy_revocation_done, c, &c->rev, &c->check) == 0)
		return;
	c->rev_done = true;
	proxy_revocation_apply(c);
}

static void
proxy_admission_start(struct proxy_conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->client);
	X509 *peer = SSL_get0_peer_certificate(ssl);

	const char *verify;

	c->state = PROXY_ADMISSION;
	verify = tlsctx_verify_status(ssl, c->verify, sizeof(c->verify));
	if (verify != c->verify)
		snprintf(c->verify, sizeof(c->verify), "%s", verify);
	if (peer != NULL &&
	    clientcert_describe(peer, proxy_cfg(c)->proxy.forward_certificate, &c->cert) == -1) {
		log_warn("conn %u-%" PRIu64 " %s: cannot describe the client certificate; closing",
		    c->ctx->worker_id, c->id, c->peer);
		proxy_conn_free(c);
		return;
	}
	log_debug("conn %u-%" PRIu64 " %s: %s handshake, %s, verify %s, subject \"%s\"",
	    c->ctx->worker_id, c->id, c->peer, SSL_session_reused(ssl) ? "resumed" : "full",
	    SSL_get_version(ssl), c->verify, c->cert.subject != NULL ? c->cert.subject : "-");
	if (proxy_cfg(c)->http.mtls.enabled && proxy_cfg(c)->http.mtls.required && peer == NULL) {
		proxy_admission_done(c, false, "client-certificate-required");
		return;
	}
	if (peer != NULL && revoker_enabled(c->rt->revoker)) {
		proxy_revocation_start(c);
		return;
	}
	proxy_admission_done(c, true, NULL);
}

/* --- requests ---------------------------------------------------------------------------- */

static void
proxy_req_reset(struct proxy_conn *c)
{
	memset(&c->req, 0, sizeof(c->req));
	c->req.backend = PROXY_NO_BACKEND;
	evbuffer_drain(c->head, evbuffer_get_length(c->head));
}

static void
proxy_span_copy(const struct http1_span *s, char *out, size_t size)
{
	size_t n = s->len < size - 1 ? s->len : size - 1;

	memcpy(out, s->p, n);
	out[n] = '\0';
}

/* Records what the request is and how its body is framed. */
static void
proxy_req_begin(struct proxy_conn *c, const struct http1_head *h)
{
	struct proxy_req *r = &c->req;

	r->active = true;
	event_base_gettimeofday_cached(c->ctx->base, &r->started);
	proxy_span_copy(&h->method, r->method, sizeof(r->method));
	proxy_span_copy(&h->target, r->target, sizeof(r->target));
	r->minor = h->minor;
	r->keep_alive = h->keep_alive && !c->ctx->draining &&
	    proxy_cfg(c)->http.keep_alive_timeout_ms > 0;
	r->idempotent = forward_method_idempotent(&h->method);
	r->upgrade = h->upgrade;
	r->is_head = strcmp(r->method, "HEAD") == 0;
	r->framing = h->framing;
	r->remaining = h->content_length;
	http1_chunked_init(&r->chunked);
	http1_chunked_init(&r->resp_chunked);
	r->body_done = h->framing == HTTP1_BODY_NONE;
	r->bytes_in = h->head_len;
	r->backend = PROXY_NO_BACKEND;
	c->requests++;
}

/* Checks what the parser accepts but revgate does not forward. Returns 0 or a refusal. */
static int
proxy_req_check(struct proxy_conn *c, const struct http1_head *h)
{
	uint64_t max_body = proxy_cfg(c)->http.max_body_size;

	if (h->method.len == 7 && memcmp(h->method.p, "CONNECT", 7) == 0)
		return proxy_refuse(c, 405, "connect-not-supported");
	if (h->target.len == 0 || (h->target.p[0] != '/' &&
	    !(h->target.len == 1 && h->target.p[0] == '*')))
		return proxy_refuse(c, 400, "target-not-origin-form");
	if (max_body > 0 && h->framing == HTTP1_BODY_LENGTH && h->content_length > max_body)
		return proxy_refuse(c, 413, "body-too-large");
	return 0;
}

/*
 * A chunked body whose first bytes came with the head is checked before any backend hears of
 * the request, so a malformed body that arrives at once is refused without a trace upstream.
 * (Framing errors found later abort the backend connection, which is then never reused.)
 */
static int
proxy_precheck_chunks(struct proxy_conn *c, size_t head_len)
{
	struct evbuffer *in = bufferevent_get_input(c->client);
	size_t len = evbuffer_get_length(in);
	struct http1_chunked probe = c->req.chunked;
	uint64_t payload = 0;
	bool done = false;
	const char *p;

	if (c->req.framing != HTTP1_BODY_CHUNKED || len <= head_len)
		return 0;
	if ((p = (const char *)evbuffer_pullup(in, (ev_ssize_t)len)) == NULL)
		return 0;
	if (http1_chunked_feed(&probe, p + head_len, len - head_len, &payload, &done) < 0)
		return proxy_refuse(c, 400, "bad-chunked-body");
	return 0;
}

static int
proxy_build_head(struct proxy_conn *c, const struct http1_head *h)
{
	struct forward_identity id = {
		.client_addr = c->peer_ip,
		.verify = proxy_cfg(c)->http.mtls.enabled ? c->verify : NULL,
		.subject = c->cert.subject,
		.issuer = c->cert.issuer,
		.serial = c->cert.serial[0] != '\0' ? c->cert.serial : NULL,
		.fingerprint = c->cert.fingerprint[0] != '\0' ? c->cert.fingerprint : NULL,
		.certificate = c->cert.pem_urlencoded,
		.revocation = c->rev_done ? c->rev.header : NULL,
	};

	return forward_request_head(h, &c->rt->header_names, &id, c->head);
}

static const char *
proxy_parse_reason(enum http1_status st)
{
	switch (st) {
	case HTTP1_TOO_MANY_HEADERS:
		return "too-many-headers";
	case HTTP1_NOT_IMPLEMENTED:
		return "transfer-coding-not-supported";
	case HTTP1_BAD_VERSION:
		return "http-version-not-supported";
	case HTTP1_OK:
	case HTTP1_INCOMPLETE:
	case HTTP1_BAD_REQUEST:
		break;
	}
	return "bad-request";
}

/*
 * Parses a request head from the client's input when a whole one is there. Returns 0 when C
 * lives on (waiting, or forwarding started), -1 when C was closed.
 */
static int
proxy_read_request(struct proxy_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->client);
	size_t len = evbuffer_get_length(in), max = proxy_cfg(c)->http.max_header_size;
	size_t n = len < max ? len : max;
	struct timeval body_tv, send_tv;
	struct http1_head h;
	enum http1_status st;
	const char *p;

	if (len == 0)
		return 0;
	if (c->requests > 0 && c->rev_done &&
	    revoke_needs_recheck(c->rt->revoker, &c->rev, revoke_now_ms())) {
		/* The status may have changed since the last request: decide again first. */
		c->rev_done = false;
		if (revoker_enabled(c->rt->revoker)) {	/* unless a reload turned checking off */
			proxy_revocation_start(c);
			return 0;
		}
	}
	if (c->timer_kind == PROXY_TIMER_KEEPALIVE)	/* the first byte of the next request */
		proxy_timer_set(c, PROXY_TIMER_HEADER, proxy_cfg(c)->http.header_timeout_ms);
	if ((p = (const char *)evbuffer_pullup(in, (ev_ssize_t)n)) == NULL) {
		proxy_conn_free(c);
		return -1;
	}
	st = http1_parse_request(p, n, &h);
	if (st == HTTP1_INCOMPLETE) {
		if (len >= max)
			return proxy_refuse(c, 431, "header-too-large");
		return 0;
	}
	proxy_req_reset(c);
	if (st != HTTP1_OK) {
		log_info("conn %u-%" PRIu64 " %s: bad request: %s", c->ctx->worker_id, c->id,
		    c->peer, h.error != NULL ? h.error : "malformed");
		return proxy_refuse(c, http1_status_code(st), proxy_parse_reason(st));
	}
	proxy_req_begin(c, &h);
	if (proxy_req_check(c, &h) == -1 || proxy_precheck_chunks(c, h.head_len) == -1)
		return -1;
	if (proxy_build_head(c, &h) == -1) {
		proxy_conn_free(c);
		return -1;
	}
	evbuffer_drain(in, h.head_len);
	proxy_timer_clear(c);
	body_tv = proxy_tv(proxy_cfg(c)->http.body_timeout_ms);
	send_tv = proxy_tv(proxy_cfg(c)->http.send_timeout_ms);
	bufferevent_set_timeouts(c->client, &body_tv, &send_tv);
	return proxy_upstream_start(c, PROXY_NO_BACKEND);
}

/* --- request body, client -> backend ----------------------------------------------------- */

/* The whole request is on its way: the backend owes an answer, so its read timeout starts. */
static void
proxy_request_sent(struct proxy_conn *c)
{
	struct timeval tv = proxy_tv(proxy_cfg(c)->proxy.read_timeout_ms);

	bufferevent_set_timeouts(c->up->bev, &tv, &tv);
	/*
	 * Reading stays on, to notice a client that goes away; a pipelined request waits in the
	 * input buffer (bounded by its watermark) and is parsed after this response.
	 */
	bufferevent_enable(c->client, EV_READ);
	c->client_paused = false;
}

/* Moves what the client sent of the body to the backend. Returns 0, or -1 when C closed. */
static int
proxy_pump_request(struct proxy_conn *c)
{
	struct proxy_req *r = &c->req;
	struct evbuffer *in = bufferevent_get_input(c->client);
	struct evbuffer *out = bufferevent_get_output(c->up->bev);
	uint64_t max_body = proxy_cfg(c)->http.max_body_size;
	long moved;

	if (r->body_done) {
		proxy_request_sent(c);
		return 0;
	}
	moved = proxy_move_body(in, out, r->framing, &r->remaining, &r->chunked,
	    &r->body_bytes, &r->body_done);
	if (moved < 0) {
		log_info("conn %u-%" PRIu64 " %s: bad chunked request body", c->ctx->worker_id,
		    c->id, c->peer);
		return proxy_refuse(c, 400, "bad-chunked-body");
	}
	r->bytes_in += (uint64_t)moved;
	if (moved > 0)
		r->body_started = true;
	if (max_body > 0 && r->body_bytes > max_body)
		return proxy_refuse(c, 413, "body-too-large");
	if (r->body_done) {
		proxy_request_sent(c);
		return 0;
	}
	if (evbuffer_get_length(out) >= proxy_buffer_size(c)) {
		bufferevent_disable(c->client, EV_READ);
		c->client_paused = true;
	} else {
		bufferevent_enable(c->client, EV_READ);
		c->client_paused = false;
	}
	return 0;
}

/* --- backend connection ---------------------------------------------------------------- */

static void
proxy_up_ready(struct proxy_conn *c)
{
	struct timeval wtv = proxy_tv(proxy_cfg(c)->proxy.read_timeout_ms);
	size_t half = proxy_buffer_size(c) / 2;

	c->state = PROXY_FORWARDING;
	event_base_gettimeofday_cached(c->ctx->base, &c->req.upstream_started);
	bufferevent_setcb(c->up->bev, proxy_up_read, proxy_up_write, proxy_up_event, c);
	bufferevent_setwatermark(c->up->bev, EV_WRITE, half, 0);
	bufferevent_setwatermark(c->up->bev, EV_READ, 0, proxy_buffer_size(c));
	/* No read timeout while the client is still uploading: http.bodyTimeout covers that. */
	bufferevent_set_timeouts(c->up->bev, NULL, &wtv);
	evbuffer_add(bufferevent_get_output(c->up->bev), evbuffer_pullup(c->head, -1),
	    evbuffer_get_length(c->head));
	bufferevent_enable(c->up->bev, EV_READ | EV_WRITE);
	if (proxy_pump_request(c) == -1)
		return;
}

/* Picks a backend and connects (or reuses an idle connection). Returns 0 or -1 (C closed). */
static int
proxy_upstream_start(struct proxy_conn *c, size_t exclude)
{
	size_t b = upstream_pick(c->ctx->pool, exclude);
	bool connected = false;

	c->req.tries++;
	c->req.backend = b;
	if ((c->up = upstream_get(c->ctx->pool, b, &connected)) == NULL) {
		log_warn("conn %u-%" PRIu64 " %s: backend %s: cannot connect: %s",
		    c->ctx->worker_id, c->id, c->peer, upstream_name(c->ctx->pool, b),
		    strerror(errno));
		upstream_mark_down(c->ctx->pool, b);
		if (c->req.tries < 2 && upstream_count(c->ctx->pool) > 1)
			return proxy_upstream_start(c, b);
		return proxy_refuse(c, 502, "backend-unavailable");
	}
	if (connected) {
		proxy_up_ready(c);
		return 0;
	}
	c->state = PROXY_CONNECTING;
	bufferevent_setcb(c->up->bev, NULL, NULL, proxy_up_event, c);
	bufferevent_enable(c->up->bev, EV_WRITE);
	return 0;
}

/*
 * The backend failed before a response head arrived. A connection that never carried the
 * request, or a reused keep-alive connection the backend had already closed, may be retried
 * once on another backend when nothing of the body was consumed or the method is idempotent.
 */
static int
proxy_up_failed(struct proxy_conn *c, short what)
{
	struct proxy_req *r = &c->req;
	bool timeout = (what & BEV_EVENT_TIMEOUT) != 0;
	bool connecting = c->state == PROXY_CONNECTING;
	bool stale = c->up != NULL && c->up->reused && !r->resp_head_done &&
	    evbuffer_get_length(bufferevent_get_input(c->up->bev)) == 0 && !timeout;
	size_t failed = r->backend;

	log_warn("conn %u-%" PRIu64 " %s: backend %s: %s%s", c->ctx->worker_id, c->id,
	    c->peer, upstream_name(c->ctx->pool, failed),
	    connecting ? (timeout ? "connect timed out" : "connect failed") :
	    (timeout ? "timed out" : "closed the connection"),
	    r->resp_head_done ? " mid-response" : "");
	upstream_close(c->up);
	c->up = NULL;
	if (!stale && !r->resp_head_done)
		upstream_mark_down(c->ctx->pool, failed);
	/* Nothing was sent on a failed connect; a stale connection may have delivered it. */
	if (!r->resp_head_done && r->tries < 2) {
		if (connecting && upstream_count(c->ctx->pool) > 1)
			return proxy_upstream_start(c, failed);
		if (stale && r->idempotent && !r->body_started)
			return proxy_upstream_start(c, PROXY_NO_BACKEND);
	}
	if (timeout)
		return proxy_refuse(c, 504, connecting ? "backend-connect-timeout" :
		    "backend-timeout");
	return proxy_refuse(c, 502, connecting ? "backend-unavailable" : "backend-closed");
}

/* --- response, backend -> client --------------------------------------------------------- */

static void
proxy_response_done(struct proxy_conn *c)
{
	struct proxy_req *r = &c->req;

	proxy_access_log(c);
	if (r->resp_keep_alive && r->body_done && r->resp_framing != HTTP1_BODY_UNTIL_CLOSE)
		upstream_put(c->up);
	else
		upstream_close(c->up);
	c->up = NULL;
	if (!r->client_keep_alive || c->ctx->draining) {
		proxy_close_after_flush(c);
		return;
	}
	proxy_req_reset(c);
	c->state = PROXY_IDLE;
	c->client_paused = false;
	proxy_timer_set(c, PROXY_TIMER_KEEPALIVE, proxy_cfg(c)->http.keep_alive_timeout_ms);
	bufferevent_set_timeouts(c->client, NULL, NULL);
	bufferevent_enable(c->client, EV_READ);
	(void)proxy_read_request(c);		/* a pipelined request may be waiting */
}

/*
 * Response bytes gather in the worker's stage and reach the client in one piece.
 * bufferevent_openssl writes every evbuffer chain it is handed as a TLS record of its own, with
 * a write(2) of its own, the moment it is added: a head and a small body added one after the
 * other would leave as two records and two TCP segments. Made contiguous first (a copy only
 * when the first record's worth spans several chains), they leave as one. The stage is empty
 * whenever control returns to the loop.
 */
static void
proxy_stage_flush(struct proxy_conn *c)
{
	struct evbuffer *stage = c->ctx->stage;
	size_t len = evbuffer_get_length(stage);

	if (len == 0)
		return;
	evbuffer_pullup(stage, (ev_ssize_t)(len < PROXY_TLS_RECORD ? len : PROXY_TLS_RECORD));
	evbuffer_add_buffer(bufferevent_get_output(c->client), stage);
}

/* Drops what the stage holds: the connection dies without sending it. */
static void
proxy_stage_discard(struct proxy_conn *c)
{
	evbuffer_drain(c->ctx->stage, evbuffer_get_length(c->ctx->stage));
}

/* Moves response body bytes (after what the stage holds) to the client. 0, or -1: C closed. */
static int
proxy_pump_response(struct proxy_conn *c)
{
	struct proxy_req *r = &c->req;
	struct evbuffer *in = bufferevent_get_input(c->up->bev);
	struct evbuffer *out = bufferevent_get_output(c->client);
	uint64_t payload = 0;
	bool done = r->resp_framing == HTTP1_BODY_NONE;
	long moved;

	moved = proxy_move_body(in, c->ctx->stage, r->resp_framing, &r->resp_remaining,
	    &r->resp_chunked, &payload, &done);
	if (moved < 0) {
		log_warn("conn %u-%" PRIu64 " %s: backend %s sent a malformed chunked body",
		    c->ctx->worker_id, c->id, c->peer, upstream_name(c->ctx->pool, r->backend));
		proxy_stage_discard(c);
		r->error = "backend-bad-chunked-body";
		proxy_access_log(c);
		proxy_conn_free(c);
		return -1;
	}
	r->bytes_out += (uint64_t)moved;
	proxy_stage_flush(c);
	if (done) {
		proxy_response_done(c);
		return -1;	/* C may have been reset or freed: the caller stops here */
	}
	if (evbuffer_get_length(out) >= proxy_buffer_size(c)) {
		bufferevent_disable(c->up->bev, EV_READ);
		c->up_paused = true;
	}
	return 0;
}

static void
proxy_tunnel_start(struct proxy_conn *c)
{
	c->state = PROXY_TUNNEL;
	c->req.client_keep_alive = false;
	bufferevent_set_timeouts(c->up->bev, NULL, NULL);
	bufferevent_set_timeouts(c->client, NULL, NULL);
	proxy_access_log(c);
}

/* Moves tunnel bytes both ways, pausing a side whose peer cannot keep up. */
static void
proxy_pump_tunnel(struct proxy_conn *c)
{
	struct evbuffer *cin = bufferevent_get_input(c->client);
	struct evbuffer *cout = bufferevent_get_output(c->client);
	struct evbuffer *uin = bufferevent_get_input(c->up->bev);
	struct evbuffer *uout = bufferevent_get_output(c->up->bev);
	size_t max = proxy_buffer_size(c);

	evbuffer_add_buffer(uout, cin);
	evbuffer_add_buffer(cout, uin);
	if (evbuffer_get_length(uout) >= max)
		bufferevent_disable(c->client, EV_READ);
	else
		bufferevent_enable(c->client, EV_READ);
	if (evbuffer_get_length(cout) >= max)
		bufferevent_disable(c->up->bev, EV_READ);
	else
		bufferevent_enable(c->up->bev, EV_READ);
}

/* A final (non-1xx) response head: decide keep-alive, send it, start its body. */
static int
proxy_send_response_head(struct proxy_conn *c, const struct http1_head *h)
{
	struct proxy_req *r = &c->req;
	struct evbuffer *stage = c->ctx->stage;
	bool upgrade = h->status == 101;

	r->resp_head_done = true;
	r->status = h->status;
	r->resp_framing = h->framing;
	r->resp_remaining = h->content_length;
	r->resp_keep_alive = h->keep_alive;
	/* The client connection survives only if both messages end cleanly by their framing. */
	r->client_keep_alive = r->keep_alive && h->framing != HTTP1_BODY_UNTIL_CLOSE &&
	    !upgrade && (r->body_done || r->framing == HTTP1_BODY_NONE);
	if (forward_response_head(h, r->minor, r->client_keep_alive, upgrade, stage) == -1) {
		proxy_stage_discard(c);
		proxy_conn_free(c);
		return -1;
	}
	r->resp_started = true;
	r->bytes_out += evbuffer_get_length(stage);
	evbuffer_drain(bufferevent_get_input(c->up->bev), h->head_len);
	upstream_mark_up(c->ctx->pool, r->backend);
	if (upgrade) {
		proxy_stage_flush(c);
		proxy_tunnel_start(c);
		proxy_pump_tunnel(c);
		return 0;
	}
	if (!r->body_done && !r->client_keep_alive && r->framing != HTTP1_BODY_NONE) {
		/* The backend answered before the whole body came; stop taking the rest. */
		bufferevent_disable(c->client, EV_READ);
	}
	return proxy_pump_response(c);
}

/* Parses response heads (1xx ones are relayed as they come). Returns 0 or -1 (C closed). */
static int
proxy_read_response(struct proxy_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->up->bev);
	struct http1_span method = { c->req.method, strlen(c->req.method) };

	for (;;) {
		size_t len = evbuffer_get_length(in);
		size_t n = len < PROXY_RESPONSE_HEAD_MAX ? len : PROXY_RESPONSE_HEAD_MAX;
		const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
		struct http1_head h;
		enum http1_status st;

		if (n == 0)
			return 0;
		st = http1_parse_response(p, n, &method, &h);
		if (st == HTTP1_INCOMPLETE && len < PROXY_RESPONSE_HEAD_MAX)
			return 0;
		if (st != HTTP1_OK) {
			log_warn("conn %u-%" PRIu64 " %s: backend %s sent an invalid response: %s",
			    c->ctx->worker_id, c->id, c->peer,
			    upstream_name(c->ctx->pool, c->req.backend),
			    st == HTTP1_INCOMPLETE ? "head too large" : h.error);
			return proxy_refuse(c, 502, "backend-invalid-response");
		}
		if (h.status == 101 && !c->req.upgrade)
			return proxy_refuse(c, 502, "backend-unexpected-upgrade");
		if (h.status >= 200 || h.status == 101)
			return proxy_send_response_head(c, &h);
		/* 1xx: relay to HTTP/1.1 clients (100 Continue unblocks their upload). */
		if (c->req.minor == 1) {
			struct evbuffer *out = bufferevent_get_output(c->client);

			if (forward_response_head(&h, 1, true, false, out) == -1) {
				proxy_conn_free(c);
				return -1;
			}
		}
		evbuffer_drain(in, h.head_len);
	}
}

/* --- libevent callbacks ------------------------------------------------------------------ */

static void
proxy_client_read(struct bufferevent *bev, void *arg)
{
	struct proxy_conn *c = arg;

	switch (c->state) {
	case PROXY_IDLE:
		(void)proxy_read_request(c);
		break;
	case PROXY_FORWARDING:
		if (!c->req.body_done)
			(void)proxy_pump_request(c);
		break;		/* else a pipelined request: parsed after this response */
	case PROXY_TUNNEL:
		proxy_pump_tunnel(c);
		break;
	case PROXY_ADMISSION:
	case PROXY_CONNECTING:
		break;		/* held: the decision or the backend comes first */
	case PROXY_HANDSHAKE:
	case PROXY_CLOSING:
		bufferevent_disable(bev, EV_READ);
		break;
	}
}

static void
proxy_client_write(struct bufferevent *bev, void *arg)
{
	struct proxy_conn *c = arg;

	switch (c->state) {
	case PROXY_CLOSING:
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			proxy_conn_finish(c);
		break;
	case PROXY_FORWARDING:
		if (c->up_paused && c->up != NULL) {
			c->up_paused = false;
			bufferevent_enable(c->up->bev, EV_READ);
			if (c->req.resp_head_done)
				(void)proxy_pump_response(c);
			else
				(void)proxy_read_response(c);
		}
		break;
	case PROXY_TUNNEL:
		proxy_pump_tunnel(c);
		break;
	case PROXY_HANDSHAKE:
	case PROXY_ADMISSION:
	case PROXY_IDLE:
	case PROXY_CONNECTING:
		break;
	}
}

static void
proxy_client_event(struct bufferevent *bev, short what, void *arg)
{
	struct proxy_conn *c = arg;
	char errs[512];

	if (what & BEV_EVENT_CONNECTED) {
		proxy_timer_clear(c);
		/* The handshake re-enabled reading: hold the client until admission decides. */
		bufferevent_disable(bev, EV_READ);
		proxy_admission_start(c);
		return;
	}
	if (c->state == PROXY_HANDSHAKE) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		long vr = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;

		log_info("conn %u-%" PRIu64 " %s: TLS handshake failed: %s%s%s%s",
		    c->ctx->worker_id, c->id, c->peer, proxy_ssl_errors(bev, errs, sizeof(errs)),
		    vr != X509_V_OK ? " (client certificate: " : "",
		    vr != X509_V_OK ? X509_verify_cert_error_string(vr) : "",
		    vr != X509_V_OK ? ")" : "");
		proxy_conn_free(c);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) &&
	    c->state == PROXY_FORWARDING && !c->req.body_done) {
		log_info("conn %u-%" PRIu64 " %s: request body timed out", c->ctx->worker_id,
		    c->id, c->peer);
		(void)proxy_refuse(c, 408, "body-timeout");
		return;
	}
	if (what & BEV_EVENT_ERROR)
		log_debug("conn %u-%" PRIu64 " %s: client connection error: %s",
		    c->ctx->worker_id, c->id, c->peer, proxy_ssl_errors(bev, errs, sizeof(errs)));
	if (c->state == PROXY_TUNNEL && (what & BEV_EVENT_EOF) && c->up != NULL) {
		/* Half-close: pass what is buffered on, then end the tunnel. */
		evbuffer_add_buffer(bufferevent_get_output(c->up->bev),
		    bufferevent_get_input(bev));
	}
	if (c->req.active && !c->req.resp_started && c->state != PROXY_IDLE) {
		c->req.error = "client-closed";
		c->req.status = 499;
		proxy_access_log(c);
	} else if (c->req.active && c->state == PROXY_FORWARDING) {
		c->req.error = "client-closed";
		proxy_access_log(c);
	}
	proxy_conn_free(c);
}

static void
proxy_up_read(struct bufferevent *bev, void *arg)
{
	struct proxy_conn *c = arg;

	if (c->state == PROXY_TUNNEL) {
		proxy_pump_tunnel(c);
		return;
	}
	if (c->state != PROXY_FORWARDING)
		return;
	if (!c->req.resp_head_done)
		(void)proxy_read_response(c);
	else
		(void)proxy_pump_response(c);
}

static void
proxy_up_write(struct bufferevent *bev, void *arg)
{
	struct proxy_conn *c = arg;

	if (c->state == PROXY_TUNNEL) {
		proxy_pump_tunnel(c);
		return;
	}
	if (c->state == PROXY_FORWARDING && c->client_paused && !c->req.body_done) {
		c->client_paused = false;
		(void)proxy_pump_request(c);
	}
}

static void
proxy_up_event(struct bufferevent *bev, short what, void *arg)
{
	struct proxy_conn *c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		proxy_up_ready(c);
		return;
	}
	if (c->state == PROXY_TUNNEL) {
		evbuffer_add_buffer(bufferevent_get_output(c->client), bufferevent_get_input(bev));
		proxy_close_after_flush(c);
		return;
	}
	if (c->req.resp_head_done && (what & BEV_EVENT_EOF)) {
		/* A body delimited by the close, or the rest of one: take what arrived first. */
		if (proxy_pump_response(c) == -1)
			return;
		if (c->req.resp_framing == HTTP1_BODY_UNTIL_CLOSE) {
			c->req.resp_keep_alive = false;
			proxy_response_done(c);
			return;
		}
	}
	(void)proxy_up_failed(c, what);
}

static void
proxy_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_conn *c = arg;
	enum proxy_timer kind = c->timer_kind;

	c->timer_kind = PROXY_TIMER_NONE;
	switch (kind) {
	case PROXY_TIMER_HANDSHAKE:
		log_info("conn %u-%" PRIu64 " %s: TLS handshake timed out", c->ctx->worker_id,
		    c->id, c->peer);
		proxy_conn_free(c);
		break;
	case PROXY_TIMER_KEEPALIVE:
		proxy_conn_finish(c);
		break;
	case PROXY_TIMER_HEADER:
		if (evbuffer_get_length(bufferevent_get_input(c->client)) == 0 &&
		    c->requests == 0) {
			proxy_conn_finish(c);	/* connected, never asked anything */
			break;
		}
		log_info("conn %u-%" PRIu64 " %s: request head timed out", c->ctx->worker_id,
		    c->id, c->peer);
		(void)proxy_refuse(c, 408, "header-timeout");
		break;
	case PROXY_TIMER_CLOSING:
	case PROXY_TIMER_NONE:
		proxy_conn_free(c);
		break;
	}
}

/* --- accepting --------------------------------------------------------------------------- */

int
proxy_ctx_init(struct proxy_ctx *ctx, struct event_base *base, unsigned worker_id)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->base = base;
	ctx->worker_id = worker_id;
	TAILQ_INIT(&ctx->conns);
	return (ctx->stage = evbuffer_new()) != NULL ? 0 : -1;
}

void
proxy_ctx_clear(struct proxy_ctx *ctx)
{
	if (ctx->stage != NULL)
		evbuffer_free(ctx->stage);
	ctx->stage = NULL;
}

static void
proxy_describe_peer(struct proxy_conn *c, const struct sockaddr *sa, int len)
{
	char port[8] = "0";

	if (getnameinfo(sa, (socklen_t)len, c->peer_ip, sizeof(c->peer_ip), port, sizeof(port),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(c->peer_ip, sizeof(c->peer_ip), "?");
	if (strchr(c->peer_ip, ':') != NULL)
		snprintf(c->peer, sizeof(c->peer), "[%s]:%s", c->peer_ip, port);
	else
		snprintf(c->peer, sizeof(c->peer), "%s:%s", c->peer_ip, port);
}

void
proxy_accept(struct proxy_ctx *ctx, evutil_socket_t fd, const struct sockaddr *peer,
    int peerlen)
{
	const struct conf *cfg = ctx->rt->cfg;
	struct proxy_conn *c = NULL;
	size_t hiwat;
	SSL *ssl = NULL;
	int on = 1;

	if (ctx->draining || ctx->nconns >= (size_t)cfg->http.max_connections) {
		if (!ctx->draining)
			log_warn("worker %u: http.maxConnections (%" PRId64 ") reached; refusing a "
			    "connection", ctx->worker_id, cfg->http.max_connections);
		close(fd);
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if ((c = calloc(1, sizeof(*c))) == NULL || (ssl = SSL_new(runtime_ssl_ctx(ctx->rt, ctx->worker_id))) == NULL ||
	    (c->head = evbuffer_new()) == NULL ||
	    (c->timer = evtimer_new(ctx->base, proxy_on_timer, c)) == NULL)
		goto fail;
	c->ctx = ctx;
	c->rt = runtime_ref(ctx->rt);
	c->id = ++ctx->next_id;
	c->state = PROXY_HANDSHAKE;
	c->req.backend = PROXY_NO_BACKEND;
	proxy_describe_peer(c, peer, peerlen);
	TAILQ_INSERT_TAIL(&ctx->conns, c, link);
	ctx->nconns++;
	/* On failure the constructor frees SSL (and closes FD) itself. */
	c->client = bufferevent_openssl_socket_new(ctx->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->client == NULL) {
		log_warn("worker %u: cannot set up a TLS connection from %s", ctx->worker_id,
		    c->peer);
		proxy_conn_free(c);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(c->client, 1);
	bufferevent_setcb(c->client, proxy_client_read, proxy_client_write, proxy_client_event,
	    c);
	/* The input must be able to hold a whole head, or reading would stop short of one. */
	hiwat = (size_t)cfg->http.buffer_size > (size_t)cfg->http.max_header_size ?
	    (size_t)cfg->http.buffer_size : (size_t)cfg->http.max_header_size + 1;
	bufferevent_setwatermark(c->client, EV_READ, 0, hiwat);
	bufferevent_setwatermark(c->client, EV_WRITE, (size_t)cfg->http.buffer_size / 2, 0);
	proxy_timer_set(c, PROXY_TIMER_HANDSHAKE, cfg->http.handshake_timeout_ms);
	bufferevent_enable(c->client, EV_READ | EV_WRITE);
	return;
fail:
	log_warn("worker %u: out of memory accepting a connection", ctx->worker_id);
	SSL_free(ssl);
	if (c != NULL) {
		if (c->head != NULL)
			evbuffer_free(c->head);
		if (c->timer != NULL)
			event_free(c->timer);
		free(c);
	}
	close(fd);
}

void
proxy_drain(struct proxy_ctx *ctx)
{
	struct proxy_conn *c, *next;

	ctx->draining = true;
	for (c = TAILQ_FIRST(&ctx->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->state == PROXY_IDLE &&
		    evbuffer_get_length(bufferevent_get_input(c->client)) == 0)
			proxy_conn_finish(c);
		else if (c->state == PROXY_HANDSHAKE)
			proxy_conn_free(c);
	}
	if (ctx->nconns == 0 && ctx->on_drained != NULL)
		ctx->on_drained(ctx->arg);
}

void
proxy_close_all(struct proxy_ctx *ctx)
{
	struct proxy_conn *c;

	ctx->on_drained = NULL;
	while ((c = TAILQ_FIRST(&ctx->conns)) != NULL)
		proxy_conn_free(c);
}
