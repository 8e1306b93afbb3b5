/*
 * tlscheck: the troubleshooting steps for a certificate setup, as named checks over files.
 *
 * Given the paths of a certificate (PEM chain or PKCS#12), its private key and a CA bundle (or
 * hashed directory), it runs the checks an operator would run by hand with openssl - the files
 * parse, the key is private to its owner, the key matches the certificate, the chain verifies,
 * the certificate is within its validity window, its extended key usage and names fit - and
 * returns one result per check: PASS, WARN or FAIL, with a message that names the file and says
 * what to do. It never touches sockets or the event loop; it reads files and nothing else.
 *
 * Start-up and reload (server) refuse a configuration with a FAIL and log each WARN;
 * `revgate check-config` does the same; `revgate cert check` prints every result.
 */
#ifndef REVGATE_TLSCHECK_H
#define REVGATE_TLSCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "conf.h"

enum tlscheck_status {
	TLSCHECK_PASS,
	TLSCHECK_WARN,
	TLSCHECK_FAIL,
};

/* What to check. Every pointer is borrowed for the duration of tlscheck_run. */
struct tlscheck_input {
	const char		*certificate;	/* PEM chain (leaf first) or PKCS#12; required */
	const char		*private_key;	/* PEM; NULL: in the certificate file */
	const char		*ca;		/* PEM bundle or hashed directory; NULL: none */
	const char		*private_key_password;	/* NULL: none */
	const char		*certificate_password;	/* PKCS#12; NULL: none */
	const char *const	*host_names;	/* names / IPs the certificate must cover */
	size_t			 nhost_names;
	int64_t			 expiry_warning_s;	/* WARN when fewer seconds are left */
	bool			 skip_key_permissions;
	bool			 client;	/* a client certificate: clientAuth, not serverAuth */
	bool			 strict_chain;	/* a chain that reaches no CA is a FAIL, not a WARN */
	time_t			 now;
	/* How messages name each file: "tls.certificate" at start-up, "--cert" on the CLI. */
	const char		*label_certificate;
	const char		*label_private_key;
	const char		*label_ca;
	const char		*label_private_key_password;
	const char		*label_certificate_password;
	const char		*skip_hint;	/* how to turn the permission check off */
};

struct tlscheck_result {
	const char		*name;		/* "key-permissions"; static */
	enum tlscheck_status	 status;
	char			*message;	/* owned by the report */
};

struct tlscheck_report;

/*
 * Runs every check that applies to IN. Returns a report (the caller owns it; free with
 * tlscheck_report_free), or NULL when memory runs out. Blocks on file I/O: start-up, reload
 * and the CLI only. Drains the OpenSSL error queue.
 */
struct tlscheck_report *tlscheck_run(const struct tlscheck_input *in);

/*
 * The checks that CFG's tls.* settings call for at start-up and reload: the CA is used when
 * http.mtls is on or its file exists; tls.skipKeyPermissionCheck, tls.expiryWarning and
 * tls.hostNames apply. Same ownership and blocking as tlscheck_run.
 */
struct tlscheck_report *tlscheck_run_conf(const struct conf *cfg, time_t now);

void tlscheck_report_free(struct tlscheck_report *r);

/* The Ith result (0 <= I < tlscheck_report_count), borrowed from R. */
size_t tlscheck_report_count(const struct tlscheck_report *r);
const struct tlscheck_result *tlscheck_report_get(const struct tlscheck_report *r, size_t i);

/* Number of results with STATUS. */
size_t tlscheck_report_tally(const struct tlscheck_report *r, enum tlscheck_status status);

/* The result named NAME, or NULL when that check did not run. Borrowed from R. */
const struct tlscheck_result *tlscheck_report_find(const struct tlscheck_report *r,
    const char *name);

/* The certificate's leaf, or NULL when it could not be read. Borrowed from R. */
X509 *tlscheck_report_get0_leaf(const struct tlscheck_report *r);

/* The leaf's notAfter as a time_t: 0, or -1 when there is no readable leaf. */
int tlscheck_report_not_after(const struct tlscheck_report *r, time_t *not_after);

/* "PASS", "WARN" or "FAIL". */
const char *tlscheck_status_name(enum tlscheck_status status);

/*
 * `revgate cert check`: ARGV[0] is "check". Prints a summary of the certificate, then one line
 * per check ("PASS  name: message"). Returns 0 when no check failed, 1 otherwise, 2 on misuse.
 */
int tlscheck_cmd_main(int argc, char **argv);

#endif
