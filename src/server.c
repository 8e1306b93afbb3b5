#include "config.h"
#include "server.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "accesslog.h"
#include "admin.h"
#include "devcert.h"
#include "listen.h"
#include "log.h"
#include "revoke.h"
#include "sesscache.h"
#include "runtime.h"
#include "tlscheck.h"
#include "tlsctx.h"
#include "worker.h"

#define SERVER_ERR_MAX 2048

struct server {
	const struct server_options	*opts;
	struct event_base		*base;		/* owned */
	struct event			*signals[4];	/* owned */
	struct event			*rotate;	/* owned; ticket key rotation */
	struct event			*worker_exit;	/* owned; activated by worker threads */
	struct event			*drain_timer;	/* owned */
	struct tlsctx_resume		 resume;	/* owned: ticket keys, session cache */
	struct runtime			*rt;		/* owned reference; the running snapshot */
	struct admin			*admin;		/* owned */
	struct revoker			*revoker;	/* owned; outlives every runtime */
	struct event			*ready_poll;	/* owned; until the revoker is ready */
	struct worker			**workers;	/* owned */
	unsigned			 nworkers;
	atomic_uint			 exited;	/* workers whose loop has ended */
	bool				 accesslog_on;
	uint64_t			 accesslog_dropped;	/* last reported */
	struct event			*report;	/* owned; periodic health notes */
	struct stat			 trust;		/* tls.certificateAuthority when loaded */
	bool				 trust_known;
	time_t				 cert_not_after;	/* tls.certificate's notAfter */
	bool				 cert_not_after_known;
	uint16_t			 https_port;	/* the first http.host's bound port */
	bool				 devcert_made;	/* generated at this start */
	bool				 draining;
	bool				 failed;	/* stopped for a reason other than a signal */
	bool				 curl_ready;	/* curl_global_init ran */
	uint64_t			 generation;
	int				 exit_status;
};

static const struct conf *
server_cfg(const struct server *srv)
{
	return srv->rt->cfg;
}

/* Makes the logging settings of CFG take effect; returns 0 or -1 (logged). */
static int
server_apply_logging(const struct conf *cfg)
{
	if (log_open(cfg->log.file) == -1) {
		log_error("log.file: cannot open \"%s\": %s; check the directory exists and is "
		    "writable", cfg->log.file, strerror(errno));
		return -1;
	}
	log_set_level((enum log_level)cfg->log.level);
	return 0;
}

/* Starts, retargets or reopens the access log as CFG says. Returns 0 or -1 (logged). */
static int
server_apply_accesslog(struct server *srv, const struct conf *cfg)
{
	const char *path = cfg->log.access_file;
	int rc;

	if (!cfg->log.access)
		return 0;
	rc = srv->accesslog_on ? accesslog_reopen(path) : accesslog_start(path);
	if (rc == -1) {
		log_error("log.access.file: cannot open \"%s\": %s; check the directory exists and "
		    "is writable", path != NULL ? path : "stderr", strerror(errno));
		return -1;
	}
	srv->accesslog_on = true;
	return 0;
}

static void
server_log_diag(const struct conf_diag *diag)
{
	for (size_t i = 0; i < diag->warnings.n; i++)
		log_warn("%s", diag->warnings.v[i]);
	for (size_t i = 0; i < diag->errors.n; i++)
		log_error("%s", diag->errors.v[i]);
}

