#include "config.h"

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttlcache.h"

#define MAX_IDS	200000

/* Values are heap ints holding an id; freeing one counts it, so double frees show up. */
static unsigned freed[MAX_IDS];
static int next_id;

static void
count_free(void *value)
{
	int *id = value;

	if (*id < 0 || *id >= MAX_IDS)
		ck_abort_msg("freed a value that was never handed out");
	freed[*id]++;
	free(id);
}

static int *
value_new(void)
{
	int *v = malloc(sizeof(*v));

	if (v == NULL || next_id >= MAX_IDS)
		ck_abort_msg("out of values");
	*v = next_id++;
	return v;
}

/* Each test numbers its values from 0, also when check runs them in one process. */
static void
values_reset(void)
{
	memset(freed, 0, sizeof(freed));
	next_id = 0;
}

/* Every value handed out so far was freed exactly once. */
static void
assert_all_freed_once(void)
{
	for (int i = 0; i < next_id; i++)
		if (freed[i] != 1)
			ck_abort_msg("value %d freed %u times", i, freed[i]);
}

static int
put(struct ttlcache *c, const char *key, int *value, size_t bytes, int64_t fresh,
    int64_t keep, int64_t now)
{
	return ttlcache_put(c, key, strlen(key), value, bytes, fresh, keep, now);
}

static int *
get(struct ttlcache *c, const char *key, int64_t now, bool *fresh)
{
	return ttlcache_get(c, key, strlen(key), now, fresh);
}

START_TEST(entry_is_fresh_until_its_fresh_deadline_then_stale_until_its_keep_deadline)
{
	struct ttlcache *c = ttlcache_new(10, 1000, count_free);
	int *v = value_new();
	bool fresh = false;

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(put(c, "a", v, 1, 100, 200, 0), 0);
	ck_assert_ptr_eq(get(c, "a", 0, &fresh), v);
	ck_assert(fresh);
	ck_assert_ptr_eq(get(c, "a", 99, &fresh), v);
	ck_assert(fresh);
	ck_assert_ptr_eq(get(c, "a", 100, &fresh), v);
	ck_assert(!fresh);
	ck_assert_ptr_eq(get(c, "a", 199, &fresh), v);
	ck_assert(!fresh);
	ck_assert_int_eq(freed[*v], 0);
	ttlcache_free(c);
	assert_all_freed_once();
}
END_TEST

START_TEST(entry_past_its_keep_deadline_misses_and_is_freed)
{
	struct ttlcache *c = ttlcache_new(10, 1000, count_free);
	int *v = value_new();
	bool fresh = true;

	ck_assert_int_eq(put(c, "a", v, 7, 100, 200, 0), 0);
	ck_assert_ptr_null(get(c, "a", 200, &fresh));
	ck_assert(!fresh);
	ck_assert_uint_eq(ttlcache_count(c), 0);
	ck_assert_uint_eq(ttlcache_bytes(c), 0);
	ck_assert_uint_eq(ttlcache_evictions(c), 0);	/* expiry is not eviction */
	ck_assert_uint_eq(freed[0], 1);
	ck_assert_ptr_null(get(c, "a", 0, NULL));	/* gone even for an earlier clock */
	ttlcache_free(c);
	assert_all_freed_once();
}
END_TEST

START_TEST(miss_on_an_unknown_key_leaves_fresh_false)
{
	struct ttlcache *c = ttlcache_new(10, 1000, count_free);
	bool fresh = true;

	ck_assert_ptr_null(get(c, "nothing", 0, &fresh));
	ck_assert(!fresh);
	ttlcache_free(c);
}
END_TEST

START_TEST(keep_deadline_before_fresh_deadline_is_raised_to_it)
{
	struct ttlcache *c = ttlcache_new(10, 1000, count_free);
	int *v = value_new();
	bool fresh;

	ck_assert_int_eq(put(c, "a", v, 1, 100, 50, 0), 0);
	ck_assert_ptr_eq(get(c, "a", 75, &fresh), v);
	ck_assert(fresh);
	ck_assert_ptr_null(get(c, "a", 100, &fresh));
	ttlcache_free(c);
	assert_all_freed_once();
}
END_TEST

