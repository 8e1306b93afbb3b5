#include "config.h"
#include "conf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf_schema.h"
#include "suggest.h"
#include "units.h"
#include "ytree.h"

#define CONF_MSG_MAX	 1024
#define CONF_VALUE_MAX	 4096	/* longest scalar accepted */
#define CONF_LIST_MAX	 64	/* most items in a list value */

/* The state of one load. */
struct conf_loader {
	struct conf		*cfg;
	struct conf_diag	*diag;
	struct ytree		*tree;
	char			*base_dir;	/* owned; directory of the file, or NULL */
	bool			 failed;	/* an error was reported (even if not stored) */
};

static void *
conf_field(const struct conf_loader *ld, const struct conf_key *k)
{
	return (char *)ld->cfg + k->offset;
}

static void
conf_list_clear(struct conf_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Appends S (taking ownership; freed on failure). */
static int
conf_list_push(struct conf_list *l, char *s)
{
	char **grown;

	if (s == NULL)
		return -1;
	if ((grown = realloc(l->v, (l->n + 1) * sizeof(*grown))) == NULL) {
		free(s);
		return -1;
	}
	l->v = grown;
	l->v[l->n++] = s;
	return 0;
}

static void
conf_addrs_clear(struct conf_addrs *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->v[i].text);
		free(a->v[i].host);
	}
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

void
conf_diag_clear(struct conf_diag *diag)
{
	conf_list_clear(&diag->errors);
	conf_list_clear(&diag->warnings);
}

