#include "config.h"
#include "tlscheck.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>

#define TLSCHECK_MSG_MAX	1024
#define TLSCHECK_TEXT_MAX	512
#define TLSCHECK_DAY		86400
#define TLSCHECK_EXIT_USAGE	2

struct tlscheck_report {
	struct tlscheck_result	*v;		/* owned, n of them */
	size_t			 n;
	size_t			 cap;
	bool			 oom;
	X509			*leaf;		/* owned */
	STACK_OF(X509)		*chain;		/* owned; what follows the leaf */
	EVP_PKEY		*key;		/* owned */
	bool			 from_p12;	/* the key came with the certificate bundle */
	X509_STORE		*store;		/* owned; NULL: no usable CA */
};

struct tlscheck_password {
	const char	*password;	/* borrowed; NULL: none given */
	bool		 asked;		/* the file turned out to be encrypted */
};

/* --- results ------------------------------------------------------------------------------- */

const char *
tlscheck_status_name(enum tlscheck_status status)
{
	switch (status) {
	case TLSCHECK_PASS:
		return "PASS";
	case TLSCHECK_WARN:
		return "WARN";
	case TLSCHECK_FAIL:
		return "FAIL";
	}
	return "?";
}

static void __attribute__((format(printf, 4, 5)))
tlscheck_add(struct tlscheck_report *r, const char *name, enum tlscheck_status status,
    const char *fmt, ...)
{
	struct tlscheck_result *grown;
	va_list ap;
	char *msg = NULL;
	int n;

	if (r->n == r->cap) {
		size_t cap = r->cap == 0 ? 8 : r->cap * 2;

		if ((grown = realloc(r->v, cap * sizeof(*grown))) == NULL) {
			r->oom = true;
			return;
		}
		r->v = grown;
		r->cap = cap;
	}
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0) {
		r->oom = true;
		return;
	}
	r->v[r->n].name = name;
	r->v[r->n].status = status;
	r->v[r->n].message = msg;
	r->n++;
}

/* The reason OpenSSL gave last, for a parse failure; drains the queue. Static storage. */
static const char *
tlscheck_ossl_reason(void)
{
	static __thread char buf[160];
	unsigned long e = ERR_peek_last_error();
	const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;

	snprintf(buf, sizeof(buf), "%s%s", reason != NULL ? " (OpenSSL: " : "",
	    reason != NULL ? reason : "");
	if (reason != NULL)
		strncat(buf, ")", sizeof(buf) - strlen(buf) - 1);
	ERR_clear_error();
	return buf;
}

/* --- text ---------------------------------------------------------------------------------- */

static void
tlscheck_name_text(const X509_NAME *name, char *buf, size_t size)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int n = 0;

	buf[0] = '\0';
	if (bio == NULL)
		return;
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0)
		n = BIO_read(bio, buf, (int)size - 1);
	buf[n > 0 ? n : 0] = '\0';
	BIO_free(bio);
}

/* Converts an ASN.1 time; -1 if it cannot be read. */
static int
tlscheck_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = timegm(&tm);
	return 0;
}

static const char *
tlscheck_date(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, size, "?");
	return buf;
}

/* Appends ", ONE" (or ONE first) to the list in BUF of *LEN bytes; drops what does not fit. */
static void
tlscheck_append(char *buf, size_t size, size_t *len, const char *one)
{
	if (*len + strlen(one) + 3 < size)
		*len += (size_t)snprintf(buf + *len, size - *len, "%s%s", *len > 0 ? ", " : "",
		    one);
}

/* "IP:127.0.0.1, DNS:localhost", or "none". */
static void
tlscheck_san_text(X509 *cert, char *buf, size_t size)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	size_t len = 0;

	buf[0] = '\0';
	for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		char one[INET6_ADDRSTRLEN + 300] = "";
		const unsigned char *d;
		int dlen;

		if (g->type == GEN_DNS) {
			snprintf(one, sizeof(one), "DNS:%.*s", ASN1_STRING_length(g->d.dNSName),
			    (const char *)ASN1_STRING_get0_data(g->d.dNSName));
		} else if (g->type == GEN_IPADD) {
			char ip[INET6_ADDRSTRLEN] = "?";

			d = ASN1_STRING_get0_data(g->d.iPAddress);
			dlen = ASN1_STRING_length(g->d.iPAddress);
			if (dlen == 4 || dlen == 16)
				inet_ntop(dlen == 4 ? AF_INET : AF_INET6, d, ip, sizeof(ip));
			snprintf(one, sizeof(one), "IP:%s", ip);
		} else {
			continue;
		}
		tlscheck_append(buf, size, &len, one);
	}
	GENERAL_NAMES_free(names);
	if (len == 0)
		snprintf(buf, size, "none");
}

