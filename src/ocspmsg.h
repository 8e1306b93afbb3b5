/*
 * ocspmsg: OCSP messages (RFC 6960) - building a request for a certificate and judging the
 * response. Pure: bytes in, bytes and verdicts out; the network is fetch's job.
 *
 * A response is accepted only when it decodes, its responseStatus is successful, it is a basic
 * response signed by the issuer itself or by a responder certificate that the issuer issued
 * with the id-kp-OCSPSigning extended key usage (and that is valid now), it holds a
 * SingleResponse whose CertID matches the request, its thisUpdate/nextUpdate window contains
 * now (within the clock skew), and it echoes the request's nonce when one was sent (a
 * responder that omits the nonce is accepted; one that returns a different nonce is not).
 * Certificates that the response carries are never trusted on their own: they only serve to
 * find a delegated signer, which must chain to the issuer.
 */
#ifndef REVGATE_OCSPMSG_H
#define REVGATE_OCSPMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/ocsp.h>
#include <openssl/x509.h>

/* A certificate's identity for caching, as an OCSP CertID names it (SHA-1 hashes). */
#define OCSPMSG_KEY_MAX (20 + 20 + 1 + 64)

struct ocspmsg_key {
	unsigned char	bytes[OCSPMSG_KEY_MAX];	/* issuer name hash, issuer key hash, serial */
	size_t		len;
};

struct ocspmsg_request {
	unsigned char	*der;		/* owned; the DER request to POST */
	size_t		 len;
	OCSP_CERTID	*id;		/* owned */
	unsigned char	 nonce[16];
	bool		 has_nonce;
};

enum ocspmsg_verdict {
	OCSPMSG_GOOD,
	OCSPMSG_REVOKED,
	OCSPMSG_UNKNOWN,
};

enum ocspmsg_error {
	OCSPMSG_OK,
	OCSPMSG_E_DECODE,	/* not an OCSP response */
	OCSPMSG_E_STATUS,	/* responseStatus not successful (tryLater, unauthorized, ...) */
	OCSPMSG_E_SIGNATURE,	/* bad signature, or a signer the issuer did not authorise */
	OCSPMSG_E_NO_MATCH,	/* no SingleResponse for our CertID */
	OCSPMSG_E_STALE,	/* outside thisUpdate/nextUpdate (with skew) */
	OCSPMSG_E_NONCE,	/* nonce differs */
	OCSPMSG_E_NOMEM,
};

struct ocspmsg_status {
	enum ocspmsg_verdict	verdict;
	time_t			this_update;
	time_t			next_update;	/* 0: the response has none */
	time_t			revoked_at;	/* REVOKED only */
	int			reason;		/* REVOKED: CRLReason, or -1 */
};

/*
 * The cache key of CERT issued by ISSUER (both borrowed): SHA-1 of the issuer's name, SHA-1
 * of its public key, and the serial - never the serial alone, since sibling CAs reuse serials.
 * Returns 0, or -1 (serial too long, or no memory).
 */
int ocspmsg_key(X509 *cert, X509 *issuer, struct ocspmsg_key *out);

/*
 * Builds the request for CERT issued by ISSUER, with a random 16-byte nonce when NONCE.
 * Returns 0, or -1 with a message in ERR. Clear with ocspmsg_request_clear.
 */
int ocspmsg_request_init(struct ocspmsg_request *req, X509 *cert, X509 *issuer, bool nonce,
    char *err, size_t errlen);
void ocspmsg_request_clear(struct ocspmsg_request *req);

/*
 * Judges LEN bytes at DER as the answer to REQ about a certificate of ISSUER, at NOW with
 * SKEW seconds of leeway. Returns OCSPMSG_OK with *OUT filled, or an error with a short
 * explanation in ERR.
 */
enum ocspmsg_error ocspmsg_verify(const unsigned char *der, size_t len,
    const struct ocspmsg_request *req, X509 *issuer, time_t now, int64_t skew,
    struct ocspmsg_status *out, char *err, size_t errlen);

/* Names as logs and headers spell them ("good", "ocsp-signature", ...). Never NULL. */
const char *ocspmsg_verdict_name(enum ocspmsg_verdict v);
const char *ocspmsg_error_name(enum ocspmsg_error e);

#endif