static void
conf_report(struct conf_loader *ld, bool warning, const struct ytree_mark *mark,
    const char *path, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Records "MARK: PATH: message" as an error or a warning. */
static void
conf_report(struct conf_loader *ld, bool warning, const struct ytree_mark *mark,
    const char *path, const char *fmt, ...)
{
	char where[512], msg[CONF_MSG_MAX], *line;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ytree_mark_format(mark, where, sizeof(where));
	if (asprintf(&line, "%s: %s%s%s", where, path != NULL ? path : "",
	    path != NULL ? ": " : "", msg) == -1)
		line = NULL;
	if (!warning)
		ld->failed = true;
	conf_list_push(warning ? &ld->diag->warnings : &ld->diag->errors, line);
}

#define conf_error(ld, mark, path, ...) conf_report(ld, false, mark, path, __VA_ARGS__)
#define conf_warn(ld, mark, path, ...)  conf_report(ld, true, mark, path, __VA_ARGS__)

static const char *
conf_kind_name(const struct ytree_node *node)
{
	switch (node->kind) {
	case YTREE_SCALAR:
		return "a single value";
	case YTREE_MAPPING:
		return "a mapping";
	case YTREE_SEQUENCE:
		return "a list";
	}
	return "?";
}

/* Remembers where K's value came from, for --print-config and for messages. */
static void
conf_set_origin(struct conf_loader *ld, const struct conf_key *k, const struct ytree_mark *m)
{
	char where[512];
	size_t i = conf_schema_index(k);

	free(ld->cfg->origins[i]);
	ld->cfg->origins[i] = strdup(ytree_mark_format(m, where, sizeof(where)));
}

/* Returns NODE's text if it is a scalar of sane length, else reports and returns NULL. */
static const char *
conf_scalar(struct conf_loader *ld, const struct conf_key *k, const struct ytree_node *node)
{
	if (node->kind != YTREE_SCALAR) {
		conf_error(ld, &node->mark, k->path, "expected a single value, got %s",
		    conf_kind_name(node));
		return NULL;
	}
	if (strlen(node->value) > CONF_VALUE_MAX) {
		conf_error(ld, &node->mark, k->path, "value is longer than %d bytes",
		    CONF_VALUE_MAX);
		return NULL;
	}
	return node->value;
}

static int
conf_parse_bool(const char *text, bool *out)
{
	if (strcmp(text, "true") == 0)
		*out = true;
	else if (strcmp(text, "false") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

static int
conf_set_bool(struct conf_loader *ld, const struct conf_key *k, const struct ytree_node *node)
{
	const char *text = conf_scalar(ld, k, node);

	if (text == NULL)
		return -1;
	if (conf_parse_bool(text, conf_field(ld, k)) == -1) {
		conf_error(ld, &node->mark, k->path, "expected true or false, got \"%s\"", text);
		return -1;
	}
	return 0;
}

static int
conf_set_int(struct conf_loader *ld, const struct conf_key *k, const struct ytree_node *node)
{
	const char *text = conf_scalar(ld, k, node);
	int64_t v;

	if (text == NULL)
		return -1;
	if (units_parse_int(text, &v) == -1 || v < k->min || v > k->max) {
		conf_error(ld, &node->mark, k->path,
		    "expected an integer from %" PRId64 " to %" PRId64 ", got \"%s\"", k->min,
		    k->max, text);
		return -1;
	}
	*(int64_t *)conf_field(ld, k) = v;
	return 0;
}

static int
conf_set_threads(struct conf_loader *ld, const struct conf_key *k,
    const struct ytree_node *node)
{
	const char *text = conf_scalar(ld, k, node);
	int64_t v;

	if (text == NULL)
		return -1;
	if (strcmp(text, "auto") == 0) {
		*(int64_t *)conf_field(ld, k) = 0;
		return 0;
	}
	if (units_parse_int(text, &v) == -1 || v < k->min || v > k->max) {
		conf_error(ld, &node->mark, k->path,
		    "expected auto or an integer from %" PRId64 " to %" PRId64 ", got \"%s\"",
		    k->min, k->max, text);
		return -1;
	}
	*(int64_t *)conf_field(ld, k) = v;
	return 0;
}

static int
conf_set_duration(struct conf_loader *ld, const struct conf_key *k,
    const struct ytree_node *node)
{
	const char *text = conf_scalar(ld, k, node);
	char lo[32], hi[32];
	int64_t ms;

	if (text == NULL)
		return -1;
	if (units_parse_duration_ms(text, &ms) == -1) {
		conf_error(ld, &node->mark, k->path,
		    "expected milliseconds or a duration such as 15s or 12h, got \"%s\"", text);
		return -1;
	}
	if (ms < k->min || ms > k->max) {
		units_format_duration(k->min, lo, sizeof(lo));
		units_format_duration(k->max, hi, sizeof(hi));
		conf_error(ld, &node->mark, k->path,
		    "expected a duration from %s to %s, got \"%s\"", lo, hi, text);
		return -1;
	}
	*(int64_t *)conf_field(ld, k) = ms;
	return 0;
}

static int
conf_set_size(struct conf_loader *ld, const struct conf_key *k, const struct ytree_node *node)
{
	const char *text = conf_scalar(ld, k, node);
	char lo[32], hi[32];
	uint64_t bytes;

	if (text == NULL)
		return -1;
	if (units_parse_size(text, &bytes) == -1) {
		conf_error(ld, &node->mark, k->path,
		    "expected bytes or a size such as 64KiB or 1GiB, got \"%s\"", text);
		return -1;
	}
	if (bytes < (uint64_t)k->min || bytes > (uint64_t)k->max) {
		units_format_size((uint64_t)k->min, lo, sizeof(lo));
		units_format_size((uint64_t)k->max, hi, sizeof(hi));
		conf_error(ld, &node->mark, k->path, "expected a size from %s to %s, got \"%s\"",
		    lo, hi, text);
		return -1;
	}
	*(uint64_t *)conf_field(ld, k) = bytes;
	return 0;
}

static int
conf_set_enum(struct conf_loader *ld, const struct conf_key *k, const struct ytree_node *node)
{
	const char *text = conf_scalar(ld, k, node);
	char allowed[256] = "";
	const char *near;
	size_t n = 0;

	if (text == NULL)
		return -1;
	for (; k->choices[n] != NULL; n++) {
		if (strcmp(text, k->choices[n]) == 0) {
			*(int *)conf_field(ld, k) = (int)n;
			return 0;
		}
		if (n > 0)
			strncat(allowed, ", ", sizeof(allowed) - strlen(allowed) - 1);
		strncat(allowed, k->choices[n], sizeof(allowed) - strlen(allowed) - 1);
	}
	near = suggest_closest(text, k->choices, n);
	conf_error(ld, &node->mark, k->path, "expected one of %s, got \"%s\"%s%s%s", allowed,
	    text, near != NULL ? "; did you mean " : "", near != NULL ? near : "",
	    near != NULL ? "?" : "");
	return -1;
}

static int
conf_set_string(struct conf_loader *ld, const struct conf_key *k,
    const struct ytree_node *node)
{
	const char *text = conf_scalar(ld, k, node);
	char **field = conf_field(ld, k);

	if (text == NULL)
		return -1;
	free(*field);
	*field = strdup(text);
	return 0;
}

static int
conf_set_url(struct conf_loader *ld, const struct conf_key *k, const struct ytree_node *node)
{
	const char *text = conf_scalar(ld, k, node);

	if (text == NULL)
		return -1;
	if (strncasecmp(text, "http://", 7) != 0 && strncasecmp(text, "https://", 8) != 0) {
		conf_error(ld, &node->mark, k->path,
		    "expected an http:// or https:// URL, got \"%s\"", text);
		return -1;
	}
	for (const char *p = text; *p != '\0'; p++) {
		if (!isgraph((unsigned char)*p)) {
			conf_error(ld, &node->mark, k->path,
			    "a URL cannot contain spaces or control characters, got \"%s\"", text);
			return -1;
		}
	}
	return conf_set_string(ld, k, node);
}

/* An HTTP header name (RFC 9110 token), at most 64 bytes. */
static int
conf_set_header(struct conf_loader *ld, const struct conf_key *k,
    const struct ytree_node *node)
{
	const char *text = conf_scalar(ld, k, node);
	size_t len;

	if (text == NULL)
		return -1;
	len = strlen(text);
	if (len == 0 || len > 64 || strspn(text, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~") != len) {
		conf_error(ld, &node->mark, k->path,
		    "expected an HTTP header name (letters, digits, '-', at most 64), got \"%s\"",
		    text);
		return -1;
	}
	return conf_set_string(ld, k, node);
}

/* Expands "~" and makes a file-relative path absolute. Returns a new string or NULL. */
static char *
conf_resolve_path(struct conf_loader *ld, const struct conf_key *k,
    const struct ytree_node *node, const char *text)
{
	const char *home;
	char *out = NULL;

	if (text[0] == '~' && (text[1] == '/' || text[1] == '\0')) {
		if ((home = getenv("HOME")) == NULL || home[0] == '\0') {
			conf_error(ld, &node->mark, k->path,
			    "cannot expand \"~\" in \"%s\": HOME is not set; write an absolute path",
			    text);
			return NULL;
		}
		if (asprintf(&out, "%s%s", home, text + 1) == -1)
			out = NULL;
	} else if (text[0] == '~') {
		conf_error(ld, &node->mark, k->path,
		    "\"~user\" paths are not supported, got \"%s\"; write an absolute path", text);
		return NULL;
	} else if (text[0] != '/' && node->mark.line > 0 && ld->base_dir != NULL) {
		/* Relative paths in the file are relative to the file, as an operator reads it. */
		if (asprintf(&out, "%s/%s", ld->base_dir, text) == -1)
			out = NULL;
	} else
		out = strdup(text);
	if (out != NULL && strlen(out) >= PATH_MAX) {
		conf_error(ld, &node->mark, k->path, "path is longer than %d bytes", PATH_MAX);
		free(out);
		return NULL;
	}
	return out;
}

static int
conf_set_path(struct conf_loader *ld, const struct conf_key *k, const struct ytree_node *node)
{
	const char *text = conf_scalar(ld, k, node);
	char **field = conf_field(ld, k);
	char *path;

	if (text == NULL || (path = conf_resolve_path(ld, k, node, text)) == NULL)
		return -1;
	free(*field);
	*field = path;
	return 0;
}

/*
 * Gathers the items of a list value: a single scalar is a list of one. Reports nested
 * collections and overlong lists. Returns the count, or -1.
 */
static int
conf_list_items(struct conf_loader *ld, const struct conf_key *k,
    const struct ytree_node *node, const struct ytree_node **items)
{
	int n = 0;

	if (node->kind == YTREE_SCALAR) {
		items[0] = node;
		return conf_scalar(ld, k, node) == NULL ? -1 : 1;
	}
	if (node->kind != YTREE_SEQUENCE) {
		conf_error(ld, &node->mark, k->path, "expected a value or a list, got a mapping");
		return -1;
	}
	for (const struct ytree_node *c = node->children; c != NULL; c = c->next) {
		if (n == CONF_LIST_MAX) {
			conf_error(ld, &c->mark, k->path, "a list holds at most %d items",
			    CONF_LIST_MAX);
			return -1;
		}
		if (conf_scalar(ld, k, c) == NULL)
			return -1;
		items[n++] = c;
	}
	return n;
}

static int
conf_set_paths(struct conf_loader *ld, const struct conf_key *k,
    const struct ytree_node *node)
{
	const struct ytree_node *items[CONF_LIST_MAX];
	struct conf_list fresh = { 0, NULL }, *field = conf_field(ld, k);
	int n = conf_list_items(ld, k, node, items);

	for (int i = 0; i < n; i++) {
		char *p = conf_resolve_path(ld, k, items[i], items[i]->value);

		if (p == NULL || conf_list_push(&fresh, p) == -1) {
			conf_list_clear(&fresh);
			return -1;
		}
	}
	if (n < 0)
		return -1;
	conf_list_clear(field);
	*field = fresh;
	return 0;
}

static bool
conf_is_hostname(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 253 || s[0] == '-' || s[0] == '.')
		return false;
	for (const char *p = s; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
			return false;
	return true;
}

static bool
conf_is_host(const char *s)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1 ||
	    conf_is_hostname(s);
}

static int
conf_set_hosts(struct conf_loader *ld, const struct conf_key *k,
    const struct ytree_node *node)
{
	const struct ytree_node *items[CONF_LIST_MAX];
	struct conf_list fresh = { 0, NULL }, *field = conf_field(ld, k);
	int n = conf_list_items(ld, k, node, items);

	/* http.host needs an address to listen on (min 1); tls.hostNames may be empty. */
	if (n >= 0 && n < k->min) {
		conf_error(ld, &node->mark, k->path, "needs at least one address to listen on");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (!conf_is_host(items[i]->value)) {
			conf_error(ld, &items[i]->mark, k->path,
			    "expected an IPv4 or IPv6 address or a host name, got \"%s\"",
			    items[i]->value);
			conf_list_clear(&fresh);
			return -1;
		}
		if (conf_list_push(&fresh, strdup(items[i]->value)) == -1) {
			conf_list_clear(&fresh);
			return -1;
		}
	}
	if (n < 0)
		return -1;
	conf_list_clear(field);
	*field = fresh;
	return 0;
}

/*
 * Splits "host:port", "[v6]:port" (or, with DEFAULT_PORT >= 0, a bare host) into OUT.
 * Returns NULL on success or a sentence saying what is wrong.
 */
static const char *
conf_parse_hostport(const char *s, int default_port, struct conf_addr *out)
{
	const char *host_end, *port = NULL;
	char host[256];
	size_t hlen;
	int64_t p;

	if (s[0] == '[') {
		if ((host_end = strchr(s, ']')) == NULL)
			return "an IPv6 address in brackets lacks its closing ]";
		hlen = (size_t)(host_end - s - 1);
		if (host_end[1] == ':')
			port = host_end + 2;
		else if (host_end[1] != '\0')
			return "expected :port after the bracketed IPv6 address";
		s++;
	} else {
		host_end = strrchr(s, ':');
		if (host_end != NULL && strchr(s, ':') != host_end)
			return "write IPv6 addresses in brackets, such as [::1]:9926";
		if (host_end != NULL)
			port = host_end + 1;
		else
			host_end = s + strlen(s);
		hlen = (size_t)(host_end - s);
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return "the host is missing or too long";
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (!conf_is_host(host))
		return "the host is not an IP address or a host name";
	if (port == NULL && default_port < 0)
		return "the port is missing (host:port)";
	if (port != NULL && (units_parse_int(port, &p) == -1 || p < 0 || p > 65535))
		return "the port must be an integer from 0 to 65535";
	out->host = strdup(host);
	out->port = (uint16_t)(port != NULL ? p : default_port);
	return NULL;
}

/* Parses a backend URL "http://host[:port][/]" into OUT; NULL or what is wrong. */
static const char *
conf_parse_backend(const char *url, struct conf_addr *out)
{
	char hostport[300];
	const char *rest, *slash;
	size_t len;

	if (strncasecmp(url, "https://", 8) == 0)
		return "https:// backends are not supported: revgate forwards plain HTTP; "
		    "use http://";
	if (strncasecmp(url, "http://", 7) != 0)
		return "expected a URL such as http://127.0.0.1:9925";
	rest = url + 7;
	slash = strchr(rest, '/');
	len = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	if (slash != NULL && slash[1] != '\0')
		return "a backend URL cannot carry a path or query; requests keep their own path";
	if (len >= sizeof(hostport))
		return "the host is too long";
	memcpy(hostport, rest, len);
	hostport[len] = '\0';
	return conf_parse_hostport(hostport, 80, out);
}

/* Sets an address list from URLs (backends) or host:port (listen). */
static int
conf_set_addrs(struct conf_loader *ld, const struct conf_key *k,
    const struct ytree_node *node)
{
	const struct ytree_node *items[CONF_LIST_MAX];
	struct conf_addrs fresh = { 0, NULL }, *field = conf_field(ld, k);
	bool urls = k->type == CONF_T_BACKENDS;
	int n;

	if (!urls && conf_scalar(ld, k, node) == NULL)
		return -1;
	if ((n = conf_list_items(ld, k, node, items)) <= 0) {
		if (n == 0)
			conf_error(ld, &node->mark, k->path, "needs at least one backend URL");
		return -1;
	}
	if ((fresh.v = calloc((size_t)n, sizeof(*fresh.v))) == NULL)
		return -1;
	for (int i = 0; i < n; i++, fresh.n++) {
		const char *text = items[i]->value;
		const char *why = urls ? conf_parse_backend(text, &fresh.v[i]) :
		    conf_parse_hostport(text, -1, &fresh.v[i]);

		fresh.v[i].text = strdup(text);
		if (why != NULL) {
			conf_error(ld, &items[i]->mark, k->path, "%s, got \"%s\"", why, text);
			fresh.n++;
			conf_addrs_clear(&fresh);
			return -1;
		}
	}
	conf_addrs_clear(field);
	*field = fresh;
	return 0;
}

/* Stores NODE (a non-null value) into K's field; reports and returns -1 when it is wrong. */
static int
conf_set_value(struct conf_loader *ld, const struct conf_key *k,
    const struct ytree_node *node)
{
	switch (k->type) {
	case CONF_T_BOOL:
	case CONF_T_TOGGLE:
		return conf_set_bool(ld, k, node);
	case CONF_T_INT:
		return conf_set_int(ld, k, node);
	case CONF_T_THREADS:
		return conf_set_threads(ld, k, node);
	case CONF_T_DURATION:
		return conf_set_duration(ld, k, node);
	case CONF_T_SIZE:
		return conf_set_size(ld, k, node);
	case CONF_T_HEADER:
		return conf_set_header(ld, k, node);
	case CONF_T_ENUM:
		return conf_set_enum(ld, k, node);
	case CONF_T_STRING:
	case CONF_T_SECRET:
		return conf_set_string(ld, k, node);
	case CONF_T_URL:
		return conf_set_url(ld, k, node);
	case CONF_T_PATH:
		return conf_set_path(ld, k, node);
	case CONF_T_PATHS:
		return conf_set_paths(ld, k, node);
	case CONF_T_HOSTS:
		return conf_set_hosts(ld, k, node);
	case CONF_T_BACKENDS:
	case CONF_T_LISTEN:
		return conf_set_addrs(ld, k, node);
	case CONF_T_SECTION:
		break;
	}
	return -1;
}

/* Applies every default through the same parsers as file values, so they obey the same rules. */
static void
conf_apply_defaults(struct conf_loader *ld)
{
	static const struct ytree_mark def_mark = { "default", 0, 0 };

	for (size_t i = 0; i < conf_schema_len; i++) {
		const struct conf_key *k = &conf_schema[i];
		struct ytree_node *node;

		if (k->def == NULL)
			continue;
		if ((node = ytree_node_new(YTREE_SCALAR, &def_mark, k->def)) == NULL) {
			conf_error(ld, &def_mark, k->path, "out of memory");
			continue;
		}
		if (conf_set_value(ld, k, node) == 0)
			conf_set_origin(ld, k, &def_mark);
		ytree_node_free(node);
	}
}

static void conf_walk_mapping(struct conf_loader *ld, const struct ytree_node *map,
    const char *prefix);

static void
conf_report_unknown(struct conf_loader *ld, const struct ytree_node *entry, const char *path)
{
	const char *near = conf_schema_suggest(path);

	if (near != NULL)
		conf_error(ld, &entry->key_mark, path, "unknown key; did you mean %s?", near);
	else
		conf_error(ld, &entry->key_mark, path,
		    "unknown key; see revgate.yaml(5) for the keys this section accepts");
}

/* Records the origin of a toggle and of its ".enabled" key, which share one flag. */
static void
conf_set_toggle_origin(struct conf_loader *ld, const struct conf_key *k,
    const struct ytree_mark *m)
{
	char path[256];

	snprintf(path, sizeof(path), "%s.enabled", k->path);
	conf_set_origin(ld, k, m);
	conf_set_origin(ld, conf_schema_find(path), m);
}

/* A toggle (mtls, certificateVerification, crl, ...) is true, false or a mapping. */
static void
conf_walk_toggle(struct conf_loader *ld, const struct conf_key *k,
    const struct ytree_node *node)
{
	bool *enabled = conf_field(ld, k);
	const struct ytree_node *other = NULL;

	if (node->kind == YTREE_SCALAR) {
		if (conf_parse_bool(node->value, enabled) == -1)
			conf_error(ld, &node->mark, k->path,
			    "expected true, false or a mapping of settings, got \"%s\"",
			    node->value);
		else
			conf_set_toggle_origin(ld, k, &node->mark);
		return;
	}
	if (node->kind != YTREE_MAPPING) {
		conf_error(ld, &node->mark, k->path,
		    "expected true, false or a mapping of settings, got a list");
		return;
	}
	/* Writing the section's settings turns it on unless it says enabled: false. The origin
	 * is where the section's name is written: the line an operator looks for. */
	*enabled = true;
	conf_set_toggle_origin(ld, k, &node->key_mark);
	conf_walk_mapping(ld, node, k->path);
	for (const struct ytree_node *c = node->children; c != NULL; c = c->next)
		if (strcmp(c->key, "enabled") != 0 && other == NULL)
			other = c;
	if (!*enabled && other != NULL)
		conf_warn(ld, &other->key_mark, k->path,
		    "is disabled (enabled: false), so its other settings, such as %s, have no "
		    "effect", other->key);
}

/* Applies one mapping entry whose schema key is K. */
static void
conf_walk_entry(struct conf_loader *ld, const struct conf_key *k,
    const struct ytree_node *node)
{
	if (ytree_is_null(node))
		return;		/* "key:" or "key: ~" leaves the default */
	switch (k->type) {
	case CONF_T_SECTION:
		if (node->kind != YTREE_MAPPING)
			conf_error(ld, &node->mark, k->path,
			    "expected a mapping of settings, got %s", conf_kind_name(node));
		else
			conf_walk_mapping(ld, node, k->path);
		return;
	case CONF_T_TOGGLE:
		conf_walk_toggle(ld, k, node);
		return;
	default:
		if (conf_set_value(ld, k, node) == 0)
			conf_set_origin(ld, k, &node->mark);
		return;
	}
}

static void
conf_walk_mapping(struct conf_loader *ld, const struct ytree_node *map, const char *prefix)
{
	for (const struct ytree_node *c = map->children; c != NULL; c = c->next) {
		const struct ytree_node *first;
		char path[256];
		const struct conf_key *k;

		snprintf(path, sizeof(path), "%s%s%s", prefix != NULL ? prefix : "",
		    prefix != NULL ? "." : "", c->key);
		if ((first = ytree_map_get(map, c->key)) != c)
			conf_error(ld, &c->key_mark, path,
			    "duplicate key (first set at line %u); remove one of them",
			    first->key_mark.line);
		else if ((k = conf_schema_find(path)) == NULL)
			conf_report_unknown(ld, c, path);
		else
			conf_walk_entry(ld, k, c);
	}
}

static void
conf_walk_root(struct conf_loader *ld)
{
	const struct ytree_node *root = ld->tree->root;

	if (root == NULL || ytree_is_null(root))
		return;
	if (root->kind != YTREE_MAPPING) {
		conf_error(ld, &root->mark, NULL,
		    "the top level must be a mapping of settings (rootPath, http, tls, proxy, "
		    "admin, log), got %s", conf_kind_name(root));
		return;
	}
	conf_walk_mapping(ld, root, NULL);
}

/* Builds the node an override stands for: a scalar, or a sequence split at commas. */
static struct ytree_node *
conf_override_node(const struct conf_key *k, const char *value, const struct ytree_mark *m)
{
	struct ytree_node *seq, *item;
	char *copy, *save = NULL;

	if (!conf_schema_is_list(k))
		return ytree_node_new(YTREE_SCALAR, m, value);
	if ((seq = ytree_node_new(YTREE_SEQUENCE, m, NULL)) == NULL ||
	    (copy = strdup(value)) == NULL) {
		ytree_node_free(seq);
		return NULL;
	}
	for (char *tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*tok))
			tok++;
		for (size_t n = strlen(tok); n > 0 && isspace((unsigned char)tok[n - 1]); n--)
			tok[n - 1] = '\0';
		if ((item = ytree_node_new(YTREE_SCALAR, m, tok)) == NULL ||
		    ytree_append(seq, NULL, NULL, item) == -1) {
			ytree_node_free(item);
			ytree_node_free(seq);
			free(copy);
			return NULL;
		}
	}
	free(copy);
	return seq;
}

/*
 * Makes sure the mapping entry KEY exists under PARENT for an override to descend into,
 * turning "toggle: false" into "toggle: {enabled: false}" so that the override adds to it.
 */
static struct ytree_node *
conf_override_descend(struct conf_loader *ld, struct ytree_node *parent, const char *key,
    const char *prefix, const struct ytree_mark *m)
{
	struct ytree_node *child = ytree_map_get(parent, key), *map, *enabled;
	const struct conf_key *k = conf_schema_find(prefix);
	char where[512];

	if (child != NULL && child->kind == YTREE_MAPPING)
		return child;
	if ((map = ytree_node_new(YTREE_MAPPING, m, NULL)) == NULL)
		return NULL;
	if (child == NULL) {
		if (ytree_append(parent, key, m, map) == -1) {
			ytree_node_free(map);
			return NULL;
		}
		return map;
	}
	if (child->kind == YTREE_SCALAR && (ytree_is_null(child) ||
	    (k != NULL && k->type == CONF_T_TOGGLE))) {
		if (!ytree_is_null(child)) {
			enabled = ytree_node_new(YTREE_SCALAR, &child->mark, child->value);
			if (enabled == NULL || ytree_append(map, "enabled", &child->key_mark,
			    enabled) == -1) {
				ytree_node_free(enabled);
				ytree_node_free(map);
				return NULL;
			}
		}
		ytree_replace(ld->tree, child, map);
		return map;
	}
	ytree_node_free(map);
	conf_error(ld, m, prefix, "cannot apply this override: the value at %s is %s, not a "
	    "mapping of settings", ytree_mark_format(&child->mark, where, sizeof(where)),
	    conf_kind_name(child));
	return NULL;
}

/* Writes VALUE for K into the document, as if the file had said it, marked with ORIGIN. */
static void
conf_override_apply(struct conf_loader *ld, const struct conf_key *k, const char *value,
    const char *origin)
{
	struct ytree_mark m = { ytree_intern_origin(ld->tree, origin), 0, 0 };
	struct ytree_node *cur, *node, *old;
	char prefix[256] = "", comp[128];
	const char *p = k->path, *dot;

	if (m.origin == NULL || (node = conf_override_node(k, value, &m)) == NULL) {
		conf_error(ld, &m, k->path, "out of memory");
		return;
	}
	if (ld->tree->root == NULL || ytree_is_null(ld->tree->root)) {
		ytree_node_free(ld->tree->root);
		ld->tree->root = ytree_node_new(YTREE_MAPPING, &m, NULL);
	}
	cur = ld->tree->root;
	while (cur != NULL && cur->kind == YTREE_MAPPING && (dot = strchr(p, '.')) != NULL) {
		snprintf(comp, sizeof(comp), "%.*s", (int)(dot - p), p);
		snprintf(prefix, sizeof(prefix), "%.*s", (int)(dot - k->path), k->path);
		cur = conf_override_descend(ld, cur, comp, prefix, &m);
		p = dot + 1;
	}
	if (cur == NULL || cur->kind != YTREE_MAPPING) {
		ytree_node_free(node);
		return;		/* reported by the descent or by the walk of the root */
	}
	old = ytree_map_get(cur, p);
	if (old != NULL && k->type == CONF_T_TOGGLE && old->kind == YTREE_MAPPING &&
	    node->kind == YTREE_SCALAR) {
		/*
		 * "REVGATE_HTTP_MTLS=false" over a section written as a mapping switches the
		 * section, keeping what the file set inside it.
		 */
		cur = old;
		p = "enabled";
		old = ytree_map_get(cur, p);
	}
	if (old != NULL)
		ytree_replace(ld->tree, old, node);
	else if (ytree_append(cur, p, &m, node) == -1)
		ytree_node_free(node);
}

static void
conf_apply_environment(struct conf_loader *ld, char *const *envp)
{
	static const struct ytree_mark env_mark = { "environment", 0, 0 };

	for (; envp != NULL && *envp != NULL; envp++) {
		const char *eq = strchr(*envp, '=');
		char name[160], origin[200], hint[160];
		const struct conf_key *k;

		if (strncmp(*envp, "REVGATE_", 8) != 0 || eq == NULL ||
		    (size_t)(eq - *envp) >= sizeof(name))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(eq - *envp), *envp);
		if ((k = conf_schema_find_env(name)) == NULL) {
			const char *near = conf_schema_suggest_env(name, hint, sizeof(hint));

			conf_error(ld, &env_mark, name, "unknown setting%s%s%s",
			    near != NULL ? "; did you mean " : "", near != NULL ? near : "",
			    near != NULL ? "?" : "");
			continue;
		}
		snprintf(origin, sizeof(origin), "environment %s", name);
		conf_override_apply(ld, k, eq + 1, origin);
	}
}

static void
conf_apply_command_line(struct conf_loader *ld, const struct conf_overrides *sets)
{
	static const struct ytree_mark cli_mark = { "command line", 0, 0 };

	for (size_t i = 0; sets != NULL && i < sets->n; i++) {
		const char *eq = strchr(sets->v[i], '=');
		char path[256], origin[300];
		const struct conf_key *k;
		const char *near;

		if (eq == NULL || eq == sets->v[i] || (size_t)(eq - sets->v[i]) >= sizeof(path)) {
			conf_error(ld, &cli_mark, NULL,
			    "--set \"%s\": expected KEY=VALUE, such as http.securePort=9443",
			    sets->v[i]);
			continue;
		}
		snprintf(path, sizeof(path), "%.*s", (int)(eq - sets->v[i]), sets->v[i]);
		k = conf_schema_find(path);
		if (k == NULL || k->type == CONF_T_SECTION) {
			near = k == NULL ? conf_schema_suggest(path) : NULL;
			conf_error(ld, &cli_mark, path, "%s%s%s%s",
			    k == NULL ? "unknown key" : "is a section; set one of its keys",
			    near != NULL ? "; did you mean " : "", near != NULL ? near : "",
			    near != NULL ? "?" : "");
			continue;
		}
		snprintf(origin, sizeof(origin), "command line --set %s", path);
		conf_override_apply(ld, k, eq + 1, origin);
	}
}

/* tls.* default to HarperDB's layout under rootPath/keys/. */
static void
conf_derive_tls_paths(struct conf_loader *ld)
{
	static const struct { const char *key; const char *file; } derived[] = {
		{ "tls.certificate", "certificate.pem" },
		{ "tls.privateKey", "privateKey.pem" },
		{ "tls.certificateAuthority", "ca.pem" },
	};
	static const struct ytree_mark mark = { "default (rootPath/keys)", 0, 0 };

	for (size_t i = 0; i < sizeof(derived) / sizeof(derived[0]); i++) {
		const struct conf_key *k = conf_schema_find(derived[i].key);
		char **field = conf_field(ld, k);

		if (*field != NULL || ld->cfg->root_path == NULL)
			continue;
		if (asprintf(field, "%s/keys/%s", ld->cfg->root_path, derived[i].file) == -1)
			*field = NULL;
		conf_set_origin(ld, k, &mark);
	}
}

static struct ytree_mark
conf_origin_mark(const struct conf_loader *ld, const char *path)
{
	struct ytree_mark m = { "default", 0, 0 };
	const char *o = ld->cfg->origins[conf_schema_index(conf_schema_find(path))];

	if (o != NULL)
		m.origin = o;
	return m;
}

/* Settings that are each valid but make no sense together. */
static void
conf_check_combinations(struct conf_loader *ld)
{
	const struct conf_mtls *mtls = &ld->cfg->http.mtls;
	const struct conf_verification *v = &mtls->verification;
	struct ytree_mark vm = conf_origin_mark(ld, "http.mtls.certificateVerification");
	struct ytree_mark mm = conf_origin_mark(ld, "http.mtls.enabled");
	struct ytree_mark rm = conf_origin_mark(ld, "http.mtls.required");
	struct ytree_mark fm =
	    conf_origin_mark(ld, "http.mtls.certificateVerification.failureMode");

	if (!v->enabled)
		return;
	if (!mtls->enabled) {
		conf_error(ld, &vm, "http.mtls.certificateVerification",
		    "revocation checking needs client certificates, but http.mtls is disabled "
		    "(%s); enable http.mtls or remove certificateVerification", mm.origin);
		return;
	}
	if (!v->crl.enabled && !v->ocsp.enabled)
		conf_error(ld, &vm, "http.mtls.certificateVerification",
		    "both crl and ocsp are disabled, so no certificate could ever be checked; "
		    "enable one of them, or set certificateVerification: false");
	if (!mtls->required)
		conf_warn(ld, &rm, "http.mtls.required",
		    "is false, so clients that send no certificate are admitted without any "
		    "revocation check");
	if (v->failure_mode == CONF_FAIL_OPEN)
		conf_warn(ld, &fm, "http.mtls.certificateVerification.failureMode",
		    "fail-open admits a client whose revocation status cannot be determined");
}

void
conf_free(struct conf *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < conf_schema_len; i++) {
		const struct conf_key *k = &conf_schema[i];
		void *field = (char *)cfg + k->offset;

		switch (k->type) {
		case CONF_T_STRING:
		case CONF_T_SECRET:
		case CONF_T_PATH:
		case CONF_T_URL:
		case CONF_T_HEADER:
			free(*(char **)field);
			break;
		case CONF_T_PATHS:
		case CONF_T_HOSTS:
			conf_list_clear(field);
			break;
		case CONF_T_BACKENDS:
		case CONF_T_LISTEN:
			conf_addrs_clear(field);
			break;
		case CONF_T_SECTION:
		case CONF_T_TOGGLE:
		case CONF_T_BOOL:
		case CONF_T_INT:
		case CONF_T_DURATION:
		case CONF_T_SIZE:
		case CONF_T_ENUM:
		case CONF_T_THREADS:
			break;
		}
		if (cfg->origins != NULL)
			free(cfg->origins[i]);
	}
	free(cfg->origins);
	free(cfg->source);
	free(cfg);
}

