#include "config.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "conf.h"
#include "sesscache.h"
#include "tlsctx.h"
#include "testpki.h"

#define DEFAULT_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"

/* One PKI for the whole run, made in main() before any test forks. */
static struct testpki *pki;

/*
 * Per test (checked fixture): a fresh key ring, an empty session cache and a configuration
 * that loads (stateless tickets: tls.sessionCache 0).
 */
static struct tlsctx_keys *keys;
static struct tlsctx_resume resumption;
static struct conf cfg;

static void
setup(void)
{
	keys = tlsctx_keys_new();
	ck_assert_ptr_nonnull(keys);
	resumption.keys = keys;
	resumption.sessions = sesscache_new(64);
	ck_assert_ptr_nonnull(resumption.sessions);
	memset(&cfg, 0, sizeof(cfg));
	cfg.tls.certificate = pki->server.cert_path;
	cfg.tls.private_key = pki->server.key_path;
	cfg.tls.certificate_authority = pki->ca_bundle;
	cfg.tls.min_version = CONF_TLS_1_2;
	cfg.tls.ciphers = DEFAULT_CIPHERS;
	cfg.tls.curves = "X25519:P-256:P-384";
	cfg.tls.session_tickets = true;
	cfg.tls.session_timeout_ms = 10 * 60 * 1000;
	cfg.http.mtls.enabled = true;
	cfg.http.mtls.required = true;
	cfg.http.mtls.verify_depth = 4;
}

static void
teardown(void)
{
	tlsctx_keys_free(keys);
	keys = NULL;
	sesscache_free(resumption.sessions);
	resumption = (struct tlsctx_resume){ NULL, NULL };
}

static SSL_CTX *
server_ok(void)
{
	char err[2048];
	SSL_CTX *ctx = tlsctx_new(&cfg, &resumption, err, sizeof(err));

	ck_assert_msg(ctx != NULL, "tlsctx_new failed: %s", err);
	ck_assert_msg(ERR_peek_error() == 0, "error queue left non-empty");
	return ctx;
}

/*
 * tlsctx_new must fail with a message that, up to the appended OpenSSL queue, is exactly
 * the one formatted from FMT; and it must leave the error queue empty.
 */
static void __attribute__((format(printf, 1, 2)))
assert_refused(const char *fmt, ...)
{
	char err[2048], expected[2048];
	char *queue;
	va_list ap;
	SSL_CTX *ctx;

	va_start(ap, fmt);
	vsnprintf(expected, sizeof(expected), fmt, ap);
	va_end(ap);
	memset(err, 'x', sizeof(err));
	ctx = tlsctx_new(&cfg, &resumption, err, sizeof(err));
	ck_assert_ptr_null(ctx);
	queue = strstr(err, "; OpenSSL: ");
	if (queue != NULL)
		*queue = '\0';
	ck_assert_str_eq(err, expected);
	ck_assert_msg(ERR_peek_error() == 0, "error queue left non-empty");
}

/* --- an in-memory connection: client and server SSL over a BIO pair ---------------------- */

struct conn {
	SSL	*client;
	SSL	*server;
};

/* A client context trusting the test CA, presenting ID (may be NULL) and its CHAIN. */
static SSL_CTX *
client_ctx(const struct testpki_entity *id, X509 *const *chain, size_t nchain, int max_version)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(X509_STORE_add_cert(SSL_CTX_get_cert_store(c), pki->ca.cert), 1);
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	if (id != NULL) {
		ck_assert_int_eq(SSL_CTX_use_certificate(c, id->cert), 1);
		ck_assert_int_eq(SSL_CTX_use_PrivateKey(c, id->key), 1);
	}
	for (size_t i = 0; i < nchain; i++)
		ck_assert_int_eq(SSL_CTX_add1_chain_cert(c, chain[i]), 1);
	if (max_version != 0)
		ck_assert_int_eq(SSL_CTX_set_max_proto_version(c, max_version), 1);
	return c;
}

static struct conn
conn_new(SSL_CTX *sctx, SSL_CTX *cctx, SSL_SESSION *resume)
{
	struct conn c = { SSL_new(cctx), SSL_new(sctx) };
	BIO *cb = NULL, *sb = NULL;

	ck_assert_ptr_nonnull(c.client);
	ck_assert_ptr_nonnull(c.server);
	ck_assert_int_eq(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
	SSL_set_bio(c.client, cb, cb);
	SSL_set_bio(c.server, sb, sb);
	SSL_set_connect_state(c.client);
	SSL_set_accept_state(c.server);
	ck_assert_int_eq(SSL_set_tlsext_host_name(c.client, "localhost"), 1);
	ck_assert_int_eq(SSL_set1_host(c.client, "localhost"), 1);
	if (resume != NULL)
		ck_assert_int_eq(SSL_set_session(c.client, resume), 1);
	return c;
}

/* Advances one side; 1 done, 0 wants more, -1 failed. */
static int
conn_step(SSL *ssl)
{
	int r = SSL_do_handshake(ssl);

	if (r == 1)
		return 1;
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return 0;
	default:
		return -1;
	}
}

/*
 * Runs both handshakes to the end, bounded in rounds. Returns 0 when both sides completed,
 * -1 when either failed. A TLS 1.3 client finishes before the server has judged its
 * certificate, so success is "both done", and the server's verdict is what counts.
 */
