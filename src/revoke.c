#include "config.h"
#include "revoke.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "chaincache.h"
#include "crl.h"
#include "fetch.h"
#include "log.h"
#include "ocspmsg.h"
#include "ttlcache.h"

#define REVOKE_MAX_ITEMS	16	/* certificates checked per chain */
#define REVOKE_MAX_CDP		4	/* CRL distribution points tried per certificate */
#define REVOKE_MAX_INTER	64	/* intermediates remembered for resumed sessions */
#define REVOKE_MAX_CHAINS	16384	/* verified chains remembered for resumed sessions */
#define REVOKE_URL_MAX		1024
#define REVOKE_ID_LEN		40	/* issuer name hash + issuer key hash */
#define REVOKE_SWEEP_MS		1000
#define REVOKE_STAT_EVERY	5	/* sweeps between looks at crl.files */
#define REVOKE_BACKOFF_MIN_MS	5000
#define REVOKE_BACKOFF_MAX_MS	(3600 * 1000)
#define REVOKE_CRL_ENTRY_BYTES	24	/* crl.maxSize / this bounds the entries of one CRL */

/* --- settings: an immutable, reference-counted copy of certificateVerification ---------- */

struct revoke_settings {
	atomic_uint	 refs;
	bool		 enabled;
	int		 failure_mode, crl_mode, ocsp_mode, scope;
	int64_t		 skew_s;
	bool		 crl_enabled;
	int64_t		 crl_timeout_ms, crl_ttl_ms, grace_ms, refresh_before_ms;
	uint64_t	 crl_max;
	bool		 ocsp_enabled;
	int64_t		 ocsp_timeout_ms, ocsp_ttl_ms, ocsp_error_ttl_ms;
	char		*responder;		/* owned; NULL: AIA */
	bool		 nonce;
	uint64_t	 ocsp_max;
	int64_t		 cache_entries;
	uint64_t	 cache_bytes;
	char		*cache_dir;		/* owned; rootPath/cache */
	SSL_CTX		*ctx;			/* owned reference: the trust store */
};

/*
 * A CRL that decides for one issuer. A complete CRL is cached under the issuer id; a
 * partitioned one under the issuer id followed by its URL, since each covers only part.
 */
struct revoke_crl {
	struct crl	*crl;			/* owned reference */
	char		 source[REVOKE_URL_MAX];
	bool		 from_file;
	time_t		 file_mtime;		/* static files: to notice a change */
	off_t		 file_size;
	unsigned char	 issuer_id[REVOKE_ID_LEN];
};

/* A cached OCSP answer, or a cached failure to get one. */
struct revoke_ocsp {
	bool			 error;
	const char		*reason;	/* errors: static token */
	enum ocspmsg_verdict	 verdict;
	time_t			 next_update;	/* 0: none */
	char			 source[REVOKE_URL_MAX];
};

/* A CRL URL that failed recently: not asked again until its entry expires. */
struct revoke_fail {
	const char	*reason;
};

/* One certificate of the chain and what is known of it so far. */
struct revoke_item {
	X509			*cert;		/* owned reference */
	X509			*issuer;	/* owned reference */
	struct ocspmsg_key	 key;		/* issuer id (40 bytes) + serial */
	char			*cdp[REVOKE_MAX_CDP];	/* owned http(s) URLs */
	int			 ncdp, next_cdp;
	char			*ocsp_url;	/* owned; NULL: no responder */
	bool			 crl_done, ocsp_done, decided;
	bool			 crl_attempted, ocsp_attempted;
	bool			 fetched;	/* the network was asked for this item */
	bool			 ocsp_fetched;	/* an OCSP fetch for it has completed */
	const char		*crl_reason, *ocsp_reason;
	struct revoke_crl	*stale;		/* owned copy of a CRL past nextUpdate */
	enum revoke_verdict	 verdict;	/* GOOD, REVOKED, or FAILED (no verdict) */
	const char		*method, *reason;
	bool			 stale_used;
	int64_t			 recheck_at;
	char			 source[REVOKE_URL_MAX];
};

struct revoke_flight;

struct revoke_check {
	atomic_uint		 refs;
	atomic_bool		 cancelled;	/* set and read on the worker's thread */
	struct revoker		*rv;
	revoke_post_fn		 post;
	void			*post_ctx;
	revoke_cb		 cb;
	void			*arg;
	struct revoke_settings	*set;		/* owned reference */
	struct revoke_item	 items[REVOKE_MAX_ITEMS];
	int			 nitems;
	int64_t			 started;
	bool			 thread_done;	/* revocation thread: finished or dropped */
	struct revoke_flight	*waiting;	/* revocation thread: the fetch it waits for */
	struct revoke_check	*next_waiter;
	struct revoke_decision	 decision;
};

enum revoke_flight_kind {
	REVOKE_FLIGHT_CRL,
	REVOKE_FLIGHT_OCSP,
};

/* One fetch under way, shared by every check that needs its answer. */
struct revoke_flight {
	enum revoke_flight_kind	 kind;
	struct revoker		*rv;
	char			 url[REVOKE_URL_MAX];
	struct ocspmsg_key	 key;		/* OCSP: the certificate; CRL: issuer id */
	X509			*issuer;	/* owned reference */
	struct ocspmsg_request	 req;		/* OCSP */
	struct fetch		*fetch;
	struct revoke_check	*waiters;	/* intrusive list */
	bool			 background;	/* a refresh: kept even with no waiter */
	struct revoke_flight	*next;
};

/* A CRL source refreshed in the background. */
struct revoke_source {
	char			 url[REVOKE_URL_MAX];
	X509			*issuer;	/* owned reference */
	unsigned char		 issuer_id[REVOKE_ID_LEN];
	int64_t			 refresh_at;	/* monotonic ms */
	int64_t			 backoff_ms;
	struct revoke_source	*next;
};

enum revoke_msg_kind {
	REVOKE_MSG_CHECK,
	REVOKE_MSG_CANCEL,
	REVOKE_MSG_OCSP_REFRESH,
};

struct revoke_msg {
	enum revoke_msg_kind	 kind;
	struct revoke_check	*chk;		/* CHECK, CANCEL: one reference */
	X509			*cert, *issuer;	/* OCSP_REFRESH: owned references */
	char			*url;		/* OCSP_REFRESH: owned */
	struct revoke_msg	*next;
};

struct revoker {
	/* Shared with the workers, under LOCK. */
	pthread_mutex_t		 lock;
	struct revoke_settings	*set;		/* owned reference */
	struct ttlcache		*crls;		/* issuer id -> struct revoke_crl */
	struct revoke_crl	**statics;	/* crl.files, never evicted */
	size_t			 nstatics;
	struct ttlcache		*ocsp;		/* CertID key -> struct revoke_ocsp */
	struct ttlcache		*crl_fail;	/* URL -> struct revoke_fail */
	X509			*inter[REVOKE_MAX_INTER];	/* owned; for resumed sessions */
	struct chaincache	*chains;	/* leaf -> verified chain; its own lock */
	size_t			 ninter;
	struct revoke_msg	*inbox;		/* owned; FIFO through inbox_tail */
	struct revoke_msg	*inbox_tail;
	atomic_uint_fast64_t	 generation;	/* bumped whenever a CRL is replaced */
	atomic_bool		 ready;
	atomic_uint_fast64_t	 n_verdicts[4];
	atomic_uint_fast64_t	 n_cached;
	atomic_uint_fast64_t	 n_crl_fetches, n_crl_failures;
	atomic_uint_fast64_t	 n_ocsp_fetches, n_ocsp_failures;
	bool			 stopping;	/* after the thread ended: drop, do not process */

	/* The revocation thread's own. */
	pthread_t		 thread;
	bool			 started;
	struct event_base	*base;
	struct event		*wake;		/* inbox has messages */
	struct event		*sweep;		/* refresh timer */
	struct fetcher		*fetcher;
	struct revoke_flight	*flights;
	struct revoke_source	*sources;
	unsigned		 sweeps;
};

static void revoke_process(struct revoker *rv, struct revoke_check *chk);

/* --- small helpers ------------------------------------------------------------------------- */

int64_t
revoke_now_ms(void)
{
	return ttlcache_now_ms();
}

/* Monotonic milliseconds at which wall-clock time WHEN arrives. */
static int64_t
revoke_mono_at(time_t when)
{
	time_t now = time(NULL);

	if (when <= now)
		return revoke_now_ms();
	return revoke_now_ms() + (int64_t)(when - now) * 1000;
}

