#include "config.h"
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "listen.h"

struct admin {
	struct evhttp	*http;		/* owned */
	enum admin_state state;
	uint16_t	 port;
	void		(*metrics)(struct evbuffer *, void *);
	void		*metrics_arg;
};

static const char *
admin_state_name(enum admin_state state)
{
	switch (state) {
	case ADMIN_STARTING:
		return "starting";
	case ADMIN_READY:
		return "ready";
	case ADMIN_DRAINING:
		return "draining";
	}
	return "unknown";
}

static void
admin_reply(struct evhttp_request *req, int code, const char *reason, const char *body)
{
	struct evbuffer *out = evbuffer_new();

	if (out == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evbuffer_add_printf(out, "%s\n", body);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "text/plain; charset=utf-8");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	evhttp_send_reply(req, code, reason, out);
	evbuffer_free(out);
}

static void
admin_metrics(struct admin *a, struct evhttp_request *req)
{
	struct evbuffer *out = evbuffer_new();

	if (out == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	a->metrics(out, a->metrics_arg);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "text/plain; version=0.0.4; charset=utf-8");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

static void
admin_handle(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		admin_reply(req, 405, "Method Not Allowed", "method not allowed");
		return;
	}
	if (path != NULL && strcmp(path, "/healthz") == 0) {
		admin_reply(req, 200, "OK", "ok");
		return;
	}
	if (path != NULL && strcmp(path, "/metrics") == 0 && a->metrics != NULL) {
		admin_metrics(a, req);
		return;
	}
	if (path != NULL && strcmp(path, "/readyz") == 0) {
		if (a->state == ADMIN_READY)
			admin_reply(req, 200, "OK", "ready");
		else
			admin_reply(req, 503, "Service Unavailable", admin_state_name(a->state));
		return;
	}
	admin_reply(req, 404, "Not Found", "not found; try /healthz, /readyz or /metrics");
}

struct admin *
admin_new(struct event_base *base, const char *host, uint16_t port, char *err, size_t errlen)
{
	struct admin *a = calloc(1, sizeof(*a));
	struct evhttp_bound_socket *sock;
	char where[300];
	int fd;

	listen_format(host, port, where, sizeof(where));
	if (a == NULL || (a->http = evhttp_new(base)) == NULL) {
		snprintf(err, errlen, "admin.listen: out of memory");
		admin_free(a);
		return NULL;
	}
	/* Bounded like everything else: small heads and bodies, short timeouts. */
	evhttp_set_max_headers_size(a->http, 8192);
	evhttp_set_max_body_size(a->http, 4096);
	evhttp_set_timeout(a->http, 10);
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(a->http, admin_handle, a);
	if ((fd = listen_open("admin.listen", host, port, false, err, errlen)) == -1) {
		admin_free(a);
		return NULL;
	}
	if ((sock = evhttp_accept_socket_with_handle(a->http, fd)) == NULL) {
		snprintf(err, errlen, "admin.listen: cannot serve on %s", where);
		admin_free(a);
		return NULL;
	}
	a->port = listen_port(evhttp_bound_socket_get_fd(sock));
	a->state = ADMIN_STARTING;
	return a;
}

void
admin_set_state(struct admin *a, enum admin_state state)
{
	if (a != NULL)
		a->state = state;
}

void
admin_set_metrics(struct admin *a, void (*write)(struct evbuffer *, void *), void *arg)
{
	if (a == NULL)
		return;
	a->metrics = write;
	a->metrics_arg = arg;
}

uint16_t
admin_port(const struct admin *a)
{
	return a->port;
}

void
admin_free(struct admin *a)
{
	if (a == NULL)
		return;
	if (a->http != NULL)
		evhttp_free(a->http);
	free(a);
}
