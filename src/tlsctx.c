#include "config.h"
#include "tlsctx.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "log.h"
#include "sesscache.h"

#define TLSCTX_KEY_NAME_LEN	16
#define TLSCTX_AES_KEY_LEN	32	/* AES-256-CBC */
#define TLSCTX_HMAC_KEY_LEN	32	/* HMAC-SHA256 */
#define TLSCTX_IV_LEN		16

/* Resumption is only valid within the context that verified the client: name it. */
static const unsigned char tlsctx_session_id_context[] = "revgate";

static const char tlsctx_remedy_files[] = "check the path or generate certificates";
static const char tlsctx_remedy_ca[] =
    "check the path or point it at the CA that issues client certificates";

struct tlsctx_key {
	bool		valid;
	unsigned char	name[TLSCTX_KEY_NAME_LEN];
	unsigned char	aes[TLSCTX_AES_KEY_LEN];
	unsigned char	hmac[TLSCTX_HMAC_KEY_LEN];
};

struct tlsctx_keys {
	pthread_rwlock_t	lock;	/* handshakes read, rotation writes */
	struct tlsctx_key	current;	/* encrypts new tickets, decrypts */
	struct tlsctx_key	previous;	/* decrypts only; the ticket is then renewed */
};

/* The ex_data slot where each context keeps its borrowed key ring; allocated once. */
static pthread_once_t tlsctx_ex_once = PTHREAD_ONCE_INIT;
static int tlsctx_ex_index = -1;

/* --- messages ------------------------------------------------------------------------------ */

/*
 * Appends the OpenSSL error queue to ERR and drains it, so no stale error blames the next
 * connection. Each entry keeps its data ("calling fopen(...)"), which often names the cause;
 * repeats are dropped (a decoder that tries several formats reports the same failure twice).
 */
static void
tlsctx_append_errors(char *err, size_t errlen)
{
	const char *sep = "; OpenSSL: ";
	const char *data;
	unsigned long e, seen[8];
	size_t nseen = 0;
	int flags;
	size_t len = err != NULL && errlen > 0 ? strlen(err) : 0;

	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		char one[256];
		bool repeat = false;
		int n;

		for (size_t i = 0; i < nseen; i++)
			repeat = repeat || seen[i] == e;
		if (repeat || len + 1 >= errlen)
			continue;
		if (nseen < sizeof(seen) / sizeof(seen[0]))
			seen[nseen++] = e;
		ERR_error_string_n(e, one, sizeof(one));
		if ((flags & ERR_TXT_STRING) != 0 && data != NULL && *data != '\0')
			n = snprintf(err + len, errlen - len, "%s%s (%s)", sep, one, data);
		else
			n = snprintf(err + len, errlen - len, "%s%s", sep, one);
		if (n > 0)
			len += (size_t)n < errlen - len ? (size_t)n : errlen - len - 1;
		sep = "; ";
	}
}

/* Writes a complete message into ERR, appends the OpenSSL error queue, returns -1. */
static int __attribute__((format(printf, 3, 4)))
tlsctx_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	tlsctx_append_errors(err, errlen);
	return -1;
}

/*
 * Says precisely why KEY's PATH cannot be used, before OpenSSL's vaguer "system library"
 * error would. Sets *IS_DIR when PATH is a directory and IS_DIR is not NULL; a directory is an
 * error otherwise.
 */
static int
tlsctx_check_path(const char *key, const char *path, const char *remedy, bool *is_dir,
    char *err, size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int saved;

	if (fd == -1 || fstat(fd, &st) != 0) {
		saved = errno;
		if (fd != -1)
			close(fd);
		return tlsctx_fail(err, errlen, "%s: cannot load \"%s\": %s; %s", key, path,
		    strerror(saved), remedy);
	}
	close(fd);
	if (S_ISDIR(st.st_mode) && is_dir == NULL)
		return tlsctx_fail(err, errlen, "%s: cannot load \"%s\": is a directory; %s",
		    key, path, remedy);
	if (is_dir != NULL)
		*is_dir = S_ISDIR(st.st_mode);
	return 0;
}

/* --- session-ticket keys ------------------------------------------------------------------- */