/* Runs a load over TREE (taking ownership); SOURCE names the file or is NULL. */
/*
 * The directory of SOURCE, made absolute: relative paths in the file then mean the same thing
 * whatever directory revgate was started from, and --print-config shows where they lead.
 */
static char *
conf_base_dir(const char *source)
{
	const char *slash = strrchr(source, '/');
	char cwd[PATH_MAX], *dir = NULL;

	if (source[0] == '/')
		return strndup(source, slash == source ? 1 : (size_t)(slash - source));
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return strdup(".");
	if (slash == NULL)
		return strdup(cwd);
	if (asprintf(&dir, "%s/%.*s", cwd, (int)(slash - source), source) == -1)
		return NULL;
	return dir;
}

static struct conf *
conf_load_tree(struct ytree *tree, const char *source, char *const *envp,
    const struct conf_overrides *sets, struct conf_diag *diag)
{
	struct conf_loader ld = { .diag = diag, .tree = tree };
	if ((ld.cfg = calloc(1, sizeof(*ld.cfg))) == NULL ||
	    (ld.cfg->origins = calloc(conf_schema_len, sizeof(char *))) == NULL) {
		free(ld.cfg);
		ytree_free(tree);
		conf_list_push(&diag->errors, strdup("out of memory loading the configuration"));
		return NULL;
	}
	if (source != NULL) {
		ld.cfg->source = strdup(source);
		ld.base_dir = conf_base_dir(source);
	}
	conf_apply_defaults(&ld);
	conf_apply_environment(&ld, envp);
	conf_apply_command_line(&ld, sets);
	conf_walk_root(&ld);
	conf_derive_tls_paths(&ld);
	if (!ld.failed)
		conf_check_combinations(&ld);
	free(ld.base_dir);
	ytree_free(tree);
	if (ld.failed) {
		conf_free(ld.cfg);
		return NULL;
	}
	return ld.cfg;
}

