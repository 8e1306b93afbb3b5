#include "config.h"
#include "runtime.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listen.h"
#include "tlsctx.h"

/* Resolves every proxy.backend address once, so workers never wait on DNS. */
static int
runtime_resolve_backends(struct runtime *rt, char *err, size_t errlen)
{
	const struct conf_addrs *b = &rt->cfg->proxy.backends;

	if ((rt->backends = calloc(b->n, sizeof(*rt->backends))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < b->n; i++) {
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
		char port[8];
		int rc;

		snprintf(port, sizeof(port), "%u", b->v[i].port);
		if ((rc = getaddrinfo(b->v[i].host, port, &hints, &res)) != 0) {
			snprintf(err, errlen, "proxy.backend: cannot resolve \"%s\": %s; check the "
			    "host name or write an IP address", b->v[i].text, gai_strerror(rc));
			return -1;
		}
		memcpy(&rt->backends[i].addr, res->ai_addr, res->ai_addrlen);
		rt->backends[i].addrlen = res->ai_addrlen;
		listen_format(b->v[i].host, b->v[i].port, rt->backends[i].name,
		    sizeof(rt->backends[i].name));
		freeaddrinfo(res);
		rt->nbackends++;
	}
	return 0;
}

static void
runtime_free(struct runtime *rt)
{
	if (rt == NULL)
		return;
	for (size_t i = 0; i < rt->nworker_ctx; i++)
		SSL_CTX_free(rt->worker_ctx[i]);
	free(rt->worker_ctx);
	free(rt->backends);
	conf_free(rt->cfg);
	free(rt);
}

struct runtime *
runtime_new(struct conf *cfg, const struct tlsctx_resume *resume, uint64_t generation,
    char *err, size_t errlen)
{
	struct runtime *rt;
	const struct conf_headers *h = &cfg->proxy.headers;

	if ((rt = calloc(1, sizeof(*rt))) == NULL) {
		conf_free(cfg);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	atomic_init(&rt->refs, 1);
	rt->generation = generation;
	rt->cfg = cfg;
	rt->header_names = (struct forward_names){ h->verify, h->subject, h->issuer,
	    h->serial, h->fingerprint, h->certificate, h->revocation };
	if (runtime_resolve_backends(rt, err, errlen) == -1)
		goto fail;
	rt->nworker_ctx = conf_worker_threads(cfg);
	if ((rt->worker_ctx = calloc(rt->nworker_ctx, sizeof(SSL_CTX *))) == NULL) {
		rt->nworker_ctx = 0;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < rt->nworker_ctx; i++)
		if ((rt->worker_ctx[i] = tlsctx_new(cfg, resume, err, errlen)) == NULL)
			goto fail;
	rt->ssl_ctx = rt->worker_ctx[0];
	return rt;
fail:
	runtime_free(rt);
	return NULL;
}

SSL_CTX *
runtime_ssl_ctx(const struct runtime *rt, unsigned id)
{
	return rt->worker_ctx[id % rt->nworker_ctx];
}

struct runtime *
runtime_ref(struct runtime *rt)
{
	atomic_fetch_add_explicit(&rt->refs, 1, memory_order_relaxed);
	return rt;
}

void
runtime_unref(struct runtime *rt)
{
	if (rt == NULL)
		return;
	if (atomic_fetch_sub_explicit(&rt->refs, 1, memory_order_acq_rel) == 1)
		runtime_free(rt);
}
