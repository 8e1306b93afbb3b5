/*
 * suggest: "did you mean ...?" for mistyped keys, values and subcommands.
 */
#ifndef REVGATE_SUGGEST_H
#define REVGATE_SUGGEST_H

#include <stddef.h>

/* Case-insensitive edit distance between A and B (bounded: long inputs return a large value). */
size_t suggest_distance(const char *a, const char *b);

/*
 * Returns the candidate closest to WORD if it is close enough to be a plausible typo
 * (distance at most max(2, strlen(WORD)/3)), or NULL. Ties go to the earlier candidate.
 * CANDIDATES holds N strings; NULL entries are skipped. The result is borrowed from CANDIDATES.
 */
const char *suggest_closest(const char *word, const char *const *candidates, size_t n);

#endif
