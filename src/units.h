/*
 * units: parsing and formatting of durations and byte sizes as they appear in configuration.
 *
 * Durations: a plain integer is milliseconds (as HarperDB's configuration has it); a string is
 * one or more <integer><unit> terms, units ms, s, m, h, d ("15s", "1h30m").
 * Sizes: a plain integer is bytes; suffixes k/K/KiB, M/MiB, G/GiB multiply by powers of 1024.
 * Pure functions: no I/O, no allocation.
 */
#ifndef REVGATE_UNITS_H
#define REVGATE_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* Parses TEXT into milliseconds. Returns 0, or -1 if it is not a duration or overflows. */
int units_parse_duration_ms(const char *text, int64_t *out_ms);

/* Parses TEXT into bytes. Returns 0, or -1 if it is not a size or overflows. */
int units_parse_size(const char *text, uint64_t *out_bytes);

/* Parses a decimal integer (optional leading '-'); the whole string must be consumed. */
int units_parse_int(const char *text, int64_t *out);

/* Writes MS in the largest unit that divides it exactly ("24h", "1500ms", "0"). */
void units_format_duration(int64_t ms, char *buf, size_t size);

/* Writes BYTES in the largest binary unit that divides it exactly ("64KiB", "1000"). */
void units_format_size(uint64_t bytes, char *buf, size_t size);

#endif