/* "serverAuth, clientAuth", or "none (any use)" without the extension. */
static void
tlscheck_eku_text(X509 *cert, char *buf, size_t size)
{
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(cert, NID_ext_key_usage, NULL, NULL);
	size_t len = 0;

	buf[0] = '\0';
	for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
		const ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, i);
		char one[100];
		int nid = OBJ_obj2nid(o);

		if (nid != NID_undef)
			snprintf(one, sizeof(one), "%s", OBJ_nid2sn(nid));
		else if (OBJ_obj2txt(one, sizeof(one), o, 1) <= 0)
			snprintf(one, sizeof(one), "?");
		tlscheck_append(buf, size, &len, one);
	}
	if (eku == NULL)
		snprintf(buf, size, "none (any use)");
	EXTENDED_KEY_USAGE_free(eku);
}

/* --- the CA file --------------------------------------------------------------------------- */

/* Adds every PEM certificate of PATH to STORE; returns how many, or -1 if it cannot be read. */
static int
tlscheck_load_pem_certs(X509_STORE *store, const char *path)
{
	BIO *bio = BIO_new_file(path, "r");
	X509 *cert;
	int n = 0;

	if (bio == NULL)
		return -1;
	while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(store, cert) == 1)
			n++;
		X509_free(cert);
	}
	BIO_free(bio);
	ERR_clear_error();	/* the read that ends the loop leaves "no start line" */
	return n;
}

/* Does NAME look like what `openssl rehash` writes ("1a2b3c4d.0")? */
static bool
tlscheck_is_hash_name(const char *name)
{
	size_t i;

	for (i = 0; i < 8; i++)
		if (strchr("0123456789abcdef", name[i]) == NULL || name[i] == '\0')
			return false;
	if (name[8] != '.' || name[9] == '\0')
		return false;
	for (i = 9; name[i] != '\0'; i++)
		if (name[i] < '0' || name[i] > '9')
			return false;
	return true;
}

/* Counts the hashed certificates of directory PATH (into a scratch store). */
static int
tlscheck_count_hashed(const char *path)
{
	X509_STORE *scratch = X509_STORE_new();
	DIR *dir = opendir(path);
	struct dirent *de;
	char file[4096];
	int n = 0;

	while (dir != NULL && scratch != NULL && (de = readdir(dir)) != NULL) {
		if (!tlscheck_is_hash_name(de->d_name))
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		n += tlscheck_load_pem_certs(scratch, file) > 0 ? 1 : 0;
	}
	if (dir != NULL)
		closedir(dir);
	X509_STORE_free(scratch);
	return n;
}

/* "ca-file": the CA bundle or hashed directory holds at least one certificate. */
static void
tlscheck_check_ca(struct tlscheck_report *r, const struct tlscheck_input *in)
{
	const char *path = in->ca, *label = in->label_ca;
	X509_STORE *store = NULL;
	struct stat st;
	int n;

	if (path == NULL)
		return;
	if (stat(path, &st) != 0) {
		tlscheck_add(r, "ca-file", TLSCHECK_FAIL, "%s \"%s\": cannot read: %s; check the "
		    "path, or point it at the CA bundle", label, path, strerror(errno));
		return;
	}
	if ((store = X509_STORE_new()) == NULL) {
		r->oom = true;
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		n = tlscheck_count_hashed(path);
		if (n > 0 && X509_STORE_load_path(store, path) != 1)
			n = -1;
	} else {
		n = tlscheck_load_pem_certs(store, path);
	}
	ERR_clear_error();
	if (n < 0)
		tlscheck_add(r, "ca-file", TLSCHECK_FAIL, "%s \"%s\": cannot read: %s; check its "
		    "permissions", label, path, strerror(errno));
	else if (n == 0 && S_ISDIR(st.st_mode))
		tlscheck_add(r, "ca-file", TLSCHECK_FAIL, "%s: directory \"%s\" holds no hashed "
		    "CA certificate; copy the CA certificates into it and run `openssl rehash %s`",
		    label, path, path);
	else if (n == 0)
		tlscheck_add(r, "ca-file", TLSCHECK_FAIL, "%s \"%s\" holds no PEM certificate; "
		    "give a PEM bundle of the CA certificates", label, path);
	else
		tlscheck_add(r, "ca-file", TLSCHECK_PASS, "%s \"%s\" holds %d CA certificate%s%s",
		    label, path, n, n == 1 ? "" : "s", S_ISDIR(st.st_mode) ? " (hashed)" : "");
	if (n > 0) {
		r->store = store;	/* the report owns it now */
		store = NULL;
	}
	X509_STORE_free(store);
}

/* --- the certificate and the key ----------------------------------------------------------- */

/* PEM password callback: the given password, never a prompt. */
static int
tlscheck_pem_password(char *buf, int size, int rwflag, void *arg)
{
	struct tlscheck_password *pw = arg;
	size_t len;

	pw->asked = true;
	if (pw->password == NULL || size < 0 || (len = strlen(pw->password)) > (size_t)size)
		return -1;
	memcpy(buf, pw->password, len);
	return (int)len;
}