static int
tlsctx_key_generate(struct tlsctx_key *k)
{
	if (RAND_bytes(k->name, sizeof(k->name)) != 1 ||
	    RAND_bytes(k->aes, sizeof(k->aes)) != 1 ||
	    RAND_bytes(k->hmac, sizeof(k->hmac)) != 1) {
		OPENSSL_cleanse(k, sizeof(*k));
		return -1;
	}
	k->valid = true;
	return 0;
}

struct tlsctx_keys *
tlsctx_keys_new(void)
{
	struct tlsctx_keys *keys = calloc(1, sizeof(*keys));

	if (keys == NULL)
		return NULL;
	if (pthread_rwlock_init(&keys->lock, NULL) != 0) {
		free(keys);
		return NULL;
	}
	if (tlsctx_key_generate(&keys->current) != 0) {
		tlsctx_keys_free(keys);
		return NULL;
	}
	return keys;
}

int
tlsctx_keys_rotate(struct tlsctx_keys *keys)
{
	struct tlsctx_key fresh;
	int ret = -1;

	/* Draw the randomness outside the lock: handshakes wait only for two copies. */
	if (tlsctx_key_generate(&fresh) != 0)
		return -1;
	if (pthread_rwlock_wrlock(&keys->lock) != 0)
		goto cleanup;
	keys->previous = keys->current;
	keys->current = fresh;
	pthread_rwlock_unlock(&keys->lock);
	ret = 0;
cleanup:
	OPENSSL_cleanse(&fresh, sizeof(fresh));
	return ret;
}

void
tlsctx_keys_free(struct tlsctx_keys *keys)
{
	if (keys == NULL)
		return;
	pthread_rwlock_destroy(&keys->lock);
	OPENSSL_cleanse(keys, sizeof(*keys));
	free(keys);
}

/* Keys the cipher and the MAC for one ticket. The contexts copy the key bytes. */
static int
tlsctx_ticket_init(struct tlsctx_key *k, const unsigned char *iv, EVP_CIPHER_CTX *cctx,
    EVP_MAC_CTX *hctx, bool enc)
{
	char digest[] = "SHA256";
	OSSL_PARAM params[3];
	int ok;

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k->hmac,
	    sizeof(k->hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[2] = OSSL_PARAM_construct_end();
	if (enc)
		ok = EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv);
	else
		ok = EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv);
	if (ok != 1 || EVP_MAC_CTX_set_params(hctx, params) != 1)
		return -1;
	return 0;
}

/*
 * OpenSSL's ticket key callback. Encrypting: name the current key and key the contexts.
 * Decrypting: 1 for the current key, 2 for the previous one (valid, but issue a fresh ticket),
 * 0 for an unknown name (a full handshake). Internal failures also return 0: a missing or
 * unreadable ticket costs a full handshake, never the connection.
 */
static int
tlsctx_ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *cctx,
    EVP_MAC_CTX *hctx, int enc)
{
	struct tlsctx_keys *keys = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tlsctx_ex_index);
	struct tlsctx_key *k = NULL;
	int ret = 0;

	if (keys == NULL || pthread_rwlock_rdlock(&keys->lock) != 0)
		return 0;
	if (enc) {
		k = &keys->current;
		if (RAND_bytes(iv, TLSCTX_IV_LEN) == 1) {
			memcpy(name, k->name, TLSCTX_KEY_NAME_LEN);
			ret = 1;
		}
	} else if (memcmp(name, keys->current.name, TLSCTX_KEY_NAME_LEN) == 0) {
		k = &keys->current;
		/*
		 * TLS 1.3 clients use a ticket once (RFC 8446 C.4): without "renew" OpenSSL sends
		 * no new one after a resumption, and the next connection would be a full handshake.
		 */
		ret = SSL_version(ssl) >= TLS1_3_VERSION ? 2 : 1;
	} else if (keys->previous.valid &&
	    memcmp(name, keys->previous.name, TLSCTX_KEY_NAME_LEN) == 0) {
		k = &keys->previous;
		ret = 2;
	}
	if (ret != 0 && tlsctx_ticket_init(k, iv, cctx, hctx, enc != 0) != 0)
		ret = 0;
	pthread_rwlock_unlock(&keys->lock);
	return ret;
}