/* Copies SRC into DST, cut to fit (URLs and names in decisions are for logs). */
static void
revoke_copy(char *dst, size_t size, const char *src)
{
	size_t n = src != NULL ? strnlen(src, size - 1) : 0;

	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

const char *
revoke_verdict_name(enum revoke_verdict v)
{
	switch (v) {
	case REVOKE_GOOD:
		return "good";
	case REVOKE_REVOKED:
		return "revoked";
	case REVOKE_UNCHECKED:
		return "unchecked";
	case REVOKE_FAILED:
		return "failed";
	}
	return "?";
}

static struct revoke_settings *
revoke_settings_ref(struct revoke_settings *s)
{
	atomic_fetch_add(&s->refs, 1);
	return s;
}

static void
revoke_settings_unref(struct revoke_settings *s)
{
	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	free(s->responder);
	free(s->cache_dir);
	SSL_CTX_free(s->ctx);
	free(s);
}

static int
revoke_method_mode(int mode, int fallback)
{
	return mode == CONF_FAIL_INHERIT ? fallback : mode;
}

static struct revoke_settings *
revoke_settings_new(const struct conf *cfg, SSL_CTX *ctx)
{
	const struct conf_verification *v = &cfg->http.mtls.verification;
	struct revoke_settings *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	atomic_init(&s->refs, 1);
	s->enabled = cfg->http.mtls.enabled && v->enabled;
	s->failure_mode = v->failure_mode;
	s->crl_mode = revoke_method_mode(v->crl.failure_mode, v->failure_mode);
	s->ocsp_mode = revoke_method_mode(v->ocsp.failure_mode, v->failure_mode);
	s->scope = v->scope;
	s->skew_s = v->clock_skew_ms / 1000;
	s->crl_enabled = v->crl.enabled;
	s->crl_timeout_ms = v->crl.timeout_ms;
	s->crl_ttl_ms = v->crl.cache_ttl_ms;
	s->grace_ms = v->crl.grace_period_ms;
	s->refresh_before_ms = v->crl.refresh_before_ms;
	s->crl_max = v->crl.max_size;
	s->ocsp_enabled = v->ocsp.enabled;
	s->ocsp_timeout_ms = v->ocsp.timeout_ms;
	s->ocsp_ttl_ms = v->ocsp.cache_ttl_ms;
	s->ocsp_error_ttl_ms = v->ocsp.error_cache_ttl_ms;
	s->nonce = v->ocsp.nonce;
	s->ocsp_max = v->ocsp.max_size;
	s->cache_entries = v->cache.max_entries;
	s->cache_bytes = v->cache.max_bytes;
	if ((v->ocsp.responder != NULL && (s->responder = strdup(v->ocsp.responder)) == NULL) ||
	    (cfg->root_path != NULL && asprintf(&s->cache_dir, "%s/cache", cfg->root_path) == -1)) {
		s->cache_dir = NULL;
		revoke_settings_unref(s);
		return NULL;
	}
	if (ctx != NULL && SSL_CTX_up_ref(ctx) == 1)
		s->ctx = ctx;
	return s;
}

/* The settings in force, with a reference the caller drops. */
static struct revoke_settings *
revoke_settings_get(struct revoker *rv)
{
	struct revoke_settings *s;

	pthread_mutex_lock(&rv->lock);
	s = revoke_settings_ref(rv->set);
	pthread_mutex_unlock(&rv->lock);
	return s;
}

/* --- cached values -------------------------------------------------------------------------- */

static void
revoke_crl_free(void *p)
{
	struct revoke_crl *rc = p;

	if (rc == NULL)
		return;
	crl_unref(rc->crl);
	free(rc);
}

static struct revoke_crl *
revoke_crl_copy(const struct revoke_crl *rc)
{
	struct revoke_crl *copy = malloc(sizeof(*copy));

	if (copy == NULL)
		return NULL;
	*copy = *rc;
	crl_ref(copy->crl);
	return copy;
}

/* The cache key of a CRL from URL for the issuer ID. */
static size_t
revoke_crl_key(const unsigned char *id, const struct crl *crl, const char *url,
    unsigned char *key, size_t size)
{
	size_t n = REVOKE_ID_LEN;

	memcpy(key, id, REVOKE_ID_LEN);
	if (crl == NULL || crl_is_partitioned(crl)) {
		size_t ulen = strnlen(url, size - REVOKE_ID_LEN);

		memcpy(key + REVOKE_ID_LEN, url, ulen);
		n += ulen;
	}
	return n;
}

/* Of two CRLs for the same certificate, the one that stays valid longer. */
static const struct revoke_crl *
revoke_newer(const struct revoke_crl *a, const struct revoke_crl *b)
{
	time_t na, nb;

	if (a == NULL || b == NULL)
		return a != NULL ? a : b;
	na = crl_next_update(a->crl);
	nb = crl_next_update(b->crl);
	if (na == 0 || nb == 0)
		return na == 0 ? a : b;
	return nb > na ? b : a;
}

/*
 * The CRL that speaks for IT: a static file, the issuer's complete CRL, or the partition one
 * of its distribution points names - whichever covers it and stays valid longest. Under the
 * lock.
 */
static const struct revoke_crl *
revoke_find_crl(struct revoker *rv, const struct revoke_item *it, int64_t now)
{
	const struct revoke_crl *best = NULL, *rc;
	unsigned char key[REVOKE_ID_LEN + REVOKE_URL_MAX];
	bool fresh;

	for (size_t i = 0; i < rv->nstatics; i++)
		if (memcmp(rv->statics[i]->issuer_id, it->key.bytes, REVOKE_ID_LEN) == 0 &&
		    crl_covers(rv->statics[i]->crl, it->cert))
			best = revoke_newer(best, rv->statics[i]);
	rc = ttlcache_get(rv->crls, it->key.bytes, REVOKE_ID_LEN, now, &fresh);
	if (rc != NULL && crl_covers(rc->crl, it->cert))
		best = revoke_newer(best, rc);
	for (int i = 0; i < it->ncdp; i++) {
		size_t n = revoke_crl_key(it->key.bytes, NULL, it->cdp[i], key, sizeof(key));

		if ((rc = ttlcache_get(rv->crls, key, n, now, &fresh)) != NULL &&
		    crl_covers(rc->crl, it->cert))
			best = revoke_newer(best, rc);
	}
	return best;
}

/*
 * Installs RC (taken) as the CRL of its issuer, and says that decisions may change. Returns 0,
 * or -1 when it does not fit in the cache bounds (RC is freed).
 */
static int
revoke_install_crl(struct revoker *rv, struct revoke_crl *rc, const struct revoke_settings *s)
{
	time_t next = crl_next_update(rc->crl);
	int64_t now = revoke_now_ms(), keep;

	/* Kept while it may still decide: to nextUpdate plus the grace period. */
	keep = next != 0 ? revoke_mono_at(next) + s->grace_ms : now + s->crl_ttl_ms + s->grace_ms;
	unsigned char key[REVOKE_ID_LEN + REVOKE_URL_MAX];
	size_t keylen = revoke_crl_key(rc->issuer_id, rc->crl, rc->source, key, sizeof(key));
	char name[256];
	size_t count = crl_count(rc->crl);
	int ret;

	revoke_copy(name, sizeof(name), crl_issuer_name(rc->crl));
	pthread_mutex_lock(&rv->lock);
	ret = ttlcache_put(rv->crls, key, keylen, rc, sizeof(*rc) + crl_memory(rc->crl), keep,
	    keep, now);
	atomic_fetch_add(&rv->generation, 1);
	pthread_mutex_unlock(&rv->lock);
	if (ret == -1)
		log_warn("revocation: the CRL of %s (%zu entries) does not fit in "
		    "http.mtls.certificateVerification.cache.maxBytes; raise it", name, count);
	return ret;
}

/* --- reading certificates ------------------------------------------------------------------ */

static bool
revoke_is_http_url(const char *s, size_t len)
{
	return (len > 7 && strncasecmp(s, "http://", 7) == 0) ||
	    (len > 8 && strncasecmp(s, "https://", 8) == 0);
}

/* Collects the certificate's http(s) CRL distribution points, in order. */
static void
revoke_read_cdp(struct revoke_item *it)
{
	STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(it->cert, NID_crl_distribution_points,
	    NULL, NULL);

	for (int i = 0; dps != NULL && i < sk_DIST_POINT_num(dps); i++) {
		DIST_POINT *dp = sk_DIST_POINT_value(dps, i);

		if (dp->distpoint == NULL || dp->distpoint->type != 0)
			continue;
		for (int j = 0; j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname); j++) {
			GENERAL_NAME *gn = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, j);
			const char *uri;
			int len;

			if (gn->type != GEN_URI)
				continue;
			uri = (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
			len = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
			if (len <= 0 || len >= REVOKE_URL_MAX || memchr(uri, '\0', (size_t)len) != NULL)
				continue;
			if (!revoke_is_http_url(uri, (size_t)len)) {
				log_debug("revocation: skipping CRL distribution point %.*s: only http "
				    "and https are fetched", len, uri);
				continue;
			}
			if (it->ncdp < REVOKE_MAX_CDP)
				it->cdp[it->ncdp++] = strndup(uri, (size_t)len);
		}
	}
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
}

static void
revoke_read_aia(struct revoke_item *it, const struct revoke_settings *s)
{
	STACK_OF(OPENSSL_STRING) *urls;

	if (s->responder != NULL) {
		it->ocsp_url = strdup(s->responder);
		return;
	}
	urls = X509_get1_ocsp(it->cert);
	for (int i = 0; urls != NULL && i < sk_OPENSSL_STRING_num(urls); i++) {
		const char *u = sk_OPENSSL_STRING_value(urls, i);

		if (strlen(u) < REVOKE_URL_MAX && revoke_is_http_url(u, strlen(u))) {
			it->ocsp_url = strdup(u);
			break;
		}
	}
	X509_email_free(urls);
}

static void
revoke_item_clear(struct revoke_item *it)
{
	X509_free(it->cert);
	X509_free(it->issuer);
	for (int i = 0; i < it->ncdp; i++)
		free(it->cdp[i]);
	free(it->ocsp_url);
	revoke_crl_free(it->stale);
	memset(it, 0, sizeof(*it));
}

static int
revoke_item_init(struct revoke_item *it, X509 *cert, X509 *issuer,
    const struct revoke_settings *s)
{
	memset(it, 0, sizeof(*it));
	if (ocspmsg_key(cert, issuer, &it->key) == -1 || X509_up_ref(cert) != 1)
		return -1;
	it->cert = cert;
	if (X509_up_ref(issuer) != 1)
		return -1;
	it->issuer = issuer;
	if (s->crl_enabled)
		revoke_read_cdp(it);
	if (s->ocsp_enabled)
		revoke_read_aia(it, s);
	return 0;
}

/* --- chains ---------------------------------------------------------------------------------- */

/* Intermediates seen in full handshakes, so resumed sessions can be rebuilt without them. */
static void
revoke_remember_intermediates(struct revoker *rv, STACK_OF(X509) *chain)
{
	int n = sk_X509_num(chain);

	pthread_mutex_lock(&rv->lock);
	for (int i = 1; i + 1 < n; i++) {
		X509 *x = sk_X509_value(chain, i);
		bool known = false;

		for (size_t j = 0; j < rv->ninter && !known; j++)
			known = X509_cmp(rv->inter[j], x) == 0;
		if (known || rv->ninter == REVOKE_MAX_INTER || X509_up_ref(x) != 1)
			continue;
		rv->inter[rv->ninter++] = x;
	}
	pthread_mutex_unlock(&rv->lock);
}