/* Reads PATH as DER PKCS#12; NULL if it is not one. */
static PKCS12 *
tlscheck_read_p12(const char *path)
{
	BIO *bio = BIO_new_file(path, "rb");
	PKCS12 *p12 = bio != NULL ? d2i_PKCS12_bio(bio, NULL) : NULL;

	BIO_free(bio);
	ERR_clear_error();
	return p12;
}

static bool
tlscheck_is_p12_name(const char *path)
{
	const char *dot = strrchr(path, '.');

	return dot != NULL && (strcasecmp(dot, ".p12") == 0 || strcasecmp(dot, ".pfx") == 0);
}

static void
tlscheck_parse_p12(struct tlscheck_report *r, const struct tlscheck_input *in, PKCS12 *p12)
{
	const char *pw = in->certificate_password, *path = in->certificate;
	const char *label = in->label_certificate;

	r->from_p12 = true;	/* even if it cannot be opened: tls.privateKey plays no part */
	if (PKCS12_mac_present(p12) == 1) {
		if (pw == NULL && PKCS12_verify_mac(p12, NULL, 0) != 1 &&
		    PKCS12_verify_mac(p12, "", 0) != 1) {
			tlscheck_add(r, "certificate", TLSCHECK_FAIL, "%s \"%s\" is a "
			    "password-protected PKCS#12 bundle; give its password with %s", label,
			    path, in->label_certificate_password);
			return;
		}
		if (pw != NULL && PKCS12_verify_mac(p12, pw, -1) != 1) {
			tlscheck_add(r, "certificate", TLSCHECK_FAIL, "%s: wrong password for the "
			    "PKCS#12 bundle %s \"%s\"; give the password it was exported with",
			    in->label_certificate_password, label, path);
			return;
		}
	}
	if (PKCS12_parse(p12, pw, &r->key, &r->leaf, &r->chain) != 1 || r->leaf == NULL ||
	    r->key == NULL) {
		tlscheck_add(r, "certificate", TLSCHECK_FAIL, "%s \"%s\": the PKCS#12 bundle does "
		    "not hold both a certificate and its private key%s; export it again with both",
		    label, path, tlscheck_ossl_reason());
		return;
	}
	tlscheck_add(r, "certificate", TLSCHECK_PASS, "%s \"%s\" is a PKCS#12 bundle of a "
	    "certificate, its key and %d more certificate%s", label, path, sk_X509_num(r->chain),
	    sk_X509_num(r->chain) == 1 ? "" : "s");
}

static void
tlscheck_parse_pem_chain(struct tlscheck_report *r, const struct tlscheck_input *in)
{
	BIO *bio = BIO_new_file(in->certificate, "r");
	X509 *cert;

	if (bio == NULL) {
		tlscheck_add(r, "certificate", TLSCHECK_FAIL, "%s \"%s\": cannot read: %s; check "
		    "the path", in->label_certificate, in->certificate, strerror(errno));
		ERR_clear_error();
		return;
	}
	if ((r->chain = sk_X509_new_null()) == NULL) {
		r->oom = true;
		BIO_free(bio);
		return;
	}
	while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (r->leaf == NULL)
			r->leaf = cert;
		else if (sk_X509_push(r->chain, cert) <= 0)
			X509_free(cert);
	}
	BIO_free(bio);
	ERR_clear_error();
	if (r->leaf == NULL)
		tlscheck_add(r, "certificate", TLSCHECK_FAIL, "%s \"%s\" holds no PEM certificate; "
		    "expected a PEM chain (the certificate first) or a PKCS#12 bundle (.p12/.pfx)",
		    in->label_certificate, in->certificate);
	else
		tlscheck_add(r, "certificate", TLSCHECK_PASS, "%s \"%s\" holds the certificate "
		    "and %d chain certificate%s", in->label_certificate, in->certificate,
		    sk_X509_num(r->chain), sk_X509_num(r->chain) == 1 ? "" : "s");
}

static void
tlscheck_parse_certificate(struct tlscheck_report *r, const struct tlscheck_input *in)
{
	PKCS12 *p12;

	if (in->certificate == NULL) {
		tlscheck_add(r, "certificate", TLSCHECK_FAIL, "%s: not set; set it to a PEM chain "
		    "or a PKCS#12 bundle", in->label_certificate);
		return;
	}
	if ((p12 = tlscheck_read_p12(in->certificate)) != NULL) {
		tlscheck_parse_p12(r, in, p12);
		PKCS12_free(p12);
	} else if (tlscheck_is_p12_name(in->certificate) && access(in->certificate, R_OK) == 0) {
		tlscheck_add(r, "certificate", TLSCHECK_FAIL, "%s \"%s\" is not a PKCS#12 bundle; "
		    "export it again, or give a PEM file", in->label_certificate, in->certificate);
	} else {
		tlscheck_parse_pem_chain(r, in);
	}
}