static int
conn_handshake(struct conn *c)
{
	int cs = 0, ss = 0;

	for (int round = 0; round < 32 && (cs == 0 || ss == 0); round++) {
		if (cs == 0)
			cs = conn_step(c->client);
		if (ss == 0)
			ss = conn_step(c->server);
		if (cs < 0 || ss < 0)
			break;
	}
	ERR_clear_error();
	return cs == 1 && ss == 1 ? 0 : -1;
}

/* Sends a byte of application data server to client, which makes the client read tickets. */
static void
conn_exchange(struct conn *c)
{
	char buf[8];

	ck_assert_int_eq(SSL_write(c->server, "ping", 4), 4);
	ck_assert_int_eq(SSL_read(c->client, buf, sizeof(buf)), 4);
	ck_assert_mem_eq(buf, "ping", 4);
}

/*
 * Both sides say close_notify, as revgate does when it closes a healthy connection: OpenSSL
 * marks the session of a connection freed without it as not resumable.
 */
static void
conn_close(struct conn *c)
{
	ck_assert_int_ge(SSL_shutdown(c->client), 0);
	ck_assert_int_ge(SSL_shutdown(c->server), 0);
}

static void
conn_free(struct conn *c)
{
	SSL_free(c->client);
	SSL_free(c->server);
	ERR_clear_error();
}

/* One handshake of a client presenting ID; returns 0 if it completed. */
static int
handshake_as(SSL_CTX *sctx, const struct testpki_entity *id, char *status, size_t size)
{
	SSL_CTX *cctx = client_ctx(id, NULL, 0, 0);
	struct conn c = conn_new(sctx, cctx, NULL);
	char buf[256];
	int rc = conn_handshake(&c);

	if (rc == 0 && status != NULL)
		snprintf(status, size, "%s", tlsctx_verify_status(c.server, buf, sizeof(buf)));
	conn_free(&c);
	SSL_CTX_free(cctx);
	return rc;
}

/* A full handshake that returns the client's session, resumable or not as expected. */
static SSL_SESSION *
session_from(SSL_CTX *sctx, SSL_CTX *cctx, bool resumable)
{
	struct conn c = conn_new(sctx, cctx, NULL);
	SSL_SESSION *sess;

	ck_assert_int_eq(conn_handshake(&c), 0);
	ck_assert_int_eq(SSL_session_reused(c.server), 0);
	conn_exchange(&c);
	conn_close(&c);
	sess = SSL_get1_session(c.client);
	ck_assert_ptr_nonnull(sess);
	ck_assert_int_eq(SSL_SESSION_is_resumable(sess), resumable);
	conn_free(&c);
	return sess;
}

/* Tries to resume SESS; returns whether the server resumed. Checks the verdict survives. */
static bool
resumes(SSL_CTX *sctx, SSL_CTX *cctx, SSL_SESSION *sess)
{
	struct conn c = conn_new(sctx, cctx, sess);
	char buf[256];
	bool reused;

	ck_assert_int_eq(conn_handshake(&c), 0);
	reused = SSL_session_reused(c.server) == 1;
	ck_assert_int_eq(SSL_session_reused(c.client), reused);
	ck_assert_ptr_nonnull(SSL_get0_peer_certificate(c.server));
	ck_assert_str_eq(tlsctx_verify_status(c.server, buf, sizeof(buf)), "SUCCESS");
	conn_exchange(&c);
	conn_close(&c);
	conn_free(&c);
	return reused;
}

/* --- loading ------------------------------------------------------------------------------- */

