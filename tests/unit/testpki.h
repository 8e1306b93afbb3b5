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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

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

/* A new RSA key of BITS bits. The caller owns it. */
EVP_PKEY *testpki_rsa_key_new(int bits);

/* One entry of a CRL spec. Lists end with { NULL, 0 }. */
struct testpki_revoked {
	const char	*serial;	/* hex, "-" allowed */
	int		 reason;	/* CRLReason code; -1: no reason extension */
};

/*
 * A CRL. Unlike certificate specs, times are absolute, so that tests can compare exactly what
 * they read back. Extensions use the testpki_ext syntax: { NID_crl_number, "7" },
 * { NID_authority_key_identifier, "keyid:always" }, { NID_delta_crl, "critical,6" },
 * { NID_issuing_distribution_point, "critical,indirectCRL:TRUE" }.
 */
struct testpki_crl_spec {
	const struct testpki_entity	*issuer;	/* borrowed: name, key, keyid context */
	X509_NAME			*name;		/* NULL: issuer's subject; borrowed */
	EVP_PKEY			*key;		/* NULL: issuer's key; borrowed */
	time_t				 this_update;
	time_t				 next_update;	/* 0: none */
	const struct testpki_revoked	*revoked;	/* NULL: none */
	const struct testpki_ext	*exts;		/* NULL: none */
};

/*
 * An unsigned v2 CRL as SPEC describes, entries in list order (not sorted, unlike `openssl
 * ca`). Add entries or extensions, then sign it with testpki_crl_sign. The caller owns it.
 */
X509_CRL *testpki_crl_build(const struct testpki_crl_spec *spec);

/* Adds an entry for SERIAL (borrowed) revoked at REVOKED_AT, with REASON (-1: none). */
void testpki_crl_add(X509_CRL *crl, const ASN1_INTEGER *serial, time_t revoked_at, int reason);

/* Signs CRL with KEY and SHA-256. */
void testpki_crl_sign(X509_CRL *crl, EVP_PKEY *key);

/* testpki_crl_build, then testpki_crl_sign with the spec's key. The caller owns the result. */
X509_CRL *testpki_crl_new(const struct testpki_crl_spec *spec);

/* CRL as DER (or PEM) in a new buffer of *LEN bytes; the caller frees it. */
unsigned char *testpki_crl_der(X509_CRL *crl, size_t *len);
char *testpki_crl_pem(X509_CRL *crl, size_t *len);

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

/* A delegated OCSP responder: digitalSignature and id-kp-OCSPSigning. */
extern const struct testpki_ext testpki_ext_ocsp_responder[];

/* A basic OCSP response holding one SingleResponse, and how to sign it. */
struct testpki_ocsp_spec {
	X509			*cert;		/* answered for (its serial); borrowed */
	X509			*issuer;	/* names the CertID (SHA-1 of name and key) */
	const char		*serial;	/* hex: answer for this serial instead */
	int			 status;	/* V_OCSP_CERTSTATUS_GOOD, _REVOKED, _UNKNOWN */
	int			 reason;	/* REVOKED: a CRLReason, or -1 for none */
	time_t			 revoked_at;	/* REVOKED only; absolute */
	time_t			 this_update;	/* absolute */
	time_t			 next_update;	/* absolute; 0: none */
	X509			*signer;	/* borrowed */
	EVP_PKEY		*signer_key;	/* borrowed; signs with SHA-256 */
	X509			*extra;		/* one more certificate to carry, or NULL */
	bool			 no_certs;	/* carry no certificate, not even the signer's */
	bool			 by_key;	/* ResponderID byKey instead of byName */
	const unsigned char	*nonce;		/* echoed as the nonce extension; NULL: none */
	size_t			 nonce_len;
	bool			 nonce_raw;	/* the bytes alone, not in an OCTET STRING */
};

/* A successful OCSP response as SPEC describes, as DER in *LEN bytes; free() it. */
unsigned char *testpki_ocsp_response(const struct testpki_ocsp_spec *spec, size_t *len);

#endif