/* The file that holds the private key: the bundle, the key file, or the certificate file. */
static const char *
tlscheck_key_path(const struct tlscheck_report *r, const struct tlscheck_input *in,
    const char **label)
{
	bool in_cert = r->from_p12 || in->private_key == NULL;

	*label = in_cert ? in->label_certificate : in->label_private_key;
	return in_cert ? in->certificate : in->private_key;
}

static void
tlscheck_parse_key(struct tlscheck_report *r, const struct tlscheck_input *in)
{
	struct tlscheck_password pw = { in->private_key_password, false };
	const char *label, *path = tlscheck_key_path(r, in, &label);
	BIO *bio;

	if (r->from_p12 || path == NULL)
		return;
	if ((bio = BIO_new_file(path, "r")) == NULL) {
		tlscheck_add(r, "private-key", TLSCHECK_FAIL, "%s \"%s\": cannot read: %s; check "
		    "the path", label, path, strerror(errno));
		ERR_clear_error();
		return;
	}
	r->key = PEM_read_bio_PrivateKey_ex(bio, NULL, tlscheck_pem_password, &pw, NULL, NULL);
	BIO_free(bio);
	if (r->key != NULL)
		tlscheck_add(r, "private-key", TLSCHECK_PASS, "%s \"%s\" holds %s private key "
		    "(%s)", label, path, pw.asked ? "an encrypted" : "a",
		    EVP_PKEY_get0_type_name(r->key));
	else if (pw.asked && pw.password == NULL)
		tlscheck_add(r, "private-key", TLSCHECK_FAIL, "%s \"%s\" is encrypted; give its "
		    "password with %s", label, path, in->label_private_key_password);
	else if (pw.asked)
		tlscheck_add(r, "private-key", TLSCHECK_FAIL, "%s: wrong password for %s \"%s\"; "
		    "give the password the key was encrypted with", in->label_private_key_password,
		    label, path);
	else
		tlscheck_add(r, "private-key", TLSCHECK_FAIL, "%s \"%s\" holds no PEM private key; "
		    "expected PKCS#8 or traditional PEM%s", label, path, tlscheck_ossl_reason());
	ERR_clear_error();
}

/*
 * "key-permissions": a private key that group or others can read is as good as published on a
 * shared machine; refuse it, as CockroachDB does, unless the operator says otherwise.
 */
static void
tlscheck_check_key_permissions(struct tlscheck_report *r, const struct tlscheck_input *in)
{
	const char *label, *path = tlscheck_key_path(r, in, &label);
	struct stat st;

	if (path == NULL || r->key == NULL || stat(path, &st) != 0)
		return;	/* the parse check said why (e.g. a certificate given as the key) */
	if (in->skip_key_permissions) {
		tlscheck_add(r, "key-permissions", TLSCHECK_PASS, "%s \"%s\": not checked "
		    "(switched off)", label, path);
		return;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) == 0) {
		tlscheck_add(r, "key-permissions", TLSCHECK_PASS, "%s \"%s\" is accessible only "
		    "by its owner (mode %04o)", label, path, (unsigned)(st.st_mode & 07777));
		return;
	}
	tlscheck_add(r, "key-permissions", TLSCHECK_FAIL, "%s \"%s\" holds a private key and is "
	    "accessible by group or others (mode %04o); run `chmod 600 %s`, or %s", label, path,
	    (unsigned)(st.st_mode & 07777), path, in->skip_hint);
}

/* "key-match": the key is the one the certificate was issued for. */
static void
tlscheck_check_key_match(struct tlscheck_report *r, const struct tlscheck_input *in)
{
	const char *label, *path = tlscheck_key_path(r, in, &label);

	if (r->leaf == NULL || r->key == NULL)
		return;
	if (X509_check_private_key(r->leaf, r->key) == 1)
		tlscheck_add(r, "key-match", TLSCHECK_PASS, "%s \"%s\" matches the certificate in "
		    "%s \"%s\"", label, path, in->label_certificate, in->certificate);
	else
		tlscheck_add(r, "key-match", TLSCHECK_FAIL, "%s \"%s\" does not match the "
		    "certificate in %s \"%s\"; use the key the certificate was issued for", label,
		    path, in->label_certificate, in->certificate);
	ERR_clear_error();
}

/* --- the chain ----------------------------------------------------------------------------- */

/* The leaf's own dates are the validity check's business, not the chain's. */
static int
tlscheck_verify_cb(int ok, X509_STORE_CTX *ctx)
{
	int e = X509_STORE_CTX_get_error(ctx);

	if (ok == 0 && X509_STORE_CTX_get_error_depth(ctx) == 0 &&
	    (e == X509_V_ERR_CERT_HAS_EXPIRED || e == X509_V_ERR_CERT_NOT_YET_VALID))
		return 1;
	return ok;
}