START_TEST(pem_certificate_and_key_load)
{
	SSL_CTX *ctx = server_ok();

	ck_assert_int_eq(X509_cmp(SSL_CTX_get0_certificate(ctx), pki->server.cert), 0);
	ck_assert_int_eq(SSL_CTX_get_verify_mode(ctx),
	    SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
	ck_assert_int_eq(SSL_CTX_get_verify_depth(ctx), 4);
	ck_assert(SSL_CTX_get_mode(ctx) & SSL_MODE_NO_AUTO_CHAIN);
	SSL_CTX_free(ctx);
}
END_TEST

START_TEST(shipped_default_ciphers_and_curves_are_accepted)
{
	struct conf_diag diag = { 0 };
	struct conf *defaults = conf_load_buffer("revgate.yaml", "", 0, NULL, NULL, &diag);
	SSL_CTX *ctx;

	ck_assert_ptr_nonnull(defaults);
	cfg.tls.ciphers = defaults->tls.ciphers;
	cfg.tls.ciphersuites = defaults->tls.ciphersuites;
	cfg.tls.curves = defaults->tls.curves;
	cfg.tls.min_version = defaults->tls.min_version;
	ctx = server_ok();
	SSL_CTX_free(ctx);
	conf_free(defaults);
	conf_diag_clear(&diag);
}
END_TEST

START_TEST(pkcs12_bundle_with_right_password_loads_key_leaf_and_chain)
{
	STACK_OF(X509) *chain = NULL;
	SSL_CTX *ctx;

	cfg.tls.certificate = pki->server_p12;
	cfg.tls.private_key = NULL;
	cfg.tls.certificate_password = TESTPKI_PASSWORD;
	ctx = server_ok();
	ck_assert_int_eq(X509_cmp(SSL_CTX_get0_certificate(ctx), pki->server.cert), 0);
	ck_assert_int_eq(SSL_CTX_get0_chain_certs(ctx, &chain), 1);
	ck_assert_int_eq(sk_X509_num(chain), 1);
	ck_assert_int_eq(X509_cmp(sk_X509_value(chain, 0), pki->ca.cert), 0);
	SSL_CTX_free(ctx);
}
END_TEST

START_TEST(der_pkcs12_is_recognised_whatever_its_name)
{
	char *renamed = testpki_path(pki, "server-bundle.bin");
	SSL_CTX *ctx;

	ck_assert_int_eq(link(pki->server_p12, renamed), 0);
	cfg.tls.certificate = renamed;
	cfg.tls.private_key = NULL;
	cfg.tls.certificate_password = TESTPKI_PASSWORD;
	ctx = server_ok();
	ck_assert_int_eq(X509_cmp(SSL_CTX_get0_certificate(ctx), pki->server.cert), 0);
	SSL_CTX_free(ctx);
	unlink(renamed);
	free(renamed);
}
END_TEST

START_TEST(pkcs12_with_wrong_password_is_refused_with_exact_message)
{
	cfg.tls.certificate = pki->server_p12;
	cfg.tls.private_key = NULL;
	cfg.tls.certificate_password = "battery staple";
	assert_refused("tls.certificatePassword: wrong password for \"%s\"", pki->server_p12);
}
END_TEST

START_TEST(pkcs12_without_password_says_to_set_one)
{
	cfg.tls.certificate = pki->server_p12;
	cfg.tls.private_key = NULL;
	assert_refused("tls.certificate: \"%s\" is a password-protected PKCS#12 bundle; set "
	    "tls.certificatePassword", pki->server_p12);
}
END_TEST

START_TEST(p12_named_file_that_is_not_pkcs12_is_refused)
{
	char *fake = testpki_path(pki, "fake.p12");

	ck_assert_int_eq(link(pki->server.cert_path, fake), 0);
	cfg.tls.certificate = fake;
	assert_refused("tls.certificate: cannot load \"%s\": not a PKCS#12 bundle; export it "
	    "again or give a PEM file", fake);
	unlink(fake);
	free(fake);
}
END_TEST

START_TEST(encrypted_key_loads_with_its_password)
{
	SSL_CTX *ctx;

	cfg.tls.private_key = pki->server_key_enc;
	cfg.tls.private_key_password = TESTPKI_PASSWORD;
	ctx = server_ok();
	SSL_CTX_free(ctx);
}
END_TEST

START_TEST(encrypted_key_without_password_says_to_set_it)
{
	cfg.tls.private_key = pki->server_key_enc;
	assert_refused("tls.privateKey: \"%s\" is encrypted; set tls.privateKeyPassword",
	    pki->server_key_enc);
}
END_TEST

START_TEST(encrypted_key_with_wrong_password_is_refused)
{
	cfg.tls.private_key = pki->server_key_enc;
	cfg.tls.private_key_password = "battery staple";
	assert_refused("tls.privateKeyPassword: wrong password for \"%s\"", pki->server_key_enc);
}
END_TEST

START_TEST(traditional_encrypted_pem_key_is_handled_the_same)
{
	char *path = testpki_path(pki, "server-trad.key");
	SSL_CTX *ctx;

	testpki_write_key_traditional(path, pki->server.key, TESTPKI_PASSWORD);
	cfg.tls.private_key = path;
	assert_refused("tls.privateKey: \"%s\" is encrypted; set tls.privateKeyPassword", path);
	cfg.tls.private_key_password = "battery staple";
	assert_refused("tls.privateKeyPassword: wrong password for \"%s\"", path);
	cfg.tls.private_key_password = TESTPKI_PASSWORD;
	ctx = server_ok();
	SSL_CTX_free(ctx);
	unlink(path);
	free(path);
}
END_TEST

START_TEST(key_of_another_certificate_is_refused_naming_both_files)
{
	cfg.tls.private_key = pki->client.key_path;
	assert_refused("tls.privateKey: \"%s\" does not match the certificate in "
	    "tls.certificate \"%s\"; use the key the certificate was issued for",
	    pki->client.key_path, pki->server.cert_path);
}
END_TEST

START_TEST(missing_certificate_file_names_key_path_and_reason)
{
	char *missing = testpki_path(pki, "missing.pem");

	cfg.tls.certificate = missing;
	assert_refused("tls.certificate: cannot load \"%s\": No such file or directory; check "
	    "the path or generate certificates", missing);
	free(missing);
}
END_TEST

START_TEST(missing_key_file_names_key_path_and_reason)
{
	char *missing = testpki_path(pki, "missing.key");

	cfg.tls.private_key = missing;
	assert_refused("tls.privateKey: cannot load \"%s\": No such file or directory; check "
	    "the path or generate certificates", missing);
	free(missing);
}
END_TEST

START_TEST(certificate_file_without_pem_is_refused)
{
	cfg.tls.certificate = pki->no_cert;
	assert_refused("tls.certificate: cannot load \"%s\": no PEM certificate chain; expected "
	    "PEM (leaf first) or PKCS#12 (.p12/.pfx)", pki->no_cert);
}
END_TEST

START_TEST(ca_file_without_certificate_is_refused)
{
	cfg.tls.certificate_authority = pki->no_cert;
	assert_refused("tls.certificateAuthority: \"%s\" holds no certificate; give a PEM "
	    "bundle of the CAs that issue client certificates", pki->no_cert);
}
END_TEST

START_TEST(mtls_without_certificate_authority_is_refused)
{
	cfg.tls.certificate_authority = NULL;
	assert_refused("tls.certificateAuthority: not set, but http.mtls is enabled; set it to "
	    "the CA that issues client certificates");
}
END_TEST

START_TEST(bad_cipher_list_names_key_and_value)
{
	cfg.tls.ciphers = "NOT-A-CIPHER";
	assert_refused("tls.ciphers: no usable cipher in \"NOT-A-CIPHER\"; use OpenSSL cipher "
	    "list syntax (see `openssl ciphers -v`)");
}
END_TEST

START_TEST(bad_ciphersuites_and_curves_name_key_and_value)
{
	cfg.tls.ciphersuites = "TLS_NOPE";
	assert_refused("tls.ciphersuites: cannot use \"TLS_NOPE\"; use TLS 1.3 suite names "
	    "such as TLS_AES_128_GCM_SHA256");
	cfg.tls.ciphersuites = NULL;
	cfg.tls.curves = "P-257";
	assert_refused("tls.curves: cannot use \"P-257\"; use group names such as "
	    "X25519:P-256:P-384");
}
END_TEST

START_TEST(min_version_tls13_sets_the_minimum_protocol)
{
	SSL_CTX *ctx;

	cfg.tls.min_version = CONF_TLS_1_3;
	ctx = server_ok();
	ck_assert_int_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_3_VERSION);
	SSL_CTX_free(ctx);
}
END_TEST