/* A resumed session has the peer's certificate but no chain: verify it again to get one. */
static STACK_OF(X509) *
revoke_rebuild_chain(struct revoker *rv, SSL *ssl)
{
	X509 *leaf = SSL_get0_peer_certificate(ssl);
	X509_STORE *store = SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl));
	X509_STORE_CTX *xs = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null(), *chain = NULL;

	if (leaf == NULL || xs == NULL || untrusted == NULL)
		goto out;
	pthread_mutex_lock(&rv->lock);
	for (size_t i = 0; i < rv->ninter; i++)
		if (sk_X509_push(untrusted, rv->inter[i]) > 0)
			X509_up_ref(rv->inter[i]);
	pthread_mutex_unlock(&rv->lock);
	if (X509_STORE_CTX_init(xs, store, leaf, untrusted) != 1)
		goto out;
	X509_STORE_CTX_set_default(xs, "ssl_client");
	if (X509_verify_cert(xs) == 1)
		chain = X509_STORE_CTX_get1_chain(xs);
out:
	ERR_clear_error();
	X509_STORE_CTX_free(xs);
	sk_X509_pop_free(untrusted, X509_free);
	return chain;
}

/*
 * The verified chain of SSL's client certificate, as a new reference. A full handshake has
 * it; a resumed session has only the leaf, so its chain comes from the chains remembered
 * from earlier handshakes, or, failing that, from verifying the leaf again.
 */
static STACK_OF(X509) *
revoke_session_chain(struct revoker *rv, SSL *ssl)
{
	STACK_OF(X509) *chain = SSL_get0_verified_chain(ssl);
	X509 *leaf = SSL_get0_peer_certificate(ssl);

	if (chain != NULL && !SSL_session_reused(ssl)) {
		revoke_remember_intermediates(rv, chain);
		chaincache_put(rv->chains, chain);
		return X509_chain_up_ref(chain);
	}
	if (leaf == NULL)
		return NULL;
	/* A leaf that expired since its session began gets verified again, and fails. */
	if ((X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0 ||
	    (chain = chaincache_get1(rv->chains, leaf)) == NULL) &&
	    (chain = revoke_rebuild_chain(rv, ssl)) != NULL)
		chaincache_put(rv->chains, chain);
	return chain;
}

/* The items to check: the leaf, or every certificate below the trust anchor. */
static int
revoke_collect(struct revoker *rv, SSL *ssl, struct revoke_check *chk)
{
	STACK_OF(X509) *chain = revoke_session_chain(rv, ssl);
	int n, last, rc = 0;

	if (chain == NULL)
		return -1;
	n = sk_X509_num(chain);
	last = chk->set->scope == CONF_SCOPE_CHAIN ? n - 1 : (n > 1 ? 1 : 0);
	for (int i = 0; i < last && chk->nitems < REVOKE_MAX_ITEMS; i++) {
		if (revoke_item_init(&chk->items[chk->nitems], sk_X509_value(chain, i),
		    sk_X509_value(chain, i + 1), chk->set) == -1) {
			revoke_item_clear(&chk->items[chk->nitems]);
			rc = -1;
			break;
		}
		chk->nitems++;
	}
	sk_X509_pop_free(chain, X509_free);
	return rc;
}

/* --- deciding from what is known --------------------------------------------------------- */

enum revoke_step {
	REVOKE_STEP_DONE,
	REVOKE_STEP_FETCH_CRL,
	REVOKE_STEP_FETCH_OCSP,
};

static void
revoke_item_decide(struct revoke_item *it, enum revoke_verdict v, const char *method,
    const char *reason, const char *source, int64_t recheck_at)
{
	it->decided = true;
	it->verdict = v;
	it->method = method;
	it->reason = reason;
	it->recheck_at = recheck_at;
	revoke_copy(it->source, sizeof(it->source), source);
}

/* Decides IT by RC's list. */
static void
revoke_item_by_crl(struct revoke_item *it, const struct revoke_crl *rc, int64_t recheck_at,
    bool stale)
{
	const ASN1_INTEGER *serial = X509_get0_serialNumber(it->cert);
	int reason;

	it->stale_used = stale;
	if (crl_lookup(rc->crl, serial, &reason))
		revoke_item_decide(it, REVOKE_REVOKED, "crl", "revoked", rc->source, 0);
	else
		revoke_item_decide(it, REVOKE_GOOD, "crl", NULL, rc->source, recheck_at);
}

/* Step 1: a CRL that is valid now decides; otherwise name the URL to fetch, if any. */
static enum revoke_step
revoke_step_crl(struct revoker *rv, const struct revoke_settings *s, struct revoke_item *it,
    time_t wall, int64_t now)
{
	const struct revoke_crl *rc = revoke_find_crl(rv, it, now);
	time_t next;

	if (rc != NULL) {
		next = crl_next_update(rc->crl);
		if (next == 0 || wall <= next + s->skew_s) {
			/* Good until the CRL expires, and at most crl.cacheTtl before asking again. */
			int64_t until = now + s->crl_ttl_ms;

			if (next != 0 && revoke_mono_at(next) < until)
				until = revoke_mono_at(next);
			revoke_item_by_crl(it, rc, until, false);
			return REVOKE_STEP_DONE;
		}
		if (it->stale == NULL)
			it->stale = revoke_crl_copy(rc);
		it->crl_reason = "crl-expired";
		it->crl_attempted = true;
	}
	while (it->next_cdp < it->ncdp) {
		bool fresh;
		const struct revoke_fail *f = ttlcache_get(rv->crl_fail, it->cdp[it->next_cdp],
		    strlen(it->cdp[it->next_cdp]), now, &fresh);

		it->crl_attempted = true;
		if (f == NULL)
			return REVOKE_STEP_FETCH_CRL;
		if (it->crl_reason == NULL || strcmp(it->crl_reason, "crl-expired") != 0)
			it->crl_reason = f->reason;
		it->next_cdp++;
	}
	it->crl_done = true;
	return REVOKE_STEP_DONE;
}

/* Step 2: a cached OCSP answer decides (a stale good one while within its nextUpdate). */
static enum revoke_step
revoke_step_ocsp(struct revoker *rv, const struct revoke_settings *s, struct revoke_item *it,
    time_t wall, int64_t now, bool *wants_refresh)
{
	const struct revoke_ocsp *o;
	bool fresh = false;

	if (it->ocsp_url == NULL) {
		it->ocsp_done = true;
		return REVOKE_STEP_DONE;
	}
	it->ocsp_attempted = true;
	o = ttlcache_get(rv->ocsp, it->key.bytes, it->key.len, now, &fresh);
	if (o == NULL && it->ocsp_fetched) {
		/* Asked already and nothing could be kept: do not ask again for this check. */
		if (it->ocsp_reason == NULL)
			it->ocsp_reason = "ocsp-unreachable";
		it->ocsp_done = true;
		return REVOKE_STEP_DONE;
	}
	if (o == NULL)
		return REVOKE_STEP_FETCH_OCSP;
	if (o->error) {
		it->ocsp_reason = o->reason;
		it->ocsp_done = true;
		return REVOKE_STEP_DONE;
	}
	if (!fresh && o->next_update != 0 && wall > o->next_update + s->skew_s) {
		if (!it->ocsp_fetched)
			return REVOKE_STEP_FETCH_OCSP;
		it->ocsp_reason = "ocsp-stale";
		it->ocsp_done = true;
		return REVOKE_STEP_DONE;
	}
	*wants_refresh |= !fresh;
	if (o->verdict == OCSPMSG_REVOKED)
		revoke_item_decide(it, REVOKE_REVOKED, "ocsp", "revoked", o->source, 0);
	else
		revoke_item_decide(it, REVOKE_GOOD, "ocsp", NULL, o->source,
		    now + (fresh ? s->ocsp_ttl_ms : 1000));
	return REVOKE_STEP_DONE;
}

/* Step 3 and 4: a stale CRL within the grace period, else no verdict. */
static void
revoke_step_last(const struct revoke_settings *s, struct revoke_item *it, time_t wall,
    int64_t now)
{
	const char *why;

	if (it->stale != NULL && crl_next_update(it->stale->crl) != 0 &&
	    (int64_t)(wall - crl_next_update(it->stale->crl)) * 1000 <= s->grace_ms) {
		log_warn("revocation: deciding with the CRL of %s although it is %lld s past its "
		    "nextUpdate (within crl.gracePeriod), because OCSP gave no answer",
		    crl_issuer_name(it->stale->crl),
		    (long long)(wall - crl_next_update(it->stale->crl)));
		revoke_item_by_crl(it, it->stale, now + 1000, true);
		return;
	}
	why = it->ocsp_reason != NULL ? it->ocsp_reason : it->crl_reason;
	if (why == NULL)
		why = "no-revocation-source";
	revoke_item_decide(it, REVOKE_FAILED, "none", why,
	    it->ocsp_attempted && it->ocsp_url != NULL ? it->ocsp_url :
	    it->ncdp > 0 ? it->cdp[0] : "", 0);
}

/* Moves IT as far as the caches allow. Under the lock. */
static enum revoke_step
revoke_step(struct revoker *rv, const struct revoke_settings *s, struct revoke_item *it,
    bool *wants_refresh)
{
	time_t wall = time(NULL);
	int64_t now = revoke_now_ms();
	enum revoke_step st;

	if (it->decided)
		return REVOKE_STEP_DONE;
	if (!it->crl_done && s->crl_enabled) {
		if ((st = revoke_step_crl(rv, s, it, wall, now)) != REVOKE_STEP_DONE || it->decided)
			return st;
	}
	it->crl_done = true;
	if (!it->ocsp_done && s->ocsp_enabled) {
		st = revoke_step_ocsp(rv, s, it, wall, now, wants_refresh);
		if (st != REVOKE_STEP_DONE || it->decided)
			return st;
	}
	it->ocsp_done = true;
	revoke_step_last(s, it, wall, now);
	return REVOKE_STEP_DONE;
}