static bool
server_lists_equal(const struct conf_list *a, const struct conf_list *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

/* Listening sockets and threads are set up once; say so when a reload would change them. */
static void
server_warn_restart_keys(const struct conf *old, const struct conf *fresh)
{
	if (!server_lists_equal(&old->http.hosts, &fresh->http.hosts))
		log_warn("http.host changed; restart revgate to listen on the new addresses");
	if (old->http.secure_port != fresh->http.secure_port)
		log_warn("http.securePort changed; restart revgate to listen on the new port");
	if (old->http.threads != fresh->http.threads)
		log_warn("http.threads changed; restart revgate to change the number of workers");
	if (old->http.mtls.verification.cache.max_entries !=
	    fresh->http.mtls.verification.cache.max_entries ||
	    old->http.mtls.verification.cache.max_bytes !=
	    fresh->http.mtls.verification.cache.max_bytes)
		log_warn("http.mtls.certificateVerification.cache changed; restart revgate to resize "
		    "the revocation caches");
	if (old->admin.enabled != fresh->admin.enabled ||
	    (old->admin.listen.n > 0 && fresh->admin.listen.n > 0 &&
	    strcmp(old->admin.listen.v[0].text, fresh->admin.listen.v[0].text) != 0))
		log_warn("admin.listen changed; restart revgate to move the admin listener");
}

/* Unsafe revocation settings are said out loud at start. */
static void
server_warn_revocation(const struct conf *cfg)
{
	const struct conf_verification *v = &cfg->http.mtls.verification;

	if (v->failure_mode == CONF_FAIL_OPEN)
		log_warn("revocation: failureMode is fail-open: a client whose revocation status "
		    "cannot be determined is admitted (marked \"unchecked\" to the backend)");
	if (v->crl.failure_mode == CONF_FAIL_OPEN || v->ocsp.failure_mode == CONF_FAIL_OPEN)
		log_warn("revocation: %s%s%s is fail-open: when that method has a source but gives "
		    "no verdict (and the other fails open too or has none), the client is admitted",
		    v->crl.failure_mode == CONF_FAIL_OPEN ? "crl.failureMode" : "",
		    v->crl.failure_mode == CONF_FAIL_OPEN &&
		    v->ocsp.failure_mode == CONF_FAIL_OPEN ? " and " : "",
		    v->ocsp.failure_mode == CONF_FAIL_OPEN ? "ocsp.failureMode" : "");
	if (!cfg->http.mtls.required)
		log_warn("revocation: http.mtls.required is false: clients without a certificate "
		    "are admitted without any revocation check");
	log_info("revocation: checking %s certificates, CRL %s, OCSP %s, %s",
	    v->scope == CONF_SCOPE_CHAIN ? "every chain's" : "client (leaf)",
	    v->crl.enabled ? "first" : "off", v->ocsp.enabled ? "as fallback" : "off",
	    conf_failure_mode_name((enum conf_failure_mode)v->failure_mode));
}

/*
 * The certificate troubleshooting steps, before any TLS context is built: each warning is
 * logged, each failure logged with its remedy. Returns -1 when one failed. Sets *KNOWN and
 * *NOT_AFTER to the certificate's expiry, for /metrics once the configuration is in use.
 */
static int
server_check_tls(const struct conf *cfg, time_t *not_after, bool *known)
{
	struct tlscheck_report *r = tlscheck_run_conf(cfg, time(NULL));
	int rc = 0;

	if (r == NULL) {
		log_error("out of memory checking the TLS files");
		return -1;
	}
	for (size_t i = 0; i < tlscheck_report_count(r); i++) {
		const struct tlscheck_result *res = tlscheck_report_get(r, i);

		if (res->status == TLSCHECK_FAIL)
			log_error("%s", res->message);
		else if (res->status == TLSCHECK_WARN)
			log_warn("%s", res->message);
		else
			log_debug("tls check %s: %s", res->name, res->message);
	}
	if (tlscheck_report_tally(r, TLSCHECK_FAIL) > 0)
		rc = -1;
	*known = tlscheck_report_not_after(r, not_after) == 0;
	tlscheck_report_free(r);
	return rc;
}

/*
 * Development certificates are made at start only, before any thread exists: a reload that
 * finds the set missing or incomplete is refused with the reason instead of generating.
 */
static int
server_check_devcert_reload(const struct conf *fresh)
{
	char msg[SERVER_ERR_MAX];

	switch (devcert_inspect(fresh, msg, sizeof(msg))) {
	case DEVCERT_CONFIGURED:
	case DEVCERT_PRESENT:
		return 0;
	case DEVCERT_PARTIAL:
		log_error("%s", msg);
		return -1;
	case DEVCERT_ABSENT:
		log_error("tls.certificate %s and tls.privateKey %s do not exist; development "
		    "certificates are generated only when revgate starts, never on reload: restore "
		    "the files, or restart revgate to have a new development set generated",
		    fresh->tls.certificate, fresh->tls.private_key);
		return -1;
	}
	return -1;
}

/*
 * Generates the development certificates when the configuration leaves tls.* to them and they
 * are missing. Runs before the TLS files are checked, while no thread exists yet.
 */
static int
server_ensure_devcert(struct server *srv, const struct conf *cfg)
{
	char err[SERVER_ERR_MAX];

	switch (devcert_ensure(cfg, err, sizeof(err))) {
	case 1:
		srv->devcert_made = true;
		devcert_log_generated(cfg);
		return 0;
	case 0:
		return 0;
	default:
		log_error("%s", err);
		return -1;
	}
}

/* Remembers the trust anchors' file state, to notice a reload that changes them. */
static void
server_note_trust(struct server *srv, const struct conf *cfg)
{
	const char *ca = cfg->tls.certificate_authority;

	srv->trust_known = ca != NULL && stat(ca, &srv->trust) == 0;
}

/*
 * True when FRESH trusts client certificates differently from the running configuration:
 * other anchors (path, size or modification time) or other mTLS settings.
 */
static bool
server_trust_changed(const struct server *srv, const struct conf *fresh)
{
	const struct conf *old = server_cfg(srv);
	const char *a = old->tls.certificate_authority, *b = fresh->tls.certificate_authority;
	struct stat now;

	if (old->http.mtls.enabled != fresh->http.mtls.enabled ||
	    old->http.mtls.required != fresh->http.mtls.required ||
	    old->http.mtls.verify_depth != fresh->http.mtls.verify_depth)
		return true;
	if (a == NULL || b == NULL || strcmp(a, b) != 0)
		return a != b;
	if (!srv->trust_known || stat(b, &now) == -1)
		return true;
	return now.st_size != srv->trust.st_size ||
	    now.st_mtim.tv_sec != srv->trust.st_mtim.tv_sec ||
	    now.st_mtim.tv_nsec != srv->trust.st_mtim.tv_nsec || now.st_ino != srv->trust.st_ino;
}

/* Empties the session cache, sized for CFG, and logs WHY. */
static void
server_empty_sessions(struct server *srv, const struct conf *cfg, const char *why)
{
	if (sesscache_reset(srv->resume.sessions, (size_t)cfg->tls.session_cache) == -1)
		log_error("out of memory for the TLS session cache: no session resumes until a "
		    "reload");
	else
		log_info("%s", why);
}

/* A TLS session carries a verified client identity: new trust must not honour old ones. */
static void
server_forget_sessions(struct server *srv, const struct conf *cfg)
{
	/* The cache is emptied even when the keys cannot be replaced. */
	if (tlsctx_keys_rotate(srv->resume.keys) == -1 ||
	    tlsctx_keys_rotate(srv->resume.keys) == -1)
		log_error("cannot replace the session ticket keys: the random generator failed");
	server_empty_sessions(srv, cfg, "client trust changed: earlier TLS sessions will not "
	    "resume");
}

/* tls.ticketKeyRotation takes effect at once. */
static void
server_schedule_rotation(struct server *srv)
{
	int64_t ms = server_cfg(srv)->tls.ticket_key_rotation_ms;
	struct timeval every = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	event_add(srv->rotate, &every);
}

/* SIGHUP: build a new snapshot off to the side; only a complete, valid one replaces the old. */
static void
server_reload(struct server *srv)
{
	struct conf_diag diag = { { 0, NULL }, { 0, NULL } };
	char err[SERVER_ERR_MAX];
	struct runtime *rt;
	struct conf *fresh;
	time_t not_after = 0;
	bool not_after_known = false;

	log_info("SIGHUP: reloading configuration from %s",
	    srv->opts->config_path != NULL ? srv->opts->config_path : "defaults");
	fresh = conf_load(srv->opts->config_path, srv->opts->envp, srv->opts->sets, &diag);
	server_log_diag(&diag);
	if (fresh == NULL) {
		log_error("configuration reload failed with %zu error(s); keeping the running "
		    "configuration", diag.errors.n);
		conf_diag_clear(&diag);
		return;
	}
	conf_diag_clear(&diag);
	if (server_apply_logging(fresh) == -1) {
		log_error("configuration reload failed; keeping the running configuration");
		server_apply_logging(server_cfg(srv));
		conf_free(fresh);
		return;
	}
	server_warn_restart_keys(server_cfg(srv), fresh);
	if (server_check_devcert_reload(fresh) == -1 ||
	    server_check_tls(fresh, &not_after, &not_after_known) == -1) {
		log_error("configuration reload failed: the TLS files did not pass their checks; "
		    "keeping the running configuration");
		server_apply_logging(server_cfg(srv));
		conf_free(fresh);
		return;
	}
	if ((rt = runtime_new(fresh, &srv->resume, srv->generation + 1, err, sizeof(err))) == NULL) {
		log_error("%s", err);
		log_error("configuration reload failed; keeping the running configuration");
		server_apply_logging(server_cfg(srv));
		return;
	}
	if (revoker_configure(srv->revoker, rt->cfg, rt->ssl_ctx, err, sizeof(err)) == -1) {
		log_error("%s", err);
		log_error("configuration reload failed; keeping the running configuration");
		runtime_unref(rt);
		server_apply_logging(server_cfg(srv));
		return;
	}
	rt->revoker = srv->revoker;
	srv->generation++;
	srv->cert_not_after = not_after;
	srv->cert_not_after_known = not_after_known;
	if (server_trust_changed(srv, rt->cfg))
		server_forget_sessions(srv, rt->cfg);
	else if (rt->cfg->tls.session_cache != server_cfg(srv)->tls.session_cache) {
		char why[160];

		snprintf(why, sizeof(why), "tls.sessionCache changed from %" PRId64 " to %"
		    PRId64 ": cached TLS sessions were dropped",
		    server_cfg(srv)->tls.session_cache, rt->cfg->tls.session_cache);
		server_empty_sessions(srv, rt->cfg, why);
	}
	server_note_trust(srv, rt->cfg);
	(void)server_apply_accesslog(srv, rt->cfg);
	for (unsigned i = 0; i < srv->nworkers; i++)
		worker_set_runtime(srv->workers[i], rt);
	runtime_unref(srv->rt);
	srv->rt = rt;
	server_schedule_rotation(srv);
	log_info("configuration reloaded (generation %" PRIu64 "); new connections use it",
	    srv->generation);
}

static void
server_stop_workers(struct server *srv)
{
	for (unsigned i = 0; i < srv->nworkers; i++)
		worker_stop(srv->workers[i]);
}

/* SIGTERM/SIGINT: stop accepting, let in-flight requests finish within http.drainTimeout. */
static void
server_shutdown(struct server *srv, const char *why)
{
	struct timeval tv;
	int64_t ms = server_cfg(srv)->http.drain_timeout_ms;

	if (srv->draining) {
		log_info("%s again: closing every connection now", why);
		server_stop_workers(srv);
		return;
	}
	srv->draining = true;
	admin_set_state(srv->admin, ADMIN_DRAINING);
	log_info("%s: shutting down; draining connections for up to %" PRId64 " ms", why, ms);
	for (unsigned i = 0; i < srv->nworkers; i++)
		worker_drain(srv->workers[i]);
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(srv->drain_timer, &tv);
	if (srv->nworkers == 0)
		event_base_loopbreak(srv->base);
}

static void
server_on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	log_warn("http.drainTimeout reached: closing the connections still open");
	server_stop_workers(srv);
}

