#include "config.h"
#include "devcert.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "cadb.h"
#include "log.h"
#include "pki.h"

#define DEVCERT_ORG		"revgate development"
#define DEVCERT_SERVER_CN	"revgate development server"
#define DEVCERT_CLIENT_CN	"revgate-dev-client"
#define DEVCERT_CA_DAYS		3650
#define DEVCERT_LEAF_DAYS	825
#define DEVCERT_MAX_NAMES	32	/* SANs of each kind; http.host entries past it are left out */

/* The files of the development set; the three tls.* paths are borrowed from the configuration. */
struct devcert_paths {
	char		 dir[PATH_MAX];		/* rootPath/keys */
	char		 ca_key[PATH_MAX];
	char		 client_cert[PATH_MAX];
	char		 client_key[PATH_MAX];
	char		 index[PATH_MAX];
	const char	*ca_cert;		/* tls.certificateAuthority */
	const char	*cert;			/* tls.certificate */
	const char	*key;			/* tls.privateKey */
};

/* The server certificate's subject alternative names. */
struct devcert_names {
	const char	*dns[DEVCERT_MAX_NAMES];
	size_t		 ndns;
	const char	*ips[DEVCERT_MAX_NAMES];
	size_t		 nips;
	char		 host[HOST_NAME_MAX + 1];	/* gethostname(), which dns may point to */
};

/* What generating holds; one cleanup frees it all. */
struct devcert_job {
	const struct devcert_paths	*paths;
	time_t				 now;
	EVP_PKEY			*ca_key;
	X509				*ca;
	struct pki_err			 err;
};

static int
devcert_paths_init(const struct conf *cfg, struct devcert_paths *p, struct pki_err *err)
{
	int n;

	memset(p, 0, sizeof(*p));
	n = snprintf(p->dir, sizeof(p->dir), "%s/keys", cfg->root_path);
	if (n < 0 || (size_t)n >= sizeof(p->dir))
		return pki_fail(err, "rootPath %s: path too long", cfg->root_path);
	p->ca_cert = cfg->tls.certificate_authority;
	p->cert = cfg->tls.certificate;
	p->key = cfg->tls.private_key;
	if (pki_join(p->ca_key, p->dir, "ca.key", err) != 0 ||
	    pki_join(p->client_cert, p->dir, "client.pem", err) != 0 ||
	    pki_join(p->client_key, p->dir, "client.key", err) != 0 ||
	    pki_join(p->index, p->dir, CADB_INDEX, err) != 0)
		return -1;
	return 0;
}

/* Anything but "no such file" counts as there: an unreadable directory is not an empty one. */
static bool
devcert_exists(const char *path)
{
	return access(path, F_OK) == 0 || errno != ENOENT;
}

/* Neither certificate nor key: any other file of the set means someone else's files are here. */
static enum devcert_state
devcert_check_rest(const struct devcert_paths *p, char *msg, size_t msglen)
{
	const char *const others[] = { p->ca_cert, p->ca_key, p->client_cert, p->client_key,
	    p->index };

	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		if (!devcert_exists(others[i]))
			continue;
		snprintf(msg, msglen, "tls.certificate %s and tls.privateKey %s do not exist, but "
		    "%s does, so revgate does not generate development certificates there; put "
		    "your certificate and key in place, set tls.certificate and tls.privateKey, or "
		    "move %s's files away to have a development set generated", p->cert, p->key,
		    others[i], p->dir);
		return DEVCERT_PARTIAL;
	}
	return DEVCERT_ABSENT;
}

enum devcert_state
devcert_inspect(const struct conf *cfg, char *msg, size_t msglen)
{
	struct devcert_paths p;
	struct pki_err err;
	bool cert, key;

	if (msglen > 0)
		msg[0] = '\0';
	if (cfg->root_path == NULL || cfg->tls.certificate == NULL ||
	    cfg->tls.private_key == NULL || cfg->tls.certificate_authority == NULL ||
	    !conf_is_default(cfg, "tls.certificate") || !conf_is_default(cfg, "tls.privateKey") ||
	    !conf_is_default(cfg, "tls.certificateAuthority"))
		return DEVCERT_CONFIGURED;
	if (devcert_paths_init(cfg, &p, &err) != 0)
		return DEVCERT_CONFIGURED;	/* tlscheck reports the unusable paths */
	cert = devcert_exists(p.cert);
	key = devcert_exists(p.key);
	if (cert && key)
		return DEVCERT_PRESENT;
	if (cert || key) {
		snprintf(msg, msglen, "%s %s does not exist, but %s %s does; revgate generates "
		    "development certificates only when neither exists: put the missing file in "
		    "place, set tls.certificate and tls.privateKey to your own files, or move %s "
		    "away to have a development set generated", cert ? "tls.privateKey" :
		    "tls.certificate", cert ? p.key : p.cert, cert ? "tls.certificate" :
		    "tls.privateKey", cert ? p.cert : p.key, cert ? p.cert : p.key);
		return DEVCERT_PARTIAL;
	}
	return devcert_check_rest(&p, msg, msglen);
}

/* ---- names ---------------------------------------------------------------------------- */

