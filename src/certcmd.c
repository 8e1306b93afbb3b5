#include "config.h"
#include "certcmd.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cadb.h"
#include "certshow.h"
#include "pki.h"
#include "suggest.h"
#include "tlscheck.h"
#include "units.h"

#define CERTCMD_EXIT_FAIL	1
#define CERTCMD_EXIT_USAGE	2
#define CERTCMD_MAX_DAYS	36500
#define CERTCMD_MAX_NAMES	64	/* entries of --ip-addresses / --dns-names */

/* Option identifiers, also bit positions in a subcommand's allowed and required sets. */
enum certcmd_opt {
	CERTCMD_O_OUT,
	CERTCMD_O_CN,
	CERTCMD_O_ORG,
	CERTCMD_O_DAYS,
	CERTCMD_O_KEY_TYPE,
	CERTCMD_O_CA_CERT,
	CERTCMD_O_CA_KEY,
	CERTCMD_O_CA_DIR,
	CERTCMD_O_IPS,
	CERTCMD_O_DNS,
	CERTCMD_O_CRL_URL,
	CERTCMD_O_OCSP_URL,
	CERTCMD_O_CERT,
	CERTCMD_O_SERIAL,
	CERTCMD_O_REASON,
	CERTCMD_O_DER,
	CERTCMD_O_OVERWRITE,
	CERTCMD_O_HELP,
	CERTCMD_NOPTS,
};

#define CERTCMD_BIT(o)	(1u << (o))
#define CERTCMD_ISSUER	(CERTCMD_BIT(CERTCMD_O_CA_CERT) | CERTCMD_BIT(CERTCMD_O_CA_KEY) | \
			 CERTCMD_BIT(CERTCMD_O_CA_DIR))
#define CERTCMD_NEW	(CERTCMD_BIT(CERTCMD_O_OUT) | CERTCMD_BIT(CERTCMD_O_CN) | \
			 CERTCMD_BIT(CERTCMD_O_ORG) | CERTCMD_BIT(CERTCMD_O_DAYS) | \
			 CERTCMD_BIT(CERTCMD_O_KEY_TYPE) | CERTCMD_BIT(CERTCMD_O_OVERWRITE))
#define CERTCMD_URLS	(CERTCMD_BIT(CERTCMD_O_CRL_URL) | CERTCMD_BIT(CERTCMD_O_OCSP_URL))
#define CERTCMD_SANS	(CERTCMD_BIT(CERTCMD_O_IPS) | CERTCMD_BIT(CERTCMD_O_DNS))

struct certcmd_optdoc {
	const char	*name;
	int		 has_arg;
	const char	*arg;		/* the value's placeholder in help, or NULL */
	const char	*text;
};

/* Indexed by enum certcmd_opt. */
static const struct certcmd_optdoc certcmd_optdocs[CERTCMD_NOPTS] = {
	{ "out", required_argument, "DIR", "the directory to write into (created if missing)" },
	{ "cn", required_argument, "NAME", "the subject's common name" },
	{ "org", required_argument, "NAME", "an organization (O) in the subject" },
	{ "days", required_argument, "N", "validity in days, from now" },
	{ "key-type", required_argument, "TYPE",
	    "ecdsa-p256 (default), ecdsa-p384, rsa-2048, rsa-4096 or ed25519" },
	{ "ca-cert", required_argument, "FILE", "the issuing CA's certificate (PEM or DER)" },
	{ "ca-key", required_argument, "FILE", "the issuing CA's private key (unencrypted)" },
	{ "ca-dir", required_argument, "DIR",
	    "the CA's database (index.txt); default: the directory of --ca-key" },
	{ "ip-addresses", required_argument, "A,B", "IP subject alternative names" },
	{ "dns-names", required_argument, "A,B", "DNS subject alternative names" },
	{ "crl-url", required_argument, "URL", "a CRL distribution point to put in the certificate" },
	{ "ocsp-url", required_argument, "URL", "an OCSP responder (AIA) to put in the certificate" },
	{ "cert", required_argument, "FILE", "the certificate to revoke" },
	{ "serial", required_argument, "HEX", "the serial number to revoke" },
	{ "reason", required_argument, "R", "unspecified, keyCompromise, cACompromise, "
	    "affiliationChanged, superseded, cessationOfOperation or certificateHold" },
	{ "der", no_argument, NULL, "write DER instead of PEM" },
	{ "overwrite", no_argument, NULL, "replace existing files instead of refusing" },
	{ "help", no_argument, NULL, "show this help" },
};

/* What the command line said; strings are borrowed from argv. */
struct certcmd_args {
	const struct certcmd_sub	*sub;
	const char			*v[CERTCMD_NOPTS];	/* option values */
	unsigned			 given;			/* CERTCMD_BIT set */
	const char			*file;			/* show's operand */
	int				 days;
	enum pki_key_type		 key_type;
	int				 reason;
	const char			*ips[CERTCMD_MAX_NAMES];
	size_t				 nips;
	const char			*dns[CERTCMD_MAX_NAMES];
	size_t				 ndns;
	char				*lists;	/* owned copy that ips/dns point into */
};

struct certcmd_sub {
	const char	*name;
	int		(*run)(struct certcmd_args *a);
	const char	*usage;
	const char	*summary;
	const char	*about;
	unsigned	 allowed;
	unsigned	 required;
	int		 days;		/* default --days; 0: no --days */
	const char	*cn;		/* default --cn, or NULL */
	const char	*out_arg;	/* --out's placeholder */
};

