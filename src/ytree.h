/*
 * ytree: a YAML document as a small tree of nodes, each carrying where it came from.
 *
 * libyaml parses; this module keeps the structure (mappings in file order, sequences, scalars)
 * and a mark per node: the source name and the 1-based line and column, or a free-form origin
 * ("environment REVGATE_X") for nodes added by overrides. Aliases are refused, so a document
 * cannot expand exponentially; size and depth are bounded. Duplicate mapping keys are kept in
 * order (ytree_map_get finds the first) so that the caller can report each of them.
 */
#ifndef REVGATE_YTREE_H
#define REVGATE_YTREE_H

#include <stdbool.h>
#include <stddef.h>

enum ytree_kind {
	YTREE_SCALAR,
	YTREE_MAPPING,
	YTREE_SEQUENCE,
};

struct ytree_mark {
	const char	*origin;	/* borrowed from the tree: file name or override origin */
	unsigned	 line;		/* 1-based; 0 when the origin is not a file */
	unsigned	 column;	/* 1-based */
};

struct ytree_node {
	enum ytree_kind		 kind;
	struct ytree_mark	 mark;
	char			*key;		/* owned; set when the parent is a mapping */
	struct ytree_mark	 key_mark;	/* where the key was written */
	char			*value;		/* owned; scalars only */
	bool			 quoted;	/* scalar written in quotes (never null) */
	struct ytree_node	*children;	/* owned; mapping entries or sequence items */
	struct ytree_node	*next;		/* owned by the parent's list */
	struct ytree_node	*parent;	/* borrowed */
};

struct ytree {
	struct ytree_node	*root;		/* NULL for an empty document */
	char			**origins;	/* owned strings that marks point into */
	size_t			  norigins;
};

#define YTREE_MAX_BYTES  (1024 * 1024)
#define YTREE_MAX_DEPTH  32

/*
 * Parses a YAML document from BUF (LEN bytes), naming it ORIGIN in marks.
 * Returns a new tree, or NULL with a message "ORIGIN:LINE:COL: ..." written to ERR (ERRLEN).
 * Does no I/O.
 */
struct ytree *ytree_parse(const char *origin, const char *buf, size_t len, char *err,
    size_t errlen);

/* Reads PATH (bounded by YTREE_MAX_BYTES) and parses it. Blocks on file I/O. */
struct ytree *ytree_load_file(const char *path, char *err, size_t errlen);

/* Returns an empty tree (no root), for running on defaults alone. */
struct ytree *ytree_new_empty(void);

void ytree_free(struct ytree *tree);

/* Stores a copy of ORIGIN in the tree and returns the copy, which lives as long as the tree. */
const char *ytree_intern_origin(struct ytree *tree, const char *origin);

/* True for a scalar that YAML reads as null: unquoted "", "~", "null", "Null", "NULL". */
bool ytree_is_null(const struct ytree_node *node);

/* Looks up KEY among a mapping's entries; NULL if absent or NODE is not a mapping. */
struct ytree_node *ytree_map_get(const struct ytree_node *node, const char *key);

/* Number of children of a mapping or sequence. */
size_t ytree_count(const struct ytree_node *node);

/* Allocates a detached node of KIND with MARK; VALUE is copied (scalars). NULL on ENOMEM. */
struct ytree_node *ytree_node_new(enum ytree_kind kind, const struct ytree_mark *mark,
    const char *value);

/* Appends CHILD (taking ownership) to a mapping under KEY, or to a sequence when KEY is NULL. */
int ytree_append(struct ytree_node *parent, const char *key, const struct ytree_mark *key_mark,
    struct ytree_node *child);

/* Replaces OLD (freed) by NEW (owned by the tree afterwards) in its parent or as the root. */
void ytree_replace(struct ytree *tree, struct ytree_node *old, struct ytree_node *new_node);

/* Frees a detached node and everything below it. */
void ytree_node_free(struct ytree_node *node);

/* Formats a mark as "file:line:col" or as its origin; returns BUF. */
const char *ytree_mark_format(const struct ytree_mark *mark, char *buf, size_t size);

#endif