static void
devcert_names_add(const char **v, size_t *n, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (strcasecmp(v[i], name) == 0)
			return;
	if (*n < DEVCERT_MAX_NAMES)
		v[(*n)++] = name;
}

/* True for 0.0.0.0 and ::, which a certificate cannot name. */
static bool
devcert_is_wildcard(const char *ip)
{
	static const unsigned char zero[16];
	unsigned char buf[16];

	if (inet_pton(AF_INET, ip, buf) == 1)
		return memcmp(buf, zero, 4) == 0;
	return inet_pton(AF_INET6, ip, buf) == 1 && memcmp(buf, zero, 16) == 0;
}

/* localhost, this host's name, the loopback addresses and each concrete http.host entry. */
static void
devcert_names_init(const struct conf *cfg, struct devcert_names *nm)
{
	memset(nm, 0, sizeof(*nm));
	devcert_names_add(nm->dns, &nm->ndns, "localhost");
	if (gethostname(nm->host, sizeof(nm->host) - 1) == 0 && pki_check_dns(nm->host) == 0)
		devcert_names_add(nm->dns, &nm->ndns, nm->host);
	devcert_names_add(nm->ips, &nm->nips, "127.0.0.1");
	devcert_names_add(nm->ips, &nm->nips, "::1");
	for (size_t i = 0; i < cfg->http.hosts.n; i++) {
		const char *h = cfg->http.hosts.v[i];

		if (pki_check_ip(h) == 0 && !devcert_is_wildcard(h))
			devcert_names_add(nm->ips, &nm->nips, h);
		else if (pki_check_ip(h) != 0 && pki_check_dns(h) == 0)
			devcert_names_add(nm->dns, &nm->ndns, h);
	}
}

/* ---- generating ----------------------------------------------------------------------- */

/* Creates DIR with MODE unless it is a directory already; an existing one keeps its mode. */
static int
devcert_mkdir(const char *dir, mode_t mode, const char *what, struct pki_err *err)
{
	struct stat st;

	if (mkdir(dir, mode) == 0)
		return 0;
	if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	if (errno == EEXIST)
		return pki_fail(err, "%s %s exists and is not a directory", what, dir);
	return pki_fail(err, "cannot create %s %s: %s", what, dir, strerror(errno));
}

/*
 * A new key and a PROFILE certificate for it, signed by the job's CA (or self-signed when the
 * job has none yet), recorded in the CA's index before any file is written: a certificate the
 * CA does not know of could never be revoked. Writes the key to KEY_PATH (0600), then the
 * certificate alone to CERT_PATH (0644): the CA is a root, so a chain would add nothing a peer
 * may send. The caller owns *CERT_OUT when it is not NULL.
 */