/* An issuing CA as the options name it. */
struct certcmd_ca {
	STACK_OF(X509)	*certs;		/* --ca-cert: the CA first, maybe its chain after it */
	X509		*cert;		/* borrowed from certs */
	EVP_PKEY	*key;
	STACK_OF(X509)	*upchain;	/* the CA and every issuer above it, root included */
	char		 dir[PATH_MAX];	/* its database */
};

static int certcmd_create_ca(struct certcmd_args *a);
static int certcmd_create_intermediate(struct certcmd_args *a);
static int certcmd_create_node(struct certcmd_args *a);
static int certcmd_create_client(struct certcmd_args *a);
static int certcmd_revoke(struct certcmd_args *a);
static int certcmd_gen_crl(struct certcmd_args *a);
static int certcmd_show(struct certcmd_args *a);

static const struct certcmd_sub certcmd_subs[] = {
	{ "create-ca", certcmd_create_ca, "create-ca --out DIR [OPTIONS]",
	    "create a self-signed root CA",
	    "Creates a root CA: DIR/ca.crt (0644) and DIR/ca.key (0600), and its database\n"
	    "(index.txt, index.txt.attr, crlnumber, serial) in the format of `openssl ca`.",
	    CERTCMD_NEW, CERTCMD_BIT(CERTCMD_O_OUT), 3650, "revgate CA", "DIR" },
	{ "create-intermediate", certcmd_create_intermediate,
	    "create-intermediate --ca-cert FILE --ca-key FILE --out DIR [OPTIONS]",
	    "create an intermediate CA signed by a CA",
	    "Creates an intermediate CA (path length 0): DIR/ca.crt, DIR/ca.key, DIR/ca-chain.crt\n"
	    "(the intermediate, then its issuers up to the root) and a database of its own in DIR.\n"
	    "The issuing CA records it in its index.txt.",
	    CERTCMD_NEW | CERTCMD_ISSUER | CERTCMD_URLS, CERTCMD_BIT(CERTCMD_O_OUT) |
	    CERTCMD_BIT(CERTCMD_O_CA_CERT) | CERTCMD_BIT(CERTCMD_O_CA_KEY), 1825,
	    "revgate intermediate CA", "DIR" },
	{ "create-node", certcmd_create_node,
	    "create-node --ca-cert FILE --ca-key FILE --out DIR [OPTIONS]",
	    "create a server (node) certificate",
	    "Creates DIR/node.crt (the certificate, then the intermediates of its issuer, never the\n"
	    "root) and DIR/node.key, for serverAuth and clientAuth. Without --ip-addresses and\n"
	    "--dns-names the names are localhost, 127.0.0.1 and ::1.",
	    CERTCMD_NEW | CERTCMD_ISSUER | CERTCMD_URLS | CERTCMD_SANS,
	    CERTCMD_BIT(CERTCMD_O_OUT) | CERTCMD_BIT(CERTCMD_O_CA_CERT) |
	    CERTCMD_BIT(CERTCMD_O_CA_KEY), 365, "node", "DIR" },
	{ "create-client", certcmd_create_client,
	    "create-client --ca-cert FILE --ca-key FILE --out DIR --cn NAME [OPTIONS]",
	    "create a client certificate",
	    "Creates DIR/client.NAME.crt (the certificate, then the intermediates of its issuer)\n"
	    "and DIR/client.NAME.key, for clientAuth only; NAME is the --cn.",
	    CERTCMD_NEW | CERTCMD_ISSUER | CERTCMD_URLS | CERTCMD_SANS,
	    CERTCMD_BIT(CERTCMD_O_OUT) | CERTCMD_BIT(CERTCMD_O_CA_CERT) |
	    CERTCMD_BIT(CERTCMD_O_CA_KEY) | CERTCMD_BIT(CERTCMD_O_CN), 365, NULL, "DIR" },
	{ "revoke", certcmd_revoke,
	    "revoke --ca-cert FILE --ca-key FILE (--cert FILE | --serial HEX) [--reason R]",
	    "mark a certificate revoked in its CA's index.txt",
	    "Marks a certificate the CA issued as revoked in the CA's index.txt (which\n"
	    "`openssl ocsp -index` serves). Run gen-crl afterwards to publish a CRL. Revoking a\n"
	    "revoked certificate changes nothing and says so.",
	    CERTCMD_ISSUER | CERTCMD_BIT(CERTCMD_O_CERT) | CERTCMD_BIT(CERTCMD_O_SERIAL) |
	    CERTCMD_BIT(CERTCMD_O_REASON), CERTCMD_BIT(CERTCMD_O_CA_CERT) |
	    CERTCMD_BIT(CERTCMD_O_CA_KEY), 0, NULL, NULL },
	{ "gen-crl", certcmd_gen_crl,
	    "gen-crl --ca-cert FILE --ca-key FILE --out FILE [--days N] [--der]",
	    "write a signed CRL of the CA's revoked certificates",
	    "Writes a CRL of every certificate revoked in the CA's index.txt to FILE (replacing\n"
	    "it atomically), with the next CRL number from the CA's crlnumber file.",
	    CERTCMD_ISSUER | CERTCMD_BIT(CERTCMD_O_OUT) | CERTCMD_BIT(CERTCMD_O_DAYS) |
	    CERTCMD_BIT(CERTCMD_O_DER), CERTCMD_BIT(CERTCMD_O_OUT) |
	    CERTCMD_BIT(CERTCMD_O_CA_CERT) | CERTCMD_BIT(CERTCMD_O_CA_KEY), 7, NULL, "FILE" },
	{ "show", certcmd_show, "show FILE",
	    "summarize a certificate, chain, CRL or OCSP response",
	    "Prints a summary of FILE: every certificate of a PEM chain (subject, issuer, serial,\n"
	    "validity, key, extensions), a CRL (issuer, updates, number, entries) or a DER OCSP\n"
	    "response (status, responder, each certificate's status and updates).",
	    0, 0, 0, NULL, NULL },
};

