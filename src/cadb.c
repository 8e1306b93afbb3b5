#include "config.h"
#include "cadb.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "pki.h"

#define CADB_FIELDS	6	/* status, expiry, revocation, serial, file, subject */
#define CADB_LINE_MAX	2048

enum cadb_field {
	CADB_F_STATUS,
	CADB_F_EXPIRY,
	CADB_F_REVOKED,
	CADB_F_SERIAL,
	CADB_F_FILE,
	CADB_F_SUBJECT,
};

/* One line of index.txt; the fields point into the loaded text or into caller buffers. */
struct cadb_entry {
	const char	*f[CADB_FIELDS];
};

struct cadb_index {
	char			*text;
	struct cadb_entry	*v;
	size_t			 n;
};

/* In CRLReason code order; certificateHold (6) is the last one revgate issues. */
const char *const cadb_reason_names[] = {
	"unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded",
	"cessationOfOperation", "certificateHold", NULL,
};

int
cadb_reason_parse(const char *name)
{
	for (int i = 0; cadb_reason_names[i] != NULL; i++)
		if (strcasecmp(name, cadb_reason_names[i]) == 0)
			return i;
	return -1;
}

const char *
cadb_reason_name(int code)
{
	if (code < 0 || code >= (int)(sizeof(cadb_reason_names) / sizeof(cadb_reason_names[0])))
		return NULL;
	return cadb_reason_names[code];
}

/* Writes TEXT to DIR/NAME (mode 0644). */
static int
cadb_write(const char *dir, const char *name, const char *text, bool overwrite,
    struct pki_err *err)
{
	char path[PATH_MAX];

	if (pki_join(path, dir, name, err) != 0)
		return -1;
	return pki_write_file(path, text, strlen(text), 0644, overwrite, err);
}

/* A serial in canonical form (BN_bn2hex: upper case, whole bytes, no leading zero byte). */
static char *
cadb_canonical_serial(const char *hex)
{
	BIGNUM *bn = NULL;
	char *out = NULL;

	if (*hex == '\0' || strspn(hex, "0123456789abcdefABCDEF") != strlen(hex))
		return NULL;
	if (BN_hex2bn(&bn, hex) == 0)
		return NULL;
	out = BN_bn2hex(bn);
	BN_free(bn);
	return out;
}

int
cadb_init(const char *dir, bool overwrite, struct pki_err *err)
{
	unsigned char raw[16];
	char serial[2 * sizeof(raw) + 2];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return pki_fail(err, "cannot draw random bytes");
	raw[0] = (unsigned char)(0x40 | (raw[0] & 0x3f));
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(serial + 2 * i, 3, "%02X", raw[i]);
	strcat(serial, "\n");
	if (cadb_write(dir, CADB_INDEX, "", overwrite, err) != 0 ||
	    cadb_write(dir, CADB_INDEX ".attr", "unique_subject = no\n", true, err) != 0 ||
	    cadb_write(dir, "crlnumber", "01\n", true, err) != 0)
		return -1;
	return cadb_write(dir, "serial", serial, true, err);
}

/* Splits one line into its fields; -1 if it does not have exactly six. */
static int
cadb_split(char *line, struct cadb_entry *e)
{
	char *p = line;

	for (int i = 0; i < CADB_FIELDS; i++) {
		e->f[i] = p;
		p = strchr(p, '\t');
		if (i < CADB_FIELDS - 1) {
			if (p == NULL)
				return -1;
			*p++ = '\0';
		}
	}
	return p == NULL ? 0 : -1;
}

static void
cadb_index_clear(struct cadb_index *ix)
{
	free(ix->text);
	free(ix->v);
	ix->text = NULL;
	ix->v = NULL;
	ix->n = 0;
}

/* Loads DIR/index.txt into IX; a missing index is an empty one (a CA made elsewhere). */
static int
cadb_index_load(const char *dir, struct cadb_index *ix, struct pki_err *err)
{
	char path[PATH_MAX], *line, *next;
	size_t len, lines = 1;

	ix->text = NULL;
	ix->v = NULL;
	ix->n = 0;
	if (pki_join(path, dir, CADB_INDEX, err) != 0)
		return -1;
	if (access(path, F_OK) != 0 && errno == ENOENT)
		return 0;
	if ((ix->text = (char *)pki_read_file(path, &len, err)) == NULL)
		return -1;
	for (size_t i = 0; i < len; i++)
		lines += ix->text[i] == '\n';
	if ((ix->v = calloc(lines, sizeof(*ix->v))) == NULL)
		return pki_fail(err, "%s: out of memory", path);
	for (line = ix->text; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (*line == '\0')
			continue;
		if (cadb_split(line, &ix->v[ix->n]) != 0) {
			pki_fail(err, "%s: line %zu: expected 6 tab-separated fields", path,
			    ix->n + 1);
			cadb_index_clear(ix);
			return -1;
		}
		ix->n++;
	}
	return 0;
}