START_TEST(tickets_off_means_no_ticket_and_no_cache)
{
	SSL_CTX *ctx;

	cfg.tls.session_tickets = false;
	ctx = tlsctx_new(&cfg, NULL, NULL, 0);
	ck_assert_ptr_nonnull(ctx);
	ck_assert(SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET);
	ck_assert_uint_eq(SSL_CTX_get_num_tickets(ctx), 0);
	ck_assert_int_eq(SSL_CTX_get_session_cache_mode(ctx), SSL_SESS_CACHE_OFF);
	SSL_CTX_free(ctx);
}
END_TEST

START_TEST(tickets_on_issue_one_ticket_with_the_configured_lifetime)
{
	SSL_CTX *ctx;

	cfg.tls.session_timeout_ms = 90500;
	ctx = server_ok();
	ck_assert_uint_eq(SSL_CTX_get_num_tickets(ctx), 1);
	ck_assert_int_eq(SSL_CTX_get_session_cache_mode(ctx), SSL_SESS_CACHE_OFF);
	ck_assert_int_eq(SSL_CTX_get_timeout(ctx), 91);
	SSL_CTX_free(ctx);
}
END_TEST

START_TEST(mtls_disabled_asks_for_no_certificate)
{
	SSL_CTX *ctx;
	char status[256];

	cfg.http.mtls.enabled = false;
	ctx = server_ok();
	ck_assert_int_eq(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_NONE);
	ck_assert_int_eq(handshake_as(ctx, &pki->client, status, sizeof(status)), 0);
	ck_assert_str_eq(status, "NONE");
	SSL_CTX_free(ctx);
}
END_TEST

START_TEST(ticket_key_ring_rotates_and_frees)
{
	ck_assert_int_eq(tlsctx_keys_rotate(keys), 0);
	ck_assert_int_eq(tlsctx_keys_rotate(keys), 0);
	tlsctx_keys_free(NULL);
}
END_TEST

/* --- handshakes ---------------------------------------------------------------------------- */

START_TEST(client_certificate_from_the_ca_is_verified)
{
	SSL_CTX *ctx = server_ok();
	char status[256];

	ck_assert_int_eq(handshake_as(ctx, &pki->client, status, sizeof(status)), 0);
	ck_assert_str_eq(status, "SUCCESS");
	SSL_CTX_free(ctx);
}
END_TEST

START_TEST(missing_client_certificate_fails_when_required)
{
	SSL_CTX *ctx = server_ok();

	ck_assert_int_eq(handshake_as(ctx, NULL, NULL, 0), -1);
	SSL_CTX_free(ctx);
}
END_TEST

START_TEST(missing_client_certificate_is_admitted_when_optional)
{
	SSL_CTX *ctx;
	char status[256];

	cfg.http.mtls.required = false;
	ctx = server_ok();
	ck_assert_int_eq(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_PEER);
	ck_assert_int_eq(handshake_as(ctx, NULL, status, sizeof(status)), 0);
	ck_assert_str_eq(status, "NONE");
	SSL_CTX_free(ctx);
}
END_TEST

START_TEST(client_certificate_from_another_ca_fails_even_when_optional)
{
	SSL_CTX *ctx;

	ctx = server_ok();
	ck_assert_int_eq(handshake_as(ctx, &pki->other_client, NULL, 0), -1);
	SSL_CTX_free(ctx);
	cfg.http.mtls.required = false;
	ctx = server_ok();
	ck_assert_int_eq(handshake_as(ctx, &pki->other_client, NULL, 0), -1);
	SSL_CTX_free(ctx);
}
END_TEST