/* `check` has its own options and lives with the checks it runs (src/tlscheck.c). */
#define CERTCMD_CHECK		"check"
#define CERTCMD_CHECK_SUMMARY	"check a certificate, its key, chain, EKU, SANs and key permissions"


#define CERTCMD_NSUBS	(sizeof(certcmd_subs) / sizeof(certcmd_subs[0]))

void
certcmd_help(FILE *out)
{
	fprintf(out, "Usage: revgate cert SUBCOMMAND [OPTIONS]\n\n"
	    "Creates and inspects the certificates of a small PKI for revgate: a CA, intermediates,\n"
	    "node (server) and client certificates, revocations and CRLs.\n\nSubcommands:\n");
	for (size_t i = 0; i < CERTCMD_NSUBS; i++)
		fprintf(out, "  %-20s %s\n", certcmd_subs[i].name, certcmd_subs[i].summary);
	fprintf(out, "  %-20s %s\n", CERTCMD_CHECK, CERTCMD_CHECK_SUMMARY);
	fprintf(out, "\nSee revgate cert SUBCOMMAND --help and revgate-cert(1).\n"
	    "Exit status: 0 done, 1 failed, 2 wrong command line.\n");
}

static void
certcmd_help_sub(const struct certcmd_sub *sub, FILE *out)
{
	const struct certcmd_optdoc *d;
	char left[40];

	fprintf(out, "Usage: revgate cert %s\n\n%s\n", sub->usage, sub->about);
	if (sub->allowed == 0)
		return;
	fprintf(out, "\nOptions:\n");
	for (int o = 0; o < CERTCMD_NOPTS; o++) {
		if ((sub->allowed & CERTCMD_BIT(o)) == 0 && o != CERTCMD_O_HELP)
			continue;
		d = &certcmd_optdocs[o];
		snprintf(left, sizeof(left), "--%s%s%s", d->name, d->arg != NULL ? " " : "",
		    o == CERTCMD_O_OUT ? sub->out_arg : d->arg != NULL ? d->arg : "");
		fprintf(out, "  %-20s %s", left, o == CERTCMD_O_OUT && strcmp(sub->out_arg,
		    "FILE") == 0 ? "the file to write" : d->text);
		if (o == CERTCMD_O_DAYS)
			fprintf(out, " (default: %d)", sub->days);
		if (o == CERTCMD_O_CN && sub->cn != NULL)
			fprintf(out, " (default: \"%s\")", sub->cn);
		fputc('\n', out);
	}
}

static const struct certcmd_sub *
certcmd_find(const char *name)
{
	for (size_t i = 0; i < CERTCMD_NSUBS; i++)
		if (strcmp(certcmd_subs[i].name, name) == 0)
			return &certcmd_subs[i];
	return NULL;
}

static int
certcmd_unknown_sub(const char *name)
{
	const char *names[CERTCMD_NSUBS + 1];
	const char *near;

	for (size_t i = 0; i < CERTCMD_NSUBS; i++)
		names[i] = certcmd_subs[i].name;
	names[CERTCMD_NSUBS] = CERTCMD_CHECK;
	near = suggest_closest(name, names, CERTCMD_NSUBS + 1);
	fprintf(stderr, "revgate cert: unknown subcommand \"%s\"%s%s%s; see revgate cert --help\n",
	    name, near != NULL ? " (did you mean " : "", near != NULL ? near : "",
	    near != NULL ? "?)" : "");
	return CERTCMD_EXIT_USAGE;
}

/* A command-line mistake: one line naming the subcommand and where to read more. */
static int __attribute__((format(printf, 2, 3)))
certcmd_usage_error(const struct certcmd_args *a, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "revgate cert %s: ", a->sub->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; see revgate cert %s --help\n", a->sub->name);
	return CERTCMD_EXIT_USAGE;
}

/* An operation that failed: the reason pki/cadb left. */
static int
certcmd_failed(const struct certcmd_args *a, const struct pki_err *err)
{
	fprintf(stderr, "revgate cert %s: %s\n", a->sub->name, err->msg);
	return CERTCMD_EXIT_FAIL;
}

/* The option word getopt refused ("--bogus=1" gives "bogus"), for the suggestion. */
static void
certcmd_option_word(const char *arg, char *buf, size_t size)
{
	while (*arg == '-')
		arg++;
	snprintf(buf, size, "%.*s", (int)strcspn(arg, "="), arg);
}

static int
certcmd_unknown_option(const struct certcmd_args *a, const char *arg)
{
	const char *names[CERTCMD_NOPTS], *near;
	char word[64];

	for (int o = 0; o < CERTCMD_NOPTS; o++)
		names[o] = (a->sub->allowed & CERTCMD_BIT(o)) != 0 || o == CERTCMD_O_HELP ?
		    certcmd_optdocs[o].name : NULL;
	certcmd_option_word(arg, word, sizeof(word));
	near = suggest_closest(word, names, CERTCMD_NOPTS);
	if (near != NULL)
		return certcmd_usage_error(a, "unknown option \"%s\" (did you mean --%s?)", arg,
		    near);
	return certcmd_usage_error(a, "unknown option \"%s\"", arg);
}

