#include "config.h"
#include "suggest.h"

#include <ctype.h>
#include <string.h>

#define SUGGEST_MAX_LEN 64

size_t
suggest_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[SUGGEST_MAX_LEN + 1];

	if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN)
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = tolower((unsigned char)a[i - 1]) ==
			    tolower((unsigned char)b[j - 1]) ? 0 : 1;
			size_t best = diag + cost;

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *
suggest_closest(const char *word, const char *const *candidates, size_t n)
{
	size_t limit = strlen(word) / 3 > 2 ? strlen(word) / 3 : 2;
	size_t best = (size_t)-1;
	const char *found = NULL;

	for (size_t i = 0; i < n; i++) {
		size_t d;

		if (candidates[i] == NULL)
			continue;
		d = suggest_distance(word, candidates[i]);
		if (d < best) {
			best = d;
			found = candidates[i];
		}
	}
	return best <= limit ? found : NULL;
}