/* Runs on a worker's thread; only wakes the main loop. */
static void
server_on_worker_exit(void *arg)
{
	struct server *srv = arg;

	atomic_fetch_add(&srv->exited, 1);
	event_active(srv->worker_exit, EV_READ, 0);
}

static void
server_on_worker_exit_main(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	if (atomic_load(&srv->exited) < srv->nworkers)
		return;
	if (!srv->draining) {
		log_error("every worker stopped unexpectedly; exiting");
		srv->failed = true;
	}
	event_base_loopbreak(srv->base);
}

static void
server_on_rotate(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	if (tlsctx_keys_rotate(srv->resume.keys) == -1)
		log_error("cannot rotate the session ticket keys: the random generator failed");
	else
		log_debug("session ticket keys rotated");
}

/*
 * /readyz turns ready once the listeners are up and, with revocation checking on, the CRLs
 * known at start are loaded. Without it there is nothing to wait for: readiness must not
 * depend on when the (idle) revocation thread gets scheduled.
 */
static void
server_on_ready_poll(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct timeval soon = { 0, 100 * 1000 };

	if (srv->draining)
		return;
	if (revoker_enabled(srv->revoker) && !revoker_ready(srv->revoker)) {
		evtimer_add(srv->ready_poll, &soon);
		return;
	}
	admin_set_state(srv->admin, ADMIN_READY);
	log_info("ready");
}