/* Splits the comma list TEXT into OUT (at most CERTCMD_MAX_NAMES); TEXT is modified. */
static int
certcmd_split(char *text, const char **out, size_t *n)
{
	char *save = NULL;

	for (char *t = strtok_r(text, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		if (*n == CERTCMD_MAX_NAMES)
			return -1;
		out[(*n)++] = t;
	}
	return 0;
}

/* Validates and splits --ip-addresses and --dns-names. */
static int
certcmd_parse_names(struct certcmd_args *a)
{
	const char *ips = a->v[CERTCMD_O_IPS] != NULL ? a->v[CERTCMD_O_IPS] : "";
	const char *dns = a->v[CERTCMD_O_DNS] != NULL ? a->v[CERTCMD_O_DNS] : "";
	size_t ilen = strlen(ips);

	if ((a->lists = malloc(ilen + strlen(dns) + 2)) == NULL)
		return certcmd_usage_error(a, "out of memory");
	memcpy(a->lists, ips, ilen + 1);
	memcpy(a->lists + ilen + 1, dns, strlen(dns) + 1);
	if (certcmd_split(a->lists, a->ips, &a->nips) != 0 ||
	    certcmd_split(a->lists + ilen + 1, a->dns, &a->ndns) != 0)
		return certcmd_usage_error(a, "at most %d names per list", CERTCMD_MAX_NAMES);
	for (size_t i = 0; i < a->nips; i++)
		if (pki_check_ip(a->ips[i]) != 0)
			return certcmd_usage_error(a, "--ip-addresses: \"%s\" is not an IPv4 or "
			    "IPv6 address", a->ips[i]);
	for (size_t i = 0; i < a->ndns; i++)
		if (pki_check_dns(a->dns[i]) != 0)
			return certcmd_usage_error(a, "--dns-names: \"%s\" is not a DNS name "
			    "(letters, digits, '-' and '.', optionally starting with \"*.\")",
			    a->dns[i]);
	return 0;
}

static int
certcmd_parse_key_type(struct certcmd_args *a)
{
	const char *names[PKI_KEY_NTYPES], *near, *text = a->v[CERTCMD_O_KEY_TYPE];

	a->key_type = PKI_KEY_ECDSA_P256;
	if (text == NULL || pki_key_type_parse(text, &a->key_type) == 0)
		return 0;
	for (int t = 0; t < PKI_KEY_NTYPES; t++)
		names[t] = pki_key_type_name((enum pki_key_type)t);
	near = suggest_closest(text, names, PKI_KEY_NTYPES);
	return certcmd_usage_error(a, "--key-type: unknown key type \"%s\"%s%s%s (one of "
	    "ecdsa-p256, ecdsa-p384, rsa-2048, rsa-4096, ed25519)", text,
	    near != NULL ? ", did you mean " : "", near != NULL ? near : "",
	    near != NULL ? "?" : "");
}

static int
certcmd_parse_reason(struct certcmd_args *a)
{
	const char *text = a->v[CERTCMD_O_REASON], *near;
	size_t n = 0;

	a->reason = CADB_REASON_NONE;
	if (text == NULL || (a->reason = cadb_reason_parse(text)) >= 0)
		return 0;
	while (cadb_reason_names[n] != NULL)
		n++;
	near = suggest_closest(text, cadb_reason_names, n);
	return certcmd_usage_error(a, "--reason: unknown reason \"%s\"%s%s%s", text,
	    near != NULL ? " (did you mean " : "", near != NULL ? near : "",
	    near != NULL ? "?)" : "");
}

/* Days, URLs, key type, reason and name lists: every value checked before any work. */
static int
certcmd_check_values(struct certcmd_args *a)
{
	const char *days = a->v[CERTCMD_O_DAYS];
	int64_t d = a->sub->days;
	int rc;

	if (days != NULL && (units_parse_int(days, &d) != 0 || d < 1 || d > CERTCMD_MAX_DAYS))
		return certcmd_usage_error(a, "--days: expected a whole number from 1 to %d, "
		    "got \"%s\"", CERTCMD_MAX_DAYS, days);
	a->days = (int)d;
	for (int o = CERTCMD_O_CRL_URL; o <= CERTCMD_O_OCSP_URL; o++)
		if (a->v[o] != NULL && pki_check_uri(a->v[o]) != 0)
			return certcmd_usage_error(a, "--%s: \"%s\" is not a URL (scheme:..., "
			    "without spaces or commas)", certcmd_optdocs[o].name, a->v[o]);
	if ((rc = certcmd_parse_key_type(a)) != 0 || (rc = certcmd_parse_reason(a)) != 0)
		return rc;
	return certcmd_parse_names(a);
}

static int
certcmd_check_required(struct certcmd_args *a)
{
	const struct certcmd_optdoc *d;

	for (int o = 0; o < CERTCMD_NOPTS; o++) {
		if ((a->sub->required & CERTCMD_BIT(o)) == 0 || (a->given & CERTCMD_BIT(o)) != 0)
			continue;
		d = &certcmd_optdocs[o];
		return certcmd_usage_error(a, "missing --%s %s", d->name,
		    o == CERTCMD_O_OUT ? a->sub->out_arg : d->arg);
	}
	if (a->sub->run == certcmd_show && a->file == NULL)
		return certcmd_usage_error(a, "missing the FILE to show");
	if (a->sub->run == certcmd_revoke && (a->v[CERTCMD_O_CERT] == NULL) ==
	    (a->v[CERTCMD_O_SERIAL] == NULL))
		return certcmd_usage_error(a, "give exactly one of --cert FILE and --serial HEX");
	return 0;
}

/* Parses ARGV (ARGV[0] the subcommand). Returns 0, 1 after --help, or an exit status. */
static int
certcmd_parse(struct certcmd_args *a, int argc, char **argv)
{
	struct option longopts[CERTCMD_NOPTS + 1];
	int ch;

	for (int o = 0; o < CERTCMD_NOPTS; o++)
		longopts[o] = (struct option){ certcmd_optdocs[o].name,
		    certcmd_optdocs[o].has_arg, NULL, o };
	longopts[CERTCMD_NOPTS] = (struct option){ NULL, 0, NULL, 0 };
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (ch == 'h' || ch == CERTCMD_O_HELP) {
			certcmd_help_sub(a->sub, stdout);
			return 1;
		}
		if (ch == ':')
			return certcmd_usage_error(a, "option %s needs a value", argv[optind - 1]);
		if (ch == '?')
			return certcmd_unknown_option(a, argv[optind - 1]);
		if ((a->sub->allowed & CERTCMD_BIT(ch)) == 0)
			return certcmd_usage_error(a, "option --%s does not apply to %s",
			    certcmd_optdocs[ch].name, a->sub->name);
		a->v[ch] = optarg;
		a->given |= CERTCMD_BIT(ch);
	}
	if (a->sub->run == certcmd_show && optind < argc)
		a->file = argv[optind++];
	if (optind < argc)
		return certcmd_usage_error(a, "unexpected argument \"%s\"", argv[optind]);
	if ((ch = certcmd_check_required(a)) != 0)
		return ch;
	return certcmd_check_values(a);
}

