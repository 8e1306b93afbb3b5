/*
 * devcert: development certificates out of the box, as HarperDB makes them. When tls.certificate,
 * tls.privateKey and tls.certificateAuthority are all left at their derived defaults under
 * rootPath/keys/ and neither the certificate nor the key exists, `revgate serve` generates, once
 * at start, a development set in rootPath/keys/:
 *
 *   ca.pem, ca.key            a self-signed root, "revgate development CA"
 *   index.txt, crlnumber, ... its database (cadb), so `revgate cert revoke/gen-crl` work with it
 *   certificate.pem           the server certificate (serverAuth + clientAuth) for localhost,
 *   privateKey.pem            the host name, 127.0.0.1, ::1 and the concrete http.host entries
 *   client.pem, client.key    a client certificate, CN=revgate-dev-client, for mTLS
 *
 * Only a wholly absent set is generated; if any of these files is there without the certificate
 * and key, nothing is written and start-up is refused with the name of what is missing (a file
 * of the operator's own is never overwritten, nor completed with a CA we hold no key for).
 * Nothing is generated on reload or by check-config. Every function blocks on file I/O, and
 * devcert_ensure on key generation: start-up only, never on a worker.
 */
#ifndef REVGATE_DEVCERT_H
#define REVGATE_DEVCERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

/* The issuer CN that marks a certificate as one devcert made. */
#define DEVCERT_CA_CN	"revgate development CA"

enum devcert_state {
	DEVCERT_CONFIGURED,	/* a tls.* path was set explicitly: never generate */
	DEVCERT_PRESENT,	/* the certificate and the key exist: use them */
	DEVCERT_ABSENT,		/* the whole set is missing: serve generates it */
	DEVCERT_PARTIAL,	/* some files exist, some not: refuse to start */
};

/*
 * What start-up would find under CFG's rootPath/keys. For DEVCERT_PARTIAL, MSG receives the
 * reason naming the missing file (and what exists); otherwise MSG is left empty. Reads the
 * file system only (access(2)); writes nothing.
 */
enum devcert_state devcert_inspect(const struct conf *cfg, char *msg, size_t msglen);

/*
 * Generates the development set when devcert_inspect says DEVCERT_ABSENT: creates rootPath
 * (0755) and rootPath/keys (0700) when missing, then the CA, its database, the client and the
 * server certificates (certificate.pem last, so an interrupted run leaves a set that refuses to
 * start rather than one that half works). Returns 1 when it generated, 0 when there was nothing
 * to do, -1 with the reason in ERR (partial set, or a file or key that could not be made).
 */
int devcert_ensure(const struct conf *cfg, char *err, size_t errlen);

/*
 * True when CFG leaves tls.* at their defaults and tls.certificate was issued by the
 * development CA (reads the file).
 */
bool devcert_in_use(const struct conf *cfg);

/* Logs the WARNING that development certificates were just generated, and where. */
void devcert_log_generated(const struct conf *cfg);

/*
 * Logs the curl command that reaches the first http.host on PORT with the development files
 * (client certificate included when http.mtls is on): as a warning after generating them
 * (GENERATED), as an info line on later starts.
 */
void devcert_log_usage(const struct conf *cfg, uint16_t port, bool generated);

#endif