START_TEST(put_replaces_the_value_its_bytes_and_deadlines)
{
	struct ttlcache *c = ttlcache_new(10, 1000, count_free);
	int *v1 = value_new(), *v2 = value_new();
	bool fresh;

	ck_assert_int_eq(put(c, "a", v1, 100, 10, 20, 0), 0);
	ck_assert_int_eq(put(c, "a", v2, 30, 50, 60, 5), 0);
	ck_assert_uint_eq(freed[0], 1);			/* the old value, at once */
	ck_assert_uint_eq(freed[1], 0);
	ck_assert_uint_eq(ttlcache_count(c), 1);
	ck_assert_uint_eq(ttlcache_bytes(c), 30);
	ck_assert_ptr_eq(get(c, "a", 40, &fresh), v2);
	ck_assert(fresh);
	ck_assert_uint_eq(ttlcache_evictions(c), 0);
	ttlcache_free(c);
	assert_all_freed_once();
}
END_TEST

START_TEST(putting_the_same_value_again_does_not_free_it)
{
	struct ttlcache *c = ttlcache_new(10, 1000, count_free);
	int *v = value_new();

	ck_assert_int_eq(put(c, "a", v, 10, 10, 20, 0), 0);
	ck_assert_int_eq(put(c, "a", v, 20, 30, 40, 0), 0);
	ck_assert_uint_eq(freed[0], 0);
	ck_assert_uint_eq(ttlcache_bytes(c), 20);
	ck_assert_ptr_eq(get(c, "a", 25, NULL), v);
	ttlcache_free(c);
	assert_all_freed_once();
}
END_TEST

START_TEST(entry_bound_evicts_the_least_recently_used)
{
	struct ttlcache *c = ttlcache_new(3, 1000, count_free);
	int *a = value_new(), *b = value_new(), *cc = value_new(), *d = value_new();

	ck_assert_int_eq(put(c, "a", a, 1, 100, 100, 0), 0);
	ck_assert_int_eq(put(c, "b", b, 1, 100, 100, 1), 0);
	ck_assert_int_eq(put(c, "c", cc, 1, 100, 100, 2), 0);
	ck_assert_ptr_eq(get(c, "a", 3, NULL), a);	/* a is now the most recent: b goes */
	ck_assert_int_eq(put(c, "d", d, 1, 100, 100, 4), 0);
	ck_assert_uint_eq(ttlcache_count(c), 3);
	ck_assert_uint_eq(ttlcache_evictions(c), 1);
	ck_assert_uint_eq(freed[1], 1);
	ck_assert_ptr_null(get(c, "b", 5, NULL));
	ck_assert_ptr_eq(get(c, "a", 5, NULL), a);
	ck_assert_ptr_eq(get(c, "c", 5, NULL), cc);
	ck_assert_ptr_eq(get(c, "d", 5, NULL), d);
	ttlcache_free(c);
	assert_all_freed_once();
}
END_TEST

START_TEST(replacing_an_entry_makes_it_the_most_recently_used)
{
	struct ttlcache *c = ttlcache_new(2, 1000, count_free);

	ck_assert_int_eq(put(c, "a", value_new(), 1, 100, 100, 0), 0);
	ck_assert_int_eq(put(c, "b", value_new(), 1, 100, 100, 0), 0);
	ck_assert_int_eq(put(c, "a", value_new(), 1, 100, 100, 0), 0);
	ck_assert_int_eq(put(c, "c", value_new(), 1, 100, 100, 0), 0);
	ck_assert_ptr_null(get(c, "b", 1, NULL));
	ck_assert_ptr_nonnull(get(c, "a", 1, NULL));
	ttlcache_free(c);
	assert_all_freed_once();
}
END_TEST

