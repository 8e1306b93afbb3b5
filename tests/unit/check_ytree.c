#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ytree.h"

static struct ytree *
parse(const char *yaml)
{
	char err[512] = "";
	struct ytree *t = ytree_parse("t.yaml", yaml, strlen(yaml), err, sizeof(err));

	ck_assert_msg(t != NULL, "parse failed: %s", err);
	return t;
}

START_TEST(nodes_carry_one_based_line_and_column)
{
	struct ytree *t = parse("a: 1\nb:\n  c: \"x\"\n  d: [p, q]\n");
	struct ytree_node *b = ytree_map_get(t->root, "b");
	struct ytree_node *c = ytree_map_get(b, "c"), *d = ytree_map_get(b, "d");

	ck_assert_uint_eq(b->key_mark.line, 2);
	ck_assert_uint_eq(b->key_mark.column, 1);
	ck_assert_uint_eq(c->key_mark.line, 3);
	ck_assert_uint_eq(c->key_mark.column, 3);
	ck_assert_uint_eq(c->mark.column, 6);
	ck_assert_str_eq(c->mark.origin, "t.yaml");
	ck_assert_int_eq(d->kind, YTREE_SEQUENCE);
	ck_assert_uint_eq(ytree_count(d), 2);
	ck_assert_str_eq(d->children->next->value, "q");
	ck_assert_uint_eq(d->children->next->mark.column, 10);
	ytree_free(t);
}
END_TEST

START_TEST(only_unquoted_null_spellings_are_null)
{
	struct ytree *t = parse("a: ~\nb: null\nc:\nd: \"~\"\ne: ''\nf: nil\n");

	ck_assert(ytree_is_null(ytree_map_get(t->root, "a")));
	ck_assert(ytree_is_null(ytree_map_get(t->root, "b")));
	ck_assert(ytree_is_null(ytree_map_get(t->root, "c")));
	ck_assert(!ytree_is_null(ytree_map_get(t->root, "d")));
	ck_assert(!ytree_is_null(ytree_map_get(t->root, "e")));
	ck_assert(!ytree_is_null(ytree_map_get(t->root, "f")));
	ytree_free(t);
}
END_TEST

START_TEST(duplicate_keys_are_kept_in_order)
{
	struct ytree *t = parse("a: 1\na: 2\n");

	ck_assert_uint_eq(ytree_count(t->root), 2);
	ck_assert_str_eq(ytree_map_get(t->root, "a")->value, "1");
	ytree_free(t);
}
END_TEST

START_TEST(empty_document_has_no_root)
{
	struct ytree *t = parse("# only a comment\n");

	ck_assert_ptr_null(t->root);
	ytree_free(t);
}
END_TEST

START_TEST(replace_keeps_the_key_and_position)
{
	struct ytree *t = parse("a: 1\nb: 2\nc: 3\n");
	struct ytree_mark m = { ytree_intern_origin(t, "test"), 0, 0 };
	struct ytree_node *n = ytree_node_new(YTREE_SCALAR, &m, "20");

	ytree_replace(t, ytree_map_get(t->root, "b"), n);
	ck_assert_str_eq(ytree_map_get(t->root, "b")->value, "20");
	ck_assert_str_eq(t->root->children->next->key, "b");
	ck_assert_str_eq(t->root->children->next->next->key, "c");
	ck_assert_uint_eq(ytree_map_get(t->root, "b")->key_mark.line, 2);
	ck_assert_str_eq(ytree_map_get(t->root, "b")->mark.origin, "test");
	ytree_free(t);
}
END_TEST

START_TEST(oversized_input_is_refused)
{
	size_t len = YTREE_MAX_BYTES + 1;
	char *buf = malloc(len), err[256];

	memset(buf, ' ', len);
	ck_assert_ptr_null(ytree_parse("big.yaml", buf, len, err, sizeof(err)));
	ck_assert_str_eq(err, "big.yaml: file is larger than 1048576 bytes");
	free(buf);
}
END_TEST

START_TEST(unreadable_files_are_named_with_the_reason)
{
	char err[256];

	ck_assert_ptr_null(ytree_load_file("/nonexistent/revgate.yaml", err, sizeof(err)));
	ck_assert_str_eq(err, "/nonexistent/revgate.yaml: cannot open configuration file: "
	    "No such file or directory");
	ck_assert_ptr_null(ytree_load_file("/", err, sizeof(err)));
	ck_assert_str_eq(err, "/: not a regular file");
}
END_TEST

START_TEST(files_are_read_whole)
{
	char path[] = "/tmp/check_ytree_XXXXXX", err[256];
	int fd = mkstemp(path);
	struct ytree *t;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "k: v\n", 5), 5);
	close(fd);
	t = ytree_load_file(path, err, sizeof(err));
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(ytree_map_get(t->root, "k")->value, "v");
	ck_assert_str_eq(ytree_map_get(t->root, "k")->mark.origin, path);
	ytree_free(t);
	unlink(path);
}
END_TEST

static Suite *
ytree_suite(void)
{
	Suite *s = suite_create("ytree");
	TCase *tc = tcase_create("tree");

	tcase_add_test(tc, nodes_carry_one_based_line_and_column);
	tcase_add_test(tc, only_unquoted_null_spellings_are_null);
	tcase_add_test(tc, duplicate_keys_are_kept_in_order);
	tcase_add_test(tc, empty_document_has_no_root);
	tcase_add_test(tc, replace_keeps_the_key_and_position);
	tcase_add_test(tc, oversized_input_is_refused);
	tcase_add_test(tc, unreadable_files_are_named_with_the_reason);
	tcase_add_test(tc, files_are_read_whole);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ytree_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
