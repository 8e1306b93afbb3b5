#include "config.h"
#include "certshow.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "pki.h"

#define CERTSHOW_CRL_ENTRIES	10	/* entries of a CRL listed; the rest are counted */
#define CERTSHOW_TEXT_MAX	2048	/* characters of one flattened extension */

static void
certshow_label(BIO *b, const char *label)
{
	BIO_printf(b, "  %-24s ", label);
}

static void
certshow_name(BIO *b, const char *label, const X509_NAME *name)
{
	certshow_label(b, label);
	X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253);
	BIO_puts(b, "\n");
}

static void
certshow_time(BIO *b, const char *label, const ASN1_TIME *t)
{
	certshow_label(b, label);
	if (t == NULL || ASN1_TIME_print(b, t) != 1)
		BIO_puts(b, "(none)");
	BIO_puts(b, "\n");
}

static void
certshow_serial(BIO *b, const char *label, const ASN1_INTEGER *serial)
{
	char *hex = pki_integer_hex(serial);

	certshow_label(b, label);
	BIO_printf(b, "%s\n", hex != NULL ? hex : "(unreadable)");
	OPENSSL_free(hex);
}

/* OpenSSL's text for EXT on one line: its line breaks become "; ", indentation goes. */
static void
certshow_ext_text(BIO *b, X509_EXTENSION *ext)
{
	BIO *mem = BIO_new(BIO_s_mem());
	char text[CERTSHOW_TEXT_MAX], flat[2 * CERTSHOW_TEXT_MAX];
	size_t o = 0;
	int n = 0;

	if (mem != NULL && X509V3_EXT_print(mem, ext, 0, 0) == 1)
		n = BIO_read(mem, text, sizeof(text) - 1);
	BIO_free(mem);
	text[n > 0 ? n : 0] = '\0';
	for (const char *p = text; *p != '\0'; p++) {
		if (*p != '\n') {
			flat[o++] = *p;
			continue;
		}
		while (o > 0 && flat[o - 1] == ' ')
			o--;
		while (p[1] == ' ')
			p++;
		if (o > 0 && p[1] != '\0') {
			flat[o++] = ';';
			flat[o++] = ' ';
		}
	}
	flat[o] = '\0';
	/* A distribution point is only ever a full name here: the label says nothing. */
	BIO_puts(b, o == 0 ? "(unprintable)" : strncmp(flat, "Full Name:; ", 12) == 0 ?
	    flat + 12 : flat);
}

static void
certshow_ext(BIO *b, const char *label, X509_EXTENSION *ext)
{
	certshow_label(b, label);
	if (ext == NULL) {
		BIO_puts(b, "(none)\n");
		return;
	}
	if (X509_EXTENSION_get_critical(ext))
		BIO_puts(b, "critical, ");
	certshow_ext_text(b, ext);
	BIO_puts(b, "\n");
}

static void
certshow_cert_ext(BIO *b, X509 *cert, const char *label, int nid)
{
	int i = X509_get_ext_by_NID(cert, nid, -1);

	certshow_ext(b, label, i >= 0 ? X509_get_ext(cert, i) : NULL);
}

static void
certshow_cert(BIO *b, X509 *cert)
{
	EVP_PKEY *key = X509_get0_pubkey(cert);
	char desc[80];

	certshow_name(b, "Subject:", X509_get_subject_name(cert));
	certshow_name(b, "Issuer:", X509_get_issuer_name(cert));
	certshow_serial(b, "Serial:", X509_get0_serialNumber(cert));
	certshow_time(b, "Not before:", X509_get0_notBefore(cert));
	certshow_time(b, "Not after:", X509_get0_notAfter(cert));
	certshow_label(b, "Key:");
	BIO_printf(b, "%s\n", key != NULL ? pki_key_describe(key, desc, sizeof(desc)) : "?");
	certshow_label(b, "Self-signed:");
	BIO_printf(b, "%s\n", pki_self_signed(cert) ? "yes" : "no");
	certshow_cert_ext(b, cert, "Basic constraints:", NID_basic_constraints);
	certshow_cert_ext(b, cert, "Key usage:", NID_key_usage);
	certshow_cert_ext(b, cert, "Extended key usage:", NID_ext_key_usage);
	certshow_cert_ext(b, cert, "Subject alt names:", NID_subject_alt_name);
	certshow_cert_ext(b, cert, "CRL distribution points:", NID_crl_distribution_points);
	certshow_cert_ext(b, cert, "Authority info access:", NID_info_access);
	ERR_clear_error();
}