/* The chain file must list the certificate first, then each issuer in turn. */
static int
tlscheck_check_order(struct tlscheck_report *r, const struct tlscheck_input *in)
{
	char a[TLSCHECK_TEXT_MAX], b[TLSCHECK_TEXT_MAX];

	for (int i = 0; i < sk_X509_num(r->chain); i++) {
		X509 *prev = i == 0 ? r->leaf : sk_X509_value(r->chain, i - 1);
		X509 *cur = sk_X509_value(r->chain, i);

		if (X509_check_issued(cur, prev) == X509_V_OK)
			continue;
		tlscheck_name_text(X509_get_subject_name(cur), a, sizeof(a));
		tlscheck_name_text(X509_get_subject_name(prev), b, sizeof(b));
		tlscheck_add(r, "chain", TLSCHECK_FAIL, "%s \"%s\": certificate %d (\"%s\") did "
		    "not issue certificate %d (\"%s\"); list the certificate first, then each "
		    "intermediate CA in turn", in->label_certificate, in->certificate, i + 2, a,
		    i + 1, b);
		return -1;
	}
	return 0;
}

static bool
tlscheck_is_missing_issuer(int err)
{
	return err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
	    err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
	    err == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
	    err == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN;
}

static void
tlscheck_report_verify_error(struct tlscheck_report *r, const struct tlscheck_input *in,
    X509_STORE_CTX *ctx)
{
	int err = X509_STORE_CTX_get_error(ctx);
	X509 *at = X509_STORE_CTX_get_current_cert(ctx);
	char subject[TLSCHECK_TEXT_MAX] = "?", issuer[TLSCHECK_TEXT_MAX] = "?";

	if (at != NULL) {
		tlscheck_name_text(X509_get_subject_name(at), subject, sizeof(subject));
		tlscheck_name_text(X509_get_issuer_name(at), issuer, sizeof(issuer));
	}
	if (!tlscheck_is_missing_issuer(err)) {
		tlscheck_add(r, "chain", TLSCHECK_FAIL, "%s \"%s\" does not verify against %s "
		    "\"%s\": %s at \"%s\" (depth %d); replace or reissue that certificate",
		    in->label_certificate, in->certificate, in->label_ca, in->ca,
		    X509_verify_cert_error_string(err), subject,
		    X509_STORE_CTX_get_error_depth(ctx));
		return;
	}
	tlscheck_add(r, "chain", in->strict_chain ? TLSCHECK_FAIL : TLSCHECK_WARN,
	    "%s \"%s\" does not chain to a CA in %s \"%s\": no certificate for \"%s\", the "
	    "issuer of \"%s\"; if that is an intermediate CA, append it to \"%s\" after the "
	    "certificate; if it is the root, add it to %s%s", in->label_certificate,
	    in->certificate, in->label_ca, in->ca, issuer, subject, in->certificate, in->label_ca,
	    in->strict_chain ? "" : " (clients must trust that root; this is expected when the "
	    "server certificate and the client certificates come from different CAs)");
}

/*
 * "chain": the certificate verifies against the CA file, the chain file's certificates serving
 * as untrusted intermediates - the check a client makes, done before any client does.
 */
static void
tlscheck_check_chain(struct tlscheck_report *r, const struct tlscheck_input *in)
{
	X509_STORE_CTX *ctx = NULL;
	char root[TLSCHECK_TEXT_MAX];
	STACK_OF(X509) *built;

	if (r->leaf == NULL || tlscheck_check_order(r, in) != 0)
		return;
	if (r->store == NULL) {
		if (in->ca == NULL)
			tlscheck_add(r, "chain", in->strict_chain ? TLSCHECK_FAIL : TLSCHECK_WARN,
			    "%s \"%s\" not verified: no CA to verify it against; give the CA "
			    "bundle that holds its root with %s", in->label_certificate,
			    in->certificate, in->label_ca);
		return;	/* otherwise the ca-file check failed and said why */
	}
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(ctx, r->store, r->leaf, r->chain) != 1) {
		r->oom = true;
		goto cleanup;
	}
	X509_STORE_CTX_set_time(ctx, 0, in->now);
	X509_STORE_CTX_set_verify_cb(ctx, tlscheck_verify_cb);
	if (X509_verify_cert(ctx) != 1) {
		tlscheck_report_verify_error(r, in, ctx);
		goto cleanup;
	}
	built = X509_STORE_CTX_get0_chain(ctx);
	tlscheck_name_text(X509_get_subject_name(sk_X509_value(built, sk_X509_num(built) - 1)),
	    root, sizeof(root));
	tlscheck_add(r, "chain", TLSCHECK_PASS, "%s \"%s\" verifies against %s \"%s\" (%d "
	    "certificates up to \"%s\")", in->label_certificate, in->certificate, in->label_ca,
	    in->ca, sk_X509_num(built), root);
cleanup:
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
}

/* --- validity, usage, names ---------------------------------------------------------------- */

