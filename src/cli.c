#include "config.h"
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <yaml.h>

#include "certcmd.h"
#include "conf.h"
#include "devcert.h"
#include "server.h"
#include "suggest.h"
#include "tlscheck.h"

#define CLI_EXIT_USAGE 2
#define CLI_DEFAULT_CONFIG REVGATE_SYSCONFDIR "/revgate/revgate.yaml"

/* What serve and check-config share: where the configuration comes from. */
struct cli_conf_args {
	const char		*path;		/* -c; NULL: the default path, if it exists */
	bool			 path_given;
	bool			 test;		/* -t / check-config */
	bool			 print;		/* --print-config */
	bool			 syntax_only;	/* --syntax-only: no TLS file checks */
	struct conf_overrides	 sets;		/* --set, strings borrowed from argv */
};

struct cli_command {
	const char	*name;
	int		(*run)(int argc, char **argv, char **envp);
	const char	*summary;
	void		(*help)(FILE *out);
};

static int cli_serve(int argc, char **argv, char **envp);
static int cli_check_config(int argc, char **argv, char **envp);
static int cli_version(int argc, char **argv, char **envp);
static int cli_help(int argc, char **argv, char **envp);
static int cli_cert(int argc, char **argv, char **envp);
static void cli_help_serve(FILE *out);
static void cli_help_check_config(FILE *out);
static void cli_help_version(FILE *out);
static void cli_help_help(FILE *out);

static const struct cli_command cli_commands[] = {
	{ "serve", cli_serve, "run the proxy in the foreground (the default command)",
	    cli_help_serve },
	{ "check-config", cli_check_config, "validate the configuration and exit (also -t)",
	    cli_help_check_config },
	{ "cert", cli_cert, "create CAs, node and client certificates, CRLs; show and check them",
	    certcmd_help },
	{ "version", cli_version, "print the versions of revgate and its libraries",
	    cli_help_version },
	{ "help", cli_help, "show help for a command", cli_help_help },
};

#define CLI_NCOMMANDS (sizeof(cli_commands) / sizeof(cli_commands[0]))

static void
cli_usage(FILE *out)
{
	fprintf(out,
	    "Usage: revgate [COMMAND] [OPTIONS]\n"
	    "\n"
	    "An HTTPS reverse proxy that authenticates clients with mutual TLS and forwards\n"
	    "their requests to plain-HTTP backends.\n"
	    "\n"
	    "Commands:\n");
	for (size_t i = 0; i < CLI_NCOMMANDS; i++)
		fprintf(out, "  %-14s %s\n", cli_commands[i].name, cli_commands[i].summary);
	fprintf(out,
	    "\n"
	    "Common options (serve, check-config):\n"
	    "  -c, --config FILE     configuration file (default: %s)\n"
	    "  -s, --set KEY=VALUE   override a setting; repeatable; beats REVGATE_* variables\n"
	    "  -t, --test            validate the configuration and exit, like check-config\n"
	    "      --print-config    print the effective configuration and exit\n"
	    "  -h, --help            show help\n"
	    "  -V, --version         print versions and exit\n"
	    "\n"
	    "Every setting can also come from the environment: http.securePort is\n"
	    "REVGATE_HTTP_SECUREPORT. Precedence: --set, then environment, then file, then default.\n"
	    "See revgate(8) and revgate.yaml(5).\n", CLI_DEFAULT_CONFIG);
}

static void
cli_help_conf_options(FILE *out)
{
	fprintf(out,
	    "Options:\n"
	    "  -c, --config FILE     configuration file (default: %s;\n"
	    "                        without -c, a missing default file means built-in defaults)\n"
	    "  -s, --set KEY=VALUE   override a setting, e.g. --set http.securePort=9443;\n"
	    "                        repeatable; list values are comma-separated\n"
	    "      --print-config    print the effective configuration (after every override)\n"
	    "                        as YAML, each value annotated with its origin, and exit\n"
	    "      --syntax-only     with -t: check the settings only, not the certificate\n"
	    "                        files they name (for a file meant for another machine)\n"
	    "  -h, --help            show this help\n", CLI_DEFAULT_CONFIG);
}

static void
cli_help_serve(FILE *out)
{
	fprintf(out,
	    "Usage: revgate [serve] [-c FILE] [--set KEY=VALUE]... [-t] [--print-config]\n"
	    "\n"
	    "Runs revgate in the foreground, logging to stderr (or log.file).\n"
	    "Signals: SIGTERM/SIGINT stop; SIGHUP reloads the configuration (an invalid one is\n"
	    "rejected and the running one kept); SIGUSR1 reopens the log file and the access log.\n"
	    "\n");
	cli_help_conf_options(out);
	fprintf(out, "  -t, --test            validate the configuration and exit\n");
}

