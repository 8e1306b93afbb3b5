/*
 * libFuzzer target: the configuration loader (libyaml events -> ytree -> schema walk), with
 * the hand-written duration, size and address parsers behind it. The first line of the input
 * may carry "--set" overrides, so the override path is fuzzed too.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_units(const char *text)
{
	char buf[64];
	int64_t ms;
	uint64_t bytes;

	if (units_parse_duration_ms(text, &ms) == 0) {
		units_format_duration(ms, buf, sizeof(buf));
		if (units_parse_duration_ms(buf, &ms) != 0)
			abort();	/* what we print must parse back */
	}
	if (units_parse_size(text, &bytes) == 0) {
		units_format_size(bytes, buf, sizeof(buf));
		if (units_parse_size(buf, &bytes) != 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_diag diag = { { 0, NULL }, { 0, NULL } };
	char *text = malloc(size + 1), *nl, *set[2] = { NULL, NULL };
	struct conf_overrides ov = { 0, set };
	struct conf *cfg;
	FILE *devnull;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	fuzz_units(text);
	if (strncmp(text, "--set ", 6) == 0 && (nl = strchr(text, '\n')) != NULL) {
		*nl = '\0';
		set[0] = text + 6;
		ov.n = 1;
		cfg = conf_load_buffer("fuzz.yaml", nl + 1, strlen(nl + 1), NULL, &ov, &diag);
	} else
		cfg = conf_load_buffer("fuzz.yaml", text, size, NULL, NULL, &diag);
	if (cfg != NULL && (devnull = fopen("/dev/null", "w")) != NULL) {
		conf_print(cfg, devnull);
		fclose(devnull);
	}
	conf_free(cfg);
	conf_diag_clear(&diag);
	free(text);
	return 0;
}