START_TEST(byte_bound_evicts_the_least_recently_used_until_the_value_fits)
{
	struct ttlcache *c = ttlcache_new(100, 100, count_free);
	int *a = value_new(), *b = value_new(), *cc = value_new(), *d = value_new();

	ck_assert_int_eq(put(c, "a", a, 40, 100, 100, 0), 0);
	ck_assert_int_eq(put(c, "b", b, 40, 100, 100, 0), 0);
	ck_assert_int_eq(put(c, "c", cc, 20, 100, 100, 0), 0);
	ck_assert_uint_eq(ttlcache_bytes(c), 100);
	ck_assert_ptr_eq(get(c, "a", 1, NULL), a);
	ck_assert_int_eq(put(c, "d", d, 50, 100, 100, 1), 0);	/* b, then c must go */
	ck_assert_uint_eq(ttlcache_bytes(c), 90);
	ck_assert_uint_eq(ttlcache_count(c), 2);
	ck_assert_uint_eq(ttlcache_evictions(c), 2);
	ck_assert_ptr_null(get(c, "b", 2, NULL));
	ck_assert_ptr_null(get(c, "c", 2, NULL));
	ck_assert_ptr_eq(get(c, "a", 2, NULL), a);
	ck_assert_ptr_eq(get(c, "d", 2, NULL), d);
	ttlcache_free(c);
	assert_all_freed_once();
}
END_TEST

START_TEST(value_larger_than_the_byte_bound_is_refused_and_freed)
{
	struct ttlcache *c = ttlcache_new(10, 100, count_free);
	int *small = value_new(), *big = value_new();

	ck_assert_int_eq(put(c, "a", small, 10, 100, 100, 0), 0);
	ck_assert_int_eq(put(c, "b", big, 101, 100, 100, 0), -1);
	ck_assert_uint_eq(freed[1], 1);
	ck_assert_uint_eq(ttlcache_count(c), 1);
	ck_assert_uint_eq(ttlcache_bytes(c), 10);
	ck_assert_ptr_null(get(c, "b", 1, NULL));
	ck_assert_int_eq(put(c, "c", value_new(), 100, 100, 100, 0), 0);	/* exactly fits */
	ck_assert_uint_eq(ttlcache_count(c), 1);
	ttlcache_free(c);
	assert_all_freed_once();
}
END_TEST

START_TEST(refused_replacement_drops_the_older_answer_too)
{
	struct ttlcache *c = ttlcache_new(10, 100, count_free);

	ck_assert_int_eq(put(c, "a", value_new(), 10, 100, 100, 0), 0);
	ck_assert_int_eq(put(c, "a", value_new(), 500, 100, 100, 0), -1);
	ck_assert_ptr_null(get(c, "a", 1, NULL));
	ck_assert_uint_eq(ttlcache_count(c), 0);
	ck_assert_uint_eq(ttlcache_bytes(c), 0);
	ttlcache_free(c);
	assert_all_freed_once();
}
END_TEST

START_TEST(zero_entry_bound_refuses_every_value)
{
	struct ttlcache *c = ttlcache_new(0, 100, count_free);

	ck_assert_int_eq(put(c, "a", value_new(), 1, 100, 100, 0), -1);
	ck_assert_uint_eq(ttlcache_count(c), 0);
	ttlcache_free(c);
	assert_all_freed_once();
}
END_TEST

START_TEST(expired_entries_at_the_tail_go_before_live_ones_and_are_not_evictions)
{
	struct ttlcache *c = ttlcache_new(2, 1000, count_free);
	int *a = value_new(), *b = value_new(), *cc = value_new();

	ck_assert_int_eq(put(c, "a", a, 1, 10, 10, 0), 0);
	ck_assert_int_eq(put(c, "b", b, 1, 100, 100, 0), 0);
	ck_assert_int_eq(put(c, "c", cc, 1, 100, 100, 20), 0);
	ck_assert_uint_eq(freed[0], 1);
	ck_assert_uint_eq(ttlcache_evictions(c), 0);
	ck_assert_ptr_eq(get(c, "b", 21, NULL), b);
	ck_assert_ptr_eq(get(c, "c", 21, NULL), cc);
	ttlcache_free(c);
	assert_all_freed_once();
}
END_TEST