START_TEST(expired_client_certificate_fails)
{
	SSL_CTX *ctx = server_ok();

	ck_assert_int_eq(handshake_as(ctx, &pki->expired, NULL, 0), -1);
	SSL_CTX_free(ctx);
}
END_TEST

START_TEST(ca_directory_of_hashed_files_verifies_clients)
{
	char *dir = testpki_path(pki, "hashed");
	SSL_CTX *ctx;
	char status[256];

	ck_assert_int_eq(mkdir(dir, 0700), 0);
	testpki_write_hashed(dir, pki->ca.cert);
	cfg.tls.certificate_authority = dir;
	ctx = server_ok();
	ck_assert_int_eq(sk_X509_NAME_num(SSL_CTX_get_client_CA_list(ctx)), 1);
	ck_assert_int_eq(handshake_as(ctx, &pki->client, status, sizeof(status)), 0);
	ck_assert_str_eq(status, "SUCCESS");
	ck_assert_int_eq(handshake_as(ctx, &pki->other_client, NULL, 0), -1);
	SSL_CTX_free(ctx);
	free(dir);
}
END_TEST

START_TEST(empty_ca_directory_is_refused)
{
	char *dir = testpki_path(pki, "empty");

	ck_assert_int_eq(mkdir(dir, 0700), 0);
	cfg.tls.certificate_authority = dir;
	assert_refused("tls.certificateAuthority: directory \"%s\" holds no certificate; add "
	    "the CA certificates and run `openssl rehash`", dir);
	free(dir);
}
END_TEST

/* Client chain: leaf <- inter2 <- inter1 <- the test CA (which alone is trusted). */
START_TEST(verify_depth_bounds_the_intermediates)
{
	struct testpki_entity i1, i2, leaf;
	X509 *chain[2];
	SSL_CTX *ctx, *cctx;
	struct conn c;

	testpki_issue(&i1, testpki_name("CN", "Intermediate 1", NULL), &pki->ca,
	    testpki_ext_ca);
	testpki_issue(&i2, testpki_name("CN", "Intermediate 2", NULL), &i1, testpki_ext_ca);
	testpki_issue(&leaf, testpki_name("CN", "deep", NULL), &i2, testpki_ext_client);
	chain[0] = i2.cert;
	chain[1] = i1.cert;
	cctx = client_ctx(&leaf, chain, 2, 0);

	cfg.http.mtls.verify_depth = 1;
	ctx = server_ok();
	c = conn_new(ctx, cctx, NULL);
	ck_assert_int_eq(conn_handshake(&c), -1);
	conn_free(&c);
	SSL_CTX_free(ctx);

	cfg.http.mtls.verify_depth = 2;
	ctx = server_ok();
	c = conn_new(ctx, cctx, NULL);
	ck_assert_int_eq(conn_handshake(&c), 0);
	conn_free(&c);
	SSL_CTX_free(ctx);

	SSL_CTX_free(cctx);
	testpki_entity_clear(&i1);
	testpki_entity_clear(&i2);
	testpki_entity_clear(&leaf);
}
END_TEST

/* Without NO_AUTO_CHAIN OpenSSL would append the CA from the trust store to a bare leaf. */
START_TEST(server_chain_is_sent_exactly_as_the_file_holds_it)
{
	SSL_CTX *cctx = client_ctx(&pki->client, NULL, 0, 0);
	const char *files[2] = { pki->server.cert_path, pki->server_chain };

	for (int i = 0; i < 2; i++) {
		SSL_CTX *ctx;
		struct conn c;

		cfg.tls.certificate = (char *)files[i];
		ctx = server_ok();
		c = conn_new(ctx, cctx, NULL);
		ck_assert_int_eq(conn_handshake(&c), 0);
		ck_assert_int_eq(sk_X509_num(SSL_get_peer_cert_chain(c.client)), i + 1);
		conn_free(&c);
		SSL_CTX_free(ctx);
	}
	SSL_CTX_free(cctx);
}
END_TEST

static const char *
alpn_with(SSL_CTX *ctx, const unsigned char *protos, unsigned int len, char *out)
{
	SSL_CTX *cctx = client_ctx(&pki->client, NULL, 0, 0);
	struct conn c;
	const unsigned char *sel = NULL;
	unsigned int sel_len = 0;

	ck_assert_int_eq(SSL_CTX_set_alpn_protos(cctx, protos, len), 0);
	c = conn_new(ctx, cctx, NULL);
	ck_assert_int_eq(conn_handshake(&c), 0);
	SSL_get0_alpn_selected(c.server, &sel, &sel_len);
	snprintf(out, 256, "%.*s", (int)sel_len, sel != NULL ? (const char *)sel : "");
	conn_free(&c);
	SSL_CTX_free(cctx);
	return out;
}

START_TEST(alpn_selects_http11_when_offered_and_nothing_otherwise)
{
	static const unsigned char both[] = "\x02h2\x08http/1.1";
	static const unsigned char h2[] = "\x02h2";
	SSL_CTX *ctx = server_ok();
	char sel[256];

	ck_assert_str_eq(alpn_with(ctx, both, sizeof(both) - 1, sel), "http/1.1");
	ck_assert_str_eq(alpn_with(ctx, h2, sizeof(h2) - 1, sel), "");
	SSL_CTX_free(ctx);
}
END_TEST

