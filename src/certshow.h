/*
 * certshow: a human summary of a certificate (or PEM chain), a CRL or an OCSP response, for
 * `revgate cert show`. Reads the file whole (PEM or DER, detected from the content) and
 * prints with the OpenSSL text conventions for extensions, so what it says matches
 * `openssl x509 -text`. Blocks on file I/O.
 */
#ifndef REVGATE_CERTSHOW_H
#define REVGATE_CERTSHOW_H

#include <stdio.h>

#include "pki.h"

/* Prints the summary of PATH to OUT. Returns 0, or -1 with the reason in ERR. */
int certshow_file(const char *path, FILE *out, struct pki_err *err);

#endif
