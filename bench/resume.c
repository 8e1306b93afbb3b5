/*
 * resume.c - a TLS connection-rate client for the benchmarks: every connection carries one
 * request ("Connection: close") and is then closed by the server. With session reuse (the
 * default) each thread makes one full handshake, keeps the session (the newest TLS 1.3 ticket
 * received), and offers it on its next connection with SSL_set_session(); it then checks
 * SSL_session_reused(). With --no-resume every handshake is a full one. With --single-use a
 * session is offered once only, as RFC 8446 C.4 advises clients and browsers do: the next
 * connection resumes only if the server sent a new ticket on the last one, and otherwise makes
 * a full handshake.
 *
 *   cc -O2 -pthread -o resume resume.c -lssl -lcrypto
 *   resume --port 8443 --cert client.pem --key client.key [--host 127.0.0.1] [--threads 16]
 *          [--duration 10] [--max-conns N] [--path /] [--no-resume | --single-use]
 *          [--ca ca.pem]
 *
 * It prints one line of key=value pairs:
 *   conns       connections that completed the handshake and got a whole 200 response
 *   offered     of those, how many offered a saved session (with plain session reuse all
 *               but each thread's first; 0 with --no-resume)
 *   resumed     of those, how many resumed a session (SSL_session_reused() == 1)
 *   full        of those, how many were full handshakes
 *   errors      connections that failed (connect, handshake, I/O, timeout or a non-200 answer)
 *   seconds     wall time of the measurement
 *   conns_per_s conns / seconds (every connection, including each thread's first, full one)
 *   resumed_per_s     resumed / seconds
 *   resumed_fraction  resumed / offered: the share of offered sessions the server accepted
 *   resumed_share     resumed / conns: the share of all connections that resumed
 *   renewed     resumed connections on which the server sent a new ticket
 *   renewed_fraction  renewed / resumed
 *   p50_ms p99_ms     time of one connection: connect() to the end of the response (EOF)
 *   cpu_s       user+system CPU time of this client
 *   first_error the first failure, if any
 * The exit status is 0 when at least one connection succeeded and there were no errors, 1 when
 * there were errors, 2 on a usage error.
 *
 * Bounded: it stops at --duration seconds or --max-conns connections, whichever comes first,
 * and every socket has 10 s send/receive timeouts. Only the given host is ever connected to.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAX_SAMPLES (1 << 20)	/* latency samples kept per thread */

struct opts {
	const char	*host, *port, *cert, *key, *ca, *path;
	int		 threads;
	double		 duration;
	long		 max_conns;
	int		 resume, single_use;
};

struct thread {
	pthread_t	 tid;
	long		 conns, offered, resumed, renewed, errors, nsamples;
	double		*samples;	/* milliseconds */
};

static struct opts opt = { "127.0.0.1", NULL, NULL, NULL, NULL, "/", 16, 10.0, 100000000, 1, 0 };
static SSL_CTX *ctx;
static struct sockaddr_storage addr;
static socklen_t addrlen;
static char request[512];
static size_t request_len;
static double deadline;
static atomic_long started;	/* connections begun, for --max-conns */
static atomic_flag error_taken = ATOMIC_FLAG_INIT;
static char first_error[256];

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
note_error(const char *fmt, const char *detail)
{
	if (!atomic_flag_test_and_set(&error_taken)) {
		unsigned long e = ERR_peek_last_error();
		char ebuf[128] = "";

		if (e != 0)
			ERR_error_string_n(e, ebuf, sizeof(ebuf));
		snprintf(first_error, sizeof(first_error), "%s%s%s%s%s", fmt,
		    detail != NULL ? ": " : "", detail != NULL ? detail : "",
		    *ebuf != '\0' ? " / " : "", ebuf);
	}
	ERR_clear_error();
}

/*
 * One connection. Returns 1 on success (and sets *offered, *reused, *renewed), 0 on failure.
 * *sess is the session to offer (may be NULL); when keep is set it is replaced by the newest
 * resumable session, if the server sent a new ticket (*renewed). With --single-use a session
 * that was offered and got no successor is dropped: the next connection is a full handshake.
 */
