#include "config.h"
#include "ytree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

/* The state of one parse: the tree being built and the innermost open collection. */
struct ytree_builder {
	struct ytree		*tree;
	const char		*origin;	/* interned */
	struct ytree_node	*open;		/* innermost open mapping/sequence */
	unsigned		 depth;
	char			*pending_key;	/* owned; a mapping key waiting for its value */
	struct ytree_mark	 pending_key_mark;
	char			*err;
	size_t			 errlen;
};

struct ytree *
ytree_new_empty(void)
{
	return calloc(1, sizeof(struct ytree));
}

const char *
ytree_intern_origin(struct ytree *tree, const char *origin)
{
	char **grown, *copy;

	for (size_t i = 0; i < tree->norigins; i++)
		if (strcmp(tree->origins[i], origin) == 0)
			return tree->origins[i];
	if ((copy = strdup(origin)) == NULL)
		return NULL;
	grown = realloc(tree->origins, (tree->norigins + 1) * sizeof(*grown));
	if (grown == NULL) {
		free(copy);
		return NULL;
	}
	tree->origins = grown;
	tree->origins[tree->norigins++] = copy;
	return copy;
}

struct ytree_node *
ytree_node_new(enum ytree_kind kind, const struct ytree_mark *mark, const char *value)
{
	struct ytree_node *node;

	if ((node = calloc(1, sizeof(*node))) == NULL)
		return NULL;
	node->kind = kind;
	node->mark = *mark;
	if (value != NULL && (node->value = strdup(value)) == NULL) {
		free(node);
		return NULL;
	}
	return node;
}

void
ytree_node_free(struct ytree_node *node)
{
	while (node != NULL) {
		struct ytree_node *next = node->next;

		ytree_node_free(node->children);
		free(node->key);
		free(node->value);
		free(node);
		node = next;
	}
}

void
ytree_free(struct ytree *tree)
{
	if (tree == NULL)
		return;
	ytree_node_free(tree->root);
	for (size_t i = 0; i < tree->norigins; i++)
		free(tree->origins[i]);
	free(tree->origins);
	free(tree);
}

int
ytree_append(struct ytree_node *parent, const char *key, const struct ytree_mark *key_mark,
    struct ytree_node *child)
{
	struct ytree_node **tail;

	if (key != NULL) {
		if ((child->key = strdup(key)) == NULL)
			return -1;
		child->key_mark = *key_mark;
	}
	for (tail = &parent->children; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = child;
	child->parent = parent;
	return 0;
}

void
ytree_replace(struct ytree *tree, struct ytree_node *old, struct ytree_node *new_node)
{
	struct ytree_node **link;

	new_node->parent = old->parent;
	new_node->next = old->next;
	new_node->key = old->key;
	new_node->key_mark = old->key_mark;
	old->key = NULL;
	old->next = NULL;
	if (old->parent == NULL) {
		tree->root = new_node;
	} else {
		for (link = &old->parent->children; *link != old; link = &(*link)->next)
			;
		*link = new_node;
	}
	ytree_node_free(old);
}

bool
ytree_is_null(const struct ytree_node *node)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

	if (node->kind != YTREE_SCALAR || node->quoted)
		return false;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strcmp(node->value, nulls[i]) == 0)
			return true;
	return false;
}

struct ytree_node *
ytree_map_get(const struct ytree_node *node, const char *key)
{
	if (node == NULL || node->kind != YTREE_MAPPING)
		return NULL;
	for (struct ytree_node *c = node->children; c != NULL; c = c->next)
		if (strcmp(c->key, key) == 0)
			return c;
	return NULL;
}

size_t
ytree_count(const struct ytree_node *node)
{
	size_t n = 0;

	for (const struct ytree_node *c = node->children; c != NULL; c = c->next)
		n++;
	return n;
}

const char *
ytree_mark_format(const struct ytree_mark *mark, char *buf, size_t size)
{
	if (mark->line > 0)
		snprintf(buf, size, "%s:%u:%u", mark->origin, mark->line, mark->column);
	else
		snprintf(buf, size, "%s", mark->origin != NULL ? mark->origin : "?");
	return buf;
}