static void
cli_help_check_config(FILE *out)
{
	fprintf(out,
	    "Usage: revgate check-config [-c FILE] [--set KEY=VALUE]... [--print-config]\n"
	    "       revgate -t [-c FILE]\n"
	    "\n"
	    "Validates the configuration file, REVGATE_* variables and --set overrides, prints\n"
	    "every problem as FILE:LINE:COLUMN: KEY: message, then checks the certificate, key\n"
	    "and CA files as start-up would (unless --syntax-only), and exits 0 if all is valid,\n"
	    "1 if not.\n"
	    "\n");
	cli_help_conf_options(out);
}

static void
cli_help_version(FILE *out)
{
	fprintf(out, "Usage: revgate version\n\n"
	    "Prints the version of revgate and of the OpenSSL, libevent, libcurl and libyaml\n"
	    "libraries it runs with.\n");
}

static void
cli_help_help(FILE *out)
{
	fprintf(out, "Usage: revgate help [COMMAND]\n\nShows help for COMMAND, or the overview.\n");
}

static const struct cli_command *
cli_find_command(const char *name)
{
	for (size_t i = 0; i < CLI_NCOMMANDS; i++)
		if (strcmp(cli_commands[i].name, name) == 0)
			return &cli_commands[i];
	return NULL;
}

static int
cli_unknown_command(const char *name)
{
	const char *names[CLI_NCOMMANDS];
	const char *near;

	for (size_t i = 0; i < CLI_NCOMMANDS; i++)
		names[i] = cli_commands[i].name;
	near = suggest_closest(name, names, CLI_NCOMMANDS);
	fprintf(stderr, "revgate: unknown command \"%s\"%s%s%s; see revgate --help\n", name,
	    near != NULL ? " (did you mean " : "", near != NULL ? near : "",
	    near != NULL ? "?)" : "");
	return CLI_EXIT_USAGE;
}

/*
 * The option getopt just refused: "-x" for an unknown short one (optopt names it; the word it
 * sits in may be a group like "-xt"), else the word itself ("--bogus").
 */
static const char *
cli_option_name(char **argv, int opt, char *buf, size_t size)
{
	if (opt != 0) {
		snprintf(buf, size, "-%c", opt);
		return buf;
	}
	return argv[optind - 1];
}

/* Parses the options of serve/check-config. Returns 0, 1 after --help, or -1 on misuse. */
static int
cli_parse_conf_args(int argc, char **argv, struct cli_conf_args *args,
    void (*help)(FILE *))
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 's' },
		{ "test", no_argument, NULL, 't' },
		{ "print-config", no_argument, NULL, 'P' },
		{ "syntax-only", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	char name[8];
	int ch;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:s:thV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			args->path = optarg;
			args->path_given = true;
			break;
		case 's':
			/* argc bounds the count, so the array sized from it cannot overflow. */
			args->sets.v[args->sets.n++] = optarg;
			break;
		case 't':
			args->test = true;
			break;
		case 'P':
			args->print = true;
			break;
		case 'S':
			args->syntax_only = true;
			break;
		case 'h':
			help(stdout);
			return 1;
		case 'V':
			cli_version(0, NULL, NULL);
			return 1;
		case ':':
			/* A missing value can only be at the end: the option is the last word. */
			fprintf(stderr, "revgate: option %s needs a value; see revgate --help\n",
			    argv[optind - 1]);
			return -1;
		default:
			fprintf(stderr, "revgate: unknown option \"%s\"; see revgate --help\n",
			    cli_option_name(argv, optopt, name, sizeof(name)));
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "revgate: unexpected argument \"%s\"; see revgate --help\n",
		    argv[optind]);
		return -1;
	}
	if (!args->path_given)
		args->path = access(CLI_DEFAULT_CONFIG, F_OK) == 0 ? CLI_DEFAULT_CONFIG : NULL;
	return 0;
}

/* Prints diagnostics the way a compiler does: one line each, warnings marked. */
static void
cli_print_diag(const struct conf_diag *diag)
{
	for (size_t i = 0; i < diag->errors.n; i++)
		fprintf(stderr, "%s\n", diag->errors.v[i]);
	for (size_t i = 0; i < diag->warnings.n; i++)
		fprintf(stderr, "warning: %s\n", diag->warnings.v[i]);
}

/* Loads and reports; returns the configuration or NULL. */
static struct conf *
cli_load(const struct cli_conf_args *args, char **envp)
{
	struct conf_diag diag = { { 0, NULL }, { 0, NULL } };
	struct conf *cfg = conf_load(args->path, envp, &args->sets, &diag);

	cli_print_diag(&diag);
	if (cfg == NULL)
		fprintf(stderr, "revgate: configuration %s has %zu error(s)\n",
		    args->path != NULL ? args->path : "(defaults)", diag.errors.n);
	conf_diag_clear(&diag);
	return cfg;
}

/*
 * check-config goes as far as serve would before listening: the certificate files are checked
 * as at start-up, failures printed like configuration errors and warnings marked.
 */
