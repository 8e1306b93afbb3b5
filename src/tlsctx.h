/*
 * tlsctx: the server's TLS context, built once from configuration and shared read-only by every
 * worker thread, and the session-ticket key ring that all contexts (across reloads) share.
 *
 * What the context enforces: tls.minVersion, tls.ciphers/ciphersuites/curves, ALPN http/1.1,
 * client certificates as http.mtls asks (required: a missing or unverifiable certificate fails
 * the handshake; optional: a missing one is admitted, an unverifiable one still fails), trust
 * anchors only from tls.certificateAuthority (a PEM bundle or a hashed directory; never the
 * system store), verification depth, resumption (one TLS 1.3 ticket per handshake, naming a
 * session kept in the shared session cache, or sealing the session with the shared, rotated
 * keys when there is no cache), and a bounded session lifetime. The server chain is sent exactly as the
 * certificate file holds it.
 */
#ifndef REVGATE_TLSCTX_H
#define REVGATE_TLSCTX_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "conf.h"

struct tlsctx_keys;
struct sesscache;

/*
 * What every context shares, across worker threads and reloads, so that a session begun on
 * one resumes on any: the sessions kept in memory (tls.sessionCache > 0), or else the key
 * ring that seals stateless tickets.
 */
struct tlsctx_resume {
	struct tlsctx_keys	*keys;
	struct sesscache	*sessions;
};

/*
 * A ring of session-ticket keys: the newest encrypts, the previous one still decrypts (and
 * the ticket is renewed), older ones are forgotten. Returns NULL if the random generator
 * fails. The caller owns the ring; it must outlive every context built with it.
 */
struct tlsctx_keys *tlsctx_keys_new(void);

/* Makes a fresh key current and drops the oldest. Thread-safe against handshakes. */
int tlsctx_keys_rotate(struct tlsctx_keys *keys);

void tlsctx_keys_free(struct tlsctx_keys *keys);

/*
 * Builds the server context from CFG (tls.*, http.mtls.*). RESUME is borrowed (may be NULL
 * when tls.sessionTickets is false and tls.sessionCache 0). Returns a new context (the caller owns one reference), or NULL
 * with a complete message in ERR naming the configuration key, the file, what is wrong and what
 * to do, with the OpenSSL error queue appended. Blocks on file I/O: start-up and reload only.
 */
SSL_CTX *tlsctx_new(const struct conf *cfg, const struct tlsctx_resume *resume, char *err,
    size_t errlen);

/*
 * The verification outcome of an established connection, as X-Client-Verify spells it:
 * "SUCCESS", "NONE" (no certificate sent), or "FAILED:<reason>". Never NULL; static storage
 * or BUF.
 */
const char *tlsctx_verify_status(const SSL *ssl, char *buf, size_t size);

#endif