static void
tlscheck_check_validity(struct tlscheck_report *r, const struct tlscheck_input *in)
{
	const char *label = in->label_certificate, *path = in->certificate;
	char from[64], until[64], now[64];
	time_t nb, na;
	int64_t left;

	if (r->leaf == NULL)
		return;
	if (tlscheck_time(X509_get0_notBefore(r->leaf), &nb) != 0 ||
	    tlscheck_time(X509_get0_notAfter(r->leaf), &na) != 0) {
		tlscheck_add(r, "validity", TLSCHECK_FAIL, "%s \"%s\": unreadable validity dates; "
		    "reissue the certificate", label, path);
		return;
	}
	tlscheck_date(nb, from, sizeof(from));
	tlscheck_date(na, until, sizeof(until));
	tlscheck_date(in->now, now, sizeof(now));
	left = (int64_t)na - (int64_t)in->now;
	if (in->now < nb)
		tlscheck_add(r, "validity", TLSCHECK_FAIL, "%s \"%s\" is not valid yet: from %s "
		    "(now %s); check this machine's clock, or wait", label, path, from, now);
	else if (left < 0)
		tlscheck_add(r, "validity", TLSCHECK_FAIL, "%s \"%s\" expired on %s (now %s); "
		    "renew it", label, path, until, now);
	else if (left < in->expiry_warning_s)
		tlscheck_add(r, "validity", TLSCHECK_WARN, "%s \"%s\" expires on %s, in %" PRId64
		    " day(s); renew it before then", label, path, until, left / TLSCHECK_DAY);
	else
		tlscheck_add(r, "validity", TLSCHECK_PASS, "%s \"%s\" is valid from %s until %s "
		    "(%" PRId64 " days left)", label, path, from, until, left / TLSCHECK_DAY);
}

/*
 * "extended-key-usage": clients refuse a server certificate restricted to other uses, and
 * revgate (like any TLS server) refuses a client certificate without clientAuth.
 */
static void
tlscheck_check_eku(struct tlscheck_report *r, const struct tlscheck_input *in)
{
	const char *want = in->client ? "clientAuth" : "serverAuth";
	uint32_t bit = in->client ? XKU_SSL_CLIENT : XKU_SSL_SERVER;
	char has[TLSCHECK_TEXT_MAX];

	if (r->leaf == NULL)
		return;
	tlscheck_eku_text(r->leaf, has, sizeof(has));
	if ((X509_get_extension_flags(r->leaf) & EXFLAG_XKUSAGE) == 0)
		tlscheck_add(r, "extended-key-usage", TLSCHECK_PASS, "%s \"%s\" has no "
		    "extendedKeyUsage, so it may serve as %s", in->label_certificate,
		    in->certificate, want);
	else if ((X509_get_extended_key_usage(r->leaf) & bit) != 0)
		tlscheck_add(r, "extended-key-usage", TLSCHECK_PASS, "%s \"%s\" allows %s "
		    "(extendedKeyUsage: %s)", in->label_certificate, in->certificate, want, has);
	else
		tlscheck_add(r, "extended-key-usage", in->client ? TLSCHECK_FAIL : TLSCHECK_WARN,
		    "%s \"%s\" lacks %s in its extendedKeyUsage (%s), so %s will refuse it; "
		    "reissue it with extendedKeyUsage = %s", in->label_certificate, in->certificate,
		    want, has, in->client ? "TLS servers" : "clients", want);
}

/* "host-names": every configured name or address is in the certificate's SANs. */
static void
tlscheck_check_hosts(struct tlscheck_report *r, const struct tlscheck_input *in)
{
	char missing[TLSCHECK_TEXT_MAX] = "", sans[TLSCHECK_TEXT_MAX];
	unsigned char ip[16];
	size_t len = 0;

	if (r->leaf == NULL || in->nhost_names == 0)
		return;
	for (size_t i = 0; i < in->nhost_names; i++) {
		const char *h = in->host_names[i];
		bool is_ip = inet_pton(AF_INET, h, ip) == 1 || inet_pton(AF_INET6, h, ip) == 1;
		int ok = is_ip ? X509_check_ip_asc(r->leaf, h, 0) :
		    X509_check_host(r->leaf, h, 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL);

		if (ok != 1)
			tlscheck_append(missing, sizeof(missing), &len, h);
	}
	tlscheck_san_text(r->leaf, sans, sizeof(sans));
	if (len == 0)
		tlscheck_add(r, "host-names", TLSCHECK_PASS, "%s \"%s\" covers every host name "
		    "(subjectAltName: %s)", in->label_certificate, in->certificate, sans);
	else
		tlscheck_add(r, "host-names", TLSCHECK_WARN, "%s \"%s\" does not cover %s "
		    "(subjectAltName: %s); clients that connect by %s will refuse it; reissue it "
		    "with those names in subjectAltName", in->label_certificate, in->certificate,
		    missing, sans, len > strlen(in->host_names[0]) ? "those names" : "that name");
}

/* --- public -------------------------------------------------------------------------------- */