static int
one_conn(SSL_SESSION **sess, int keep, int *offered, int *reused, int *renewed)
{
	static const struct timeval tmo = { 10, 0 };
	char buf[4096];
	size_t got = 0;
	int fd, one = 1, ok = 0, n;
	SSL *ssl = NULL;

	fd = socket(addr.ss_family, SOCK_STREAM, 0);
	if (fd == -1) {
		note_error("socket", strerror(errno));
		return 0;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
	if (connect(fd, (struct sockaddr *)&addr, addrlen) == -1) {
		note_error("connect", strerror(errno));
		goto out;
	}
	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1) {
		note_error("SSL_new", NULL);
		goto out;
	}
	if (*sess != NULL) {
		if (SSL_set_session(ssl, *sess) != 1) {
			note_error("SSL_set_session", NULL);
			goto out;
		}
		*offered = 1;
	}
	if (SSL_connect(ssl) != 1) {
		note_error("handshake", errno != 0 ? strerror(errno) : NULL);
		goto out;
	}
	*reused = SSL_session_reused(ssl);
	if (SSL_write(ssl, request, (int)request_len) != (int)request_len) {
		note_error("write", NULL);
		goto out;
	}
	/* Read to the end: the server closes after the response (Connection: close). */
	for (;;) {
		n = SSL_read(ssl, got < sizeof(buf) ? buf + got : buf,
		    got < sizeof(buf) ? (int)(sizeof(buf) - got) : (int)sizeof(buf));
		if (n <= 0)
			break;
		if (got < sizeof(buf))
			got += (size_t)n;
	}
	n = SSL_get_error(ssl, n);
	if (n != SSL_ERROR_ZERO_RETURN) {
		note_error("read", n == SSL_ERROR_SYSCALL && errno != 0 ? strerror(errno) :
		    "no clean end of the response");
		goto out;
	}
	if (got < 12 || memcmp(buf, "HTTP/1.1 200", 12) != 0) {
		buf[got < 60 ? got : 60] = '\0';
		note_error("answer is not 200", buf);
		goto out;
	}
	ok = 1;
	/* Mark the connection as shut down: otherwise SSL_free() makes its session unresumable. */
	SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	if (keep) {
		/* A NewSessionTicket replaces the SSL's session with a new object. */
		SSL_SESSION *s = SSL_get1_session(ssl);

		if (s != NULL && s != *sess && SSL_SESSION_is_resumable(s)) {
			*renewed = 1;
			SSL_SESSION_free(*sess);
			*sess = s;
		} else {
			SSL_SESSION_free(s);
			if (opt.single_use && *offered) {
				SSL_SESSION_free(*sess);
				*sess = NULL;
			}
		}
	}
out:
	if (ssl != NULL) {
		if (!ok)
			SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
		SSL_free(ssl);
	}
	close(fd);
	return ok;
}

