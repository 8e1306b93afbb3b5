/*
 * clientcert: what the backend learns about the client certificate - subject and issuer as
 * RFC 4514 strings, serial in hex, SHA-256 fingerprint, optionally the URL-encoded PEM.
 *
 * Every string is safe to place in an HTTP header value: no CR, LF, NUL or other control
 * bytes survive (non-ASCII is escaped as RFC 4514 hex pairs). Pure: no I/O.
 */
#ifndef REVGATE_CLIENTCERT_H
#define REVGATE_CLIENTCERT_H

#include <stdbool.h>

#include <openssl/x509.h>

#define CLIENTCERT_SERIAL_MAX		(2 * 20 + 1)	/* RFC 5280: at most 20 octets */
#define CLIENTCERT_FINGERPRINT_LEN	64

struct clientcert {
	char	*subject;		/* owned; RFC 4514, e.g. "CN=alice,O=Example" */
	char	*issuer;		/* owned */
	char	 serial[2 * 64 + 2];	/* upper-case hex, no separators ("-" prefix if negative) */
	char	 fingerprint[CLIENTCERT_FINGERPRINT_LEN + 1];	/* SHA-256, lower-case hex */
	char	*pem_urlencoded;	/* owned; NULL unless asked for */
};

/*
 * Fills OUT from CERT (borrowed). WITH_PEM also produces pem_urlencoded. Returns 0, or -1 on
 * allocation or encoding failure (OUT is then cleared). Call clientcert_clear afterwards.
 */
int clientcert_describe(X509 *cert, bool with_pem, struct clientcert *out);

/* Frees what OUT owns and zeroes it; safe on a zeroed or already-cleared struct. */
void clientcert_clear(struct clientcert *out);

#endif
