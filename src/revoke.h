/*
 * revoke: the revocation decision for a client's verified chain - CRL first, OCSP as
 * fallback, a stale CRL within crl.gracePeriod as last resort, then the failure mode.
 *
 * Threads. One revocation thread owns the network (fetch), the in-flight tables (one fetch
 * per CRL URL and per OCSP CertID, whatever the number of waiting connections), background
 * CRL refresh and the on-disk CRL cache. Workers never wait for it: revoke_check_start first
 * decides from the shared caches (a mutex held for hash lookups; CRLs themselves are immutable
 * and looked up without it), and only a miss is handed to the revocation thread, whose answer
 * comes back through the worker's own post function, on the worker's thread.
 *
 * Caches are keyed like an OCSP CertID (issuer name hash, issuer key hash, serial), never by
 * serial alone. Every decision says how it was made (method, reason, source, cached), so the
 * proxy can log it, put it in X-Client-Cert-Revocation and refuse or admit.
 */
#ifndef REVGATE_REVOKE_H
#define REVGATE_REVOKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "conf.h"

enum revoke_verdict {
	REVOKE_GOOD,		/* every certificate in scope has a good status */
	REVOKE_REVOKED,		/* one is revoked: refuse */
	REVOKE_UNCHECKED,	/* no verdict, fail-open: admit and say so */
	REVOKE_FAILED,		/* no verdict, fail-closed: refuse */
};

struct revoke_decision {
	enum revoke_verdict	verdict;
	const char		*method;	/* "crl", "ocsp", "none" (static strings) */
	const char		*reason;	/* NULL when good; "revoked", "crl-expired", ... */
	bool			 cached;	/* decided without a network round trip */
	bool			 stale_crl;	/* a CRL past nextUpdate, within the grace period */
	int64_t			 recheck_at;	/* monotonic ms after which it must be made again */
	uint64_t		 generation;	/* CRL set generation it was made under */
	int64_t			 elapsed_ms;
	char			 subject[256];	/* the certificate that decided (RFC 4514) */
	char			 serial[96];	/* its serial, hex */
	char			 source[256];	/* CRL URL or file, or OCSP responder URL */
	char			 header[192];	/* X-Client-Cert-Revocation value */
};

/*
 * How a worker hands work to its own thread: POST(CTX, FN, ARG) makes FN(ARG) run later on
 * the worker's thread. Called from the revocation thread.
 */
typedef void (*revoke_post_fn)(void *ctx, void (*fn)(void *arg), void *arg);

typedef void (*revoke_cb)(void *arg, const struct revoke_decision *decision);

struct revoker;
struct revoke_check;

/*
 * A revoker with the settings of CFG (http.mtls.certificateVerification), trusting the CA
 * certificates of SSL_CTX (borrowed; used to find the issuers of static CRL files and to rebuild
 * the chains of resumed sessions). Reads crl.files (blocking: start-up only) and refuses a
 * file that is unreadable, not a CRL, or not issued by a trusted CA. Returns NULL with a
 * message in ERR. The thread is not started yet.
 */
struct revoker *revoker_new(const struct conf *cfg, SSL_CTX *ctx, char *err, size_t errlen);

/* Starts the revocation thread (loads persisted CRLs, then refreshes). Returns 0 or -1. */
int revoker_start(struct revoker *rv);

/*
 * Applies a reloaded configuration: settings, trust, static CRL files (read here: main thread,
 * blocking). Returns 0, or -1 with a message in ERR and nothing changed.
 */
int revoker_configure(struct revoker *rv, const struct conf *cfg, SSL_CTX *ctx, char *err,
    size_t errlen);

/* True once the CRLs known at start (static files, persisted cache) are loaded. */
bool revoker_ready(struct revoker *rv);

/* True when the configuration asks for revocation checking at all. */
bool revoker_enabled(struct revoker *rv);

/* Stops and joins the thread; no callback is posted afterwards. */
void revoker_stop(struct revoker *rv);

/* Frees everything (after revoker_stop and after every worker stopped). NULL is a no-op. */
void revoker_free(struct revoker *rv);

/*
 * Decides for the client of SSL (its verified chain; rebuilt from the trust store on a
 * resumed session). Returns 1 with *D filled when the caches decide at once; 0 when the
 * decision needs the network: *CHK is set and CB(ARG, decision) runs later through
 * POST(POST_CTX, ...) on the caller's thread, unless revoke_check_cancel(*CHK) ran first.
 * Never blocks. Worker threads.
 */
int revoke_check_start(struct revoker *rv, SSL *ssl, revoke_post_fn post, void *post_ctx,
    revoke_cb cb, void *arg, struct revoke_decision *d, struct revoke_check **chk);

/*
 * Abandons CHK: its callback never runs, and its fetches stop when nobody else waits for
 * them. Call on the thread that started it.
 */
void revoke_check_cancel(struct revoke_check *chk);

/* True when D is too old to rely on: its deadline passed, or the CRL set changed since. */
bool revoke_needs_recheck(struct revoker *rv, const struct revoke_decision *d, int64_t now_ms);

/* Monotonic milliseconds, the clock of recheck_at. */
int64_t revoke_now_ms(void);

const char *revoke_verdict_name(enum revoke_verdict v);

/* Counters since start, for /metrics. */
struct revoke_stats {
	uint64_t	verdicts[4];		/* by enum revoke_verdict */
	uint64_t	from_cache;		/* decisions made without waiting for the network */
	uint64_t	crl_fetches, crl_failures;
	uint64_t	ocsp_fetches, ocsp_failures;
	size_t		crls_cached, ocsp_cached;
	size_t		cache_bytes;
};

/* Reads the counters. Any thread. */
void revoker_stats(struct revoker *rv, struct revoke_stats *out);

#endif
