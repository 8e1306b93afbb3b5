/*
 * admin: the plain-HTTP admin listener (admin.listen, loopback by default) on the main
 * thread's loop: GET /healthz answers 200 while the process runs, GET /metrics gives counters,
 * GET /readyz answers 200 only
 * while revgate is ready to take traffic (every listener up) and 503 before and while
 * draining, so load balancers and orchestrators can follow it.
 */
#ifndef REVGATE_ADMIN_H
#define REVGATE_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

enum admin_state {
	ADMIN_STARTING,
	ADMIN_READY,
	ADMIN_DRAINING,
};

struct admin;

/*
 * Listens on HOST:PORT (port 0 picks one) on BASE. Returns NULL with a message in ERR.
 * Start-up only (it may resolve HOST).
 */
struct admin *admin_new(struct event_base *base, const char *host, uint16_t port, char *err,
    size_t errlen);

void admin_set_state(struct admin *a, enum admin_state state);

/*
 * GET /metrics answers with what WRITE(OUT, ARG) appends (Prometheus text format). Runs on
 * the admin loop's thread.
 */
struct evbuffer;
void admin_set_metrics(struct admin *a, void (*write)(struct evbuffer *out, void *arg),
    void *arg);

/* The bound port. */
uint16_t admin_port(const struct admin *a);

void admin_free(struct admin *a);

#endif