struct conf *
conf_load(const char *path, char *const *envp, const struct conf_overrides *sets,
    struct conf_diag *diag)
{
	char err[CONF_MSG_MAX];
	struct ytree *tree;

	tree = path != NULL ? ytree_load_file(path, err, sizeof(err)) : ytree_new_empty();
	if (tree == NULL) {
		conf_list_push(&diag->errors, strdup(path != NULL ? err : "out of memory"));
		return NULL;
	}
	return conf_load_tree(tree, path, envp, sets, diag);
}

struct conf *
conf_load_buffer(const char *origin, const char *buf, size_t len, char *const *envp,
    const struct conf_overrides *sets, struct conf_diag *diag)
{
	char err[CONF_MSG_MAX];
	struct ytree *tree = ytree_parse(origin, buf, len, err, sizeof(err));

	if (tree == NULL) {
		conf_list_push(&diag->errors, strdup(err));
		return NULL;
	}
	return conf_load_tree(tree, origin, envp, sets, diag);
}

const char *
conf_origin(const struct conf *cfg, const char *path)
{
	const struct conf_key *k = conf_schema_find(path);
	const char *o = k != NULL ? cfg->origins[conf_schema_index(k)] : NULL;

	return o != NULL ? o : "default";
}

bool
conf_is_default(const struct conf *cfg, const char *path)
{
	return strncmp(conf_origin(cfg, path), "default", 7) == 0;
}