static void
tlsctx_ex_index_init(void)
{
	tlsctx_ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* --- protocol ------------------------------------------------------------------------------ */

static int
tlsctx_set_min_version(SSL_CTX *ctx, int version, char *err, size_t errlen)
{
	int proto = 0;
	const char *name = "?";

	switch ((enum conf_tls_version)version) {
	case CONF_TLS_1_2:
		proto = TLS1_2_VERSION;
		name = "TLSv1.2";
		break;
	case CONF_TLS_1_3:
		proto = TLS1_3_VERSION;
		name = "TLSv1.3";
		break;
	}
	if (proto == 0 || SSL_CTX_set_min_proto_version(ctx, proto) != 1)
		return tlsctx_fail(err, errlen, "tls.minVersion: cannot set \"%s\"; use TLSv1.2 "
		    "or TLSv1.3", name);
	return 0;
}

static int
tlsctx_set_protocol(SSL_CTX *ctx, const struct conf_tls *tls, char *err, size_t errlen)
{
	/*
	 * No renegotiation: a client could otherwise force costly handshakes at will, or swap
	 * its certificate after the revocation checks ran on the first one.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Send the chain exactly as the certificate file holds it, never one built from the
	 * client-CA store (which would advertise our trust anchors as our own chain). */
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
	if (tlsctx_set_min_version(ctx, tls->min_version, err, errlen) != 0)
		return -1;
	if (tls->ciphers != NULL && SSL_CTX_set_cipher_list(ctx, tls->ciphers) != 1)
		return tlsctx_fail(err, errlen, "tls.ciphers: no usable cipher in \"%s\"; use "
		    "OpenSSL cipher list syntax (see `openssl ciphers -v`)", tls->ciphers);
	if (tls->ciphersuites != NULL && SSL_CTX_set_ciphersuites(ctx, tls->ciphersuites) != 1)
		return tlsctx_fail(err, errlen, "tls.ciphersuites: cannot use \"%s\"; use TLS 1.3 "
		    "suite names such as TLS_AES_128_GCM_SHA256", tls->ciphersuites);
	if (tls->curves != NULL && SSL_CTX_set1_groups_list(ctx, tls->curves) != 1)
		return tlsctx_fail(err, errlen, "tls.curves: cannot use \"%s\"; use group names "
		    "such as X25519:P-256:P-384", tls->curves);
	return 0;
}

/* --- certificate and private key ----------------------------------------------------------- */

struct tlsctx_password {
	const char	*password;	/* borrowed from the configuration; NULL: none set */
	bool		 asked;		/* the file turned out to be encrypted */
};

/*
 * PEM password callback: hands over the configured password and never prompts (a daemon has
 * no terminal). OpenSSL cleanses BUF after use, so no copy of the password outlives the call.
 */
static int
tlsctx_pem_password(char *buf, int size, int rwflag, void *arg)
{
	struct tlsctx_password *pw = arg;
	size_t len;

	pw->asked = true;
	if (pw->password == NULL)
		return -1;
	len = strlen(pw->password);
	if (size < 0 || len > (size_t)size)
		return -1;
	memcpy(buf, pw->password, len);
	return (int)len;
}

/* The context's default password callback: OpenSSL's own would prompt on the terminal. */
static int
tlsctx_no_prompt(char *buf, int size, int rwflag, void *arg)
{
	return -1;
}

/* Refuses a key that does not belong to the certificate, naming both files. */
static int
tlsctx_check_pair(X509 *cert, EVP_PKEY *pkey, const char *cert_path, const char *key_path,
    char *err, size_t errlen)
{
	if (X509_check_private_key(cert, pkey) == 1)
		return 0;
	if (strcmp(cert_path, key_path) == 0)
		return tlsctx_fail(err, errlen, "tls.certificate: the private key in \"%s\" does "
		    "not match its certificate; export the bundle again", cert_path);
	return tlsctx_fail(err, errlen, "tls.privateKey: \"%s\" does not match the certificate "
	    "in tls.certificate \"%s\"; use the key the certificate was issued for", key_path,
	    cert_path);
}

/* Reads the private key at PATH (PEM: PKCS#8 or traditional, maybe encrypted). */
static EVP_PKEY *
tlsctx_read_key(const char *path, const char *password, bool from_cert_file, char *err,
    size_t errlen)
{
	struct tlsctx_password pw = { password, false };
	EVP_PKEY *pkey = NULL;
	BIO *bio = BIO_new_file(path, "r");

	if (bio == NULL) {
		tlsctx_fail(err, errlen, "tls.privateKey: cannot load \"%s\"; %s", path,
		    tlsctx_remedy_files);
		return NULL;
	}
	pkey = PEM_read_bio_PrivateKey_ex(bio, NULL, tlsctx_pem_password, &pw, NULL, NULL);
	BIO_free(bio);
	if (pkey != NULL)
		return pkey;
	if (pw.asked && password == NULL)
		tlsctx_fail(err, errlen, "tls.privateKey: \"%s\" is encrypted; set "
		    "tls.privateKeyPassword", path);
	else if (pw.asked)
		tlsctx_fail(err, errlen, "tls.privateKeyPassword: wrong password for \"%s\"",
		    path);
	else if (from_cert_file)
		tlsctx_fail(err, errlen, "tls.privateKey: not set, and tls.certificate \"%s\" "
		    "holds no private key; set tls.privateKey", path);
	else
		tlsctx_fail(err, errlen, "tls.privateKey: \"%s\" holds no PEM private key; "
		    "expected PKCS#8 or traditional PEM", path);
	return NULL;
}

/* PEM: the leaf first, then its chain, exactly as the file lists them. */
static int
tlsctx_use_pem(SSL_CTX *ctx, const struct conf_tls *tls, char *err, size_t errlen)
{
	const char *key_path = tls->private_key != NULL ? tls->private_key : tls->certificate;
	EVP_PKEY *pkey = NULL;
	int ret = -1;

	if (SSL_CTX_use_certificate_chain_file(ctx, tls->certificate) != 1) {
		tlsctx_fail(err, errlen, "tls.certificate: cannot load \"%s\": no PEM certificate "
		    "chain; expected PEM (leaf first) or PKCS#12 (.p12/.pfx)", tls->certificate);
		goto cleanup;
	}
	if (tls->private_key != NULL && tlsctx_check_path("tls.privateKey", key_path,
	    tlsctx_remedy_files, NULL, err, errlen) != 0)
		goto cleanup;
	pkey = tlsctx_read_key(key_path, tls->private_key_password, tls->private_key == NULL,
	    err, errlen);
	if (pkey == NULL)
		goto cleanup;
	if (tlsctx_check_pair(SSL_CTX_get0_certificate(ctx), pkey, tls->certificate, key_path,
	    err, errlen) != 0)
		goto cleanup;
	if (SSL_CTX_use_PrivateKey(ctx, pkey) != 1) {
		tlsctx_fail(err, errlen, "tls.privateKey: cannot use \"%s\"", key_path);
		goto cleanup;
	}
	ret = 0;
cleanup:
	EVP_PKEY_free(pkey);	/* the context holds its own reference */
	return ret;
}

/* Is PATH named like a PKCS#12 bundle? */
static bool
tlsctx_is_p12_name(const char *path)
{
	const char *dot = strrchr(path, '.');

	return dot != NULL && (strcasecmp(dot, ".p12") == 0 || strcasecmp(dot, ".pfx") == 0);
}

/* Reads PATH as DER PKCS#12; NULL (with the queue untouched) if it is not one. */
static PKCS12 *
tlsctx_read_p12(const char *path)
{
	BIO *bio = BIO_new_file(path, "rb");
	PKCS12 *p12 = NULL;

	if (bio == NULL)
		return NULL;
	ERR_set_mark();
	p12 = d2i_PKCS12_bio(bio, NULL);
	if (p12 == NULL)
		ERR_pop_to_mark();
	else
		ERR_clear_last_mark();
	BIO_free(bio);
	return p12;
}

/* Opens the bundle with the configured password, telling "none set" from "wrong". */
static int
tlsctx_parse_p12(PKCS12 *p12, const char *path, const char *password, EVP_PKEY **pkey,
    X509 **cert, STACK_OF(X509) **chain, char *err, size_t errlen)
{
	if (PKCS12_mac_present(p12) == 1) {
		if (password == NULL && PKCS12_verify_mac(p12, NULL, 0) != 1 &&
		    PKCS12_verify_mac(p12, "", 0) != 1)
			return tlsctx_fail(err, errlen, "tls.certificate: \"%s\" is a "
			    "password-protected PKCS#12 bundle; set tls.certificatePassword", path);
		if (password != NULL && PKCS12_verify_mac(p12, password, -1) != 1)
			return tlsctx_fail(err, errlen, "tls.certificatePassword: wrong password "
			    "for \"%s\"", path);
	}
	if (PKCS12_parse(p12, password, pkey, cert, chain) != 1)
		return tlsctx_fail(err, errlen, "tls.certificate: cannot read PKCS#12 bundle "
		    "\"%s\"; check tls.certificatePassword or export the bundle again", path);
	if (*cert == NULL)
		return tlsctx_fail(err, errlen, "tls.certificate: PKCS#12 bundle \"%s\" holds no "
		    "certificate; export it with the certificate", path);
	if (*pkey == NULL)
		return tlsctx_fail(err, errlen, "tls.certificate: PKCS#12 bundle \"%s\" holds no "
		    "private key; export it with the key", path);
	return 0;
}

/* PKCS#12: key, leaf, and the extra certificates as the chain, in bundle order. */
static int
tlsctx_use_p12(SSL_CTX *ctx, PKCS12 *p12, const struct conf *cfg, char *err, size_t errlen)
{
	const struct conf_tls *tls = &cfg->tls;
	const char *path = tls->certificate;
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *chain = NULL;
	int ret = -1;

	if (tls->private_key != NULL && !conf_is_default(cfg, "tls.privateKey"))
		log_warn("tls.privateKey: \"%s\" is ignored, tls.certificate \"%s\" is a PKCS#12 "
		    "bundle that holds the key", tls->private_key, path);
	if (tlsctx_parse_p12(p12, path, tls->certificate_password, &pkey, &cert, &chain, err,
	    errlen) != 0)
		goto cleanup;
	if (tlsctx_check_pair(cert, pkey, path, path, err, errlen) != 0)
		goto cleanup;
	if (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, pkey) != 1) {
		tlsctx_fail(err, errlen, "tls.certificate: cannot use the certificate and key "
		    "in \"%s\"", path);
		goto cleanup;
	}
	for (int i = 0; i < sk_X509_num(chain); i++) {
		if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(chain, i)) != 1) {
			tlsctx_fail(err, errlen, "tls.certificate: cannot use the chain in \"%s\"",
			    path);
			goto cleanup;
		}
	}
	ret = 0;