/* Is failing to decide IT fatal? Only if every method that had a source fails closed. */
static bool
revoke_item_fails_open(const struct revoke_settings *s, const struct revoke_item *it)
{
	bool considered = false, open = true;

	if (it->crl_attempted) {
		considered = true;
		open &= s->crl_mode == CONF_FAIL_OPEN;
	}
	if (it->ocsp_attempted) {
		considered = true;
		open &= s->ocsp_mode == CONF_FAIL_OPEN;
	}
	return considered ? open : s->failure_mode == CONF_FAIL_OPEN;
}

static void
revoke_describe(struct revoke_decision *d, const struct revoke_item *it)
{
	d->subject[0] = '\0';
	{
		BIO *b = BIO_new(BIO_s_mem());

		if (b != NULL && X509_NAME_print_ex(b, X509_get_subject_name(it->cert), 0,
		    XN_FLAG_RFC2253) >= 0) {
			int n = BIO_read(b, d->subject, (int)sizeof(d->subject) - 1);

			d->subject[n > 0 ? n : 0] = '\0';
		}
		BIO_free(b);
	}
	{
		BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(it->cert), NULL);
		char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

		revoke_copy(d->serial, sizeof(d->serial), hex != NULL ? hex : "?");
		OPENSSL_free(hex);
		BN_free(bn);
	}
	revoke_copy(d->source, sizeof(d->source), it->source);
	ERR_clear_error();
}

/* Combines the items into the connection's decision. */
static void
revoke_combine(struct revoke_check *chk)
{
	struct revoke_decision *d = &chk->decision;
	const struct revoke_settings *s = chk->set;
	const struct revoke_item *decider = NULL;
	bool failed = false, open = true, fetched = false;

	d->verdict = REVOKE_GOOD;
	d->recheck_at = INT64_MAX;
	/* The decider: the first revoked certificate, else the first without a verdict, else
	 * the leaf. */
	for (int i = 0; i < chk->nitems; i++) {
		const struct revoke_item *it = &chk->items[i];

		fetched |= it->fetched;
		if (it->verdict == REVOKE_REVOKED) {
			decider = it;
			d->verdict = REVOKE_REVOKED;
			break;
		}
		if (it->verdict == REVOKE_FAILED) {
			if (!failed)
				decider = it;
			failed = true;
			open &= revoke_item_fails_open(s, it);
			continue;
		}
		if (decider == NULL)
			decider = it;
		if (it->recheck_at < d->recheck_at)
			d->recheck_at = it->recheck_at;
		d->stale_crl |= it->stale_used;
	}
	if (d->verdict != REVOKE_REVOKED && failed) {
		d->verdict = open ? REVOKE_UNCHECKED : REVOKE_FAILED;
		/* A fail-open admission is asked again once the failure is no longer cached. */
		d->recheck_at = revoke_now_ms() + (s->ocsp_error_ttl_ms > 1000 ?
		    s->ocsp_error_ttl_ms : 1000);
	}
	if (chk->nitems == 0) {
		/* No chain to check: a resumed session whose chain cannot be rebuilt. */
		d->verdict = s->failure_mode == CONF_FAIL_OPEN ? REVOKE_UNCHECKED : REVOKE_FAILED;
		d->method = "none";
		d->reason = "chain-unavailable";
		d->recheck_at = revoke_now_ms() + 1000;
	} else {
		d->method = decider->method;
		d->reason = decider->reason;
		revoke_describe(d, decider);
	}
	d->cached = !fetched;
	atomic_fetch_add(&chk->rv->n_verdicts[d->verdict], 1);
	if (d->cached)
		atomic_fetch_add(&chk->rv->n_cached, 1);
	d->generation = atomic_load(&chk->rv->generation);
	d->elapsed_ms = revoke_now_ms() - chk->started;
	switch (d->verdict) {
	case REVOKE_GOOD:
		snprintf(d->header, sizeof(d->header), "good; method=%s%s", d->method,
		    d->stale_crl ? "; stale-crl" : "");
		break;
	case REVOKE_UNCHECKED:
		snprintf(d->header, sizeof(d->header), "unchecked; fail-open; reason=%s",
		    d->reason);
		break;
	case REVOKE_REVOKED:
	case REVOKE_FAILED:
		snprintf(d->header, sizeof(d->header), "%s; method=%s; reason=%s",
		    revoke_verdict_name(d->verdict), d->method, d->reason);
		break;
	}
}

/* --- checks and their lifetime ------------------------------------------------------------- */

static void
revoke_check_unref(struct revoke_check *chk)
{
	if (chk == NULL || atomic_fetch_sub(&chk->refs, 1) != 1)
		return;
	for (int i = 0; i < chk->nitems; i++)
		revoke_item_clear(&chk->items[i]);
	revoke_settings_unref(chk->set);
	free(chk);
}

/* Runs on the worker's thread: the decision arrives, unless the connection went away. */
static void
revoke_deliver(void *arg)
{
	struct revoke_check *chk = arg;

	if (!atomic_load(&chk->cancelled)) {
		chk->cb(chk->arg, &chk->decision);
		revoke_check_unref(chk);	/* the worker's handle */
	}
	revoke_check_unref(chk);		/* the revocation thread's */
}

static void
revoke_post_msg(struct revoker *rv, struct revoke_msg *m)
{
	pthread_mutex_lock(&rv->lock);
	m->next = NULL;
	if (rv->inbox_tail != NULL)
		rv->inbox_tail->next = m;
	else
		rv->inbox = m;
	rv->inbox_tail = m;
	pthread_mutex_unlock(&rv->lock);
	event_active(rv->wake, EV_READ, 0);
}

/* Asks the revocation thread to refresh a stale OCSP answer in the background. */
static void
revoke_hint_ocsp(struct revoker *rv, const struct revoke_item *it)
{
	struct revoke_msg *m = calloc(1, sizeof(*m));

	if (m == NULL || X509_up_ref(it->cert) != 1) {
		free(m);
		return;
	}
	m->cert = it->cert;
	X509_up_ref(it->issuer);
	m->issuer = it->issuer;
	m->url = strdup(it->ocsp_url);
	m->kind = REVOKE_MSG_OCSP_REFRESH;
	revoke_post_msg(rv, m);
}

int
revoke_check_start(struct revoker *rv, SSL *ssl, revoke_post_fn post, void *post_ctx,
    revoke_cb cb, void *arg, struct revoke_decision *d, struct revoke_check **out)
{
	struct revoke_check *chk = calloc(1, sizeof(*chk));
	struct revoke_msg *m = NULL;
	bool pending = false, refresh = false;

	*out = NULL;
	if (chk == NULL)
		goto nomem;
	atomic_init(&chk->refs, 2);	/* the worker's handle, the revocation thread's */
	atomic_init(&chk->cancelled, false);
	chk->rv = rv;
	chk->post = post;
	chk->post_ctx = post_ctx;
	chk->cb = cb;
	chk->arg = arg;
	chk->started = revoke_now_ms();
	chk->set = revoke_settings_get(rv);
	if (revoke_collect(rv, ssl, chk) == -1) {
		/* No chain to check (resumed session whose chain cannot be rebuilt). */
		chk->nitems = 0;
	}
	pthread_mutex_lock(&rv->lock);
	for (int i = 0; i < chk->nitems; i++) {
		bool want = false;

		pending |= revoke_step(rv, chk->set, &chk->items[i], &want) != REVOKE_STEP_DONE;
		if (want)
			refresh = true;
	}
	pthread_mutex_unlock(&rv->lock);
	for (int i = 0; refresh && i < chk->nitems; i++)
		if (chk->items[i].method != NULL && strcmp(chk->items[i].method, "ocsp") == 0)
			revoke_hint_ocsp(rv, &chk->items[i]);
	if (!pending) {
		revoke_combine(chk);
		*d = chk->decision;
		atomic_store(&chk->refs, 1);
		revoke_check_unref(chk);
		return 1;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL)
		goto nomem;
	m->kind = REVOKE_MSG_CHECK;
	m->chk = chk;			/* carries the revocation thread's reference */
	revoke_post_msg(rv, m);
	*out = chk;
	return 0;
nomem:
	if (chk != NULL) {
		atomic_store(&chk->refs, 1);
		revoke_check_unref(chk);
	}
	memset(d, 0, sizeof(*d));
	d->verdict = REVOKE_FAILED;
	d->method = "none";
	d->reason = "out-of-memory";
	snprintf(d->header, sizeof(d->header), "failed; reason=out-of-memory");
	return 1;
}

void
revoke_check_cancel(struct revoke_check *chk)
{
	struct revoke_msg *m;

	if (chk == NULL)
		return;
	atomic_store(&chk->cancelled, true);
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		/* Cannot tell the thread: the check finishes normally and is dropped on delivery. */
		revoke_check_unref(chk);
		return;
	}
	m->kind = REVOKE_MSG_CANCEL;
	m->chk = chk;			/* carries the worker's reference */
	revoke_post_msg(chk->rv, m);
}

bool
revoke_needs_recheck(struct revoker *rv, const struct revoke_decision *d, int64_t now_ms)
{
	return now_ms >= d->recheck_at || atomic_load(&rv->generation) != d->generation;
}

/* --- the revocation thread: flights -------------------------------------------------------- */

static void revoke_flight_done(const struct fetch_result *r, void *arg);

static struct revoke_flight *
revoke_flight_find(struct revoker *rv, enum revoke_flight_kind kind, const char *url,
    const struct ocspmsg_key *key)
{
	for (struct revoke_flight *f = rv->flights; f != NULL; f = f->next) {
		if (f->kind != kind)
			continue;
		if (kind == REVOKE_FLIGHT_CRL && strcmp(f->url, url) == 0)
			return f;
		if (kind == REVOKE_FLIGHT_OCSP && f->key.len == key->len &&
		    memcmp(f->key.bytes, key->bytes, key->len) == 0)
			return f;
	}
	return NULL;
}

