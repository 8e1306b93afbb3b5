/*
 * conf: revgate's configuration, loaded from YAML into a typed structure with defaults.
 *
 * Sources, highest precedence first: command line (--set key=value), environment
 * (REVGATE_HTTP_SECUREPORT=9443), the YAML file, built-in defaults. Every key is described once
 * in a schema table (conf.c); loading walks the document against that table, so unknown keys,
 * wrong types, bad enum values and out-of-range numbers are all reported with the file, line,
 * column and full key path. All errors are collected before loading fails.
 *
 * A loaded configuration is immutable and owned by whoever loaded it; it does no I/O beyond
 * reading the file, and never touches certificates or sockets.
 */
#ifndef REVGATE_CONF_H
#define REVGATE_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"

enum conf_failure_mode {
	CONF_FAIL_CLOSED,
	CONF_FAIL_OPEN,
	CONF_FAIL_INHERIT,	/* per method: use certificateVerification.failureMode */
};

enum conf_scope {
	CONF_SCOPE_LEAF,
	CONF_SCOPE_CHAIN,
};

struct conf_list {
	size_t	  n;
	char	**v;		/* owned strings */
};

/* A host and port, parsed from "host:port", "[v6]:port" or a backend URL. */
struct conf_addr {
	char		*text;	/* as written; owned */
	char		*host;	/* without brackets; owned */
	uint16_t	 port;
};

struct conf_addrs {
	size_t			 n;
	struct conf_addr	*v;	/* owned */
};

struct conf_crl {
	bool			enabled;
	int64_t			timeout_ms;
	int64_t			cache_ttl_ms;
	int64_t			grace_period_ms;
	struct conf_list	files;
	uint64_t		max_size;		/* bytes of one CRL */
	int64_t			refresh_before_ms;	/* 0: at 75 % of the lifetime */
	int			failure_mode;		/* enum conf_failure_mode */
};

struct conf_ocsp {
	bool	 enabled;
	int64_t	 timeout_ms;
	int64_t	 cache_ttl_ms;
	int64_t	 error_cache_ttl_ms;
	char	*responder;		/* NULL: use the certificate's AIA */
	bool	 nonce;
	uint64_t max_size;		/* bytes of one response */
	int	 failure_mode;		/* enum conf_failure_mode */
};

struct conf_revocation_cache {
	int64_t		max_entries;	/* OCSP answers, and CRLs, each */
	uint64_t	max_bytes;
};

struct conf_verification {
	bool			enabled;	/* revocation checking on */
	int			failure_mode;	/* enum conf_failure_mode, never INHERIT */
	int			scope;		/* enum conf_scope */
	int64_t			clock_skew_ms;
	struct conf_crl	crl;
	struct conf_ocsp	ocsp;
	struct conf_revocation_cache cache;
};

struct conf_mtls {
	bool				enabled;	/* ask clients for a certificate */
	bool				required;	/* refuse clients without one */
	int64_t				verify_depth;	/* intermediates allowed */
	struct conf_verification	verification;
};

enum conf_tls_version {
	CONF_TLS_1_2,
	CONF_TLS_1_3,
};

struct conf_http {
	struct conf_list	hosts;
	int64_t			secure_port;
	int64_t			threads;	/* 0 = auto (number of CPUs) */
	int64_t			max_connections;	/* per worker thread */
	uint64_t		max_header_size;	/* request head bytes; over: 431 */
	uint64_t		max_body_size;		/* request body bytes; 0: unlimited; over: 413 */
	uint64_t		buffer_size;		/* per direction, before back-pressure */
	int64_t			handshake_timeout_ms;
	int64_t			header_timeout_ms;	/* whole request head; over: 408 */
	int64_t			body_timeout_ms;	/* between two reads of a request body */
	int64_t			send_timeout_ms;	/* a client not reading the response */
	int64_t			keep_alive_timeout_ms;	/* idle between requests */
	int64_t			drain_timeout_ms;	/* SIGTERM: in-flight requests */
	struct conf_mtls	mtls;
};