/* Rewrites DIR/index.txt from IX, atomically. */
static int
cadb_index_save(const char *dir, const struct cadb_index *ix, struct pki_err *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	const struct cadb_entry *e;
	char *data, path[PATH_MAX];
	long len;
	int rc = -1;

	if (bio == NULL || pki_join(path, dir, CADB_INDEX, err) != 0)
		goto out;
	for (size_t i = 0; i < ix->n; i++) {
		e = &ix->v[i];
		if (BIO_printf(bio, "%s\t%s\t%s\t%s\t%s\t%s\n", e->f[0], e->f[1], e->f[2], e->f[3],
		    e->f[4], e->f[5]) <= 0) {
			pki_fail(err, "%s: out of memory", path);
			goto out;
		}
	}
	len = BIO_get_mem_data(bio, &data);
	rc = pki_write_file(path, data, (size_t)len, 0644, true, err);
out:
	BIO_free(bio);
	return rc;
}

/* The entry of IX whose serial equals the canonical SERIAL, or NULL. */
static struct cadb_entry *
cadb_index_find(struct cadb_index *ix, const char *serial)
{
	char *canon;
	bool same;

	for (size_t i = 0; i < ix->n; i++) {
		if ((canon = cadb_canonical_serial(ix->v[i].f[CADB_F_SERIAL])) == NULL)
			continue;
		same = strcmp(canon, serial) == 0;
		OPENSSL_free(canon);
		if (same)
			return &ix->v[i];
	}
	return NULL;
}