static void
certshow_certs(BIO *b, STACK_OF(X509) *certs)
{
	int n = sk_X509_num(certs);

	for (int i = 0; i < n; i++) {
		if (n == 1)
			BIO_puts(b, "Certificate\n");
		else
			BIO_printf(b, "%sCertificate %d of %d\n", i > 0 ? "\n" : "", i + 1, n);
		certshow_cert(b, sk_X509_value(certs, i));
	}
}

static void
certshow_crl_entry(BIO *b, X509_REVOKED *rev)
{
	ASN1_ENUMERATED *reason = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
	char *hex = pki_integer_hex(X509_REVOKED_get0_serialNumber(rev));

	BIO_printf(b, "    %s  ", hex != NULL ? hex : "?");
	ASN1_TIME_print(b, X509_REVOKED_get0_revocationDate(rev));
	if (reason != NULL)
		BIO_printf(b, "  %s", OCSP_crl_reason_str(ASN1_ENUMERATED_get(reason)));
	BIO_puts(b, "\n");
	ASN1_ENUMERATED_free(reason);
	OPENSSL_free(hex);
}

static void
certshow_crl(BIO *b, X509_CRL *crl)
{
	STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(crl);
	ASN1_INTEGER *number = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	int n = sk_X509_REVOKED_num(revs);

	BIO_puts(b, "Certificate revocation list\n");
	certshow_name(b, "Issuer:", X509_CRL_get_issuer(crl));
	certshow_time(b, "This update:", X509_CRL_get0_lastUpdate(crl));
	certshow_time(b, "Next update:", X509_CRL_get0_nextUpdate(crl));
	if (number != NULL)
		certshow_serial(b, "CRL number:", number);
	else
		BIO_printf(b, "  %-24s (none)\n", "CRL number:");
	certshow_label(b, "Revoked certificates:");
	BIO_printf(b, "%d\n", n > 0 ? n : 0);
	for (int i = 0; i < n && i < CERTSHOW_CRL_ENTRIES; i++)
		certshow_crl_entry(b, sk_X509_REVOKED_value(revs, i));
	if (n > CERTSHOW_CRL_ENTRIES)
		BIO_printf(b, "    ... and %d more\n", n - CERTSHOW_CRL_ENTRIES);
	ASN1_INTEGER_free(number);
	ERR_clear_error();
}

static void
certshow_ocsp_single(BIO *b, OCSP_SINGLERESP *single, int i)
{
	ASN1_GENERALIZEDTIME *rev = NULL, *this_up = NULL, *next_up = NULL;
	ASN1_INTEGER *serial = NULL;
	int reason = -1, status;
	char label[32];

	status = OCSP_single_get0_status(single, &reason, &rev, &this_up, &next_up);
	OCSP_id_get0_info(NULL, NULL, NULL, &serial, (OCSP_CERTID *)OCSP_SINGLERESP_get0_id(single));
	snprintf(label, sizeof(label), "Certificate %d:", i + 1);
	certshow_serial(b, label, serial);
	certshow_label(b, "  Status:");
	BIO_printf(b, "%s", OCSP_cert_status_str(status));
	if (status == V_OCSP_CERTSTATUS_REVOKED) {
		BIO_puts(b, " at ");
		ASN1_TIME_print(b, rev);
		if (reason >= 0)
			BIO_printf(b, " (%s)", OCSP_crl_reason_str(reason));
	}
	BIO_puts(b, "\n");
	certshow_time(b, "  This update:", this_up);
	certshow_time(b, "  Next update:", next_up);
}