struct tlscheck_report *
tlscheck_run(const struct tlscheck_input *in)
{
	struct tlscheck_report *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	ERR_clear_error();
	tlscheck_check_ca(r, in);
	tlscheck_parse_certificate(r, in);
	tlscheck_parse_key(r, in);
	tlscheck_check_key_permissions(r, in);
	tlscheck_check_key_match(r, in);
	tlscheck_check_chain(r, in);
	tlscheck_check_validity(r, in);
	tlscheck_check_eku(r, in);
	tlscheck_check_hosts(r, in);
	ERR_clear_error();
	if (r->oom) {
		tlscheck_report_free(r);
		return NULL;
	}
	return r;
}

struct tlscheck_report *
tlscheck_run_conf(const struct conf *cfg, time_t now)
{
	const struct conf_tls *tls = &cfg->tls;
	const char *ca = tls->certificate_authority;
	struct tlscheck_input in = {
		.certificate = tls->certificate,
		.private_key = tls->private_key,
		.private_key_password = tls->private_key_password,
		.certificate_password = tls->certificate_password,
		.host_names = (const char *const *)tls->host_names.v,
		.nhost_names = tls->host_names.n,
		.expiry_warning_s = tls->expiry_warning_ms / 1000,
		.skip_key_permissions = tls->skip_key_permission_check,
		.now = now,
		.label_certificate = "tls.certificate",
		.label_private_key = "tls.privateKey",
		.label_ca = "tls.certificateAuthority",
		.label_private_key_password = "tls.privateKeyPassword",
		.label_certificate_password = "tls.certificatePassword",
		.skip_hint = "set tls.skipKeyPermissionCheck: true (or "
		    "REVGATE_SKIP_KEY_PERMISSION_CHECK=true) to allow it",
	};

	/* Without mTLS the CA file is optional (it is only read for clients): use it if there. */
	in.ca = ca != NULL && (cfg->http.mtls.enabled || access(ca, F_OK) == 0) ? ca : NULL;
	return tlscheck_run(&in);
}

void
tlscheck_report_free(struct tlscheck_report *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].message);
	free(r->v);
	X509_free(r->leaf);
	sk_X509_pop_free(r->chain, X509_free);
	EVP_PKEY_free(r->key);
	X509_STORE_free(r->store);
	free(r);
}

size_t
tlscheck_report_count(const struct tlscheck_report *r)
{
	return r->n;
}

const struct tlscheck_result *
tlscheck_report_get(const struct tlscheck_report *r, size_t i)
{
	return i < r->n ? &r->v[i] : NULL;
}

size_t
tlscheck_report_tally(const struct tlscheck_report *r, enum tlscheck_status status)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += r->v[i].status == status;
	return n;
}

const struct tlscheck_result *
tlscheck_report_find(const struct tlscheck_report *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->v[i].name, name) == 0)
			return &r->v[i];
	return NULL;
}

X509 *
tlscheck_report_get0_leaf(const struct tlscheck_report *r)
{
	return r->leaf;
}

int
tlscheck_report_not_after(const struct tlscheck_report *r, time_t *not_after)
{
	if (r->leaf == NULL)
		return -1;
	return tlscheck_time(X509_get0_notAfter(r->leaf), not_after);
}

/* --- revgate cert check -------------------------------------------------------------------- */

static void
tlscheck_cmd_usage(FILE *out)
{
	fprintf(out,
	    "Usage: revgate cert check --cert FILE [--key FILE] [--ca FILE|DIR] [--host NAME]...\n"
	    "                          [--key-password P] [--cert-password P] [--client]\n"
	    "\n"
	    "Runs the certificate troubleshooting steps in one go and prints one line per check\n"
	    "(PASS, WARN or FAIL), after a summary of the certificate. Exits 0 when no check\n"
	    "failed, 1 otherwise.\n"
	    "\n"
	    "Options:\n"
	    "  --cert FILE           the certificate: PEM (leaf first, then its chain) or PKCS#12\n"
	    "  --key FILE            its private key (default: in the certificate file)\n"
	    "  --ca FILE|DIR         the CA bundle or hashed directory it must chain to\n"
	    "  --host NAME           a host name or IP address it must cover; repeatable\n"
	    "  --key-password P      the password of an encrypted key\n"
	    "  --cert-password P     the password of a PKCS#12 bundle\n"
	    "  --client              a client certificate: check clientAuth, not serverAuth\n"
	    "  --expiry-warning DAYS warn when it expires sooner (default 30)\n"
	    "  -h, --help            show this help\n"
	    "\n"
	    "The key file must not be accessible by group or others (chmod 600), unless\n"
	    "REVGATE_SKIP_KEY_PERMISSION_CHECK=true.\n");
}