cleanup:
	EVP_PKEY_free(pkey);
	X509_free(cert);
	sk_X509_pop_free(chain, X509_free);
	return ret;
}

static int
tlsctx_load_identity(SSL_CTX *ctx, const struct conf *cfg, char *err, size_t errlen)
{
	const struct conf_tls *tls = &cfg->tls;
	PKCS12 *p12 = NULL;
	int ret = -1;

	if (tls->certificate == NULL)
		return tlsctx_fail(err, errlen, "tls.certificate: not set; set it to a PEM chain "
		    "or a PKCS#12 bundle");
	if (tlsctx_check_path("tls.certificate", tls->certificate, tlsctx_remedy_files, NULL,
	    err, errlen) != 0)
		return -1;
	/* The name decides when it says PKCS#12; otherwise the content does (DER vs PEM). */
	p12 = tlsctx_read_p12(tls->certificate);
	if (p12 != NULL)
		ret = tlsctx_use_p12(ctx, p12, cfg, err, errlen);
	else if (tlsctx_is_p12_name(tls->certificate))
		tlsctx_fail(err, errlen, "tls.certificate: cannot load \"%s\": not a PKCS#12 "
		    "bundle; export it again or give a PEM file", tls->certificate);
	else
		ret = tlsctx_use_pem(ctx, tls, err, errlen);
	PKCS12_free(p12);
	return ret;
}

