/*
 * cadb: the bookkeeping of one certificate authority, kept in its directory in the formats
 * `openssl ca` uses, so `openssl ocsp -index DIR/index.txt` can answer for the CA and
 * `openssl ca` could take the directory over:
 *
 *   index.txt       one line per issued certificate, tab separated: status (V or R), expiry
 *                   (the certificate's notAfter as written in it, YYMMDDHHMMSSZ), revocation
 *                   ("YYMMDDHHMMSSZ[,reason]", empty while valid), serial (upper-case hex),
 *                   file name ("unknown"), subject ("/O=../CN=..")
 *   index.txt.attr  "unique_subject = no": the same name may be issued again (renewals)
 *   crlnumber       the number the next CRL gets, hex
 *   serial          a random next serial in hex; unused by revgate, which draws a random serial
 *                   per certificate, but `openssl ca` needs the file
 *
 * Issuing appends one line with a single O_APPEND write; revoking and numbering CRLs rewrite
 * their file atomically. Two commands revoking in the same directory at the same moment may
 * lose one revocation: run them one at a time. Everything blocks on file I/O.
 */
#ifndef REVGATE_CADB_H
#define REVGATE_CADB_H

#include <stdbool.h>
#include <time.h>

#include <openssl/x509.h>

#include "pki.h"

#define CADB_INDEX	"index.txt"
#define CADB_REASON_NONE	(-1)	/* revoked without a reason */

/* The CRLReason code named NAME ("keyCompromise", ...), or -1 if NAME is not a reason. */
int cadb_reason_parse(const char *name);

/* The name of CRLReason CODE as index.txt and the options spell it, or NULL if unsupported. */
const char *cadb_reason_name(int code);

/* Every reason name the options accept, NULL-terminated. */
extern const char *const cadb_reason_names[];

/*
 * Starts the bookkeeping of a new CA in DIR (which exists): an empty index, crlnumber 01,
 * index.txt.attr and serial. Refuses an existing index.txt unless OVERWRITE.
 */
int cadb_init(const char *dir, bool overwrite, struct pki_err *err);

/* Appends a "V" line for CERT to DIR/index.txt. Refuses a serial already in it. */
int cadb_record(const char *dir, X509 *cert, struct pki_err *err);

/*
 * Marks SERIAL (hex, any case, leading zeros allowed) revoked at NOW with REASON (a CRLReason
 * code or CADB_REASON_NONE). Fails with a message when the serial is not in the index or is
 * already revoked; *ALREADY tells the two failures apart.
 */
int cadb_revoke(const char *dir, const char *serial, int reason, time_t now, bool *already,
    struct pki_err *err);

/*
 * A CRL of every revoked entry in DIR/index.txt, signed by CA_KEY for CA_CERT: thisUpdate NOW,
 * nextUpdate NOW + DAYS, the next CRL number (crlnumber is advanced first, so two CRLs never
 * share a number), authorityKeyIdentifier, reason codes. The caller owns the result.
 */
X509_CRL *cadb_crl_new(const char *dir, X509 *ca_cert, EVP_PKEY *ca_key, int days, time_t now,
    struct pki_err *err);

#endif
