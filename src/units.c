#include "config.h"
#include "units.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct units_suffix {
	const char	*name;
	uint64_t	 factor;
};

/* Longest names first so that "ms" is not read as "m" followed by junk. */
static const struct units_suffix units_duration_suffixes[] = {
	{ "ms", 1 },
	{ "s", 1000 },
	{ "m", 60 * 1000 },
	{ "h", 60 * 60 * 1000 },
	{ "d", 24 * 60 * 60 * 1000 },
};

static const struct units_suffix units_size_suffixes[] = {
	{ "KiB", 1024 }, { "MiB", 1024 * 1024 }, { "GiB", 1024 * 1024 * 1024 },
	{ "k", 1024 }, { "K", 1024 }, { "M", 1024 * 1024 }, { "G", 1024 * 1024 * 1024 },
};

/* Reads the digits at *P into *OUT; returns -1 if there are none or they overflow. */
static int
units_read_digits(const char **p, uint64_t *out)
{
	uint64_t v = 0;
	const char *s = *p;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*p = s;
	*out = v;
	return 0;
}

/* Matches the longest suffix at *P; returns its factor or 0. */
static uint64_t
units_read_suffix(const char **p, const struct units_suffix *table, size_t n)
{
	size_t best_len = 0;
	uint64_t factor = 0;

	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(table[i].name);

		if (len > best_len && strncmp(*p, table[i].name, len) == 0) {
			best_len = len;
			factor = table[i].factor;
		}
	}
	*p += best_len;
	return factor;
}

int
units_parse_int(const char *text, int64_t *out)
{
	const char *p = text;
	bool neg = false;
	uint64_t v;

	if (*p == '-') {
		neg = true;
		p++;
	} else if (*p == '+')
		p++;
	if (units_read_digits(&p, &v) == -1 || *p != '\0')
		return -1;
	if (v > (uint64_t)INT64_MAX)
		return -1;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

int
units_parse_duration_ms(const char *text, int64_t *out_ms)
{
	const char *p = text;
	uint64_t total = 0;

	if (*p == '\0')
		return -1;
	/* A bare integer is milliseconds. */
	if (units_read_digits(&p, &total) == 0 && *p == '\0')
		return total > INT64_MAX ? -1 : (*out_ms = (int64_t)total, 0);
	p = text;
	total = 0;
	while (*p != '\0') {
		uint64_t v, f;

		if (units_read_digits(&p, &v) == -1)
			return -1;
		f = units_read_suffix(&p, units_duration_suffixes,
		    sizeof(units_duration_suffixes) / sizeof(units_duration_suffixes[0]));
		if (f == 0 || v > (uint64_t)INT64_MAX / f || total > (uint64_t)INT64_MAX - v * f)
			return -1;
		total += v * f;
	}
	*out_ms = (int64_t)total;
	return 0;
}

int
units_parse_size(const char *text, uint64_t *out_bytes)
{
	const char *p = text;
	uint64_t v, f = 1;

	if (units_read_digits(&p, &v) == -1)
		return -1;
	if (*p != '\0') {
		f = units_read_suffix(&p, units_size_suffixes,
		    sizeof(units_size_suffixes) / sizeof(units_size_suffixes[0]));
		if (f == 0 || *p != '\0')
			return -1;
	}
	if (v > UINT64_MAX / f)
		return -1;
	*out_bytes = v * f;
	return 0;
}

void
units_format_duration(int64_t ms, char *buf, size_t size)
{
	static const struct units_suffix by_size[] = {
		{ "d", 24 * 60 * 60 * 1000 }, { "h", 60 * 60 * 1000 }, { "m", 60 * 1000 },
		{ "s", 1000 },
	};

	if (ms > 0) {
		for (size_t i = 0; i < sizeof(by_size) / sizeof(by_size[0]); i++) {
			if (ms % (int64_t)by_size[i].factor == 0) {
				snprintf(buf, size, "%" PRId64 "%s", ms / (int64_t)by_size[i].factor,
				    by_size[i].name);
				return;
			}
		}
		snprintf(buf, size, "%" PRId64 "ms", ms);
		return;
	}
	snprintf(buf, size, "%" PRId64, ms);
}

void
units_format_size(uint64_t bytes, char *buf, size_t size)
{
	static const struct units_suffix by_size[] = {
		{ "GiB", 1024 * 1024 * 1024 }, { "MiB", 1024 * 1024 }, { "KiB", 1024 },
	};

	if (bytes > 0) {
		for (size_t i = 0; i < sizeof(by_size) / sizeof(by_size[0]); i++) {
			if (bytes % by_size[i].factor == 0) {
				snprintf(buf, size, "%" PRIu64 "%s", bytes / by_size[i].factor,
				    by_size[i].name);
				return;
			}
		}
	}
	snprintf(buf, size, "%" PRIu64, bytes);
}