static void
revoke_flight_unlink(struct revoker *rv, struct revoke_flight *f)
{
	for (struct revoke_flight **p = &rv->flights; *p != NULL; p = &(*p)->next) {
		if (*p == f) {
			*p = f->next;
			return;
		}
	}
}

static void
revoke_flight_free(struct revoke_flight *f)
{
	if (f == NULL)
		return;
	X509_free(f->issuer);
	ocspmsg_request_clear(&f->req);
	free(f);
}

/* Starts (or joins) the fetch for the next step of IT. Returns the flight, or NULL. */
static struct revoke_flight *
revoke_flight_start(struct revoker *rv, const struct revoke_settings *s, enum
    revoke_flight_kind kind, const char *url, const struct ocspmsg_key *key, X509 *cert,
    X509 *issuer)
{
	struct revoke_flight *f = revoke_flight_find(rv, kind, url, key);
	struct fetch_request req = { .url = url };
	char err[256];

	if (f != NULL)
		return f;
	if ((f = calloc(1, sizeof(*f))) == NULL || X509_up_ref(issuer) != 1) {
		free(f);
		return NULL;
	}
	f->kind = kind;
	f->rv = rv;
	f->issuer = issuer;
	f->key = *key;
	revoke_copy(f->url, sizeof(f->url), url);
	if (kind == REVOKE_FLIGHT_OCSP) {
		if (ocspmsg_request_init(&f->req, cert, issuer, s->nonce, err, sizeof(err)) == -1) {
			log_warn("revocation: cannot build an OCSP request: %s", err);
			revoke_flight_free(f);
			return NULL;
		}
		req.post = f->req.der;
		req.post_len = f->req.len;
		req.content_type = "application/ocsp-request";
		req.timeout_ms = s->ocsp_timeout_ms;
		req.max_bytes = s->ocsp_max;
	} else {
		req.timeout_ms = s->crl_timeout_ms;
		req.max_bytes = s->crl_max;
	}
	if ((f->fetch = fetch_start(rv->fetcher, &req, revoke_flight_done, f)) == NULL) {
		log_warn("revocation: cannot start fetching %s", url);
		revoke_flight_free(f);
		return NULL;
	}
	log_debug("revocation: fetching %s %s", kind == REVOKE_FLIGHT_CRL ? "CRL" : "OCSP", url);
	f->next = rv->flights;
	rv->flights = f;
	return f;
}

static void
revoke_wait(struct revoke_flight *f, struct revoke_check *chk)
{
	chk->waiting = f;
	chk->next_waiter = f->waiters;
	f->waiters = chk;
}

static void
revoke_unwait(struct revoke_check *chk)
{
	struct revoke_flight *f = chk->waiting;

	if (f == NULL)
		return;
	for (struct revoke_check **p = &f->waiters; *p != NULL; p = &(*p)->next_waiter) {
		if (*p == chk) {
			*p = chk->next_waiter;
			break;
		}
	}
	chk->waiting = NULL;
	chk->next_waiter = NULL;
	if (f->waiters == NULL && !f->background) {
		/* Nobody needs the answer any more. */
		log_debug("revocation: nobody waits for %s any more; fetch cancelled", f->url);
		fetch_cancel(f->fetch);
		revoke_flight_unlink(f->rv, f);
		revoke_flight_free(f);
	}
}

/* Hands the decision back to the worker. */
static void
revoke_finish(struct revoker *rv, struct revoke_check *chk)
{
	chk->thread_done = true;
	revoke_combine(chk);
	chk->post(chk->post_ctx, revoke_deliver, chk);	/* the thread's reference goes along */
}

/* Moves CHK on: decide what the caches can, wait for the next fetch, or finish. */
static void
revoke_process(struct revoker *rv, struct revoke_check *chk)
{
	for (int i = 0; i < chk->nitems; i++) {
		struct revoke_item *it = &chk->items[i];
		struct revoke_flight *f = NULL;
		enum revoke_step st;
		bool want = false;

		pthread_mutex_lock(&rv->lock);
		st = revoke_step(rv, chk->set, it, &want);
		pthread_mutex_unlock(&rv->lock);
		if (st == REVOKE_STEP_DONE)
			continue;
		it->fetched = true;
		if (st == REVOKE_STEP_FETCH_CRL) {
			struct ocspmsg_key id = it->key;

			id.len = REVOKE_ID_LEN;
			f = revoke_flight_start(rv, chk->set, REVOKE_FLIGHT_CRL,
			    it->cdp[it->next_cdp], &id, it->cert, it->issuer);
			if (f == NULL) {
				it->crl_reason = "crl-unavailable";
				it->next_cdp++;
				i--;	/* try the next source of the same item */
				continue;
			}
		} else {
			f = revoke_flight_start(rv, chk->set, REVOKE_FLIGHT_OCSP, it->ocsp_url,
			    &it->key, it->cert, it->issuer);
			if (f == NULL) {
				it->ocsp_reason = "ocsp-unreachable";
				it->ocsp_done = true;
				i--;
				continue;
			}
		}
		revoke_wait(f, chk);
		return;
	}
	revoke_finish(rv, chk);
}

/* --- the revocation thread: results ------------------------------------------------------ */

static const char *
revoke_crl_reason(enum crl_error e)
{
	switch (e) {
	case CRL_OK:
		return NULL;
	case CRL_E_DECODE:
	case CRL_E_UNSUPPORTED:
		return "crl-invalid";
	case CRL_E_TOO_LARGE:
		return "crl-too-large";
	case CRL_E_ISSUER:
	case CRL_E_SIGNATURE:
		return "crl-signature";
	case CRL_E_FUTURE:
		return "crl-not-yet-valid";
	case CRL_E_NOMEM:
		return "out-of-memory";
	}
	return "crl-invalid";
}

static const char *
revoke_ocsp_reason(enum ocspmsg_error e)
{
	switch (e) {
	case OCSPMSG_OK:
		return NULL;
	case OCSPMSG_E_DECODE:
	case OCSPMSG_E_NO_MATCH:
		return "ocsp-invalid";
	case OCSPMSG_E_STATUS:
		return "ocsp-error";
	case OCSPMSG_E_SIGNATURE:
		return "ocsp-signature";
	case OCSPMSG_E_STALE:
		return "ocsp-stale";
	case OCSPMSG_E_NONCE:
		return "ocsp-nonce";
	case OCSPMSG_E_NOMEM:
		return "out-of-memory";
	}
	return "ocsp-invalid";
}

static const char *
revoke_fetch_reason(const struct fetch_result *r, bool ocsp)
{
	if (!ocsp)
		return r->status == FETCH_TOO_LARGE ? "crl-too-large" : "crl-unavailable";
	return r->status == FETCH_TIMEOUT ? "ocsp-timeout" : "ocsp-unreachable";
}

static void revoke_persist(struct revoker *rv, const struct revoke_settings *s,
    const char *url, const struct fetch_result *r, X509 *issuer);
static void revoke_source_note(struct revoker *rv, const struct revoke_settings *s,
    const char *url, X509 *issuer, const unsigned char *issuer_id, const struct crl *crl,
    bool ok);

/* A CRL arrived (or did not): install it, or remember the failure; wake the waiters. */
static void
revoke_crl_result(struct revoker *rv, struct revoke_flight *f, const struct fetch_result *r,
    const struct revoke_settings *s)
{
	const char *reason = NULL;
	struct revoke_crl *rc = NULL;
	char msg[512] = "";
	enum crl_error err = CRL_OK;
	struct crl *crl = NULL;

	if (r->status != FETCH_OK) {
		reason = revoke_fetch_reason(r, false);
		snprintf(msg, sizeof(msg), "%s", r->error);
	} else if ((crl = crl_new(r->body, r->len, f->issuer, time(NULL), s->skew_s,
	    (size_t)(s->crl_max / REVOKE_CRL_ENTRY_BYTES), &err, msg, sizeof(msg))) == NULL) {
		reason = revoke_crl_reason(err);
	} else if ((rc = calloc(1, sizeof(*rc))) == NULL) {
		reason = "out-of-memory";
		crl_unref(crl);
		crl = NULL;
	}
	if (rc != NULL && crl_next_update(crl) != 0 && time(NULL) > crl_next_update(crl) +
	    s->skew_s) {
		/* Valid but already expired: keep it for the grace period, but do not ask again. */
		reason = "crl-expired";
		snprintf(msg, sizeof(msg), "nextUpdate %lld has passed",
		    (long long)crl_next_update(crl));
	}
	if (rc != NULL) {
		rc->crl = crl;
		revoke_copy(rc->source, sizeof(rc->source), f->url);
		memcpy(rc->issuer_id, f->key.bytes, REVOKE_ID_LEN);
		log_info("revocation: CRL of %s from %s: %zu entries, number %s, next update %lld "
		    "(%" PRId64 " ms)", crl_issuer_name(crl), f->url, crl_count(crl),
		    crl_number(crl)[0] != '\0' ? crl_number(crl) : "-",
		    (long long)crl_next_update(crl), r->elapsed_ms);
		revoke_persist(rv, s, f->url, r, f->issuer);
		/* An already expired CRL is no success: its source is retried with back-off. */
		revoke_source_note(rv, s, f->url, f->issuer, f->key.bytes, crl, reason == NULL);
		if (revoke_install_crl(rv, rc, s) == -1 && reason == NULL)
			reason = "crl-too-large";
	}
	if (reason != NULL) {
		struct revoke_fail *fail = malloc(sizeof(*fail));
		int64_t now = revoke_now_ms(), ttl = s->ocsp_error_ttl_ms > 1000 ?
		    s->ocsp_error_ttl_ms : 1000;

		log_warn("revocation: CRL from %s not used: %s (%s)", f->url, reason, msg);
		atomic_fetch_add(&rv->n_crl_failures, 1);
		if (rc == NULL)
			revoke_source_note(rv, s, f->url, f->issuer, f->key.bytes, NULL, false);
		if (fail != NULL) {
			fail->reason = reason;
			pthread_mutex_lock(&rv->lock);
			/*
			 * Only a first fetch is remembered as failed: a source that already gave a
			 * CRL keeps serving it while its refresh is retried with back-off.
			 */
			if (ttlcache_put(rv->crl_fail, f->url, strlen(f->url), fail, sizeof(*fail),
			    now + ttl, now + ttl, now) == -1)
				log_debug("revocation: failure cache is full");
			pthread_mutex_unlock(&rv->lock);
		}
	}
	/* Whatever came of it, this source has been asked: the waiters move past it. */
	for (struct revoke_check *c = f->waiters; c != NULL; c = c->next_waiter) {
		for (int i = 0; i < c->nitems; i++) {
			struct revoke_item *it = &c->items[i];

			if (it->next_cdp >= it->ncdp || strcmp(it->cdp[it->next_cdp], f->url) != 0)
				continue;
			if (reason != NULL && (it->crl_reason == NULL ||
			    strcmp(it->crl_reason, "crl-expired") != 0))
				it->crl_reason = reason;
			else if (reason == NULL && memcmp(it->key.bytes, f->key.bytes,
			    REVOKE_ID_LEN) != 0)
				it->crl_reason = "crl-signature";	/* another issuer's CRL */
			it->next_cdp++;
		}
	}
}