/* Says so when access-log lines had to be dropped since the last note. */
static void
server_on_report(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	uint64_t dropped = srv->accesslog_on ? accesslog_dropped() : 0;

	if (dropped > srv->accesslog_dropped)
		log_warn("access log: %" PRIu64 " line(s) dropped because the writer could not keep "
		    "up (a slow disk or log destination)", dropped - srv->accesslog_dropped);
	srv->accesslog_dropped = dropped;
}

static void
server_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;

	switch (sig) {
	case SIGTERM:
	case SIGINT:
		server_shutdown(srv, sig == SIGTERM ? "SIGTERM" : "SIGINT");
		break;
	case SIGHUP:
		server_reload(srv);
		break;
	case SIGUSR1:
		if (log_reopen() == -1)
			log_error("SIGUSR1: cannot reopen log file: %s", strerror(errno));
		else if (server_cfg(srv)->log.file != NULL)
			log_info("SIGUSR1: log file reopened");
		if (srv->accesslog_on && accesslog_reopen(server_cfg(srv)->log.access_file) == -1)
			log_error("SIGUSR1: cannot reopen the access log: %s", strerror(errno));
		break;
	default:
		break;
	}
}

static int
server_setup_events(struct server *srv)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
	struct timeval minute = { 60, 0 };

	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		srv->signals[i] = evsignal_new(srv->base, sigs[i], server_on_signal, srv);
		if (srv->signals[i] == NULL || event_add(srv->signals[i], NULL) == -1) {
			log_error("cannot install handler for signal %d", sigs[i]);
			return -1;
		}
	}
	srv->rotate = event_new(srv->base, -1, EV_PERSIST, server_on_rotate, srv);
	srv->worker_exit = event_new(srv->base, -1, 0, server_on_worker_exit_main, srv);
	srv->drain_timer = evtimer_new(srv->base, server_on_drain_timeout, srv);
	srv->report = event_new(srv->base, -1, EV_PERSIST, server_on_report, srv);
	srv->ready_poll = evtimer_new(srv->base, server_on_ready_poll, srv);
	if (srv->rotate == NULL || srv->worker_exit == NULL || srv->drain_timer == NULL ||
	    srv->report == NULL || srv->ready_poll == NULL ||
	    event_add(srv->report, &minute) == -1) {
		log_error("libevent: cannot create the server's events");
		return -1;
	}
	server_schedule_rotation(srv);
	return 0;
}

