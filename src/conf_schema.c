#include "config.h"
#include "conf_schema.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suggest.h"

#include "conf.h"

#define OFF(field) offsetof(struct conf, field)
#define MS_SECOND  1000LL
#define MS_MINUTE  (60 * MS_SECOND)
#define MS_HOUR    (60 * MS_MINUTE)
#define MS_DAY     (24 * MS_HOUR)
#define CV         "http.mtls.certificateVerification"

static const char *const conf_failure_modes[] = { "fail-closed", "fail-open", NULL };
static const char *const conf_method_failure_modes[] = { "fail-closed", "fail-open", "inherit",
    NULL };
static const char *const conf_scopes[] = { "leaf", "chain", NULL };
static const char *const conf_log_levels[] = { "error", "warn", "info", "debug", NULL };
static const char *const conf_tls_versions[] = { "TLSv1.2", "TLSv1.3", NULL };

#define KIB 1024LL
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)

/*
 * Order matters: it is the order of --print-config, and a section precedes its keys.
 * Defaults follow HarperDB's where it has one (durations in milliseconds as it writes them).
 */
const struct conf_key conf_schema[] = {
	{ "rootPath", CONF_T_PATH, OFF(root_path), "/var/lib/revgate", 0, 0, NULL },

	{ "http", CONF_T_SECTION, 0, NULL, 0, 0, NULL },
	{ "http.host", CONF_T_HOSTS, OFF(http.hosts), "0.0.0.0", 1, 0, NULL },
	{ "http.securePort", CONF_T_INT, OFF(http.secure_port), "8443", 0, 65535, NULL },
	{ "http.threads", CONF_T_THREADS, OFF(http.threads), "auto", 1, 256, NULL },
	{ "http.maxConnections", CONF_T_INT, OFF(http.max_connections), "10000", 1, 1000000,
	    NULL },
	{ "http.maxHeaderSize", CONF_T_SIZE, OFF(http.max_header_size), "16KiB", 1 * KIB,
	    1 * MIB, NULL },
	{ "http.maxBodySize", CONF_T_SIZE, OFF(http.max_body_size), "1GiB", 0,
	    INT64_MAX, NULL },
	{ "http.bufferSize", CONF_T_SIZE, OFF(http.buffer_size), "64KiB", 4 * KIB, 64 * MIB,
	    NULL },
	{ "http.handshakeTimeout", CONF_T_DURATION, OFF(http.handshake_timeout_ms), "10s",
	    100, 10 * MS_MINUTE, NULL },
	{ "http.headerTimeout", CONF_T_DURATION, OFF(http.header_timeout_ms), "10s", 100,
	    10 * MS_MINUTE, NULL },
	{ "http.bodyTimeout", CONF_T_DURATION, OFF(http.body_timeout_ms), "60s", 100,
	    MS_HOUR, NULL },
	{ "http.sendTimeout", CONF_T_DURATION, OFF(http.send_timeout_ms), "60s", 100,
	    MS_HOUR, NULL },
	{ "http.keepAliveTimeout", CONF_T_DURATION, OFF(http.keep_alive_timeout_ms), "30s",
	    0, MS_HOUR, NULL },
	{ "http.drainTimeout", CONF_T_DURATION, OFF(http.drain_timeout_ms), "30s", 0,
	    MS_HOUR, NULL },
	{ "http.mtls", CONF_T_TOGGLE, OFF(http.mtls.enabled), NULL, 0, 0, NULL },
	{ "http.mtls.enabled", CONF_T_BOOL, OFF(http.mtls.enabled), "true", 0, 0, NULL },
	{ "http.mtls.required", CONF_T_BOOL, OFF(http.mtls.required), "true", 0, 0, NULL },
	{ "http.mtls.verifyDepth", CONF_T_INT, OFF(http.mtls.verify_depth), "4", 1, 32, NULL },
	{ CV, CONF_T_TOGGLE, OFF(http.mtls.verification.enabled), NULL, 0, 0, NULL },
	{ CV ".enabled", CONF_T_BOOL, OFF(http.mtls.verification.enabled), "false", 0, 0,
	    NULL },
	{ CV ".failureMode", CONF_T_ENUM, OFF(http.mtls.verification.failure_mode),
	    "fail-closed", 0, 0, conf_failure_modes },
	{ CV ".scope", CONF_T_ENUM, OFF(http.mtls.verification.scope), "leaf", 0, 0,
	    conf_scopes },
	{ CV ".clockSkew", CONF_T_DURATION, OFF(http.mtls.verification.clock_skew_ms), "5m", 0,
	    MS_HOUR, NULL },
	{ CV ".crl", CONF_T_TOGGLE, OFF(http.mtls.verification.crl.enabled), NULL, 0, 0,
	    NULL },
	{ CV ".crl.enabled", CONF_T_BOOL, OFF(http.mtls.verification.crl.enabled), "true", 0,
	    0, NULL },
	{ CV ".crl.timeout", CONF_T_DURATION, OFF(http.mtls.verification.crl.timeout_ms),
	    "10000", 1, 10 * MS_MINUTE, NULL },
	{ CV ".crl.cacheTtl", CONF_T_DURATION,
	    OFF(http.mtls.verification.crl.cache_ttl_ms), "86400000", MS_SECOND, 30 * MS_DAY,
	    NULL },
	{ CV ".crl.gracePeriod", CONF_T_DURATION,
	    OFF(http.mtls.verification.crl.grace_period_ms), "86400000", 0, 30 * MS_DAY, NULL },
	{ CV ".crl.files", CONF_T_PATHS, OFF(http.mtls.verification.crl.files), NULL, 0, 0,
	    NULL },
	{ CV ".crl.maxSize", CONF_T_SIZE, OFF(http.mtls.verification.crl.max_size), "32MiB",
	    1 * KIB, 1 * GIB, NULL },
	{ CV ".crl.refreshBefore", CONF_T_DURATION,
	    OFF(http.mtls.verification.crl.refresh_before_ms), "0", 0, 30 * MS_DAY, NULL },
	{ CV ".crl.failureMode", CONF_T_ENUM, OFF(http.mtls.verification.crl.failure_mode),
	    "inherit", 0, 0, conf_method_failure_modes },
	{ CV ".ocsp", CONF_T_TOGGLE, OFF(http.mtls.verification.ocsp.enabled), NULL, 0, 0,
	    NULL },
	{ CV ".ocsp.enabled", CONF_T_BOOL, OFF(http.mtls.verification.ocsp.enabled), "true",
	    0, 0, NULL },
	{ CV ".ocsp.timeout", CONF_T_DURATION, OFF(http.mtls.verification.ocsp.timeout_ms),
	    "5000", 1, 10 * MS_MINUTE, NULL },
	{ CV ".ocsp.cacheTtl", CONF_T_DURATION,
	    OFF(http.mtls.verification.ocsp.cache_ttl_ms), "3600000", MS_SECOND, 7 * MS_DAY,
	    NULL },
	{ CV ".ocsp.errorCacheTtl", CONF_T_DURATION,
	    OFF(http.mtls.verification.ocsp.error_cache_ttl_ms), "300000", 0, MS_DAY, NULL },
	{ CV ".ocsp.responder", CONF_T_URL, OFF(http.mtls.verification.ocsp.responder), NULL,
	    0, 0, NULL },
	{ CV ".ocsp.nonce", CONF_T_BOOL, OFF(http.mtls.verification.ocsp.nonce), "true", 0, 0,
	    NULL },
	{ CV ".ocsp.maxSize", CONF_T_SIZE, OFF(http.mtls.verification.ocsp.max_size), "64KiB",
	    1 * KIB, 16 * MIB, NULL },
	{ CV ".ocsp.failureMode", CONF_T_ENUM, OFF(http.mtls.verification.ocsp.failure_mode),
	    "inherit", 0, 0, conf_method_failure_modes },
	{ CV ".cache", CONF_T_SECTION, 0, NULL, 0, 0, NULL },
	{ CV ".cache.maxEntries", CONF_T_INT, OFF(http.mtls.verification.cache.max_entries),
	    "100000", 1, 100000000, NULL },
	{ CV ".cache.maxBytes", CONF_T_SIZE, OFF(http.mtls.verification.cache.max_bytes),
	    "256MiB", 1 * MIB, 64 * GIB, NULL },

	{ "tls", CONF_T_SECTION, 0, NULL, 0, 0, NULL },
	{ "tls.certificate", CONF_T_PATH, OFF(tls.certificate), NULL, 0, 0, NULL },
	{ "tls.privateKey", CONF_T_PATH, OFF(tls.private_key), NULL, 0, 0, NULL },
	{ "tls.certificateAuthority", CONF_T_PATH, OFF(tls.certificate_authority), NULL, 0, 0,
	    NULL },
	{ "tls.privateKeyPassword", CONF_T_SECRET, OFF(tls.private_key_password), NULL, 0, 0,
	    NULL },
	{ "tls.certificatePassword", CONF_T_SECRET, OFF(tls.certificate_password), NULL, 0, 0,
	    NULL },
	{ "tls.minVersion", CONF_T_ENUM, OFF(tls.min_version), "TLSv1.2", 0, 0,
	    conf_tls_versions },
	{ "tls.ciphers", CONF_T_STRING, OFF(tls.ciphers),
	    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
	    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305", 0, 0, NULL },
	{ "tls.ciphersuites", CONF_T_STRING, OFF(tls.ciphersuites), NULL, 0, 0, NULL },
	{ "tls.curves", CONF_T_STRING, OFF(tls.curves), "X25519:P-256:P-384", 0, 0, NULL },
	{ "tls.sessionTickets", CONF_T_BOOL, OFF(tls.session_tickets), "true", 0, 0, NULL },
	{ "tls.sessionCache", CONF_T_INT, OFF(tls.session_cache), "10000", 0, 10000000, NULL },
	{ "tls.sessionTimeout", CONF_T_DURATION, OFF(tls.session_timeout_ms), "10m", MS_SECOND,
	    MS_DAY, NULL },
	{ "tls.ticketKeyRotation", CONF_T_DURATION, OFF(tls.ticket_key_rotation_ms), "1h",
	    MS_MINUTE, MS_DAY, NULL },
	{ "tls.skipKeyPermissionCheck", CONF_T_BOOL, OFF(tls.skip_key_permission_check), "false",
	    0, 0, NULL },
	{ "tls.expiryWarning", CONF_T_DURATION, OFF(tls.expiry_warning_ms), "30d", 0,
	    365 * MS_DAY, NULL },
	{ "tls.hostNames", CONF_T_HOSTS, OFF(tls.host_names), NULL, 0, 0, NULL },

	{ "proxy", CONF_T_SECTION, 0, NULL, 0, 0, NULL },
	{ "proxy.backend", CONF_T_BACKENDS, OFF(proxy.backends), "http://127.0.0.1:9925", 0,
	    0, NULL },
	{ "proxy.connectTimeout", CONF_T_DURATION, OFF(proxy.connect_timeout_ms), "5s", 1,
	    10 * MS_MINUTE, NULL },
	{ "proxy.readTimeout", CONF_T_DURATION, OFF(proxy.read_timeout_ms), "60s", 1, MS_HOUR,
	    NULL },
	{ "proxy.keepalive", CONF_T_INT, OFF(proxy.keepalive), "32", 0, 10000, NULL },
	{ "proxy.keepaliveTimeout", CONF_T_DURATION, OFF(proxy.keepalive_timeout_ms), "60s",
	    MS_SECOND, MS_HOUR, NULL },
	{ "proxy.failTimeout", CONF_T_DURATION, OFF(proxy.fail_timeout_ms), "10s", 0, MS_HOUR,
	    NULL },
	{ "proxy.forwardCertificate", CONF_T_BOOL, OFF(proxy.forward_certificate), "false", 0,
	    0, NULL },
	{ "proxy.headers", CONF_T_SECTION, 0, NULL, 0, 0, NULL },
	{ "proxy.headers.verify", CONF_T_HEADER, OFF(proxy.headers.verify), "X-Client-Verify",
	    0, 0, NULL },
	{ "proxy.headers.subject", CONF_T_HEADER, OFF(proxy.headers.subject),
	    "X-Client-Cert-Subject", 0, 0, NULL },
	{ "proxy.headers.issuer", CONF_T_HEADER, OFF(proxy.headers.issuer),
	    "X-Client-Cert-Issuer", 0, 0, NULL },
	{ "proxy.headers.serial", CONF_T_HEADER, OFF(proxy.headers.serial),
	    "X-Client-Cert-Serial", 0, 0, NULL },
	{ "proxy.headers.fingerprint", CONF_T_HEADER, OFF(proxy.headers.fingerprint),
	    "X-Client-Cert-Fingerprint", 0, 0, NULL },
	{ "proxy.headers.certificate", CONF_T_HEADER, OFF(proxy.headers.certificate),
	    "X-Client-Cert", 0, 0, NULL },
	{ "proxy.headers.revocation", CONF_T_HEADER, OFF(proxy.headers.revocation),
	    "X-Client-Cert-Revocation", 0, 0, NULL },

	{ "admin", CONF_T_TOGGLE, OFF(admin.enabled), NULL, 0, 0, NULL },
	{ "admin.enabled", CONF_T_BOOL, OFF(admin.enabled), "true", 0, 0, NULL },
	{ "admin.listen", CONF_T_LISTEN, OFF(admin.listen), "127.0.0.1:9926", 0, 0, NULL },

	{ "log", CONF_T_SECTION, 0, NULL, 0, 0, NULL },
	{ "log.level", CONF_T_ENUM, OFF(log.level), "info", 0, 0, conf_log_levels },
	{ "log.file", CONF_T_PATH, OFF(log.file), NULL, 0, 0, NULL },
	{ "log.access", CONF_T_TOGGLE, OFF(log.access), NULL, 0, 0, NULL },
	{ "log.access.enabled", CONF_T_BOOL, OFF(log.access), "true", 0, 0, NULL },
	{ "log.access.file", CONF_T_PATH, OFF(log.access_file), NULL, 0, 0, NULL },
};

const size_t conf_schema_len = sizeof(conf_schema) / sizeof(conf_schema[0]);

const struct conf_key *
conf_schema_find(const char *path)
{
	for (size_t i = 0; i < conf_schema_len; i++)
		if (strcmp(conf_schema[i].path, path) == 0)
			return &conf_schema[i];
	return NULL;
}

size_t
conf_schema_index(const struct conf_key *k)
{
	return (size_t)(k - conf_schema);
}

void
conf_schema_env_name(const struct conf_key *k, char *buf, size_t size)
{
	size_t n = (size_t)snprintf(buf, size, "REVGATE_");

	for (const char *p = k->path; *p != '\0' && n + 1 < size; p++)
		buf[n++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
	buf[n < size ? n : size - 1] = '\0';
}

/*
 * Short environment names kept beside the generic ones, for settings operators know by another
 * name: CockroachDB's COCKROACH_SKIP_KEY_PERMISSION_CHECK has this spelling.
 */
static const struct { const char *env; const char *path; } conf_schema_env_aliases[] = {
	{ "REVGATE_SKIP_KEY_PERMISSION_CHECK", "tls.skipKeyPermissionCheck" },
};

const struct conf_key *
conf_schema_find_env(const char *name)
{
	char env[160];

	for (size_t i = 0; i < sizeof(conf_schema_env_aliases) /
	    sizeof(conf_schema_env_aliases[0]); i++)
		if (strcmp(conf_schema_env_aliases[i].env, name) == 0)
			return conf_schema_find(conf_schema_env_aliases[i].path);

	for (size_t i = 0; i < conf_schema_len; i++) {
		if (conf_schema[i].type == CONF_T_SECTION)
			continue;
		conf_schema_env_name(&conf_schema[i], env, sizeof(env));
		if (strcmp(env, name) == 0)
			return &conf_schema[i];
	}
	return NULL;
}

const char *
conf_schema_leaf(const struct conf_key *k)
{
	const char *dot = strrchr(k->path, '.');

	return dot != NULL ? dot + 1 : k->path;
}

unsigned
conf_schema_depth(const struct conf_key *k)
{
	unsigned n = 0;

	for (const char *p = k->path; *p != '\0'; p++)
		n += *p == '.';
	return n;
}

/* True when K sits directly under the section PARENT (PLEN bytes; 0 for the top level). */
static bool
conf_schema_is_child(const struct conf_key *k, const char *parent, size_t plen)
{
	if (plen == 0)
		return strchr(k->path, '.') == NULL;
	return strncmp(k->path, parent, plen) == 0 && k->path[plen] == '.' &&
	    strchr(k->path + plen + 1, '.') == NULL;
}

const char *
conf_schema_suggest(const char *path)
{
	const char *dot = strrchr(path, '.');
	const char *word = dot != NULL ? dot + 1 : path;
	size_t plen = dot != NULL ? (size_t)(dot - path) : 0;
	const char *siblings[sizeof(conf_schema) / sizeof(conf_schema[0])];
	const char *found;

	for (size_t i = 0; i < conf_schema_len; i++)
		siblings[i] = conf_schema_is_child(&conf_schema[i], path, plen) ?
		    conf_schema_leaf(&conf_schema[i]) : NULL;
	if ((found = suggest_closest(word, siblings, conf_schema_len)) != NULL)
		return found;
	/* The right name at the wrong level ("securePort" at the top): offer its full path. */
	for (size_t i = 0; i < conf_schema_len; i++)
		if (suggest_distance(word, conf_schema_leaf(&conf_schema[i])) == 0)
			return conf_schema[i].path;
	return NULL;
}

const char *
conf_schema_suggest_env(const char *name, char *buf, size_t size)
{
	char names[sizeof(conf_schema) / sizeof(conf_schema[0])][160];
	const char *ptrs[sizeof(conf_schema) / sizeof(conf_schema[0])];
	const char *found;

	for (size_t i = 0; i < conf_schema_len; i++) {
		conf_schema_env_name(&conf_schema[i], names[i], sizeof(names[i]));
		ptrs[i] = conf_schema[i].type == CONF_T_SECTION ? NULL : names[i];
	}
	if ((found = suggest_closest(name, ptrs, conf_schema_len)) == NULL)
		return NULL;
	snprintf(buf, size, "%s", found);
	return buf;
}

bool
conf_schema_is_list(const struct conf_key *k)
{
	switch (k->type) {
	case CONF_T_PATHS:
	case CONF_T_HOSTS:
	case CONF_T_BACKENDS:
		return true;
	case CONF_T_SECTION:
	case CONF_T_TOGGLE:
	case CONF_T_BOOL:
	case CONF_T_INT:
	case CONF_T_DURATION:
	case CONF_T_SIZE:
	case CONF_T_ENUM:
	case CONF_T_STRING:
	case CONF_T_SECRET:
	case CONF_T_PATH:
	case CONF_T_URL:
	case CONF_T_HEADER:
	case CONF_T_THREADS:
	case CONF_T_LISTEN:
		return false;
	}
	return false;
}