static int
devcert_issue(struct devcert_job *job, const struct pki_cert_spec *tmpl, const char *cert_path,
    const char *key_path, X509 **cert_out, EVP_PKEY **key_out)
{
	struct pki_cert_spec spec = *tmpl;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int rc = -1;

	if ((key = pki_key_new(PKI_KEY_ECDSA_P256, &job->err)) == NULL)
		goto out;
	spec.org = DEVCERT_ORG;
	spec.now = job->now;
	spec.key = key;
	spec.issuer = job->ca;
	spec.issuer_key = job->ca_key;
	if ((cert = pki_cert_new(&spec, &job->err)) == NULL)
		goto out;
	if (job->ca != NULL && cadb_record(job->paths->dir, cert, &job->err) != 0)
		goto out;
	if (pki_write_key(key_path, key, false, &job->err) != 0 ||
	    pki_write_certs(cert_path, &cert, 1, false, &job->err) != 0)
		goto out;
	rc = 0;
out:
	if (rc == 0 && cert_out != NULL) {
		*cert_out = cert;	/* handed over */
		*key_out = key;
		cert = NULL;
		key = NULL;
	}
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

static int
devcert_generate(const struct conf *cfg, const struct devcert_paths *p, struct pki_err *err)
{
	struct devcert_job job = { .paths = p, .now = time(NULL) };
	struct devcert_names nm;
	struct pki_cert_spec ca = { .profile = PKI_PROFILE_ROOT_CA, .cn = DEVCERT_CA_CN,
	    .days = DEVCERT_CA_DAYS };
	struct pki_cert_spec client = { .profile = PKI_PROFILE_CLIENT, .cn = DEVCERT_CLIENT_CN,
	    .days = DEVCERT_LEAF_DAYS };
	struct pki_cert_spec server = { .profile = PKI_PROFILE_NODE, .cn = DEVCERT_SERVER_CN,
	    .days = DEVCERT_LEAF_DAYS };
	int rc = -1;

	devcert_names_init(cfg, &nm);
	server.dns = nm.dns;
	server.ndns = nm.ndns;
	server.ips = nm.ips;
	server.nips = nm.nips;
	if (devcert_mkdir(cfg->root_path, 0755, "rootPath", &job.err) != 0 ||
	    devcert_mkdir(p->dir, 0700, "the keys directory", &job.err) != 0)
		goto out;
	/* The CA's database first: cadb_init refuses a directory that already has an index. */
	if (cadb_init(p->dir, false, &job.err) != 0 ||
	    devcert_issue(&job, &ca, p->ca_cert, p->ca_key, &job.ca, &job.ca_key) != 0 ||
	    devcert_issue(&job, &client, p->client_cert, p->client_key, NULL, NULL) != 0 ||
	    devcert_issue(&job, &server, p->cert, p->key, NULL, NULL) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		*err = job.err;
	X509_free(job.ca);
	EVP_PKEY_free(job.ca_key);
	return rc;
}

int
devcert_ensure(const struct conf *cfg, char *err, size_t errlen)
{
	struct devcert_paths p;
	struct pki_err why;

	switch (devcert_inspect(cfg, err, errlen)) {
	case DEVCERT_CONFIGURED:
	case DEVCERT_PRESENT:
		return 0;
	case DEVCERT_PARTIAL:
		return -1;
	case DEVCERT_ABSENT:
		break;
	}
	if (devcert_paths_init(cfg, &p, &why) != 0 || devcert_generate(cfg, &p, &why) != 0) {
		snprintf(err, errlen, "cannot generate development certificates in %s/keys: %s",
		    cfg->root_path, why.msg);
		return -1;
	}
	return 1;
}

bool
devcert_in_use(const struct conf *cfg)
{
	STACK_OF(X509) *certs;
	struct pki_err ignored;
	char cn[128];
	bool dev = false;

	if (devcert_inspect(cfg, NULL, 0) != DEVCERT_PRESENT ||
	    (certs = pki_read_certs(cfg->tls.certificate, &ignored)) == NULL)
		return false;
	if (X509_NAME_get_text_by_NID(X509_get_issuer_name(sk_X509_value(certs, 0)),
	    NID_commonName, cn, sizeof(cn)) > 0)
		dev = strcmp(cn, DEVCERT_CA_CN) == 0;
	sk_X509_pop_free(certs, X509_free);
	ERR_clear_error();
	return dev;
}

/* ---- telling the operator ------------------------------------------------------------- */

void
devcert_log_generated(const struct conf *cfg)
{
	log_warn("**********************************************************************");
	log_warn("WARNING: generated DEVELOPMENT certificates in %s/keys: a CA of its own "
	    "(ca.pem, ca.key), a server certificate (certificate.pem, privateKey.pem) and a "
	    "client certificate (client.pem, client.key). They are NOT FOR PRODUCTION: nobody "
	    "else trusts this CA, and its key lies next to the certificates it signs.",
	    cfg->root_path);
	log_warn("To use your own certificates, set tls.certificate, tls.privateKey and "
	    "tls.certificateAuthority, or make a CA and certificates with `revgate cert` "
	    "(see revgate-cert(1)).");
	log_warn("**********************************************************************");
}

/* PATH as one shell word: as it is when it holds no special character, else single-quoted. */
static void
devcert_quote(const char *path, char *buf, size_t size)
{
	size_t n = 0;

	if (strspn(path, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	    "_./-+,:@%=") == strlen(path)) {
		snprintf(buf, size, "%s", path);
		return;
	}
	buf[n++] = '\'';
	for (const char *s = path; *s != '\0' && n + 6 < size; s++) {
		if (*s == '\'') {
			memcpy(buf + n, "'\\''", 4);
			n += 4;
		} else {
			buf[n++] = *s;
		}
	}
	buf[n++] = '\'';
	buf[n] = '\0';
}

/* The host part of the URL: the first http.host, or localhost when it is a wildcard. */
static void
devcert_url_host(const struct conf *cfg, char *buf, size_t size)
{
	const char *h = cfg->http.hosts.n > 0 ? cfg->http.hosts.v[0] : "localhost";

	if (pki_check_ip(h) == 0 && devcert_is_wildcard(h))
		h = "localhost";
	snprintf(buf, size, strchr(h, ':') != NULL ? "[%s]" : "%s", h);
}

void
devcert_log_usage(const struct conf *cfg, uint16_t port, bool generated)
{
	char ca[PATH_MAX * 4 + 3], cert[PATH_MAX * 4 + 3], key[PATH_MAX * 4 + 3];
	char host[300], client[sizeof(cert) + sizeof(key) + 16];
	struct devcert_paths p;
	struct pki_err ignored;

	if (devcert_paths_init(cfg, &p, &ignored) != 0)
		return;
	devcert_quote(p.ca_cert, ca, sizeof(ca));
	devcert_quote(p.client_cert, cert, sizeof(cert));
	devcert_quote(p.client_key, key, sizeof(key));
	devcert_url_host(cfg, host, sizeof(host));
	client[0] = '\0';
	if (cfg->http.mtls.enabled)
		snprintf(client, sizeof(client), " --cert %s --key %s", cert, key);
	if (generated)
		log_warn("development certificates: try curl --cacert %s%s https://%s:%u/", ca,
		    client, host, (unsigned)port);
	else
		log_info("tls.certificate was issued by the revgate development CA (%s): not for "
		    "production; try curl --cacert %s%s https://%s:%u/", p.dir, ca, client, host,
		    (unsigned)port);
}