/*
 * Opens every worker's sockets: for each http.host, the first socket picks the port (port 0
 * means any free one) and the others join it with SO_REUSEPORT. FDS is nworkers x nhosts.
 */
static int
server_open_listeners(struct server *srv, int *fds, unsigned nworkers)
{
	const struct conf *cfg = server_cfg(srv);
	size_t nhosts = cfg->http.hosts.n;
	char err[SERVER_ERR_MAX], where[300];

	for (size_t h = 0; h < nhosts; h++) {
		uint16_t port = (uint16_t)cfg->http.secure_port;
		const char *host = cfg->http.hosts.v[h];

		for (unsigned w = 0; w < nworkers; w++) {
			int fd = listen_open("http.securePort", host, port, true, err, sizeof(err));

			if (fd == -1) {
				log_error("%s", err);
				return -1;
			}
			fds[w * nhosts + h] = fd;
			if (w == 0)
				port = listen_port(fd);
		}
		if (h == 0)
			srv->https_port = port;
		listen_format(host, port, where, sizeof(where));
		log_info("https listener bound to %s (%u worker threads)", where, nworkers);
	}
	return 0;
}

/* /metrics: what an operator graphs and alerts on. */
static void
server_write_metrics(struct evbuffer *out, void *arg)
{
	struct server *srv = arg;
	struct revoke_stats st;
	struct sesscache_stats ss;

	revoker_stats(srv->revoker, &st);
	sesscache_stats(srv->resume.sessions, &ss);
	evbuffer_add_printf(out,
	    "# HELP revgate_info revgate's version.\n# TYPE revgate_info gauge\n"
	    "revgate_info{version=\"%s\"} 1\n"
	    "# HELP revgate_config_generation Configuration generation (1 + reloads).\n"
	    "# TYPE revgate_config_generation gauge\nrevgate_config_generation %" PRIu64 "\n"
	    "# HELP revgate_access_log_dropped_total Access log lines dropped.\n"
	    "# TYPE revgate_access_log_dropped_total counter\n"
	    "revgate_access_log_dropped_total %" PRIu64 "\n",
	    PACKAGE_VERSION, srv->generation, srv->accesslog_on ? accesslog_dropped() : 0);
	if (srv->cert_not_after_known)
		evbuffer_add_printf(out,
		    "# HELP revgate_tls_certificate_expiry_seconds Seconds until the server "
		    "certificate's notAfter (negative: expired).\n"
		    "# TYPE revgate_tls_certificate_expiry_seconds gauge\n"
		    "revgate_tls_certificate_expiry_seconds %" PRId64 "\n",
		    (int64_t)srv->cert_not_after - (int64_t)time(NULL));
	evbuffer_add_printf(out,
	    "# HELP revgate_tls_session_cache_entries TLS sessions kept for resumption.\n"
	    "# TYPE revgate_tls_session_cache_entries gauge\n"
	    "revgate_tls_session_cache_entries %zu\n"
	    "# HELP revgate_tls_session_cache_lookups_total Sessions offered by clients, by "
	    "outcome (miss: unknown, expired or already used).\n"
	    "# TYPE revgate_tls_session_cache_lookups_total counter\n"
	    "revgate_tls_session_cache_lookups_total{result=\"hit\"} %" PRIu64 "\n"
	    "revgate_tls_session_cache_lookups_total{result=\"miss\"} %" PRIu64 "\n"
	    "# HELP revgate_tls_session_cache_evictions_total Sessions dropped to stay within "
	    "tls.sessionCache.\n"
	    "# TYPE revgate_tls_session_cache_evictions_total counter\n"
	    "revgate_tls_session_cache_evictions_total %" PRIu64 "\n",
	    ss.entries, ss.hits, ss.misses, ss.evictions);
	evbuffer_add_printf(out,
	    "# HELP revgate_revocation_decisions_total Revocation decisions by verdict.\n"
	    "# TYPE revgate_revocation_decisions_total counter\n");
	for (int v = REVOKE_GOOD; v <= REVOKE_FAILED; v++)
		evbuffer_add_printf(out, "revgate_revocation_decisions_total{verdict=\"%s\"} %"
		    PRIu64 "\n", revoke_verdict_name((enum revoke_verdict)v), st.verdicts[v]);
	evbuffer_add_printf(out,
	    "# HELP revgate_revocation_fail_open_total Clients admitted without a verdict "
	    "(fail-open).\n# TYPE revgate_revocation_fail_open_total counter\n"
	    "revgate_revocation_fail_open_total %" PRIu64 "\n"
	    "# HELP revgate_revocation_cached_total Decisions made from memory.\n"
	    "# TYPE revgate_revocation_cached_total counter\n"
	    "revgate_revocation_cached_total %" PRIu64 "\n"
	    "# HELP revgate_revocation_fetches_total CRL and OCSP fetches.\n"
	    "# TYPE revgate_revocation_fetches_total counter\n"
	    "revgate_revocation_fetches_total{method=\"crl\"} %" PRIu64 "\n"
	    "revgate_revocation_fetches_total{method=\"ocsp\"} %" PRIu64 "\n"
	    "# HELP revgate_revocation_fetch_failures_total Fetches that gave no usable answer.\n"
	    "# TYPE revgate_revocation_fetch_failures_total counter\n"
	    "revgate_revocation_fetch_failures_total{method=\"crl\"} %" PRIu64 "\n"
	    "revgate_revocation_fetch_failures_total{method=\"ocsp\"} %" PRIu64 "\n"
	    "# HELP revgate_revocation_cache_entries Cached CRLs and OCSP answers.\n"
	    "# TYPE revgate_revocation_cache_entries gauge\n"
	    "revgate_revocation_cache_entries{kind=\"crl\"} %zu\n"
	    "revgate_revocation_cache_entries{kind=\"ocsp\"} %zu\n"
	    "# HELP revgate_revocation_cache_bytes Memory held by the revocation caches.\n"
	    "# TYPE revgate_revocation_cache_bytes gauge\nrevgate_revocation_cache_bytes %zu\n",
	    st.verdicts[REVOKE_UNCHECKED], st.from_cache, st.crl_fetches, st.ocsp_fetches,
	    st.crl_failures, st.ocsp_failures, st.crls_cached, st.ocsp_cached, st.cache_bytes);
}

