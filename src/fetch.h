/*
 * fetch: asynchronous HTTP(S) GET and POST for CRLs and OCSP, on libcurl's multi interface
 * driven by a libevent loop (one fetcher per loop; the revocation thread owns it).
 *
 * Every byte and second is bounded: a fetch ends at its timeout, a body past its byte limit
 * is abandoned (enforced in the write callback too, since Content-Length may be absent),
 * only http:// and https:// are allowed, redirects are not followed, and DNS resolution is
 * asynchronous (libcurl's threaded resolver), so nothing blocks the loop.
 */
#ifndef REVGATE_FETCH_H
#define REVGATE_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

enum fetch_status {
	FETCH_OK,		/* 2xx with a complete body */
	FETCH_HTTP_ERROR,	/* a non-2xx status (http_code says which) */
	FETCH_TIMEOUT,
	FETCH_TOO_LARGE,	/* the body passed max_bytes */
	FETCH_NETWORK,		/* DNS, connect, TLS or transfer failure */
	FETCH_BAD_URL,		/* not http(s), or malformed */
};

struct fetch_result {
	enum fetch_status	 status;
	long			 http_code;	/* 0 when no response */
	const unsigned char	*body;		/* borrowed for the callback's duration */
	size_t			 len;
	const char		*error;		/* a short reason for logs; never NULL */
	int64_t			 elapsed_ms;
};

struct fetch_request {
	const char		*url;
	const unsigned char	*post;		/* NULL: GET; else POSTed (copied) */
	size_t			 post_len;
	const char		*content_type;	/* for POST, e.g. "application/ocsp-request" */
	int64_t			 timeout_ms;	/* whole transfer */
	size_t			 max_bytes;	/* body limit */
};

typedef void (*fetch_cb)(const struct fetch_result *result, void *arg);

struct fetcher;
struct fetch;

/*
 * A fetcher on BASE (borrowed; must outlive the fetcher). curl_global_init must have run
 * (once, before any thread starts). Returns NULL on failure.
 */
struct fetcher *fetcher_new(struct event_base *base);

/*
 * Starts REQ (copied). CB runs once, later, on BASE's thread - never before fetch_start
 * returns. Returns a handle for fetch_cancel, or NULL when the transfer could not even be
 * set up (CB will not run).
 */
struct fetch *fetch_start(struct fetcher *fetcher, const struct fetch_request *req,
    fetch_cb cb, void *arg);

/* Abandons F: its callback never runs afterwards. F must not have completed yet. */
void fetch_cancel(struct fetch *f);

/* Transfers under way (tests, metrics). */
size_t fetcher_active(const struct fetcher *fetcher);

/* Cancels every transfer (no callbacks) and frees the fetcher. */
void fetcher_free(struct fetcher *fetcher);

/* The name of a status as logs and headers spell it ("timeout", "http-error", ...). */
const char *fetch_status_name(enum fetch_status status);

#endif