struct conf_tls {
	char	*certificate;		/* PEM (with chain) or PKCS#12 (.p12/.pfx) */
	char	*private_key;		/* PEM or PKCS#8, maybe encrypted; unused for PKCS#12 */
	char	*certificate_authority;	/* PEM bundle or a directory of hashed CA files */
	char	*private_key_password;
	char	*certificate_password;	/* PKCS#12 */
	int	 min_version;		/* enum conf_tls_version */
	char	*ciphers;		/* TLS 1.2 cipher list */
	char	*ciphersuites;		/* TLS 1.3 suites; NULL: OpenSSL's */
	char	*curves;
	bool	 session_tickets;
	int64_t	 session_cache;		/* sessions kept in memory; 0: stateless tickets */
	int64_t	 session_timeout_ms;
	int64_t	 ticket_key_rotation_ms;
	bool	 skip_key_permission_check;	/* also REVGATE_SKIP_KEY_PERMISSION_CHECK */
	int64_t	 expiry_warning_ms;	/* warn when the certificate expires sooner */
	struct conf_list host_names;	/* names the certificate must cover; empty: unchecked */
};

/* Names of the headers that carry the client's identity to the backend. */
struct conf_headers {
	char	*verify;
	char	*subject;
	char	*issuer;
	char	*serial;
	char	*fingerprint;
	char	*certificate;		/* URL-encoded PEM; sent only if forward_certificate */
	char	*revocation;
};

struct conf_proxy {
	struct conf_addrs	backends;
	int64_t			connect_timeout_ms;
	int64_t			read_timeout_ms;
	int64_t			keepalive;		/* idle connections per backend and worker */
	int64_t			keepalive_timeout_ms;
	int64_t			fail_timeout_ms;	/* a failed backend is skipped this long */
	bool			forward_certificate;
	struct conf_headers	headers;
};

struct conf_admin {
	bool			enabled;
	struct conf_addrs	listen;		/* exactly one address */
};

struct conf_log {
	int	 level;		/* enum log_level */
	char	*file;		/* NULL: stderr */
	bool	 access;	/* one line per request */
	char	*access_file;	/* NULL: stderr */
};

struct conf {
	char			*source;	/* configuration file, or NULL for defaults only */
	char			*root_path;
	struct conf_http	 http;
	struct conf_tls	 tls;
	struct conf_proxy	 proxy;
	struct conf_admin	 admin;
	struct conf_log	 log;
	char			**origins;	/* per schema key: where its value came from */
};

/* One --set override from the command line: "key=value". */
struct conf_overrides {
	size_t	  n;
	char	**v;		/* borrowed from argv */
};

/* Messages collected while loading; each line is complete ("file:line:col: key: ..."). */
struct conf_diag {
	struct conf_list	errors;
	struct conf_list	warnings;
};

/*
 * Loads the configuration. PATH may be NULL (defaults only). ENVP is the environment to read
 * REVGATE_* variables from (NULL: none); SETS are command-line overrides (NULL: none).
 * Returns a new configuration, or NULL when DIAG holds at least one error. Warnings are added to
 * DIAG either way. The caller owns the result (conf_free) and DIAG (conf_diag_clear).
 * Blocks on reading PATH: call at start-up or reload, never from a worker's event loop.
 */
struct conf *conf_load(const char *path, char *const *envp,
    const struct conf_overrides *sets, struct conf_diag *diag);

/* Loads from a buffer instead of a file, naming it ORIGIN (tests, fuzzing). */
struct conf *conf_load_buffer(const char *origin, const char *buf, size_t len,
    char *const *envp, const struct conf_overrides *sets, struct conf_diag *diag);

void conf_free(struct conf *cfg);
void conf_diag_clear(struct conf_diag *diag);

/*
 * Writes the effective configuration as YAML that conf_load accepts again, each value
 * followed by a comment naming where it came from. Secrets are redacted.
 */
void conf_print(const struct conf *cfg, FILE *out);

/*
 * Where the value of the key at PATH came from ("revgate.yaml:3:5", "environment ...",
 * "default", "default (rootPath/keys)"). Never NULL.
 */
const char *conf_origin(const struct conf *cfg, const char *path);

/* True when the key at PATH holds a built-in or derived default, not a value someone set. */
bool conf_is_default(const struct conf *cfg, const char *path);

/* Number of worker threads to start: http.threads, or the CPU count for "auto". */
unsigned conf_worker_threads(const struct conf *cfg);

/* Names as used in the configuration file. Never NULL. */
const char *conf_failure_mode_name(enum conf_failure_mode mode);
const char *conf_scope_name(enum conf_scope scope);

#endif