static int
server_start_admin(struct server *srv)
{
	const struct conf *cfg = server_cfg(srv);
	const struct conf_addr *a;
	char err[SERVER_ERR_MAX], where[300];

	if (!cfg->admin.enabled || cfg->admin.listen.n == 0)
		return 0;
	a = &cfg->admin.listen.v[0];
	if ((srv->admin = admin_new(srv->base, a->host, a->port, err, sizeof(err))) == NULL) {
		log_error("%s", err);
		return -1;
	}
	admin_set_metrics(srv->admin, server_write_metrics, srv);
	listen_format(a->host, admin_port(srv->admin), where, sizeof(where));
	log_info("admin listener bound to %s", where);
	return 0;
}

static int
server_start_workers(struct server *srv)
{
	unsigned n = conf_worker_threads(server_cfg(srv));
	size_t nhosts = server_cfg(srv)->http.hosts.n;
	int *fds = calloc((size_t)n * nhosts, sizeof(int));
	int rc = -1;

	if (fds == NULL || (srv->workers = calloc(n, sizeof(*srv->workers))) == NULL) {
		log_error("out of memory starting workers");
		goto out;
	}
	for (size_t i = 0; i < (size_t)n * nhosts; i++)
		fds[i] = -1;
	if (server_open_listeners(srv, fds, n) == -1)
		goto out;
	for (unsigned w = 0; w < n; w++) {
		srv->workers[w] = worker_new(w, srv->rt, fds + w * nhosts, nhosts,
		    server_on_worker_exit, srv);
		for (size_t h = 0; h < nhosts; h++)
			fds[w * nhosts + h] = -1;	/* handed over, even on failure */
		if (srv->workers[w] == NULL) {
			log_error("cannot create worker %u: out of memory", w);
			goto out;
		}
		srv->nworkers++;
		if (worker_start(srv->workers[w]) == -1) {
			log_error("cannot start worker thread %u: %s", w, strerror(errno));
			goto out;
		}
	}
	rc = 0;
out:
	for (size_t i = 0; fds != NULL && i < (size_t)n * nhosts; i++)
		if (fds[i] != -1)
			close(fds[i]);
	free(fds);
	return rc;
}