/* --- client certificates ------------------------------------------------------------------- */

static int
tlsctx_name_cmp(const X509_NAME *const *a, const X509_NAME *const *b)
{
	return X509_NAME_cmp(*a, *b);
}

/*
 * Trust anchors from a PEM bundle; its subjects also become the CA names sent in the
 * CertificateRequest, so clients holding several certificates pick the right one.
 */
static int
tlsctx_trust_file(SSL_CTX *ctx, const char *path, char *err, size_t errlen)
{
	STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(path);

	if (names == NULL || sk_X509_NAME_num(names) == 0) {
		sk_X509_NAME_pop_free(names, X509_NAME_free);
		return tlsctx_fail(err, errlen, "tls.certificateAuthority: \"%s\" holds no "
		    "certificate; give a PEM bundle of the CAs that issue client certificates",
		    path);
	}
	SSL_CTX_set_client_CA_list(ctx, names);	/* the context owns NAMES now */
	if (SSL_CTX_load_verify_file(ctx, path) != 1)
		return tlsctx_fail(err, errlen, "tls.certificateAuthority: cannot load \"%s\"; %s",
		    path, tlsctx_remedy_ca);
	return 0;
}

/* Trust anchors from a hashed directory (`openssl rehash`), looked up during verification. */
static int
tlsctx_trust_dir(SSL_CTX *ctx, const char *path, char *err, size_t errlen)
{
	STACK_OF(X509_NAME) *names = sk_X509_NAME_new(tlsctx_name_cmp);
	int ret = -1;

	if (names == NULL) {
		tlsctx_fail(err, errlen, "tls.certificateAuthority: out of memory");
		goto cleanup;
	}
	if (SSL_add_dir_cert_subjects_to_stack(names, path) != 1 ||
	    sk_X509_NAME_num(names) == 0) {
		tlsctx_fail(err, errlen, "tls.certificateAuthority: directory \"%s\" holds no "
		    "certificate; add the CA certificates and run `openssl rehash`", path);
		goto cleanup;
	}
	if (SSL_CTX_load_verify_dir(ctx, path) != 1) {
		tlsctx_fail(err, errlen, "tls.certificateAuthority: cannot use directory \"%s\"; "
		    "%s", path, tlsctx_remedy_ca);
		goto cleanup;
	}
	SSL_CTX_set_client_CA_list(ctx, names);	/* the context owns NAMES now */
	names = NULL;
	ret = 0;
cleanup:
	sk_X509_NAME_pop_free(names, X509_NAME_free);
	return ret;
}