int
certcmd_main(int argc, char **argv)
{
	struct certcmd_args a;
	int rc;

	if (argc < 2) {
		certcmd_help(stderr);
		return CERTCMD_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    (strcmp(argv[1], "help") == 0 && argc == 2)) {
		certcmd_help(stdout);
		return 0;
	}
	if (strcmp(argv[1], CERTCMD_CHECK) == 0)
		return tlscheck_cmd_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "help") == 0 && strcmp(argv[2], CERTCMD_CHECK) == 0) {
		char *check_help[] = { argv[2], "--help", NULL };

		return tlscheck_cmd_main(2, check_help);
	}
	if (strcmp(argv[1], "help") == 0) {
		if (certcmd_find(argv[2]) == NULL)
			return certcmd_unknown_sub(argv[2]);
		certcmd_help_sub(certcmd_find(argv[2]), stdout);
		return 0;
	}
	memset(&a, 0, sizeof(a));
	if ((a.sub = certcmd_find(argv[1])) == NULL)
		return certcmd_unknown_sub(argv[1]);
	rc = certcmd_parse(&a, argc - 1, argv + 1);
	if (rc == 0)
		rc = a.sub->run(&a);
	else if (rc == 1)
		rc = 0;
	free(a.lists);
	return rc;
}

/* ---- files and directories ------------------------------------------------------------ */

/* --out DIR: exists as a directory, or is created (its parent must exist). */
static int
certcmd_out_dir(const char *dir, struct pki_err *err)
{
	struct stat st;

	if (mkdir(dir, 0755) == 0)
		return 0;
	if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	if (errno == EEXIST)
		return pki_fail(err, "--out %s: exists and is not a directory", dir);
	return pki_fail(err, "--out %s: cannot create the directory: %s", dir, strerror(errno));
}

/*
 * Refuses to start when an output exists and --overwrite was not given: failing before the key
 * is generated and the CA records anything leaves nothing half done.
 */
