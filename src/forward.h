/*
 * forward: rewriting message heads on their way through the proxy.
 *
 * Requests: the request line is re-emitted as HTTP/1.1, hop-by-hop headers (Connection,
 * Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade unless upgrading, and every header the
 * Connection header names) are dropped, and so is every header that carries the client's
 * identity or forwarding information; revgate then adds its own values, so a client can never
 * forge them. Responses: hop-by-hop headers are dropped and revgate's own Connection header is
 * added. Pure: appends to caller-owned evbuffers, no I/O.
 */
#ifndef REVGATE_FORWARD_H
#define REVGATE_FORWARD_H

#include <stdbool.h>

#include <event2/buffer.h>

#include "http1.h"

/* What revgate tells the backend about a request; every string borrowed, NULL = omit. */
struct forward_identity {
	const char	*client_addr;		/* X-Forwarded-For (appended to an existing one) */
	const char	*verify;		/* "SUCCESS", "NONE" */
	const char	*subject;
	const char	*issuer;
	const char	*serial;
	const char	*fingerprint;
	const char	*certificate;		/* URL-encoded PEM */
	const char	*revocation;
};

/* Header names for the identity fields (configurable; see proxy.headers.*). */
struct forward_names {
	const char	*verify;
	const char	*subject;
	const char	*issuer;
	const char	*serial;
	const char	*fingerprint;
	const char	*certificate;
	const char	*revocation;
};

/*
 * Appends the request head to forward for REQ (parsed from the client) to OUT. Incoming
 * X-Forwarded-For is kept and the client's address appended (as nginx's
 * $proxy_add_x_forwarded_for); X-Forwarded-Proto is always "https"; X-Forwarded-Host is the
 * Host header. Returns 0, or -1 when OUT cannot grow.
 */
int forward_request_head(const struct http1_head *req, const struct forward_names *names,
    const struct forward_identity *id, struct evbuffer *out);

/*
 * Appends the response head RESP to OUT for a client that gets HTTP/1.1 (or 1.0 when
 * CLIENT_MINOR is 0). KEEP_ALIVE says whether revgate keeps the client connection open after
 * this response; UPGRADE keeps Connection: upgrade and the Upgrade header for a 101.
 */
int forward_response_head(const struct http1_head *resp, int client_minor, bool keep_alive,
    bool upgrade, struct evbuffer *out);

/* True if METHOD (a span) may be retried on another backend: GET HEAD OPTIONS PUT DELETE TRACE. */
bool forward_method_idempotent(const struct http1_span *method);

#endif