START_TEST(remove_drops_the_entry_and_frees_its_value)
{
	struct ttlcache *c = ttlcache_new(10, 1000, count_free);
	int *a = value_new(), *b = value_new();

	ck_assert_int_eq(put(c, "a", a, 3, 100, 100, 0), 0);
	ck_assert_int_eq(put(c, "b", b, 4, 100, 100, 0), 0);
	ttlcache_remove(c, "a", 1);
	ck_assert_uint_eq(freed[0], 1);
	ck_assert_uint_eq(ttlcache_count(c), 1);
	ck_assert_uint_eq(ttlcache_bytes(c), 4);
	ck_assert_ptr_null(get(c, "a", 1, NULL));
	ttlcache_remove(c, "a", 1);			/* absent: no-op */
	ttlcache_remove(c, "zzz", 3);
	ck_assert_ptr_eq(get(c, "b", 1, NULL), b);
	ck_assert_uint_eq(ttlcache_evictions(c), 0);
	ttlcache_free(c);
	assert_all_freed_once();
}
END_TEST

START_TEST(keys_are_byte_strings_not_c_strings)
{
	struct ttlcache *c = ttlcache_new(10, 1000, count_free);
	int *a = value_new(), *b = value_new(), *empty = value_new();

	ck_assert_int_eq(ttlcache_put(c, "k\0x", 3, a, 1, 100, 100, 0), 0);
	ck_assert_int_eq(ttlcache_put(c, "k\0y", 3, b, 1, 100, 100, 0), 0);
	ck_assert_int_eq(ttlcache_put(c, NULL, 0, empty, 1, 100, 100, 0), 0);
	ck_assert_ptr_eq(ttlcache_get(c, "k\0x", 3, 1, NULL), a);
	ck_assert_ptr_eq(ttlcache_get(c, "k\0y", 3, 1, NULL), b);
	ck_assert_ptr_null(ttlcache_get(c, "k", 1, 1, NULL));
	ck_assert_ptr_eq(ttlcache_get(c, "", 0, 1, NULL), empty);
	ttlcache_free(c);
	assert_all_freed_once();
}
END_TEST

START_TEST(free_value_runs_exactly_once_for_every_value)
{
	struct ttlcache *c = ttlcache_new(50, 400, count_free);
	char key[32];
	uint32_t x = 12345;

	/* A deterministic mix of puts, replacements, refusals, expiries, removals, evictions. */
	for (int i = 0; i < 20000; i++) {
		int64_t now = i;
		int k;

		x = x * 1103515245u + 12345u;
		k = (int)((x >> 8) % 120);
		snprintf(key, sizeof(key), "key-%d", k);
		switch ((x >> 20) % 4) {
		case 0:
		case 1:
			(void)put(c, key, value_new(), (x >> 4) % 60, now + (x % 50),
			    now + 20 + (x % 100), now);
			break;
		case 2:
			(void)get(c, key, now, NULL);
			break;
		case 3:
			ttlcache_remove(c, key, strlen(key));
			break;
		}
		if (ttlcache_count(c) > 50 || ttlcache_bytes(c) > 400)
			ck_abort_msg("out of bounds at step %d", i);
	}
	ck_assert_int_eq(put(c, "too big", value_new(), 401, 0, 0, 0), -1);
	ttlcache_free(c);
	assert_all_freed_once();
}
END_TEST