/* The index line of CERT, newline included. */
static int
cadb_format_line(X509 *cert, char *line, size_t size)
{
	const ASN1_TIME *na = X509_get0_notAfter(cert);
	char subject[CADB_LINE_MAX / 2], *serial = pki_serial_hex(cert);
	int n;

	if (serial == NULL)
		return -1;
	X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
	n = snprintf(line, size, "V\t%.*s\t\t%s\tunknown\t%s\n", ASN1_STRING_length(na),
	    (const char *)ASN1_STRING_get0_data(na), serial, subject);
	OPENSSL_free(serial);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

static int
cadb_append(const char *path, const char *line, struct pki_err *err)
{
	size_t len = strlen(line);
	ssize_t n;
	int fd;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return pki_fail(err, "%s: cannot open: %s", path, strerror(errno));
	/* One write with O_APPEND: a concurrent issuer's line lands before or after, never in. */
	n = write(fd, line, len);
	if (n != (ssize_t)len || fsync(fd) != 0) {
		pki_fail(err, "%s: cannot append: %s", path, n < 0 ? strerror(errno) : "short write");
		close(fd);
		return -1;
	}
	return close(fd) == 0 ? 0 : pki_fail(err, "%s: cannot append: %s", path, strerror(errno));
}

int
cadb_record(const char *dir, X509 *cert, struct pki_err *err)
{
	struct cadb_index ix;
	char path[PATH_MAX], line[CADB_LINE_MAX], *serial = NULL;
	int rc = -1;

	if (pki_join(path, dir, CADB_INDEX, err) != 0 || cadb_index_load(dir, &ix, err) != 0)
		return -1;
	if ((serial = pki_serial_hex(cert)) == NULL || cadb_format_line(cert, line,
	    sizeof(line)) != 0) {
		pki_fail(err, "%s: cannot format the entry", path);
		goto out;
	}
	if (cadb_index_find(&ix, serial) != NULL) {
		pki_fail(err, "%s: serial %s is already in it", path, serial);
		goto out;
	}
	rc = cadb_append(path, line, err);
out:
	OPENSSL_free(serial);
	cadb_index_clear(&ix);
	return rc;
}

/* "YYMMDDHHMMSSZ[,reason]" for NOW; certificateHold carries its instruction as openssl does. */
static int
cadb_format_revinfo(char *buf, size_t size, time_t now, int reason)
{
	ASN1_TIME *t = ASN1_TIME_adj(NULL, now, 0, 0);
	int n;

	if (t == NULL)
		return -1;
	n = snprintf(buf, size, "%.*s%s%s%s", ASN1_STRING_length(t),
	    (const char *)ASN1_STRING_get0_data(t), reason >= 0 ? "," : "",
	    reason >= 0 ? cadb_reason_name(reason) : "",
	    reason == 6 ? ",holdInstructionReject" : "");
	ASN1_TIME_free(t);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int
cadb_revoke(const char *dir, const char *serial, int reason, time_t now, bool *already,
    struct pki_err *err)
{
	struct cadb_index ix = { NULL, NULL, 0 };
	struct cadb_entry *e;
	char revinfo[128], *canon = NULL;
	int rc = -1;

	*already = false;
	if ((canon = cadb_canonical_serial(serial)) == NULL)
		return pki_fail(err, "\"%s\" is not a serial number in hex", serial);
	if (cadb_index_load(dir, &ix, err) != 0)
		goto out;
	if ((e = cadb_index_find(&ix, canon)) == NULL) {
		pki_fail(err, "serial %s was not issued by this CA (it is not in %s/%s)", canon,
		    dir, CADB_INDEX);
		goto out;
	}
	if (strcmp(e->f[CADB_F_STATUS], "R") == 0) {
		*already = true;
		pki_fail(err, "serial %s is already revoked (since %s)", canon,
		    e->f[CADB_F_REVOKED]);
		goto out;
	}
	if (cadb_format_revinfo(revinfo, sizeof(revinfo), now, reason) != 0) {
		pki_fail(err, "cannot format the revocation time");
		goto out;
	}
	e->f[CADB_F_STATUS] = "R";
	e->f[CADB_F_REVOKED] = revinfo;
	rc = cadb_index_save(dir, &ix, err);
out:
	OPENSSL_free(canon);
	cadb_index_clear(&ix);
	return rc;
}

/* Reads DIR/crlnumber (01 when missing) and writes the number after it. */
static ASN1_INTEGER *
cadb_next_crl_number(const char *dir, struct pki_err *err)
{
	char path[PATH_MAX], *text = NULL, *hex = NULL, next[80];
	ASN1_INTEGER *number = NULL;
	BIGNUM *bn = NULL;
	size_t len;

	if (pki_join(path, dir, "crlnumber", err) != 0)
		return NULL;
	if (access(path, F_OK) == 0 &&
	    (text = (char *)pki_read_file(path, &len, err)) == NULL)
		return NULL;
	if (text != NULL)
		text[strcspn(text, "\r\n")] = '\0';
	if (BN_hex2bn(&bn, text != NULL ? text : "01") == 0 ||
	    (text != NULL && strlen(text) != strspn(text, "0123456789abcdefABCDEF"))) {
		pki_fail(err, "%s: expected a hexadecimal number", path);
		goto out;
	}
	if ((number = BN_to_ASN1_INTEGER(bn, NULL)) == NULL || BN_add_word(bn, 1) != 1 ||
	    (hex = BN_bn2hex(bn)) == NULL) {
		pki_fail(err, "%s: out of memory", path);
		goto out;
	}
	snprintf(next, sizeof(next), "%s\n", hex);
	if (cadb_write(dir, "crlnumber", next, true, err) != 0) {
		ASN1_INTEGER_free(number);
		number = NULL;
	}
out:
	OPENSSL_free(hex);
	BN_free(bn);
	free(text);
	return number;
}

/* The reason code in "time,reason[,instruction]", CADB_REASON_NONE without one, -2 if bad. */
static int
cadb_revinfo_reason(const char *revinfo)
{
	const char *comma = strchr(revinfo, ',');
	char name[64];

	if (comma == NULL)
		return CADB_REASON_NONE;
	snprintf(name, sizeof(name), "%.*s", (int)strcspn(comma + 1, ","), comma + 1);
	return cadb_reason_parse(name) >= 0 ? cadb_reason_parse(name) : -2;
}

static int
cadb_revoked_set_reason(X509_REVOKED *rev, int reason)
{
	ASN1_ENUMERATED *code;
	int rc;

	/* RFC 5280: "unspecified" is better said by leaving the extension out. */
	if (reason <= 0)
		return 0;
	if ((code = ASN1_ENUMERATED_new()) == NULL || ASN1_ENUMERATED_set(code, reason) != 1) {
		ASN1_ENUMERATED_free(code);
		return -1;
	}
	rc = X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, code, 0, 0) == 1 ? 0 : -1;
	ASN1_ENUMERATED_free(code);
	return rc;
}

/* Adds the revoked entry E to CRL. */
static int
cadb_crl_add(X509_CRL *crl, const struct cadb_entry *e, struct pki_err *err)
{
	const char *revinfo = e->f[CADB_F_REVOKED], *serial = e->f[CADB_F_SERIAL];
	int reason = cadb_revinfo_reason(revinfo);
	X509_REVOKED *rev = X509_REVOKED_new();
	ASN1_INTEGER *number = NULL;
	ASN1_TIME *when = ASN1_TIME_new();
	BIGNUM *bn = NULL;
	char stamp[32];
	int rc = -1;

	snprintf(stamp, sizeof(stamp), "%.*s", (int)strcspn(revinfo, ","), revinfo);
	if (rev == NULL || when == NULL || reason == -2 || ASN1_TIME_set_string(when,
	    stamp) != 1 || BN_hex2bn(&bn, serial) == 0 ||
	    (number = BN_to_ASN1_INTEGER(bn, NULL)) == NULL) {
		pki_fail(err, "%s: the entry of serial %s has a bad revocation \"%s\"",
		    CADB_INDEX, serial, revinfo);
		goto out;
	}
	if (X509_REVOKED_set_serialNumber(rev, number) != 1 ||
	    X509_REVOKED_set_revocationDate(rev, when) != 1 ||
	    cadb_revoked_set_reason(rev, reason) != 0 || X509_CRL_add0_revoked(crl, rev) != 1) {
		pki_fail(err, "cannot add serial %s to the CRL", serial);
		goto out;
	}
	rev = NULL;	/* the CRL owns it */
	rc = 0;
out:
	X509_REVOKED_free(rev);
	ASN1_INTEGER_free(number);
	ASN1_TIME_free(when);
	BN_free(bn);
	return rc;
}

/* Issuer, dates and entries of the CRL of DIR. */
static int
cadb_crl_fill(X509_CRL *crl, const char *dir, X509 *ca, int days, time_t now,
    struct pki_err *err)
{
	struct cadb_index ix;
	ASN1_TIME *last = ASN1_TIME_adj(NULL, now, 0, 0);
	ASN1_TIME *next = ASN1_TIME_adj(NULL, now, days, 0);
	int rc = -1;

	if (cadb_index_load(dir, &ix, err) != 0)
		goto out;
	if (last == NULL || next == NULL || X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) != 1 ||
	    X509_CRL_set1_lastUpdate(crl, last) != 1 || X509_CRL_set1_nextUpdate(crl, next) != 1) {
		pki_fail(err, "cannot start the CRL");
		goto out;
	}
	for (size_t i = 0; i < ix.n; i++)
		if (strcmp(ix.v[i].f[CADB_F_STATUS], "R") == 0 && cadb_crl_add(crl, &ix.v[i],
		    err) != 0)
			goto out;
	rc = X509_CRL_sort(crl) == 1 ? 0 : pki_fail(err, "cannot sort the CRL");
out:
	cadb_index_clear(&ix);
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	return rc;
}

