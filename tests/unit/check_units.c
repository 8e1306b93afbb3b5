#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "units.h"

static int64_t
ms(const char *text)
{
	int64_t v = -12345;

	ck_assert_int_eq(units_parse_duration_ms(text, &v), 0);
	return v;
}

static void
assert_bad_duration(const char *text)
{
	int64_t v;

	ck_assert_msg(units_parse_duration_ms(text, &v) == -1, "\"%s\" was accepted", text);
}

START_TEST(plain_integer_duration_is_milliseconds)
{
	ck_assert_int_eq(ms("0"), 0);
	ck_assert_int_eq(ms("10000"), 10000);
	ck_assert_int_eq(ms("86400000"), 86400000);
}
END_TEST

START_TEST(duration_units_multiply)
{
	ck_assert_int_eq(ms("250ms"), 250);
	ck_assert_int_eq(ms("15s"), 15000);
	ck_assert_int_eq(ms("5m"), 300000);
	ck_assert_int_eq(ms("12h"), 43200000);
	ck_assert_int_eq(ms("2d"), 172800000);
}
END_TEST

START_TEST(duration_terms_add_up)
{
	ck_assert_int_eq(ms("1h30m"), 5400000);
	ck_assert_int_eq(ms("1m500ms"), 60500);
	ck_assert_int_eq(ms("1d1h1m1s1ms"), 90061001);
}
END_TEST

START_TEST(malformed_durations_are_refused)
{
	assert_bad_duration("");
	assert_bad_duration("eight");
	assert_bad_duration("fifteen seconds");
}
END_TEST

START_TEST(duration_syntax_errors)
{
	assert_bad_duration("s");
	assert_bad_duration("10x");
	assert_bad_duration("10 s");
	assert_bad_duration("-5s");
	assert_bad_duration("1.5s");
	assert_bad_duration("1h30");
	assert_bad_duration("h1");
	assert_bad_duration("10S");
}
END_TEST

START_TEST(duration_overflow_is_refused)
{
	assert_bad_duration("99999999999999999999");
	assert_bad_duration("9223372036854775807d");
	assert_bad_duration("9223372036854775807ms1ms");
	ck_assert_int_eq(ms("9223372036854775807"), INT64_MAX);
}
END_TEST

START_TEST(durations_format_in_the_largest_exact_unit)
{
	char buf[32];
	static const struct { int64_t ms; const char *text; } cases[] = {
		{ 0, "0" }, { 1, "1ms" }, { 1500, "1500ms" }, { 15000, "15s" },
		{ 300000, "5m" }, { 5400000, "90m" }, { 86400000, "1d" }, { 43200000, "12h" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		units_format_duration(cases[i].ms, buf, sizeof(buf));
		ck_assert_str_eq(buf, cases[i].text);
		ck_assert_int_eq(ms(buf), cases[i].ms);	/* and it parses back */
	}
}
END_TEST

START_TEST(sizes_parse_with_binary_suffixes)
{
	uint64_t v;

	ck_assert_int_eq(units_parse_size("0", &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(units_parse_size("1000", &v), 0);
	ck_assert_uint_eq(v, 1000);
	ck_assert_int_eq(units_parse_size("16k", &v), 0);
	ck_assert_uint_eq(v, 16384);
	ck_assert_int_eq(units_parse_size("64KiB", &v), 0);
	ck_assert_uint_eq(v, 65536);
	ck_assert_int_eq(units_parse_size("10M", &v), 0);
	ck_assert_uint_eq(v, 10485760);
	ck_assert_int_eq(units_parse_size("2GiB", &v), 0);
	ck_assert_uint_eq(v, 2147483648ULL);
	ck_assert_int_eq(units_parse_size("", &v), -1);
	ck_assert_int_eq(units_parse_size("1T", &v), -1);
	ck_assert_int_eq(units_parse_size("KiB", &v), -1);
	ck_assert_int_eq(units_parse_size("1KiBx", &v), -1);
	ck_assert_int_eq(units_parse_size("18446744073709551615G", &v), -1);
}
END_TEST

START_TEST(sizes_format_in_the_largest_exact_unit)
{
	char buf[32];

	units_format_size(65536, buf, sizeof(buf));
	ck_assert_str_eq(buf, "64KiB");
	units_format_size(1000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1000");
	units_format_size(3221225472ULL, buf, sizeof(buf));
	ck_assert_str_eq(buf, "3GiB");
}
END_TEST

START_TEST(integers_must_be_whole_strings)
{
	int64_t v;

	ck_assert_int_eq(units_parse_int("8443", &v), 0);
	ck_assert_int_eq(v, 8443);
	ck_assert_int_eq(units_parse_int("-1", &v), 0);
	ck_assert_int_eq(v, -1);
	ck_assert_int_eq(units_parse_int("", &v), -1);
	ck_assert_int_eq(units_parse_int("84 43", &v), -1);
	ck_assert_int_eq(units_parse_int("0x10", &v), -1);
	ck_assert_int_eq(units_parse_int("9223372036854775808", &v), -1);
}
END_TEST

static Suite *
units_suite(void)
{
	Suite *s = suite_create("units");
	TCase *tc = tcase_create("parse and format");

	tcase_add_test(tc, plain_integer_duration_is_milliseconds);
	tcase_add_test(tc, duration_units_multiply);
	tcase_add_test(tc, duration_terms_add_up);
	tcase_add_test(tc, malformed_durations_are_refused);
	tcase_add_test(tc, duration_syntax_errors);
	tcase_add_test(tc, duration_overflow_is_refused);
	tcase_add_test(tc, durations_format_in_the_largest_exact_unit);
	tcase_add_test(tc, sizes_parse_with_binary_suffixes);
	tcase_add_test(tc, sizes_format_in_the_largest_exact_unit);
	tcase_add_test(tc, integers_must_be_whole_strings);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(units_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
