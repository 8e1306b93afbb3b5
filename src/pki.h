/*
 * pki: keys, certificates and the files that hold them, for the `revgate cert` commands, the
 * tests, and the development certificates the daemon makes out of the box (devcert).
 *
 * Nothing here prints. A failure returns -1 (or NULL) and leaves one sentence in a struct
 * pki_err: what failed, the path or value involved, and the OpenSSL reason when there is one.
 * Every function blocks on file I/O or key generation (RSA-4096 takes seconds): never call one
 * from a worker.
 */
#ifndef REVGATE_PKI_H
#define REVGATE_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define PKI_ERR_SIZE	1024

/* The reason of the last failure, one line without a trailing newline. */
struct pki_err {
	char	msg[PKI_ERR_SIZE];
};

/*
 * Formats the reason into ERR, appends the first reason on the OpenSSL error queue (": ...")
 * and clears the queue. Returns -1, so a failure site can `return pki_fail(...)`.
 */
int pki_fail(struct pki_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

enum pki_key_type {
	PKI_KEY_ECDSA_P256,
	PKI_KEY_ECDSA_P384,
	PKI_KEY_RSA_2048,
	PKI_KEY_RSA_4096,
	PKI_KEY_ED25519,
};
#define PKI_KEY_NTYPES	5

/* The option value naming TYPE ("ecdsa-p256", ...). Never NULL. */
const char *pki_key_type_name(enum pki_key_type type);

/* Parses a key type name; returns 0, or -1 if NAME is not one of pki_key_type_name's. */
int pki_key_type_parse(const char *name, enum pki_key_type *out);

/* A new private key of TYPE; the caller owns it. NULL on failure. */
EVP_PKEY *pki_key_new(enum pki_key_type type, struct pki_err *err);

/* A short description of KEY's algorithm and size: "ECDSA P-256", "RSA 2048", "Ed25519". */
const char *pki_key_describe(const EVP_PKEY *key, char *buf, size_t size);

enum pki_profile {
	PKI_PROFILE_ROOT_CA,		/* self-signed, CA:TRUE, no path length limit */
	PKI_PROFILE_INTERMEDIATE_CA,	/* CA:TRUE, pathlen 0 */
	PKI_PROFILE_NODE,		/* serverAuth + clientAuth, SANs required */
	PKI_PROFILE_CLIENT,		/* clientAuth, SANs optional */
};

/* What pki_cert_new issues. Pointers are borrowed. */
struct pki_cert_spec {
	enum pki_profile	 profile;
	const char		*cn;		/* required */
	const char		*org;		/* NULL: no O */
	int			 days;		/* validity from now; > 0 */
	time_t			 now;		/* the issuing time (tests pass their own) */
	EVP_PKEY		*key;		/* the subject's key */
	X509			*issuer;	/* NULL for a root CA */
	EVP_PKEY		*issuer_key;	/* NULL for a root CA */
	const char *const	*dns;		/* DNS SANs, validated with pki_check_dns */
	size_t			 ndns;
	const char *const	*ips;		/* IP SANs, validated with pki_check_ip */
	size_t			 nips;
	const char		*crl_url;	/* CRL distribution point URI, or NULL */
	const char		*ocsp_url;	/* AIA OCSP URI, or NULL */
};

/*
 * Issues a certificate as SPEC describes: random positive 128-bit serial, notBefore five
 * minutes before SPEC->now (clock skew), the profile's extensions, SKI and AKI, signed with
 * SHA-256 (Ed25519: its own pure scheme). The caller owns the result. NULL on failure.
 */
X509 *pki_cert_new(const struct pki_cert_spec *spec, struct pki_err *err);

/* 0 if NAME is a plausible DNS name for a SAN (letters, digits, '-', '.', a leading "*."). */
int pki_check_dns(const char *name);

/* 0 if TEXT is an IPv4 or IPv6 address in the usual notation. */
int pki_check_ip(const char *text);

/* 0 if VALUE can go into a certificate extension as a URI (no spaces, commas or controls). */
int pki_check_uri(const char *value);

/* The serial of CERT as upper-case hex without leading zero bytes (as `openssl ca` writes). */
char *pki_serial_hex(const X509 *cert);

/* Serial as hex into a new string, or NULL; the caller frees it with OPENSSL_free. */
char *pki_integer_hex(const ASN1_INTEGER *serial);

/* The digest to sign with KEY: SHA-256, or NULL for Ed25519 (which hashes internally). */
const EVP_MD *pki_sign_md(EVP_PKEY *key);

/* True when CERT is self-signed (subject = issuer and its own key verifies it). */
bool pki_self_signed(X509 *cert);

/*
 * Writes LEN bytes of DATA to PATH with MODE, atomically: a temporary file in the same
 * directory is written, synced, then linked to PATH (refusing an existing PATH, errno EEXIST)
 * or, with OVERWRITE, renamed over it. A reader never sees a partial file.
 */
int pki_write_file(const char *path, const void *data, size_t len, mode_t mode,
    bool overwrite, struct pki_err *err);

/* KEY as unencrypted PKCS#8 PEM, mode 0600, as pki_write_file. */
int pki_write_key(const char *path, EVP_PKEY *key, bool overwrite, struct pki_err *err);

/* N certificates as one PEM file in order, mode 0644, as pki_write_file. */
int pki_write_certs(const char *path, X509 *const *certs, size_t n, bool overwrite,
    struct pki_err *err);

/* "DIR/NAME" into BUF of PATH_MAX bytes; -1 (with the reason in ERR) if it does not fit. */
int pki_join(char *buf, const char *dir, const char *name, struct pki_err *err);

/* The whole of PATH in a new NUL-terminated buffer of *LEN bytes (at most 16 MiB); free it. */
unsigned char *pki_read_file(const char *path, size_t *len, struct pki_err *err);

/* Every certificate in PATH: PEM (one or more) or DER (one). NULL if there is none. */
STACK_OF(X509) *pki_read_certs(const char *path, struct pki_err *err);

/* The private key in PATH (PEM or DER, unencrypted). Encrypted keys are refused. */
EVP_PKEY *pki_read_key(const char *path, struct pki_err *err);

#endif