static int
certcmd_check_fresh(const struct certcmd_args *a, char paths[][PATH_MAX], size_t n,
    struct pki_err *err)
{
	if ((a->given & CERTCMD_BIT(CERTCMD_O_OVERWRITE)) != 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (access(paths[i], F_OK) == 0)
			return pki_fail(err, "%s already exists; pass --overwrite to replace it, "
			    "or choose another --out", paths[i]);
	return 0;
}

/* ---- the issuing CA ------------------------------------------------------------------- */

static void
certcmd_ca_clear(struct certcmd_ca *ca)
{
	sk_X509_pop_free(ca->certs, X509_free);
	sk_X509_pop_free(ca->upchain, X509_free);
	EVP_PKEY_free(ca->key);
	ca->certs = NULL;
	ca->upchain = NULL;
	ca->key = NULL;
	ca->cert = NULL;
}

/* The database directory: --ca-dir, else the directory holding --ca-key. */
static int
certcmd_ca_dir(const struct certcmd_args *a, struct certcmd_ca *ca, struct pki_err *err)
{
	const char *key = a->v[CERTCMD_O_CA_KEY], *slash = strrchr(key, '/');
	int n;

	if (a->v[CERTCMD_O_CA_DIR] != NULL)
		n = snprintf(ca->dir, sizeof(ca->dir), "%s", a->v[CERTCMD_O_CA_DIR]);
	else if (slash == NULL)
		n = snprintf(ca->dir, sizeof(ca->dir), ".");
	else
		n = snprintf(ca->dir, sizeof(ca->dir), "%.*s", slash == key ? 1 :
		    (int)(slash - key), key);
	if (n < 0 || (size_t)n >= sizeof(ca->dir))
		return pki_fail(err, "--ca-dir: path too long");
	return 0;
}

/*
 * The CA and its issuers: DIR/ca-chain.crt when it starts with this CA (an intermediate made
 * here), else whatever --ca-cert holds.
 */
static int
certcmd_ca_upchain(struct certcmd_ca *ca, struct pki_err *err)
{
	char path[PATH_MAX];
	STACK_OF(X509) *src = ca->certs, *file = NULL;
	struct pki_err ignored;

	if (pki_join(path, ca->dir, "ca-chain.crt", err) != 0)
		return -1;
	if (access(path, F_OK) == 0 && (file = pki_read_certs(path, &ignored)) != NULL &&
	    X509_cmp(sk_X509_value(file, 0), ca->cert) == 0)
		src = file;
	ca->upchain = X509_chain_up_ref(src);
	sk_X509_pop_free(file, X509_free);
	return ca->upchain != NULL ? 0 : pki_fail(err, "out of memory");
}

static int
certcmd_ca_load(const struct certcmd_args *a, struct certcmd_ca *ca, struct pki_err *err)
{
	const char *cert = a->v[CERTCMD_O_CA_CERT], *key = a->v[CERTCMD_O_CA_KEY];
	struct pki_err why;

	memset(ca, 0, sizeof(*ca));
	if ((ca->certs = pki_read_certs(cert, &why)) == NULL)
		return pki_fail(err, "--ca-cert: %s", why.msg);
	ca->cert = sk_X509_value(ca->certs, 0);
	if ((ca->key = pki_read_key(key, &why)) == NULL)
		return pki_fail(err, "--ca-key: %s", why.msg);
	if (X509_check_private_key(ca->cert, ca->key) != 1)
		return pki_fail(err, "--ca-key %s is not the key of --ca-cert %s; give the key "
		    "and certificate of the same CA", key, cert);
	if (X509_check_ca(ca->cert) == 0)
		return pki_fail(err, "--ca-cert %s is not a CA certificate (no CA:TRUE); give the "
		    "certificate of the CA (ca.crt)", cert);
	if (certcmd_ca_dir(a, ca, err) != 0)
		return -1;
	return certcmd_ca_upchain(ca, err);
}

/* ---- issuing -------------------------------------------------------------------------- */

/* What every issued certificate takes from the command line. */
static void
certcmd_spec(const struct certcmd_args *a, enum pki_profile profile, struct certcmd_ca *ca,
    struct pki_cert_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->profile = profile;
	spec->cn = a->v[CERTCMD_O_CN] != NULL ? a->v[CERTCMD_O_CN] : a->sub->cn;
	spec->org = a->v[CERTCMD_O_ORG];
	spec->days = a->days;
	spec->now = time(NULL);
	spec->issuer = ca != NULL ? ca->cert : NULL;
	spec->issuer_key = ca != NULL ? ca->key : NULL;
	spec->crl_url = a->v[CERTCMD_O_CRL_URL];
	spec->ocsp_url = a->v[CERTCMD_O_OCSP_URL];
	spec->dns = a->dns;
	spec->ndns = a->ndns;
	spec->ips = a->ips;
	spec->nips = a->nips;
}

/*
 * Generates the key, issues the certificate and records it with the CA before any file is
 * written: a certificate the CA does not know of could never be revoked.
 * The caller owns *KEY and the result.
 */
static X509 *
certcmd_issue(const struct certcmd_args *a, struct pki_cert_spec *spec, struct certcmd_ca *ca,
    EVP_PKEY **key, struct pki_err *err)
{
	X509 *cert;

	if ((*key = pki_key_new(a->key_type, err)) == NULL)
		return NULL;
	spec->key = *key;
	if ((cert = pki_cert_new(spec, err)) == NULL)
		return NULL;
	if (ca != NULL && cadb_record(ca->dir, cert, err) != 0) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

/* CERT followed by the CA's chain: without self-signed roots when SENT (what a peer sends). */
static int
certcmd_write_chain(const char *path, X509 *cert, const struct certcmd_ca *ca, bool sent,
    bool overwrite, struct pki_err *err)
{
	X509 *certs[16];
	size_t n = 0;
	X509 *c;

	certs[n++] = cert;
	for (int i = 0; ca != NULL && i < sk_X509_num(ca->upchain) && n < 16; i++) {
		c = sk_X509_value(ca->upchain, i);
		if (!sent || !pki_self_signed(c))
			certs[n++] = c;
	}
	return pki_write_certs(path, certs, n, overwrite, err);
}

/* Writes KEY and CERT (+ chain) and says what was made. */
static int
certcmd_write_pair(const struct certcmd_args *a, const char *cert_path, const char *key_path,
    X509 *cert, EVP_PKEY *key, const struct certcmd_ca *ca, struct pki_err *err)
{
	bool overwrite = (a->given & CERTCMD_BIT(CERTCMD_O_OVERWRITE)) != 0;
	char *serial;

	if (pki_write_key(key_path, key, overwrite, err) != 0 ||
	    certcmd_write_chain(cert_path, cert, ca, true, overwrite, err) != 0)
		return -1;
	serial = pki_serial_hex(cert);
	printf("wrote %s (serial %s, %s, %d days) and %s\n", cert_path,
	    serial != NULL ? serial : "?", pki_key_type_name(a->key_type), a->days, key_path);
	OPENSSL_free(serial);
	return 0;
}

/* ---- creating ------------------------------------------------------------------------- */

/* What the create-* subcommands hold while they run. */
struct certcmd_job {
	struct certcmd_ca	 ca;		/* the issuer (unused for a root) */
	EVP_PKEY		*key;
	X509			*cert;
	struct pki_err		 err;
	char			 paths[4][PATH_MAX];	/* certificate, key, then others */
};

/*
 * Loads the issuer when WITH_CA, names the outputs DIR/NAMES[i], makes DIR and checks that
 * no output exists (unless --overwrite).
 */
static int
certcmd_job_prepare(const struct certcmd_args *a, struct certcmd_job *job,
    const char *const *names, size_t n, bool with_ca)
{
	const char *dir = a->v[CERTCMD_O_OUT];

	for (size_t i = 0; i < n; i++)
		if (pki_join(job->paths[i], dir, names[i], &job->err) != 0)
			return -1;
	if (with_ca && certcmd_ca_load(a, &job->ca, &job->err) != 0)
		return -1;
	if (certcmd_out_dir(dir, &job->err) != 0)
		return -1;
	return certcmd_check_fresh(a, job->paths, n, &job->err);
}

/* Issues the PROFILE certificate and writes it (followed by CHAIN's intermediates) and its key. */
static int
certcmd_job_issue(const struct certcmd_args *a, struct certcmd_job *job,
    enum pki_profile profile, bool with_ca, const struct certcmd_ca *chain)
{
	struct pki_cert_spec spec;

	certcmd_spec(a, profile, with_ca ? &job->ca : NULL, &spec);
	if ((job->cert = certcmd_issue(a, &spec, with_ca ? &job->ca : NULL, &job->key,
	    &job->err)) == NULL)
		return -1;
	return certcmd_write_pair(a, job->paths[0], job->paths[1], job->cert, job->key, chain,
	    &job->err);
}

/* Frees what JOB holds; returns 0 when OK, else reports JOB's failure and returns 1. */
static int
certcmd_job_end(const struct certcmd_args *a, struct certcmd_job *job, bool ok)
{
	X509_free(job->cert);
	EVP_PKEY_free(job->key);
	certcmd_ca_clear(&job->ca);
	job->cert = NULL;
	job->key = NULL;
	return ok ? 0 : certcmd_failed(a, &job->err);
}

static int
certcmd_create_ca(struct certcmd_args *a)
{
	static const char *const names[] = { "ca.crt", "ca.key", CADB_INDEX };
	struct certcmd_job job = { 0 };
	bool ok;

	ok = certcmd_job_prepare(a, &job, names, 3, false) == 0 &&
	    certcmd_job_issue(a, &job, PKI_PROFILE_ROOT_CA, false, NULL) == 0 &&
	    cadb_init(a->v[CERTCMD_O_OUT], (a->given & CERTCMD_BIT(CERTCMD_O_OVERWRITE)) != 0,
	    &job.err) == 0;
	return certcmd_job_end(a, &job, ok);
}

/* Refuses --out naming the issuing CA's own directory: its ca.crt and ca.key would go. */
static int
certcmd_check_not_issuer(const char *out, const struct certcmd_ca *ca, struct pki_err *err)
{
	struct stat so, sc;

	if (stat(out, &so) == 0 && stat(ca->dir, &sc) == 0 && so.st_dev == sc.st_dev &&
	    so.st_ino == sc.st_ino)
		return pki_fail(err, "--out %s is the issuing CA's directory; give the "
		    "intermediate a directory of its own", out);
	return 0;
}

static int
certcmd_create_intermediate(struct certcmd_args *a)
{
	static const char *const names[] = { "ca.crt", "ca.key", "ca-chain.crt", CADB_INDEX };
	const char *dir = a->v[CERTCMD_O_OUT];
	bool overwrite = (a->given & CERTCMD_BIT(CERTCMD_O_OVERWRITE)) != 0;
	struct certcmd_job job = { 0 };
	bool ok;

	ok = certcmd_job_prepare(a, &job, names, 4, true) == 0 &&
	    certcmd_check_not_issuer(dir, &job.ca, &job.err) == 0 &&
	    certcmd_job_issue(a, &job, PKI_PROFILE_INTERMEDIATE_CA, true, NULL) == 0 &&
	    certcmd_write_chain(job.paths[2], job.cert, &job.ca, false, overwrite,
	    &job.err) == 0 && cadb_init(dir, overwrite, &job.err) == 0;
	if (ok)
		printf("wrote %s (the intermediate and its issuers)\n", job.paths[2]);
	return certcmd_job_end(a, &job, ok);
}

/* create-node and create-client: a leaf in DIR/STEM.crt and DIR/STEM.key. */
static int
certcmd_create_leaf(struct certcmd_args *a, enum pki_profile profile, const char *stem)
{
	char crt[NAME_MAX + 1], key[NAME_MAX + 1];
	const char *const names[] = { crt, key };
	struct certcmd_job job = { 0 };
	bool ok;

	if (snprintf(key, sizeof(key), "%s.key", stem) >= (int)sizeof(key))
		return certcmd_usage_error(a, "--cn: too long for a file name");
	snprintf(crt, sizeof(crt), "%s.crt", stem);
	ok = certcmd_job_prepare(a, &job, names, 2, true) == 0 &&
	    certcmd_job_issue(a, &job, profile, true, &job.ca) == 0;
	return certcmd_job_end(a, &job, ok);
}

static int
certcmd_create_node(struct certcmd_args *a)
{
	static const char *const dns[] = { "localhost" };
	static const char *const ips[] = { "127.0.0.1", "::1" };

	/* A server certificate without names matches nothing; these work out of the box. */
	if (a->ndns == 0 && a->nips == 0) {
		a->dns[a->ndns++] = dns[0];
		a->ips[a->nips++] = ips[0];
		a->ips[a->nips++] = ips[1];
	}
	return certcmd_create_leaf(a, PKI_PROFILE_NODE, "node");
}

static int
certcmd_create_client(struct certcmd_args *a)
{
	const char *cn = a->v[CERTCMD_O_CN];
	char stem[NAME_MAX + 1];

	/* The name becomes part of a file name: no directories, no hidden or special names. */
	if (*cn == '\0' || *cn == '.' || strchr(cn, '/') != NULL)
		return certcmd_usage_error(a, "--cn: \"%s\" cannot name the files client.NAME.crt "
		    "and client.NAME.key (no '/', no leading '.')", cn);
	for (const char *p = cn; *p != '\0'; p++)
		if ((unsigned char)*p < ' ')
			return certcmd_usage_error(a, "--cn: control characters are not allowed");
	snprintf(stem, sizeof(stem), "client.%s", cn);
	return certcmd_create_leaf(a, PKI_PROFILE_CLIENT, stem);
}

/* ---- revoking and publishing ---------------------------------------------------------- */

/* --serial, or the serial of --cert after checking that this CA issued it. */
static char *
certcmd_revoke_serial(const struct certcmd_args *a, const struct certcmd_ca *ca,
    struct pki_err *err)
{
	const char *path = a->v[CERTCMD_O_CERT];
	STACK_OF(X509) *certs;
	struct pki_err why;
	char *serial = NULL;

	if (path == NULL) {
		if ((serial = OPENSSL_strdup(a->v[CERTCMD_O_SERIAL])) == NULL)
			pki_fail(err, "out of memory");
		return serial;
	}
	if ((certs = pki_read_certs(path, &why)) == NULL) {
		pki_fail(err, "--cert: %s", why.msg);
		return NULL;
	}
	if (X509_check_issued(ca->cert, sk_X509_value(certs, 0)) != X509_V_OK)
		pki_fail(err, "--cert %s was not issued by --ca-cert %s; give the CA that "
		    "signed it", path, a->v[CERTCMD_O_CA_CERT]);
	else if ((serial = pki_serial_hex(sk_X509_value(certs, 0))) == NULL)
		pki_fail(err, "out of memory");
	sk_X509_pop_free(certs, X509_free);
	return serial;
}

static int
certcmd_revoke(struct certcmd_args *a)
{
	struct certcmd_ca ca = { 0 };
	struct pki_err err;
	char *serial = NULL;
	bool already = false;
	int rc = CERTCMD_EXIT_FAIL;

	if (certcmd_ca_load(a, &ca, &err) != 0 ||
	    (serial = certcmd_revoke_serial(a, &ca, &err)) == NULL)
		goto out;
	if (cadb_revoke(ca.dir, serial, a->reason, time(NULL), &already, &err) != 0) {
		if (already) {
			/* The wanted end state holds: say so, and let scripts carry on. */
			fprintf(stderr, "revgate cert revoke: %s; nothing changed\n", err.msg);
			rc = 0;
		}
		goto out;
	}
	printf("revoked serial %s (%s) in %s/%s; run revgate cert gen-crl to publish a CRL\n",
	    serial, a->reason >= 0 ? cadb_reason_name(a->reason) : "no reason", ca.dir,
	    CADB_INDEX);
	rc = 0;
out:
	OPENSSL_free(serial);
	certcmd_ca_clear(&ca);
	return rc == 0 || already ? rc : certcmd_failed(a, &err);
}

/* The CRL as PEM or DER in a new buffer of *LEN bytes; the caller frees it. */
static unsigned char *
certcmd_crl_encode(X509_CRL *crl, bool der, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	unsigned char *copy = NULL;
	char *data;
	long n;

	if (bio == NULL || (der ? i2d_X509_CRL_bio(bio, crl) : PEM_write_bio_X509_CRL(bio,
	    crl)) != 1)
		goto out;
	n = BIO_get_mem_data(bio, &data);
	if ((copy = malloc((size_t)n)) != NULL) {
		memcpy(copy, data, (size_t)n);
		*len = (size_t)n;
	}
out:
	BIO_free(bio);
	return copy;
}

static int
certcmd_gen_crl(struct certcmd_args *a)
{
	const char *out = a->v[CERTCMD_O_OUT];
	struct certcmd_ca ca = { 0 };
	struct pki_err err;
	X509_CRL *crl = NULL;
	unsigned char *data = NULL;
	ASN1_INTEGER *number = NULL;
	char *hex = NULL;
	size_t len = 0;
	int rc = CERTCMD_EXIT_FAIL;

	if (certcmd_ca_load(a, &ca, &err) != 0 ||
	    (crl = cadb_crl_new(ca.dir, ca.cert, ca.key, a->days, time(NULL), &err)) == NULL)
		goto out;
	if ((data = certcmd_crl_encode(crl, (a->given & CERTCMD_BIT(CERTCMD_O_DER)) != 0,
	    &len)) == NULL) {
		pki_fail(&err, "cannot encode the CRL");
		goto out;
	}
	/* A CRL is republished in place, so it is always replaced (atomically). */
	if (pki_write_file(out, data, len, 0644, true, &err) != 0)
		goto out;
	number = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	hex = number != NULL ? pki_integer_hex(number) : NULL;
	printf("wrote %s: CRL number %s, %d revoked, next update in %d days\n", out,
	    hex != NULL ? hex : "?", X509_CRL_get_REVOKED(crl) != NULL ?
	    sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)) : 0, a->days);
	rc = 0;
out:
	OPENSSL_free(hex);
	ASN1_INTEGER_free(number);
	free(data);
	X509_CRL_free(crl);
	certcmd_ca_clear(&ca);
	return rc == 0 ? 0 : certcmd_failed(a, &err);
}

static int
certcmd_show(struct certcmd_args *a)
{
	struct pki_err err;

	if (certshow_file(a->file, stdout, &err) != 0)
		return certcmd_failed(a, &err);
	return 0;
}