START_TEST(min_version_tls13_refuses_a_tls12_client)
{
	SSL_CTX *ctx, *cctx = client_ctx(&pki->client, NULL, 0, TLS1_2_VERSION);
	struct conn c;

	cfg.tls.min_version = CONF_TLS_1_3;
	ctx = server_ok();
	c = conn_new(ctx, cctx, NULL);
	ck_assert_int_eq(conn_handshake(&c), -1);
	conn_free(&c);
	SSL_CTX_free(ctx);
	SSL_CTX_free(cctx);
}
END_TEST

static void
check_ticket_resumes(int max_version)
{
	SSL_CTX *ctx = server_ok();
	SSL_CTX *cctx = client_ctx(&pki->client, NULL, 0, max_version);
	SSL_SESSION *sess = session_from(ctx, cctx, true);

	ck_assert(resumes(ctx, cctx, sess));
	SSL_SESSION_free(sess);
	SSL_CTX_free(cctx);
	SSL_CTX_free(ctx);
}

START_TEST(tls13_ticket_resumes_with_the_peer_certificate)
{
	check_ticket_resumes(0);
}
END_TEST

START_TEST(tls12_ticket_resumes_with_the_peer_certificate)
{
	check_ticket_resumes(TLS1_2_VERSION);
}
END_TEST

START_TEST(ticket_survives_a_reload_sharing_the_key_ring)
{
	SSL_CTX *ctx = server_ok();
	SSL_CTX *reloaded = server_ok();
	SSL_CTX *cctx = client_ctx(&pki->client, NULL, 0, 0);
	SSL_SESSION *sess = session_from(ctx, cctx, true);

	ck_assert(resumes(reloaded, cctx, sess));
	SSL_SESSION_free(sess);
	SSL_CTX_free(cctx);
	SSL_CTX_free(reloaded);
	SSL_CTX_free(ctx);
}
END_TEST

START_TEST(ticket_from_the_previous_key_still_resumes)
{
	SSL_CTX *ctx = server_ok();
	SSL_CTX *cctx = client_ctx(&pki->client, NULL, 0, 0);
	SSL_SESSION *sess = session_from(ctx, cctx, true);

	ck_assert_int_eq(tlsctx_keys_rotate(keys), 0);
	ck_assert(resumes(ctx, cctx, sess));
	SSL_SESSION_free(sess);
	SSL_CTX_free(cctx);
	SSL_CTX_free(ctx);
}
END_TEST

START_TEST(ticket_no_longer_resumes_after_two_rotations)
{
	SSL_CTX *ctx = server_ok();
	SSL_CTX *cctx = client_ctx(&pki->client, NULL, 0, 0);
	SSL_SESSION *sess = session_from(ctx, cctx, true);

	ck_assert_int_eq(tlsctx_keys_rotate(keys), 0);
	ck_assert_int_eq(tlsctx_keys_rotate(keys), 0);
	ck_assert(!resumes(ctx, cctx, sess));
	SSL_SESSION_free(sess);
	SSL_CTX_free(cctx);
	SSL_CTX_free(ctx);
}
END_TEST

START_TEST(tickets_off_nothing_resumes)
{
	const int versions[2] = { 0, TLS1_2_VERSION };
	SSL_CTX *ctx;

	cfg.tls.session_tickets = false;
	ctx = server_ok();
	for (int i = 0; i < 2; i++) {
		SSL_CTX *cctx = client_ctx(&pki->client, NULL, 0, versions[i]);
		SSL_SESSION *sess = session_from(ctx, cctx, false);

		ck_assert(!resumes(ctx, cctx, sess));
		SSL_SESSION_free(sess);
		SSL_CTX_free(cctx);
	}
	SSL_CTX_free(ctx);
}
END_TEST

/* --- the shared session cache (tls.sessionCache > 0) --------------------------------------- */

/*
 * Resumes SESS (NULL: a full handshake) and returns the session the client holds afterwards:
 * with TLS 1.3, the one the connection's new ticket names. *REUSED tells whether it resumed.
 */
static SSL_SESSION *
next_session(SSL_CTX *sctx, SSL_CTX *cctx, SSL_SESSION *sess, bool *reused)
{
	struct conn c = conn_new(sctx, cctx, sess);
	SSL_SESSION *next;

	ck_assert_int_eq(conn_handshake(&c), 0);
	*reused = SSL_session_reused(c.server) == 1;
	ck_assert_ptr_nonnull(SSL_get0_peer_certificate(c.server));
	conn_exchange(&c);
	conn_close(&c);
	next = SSL_get1_session(c.client);
	ck_assert_ptr_nonnull(next);
	conn_free(&c);
	return next;
}

static void
assert_cache_counts(uint64_t hits, uint64_t misses)
{
	struct sesscache_stats st;

	sesscache_stats(resumption.sessions, &st);
	ck_assert_uint_eq(st.hits, hits);
	ck_assert_uint_eq(st.misses, misses);
}