/* An OCSP answer arrived (or did not): cache it, wake the waiters. */
static void
revoke_ocsp_result(struct revoker *rv, struct revoke_flight *f, const struct fetch_result *r,
    const struct revoke_settings *s)
{
	struct revoke_ocsp *o = calloc(1, sizeof(*o));
	const char *err_reason;
	struct ocspmsg_status st;
	enum ocspmsg_error e = OCSPMSG_OK;
	int64_t now = revoke_now_ms(), fresh, keep;
	char msg[512] = "";

	if (o == NULL)
		return;
	revoke_copy(o->source, sizeof(o->source), f->url);
	if (r->status != FETCH_OK) {
		o->error = true;
		o->reason = revoke_fetch_reason(r, true);
		snprintf(msg, sizeof(msg), "%s", r->error);
	} else if ((e = ocspmsg_verify(r->body, r->len, &f->req, f->issuer, time(NULL),
	    s->skew_s, &st, msg, sizeof(msg))) != OCSPMSG_OK) {
		o->error = true;
		o->reason = revoke_ocsp_reason(e);
	} else if (st.verdict == OCSPMSG_UNKNOWN) {
		o->error = true;
		o->reason = "ocsp-unknown";
		snprintf(msg, sizeof(msg), "the responder does not know the certificate");
	} else {
		o->verdict = st.verdict;
		o->next_update = st.next_update;
	}
	if (o->error) {
		log_warn("revocation: OCSP from %s gave no verdict: %s (%s)", f->url, o->reason, msg);
		atomic_fetch_add(&rv->n_ocsp_failures, 1);
		fresh = keep = now + s->ocsp_error_ttl_ms;
	} else {
		/* Fresh for ocsp.cacheTtl (or to nextUpdate), kept as a stand-in to nextUpdate. */
		keep = o->next_update != 0 ? revoke_mono_at(o->next_update) + s->skew_s * 1000 :
		    now + s->ocsp_ttl_ms;
		fresh = now + s->ocsp_ttl_ms < keep ? now + s->ocsp_ttl_ms : keep;
		log_debug("revocation: OCSP from %s: %s (%" PRId64 " ms)", f->url,
		    ocspmsg_verdict_name(o->verdict), r->elapsed_ms);
	}
	pthread_mutex_lock(&rv->lock);
	if (o->error) {
		bool was_fresh;
		const struct revoke_ocsp *old = ttlcache_get(rv->ocsp, f->key.bytes, f->key.len,
		    now, &was_fresh);

		/* A responder outage must not replace a known answer that is still valid. */
		if (old != NULL && !old->error && (old->next_update == 0 ||
		    time(NULL) <= old->next_update)) {
			free(o);
			o = NULL;
		}
	}
	/* The cache owns O from here on (and may drop it at once): keep what the waiters need. */
	err_reason = o != NULL && o->error ? o->reason : NULL;
	if (o != NULL && ttlcache_put(rv->ocsp, f->key.bytes, f->key.len, o, sizeof(*o),
	    fresh, keep, now) == -1)
		log_debug("revocation: OCSP cache refused an entry");
	o = NULL;
	pthread_mutex_unlock(&rv->lock);
	for (struct revoke_check *c = f->waiters; c != NULL; c = c->next_waiter)
		for (int i = 0; i < c->nitems; i++)
			if (c->items[i].key.len == f->key.len &&
			    memcmp(c->items[i].key.bytes, f->key.bytes, f->key.len) == 0) {
				c->items[i].ocsp_fetched = true;
				/* The reason stands even if the cache cannot keep it (errorCacheTtl 0). */
				if (err_reason != NULL)
					c->items[i].ocsp_reason = err_reason;
			}
}

static void
revoke_flight_done(const struct fetch_result *r, void *arg)
{
	struct revoke_flight *f = arg;
	struct revoker *rv = f->rv;
	struct revoke_settings *s = revoke_settings_get(rv);
	struct revoke_check *waiters;

	revoke_flight_unlink(rv, f);
	f->fetch = NULL;
	atomic_fetch_add(f->kind == REVOKE_FLIGHT_CRL ? &rv->n_crl_fetches : &rv->n_ocsp_fetches,
	    1);
	if (f->kind == REVOKE_FLIGHT_CRL)
		revoke_crl_result(rv, f, r, s);
	else
		revoke_ocsp_result(rv, f, r, s);
	waiters = f->waiters;
	f->waiters = NULL;
	while (waiters != NULL) {
		struct revoke_check *c = waiters;

		waiters = c->next_waiter;
		c->waiting = NULL;
		c->next_waiter = NULL;
		revoke_process(rv, c);
	}
	revoke_flight_free(f);
	revoke_settings_unref(s);
}

/* --- the revocation thread: background refresh --------------------------------------------- */

static struct revoke_source *
revoke_source_find(struct revoker *rv, const char *url)
{
	for (struct revoke_source *src = rv->sources; src != NULL; src = src->next)
		if (strcmp(src->url, url) == 0)
			return src;
	return NULL;
}

/* When to fetch CRL again: at 75 % of its lifetime (or refreshBefore its end), with jitter. */
static int64_t
revoke_refresh_at(const struct revoke_settings *s, const struct crl *crl)
{
	int64_t now = revoke_now_ms(), life = s->crl_ttl_ms, at;
	time_t next = crl_next_update(crl);
	unsigned char r = 0;

	if (next != 0 && revoke_mono_at(next) - now < life)
		life = revoke_mono_at(next) - now;
	if (life < 1000)
		life = 1000;
	if (s->refresh_before_ms > 0 && s->refresh_before_ms < life)
		at = now + life - s->refresh_before_ms;
	else
		at = now + life * 3 / 4;
	(void)RAND_bytes(&r, 1);
	return at + (life / 20) * r / 255 - life / 40;	/* +-2.5 % spreads the fleet */
}

static void
revoke_source_note(struct revoker *rv, const struct revoke_settings *s, const char *url,
    X509 *issuer, const unsigned char *issuer_id, const struct crl *crl, bool ok)
{
	struct revoke_source *src = revoke_source_find(rv, url);

	if (src == NULL && !ok)
		return;		/* never had a CRL from there: the failure cache covers it */
	if (src == NULL) {
		if ((src = calloc(1, sizeof(*src))) == NULL || X509_up_ref(issuer) != 1) {
			free(src);
			return;
		}
		revoke_copy(src->url, sizeof(src->url), url);
		src->issuer = issuer;
		memcpy(src->issuer_id, issuer_id, REVOKE_ID_LEN);
		src->next = rv->sources;
		rv->sources = src;
	}
	if (ok) {
		src->backoff_ms = 0;
		src->refresh_at = revoke_refresh_at(s, crl);
		return;
	}
	src->backoff_ms = src->backoff_ms == 0 ? REVOKE_BACKOFF_MIN_MS : src->backoff_ms * 2;
	if (src->backoff_ms > REVOKE_BACKOFF_MAX_MS)
		src->backoff_ms = REVOKE_BACKOFF_MAX_MS;
	if (src->backoff_ms > s->crl_ttl_ms && s->crl_ttl_ms >= 1000)
		src->backoff_ms = s->crl_ttl_ms;
	src->refresh_at = revoke_now_ms() + src->backoff_ms;
	log_warn("revocation: refresh of the CRL from %s failed; the current CRL keeps serving "
	    "while it is valid; next try in %" PRId64 " ms", url, src->backoff_ms);
}

static void
revoke_refresh_due(struct revoker *rv, const struct revoke_settings *s)
{
	int64_t now = revoke_now_ms();

	for (struct revoke_source *src = rv->sources; src != NULL; src = src->next) {
		struct ocspmsg_key id;
		struct revoke_flight *f;

		if (now < src->refresh_at || revoke_flight_find(rv, REVOKE_FLIGHT_CRL, src->url,
		    NULL) != NULL)
			continue;
		memcpy(id.bytes, src->issuer_id, REVOKE_ID_LEN);
		id.len = REVOKE_ID_LEN;
		src->refresh_at = now + s->crl_timeout_ms + 1000;	/* until it answers */
		if ((f = revoke_flight_start(rv, s, REVOKE_FLIGHT_CRL, src->url, &id, NULL,
		    src->issuer)) != NULL)
			f->background = true;
	}
}

/* --- persistence: fetched CRLs survive a restart ------------------------------------------ */