static void
server_teardown(struct server *srv)
{
	/*
	 * Workers stop first (their connections cancel their checks), then the revocation thread
	 * (it posts nothing afterwards), then the workers are freed (running what was posted).
	 */
	server_stop_workers(srv);
	for (unsigned i = 0; i < srv->nworkers; i++)
		worker_join(srv->workers[i]);
	revoker_stop(srv->revoker);
	for (unsigned i = 0; i < srv->nworkers; i++)
		worker_free(srv->workers[i]);
	revoker_free(srv->revoker);
	srv->revoker = NULL;
	free(srv->workers);
	srv->workers = NULL;
	srv->nworkers = 0;
	admin_free(srv->admin);
	srv->admin = NULL;
	for (size_t i = 0; i < sizeof(srv->signals) / sizeof(srv->signals[0]); i++) {
		if (srv->signals[i] != NULL)
			event_free(srv->signals[i]);
		srv->signals[i] = NULL;
	}
	if (srv->rotate != NULL)
		event_free(srv->rotate);
	if (srv->worker_exit != NULL)
		event_free(srv->worker_exit);
	if (srv->drain_timer != NULL)
		event_free(srv->drain_timer);
	if (srv->report != NULL)
		event_free(srv->report);
	if (srv->ready_poll != NULL)
		event_free(srv->ready_poll);
	srv->ready_poll = NULL;
	srv->rotate = srv->worker_exit = srv->drain_timer = srv->report = NULL;
	if (srv->base != NULL)
		event_base_free(srv->base);
	srv->base = NULL;
	runtime_unref(srv->rt);
	srv->rt = NULL;
	tlsctx_keys_free(srv->resume.keys);
	srv->resume.keys = NULL;
	sesscache_free(srv->resume.sessions);
	srv->resume.sessions = NULL;
	if (srv->accesslog_on)
		accesslog_stop();
	if (srv->curl_ready)
		curl_global_cleanup();
	log_close();
}