START_TEST(cache_on_names_cached_sessions_in_tickets)
{
	SSL_CTX *ctx;

	cfg.tls.session_cache = 64;
	ctx = server_ok();
	ck_assert(SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET);
	ck_assert_uint_eq(SSL_CTX_get_num_tickets(ctx), 1);
	ck_assert_int_eq(SSL_CTX_get_session_cache_mode(ctx),
	    SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
	SSL_CTX_free(ctx);
	cfg.tls.session_tickets = false;
	ctx = server_ok();
	ck_assert_uint_eq(SSL_CTX_get_num_tickets(ctx), 0);
	SSL_CTX_free(ctx);
}
END_TEST

/* Two workers' contexts sharing the session cache, a client, and its first session. */
struct workers {
	SSL_CTX		*w[2];
	SSL_CTX		*cctx;
	SSL_SESSION	*sess;
};

static void
workers_start(struct workers *t, int max_version)
{
	cfg.tls.session_cache = 64;
	t->w[0] = server_ok();
	t->w[1] = server_ok();
	t->cctx = client_ctx(&pki->client, NULL, 0, max_version);
	t->sess = session_from(t->w[0], t->cctx, true);
}

static void
workers_end(struct workers *t)
{
	SSL_SESSION_free(t->sess);
	SSL_CTX_free(t->cctx);
	SSL_CTX_free(t->w[1]);
	SSL_CTX_free(t->w[0]);
}

START_TEST(tls13_cached_session_resumes_on_another_worker_once)
{
	struct workers t;

	workers_start(&t, 0);
	ck_assert(resumes(t.w[1], t.cctx, t.sess));
	/* RFC 8446 C.4: a TLS 1.3 session resumes once; its connection brought a new ticket. */
	ck_assert(!resumes(t.w[0], t.cctx, t.sess));
	assert_cache_counts(1, 1);
	workers_end(&t);
}
END_TEST

START_TEST(tls13_each_resumption_brings_a_ticket_that_resumes)
{
	SSL_CTX *worker[2], *cctx;
	SSL_SESSION *sess, *next;
	bool reused;
	struct sesscache_stats st;

	cfg.tls.session_cache = 64;
	worker[0] = server_ok();
	worker[1] = server_ok();
	cctx = client_ctx(&pki->client, NULL, 0, 0);
	sess = next_session(worker[0], cctx, NULL, &reused);
	ck_assert(!reused);
	for (int i = 0; i < 6; i++) {
		next = next_session(worker[i % 2], cctx, sess, &reused);
		ck_assert_msg(reused, "resumption %d did not resume", i + 1);
		SSL_SESSION_free(sess);
		sess = next;
	}
	assert_cache_counts(6, 0);
	/* One session per client: each resumption took its session out and left the next. */
	sesscache_stats(resumption.sessions, &st);
	ck_assert_uint_eq(st.entries, 1);
	SSL_SESSION_free(sess);
	SSL_CTX_free(cctx);
	SSL_CTX_free(worker[1]);
	SSL_CTX_free(worker[0]);
}
END_TEST

START_TEST(cached_session_resumes_after_a_connection_ends_without_close_notify)
{
	const int versions[2] = { 0, TLS1_2_VERSION };
	SSL_CTX *ctx;

	cfg.tls.session_cache = 64;
	ctx = server_ok();
	for (int i = 0; i < 2; i++) {
		SSL_CTX *cctx = client_ctx(&pki->client, NULL, 0, versions[i]);
		struct conn c = conn_new(ctx, cctx, NULL);
		SSL_SESSION *sess;

		ck_assert_int_eq(conn_handshake(&c), 0);
		conn_exchange(&c);
		/*
		 * The client closes properly (or it would not offer the session again); the server
		 * side is freed without close_notify, and OpenSSL calls its session bad.
		 */
		ck_assert_int_ge(SSL_shutdown(c.client), 0);
		sess = SSL_get1_session(c.client);
		conn_free(&c);
		ck_assert_msg(resumes(ctx, cctx, sess), "%s did not resume",
		    versions[i] == 0 ? "TLS 1.3" : "TLS 1.2");
		SSL_SESSION_free(sess);
		SSL_CTX_free(cctx);
	}
	SSL_CTX_free(ctx);
}
END_TEST

START_TEST(tls12_session_id_resumes_on_any_worker_until_forgotten)
{
	struct workers t;

	workers_start(&t, TLS1_2_VERSION);
	ck_assert(resumes(t.w[1], t.cctx, t.sess));
	ck_assert(resumes(t.w[0], t.cctx, t.sess));
	ck_assert(resumes(t.w[1], t.cctx, t.sess));
	/* A reload with new trust anchors forgets every session. */
	ck_assert_int_eq(sesscache_reset(resumption.sessions, 64), 0);
	ck_assert(!resumes(t.w[0], t.cctx, t.sess));
	workers_end(&t);
}
END_TEST

START_TEST(cache_keeps_at_most_its_bound)
{
	SSL_CTX *ctx, *cctx;
	struct sesscache_stats st;
	bool reused;

	cfg.tls.session_cache = 16;
	ck_assert_int_eq(sesscache_reset(resumption.sessions, 16), 0);
	ctx = server_ok();
	cctx = client_ctx(&pki->client, NULL, 0, 0);
	for (int i = 0; i < 48; i++)
		SSL_SESSION_free(next_session(ctx, cctx, NULL, &reused));
	sesscache_stats(resumption.sessions, &st);
	ck_assert_uint_le(st.entries, 16);
	ck_assert_uint_eq(st.entries + st.evictions, 48);
	SSL_CTX_free(cctx);
	SSL_CTX_free(ctx);
}
END_TEST

START_TEST(cached_session_past_its_timeout_does_not_resume)
{
	SSL_CTX *ctx, *cctx;
	SSL_SESSION *sess;

	cfg.tls.session_cache = 64;
	cfg.tls.session_timeout_ms = 1000;
	ctx = server_ok();
	cctx = client_ctx(&pki->client, NULL, 0, TLS1_2_VERSION);
	sess = session_from(ctx, cctx, true);
	sleep(2);
	ck_assert(!resumes(ctx, cctx, sess));
	SSL_SESSION_free(sess);
	SSL_CTX_free(cctx);
	SSL_CTX_free(ctx);
}
END_TEST

static Suite *
tlsctx_suite(void)
{
	Suite *s = suite_create("tlsctx");
	TCase *load = tcase_create("loading");
	TCase *hs = tcase_create("handshakes");

	tcase_add_checked_fixture(load, setup, teardown);
	tcase_add_test(load, pem_certificate_and_key_load);
	tcase_add_test(load, shipped_default_ciphers_and_curves_are_accepted);
	tcase_add_test(load, pkcs12_bundle_with_right_password_loads_key_leaf_and_chain);
	tcase_add_test(load, der_pkcs12_is_recognised_whatever_its_name);
	tcase_add_test(load, pkcs12_with_wrong_password_is_refused_with_exact_message);
	tcase_add_test(load, pkcs12_without_password_says_to_set_one);
	tcase_add_test(load, p12_named_file_that_is_not_pkcs12_is_refused);
	tcase_add_test(load, encrypted_key_loads_with_its_password);
	tcase_add_test(load, encrypted_key_without_password_says_to_set_it);
	tcase_add_test(load, encrypted_key_with_wrong_password_is_refused);
	tcase_add_test(load, traditional_encrypted_pem_key_is_handled_the_same);
	tcase_add_test(load, key_of_another_certificate_is_refused_naming_both_files);
	tcase_add_test(load, missing_certificate_file_names_key_path_and_reason);
	tcase_add_test(load, missing_key_file_names_key_path_and_reason);
	tcase_add_test(load, certificate_file_without_pem_is_refused);
	tcase_add_test(load, ca_file_without_certificate_is_refused);
	tcase_add_test(load, mtls_without_certificate_authority_is_refused);
	tcase_add_test(load, bad_cipher_list_names_key_and_value);
	tcase_add_test(load, bad_ciphersuites_and_curves_name_key_and_value);
	tcase_add_test(load, min_version_tls13_sets_the_minimum_protocol);
	tcase_add_test(load, tickets_off_means_no_ticket_and_no_cache);
	tcase_add_test(load, tickets_on_issue_one_ticket_with_the_configured_lifetime);
	tcase_add_test(load, ticket_key_ring_rotates_and_frees);
	tcase_add_test(load, empty_ca_directory_is_refused);
	suite_add_tcase(s, load);

	tcase_add_checked_fixture(hs, setup, teardown);
	tcase_add_test(hs, client_certificate_from_the_ca_is_verified);
	tcase_add_test(hs, missing_client_certificate_fails_when_required);
	tcase_add_test(hs, missing_client_certificate_is_admitted_when_optional);
	tcase_add_test(hs, client_certificate_from_another_ca_fails_even_when_optional);
	tcase_add_test(hs, expired_client_certificate_fails);
	tcase_add_test(hs, mtls_disabled_asks_for_no_certificate);
	tcase_add_test(hs, ca_directory_of_hashed_files_verifies_clients);
	tcase_add_test(hs, verify_depth_bounds_the_intermediates);
	tcase_add_test(hs, server_chain_is_sent_exactly_as_the_file_holds_it);
	tcase_add_test(hs, alpn_selects_http11_when_offered_and_nothing_otherwise);
	tcase_add_test(hs, min_version_tls13_refuses_a_tls12_client);
	tcase_add_test(hs, tls13_ticket_resumes_with_the_peer_certificate);
	tcase_add_test(hs, tls12_ticket_resumes_with_the_peer_certificate);
	tcase_add_test(hs, ticket_survives_a_reload_sharing_the_key_ring);
	tcase_add_test(hs, ticket_from_the_previous_key_still_resumes);
	tcase_add_test(hs, ticket_no_longer_resumes_after_two_rotations);
	tcase_add_test(hs, tickets_off_nothing_resumes);
	tcase_add_test(hs, cache_on_names_cached_sessions_in_tickets);
	tcase_add_test(hs, tls13_cached_session_resumes_on_another_worker_once);
	tcase_add_test(hs, tls13_each_resumption_brings_a_ticket_that_resumes);
	tcase_add_test(hs, tls12_session_id_resumes_on_any_worker_until_forgotten);
	tcase_add_test(hs, cached_session_resumes_after_a_connection_ends_without_close_notify);
	tcase_add_test(hs, cache_keeps_at_most_its_bound);
	tcase_add_test(hs, cached_session_past_its_timeout_does_not_resume);
	suite_add_tcase(s, hs);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	pki = testpki_new();
	sr = srunner_create(tlsctx_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	testpki_free(pki);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