/* CRL number and authority key identifier. */
static int
cadb_crl_exts(X509_CRL *crl, const char *dir, X509 *ca, struct pki_err *err)
{
	ASN1_INTEGER *number = NULL;
	X509_EXTENSION *aki = NULL;
	X509V3_CTX ctx;
	int rc = -1;

	X509V3_set_ctx(&ctx, ca, NULL, NULL, crl, 0);
	if ((aki = X509V3_EXT_nconf_nid(NULL, &ctx, NID_authority_key_identifier,
	    "keyid:always")) == NULL || X509_CRL_add_ext(crl, aki, -1) != 1) {
		pki_fail(err, "cannot add the authority key identifier to the CRL");
		goto out;
	}
	if ((number = cadb_next_crl_number(dir, err)) == NULL)
		goto out;
	if (X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, 0) != 1) {
		pki_fail(err, "cannot add the CRL number");
		goto out;
	}
	rc = 0;
out:
	X509_EXTENSION_free(aki);
	ASN1_INTEGER_free(number);
	return rc;
}

X509_CRL *
cadb_crl_new(const char *dir, X509 *ca_cert, EVP_PKEY *ca_key, int days, time_t now,
    struct pki_err *err)
{
	X509_CRL *crl = X509_CRL_new();

	if (crl == NULL) {
		pki_fail(err, "out of memory");
		return NULL;
	}
	if (cadb_crl_fill(crl, dir, ca_cert, days, now, err) != 0 ||
	    cadb_crl_exts(crl, dir, ca_cert, err) != 0)
		goto fail;
	if (X509_CRL_sign(crl, ca_key, pki_sign_md(ca_key)) <= 0) {
		pki_fail(err, "cannot sign the CRL");
		goto fail;
	}
	return crl;
fail:
	X509_CRL_free(crl);
	return NULL;
}
