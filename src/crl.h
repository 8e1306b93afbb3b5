/*
 * crl: one certificate revocation list, validated and indexed.
 *
 * A CRL from the network is hostile until proven otherwise, so crl_new accepts it only when
 * it decodes (DER or PEM) within the size and entry bounds, is a complete CRL (no delta, no
 * indirect CRL, no unknown critical extension), names the given issuer (issuer name, and its
 * authority key identifier when present), is signed by that issuer's key (which must be
 * allowed to sign CRLs), and has a thisUpdate that is not in the future (beyond the skew).
 * It does not refuse a CRL past its nextUpdate: whether a stale CRL may still decide is the
 * caller's policy (crl.gracePeriod).
 *
 * The result is immutable and reference-counted, so any thread may look serials up while a
 * refresh builds the next one. The serials live in one sorted array of compact records, so a
 * lookup is a binary search (O(log n)) and a million entries cost tens of megabytes, not the
 * hundreds that OpenSSL's own X509_CRL structure needs (it is freed as soon as the index is
 * built). Pure: no I/O; the caller passes the time.
 */
#ifndef REVGATE_CRL_H
#define REVGATE_CRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

enum crl_error {
	CRL_OK,
	CRL_E_DECODE,		/* not a CRL in DER or PEM */
	CRL_E_TOO_LARGE,	/* more entries than allowed */
	CRL_E_UNSUPPORTED,	/* delta CRL, indirect CRL, unknown critical extension */
	CRL_E_ISSUER,		/* names another issuer, or the issuer may not sign CRLs */
	CRL_E_SIGNATURE,	/* signature does not verify with the issuer's key */
	CRL_E_FUTURE,		/* thisUpdate is in the future */
	CRL_E_NOMEM,
};

struct crl;

/*
 * Parses and validates LEN bytes at BUF (DER, or PEM: the first X509 CRL block) as a CRL of
 * ISSUER (borrowed) at time NOW, allowing SKEW seconds of clock difference and at most
 * MAX_ENTRIES revoked entries. Returns the indexed CRL (one reference), or NULL with *ERR set
 * and a short explanation in MSG (naming the CRL's issuer and what failed).
 * CPU-heavy for big CRLs (decode, signature, sort): call off the workers' loops.
 */
struct crl *crl_new(const unsigned char *buf, size_t len, X509 *issuer, time_t now,
    int64_t skew, size_t max_entries, enum crl_error *err, char *msg, size_t msglen);

struct crl *crl_ref(struct crl *crl);
void crl_unref(struct crl *crl);	/* NULL is a no-op; thread-safe */

/*
 * Looks up SERIAL (borrowed). Returns true if the CRL lists it, with the CRLReason code in
 * *REASON (-1 when the entry has none). O(log n); never allocates; thread-safe.
 */
bool crl_lookup(const struct crl *crl, const ASN1_INTEGER *serial, int *reason);

time_t crl_this_update(const struct crl *crl);
time_t crl_next_update(const struct crl *crl);		/* 0: the CRL has none */
size_t crl_count(const struct crl *crl);		/* revoked entries */
size_t crl_memory(const struct crl *crl);		/* bytes held by the index */
const char *crl_issuer_name(const struct crl *crl);	/* RFC 4514, for logs */
/* The CRL number as decimal text, or "" when the CRL has none. */
const char *crl_number(const struct crl *crl);

/*
 * True when CRL speaks for CERT: not a user-only CRL asked about a CA certificate, and, for a
 * partitioned CRL (its issuingDistributionPoint names distribution points), CERT names one of
 * them. A CRL that does not cover a certificate must not say it is good.
 */
bool crl_covers(const struct crl *crl, X509 *cert);

/* True for a partitioned CRL (it covers only the certificates that name its points). */
bool crl_is_partitioned(const struct crl *crl);

/* The name of an error as logs spell it ("crl-signature", ...). Never NULL. */
const char *crl_error_name(enum crl_error err);

#endif