static void
certshow_ocsp_responder(BIO *b, OCSP_BASICRESP *basic)
{
	const ASN1_OCTET_STRING *keyid = NULL;
	const X509_NAME *name = NULL;

	if (OCSP_resp_get0_id(basic, &keyid, &name) != 1)
		return;
	if (name != NULL) {
		certshow_name(b, "Responder:", name);
		return;
	}
	certshow_label(b, "Responder key id:");
	for (int i = 0; keyid != NULL && i < ASN1_STRING_length(keyid); i++)
		BIO_printf(b, "%s%02X", i > 0 ? ":" : "", ASN1_STRING_get0_data(keyid)[i]);
	BIO_puts(b, "\n");
}

static void
certshow_ocsp(BIO *b, OCSP_RESPONSE *resp)
{
	OCSP_BASICRESP *basic = NULL;
	int status = OCSP_response_status(resp);

	BIO_puts(b, "OCSP response\n");
	certshow_label(b, "Response status:");
	BIO_printf(b, "%s\n", OCSP_response_status_str(status));
	if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL ||
	    (basic = OCSP_response_get1_basic(resp)) == NULL) {
		ERR_clear_error();
		return;
	}
	certshow_ocsp_responder(b, basic);
	certshow_time(b, "Produced at:", OCSP_resp_get0_produced_at(basic));
	for (int i = 0; i < OCSP_resp_count(basic); i++)
		certshow_ocsp_single(b, OCSP_resp_get0(basic, i), i);
	OCSP_BASICRESP_free(basic);
	ERR_clear_error();
}

/* PEM: certificates or a CRL, told apart by the first armour line. */
static int
certshow_pem(BIO *b, const char *path, const unsigned char *data, size_t len,
    struct pki_err *err)
{
	BIO *mem = BIO_new_mem_buf(data, (int)len);
	STACK_OF(X509) *certs = NULL;
	X509_CRL *crl = NULL;
	int rc = -1;

	if (strstr((const char *)data, "-----BEGIN X509 CRL-----") != NULL) {
		if (mem != NULL && (crl = PEM_read_bio_X509_CRL(mem, NULL, NULL, NULL)) != NULL) {
			certshow_crl(b, crl);
			rc = 0;
		} else {
			pki_fail(err, "%s: the PEM CRL cannot be decoded", path);
		}
	} else if ((certs = pki_read_certs(path, err)) != NULL) {
		certshow_certs(b, certs);
		rc = 0;
	}
	X509_CRL_free(crl);
	sk_X509_pop_free(certs, X509_free);
	BIO_free(mem);
	return rc;
}

/* DER: a certificate, a CRL or an OCSP response, whichever decodes. */
static int
certshow_der(BIO *b, const char *path, const unsigned char *data, size_t len,
    struct pki_err *err)
{
	const unsigned char *p = data;
	OCSP_RESPONSE *resp;
	X509_CRL *crl;
	X509 *cert;

	if ((cert = d2i_X509(NULL, &p, (long)len)) != NULL) {
		BIO_puts(b, "Certificate\n");
		certshow_cert(b, cert);
		X509_free(cert);
		return 0;
	}
	p = data;
	if ((crl = d2i_X509_CRL(NULL, &p, (long)len)) != NULL) {
		certshow_crl(b, crl);
		X509_CRL_free(crl);
		return 0;
	}
	p = data;
	if ((resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len)) != NULL) {
		certshow_ocsp(b, resp);
		OCSP_RESPONSE_free(resp);
		return 0;
	}
	ERR_clear_error();
	return pki_fail(err, "%s: not a certificate, CRL or OCSP response (PEM or DER)", path);
}

int
certshow_file(const char *path, FILE *out, struct pki_err *err)
{
	unsigned char *data;
	size_t len;
	BIO *b;
	int rc;

	if ((data = pki_read_file(path, &len, err)) == NULL)
		return -1;
	if ((b = BIO_new_fp(out, BIO_NOCLOSE)) == NULL) {
		free(data);
		return pki_fail(err, "out of memory");
	}
	if (strstr((const char *)data, "-----BEGIN ") != NULL)
		rc = certshow_pem(b, path, data, len, err);
	else
		rc = certshow_der(b, path, data, len, err);
	BIO_free(b);
	free(data);
	return rc;
}
