/*
 * certshim.c - an LD_PRELOAD shim that makes a stock TLS client (wrk, h2load) present a client
 * certificate, and counts its handshakes so that a benchmark can tell full from resumed ones.
 *
 *   cc -O2 -shared -fPIC -o certshim.so certshim.c -ldl -lssl -lcrypto
 *   BENCH_CERT=client.pem BENCH_KEY=client.key LD_PRELOAD=./certshim.so wrk ...
 *
 * Environment:
 *   BENCH_CERT   PEM certificate chain to present (required; without it the shim does nothing)
 *   BENCH_KEY    its PEM private key (default: BENCH_CERT)
 *   BENCH_NO_RESUME=1   drop any session an SSL object carries before its handshake, so every
 *                handshake is a full one. wrk reuses one SSL object per connection slot with
 *                SSL_clear(), which keeps the last session: without this, wrk's reconnects
 *                (Connection: close) resume TLS 1.3 sessions from the tickets it received.
 *   BENCH_STATS  file to which the counters are written at exit, one "key value" per line:
 *                ctx (SSL_CTX objects given the certificate), handshakes, resumed, full,
 *                failed (SSL_connect() returning <= 0 with an error other than WANT_READ/WRITE)
 *
 * It interposes SSL_CTX_new() and SSL_CTX_new_ex() (dlsym RTLD_NEXT): every context the
 * program creates gets the certificate and key. A certificate or key that cannot be loaded is
 * fatal (exit 70), so that a benchmark never silently runs without a client certificate.
 * It also interposes SSL_connect() to count completed handshakes and SSL_session_reused().
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

typedef SSL_CTX *(*ctx_new_fn)(const SSL_METHOD *);
typedef SSL_CTX *(*ctx_new_ex_fn)(OSSL_LIB_CTX *, const char *, const SSL_METHOD *);
typedef int (*connect_fn)(SSL *);

static atomic_ulong shim_ctx, shim_handshakes, shim_resumed, shim_failed;
static __thread int shim_depth;	/* SSL_CTX_new() may call SSL_CTX_new_ex() through the PLT */

static void *
shim_next(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (f == NULL) {
		fprintf(stderr, "certshim: dlsym(%s): %s\n", name, dlerror());
		exit(70);
	}
	return f;
}

static void
shim_load(SSL_CTX *ctx)
{
	const char *cert = getenv("BENCH_CERT"), *key = getenv("BENCH_KEY");

	if (ctx == NULL || cert == NULL || *cert == '\0')
		return;
	if (key == NULL || *key == '\0')
		key = cert;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		fprintf(stderr, "certshim: cannot load the client certificate %s / key %s:\n",
		    cert, key);
		ERR_print_errors_fp(stderr);
		exit(70);
	}
	atomic_fetch_add(&shim_ctx, 1);
}

SSL_CTX *
SSL_CTX_new_ex(OSSL_LIB_CTX *libctx, const char *propq, const SSL_METHOD *meth)
{
	static ctx_new_ex_fn real;
	SSL_CTX *ctx;

	if (real == NULL)
		real = (ctx_new_ex_fn)shim_next("SSL_CTX_new_ex");
	shim_depth++;
	ctx = real(libctx, propq, meth);
	shim_depth--;
	if (shim_depth == 0)
		shim_load(ctx);
	return ctx;
}

SSL_CTX *
SSL_CTX_new(const SSL_METHOD *meth)
{
	static ctx_new_fn real;
	SSL_CTX *ctx;

	if (real == NULL)
		real = (ctx_new_fn)shim_next("SSL_CTX_new");
	shim_depth++;
	ctx = real(meth);
	shim_depth--;
	if (shim_depth == 0)
		shim_load(ctx);
	return ctx;
}

int
SSL_connect(SSL *ssl)
{
	static connect_fn real;
	static int no_resume = -1;
	int ret, err;

	if (real == NULL)
		real = (connect_fn)shim_next("SSL_connect");
	if (no_resume == -1) {
		const char *v = getenv("BENCH_NO_RESUME");

		no_resume = v != NULL && strcmp(v, "1") == 0;
	}
	/* Before the first flight only: drop a session kept across SSL_clear(). */
	if (no_resume && SSL_in_before(ssl) && SSL_get0_session(ssl) != NULL)
		SSL_set_session(ssl, NULL);
	ret = real(ssl);
	if (ret == 1) {
		atomic_fetch_add(&shim_handshakes, 1);
		if (SSL_session_reused(ssl))
			atomic_fetch_add(&shim_resumed, 1);
	} else {
		err = SSL_get_error(ssl, ret);
		if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
			atomic_fetch_add(&shim_failed, 1);
	}
	return ret;
}

__attribute__((destructor)) static void
shim_report(void)
{
	const char *path = getenv("BENCH_STATS");
	unsigned long hs = atomic_load(&shim_handshakes), re = atomic_load(&shim_resumed);
	FILE *f;

	/* Only the process that made a context writes (not `timeout` or `env` before an exec). */
	if (atomic_load(&shim_ctx) == 0 || path == NULL || *path == '\0' ||
	    (f = fopen(path, "w")) == NULL)
		return;
	fprintf(f, "ctx %lu\nhandshakes %lu\nresumed %lu\nfull %lu\nfailed %lu\n",
	    atomic_load(&shim_ctx), hs, re, hs - re, atomic_load(&shim_failed));
	fclose(f);
}