/* Never the system store: any publicly trusted certificate would then log in as a client. */
static int
tlsctx_set_verify(SSL_CTX *ctx, const struct conf *cfg, char *err, size_t errlen)
{
	const struct conf_mtls *mtls = &cfg->http.mtls;
	const char *ca = cfg->tls.certificate_authority;
	bool is_dir = false;
	int rc;

	if (!mtls->enabled) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return 0;
	}
	if (ca == NULL)
		return tlsctx_fail(err, errlen, "tls.certificateAuthority: not set, but http.mtls "
		    "is enabled; set it to the CA that issues client certificates");
	if (tlsctx_check_path("tls.certificateAuthority", ca, tlsctx_remedy_ca, &is_dir, err,
	    errlen) != 0)
		return -1;
	rc = is_dir ? tlsctx_trust_dir(ctx, ca, err, errlen) :
	    tlsctx_trust_file(ctx, ca, err, errlen);
	if (rc != 0)
		return -1;
	/* Without FAIL_IF_NO_PEER_CERT a missing certificate is admitted, but one that is
	 * presented and fails verification still aborts the handshake. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    (mtls->required ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
	SSL_CTX_set_verify_depth(ctx, (int)mtls->verify_depth);
	return 0;
}

/* --- ALPN and sessions --------------------------------------------------------------------- */

/* Picks http/1.1 when the client offers it; otherwise no ALPN at all rather than a refusal. */
static int
tlsctx_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const char proto[] = "http/1.1";
	const unsigned int plen = sizeof(proto) - 1;

	for (unsigned int i = 0; i < inlen; ) {
		unsigned int len = in[i];

		if (len > inlen - i - 1)
			break;
		if (len == plen && memcmp(in + i + 1, proto, plen) == 0) {
			*out = in + i + 1;
			*outlen = (unsigned char)len;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + len;
	}
	return SSL_TLSEXT_ERR_NOACK;
}

/*
 * Sessions kept in the cache every context shares: a TLS 1.3 ticket (if tickets are on) only
 * names one, and TLS 1.2 resumes by session ID. SSL_OP_NO_TICKET is what makes OpenSSL issue
 * such tickets instead of sealing the session into them.
 */