static void
tlscheck_cmd_summary(X509 *leaf, const char *path)
{
	char subject[TLSCHECK_TEXT_MAX], issuer[TLSCHECK_TEXT_MAX], text[TLSCHECK_TEXT_MAX];
	char from[64] = "?", until[64] = "?";
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
	char *serial = bn != NULL ? BN_bn2hex(bn) : NULL;
	time_t t;

	tlscheck_name_text(X509_get_subject_name(leaf), subject, sizeof(subject));
	tlscheck_name_text(X509_get_issuer_name(leaf), issuer, sizeof(issuer));
	if (tlscheck_time(X509_get0_notBefore(leaf), &t) == 0)
		tlscheck_date(t, from, sizeof(from));
	if (tlscheck_time(X509_get0_notAfter(leaf), &t) == 0)
		tlscheck_date(t, until, sizeof(until));
	printf("certificate: %s\n", path);
	printf("  subject:  %s\n", subject);
	printf("  issuer:   %s\n", issuer);
	printf("  serial:   %s\n", serial != NULL ? serial : "?");
	printf("  valid:    %s to %s\n", from, until);
	tlscheck_san_text(leaf, text, sizeof(text));
	printf("  names:    %s\n", text);
	tlscheck_eku_text(leaf, text, sizeof(text));
	printf("  usage:    %s\n", text);
	OPENSSL_free(serial);
	BN_free(bn);
}

/* Parses the options into IN (HOSTS sized by argc). 0, 1 after --help, -1 on misuse. */
static int
tlscheck_cmd_parse(int argc, char **argv, struct tlscheck_input *in, const char **hosts)
{
	static const struct option longopts[] = {
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'a' },
		{ "host", required_argument, NULL, 'H' },
		{ "key-password", required_argument, NULL, 'p' },
		{ "cert-password", required_argument, NULL, 'P' },
		{ "client", no_argument, NULL, 'C' },
		{ "expiry-warning", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	long days;
	int ch;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': in->certificate = optarg; break;
		case 'k': in->private_key = optarg; break;
		case 'a': in->ca = optarg; break;
		case 'H': hosts[in->nhost_names++] = optarg; break;
		case 'p': in->private_key_password = optarg; break;
		case 'P': in->certificate_password = optarg; break;
		case 'C': in->client = true; break;
		case 'e':
			errno = 0;
			days = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || days < 0 || days > 3650) {
				fprintf(stderr, "revgate cert check: --expiry-warning: expected days "
				    "from 0 to 3650, got \"%s\"\n", optarg);
				return -1;
			}
			in->expiry_warning_s = (int64_t)days * TLSCHECK_DAY;
			break;
		case 'h':
			tlscheck_cmd_usage(stdout);
			return 1;
		case ':':
			fprintf(stderr, "revgate cert check: option %s needs a value\n",
			    argv[optind - 1]);
			return -1;
		default:
			fprintf(stderr, "revgate cert check: unknown option \"%s\"; see revgate cert "
			    "check --help\n", argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "revgate cert check: unexpected argument \"%s\"\n", argv[optind]);
		return -1;
	}
	if (in->certificate == NULL) {
		fprintf(stderr, "revgate cert check: --cert is required; see revgate cert check "
		    "--help\n");
		return -1;
	}
	return 0;
}

int
tlscheck_cmd_main(int argc, char **argv)
{
	const char *skip = getenv("REVGATE_SKIP_KEY_PERMISSION_CHECK");
	const char **hosts = calloc((size_t)argc + 1, sizeof(*hosts));
	struct tlscheck_input in = {
		.expiry_warning_s = 30 * TLSCHECK_DAY,
		.skip_key_permissions = skip != NULL && strcasecmp(skip, "true") == 0,
		.strict_chain = true,
		.now = time(NULL),
		.label_certificate = "--cert",
		.label_private_key = "--key",
		.label_ca = "--ca",
		.label_private_key_password = "--key-password",
		.label_certificate_password = "--cert-password",
		.skip_hint = "set REVGATE_SKIP_KEY_PERMISSION_CHECK=true to allow it",
	};
	struct tlscheck_report *r = NULL;
	int rc = 1;

	if (hosts == NULL)
		goto cleanup;
	in.host_names = hosts;
	if ((rc = tlscheck_cmd_parse(argc, argv, &in, hosts)) != 0) {
		rc = rc == 1 ? 0 : TLSCHECK_EXIT_USAGE;
		goto cleanup;
	}
	if ((r = tlscheck_run(&in)) == NULL) {
		fprintf(stderr, "revgate cert check: out of memory\n");
		rc = 1;
		goto cleanup;
	}
	if (tlscheck_report_get0_leaf(r) != NULL)
		tlscheck_cmd_summary(tlscheck_report_get0_leaf(r), in.certificate);
	for (size_t i = 0; i < r->n; i++)
		printf("%s  %s: %s\n", tlscheck_status_name(r->v[i].status), r->v[i].name,
		    r->v[i].message);
	printf("%zu check(s): %zu failed, %zu warning(s)\n", r->n,
	    tlscheck_report_tally(r, TLSCHECK_FAIL), tlscheck_report_tally(r, TLSCHECK_WARN));
	rc = tlscheck_report_tally(r, TLSCHECK_FAIL) > 0 ? 1 : 0;
cleanup:
	tlscheck_report_free(r);
	free(hosts);
	return rc;
}
