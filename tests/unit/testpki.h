/*
 * testpki: real certificates made at test time with the OpenSSL API (nothing is committed,
 * nothing expires in the tree).
 *
 * Two layers. The building blocks (keys, names, certificates with caller-chosen extensions,
 * PEM / PKCS#12 / hashed-directory writers) serve any test that needs its own hierarchy:
 * intermediates, CRL distribution points, AIA OCSP URLs. testpki_new() assembles the common
 * case on top of them: a CA, a server and a client it issued, an expired client, a second CA
 * with its own client, all written as PEM into a fresh mkdtemp directory.
 *
 * Every function here either succeeds or prints the reason (with the OpenSSL error queue) to
 * stderr and aborts: a broken fixture is a broken test, and check reports the signal.
 */
#ifndef REVGATE_TESTPKI_H
#define REVGATE_TESTPKI_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Password of every encrypted key and PKCS#12 bundle that testpki_new writes. */
#define TESTPKI_PASSWORD	"correct horse"

/*
 * One X.509v3 extension in openssl.cnf syntax, e.g. { NID_basic_constraints,
 * "critical,CA:TRUE" }, { NID_crl_distribution_points, "URI:http://127.0.0.1:8080/ca.crl" },
 * { NID_info_access, "OCSP;URI:http://127.0.0.1:8081/" }. Lists end with { NID_undef, NULL }.
 */
struct testpki_ext {
	int		 nid;
	const char	*value;
};

/* Extension lists for the usual roles; each ends with { NID_undef, NULL }. */
extern const struct testpki_ext testpki_ext_ca[];	/* root or intermediate CA */
extern const struct testpki_ext testpki_ext_server[];	/* serverAuth, SAN localhost */
extern const struct testpki_ext testpki_ext_client[];	/* clientAuth */

struct testpki_cert_spec {
	X509_NAME			*subject;	/* borrowed */
	EVP_PKEY			*key;		/* subject's key; borrowed */
	X509				*issuer;	/* NULL: self-signed */
	EVP_PKEY			*issuer_key;	/* NULL: self-signed */
	const char			*serial;	/* hex, "-" allowed; NULL: random */
	int64_t				 not_before;	/* seconds from now */
	int64_t				 not_after;	/* seconds from now */
	const struct testpki_ext	*exts;		/* NULL: none */
};

/* A new EC P-256 key. The caller owns it. */
EVP_PKEY *testpki_key_new(void);

/*
 * A name from (field, value) pairs, most significant first, ending with NULL:
 * testpki_name("C", "US", "O", "Example Corp", "CN", "alice", NULL). Values are taken as
 * UTF-8 bytes, unescaped (commas, newlines, anything). The caller owns the result.
 */
X509_NAME *testpki_name(const char *field, ...);

/*
 * A certificate as SPEC describes, signed with SHA-256 by the issuer's key (or the subject's
 * own for a self-signed one). Extensions are added in list order, with the issuer as the
 * context for authorityKeyIdentifier. The caller owns the result.
 */
X509 *testpki_cert_new(const struct testpki_cert_spec *spec);

/* Writes N certificates to PATH as a PEM chain, in order. */
void testpki_write_certs(const char *path, X509 *const *certs, size_t n);

/* Writes KEY as PKCS#8 PEM, encrypted with AES-256-CBC when PASSWORD is not NULL. */
void testpki_write_key(const char *path, EVP_PKEY *key, const char *password);

/* Same, in the traditional ("BEGIN EC PRIVATE KEY", Proc-Type: ENCRYPTED) format. */
void testpki_write_key_traditional(const char *path, EVP_PKEY *key, const char *password);

/* Writes a DER PKCS#12 bundle of KEY, CERT and CHAIN (may be NULL) under PASSWORD. */
void testpki_write_p12(const char *path, EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain,
    const char *password);

/* Writes CERT into directory DIR as "<subject hash>.0", as `openssl rehash` would. */
void testpki_write_hashed(const char *dir, X509 *cert);

/* Writes LEN bytes of DATA to PATH. */
void testpki_write_file(const char *path, const void *data, size_t len);

/* A key, its certificate, and the PEM files holding them. */
struct testpki_entity {
	EVP_PKEY	*key;
	X509		*cert;
	char		*cert_path;	/* leaf only */
	char		*key_path;	/* unencrypted PKCS#8 */
};

/*
 * Fills E with a new key and a certificate for SUBJECT (taken over and freed) issued by
 * ISSUER (NULL: self-signed), valid from a day ago for 30 days, with EXTS. In memory only:
 * the paths stay NULL. E is overwritten; release it with testpki_entity_clear.
 */
void testpki_issue(struct testpki_entity *e, X509_NAME *subject,
    const struct testpki_entity *issuer, const struct testpki_ext *exts);

/* Frees what E holds (key, certificate, path strings) and zeroes it. */
void testpki_entity_clear(struct testpki_entity *e);

struct testpki {
	char			*dir;		/* mkdtemp directory; removed by testpki_free */
	struct testpki_entity	 ca;		/* "CN=Test Root CA,O=revgate tests" */
	struct testpki_entity	 server;	/* CN=localhost, SAN DNS:localhost, IP:127.0.0.1 */
	struct testpki_entity	 client;	/* "CN=alice,O=Example Corp,C=US", issued by ca */
	struct testpki_entity	 expired;	/* CN=expired, issued by ca, expired yesterday */
	struct testpki_entity	 other_ca;	/* an unrelated CA */
	struct testpki_entity	 other_client;	/* CN=mallory, issued by other_ca */
	char			*ca_bundle;	/* ca's certificate (same file as ca.cert_path) */
	char			*server_chain;	/* server leaf followed by ca */
	char			*server_key_enc;	/* server key, PKCS#8, TESTPKI_PASSWORD */
	char			*server_p12;	/* server key + leaf + ca, TESTPKI_PASSWORD */
	char			*no_cert;	/* a PEM file that holds no certificate */
};

/* Makes the common PKI in a fresh temporary directory. The caller owns the result. */
struct testpki *testpki_new(void);

/* A new path "DIR/NAME" inside the PKI's directory; the caller frees it. */
char *testpki_path(const struct testpki *pki, const char *name);

/* Removes every file in the directory, the directory, and frees PKI. NULL is a no-op. */
void testpki_free(struct testpki *pki);

#endif