static void
revoke_cache_name(const struct revoke_settings *s, const char *url, const char *ext,
    char *buf, size_t size)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char hex[33];

	SHA256((const unsigned char *)url, strlen(url), md);
	for (int i = 0; i < 16; i++)
		snprintf(hex + i * 2, 3, "%02x", md[i]);
	snprintf(buf, size, "%s/crl-%s.%s", s->cache_dir, hex, ext);
}

static int
revoke_write_file(const char *path, const void *data, size_t len)
{
	char tmp[PATH_MAX + 8];
	FILE *f;
	int ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "wb")) == NULL)
		return -1;
	ok = fwrite(data, 1, len, f) == len;
	ok &= fclose(f) == 0;
	if (!ok || rename(tmp, path) == -1) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Writes the CRL, its issuer and its URL under rootPath/cache/ (revocation thread only). */
static void
revoke_persist(struct revoker *rv, const struct revoke_settings *s, const char *url,
    const struct fetch_result *r, X509 *issuer)
{
	char path[PATH_MAX];
	unsigned char *der = NULL;
	int n;

	if (s->cache_dir == NULL)
		return;
	if (mkdir(s->cache_dir, 0750) == -1 && errno != EEXIST) {
		log_warn("revocation: cannot create %s: %s; fetched CRLs are not kept across "
		    "restarts", s->cache_dir, strerror(errno));
		return;
	}
	revoke_cache_name(s, url, "der", path, sizeof(path));
	if (revoke_write_file(path, r->body, r->len) == -1)
		goto fail;
	revoke_cache_name(s, url, "issuer", path, sizeof(path));
	if ((n = i2d_X509(issuer, &der)) <= 0 || revoke_write_file(path, der, (size_t)n) == -1)
		goto fail;
	revoke_cache_name(s, url, "url", path, sizeof(path));
	if (revoke_write_file(path, url, strlen(url)) == -1)
		goto fail;
	OPENSSL_free(der);
	return;
fail:
	OPENSSL_free(der);
	log_warn("revocation: cannot write %s: %s", path, strerror(errno));
}

/* Reads up to MAX bytes of PATH into a new buffer. */
static unsigned char *
revoke_read_file(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t n = 0, cap = 0;

	if (f == NULL)
		return NULL;
	for (;;) {
		unsigned char *grown;
		size_t got;

		if (n == cap) {
			if (cap >= max + 1 || (grown = realloc(buf, cap = cap ? cap * 2 : 65536)) ==
			    NULL)
				break;
			buf = grown;
		}
		if ((got = fread(buf + n, 1, cap - n, f)) == 0)
			break;
		n += got;
	}
	fclose(f);
	if (n > max || buf == NULL) {
		free(buf);
		errno = EFBIG;
		return NULL;
	}
	*len = n;
	return buf;
}

/* Loads one persisted CRL; a stale or broken one is ignored. */
static void
revoke_load_persisted(struct revoker *rv, const struct revoke_settings *s, const char *urlfile)
{
	char url[REVOKE_URL_MAX] = "", path[PATH_MAX], msg[512];
	unsigned char *body = NULL, *idbuf = NULL;
	const unsigned char *p;
	size_t len = 0, idlen = 0;
	X509 *issuer = NULL;
	struct revoke_crl *rc = NULL;
	enum crl_error err;
	struct crl *crl;
	FILE *f;

	if ((f = fopen(urlfile, "r")) == NULL)
		return;
	if (fgets(url, sizeof(url), f) == NULL)
		url[0] = '\0';
	fclose(f);
	revoke_cache_name(s, url, "der", path, sizeof(path));
	body = revoke_read_file(path, s->crl_max, &len);
	revoke_cache_name(s, url, "issuer", path, sizeof(path));
	idbuf = revoke_read_file(path, 65536, &idlen);
	p = idbuf;
	if (body == NULL || idbuf == NULL ||
	    (issuer = d2i_X509(NULL, &p, (long)idlen)) == NULL)
		goto out;
	crl = crl_new(body, len, issuer, time(NULL), s->skew_s,
	    (size_t)(s->crl_max / REVOKE_CRL_ENTRY_BYTES), &err, msg, sizeof(msg));
	if (crl == NULL) {
		log_warn("revocation: ignoring the persisted CRL from %s: %s", url, msg);
		goto out;
	}
	if ((rc = calloc(1, sizeof(*rc))) == NULL) {
		crl_unref(crl);
		goto out;
	}
	rc->crl = crl;
	revoke_copy(rc->source, sizeof(rc->source), url);
	{
		struct ocspmsg_key k;

		/* The issuer id is the CertID prefix; any serial will do to compute it. */
		if (ocspmsg_key(issuer, issuer, &k) == -1) {
			revoke_crl_free(rc);
			goto out;
		}
		memcpy(rc->issuer_id, k.bytes, REVOKE_ID_LEN);
	}
	log_info("revocation: loaded the persisted CRL of %s from %s (%zu entries)",
	    crl_issuer_name(crl), url, crl_count(crl));
	revoke_source_note(rv, s, url, issuer, rc->issuer_id, crl, true);
	if (revoke_source_find(rv, url) != NULL)
		revoke_source_find(rv, url)->refresh_at = revoke_now_ms();	/* ask for a newer one */
	(void)revoke_install_crl(rv, rc, s);
out:
	X509_free(issuer);
	free(body);
	free(idbuf);
	ERR_clear_error();
}