static void *
thread_main(void *arg)
{
	struct thread *t = arg;
	SSL_SESSION *sess = NULL;

	while (now() < deadline && atomic_fetch_add(&started, 1) < opt.max_conns) {
		double t0 = now();
		int offered = 0, reused = 0, renewed = 0;

		if (!one_conn(&sess, opt.resume, &offered, &reused, &renewed)) {
			t->errors++;
			continue;
		}
		t->conns++;
		t->offered += offered;
		t->resumed += reused;
		t->renewed += reused && renewed;
		if (t->nsamples < MAX_SAMPLES)
			t->samples[t->nsamples++] = (now() - t0) * 1e3;
	}
	SSL_SESSION_free(sess);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
usage(void)
{
	fprintf(stderr, "usage: resume --port PORT --cert FILE [--key FILE] [--host HOST] "
	    "[--threads N] [--duration S] [--max-conns N] [--path P] [--no-resume | --single-use] "
	    "[--ca FILE]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'h' }, { "port", required_argument, NULL, 'p' },
		{ "cert", required_argument, NULL, 'c' }, { "key", required_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'a' }, { "path", required_argument, NULL, 'P' },
		{ "threads", required_argument, NULL, 't' },
		{ "duration", required_argument, NULL, 'd' },
		{ "max-conns", required_argument, NULL, 'n' },
		{ "no-resume", no_argument, NULL, 'R' },
		{ "single-use", no_argument, NULL, 'S' }, { NULL, 0, NULL, 0 },
	};
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	struct thread *th;
	struct rusage ru;
	long conns = 0, offered = 0, resumed = 0, renewed = 0, errors = 0, ns = 0;
	double *all, t0, secs, p50 = 0, p99 = 0;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': opt.host = optarg; break;
		case 'p': opt.port = optarg; break;
		case 'c': opt.cert = optarg; break;
		case 'k': opt.key = optarg; break;
		case 'a': opt.ca = optarg; break;
		case 'P': opt.path = optarg; break;
		case 't': opt.threads = atoi(optarg); break;
		case 'd': opt.duration = atof(optarg); break;
		case 'n': opt.max_conns = atol(optarg); break;
		case 'R': opt.resume = 0; break;
		case 'S': opt.single_use = 1; break;
		default: usage();
		}
	}
	if (opt.port == NULL || opt.cert == NULL || opt.threads < 1 || opt.threads > 1024 ||
	    opt.duration <= 0 || opt.duration > 3600 || opt.max_conns < 1)
		usage();
	if (opt.key == NULL)
		opt.key = opt.cert;
	if ((c = getaddrinfo(opt.host, opt.port, &hints, &res)) != 0) {
		fprintf(stderr, "resume: %s:%s: %s\n", opt.host, opt.port, gai_strerror(c));
		return 2;
	}
	memcpy(&addr, res->ai_addr, res->ai_addrlen);
	addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	request_len = (size_t)snprintf(request, sizeof(request),
	    "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: revgate-bench-resume\r\n"
	    "Connection: close\r\n\r\n", opt.path, opt.host, opt.port);

	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL ||
	    SSL_CTX_use_certificate_chain_file(ctx, opt.cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, opt.key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		fprintf(stderr, "resume: cannot load %s / %s\n", opt.cert, opt.key);
		ERR_print_errors_fp(stderr);
		return 2;
	}
	/* Sessions are kept by hand (SSL_get1_session), never by OpenSSL's client cache. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (opt.ca != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, opt.ca, NULL) != 1) {
			fprintf(stderr, "resume: cannot load %s\n", opt.ca);
			return 2;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}

	th = calloc((size_t)opt.threads, sizeof(*th));
	if (th == NULL)
		return 2;
	t0 = now();
	deadline = t0 + opt.duration;
	for (int i = 0; i < opt.threads; i++) {
		th[i].samples = malloc(MAX_SAMPLES * sizeof(double));
		if (th[i].samples == NULL ||
		    pthread_create(&th[i].tid, NULL, thread_main, &th[i]) != 0) {
			fprintf(stderr, "resume: cannot start thread %d\n", i);
			return 2;
		}
	}
	for (int i = 0; i < opt.threads; i++) {
		pthread_join(th[i].tid, NULL);
		conns += th[i].conns;
		offered += th[i].offered;
		resumed += th[i].resumed;
		renewed += th[i].renewed;
		errors += th[i].errors;
		ns += th[i].nsamples;
	}
	secs = now() - t0;
	if (ns > 0 && (all = malloc((size_t)ns * sizeof(double))) != NULL) {
		long k = 0;

		for (int i = 0; i < opt.threads; i++)
			for (long j = 0; j < th[i].nsamples; j++)
				all[k++] = th[i].samples[j];
		qsort(all, (size_t)ns, sizeof(double), cmp_double);
		p50 = all[(size_t)((double)(ns - 1) * 0.50)];
		p99 = all[(size_t)((double)(ns - 1) * 0.99)];
		free(all);
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("conns=%ld offered=%ld resumed=%ld renewed=%ld full=%ld errors=%ld seconds=%.3f "
	    "conns_per_s=%.1f resumed_per_s=%.1f resumed_fraction=%.4f resumed_share=%.4f "
	    "renewed_fraction=%.4f p50_ms=%.3f p99_ms=%.3f cpu_s=%.3f threads=%d mode=%s%s%s%s\n",
	    conns, offered, resumed, renewed, conns - resumed, errors, secs,
	    secs > 0 ? (double)conns / secs : 0.0, secs > 0 ? (double)resumed / secs : 0.0,
	    offered > 0 ? (double)resumed / (double)offered : 0.0,
	    conns > 0 ? (double)resumed / (double)conns : 0.0,
	    resumed > 0 ? (double)renewed / (double)resumed : 0.0, p50, p99,
	    (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6,
	    opt.threads, !opt.resume ? "full" : opt.single_use ? "single-use" : "resume",
	    errors > 0 ? " first_error=\"" : "", errors > 0 ? first_error : "",
	    errors > 0 ? "\"" : "");
	return conns > 0 && errors == 0 ? 0 : 1;
}