static int
cli_check_tls(const struct conf *cfg, const char *path)
{
	struct tlscheck_report *r = tlscheck_run_conf(cfg, time(NULL));
	size_t failed;

	if (r == NULL) {
		fprintf(stderr, "revgate: out of memory checking the TLS files\n");
		return 1;
	}
	for (size_t i = 0; i < tlscheck_report_count(r); i++) {
		const struct tlscheck_result *res = tlscheck_report_get(r, i);

		if (res->status == TLSCHECK_FAIL)
			fprintf(stderr, "%s\n", res->message);
		else if (res->status == TLSCHECK_WARN)
			fprintf(stderr, "warning: %s\n", res->message);
	}
	failed = tlscheck_report_tally(r, TLSCHECK_FAIL);
	if (failed > 0)
		fprintf(stderr, "revgate: configuration %s has %zu TLS error(s)\n",
		    path != NULL ? path : "(defaults)", failed);
	tlscheck_report_free(r);
	return failed > 0 ? 1 : 0;
}

/*
 * check-config writes nothing: where serve would generate development certificates it says so
 * and skips the checks of files that do not exist yet; an incomplete set is an error, as at
 * start-up.
 */
static int
cli_check_tls_or_devcert(const struct conf *cfg, const char *path)
{
	char msg[2048];

	switch (devcert_inspect(cfg, msg, sizeof(msg))) {
	case DEVCERT_CONFIGURED:
	case DEVCERT_PRESENT:
		return cli_check_tls(cfg, path);
	case DEVCERT_PARTIAL:
		fprintf(stderr, "%s\nrevgate: configuration %s has 1 TLS error(s)\n", msg,
		    path != NULL ? path : "(defaults)");
		return 1;
	case DEVCERT_ABSENT:
		fprintf(stderr, "notice: tls.certificate %s and tls.privateKey %s do not exist: "
		    "revgate serve will generate development certificates (not for production) in "
		    "%s/keys at start\n", cfg->tls.certificate, cfg->tls.private_key,
		    cfg->root_path);
		return 0;
	}
	return 1;
}

/* The shared body of serve and check-config. */
static int
cli_run_conf_command(int argc, char **argv, char **envp, bool test, void (*help)(FILE *))
{
	struct cli_conf_args args = { .test = test };
	struct server_options opts;
	struct conf *cfg;
	int rc;

	if ((args.sets.v = calloc((size_t)argc + 1, sizeof(char *))) == NULL)
		return 1;
	if ((rc = cli_parse_conf_args(argc, argv, &args, help)) != 0) {
		free(args.sets.v);
		return rc == 1 ? 0 : CLI_EXIT_USAGE;
	}
	if ((cfg = cli_load(&args, envp)) == NULL) {
		free(args.sets.v);
		return 1;
	}
	if (args.print || args.test) {
		if (args.print)
			conf_print(cfg, stdout);
		rc = args.test && !args.syntax_only ? cli_check_tls_or_devcert(cfg, args.path) : 0;
		if (args.test && rc == 0)
			fprintf(stderr, "revgate: configuration %s is valid\n",
			    args.path != NULL ? args.path : "(defaults)");
		conf_free(cfg);
		free(args.sets.v);
		return rc;
	}
	opts.config_path = args.path;
	opts.sets = &args.sets;
	opts.envp = envp;
	rc = server_run(&opts, cfg);	/* takes cfg */
	free(args.sets.v);
	return rc;
}

static int
cli_serve(int argc, char **argv, char **envp)
{
	return cli_run_conf_command(argc, argv, envp, false, cli_help_serve);
}

static int
cli_check_config(int argc, char **argv, char **envp)
{
	return cli_run_conf_command(argc, argv, envp, true, cli_help_check_config);
}

static int
cli_version(int argc, char **argv, char **envp)
{
	const curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);

	if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		cli_help_version(stdout);
		return 0;
	}
	printf("revgate %s\n", PACKAGE_VERSION);
	printf("OpenSSL %s\n", OpenSSL_version(OPENSSL_VERSION_STRING));
	printf("libevent %s\n", event_get_version());
	printf("libcurl %s\n", curl->version);
	printf("libyaml %s\n", yaml_get_version_string());
	return 0;
}

static int
cli_cert(int argc, char **argv, char **envp)
{
	return certcmd_main(argc, argv);
}

static int
cli_help(int argc, char **argv, char **envp)
{
	const struct cli_command *cmd;

	if (argc < 2) {
		cli_usage(stdout);
		return 0;
	}
	if ((cmd = cli_find_command(argv[1])) == NULL)
		return cli_unknown_command(argv[1]);
	cmd->help(stdout);
	return 0;
}

int
cli_main(int argc, char **argv, char **envp)
{
	const struct cli_command *cmd;

	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
			cli_usage(stdout);
			return 0;
		}
		/* No command: options go to serve, as "nginx -t -c FILE" users expect. */
		return cli_serve(argc, argv, envp);
	}
	if ((cmd = cli_find_command(argv[1])) == NULL)
		return cli_unknown_command(argv[1]);
	return cmd->run(argc - 1, argv + 1, envp);
}