static void
revoke_load_cache_dir(struct revoker *rv, const struct revoke_settings *s)
{
	DIR *d;
	struct dirent *e;

	if (s->cache_dir == NULL || (d = opendir(s->cache_dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		char path[PATH_MAX];

		if (n < 8 || strncmp(e->d_name, "crl-", 4) != 0 ||
		    strcmp(e->d_name + n - 4, ".url") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", s->cache_dir, e->d_name);
		revoke_load_persisted(rv, s, path);
	}
	closedir(d);
}

/* --- static CRL files ----------------------------------------------------------------------- */

/* Reads one crl.files entry and finds its issuer among the trusted CAs. */
static struct revoke_crl *
revoke_load_static(const struct revoke_settings *s, const char *path, char *err,
    size_t errlen)
{
	STACK_OF(X509) *cas = NULL;
	struct revoke_crl *rc = NULL;
	unsigned char *buf;
	struct stat st;
	size_t len = 0;
	char msg[512] = "no certificate in tls.certificateAuthority issued it";

	if (stat(path, &st) == -1 || (buf = revoke_read_file(path, s->crl_max, &len)) == NULL) {
		snprintf(err, errlen, "http.mtls.certificateVerification.crl.files: cannot read "
		    "\"%s\": %s", path, errno == EFBIG ? "larger than crl.maxSize" :
		    strerror(errno));
		return NULL;
	}
	if (s->ctx != NULL)
		cas = X509_STORE_get1_all_certs(SSL_CTX_get_cert_store(s->ctx));
	for (int i = 0; cas != NULL && i < sk_X509_num(cas) && rc == NULL; i++) {
		X509 *ca = sk_X509_value(cas, i);
		enum crl_error e;
		struct ocspmsg_key k;
		struct crl *crl = crl_new(buf, len, ca, time(NULL), s->skew_s,
		    (size_t)(s->crl_max / REVOKE_CRL_ENTRY_BYTES), &e, msg, sizeof(msg));

		if (crl == NULL) {
			if (e != CRL_E_ISSUER && e != CRL_E_SIGNATURE)
				break;		/* not about the candidate: the file itself is bad */
			continue;
		}
		if ((rc = calloc(1, sizeof(*rc))) == NULL || ocspmsg_key(ca, ca, &k) == -1) {
			crl_unref(crl);
			free(rc);
			rc = NULL;
			snprintf(msg, sizeof(msg), "out of memory");
			break;
		}
		rc->crl = crl;
		rc->from_file = true;
		rc->file_mtime = st.st_mtime;
		rc->file_size = st.st_size;
		revoke_copy(rc->source, sizeof(rc->source), path);
		memcpy(rc->issuer_id, k.bytes, REVOKE_ID_LEN);
	}
	sk_X509_pop_free(cas, X509_free);
	free(buf);
	ERR_clear_error();
	if (rc == NULL)
		snprintf(err, errlen, "http.mtls.certificateVerification.crl.files: \"%s\": %s; "
		    "the CRL's issuer must be in tls.certificateAuthority (a file)", path, msg);
	return rc;
}

static void
revoke_statics_free(struct revoke_crl **statics, size_t n)
{
	for (size_t i = 0; i < n; i++)
		revoke_crl_free(statics[i]);
	free(statics);
}

/* Loads every crl.files entry, or none: the first error refuses the whole set. */
static int
revoke_load_statics(const struct conf *cfg, const struct revoke_settings *s,
    struct revoke_crl ***out, size_t *nout, char *err, size_t errlen)
{
	const struct conf_list *files = &cfg->http.mtls.verification.crl.files;
	struct revoke_crl **v = NULL;

	*out = NULL;
	*nout = 0;
	if (!s->enabled || !s->crl_enabled || files->n == 0)
		return 0;
	if ((v = calloc(files->n, sizeof(*v))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < files->n; i++) {
		if ((v[i] = revoke_load_static(s, files->v[i], err, errlen)) == NULL) {
			revoke_statics_free(v, i);
			return -1;
		}
		log_info("revocation: CRL file %s: issuer %s, %zu entries, next update %lld",
		    files->v[i], crl_issuer_name(v[i]->crl), crl_count(v[i]->crl),
		    (long long)crl_next_update(v[i]->crl));
	}
	*out = v;
	*nout = files->n;
	return 0;
}

/* crl.files are re-read when they change on disk (revocation thread). */
static void
revoke_recheck_statics(struct revoker *rv, const struct revoke_settings *s)
{
	for (size_t i = 0; i < rv->nstatics; i++) {
		struct revoke_crl *old = rv->statics[i], *fresh;
		struct stat st;
		char err[1024];

		if (stat(old->source, &st) == -1 ||
		    (st.st_mtime == old->file_mtime && st.st_size == old->file_size))
			continue;
		if ((fresh = revoke_load_static(s, old->source, err, sizeof(err))) == NULL) {
			log_warn("revocation: %s changed but cannot be used: %s; keeping the previous "
			    "CRL", old->source, err);
			old->file_mtime = st.st_mtime;	/* do not retry until it changes again */
			old->file_size = st.st_size;
			continue;
		}
		log_info("revocation: CRL file %s changed: %zu entries now", old->source,
		    crl_count(fresh->crl));
		pthread_mutex_lock(&rv->lock);
		rv->statics[i] = fresh;
		atomic_fetch_add(&rv->generation, 1);
		pthread_mutex_unlock(&rv->lock);
		revoke_crl_free(old);
	}
}

/* --- the revocation thread: main loop --------------------------------------------------- */

static void
revoke_on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct revoker *rv = arg;
	struct revoke_settings *s = revoke_settings_get(rv);

	if (s->enabled) {
		revoke_refresh_due(rv, s);
		if (++rv->sweeps % REVOKE_STAT_EVERY == 0)
			revoke_recheck_statics(rv, s);
	}
	revoke_settings_unref(s);
}

static void
revoke_handle_refresh_hint(struct revoker *rv, struct revoke_msg *m)
{
	struct revoke_settings *s = revoke_settings_get(rv);
	struct ocspmsg_key key;
	struct revoke_flight *f;

	if (ocspmsg_key(m->cert, m->issuer, &key) == 0 &&
	    revoke_flight_find(rv, REVOKE_FLIGHT_OCSP, NULL, &key) == NULL &&
	    (f = revoke_flight_start(rv, s, REVOKE_FLIGHT_OCSP, m->url, &key, m->cert,
	    m->issuer)) != NULL)
		f->background = true;
	revoke_settings_unref(s);
}

static void
revoke_msg_free(struct revoke_msg *m)
{
	X509_free(m->cert);
	X509_free(m->issuer);
	free(m->url);
	free(m);
}

static void
revoke_on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct revoker *rv = arg;
	struct revoke_msg *m;

	pthread_mutex_lock(&rv->lock);
	m = rv->inbox;
	rv->inbox = rv->inbox_tail = NULL;
	pthread_mutex_unlock(&rv->lock);
	while (m != NULL) {
		struct revoke_msg *next = m->next;
		struct revoke_check *chk = m->chk;

		switch (m->kind) {
		case REVOKE_MSG_CHECK:
			if (rv->stopping && !chk->thread_done) {
				chk->thread_done = true;
				revoke_check_unref(chk);
			} else if (!chk->thread_done)
				revoke_process(rv, chk);
			break;
		case REVOKE_MSG_CANCEL:
			if (!chk->thread_done) {
				revoke_unwait(chk);
				chk->thread_done = true;
				revoke_check_unref(chk);	/* the thread's */
			}
			revoke_check_unref(chk);		/* the worker's, carried here */
			break;
		case REVOKE_MSG_OCSP_REFRESH:
			if (!rv->stopping)
				revoke_handle_refresh_hint(rv, m);
			break;
		}
		revoke_msg_free(m);
		m = next;
	}
}

static void *
revoke_main(void *arg)
{
	struct revoker *rv = arg;
	struct revoke_settings *s = revoke_settings_get(rv);
	struct timeval every = { REVOKE_SWEEP_MS / 1000, (REVOKE_SWEEP_MS % 1000) * 1000 };

	if (s->enabled && s->crl_enabled)
		revoke_load_cache_dir(rv, s);
	revoke_settings_unref(s);
	atomic_store(&rv->ready, true);
	event_add(rv->sweep, &every);
	event_base_dispatch(rv->base);
	return NULL;
}

/* --- lifecycle ------------------------------------------------------------------------------- */

static int
revoke_make_caches(struct revoker *rv, const struct revoke_settings *s)
{
	rv->crls = ttlcache_new((size_t)s->cache_entries, (size_t)s->cache_bytes,
	    revoke_crl_free);
	rv->ocsp = ttlcache_new((size_t)s->cache_entries, (size_t)s->cache_bytes / 4 + 1024,
	    free);
	rv->crl_fail = ttlcache_new(4096, 1024 * 1024, free);
	return rv->crls != NULL && rv->ocsp != NULL && rv->crl_fail != NULL ? 0 : -1;
}

struct revoker *
revoker_new(const struct conf *cfg, SSL_CTX *ctx, char *err, size_t errlen)
{
	struct revoker *rv = calloc(1, sizeof(*rv));

	if (rv == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&rv->lock, NULL);
	atomic_init(&rv->generation, 1);
	atomic_init(&rv->ready, false);
	if ((rv->set = revoke_settings_new(cfg, ctx)) == NULL ||
	    revoke_make_caches(rv, rv->set) == -1 ||
	    (rv->chains = chaincache_new(REVOKE_MAX_CHAINS)) == NULL ||
	    (rv->base = event_base_new()) == NULL ||
	    (rv->wake = event_new(rv->base, -1, 0, revoke_on_wake, rv)) == NULL ||
	    (rv->sweep = event_new(rv->base, -1, EV_PERSIST, revoke_on_sweep, rv)) == NULL ||
	    (rv->fetcher = fetcher_new(rv->base)) == NULL) {
		snprintf(err, errlen, "revocation: cannot set up (out of memory)");
		revoker_free(rv);
		return NULL;
	}
	if (revoke_load_statics(cfg, rv->set, &rv->statics, &rv->nstatics, err, errlen) == -1) {
		revoker_free(rv);
		return NULL;
	}
	return rv;
}

int
revoker_start(struct revoker *rv)
{
	int rc = pthread_create(&rv->thread, NULL, revoke_main, rv);

	if (rc != 0) {
		errno = rc;
		return -1;
	}
	rv->started = true;
	return 0;
}

int
revoker_configure(struct revoker *rv, const struct conf *cfg, SSL_CTX *ctx, char *err,
    size_t errlen)
{
	struct revoke_settings *s = revoke_settings_new(cfg, ctx), *old;
	struct revoke_crl **statics = NULL, **old_statics;
	size_t n = 0, old_n;

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (revoke_load_statics(cfg, s, &statics, &n, err, errlen) == -1) {
		revoke_settings_unref(s);
		return -1;
	}
	pthread_mutex_lock(&rv->lock);
	old = rv->set;
	rv->set = s;
	old_statics = rv->statics;
	old_n = rv->nstatics;
	rv->statics = statics;
	rv->nstatics = n;
	atomic_fetch_add(&rv->generation, 1);	/* decisions under the old settings expire */
	pthread_mutex_unlock(&rv->lock);
	revoke_settings_unref(old);
	revoke_statics_free(old_statics, old_n);
	chaincache_clear(rv->chains);	/* the trust anchors may have changed */
	return 0;
}

bool
revoker_ready(struct revoker *rv)
{
	return rv == NULL || atomic_load(&rv->ready);
}

bool
revoker_enabled(struct revoker *rv)
{
	bool on;

	if (rv == NULL)
		return false;
	pthread_mutex_lock(&rv->lock);
	on = rv->set->enabled;
	pthread_mutex_unlock(&rv->lock);
	return on;
}

static void
revoke_on_stop(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

void
revoker_stop(struct revoker *rv)
{
	if (rv == NULL || !rv->started)
		return;
	event_base_once(rv->base, -1, EV_TIMEOUT, revoke_on_stop, rv->base, NULL);
	pthread_join(rv->thread, NULL);
	rv->started = false;
	rv->stopping = true;
	/* Whatever was still under way is dropped: the connections are gone. */
	revoke_on_wake(-1, 0, rv);
	while (rv->flights != NULL) {
		struct revoke_flight *f = rv->flights;

		rv->flights = f->next;
		while (f->waiters != NULL) {
			struct revoke_check *c = f->waiters;

			f->waiters = c->next_waiter;
			c->thread_done = true;
			revoke_check_unref(c);
		}
		fetch_cancel(f->fetch);
		revoke_flight_free(f);
	}
}

void
revoker_free(struct revoker *rv)
{
	if (rv == NULL)
		return;
	revoker_stop(rv);
	while (rv->sources != NULL) {
		struct revoke_source *src = rv->sources;

		rv->sources = src->next;
		X509_free(src->issuer);
		free(src);
	}
	fetcher_free(rv->fetcher);
	if (rv->wake != NULL)
		event_free(rv->wake);
	if (rv->sweep != NULL)
		event_free(rv->sweep);
	if (rv->base != NULL)
		event_base_free(rv->base);
	ttlcache_free(rv->crls);
	ttlcache_free(rv->ocsp);
	ttlcache_free(rv->crl_fail);
	revoke_statics_free(rv->statics, rv->nstatics);
	for (size_t i = 0; i < rv->ninter; i++)
		X509_free(rv->inter[i]);
	chaincache_free(rv->chains);
	revoke_settings_unref(rv->set);
	pthread_mutex_destroy(&rv->lock);
	free(rv);
}

void
revoker_stats(struct revoker *rv, struct revoke_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (rv == NULL)
		return;
	for (int i = 0; i < 4; i++)
		out->verdicts[i] = atomic_load(&rv->n_verdicts[i]);
	out->from_cache = atomic_load(&rv->n_cached);
	out->crl_fetches = atomic_load(&rv->n_crl_fetches);
	out->crl_failures = atomic_load(&rv->n_crl_failures);
	out->ocsp_fetches = atomic_load(&rv->n_ocsp_fetches);
	out->ocsp_failures = atomic_load(&rv->n_ocsp_failures);
	pthread_mutex_lock(&rv->lock);
	out->crls_cached = ttlcache_count(rv->crls) + rv->nstatics;
	out->ocsp_cached = ttlcache_count(rv->ocsp);
	out->cache_bytes = ttlcache_bytes(rv->crls) + ttlcache_bytes(rv->ocsp);
	pthread_mutex_unlock(&rv->lock);
}