int
server_run(const struct server_options *opts, struct conf *cfg)
{
	struct server srv = { .opts = opts, .exit_status = 1, .generation = 1 };
	char err[SERVER_ERR_MAX];

	atomic_init(&srv.exited, 0);
	/* Before any thread or event base exists. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("libcurl: cannot initialise");
		conf_free(cfg);
		goto out;
	}
	srv.curl_ready = true;
	if (evthread_use_pthreads() == -1) {
		log_error("libevent: cannot enable thread support");
		conf_free(cfg);
		goto out;
	}
	if (server_apply_logging(cfg) == -1) {
		conf_free(cfg);
		goto out;
	}
	if (server_ensure_devcert(&srv, cfg) == -1) {
		log_error("refusing to start without a complete set of TLS files");
		conf_free(cfg);
		goto out;
	}
	if ((srv.resume.keys = tlsctx_keys_new()) == NULL) {
		log_error("cannot create session ticket keys: the random generator failed");
		conf_free(cfg);
		goto out;
	}
	if ((srv.resume.sessions = sesscache_new((size_t)cfg->tls.session_cache)) == NULL) {
		log_error("tls.sessionCache: out of memory for %" PRId64 " sessions; set a smaller "
		    "number", cfg->tls.session_cache);
		conf_free(cfg);
		goto out;
	}
	if (server_check_tls(cfg, &srv.cert_not_after, &srv.cert_not_after_known) == -1) {
		log_error("refusing to start: the TLS files did not pass their checks");
		conf_free(cfg);
		goto out;
	}
	if ((srv.rt = runtime_new(cfg, &srv.resume, srv.generation, err, sizeof(err))) == NULL) {
		log_error("%s", err);	/* runtime_new freed cfg */
		goto out;
	}
	server_note_trust(&srv, cfg);
	if ((srv.revoker = revoker_new(cfg, srv.rt->ssl_ctx, err, sizeof(err))) == NULL) {
		log_error("%s", err);
		goto out;
	}
	srv.rt->revoker = srv.revoker;
	if (revoker_enabled(srv.revoker))
		server_warn_revocation(cfg);
	if ((srv.base = event_base_new()) == NULL) {
		log_error("libevent: cannot create the event loop");
		goto out;
	}
	if (server_setup_events(&srv) == -1 || server_apply_accesslog(&srv, cfg) == -1 ||
	    server_start_admin(&srv) == -1)
		goto out;
	if (revoker_start(srv.revoker) == -1) {
		log_error("cannot start the revocation thread: %s", strerror(errno));
		goto out;
	}
	if (server_start_workers(&srv) == -1)
		goto out;
	server_on_ready_poll(-1, 0, &srv);
	if (srv.devcert_made || devcert_in_use(cfg))
		devcert_log_usage(cfg, srv.https_port, srv.devcert_made);
	log_info("revgate %s started (configuration: %s, pid %ld)", PACKAGE_VERSION,
	    opts->config_path != NULL ? opts->config_path : "defaults only", (long)getpid());
	if (event_base_dispatch(srv.base) == -1) {
		log_error("event loop failed");
		goto out;
	}
	server_on_report(-1, 0, &srv);
	log_info("stopped");
	srv.exit_status = srv.failed ? 1 : 0;
out:
	server_teardown(&srv);
	return srv.exit_status;
}