START_TEST(hundred_thousand_distinct_keys_stay_within_bounds)
{
	struct ttlcache *c = ttlcache_new(1000, 50000, count_free);
	char key[32];

	for (int i = 0; i < 100000; i++) {
		snprintf(key, sizeof(key), "serial-%d", i);
		if (put(c, key, value_new(), 40, 1000000, 1000000, i) != 0 ||
		    ttlcache_count(c) > 1000 || ttlcache_bytes(c) > 50000)
			ck_abort_msg("put %d failed or broke a bound", i);
	}
	ck_assert_uint_eq(ttlcache_count(c), 1000);
	ck_assert_uint_eq(ttlcache_evictions(c), 100000 - 1000);
	for (int i = 99000; i < 100000; i++) {
		int *v;

		snprintf(key, sizeof(key), "serial-%d", i);
		v = get(c, key, 100000, NULL);
		if (v == NULL || *v != i)
			ck_abort_msg("%s missed", key);
	}
	snprintf(key, sizeof(key), "serial-%d", 98999);
	ck_assert_ptr_null(get(c, key, 100000, NULL));
	ttlcache_free(c);
	assert_all_freed_once();
}
END_TEST

START_TEST(hundred_thousand_keys_that_fit_all_hit)
{
	struct ttlcache *c = ttlcache_new(100000, 100000, count_free);
	char key[32];

	for (int i = 0; i < 100000; i++) {
		snprintf(key, sizeof(key), "serial-%d", i);
		if (put(c, key, value_new(), 1, 10, 10, 0) != 0)
			ck_abort_msg("put %d failed", i);
	}
	ck_assert_uint_eq(ttlcache_count(c), 100000);
	ck_assert_uint_eq(ttlcache_evictions(c), 0);
	for (int i = 0; i < 100000; i++) {
		int *v;

		snprintf(key, sizeof(key), "serial-%d", i);
		v = get(c, key, 5, NULL);
		if (v == NULL || *v != i)
			ck_abort_msg("%s missed", key);
	}
	ttlcache_free(c);
	assert_all_freed_once();
}
END_TEST

START_TEST(free_without_free_value_and_free_null_are_safe)
{
	struct ttlcache *c = ttlcache_new(10, 100, NULL);
	static int stat = 1;

	ck_assert_int_eq(ttlcache_put(c, "a", 1, &stat, 1, 10, 10, 0), 0);
	ck_assert_ptr_eq(ttlcache_get(c, "a", 1, 0, NULL), &stat);
	ttlcache_free(c);
	ttlcache_free(NULL);
}
END_TEST

static Suite *
ttlcache_suite(void)
{
	Suite *s = suite_create("ttlcache");
	TCase *tc = tcase_create("ttlcache");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, values_reset, NULL);
	tcase_add_test(tc, entry_is_fresh_until_its_fresh_deadline_then_stale_until_its_keep_deadline);
	tcase_add_test(tc, entry_past_its_keep_deadline_misses_and_is_freed);
	tcase_add_test(tc, miss_on_an_unknown_key_leaves_fresh_false);
	tcase_add_test(tc, keep_deadline_before_fresh_deadline_is_raised_to_it);
	tcase_add_test(tc, put_replaces_the_value_its_bytes_and_deadlines);
	tcase_add_test(tc, putting_the_same_value_again_does_not_free_it);
	tcase_add_test(tc, entry_bound_evicts_the_least_recently_used);
	tcase_add_test(tc, replacing_an_entry_makes_it_the_most_recently_used);
	tcase_add_test(tc, byte_bound_evicts_the_least_recently_used_until_the_value_fits);
	tcase_add_test(tc, value_larger_than_the_byte_bound_is_refused_and_freed);
	tcase_add_test(tc, refused_replacement_drops_the_older_answer_too);
	tcase_add_test(tc, zero_entry_bound_refuses_every_value);
	tcase_add_test(tc, expired_entries_at_the_tail_go_before_live_ones_and_are_not_evictions);
	tcase_add_test(tc, remove_drops_the_entry_and_frees_its_value);
	tcase_add_test(tc, keys_are_byte_strings_not_c_strings);
	tcase_add_test(tc, free_value_runs_exactly_once_for_every_value);
	tcase_add_test(tc, hundred_thousand_distinct_keys_stay_within_bounds);
	tcase_add_test(tc, hundred_thousand_keys_that_fit_all_hit);
	tcase_add_test(tc, free_without_free_value_and_free_null_are_safe);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ttlcache_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