static int
tlsctx_set_session_cache(SSL_CTX *ctx, const struct conf_tls *tls,
    const struct tlsctx_resume *resume, char *err, size_t errlen)
{
	if (resume == NULL || resume->sessions == NULL)
		return tlsctx_fail(err, errlen, "tls.sessionCache: on, but no session cache was "
		    "given (a bug: report it)");
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	if (SSL_CTX_set_num_tickets(ctx, tls->session_tickets ? 1 : 0) != 1 ||
	    sesscache_attach(resume->sessions, ctx) != 0)
		return tlsctx_fail(err, errlen, "tls.sessionCache: cannot set up the session "
		    "cache");
	return 0;
}

/*
 * Resumption through the shared session cache, or without one through stateless tickets
 * encrypted with the shared ring, so that every worker (and the next context after a reload)
 * resumes every session.
 */
static int
tlsctx_set_sessions(SSL_CTX *ctx, const struct conf_tls *tls,
    const struct tlsctx_resume *resume, char *err, size_t errlen)
{
	long seconds = (long)((tls->session_timeout_ms + 999) / 1000);
	struct tlsctx_keys *keys = resume != NULL ? resume->keys : NULL;
	long old;

	if (SSL_CTX_set_session_id_context(ctx, tlsctx_session_id_context,
	    sizeof(tlsctx_session_id_context) - 1) != 1)
		return tlsctx_fail(err, errlen, "tls.sessionTickets: cannot set the session "
		    "context");
	old = SSL_CTX_set_timeout(ctx, seconds > 0 ? seconds : 1);
	(void)old;
	if (tls->session_cache > 0)
		return tlsctx_set_session_cache(ctx, tls, resume, err, errlen);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (!tls->session_tickets) {
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		if (SSL_CTX_set_num_tickets(ctx, 0) != 1)
			return tlsctx_fail(err, errlen, "tls.sessionTickets: cannot turn off");
		return 0;
	}
	if (keys == NULL)
		return tlsctx_fail(err, errlen, "tls.sessionTickets: on, but no ticket key ring "
		    "was given (a bug: report it)");
	pthread_once(&tlsctx_ex_once, tlsctx_ex_index_init);
	if (tlsctx_ex_index < 0 || SSL_CTX_set_ex_data(ctx, tlsctx_ex_index, keys) != 1 ||
	    SSL_CTX_set_num_tickets(ctx, 1) != 1 ||
	    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tlsctx_ticket_cb) != 1)
		return tlsctx_fail(err, errlen, "tls.sessionTickets: cannot set up tickets");
	return 0;
}

/* --- public -------------------------------------------------------------------------------- */

SSL_CTX *
tlsctx_new(const struct conf *cfg, const struct tlsctx_resume *resume, char *err,
    size_t errlen)
{
	SSL_CTX *ctx = NULL;

	ERR_clear_error();
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		tlsctx_fail(err, errlen, "tls: cannot create a TLS context");
		goto fail;
	}
	SSL_CTX_set_default_passwd_cb(ctx, tlsctx_no_prompt);
	if (tlsctx_set_protocol(ctx, &cfg->tls, err, errlen) != 0 ||
	    tlsctx_load_identity(ctx, cfg, err, errlen) != 0 ||
	    tlsctx_set_verify(ctx, cfg, err, errlen) != 0 ||
	    tlsctx_set_sessions(ctx, &cfg->tls, resume, err, errlen) != 0)
		goto fail;
	SSL_CTX_set_alpn_select_cb(ctx, tlsctx_alpn_select, NULL);
	/* Loaders leave "no start line" and similar entries behind even on success. */
	ERR_clear_error();
	return ctx;
fail:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

const char *
tlsctx_verify_status(const SSL *ssl, char *buf, size_t size)
{
	long result;

	/* The session's peer certificate: present on resumed sessions too, unlike the chain. */
	if (SSL_get0_peer_certificate(ssl) == NULL)
		return "NONE";
	result = SSL_get_verify_result(ssl);
	if (result == X509_V_OK)
		return "SUCCESS";
	if (buf == NULL || size == 0)
		return "FAILED";
	snprintf(buf, size, "FAILED:%s", X509_verify_cert_error_string(result));
	return buf;
}
