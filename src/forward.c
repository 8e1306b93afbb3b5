#include "config.h"
#include "forward.h"

#include <string.h>

/* Headers that describe one hop and never travel past the proxy (RFC 9110 7.6.1). */
static const char *const forward_hop_by_hop[] = {
	"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
	"proxy-authenticate", "proxy-authorization",
};

/* Forwarding headers that revgate alone sets (X-Forwarded-For is extended, not replaced). */
static const char *const forward_owned[] = {
	"x-forwarded-proto", "x-forwarded-host", "x-forwarded-for", "forwarded",
};

static bool
forward_name_in(const struct http1_header *h, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (http1_header_is(h, names[i]))
			return true;
	return false;
}

/* True if H is named by any Connection header of HEAD ("Connection: close, X-Foo"). */
static bool
forward_named_by_connection(const struct http1_head *head, const struct http1_header *h)
{
	char name[128];

	if (h->name.len >= sizeof(name))
		return false;
	memcpy(name, h->name.p, h->name.len);
	name[h->name.len] = '\0';
	for (size_t i = 0; i < head->nheaders; i++) {
		const struct http1_header *c = &head->headers[i];

		if (http1_header_is(c, "connection") && http1_list_has(&c->value, name))
			return true;
	}
	return false;
}

static bool
forward_is_identity(const struct http1_header *h, const struct forward_names *names)
{
	const char *const list[] = { names->verify, names->subject, names->issuer,
	    names->serial, names->fingerprint, names->certificate, names->revocation };

	for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++)
		if (list[i] != NULL && http1_header_is(h, list[i]))
			return true;
	return false;
}

static int
forward_add(struct evbuffer *out, const char *name, const char *value)
{
	if (value == NULL)
		return 0;
	return evbuffer_add_printf(out, "%s: %s\r\n", name, value) < 0 ? -1 : 0;
}

static int
forward_add_span(struct evbuffer *out, const struct http1_header *h)
{
	if (evbuffer_add(out, h->name.p, h->name.len) == -1 ||
	    evbuffer_add(out, ": ", 2) == -1 ||
	    evbuffer_add(out, h->value.p, h->value.len) == -1 ||
	    evbuffer_add(out, "\r\n", 2) == -1)
		return -1;
	return 0;
}

/* X-Forwarded-For: every incoming value, then the client's address, on one line. */
static int
forward_add_xff(const struct http1_head *req, const char *client, struct evbuffer *out)
{
	bool any = false;

	if (evbuffer_add(out, "X-Forwarded-For: ", 17) == -1)
		return -1;
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct http1_header *h = &req->headers[i];

		if (!http1_header_is(h, "x-forwarded-for") || h->value.len == 0)
			continue;
		if ((any && evbuffer_add(out, ", ", 2) == -1) ||
		    evbuffer_add(out, h->value.p, h->value.len) == -1)
			return -1;
		any = true;
	}
	if ((any && evbuffer_add(out, ", ", 2) == -1) ||
	    evbuffer_add_printf(out, "%s\r\n", client) < 0)
		return -1;
	return 0;
}

static int
forward_add_identity(const struct forward_names *n, const struct forward_identity *id,
    struct evbuffer *out)
{
	if (forward_add(out, n->verify, id->verify) == -1 ||
	    forward_add(out, n->subject, id->subject) == -1 ||
	    forward_add(out, n->issuer, id->issuer) == -1 ||
	    forward_add(out, n->serial, id->serial) == -1 ||
	    forward_add(out, n->fingerprint, id->fingerprint) == -1 ||
	    forward_add(out, n->certificate, id->certificate) == -1 ||
	    forward_add(out, n->revocation, id->revocation) == -1)
		return -1;
	return 0;
}

int
forward_request_head(const struct http1_head *req, const struct forward_names *names,
    const struct forward_identity *id, struct evbuffer *out)
{
	if (evbuffer_add(out, req->method.p, req->method.len) == -1 ||
	    evbuffer_add(out, " ", 1) == -1 ||
	    evbuffer_add(out, req->target.p, req->target.len) == -1 ||
	    evbuffer_add(out, " HTTP/1.1\r\n", 11) == -1)
		return -1;
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct http1_header *h = &req->headers[i];

		if (forward_name_in(h, forward_hop_by_hop,
		    sizeof(forward_hop_by_hop) / sizeof(forward_hop_by_hop[0])) ||
		    forward_name_in(h, forward_owned,
		    sizeof(forward_owned) / sizeof(forward_owned[0])) ||
		    forward_is_identity(h, names) || forward_named_by_connection(req, h))
			continue;
		if (forward_add_span(out, h) == -1)
			return -1;
	}
	if (req->upgrade) {
		for (size_t i = 0; i < req->nheaders; i++)
			if (http1_header_is(&req->headers[i], "upgrade") &&
			    forward_add_span(out, &req->headers[i]) == -1)
				return -1;
		if (evbuffer_add(out, "Connection: upgrade\r\n", 21) == -1)
			return -1;
	}
	if (id->client_addr != NULL && forward_add_xff(req, id->client_addr, out) == -1)
		return -1;
	if (evbuffer_add(out, "X-Forwarded-Proto: https\r\n", 26) == -1)
		return -1;
	if (req->host != NULL && (evbuffer_add(out, "X-Forwarded-Host: ", 18) == -1 ||
	    evbuffer_add(out, req->host->value.p, req->host->value.len) == -1 ||
	    evbuffer_add(out, "\r\n", 2) == -1))
		return -1;
	if (forward_add_identity(names, id, out) == -1)
		return -1;
	return evbuffer_add(out, "\r\n", 2);
}

int
forward_response_head(const struct http1_head *resp, int client_minor, bool keep_alive,
    bool upgrade, struct evbuffer *out)
{
	if (evbuffer_add_printf(out, "HTTP/1.%d %03d ", client_minor == 0 ? 0 : 1,
	    resp->status) < 0 ||
	    evbuffer_add(out, resp->reason.p, resp->reason.len) == -1 ||
	    evbuffer_add(out, "\r\n", 2) == -1)
		return -1;
	for (size_t i = 0; i < resp->nheaders; i++) {
		const struct http1_header *h = &resp->headers[i];

		if (upgrade && http1_header_is(h, "upgrade")) {
			if (forward_add_span(out, h) == -1)
				return -1;
			continue;
		}
		if (forward_name_in(h, forward_hop_by_hop,
		    sizeof(forward_hop_by_hop) / sizeof(forward_hop_by_hop[0])) ||
		    forward_named_by_connection(resp, h))
			continue;
		if (forward_add_span(out, h) == -1)
			return -1;
	}
	if (upgrade) {
		if (evbuffer_add(out, "Connection: upgrade\r\n", 21) == -1)
			return -1;
	} else if (!keep_alive) {
		if (evbuffer_add(out, "Connection: close\r\n", 19) == -1)
			return -1;
	} else if (client_minor == 0) {
		if (evbuffer_add(out, "Connection: keep-alive\r\n", 24) == -1)
			return -1;
	}
	return evbuffer_add(out, "\r\n", 2);
}

bool
forward_method_idempotent(const struct http1_span *method)
{
	static const char *const safe[] = { "GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE" };

	for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
		if (method->len == strlen(safe[i]) &&
		    memcmp(method->p, safe[i], method->len) == 0)
			return true;
	return false;
}