unsigned
conf_worker_threads(const struct conf *cfg)
{
	long n;

	if (cfg->http.threads > 0)
		return (unsigned)cfg->http.threads;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

const char *
conf_failure_mode_name(enum conf_failure_mode mode)
{
	switch (mode) {
	case CONF_FAIL_CLOSED:
		return "fail-closed";
	case CONF_FAIL_OPEN:
		return "fail-open";
	case CONF_FAIL_INHERIT:
		return "inherit";
	}
	return "?";
}

const char *
conf_scope_name(enum conf_scope scope)
{
	switch (scope) {
	case CONF_SCOPE_LEAF:
		return "leaf";
	case CONF_SCOPE_CHAIN:
		return "chain";
	}
	return "?";
}

/* Writes S as a double-quoted YAML string. */
static void
conf_print_quoted(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void
conf_print_list(FILE *out, const struct conf_list *l)
{
	fputc('[', out);
	for (size_t i = 0; i < l->n; i++) {
		if (i > 0)
			fputs(", ", out);
		conf_print_quoted(out, l->v[i]);
	}
	fputc(']', out);
}

static void
conf_print_value(FILE *out, const struct conf *cfg, const struct conf_key *k)
{
	const void *field = (const char *)cfg + k->offset;
	const struct conf_addrs *a;
	char buf[64];

	switch (k->type) {
	case CONF_T_BOOL:
	case CONF_T_TOGGLE:
		fputs(*(const bool *)field ? "true" : "false", out);
		break;
	case CONF_T_INT:
		fprintf(out, "%" PRId64, *(const int64_t *)field);
		break;
	case CONF_T_THREADS:
		if (*(const int64_t *)field == 0)
			fputs("auto", out);
		else
			fprintf(out, "%" PRId64, *(const int64_t *)field);
		break;
	case CONF_T_DURATION:
		units_format_duration(*(const int64_t *)field, buf, sizeof(buf));
		fputs(buf, out);
		break;
	case CONF_T_SIZE:
		units_format_size(*(const uint64_t *)field, buf, sizeof(buf));
		fputs(buf, out);
		break;
	case CONF_T_ENUM:
		fputs(k->choices[*(const int *)field], out);
		break;
	case CONF_T_SECRET:
		fputs(*(char *const *)field != NULL ? "\"(redacted)\"" : "~", out);
		break;
	case CONF_T_STRING:
	case CONF_T_PATH:
	case CONF_T_URL:
	case CONF_T_HEADER:
		if (*(char *const *)field == NULL)
			fputs("~", out);
		else
			conf_print_quoted(out, *(char *const *)field);
		break;
	case CONF_T_PATHS:
	case CONF_T_HOSTS:
		conf_print_list(out, field);
		break;
	case CONF_T_BACKENDS:
	case CONF_T_LISTEN:
		a = field;
		if (k->type == CONF_T_BACKENDS)
			fputc('[', out);
		for (size_t i = 0; i < a->n; i++) {
			if (i > 0)
				fputs(", ", out);
			conf_print_quoted(out, a->v[i].text);
		}
		if (k->type == CONF_T_BACKENDS)
			fputc(']', out);
		break;
	case CONF_T_SECTION:
		break;
	}
}

/* A disabled toggle is reported with the origin of its ".enabled" key, which decided it. */
static const char *
conf_toggle_origin(const struct conf *cfg, const struct conf_key *k, const char *fallback)
{
	char path[256];
	const struct conf_key *e;

	snprintf(path, sizeof(path), "%s.enabled", k->path);
	e = conf_schema_find(path);
	if (e == NULL || cfg->origins[conf_schema_index(e)] == NULL)
		return fallback;
	return cfg->origins[conf_schema_index(e)];
}

void
conf_print(const struct conf *cfg, FILE *out)
{
	const char *skip = NULL;	/* keys under a disabled toggle are not printed */

	fprintf(out, "# effective configuration of revgate %s (source: %s)\n", PACKAGE_VERSION,
	    cfg->source != NULL ? cfg->source : "defaults only");
	for (size_t i = 0; i < conf_schema_len; i++) {
		const struct conf_key *k = &conf_schema[i];
		unsigned depth = conf_schema_depth(k);
		const char *origin = cfg->origins[i] != NULL ? cfg->origins[i] : "default";

		if (skip != NULL && strncmp(k->path, skip, strlen(skip)) == 0 &&
		    k->path[strlen(skip)] == '.')
			continue;
		skip = NULL;
		fprintf(out, "%*s%s:", (int)depth * 2, "", conf_schema_leaf(k));
		if (k->type == CONF_T_SECTION) {
			fputc('\n', out);
			continue;
		}
		if (k->type == CONF_T_TOGGLE) {
			if (*(const bool *)((const char *)cfg + k->offset)) {
				fputc('\n', out);
				continue;
			}
			skip = k->path;
			origin = conf_toggle_origin(cfg, k, origin);
		}
		fputc(' ', out);
		conf_print_value(out, cfg, k);
		fprintf(out, "  # %s\n", origin);
	}
}
