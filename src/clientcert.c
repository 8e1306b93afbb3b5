#include "config.h"
#include "clientcert.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

static const char clientcert_hex_upper[] = "0123456789ABCDEF";
static const char clientcert_hex_lower[] = "0123456789abcdef";

/*
 * Copies LEN bytes of an RFC 4514 string, escaping every byte outside printable ASCII
 * (controls, DEL, and any byte >= 0x80) as a "\XX" hex pair. OpenSSL's RFC 2253 printer
 * already escapes these; doing it again here is what guarantees the header promise (no CR,
 * LF or NUL can reach a backend header, whatever a future flag or dumped field emits), and it
 * keeps the string valid RFC 4514 instead of silently dropping bytes.
 */
static char *
clientcert_sanitize(const unsigned char *s, size_t len)
{
	char *out = malloc(3 * len + 1);
	size_t o = 0;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f) {
			out[o++] = (char)s[i];
			continue;
		}
		out[o++] = '\\';
		out[o++] = clientcert_hex_upper[s[i] >> 4];
		out[o++] = clientcert_hex_upper[s[i] & 0x0f];
	}
	out[o] = '\0';
	return out;
}

/* NAME as an RFC 4514 string (most specific attribute first), sanitized; NULL on failure. */
static char *
clientcert_name(const X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	char *out = NULL;
	long len;

	if (bio == NULL)
		goto cleanup;
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) < 0)
		goto cleanup;
	len = BIO_get_mem_data(bio, &data);
	if (len < 0)
		goto cleanup;
	out = clientcert_sanitize((const unsigned char *)data, (size_t)len);
cleanup:
	BIO_free(bio);
	return out;
}

/*
 * The serial as `openssl x509 -serial` prints it: upper-case hex in whole octets, "-" before
 * a negative one (RFC 5280 forbids them, but OpenSSL parses them), "00" for zero.
 */
static int
clientcert_serial(const X509 *cert, char *out, size_t size)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = NULL;
	const char *text;
	int ret = -1;

	if (bn == NULL)
		goto cleanup;
	if (BN_is_zero(bn))
		text = "00";
	else if ((hex = BN_bn2hex(bn)) != NULL)
		text = hex;
	else
		goto cleanup;
	/* A serial longer than OUT holds (64 octets, thrice RFC 5280's limit) is refused. */
	if (strlen(text) >= size)
		goto cleanup;
	memcpy(out, text, strlen(text) + 1);
	ret = 0;
cleanup:
	OPENSSL_free(hex);
	BN_free(bn);
	return ret;
}

static int
clientcert_fingerprint(const X509 *cert, char *out, size_t size)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (X509_digest(cert, EVP_sha256(), md, &n) != 1 || 2 * (size_t)n + 1 > size)
		return -1;
	for (unsigned int i = 0; i < n; i++) {
		out[2 * i] = clientcert_hex_lower[md[i] >> 4];
		out[2 * i + 1] = clientcert_hex_lower[md[i] & 0x0f];
	}
	out[2 * n] = '\0';
	return 0;
}

/*
 * The PEM, percent-encoded like nginx's $ssl_client_escaped_cert: everything but RFC 3986
 * unreserved characters (ALPHA, DIGIT, "-", ".", "_", "~") becomes %XX, newlines included.
 */
static char *
clientcert_pem_urlencoded(X509 *cert)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	char *out = NULL;
	long len;
	size_t o = 0;

	if (bio == NULL || PEM_write_bio_X509(bio, cert) != 1)
		goto cleanup;
	len = BIO_get_mem_data(bio, &data);
	if (len <= 0)
		goto cleanup;
	out = malloc(3 * (size_t)len + 1);
	if (out == NULL)
		goto cleanup;
	for (long i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			out[o++] = (char)c;
			continue;
		}
		out[o++] = '%';
		out[o++] = clientcert_hex_upper[c >> 4];
		out[o++] = clientcert_hex_upper[c & 0x0f];
	}
	out[o] = '\0';
cleanup:
	BIO_free(bio);
	return out;
}

int
clientcert_describe(X509 *cert, bool with_pem, struct clientcert *out)
{
	memset(out, 0, sizeof(*out));
	out->subject = clientcert_name(X509_get_subject_name(cert));
	out->issuer = clientcert_name(X509_get_issuer_name(cert));
	if (out->subject == NULL || out->issuer == NULL)
		goto fail;
	if (clientcert_serial(cert, out->serial, sizeof(out->serial)) != 0 ||
	    clientcert_fingerprint(cert, out->fingerprint, sizeof(out->fingerprint)) != 0)
		goto fail;
	if (with_pem && (out->pem_urlencoded = clientcert_pem_urlencoded(cert)) == NULL)
		goto fail;
	return 0;
fail:
	clientcert_clear(out);
	/* Leave no stale error for the next TLS call on this thread to trip over. */
	ERR_clear_error();
	return -1;
}

void
clientcert_clear(struct clientcert *out)
{
	free(out->subject);
	free(out->issuer);
	free(out->pem_urlencoded);
	memset(out, 0, sizeof(*out));
}
