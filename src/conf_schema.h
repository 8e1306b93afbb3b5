/*
 * conf_schema: the table of every configuration key - its path, type, default, bounds and
 * where it lands in struct conf. Loading (conf.c), printing and the environment mapping all
 * read this one table, so a key is described exactly once.
 * Internal to the conf module; nothing else includes it.
 */
#ifndef REVGATE_CONF_SCHEMA_H
#define REVGATE_CONF_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum conf_type {
	CONF_T_SECTION,	/* a mapping of keys */
	CONF_T_TOGGLE,	/* a mapping of keys, or true/false; stores its "enabled" flag */
	CONF_T_BOOL,
	CONF_T_INT,		/* int64_t within [min, max] */
	CONF_T_DURATION,	/* int64_t milliseconds within [min, max] */
	CONF_T_SIZE,		/* uint64_t bytes within [min, max] */
	CONF_T_ENUM,		/* int: index into choices */
	CONF_T_STRING,	/* char * */
	CONF_T_SECRET,	/* char *, never printed */
	CONF_T_PATH,		/* char *, ~ expanded, relative to the configuration file */
	CONF_T_URL,		/* char *, http:// or https:// */
	CONF_T_HEADER,	/* char *, an HTTP header name */
	CONF_T_PATHS,		/* struct conf_list of paths */
	CONF_T_HOSTS,		/* struct conf_list of IP addresses or host names */
	CONF_T_THREADS,	/* int64_t: "auto" (0) or [min, max] */
	CONF_T_BACKENDS,	/* struct conf_addrs from http:// URLs */
	CONF_T_LISTEN,	/* struct conf_addrs holding one host:port */
};

struct conf_key {
	const char		 *path;		/* "http.mtls.required" */
	enum conf_type	  type;
	size_t			  offset;	/* into struct conf */
	const char		 *def;		/* default, written as in a file; NULL: unset */
	int64_t			  min, max;	/* numbers and durations */
	const char *const	 *choices;	/* enums, NULL-terminated */
};

extern const struct conf_key conf_schema[];
extern const size_t conf_schema_len;

/* The key at PATH, or NULL. */
const struct conf_key *conf_schema_find(const char *path);

/* Index of K in the table. */
size_t conf_schema_index(const struct conf_key *k);

/* Writes the environment variable name for K ("REVGATE_HTTP_SECUREPORT") into BUF. */
void conf_schema_env_name(const struct conf_key *k, char *buf, size_t size);

/* The key whose environment variable is NAME, or NULL. */
const struct conf_key *conf_schema_find_env(const char *name);

/* A plausible intended key for an unknown PATH (a sibling typo, or the same name elsewhere). */
const char *conf_schema_suggest(const char *path);

/* A plausible intended variable for an unknown REVGATE_* NAME, or NULL; written into BUF. */
const char *conf_schema_suggest_env(const char *name, char *buf, size_t size);

/* True when K's type holds a list (values from the environment are split at commas). */
bool conf_schema_is_list(const struct conf_key *k);

/* Number of '.' in the path: 0 for top-level keys. */
unsigned conf_schema_depth(const struct conf_key *k);

/* The last component of K's path. */
const char *conf_schema_leaf(const struct conf_key *k);

#endif