static void
ytree_builder_error(struct ytree_builder *b, const yaml_mark_t *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
ytree_builder_error(struct ytree_builder *b, const yaml_mark_t *at, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(b->err, b->errlen, "%s:%zu:%zu: ", b->origin, at->line + 1, at->column + 1);
	if (n < 0 || (size_t)n >= b->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(b->err + n, b->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static struct ytree_mark
ytree_mark_from(const struct ytree_builder *b, const yaml_mark_t *m)
{
	struct ytree_mark mark = { b->origin, (unsigned)m->line + 1, (unsigned)m->column + 1 };

	return mark;
}

/* Attaches NODE where the document currently is: root, mapping value or sequence item. */
static int
ytree_builder_attach(struct ytree_builder *b, struct ytree_node *node, const yaml_mark_t *at)
{
	if (b->open == NULL) {
		b->tree->root = node;
		return 0;
	}
	if (b->open->kind == YTREE_SEQUENCE)
		return ytree_append(b->open, NULL, NULL, node);
	if (ytree_append(b->open, b->pending_key, &b->pending_key_mark, node) == -1)
		return -1;
	free(b->pending_key);
	b->pending_key = NULL;
	return 0;
}

/* A scalar in a mapping is a key when no key is pending; the key must be unique. */
static int
ytree_builder_scalar(struct ytree_builder *b, const yaml_event_t *ev)
{
	const char *text = (const char *)ev->data.scalar.value;
	struct ytree_mark mark = ytree_mark_from(b, &ev->start_mark);
	struct ytree_node *node;

	if (b->open != NULL && b->open->kind == YTREE_MAPPING && b->pending_key == NULL) {
		if ((b->pending_key = strdup(text)) == NULL)
			goto nomem;
		b->pending_key_mark = mark;
		return 0;
	}
	if ((node = ytree_node_new(YTREE_SCALAR, &mark, text)) == NULL)
		goto nomem;
	node->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
	    ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE ||
	    ev->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
	    ev->data.scalar.style == YAML_FOLDED_SCALAR_STYLE;
	if (ytree_builder_attach(b, node, &ev->start_mark) == -1) {
		ytree_node_free(node);
		goto nomem;
	}
	return 0;
nomem:
	ytree_builder_error(b, &ev->start_mark, "out of memory");
	return -1;
}

static int
ytree_builder_open(struct ytree_builder *b, const yaml_event_t *ev, enum ytree_kind kind)
{
	struct ytree_mark mark = ytree_mark_from(b, &ev->start_mark);
	struct ytree_node *node;

	if (b->open != NULL && b->open->kind == YTREE_MAPPING && b->pending_key == NULL) {
		ytree_builder_error(b, &ev->start_mark,
		    "a mapping key must be a plain value, not a %s",
		    kind == YTREE_MAPPING ? "mapping" : "sequence");
		return -1;
	}
	if (++b->depth > YTREE_MAX_DEPTH) {
		ytree_builder_error(b, &ev->start_mark, "nesting deeper than %d levels",
		    YTREE_MAX_DEPTH);
		return -1;
	}
	if ((node = ytree_node_new(kind, &mark, NULL)) == NULL ||
	    ytree_builder_attach(b, node, &ev->start_mark) == -1) {
		ytree_node_free(node);
		ytree_builder_error(b, &ev->start_mark, "out of memory");
		return -1;
	}
	b->open = node;
	return 0;
}

static void
ytree_builder_close(struct ytree_builder *b)
{
	b->depth--;
	b->open = b->open->parent;
}

/* Handles one parser event; returns 1 at the end of the stream, 0 to go on, -1 on error. */
static int
ytree_builder_event(struct ytree_builder *b, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_STREAM_START_EVENT:
	case YAML_DOCUMENT_END_EVENT:
	case YAML_NO_EVENT:
		return 0;
	case YAML_STREAM_END_EVENT:
		return 1;
	case YAML_DOCUMENT_START_EVENT:
		if (b->tree->root != NULL) {
			ytree_builder_error(b, &ev->start_mark,
			    "more than one YAML document; a configuration file holds exactly one");
			return -1;
		}
		return 0;
	case YAML_ALIAS_EVENT:
		ytree_builder_error(b, &ev->start_mark,
		    "YAML aliases (*%s) are not supported; write the value out",
		    (const char *)ev->data.alias.anchor);
		return -1;
	case YAML_SCALAR_EVENT:
		return ytree_builder_scalar(b, ev);
	case YAML_SEQUENCE_START_EVENT:
		return ytree_builder_open(b, ev, YTREE_SEQUENCE);
	case YAML_MAPPING_START_EVENT:
		return ytree_builder_open(b, ev, YTREE_MAPPING);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		ytree_builder_close(b);
		return 0;
	}
	return 0;
}

struct ytree *
ytree_parse(const char *origin, const char *buf, size_t len, char *err, size_t errlen)
{
	struct ytree_builder b = { .err = err, .errlen = errlen };
	yaml_parser_t parser;
	yaml_event_t ev;
	int rc = 0;

	if ((b.tree = ytree_new_empty()) == NULL ||
	    (b.origin = ytree_intern_origin(b.tree, origin)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", origin);
		ytree_free(b.tree);
		return NULL;
	}
	if (len > YTREE_MAX_BYTES) {
		snprintf(err, errlen, "%s: file is larger than %d bytes", origin, YTREE_MAX_BYTES);
		ytree_free(b.tree);
		return NULL;
	}
	if (yaml_parser_initialize(&parser) != 1) {
		snprintf(err, errlen, "%s: cannot initialise the YAML parser", origin);
		ytree_free(b.tree);
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (rc == 0) {
		if (yaml_parser_parse(&parser, &ev) != 1) {
			snprintf(err, errlen, "%s:%zu:%zu: YAML syntax error: %s%s%s", origin,
			    parser.problem_mark.line + 1, parser.problem_mark.column + 1,
			    parser.problem != NULL ? parser.problem : "malformed document",
			    parser.context != NULL ? " " : "",
			    parser.context != NULL ? parser.context : "");
			rc = -1;
			break;
		}
		rc = ytree_builder_event(&b, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	free(b.pending_key);
	if (rc == -1) {
		ytree_free(b.tree);
		return NULL;
	}
	return b.tree;
}

struct ytree *
ytree_load_file(const char *path, char *err, size_t errlen)
{
	struct ytree *tree = NULL;
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: cannot open configuration file: %s", path,
		    strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > YTREE_MAX_BYTES) {
		snprintf(err, errlen, "%s: file is larger than %d bytes", path, YTREE_MAX_BYTES);
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s: cannot read configuration file: %s", path,
			    n == 0 ? "file shrank while reading" : strerror(errno));
			goto out;
		}
		len += (size_t)n;
	}
	tree = ytree_parse(path, buf, len, err, errlen);
out:
	free(buf);
	close(fd);
	return tree;
}
