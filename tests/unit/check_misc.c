/*
 * check_misc.c - the generator, CSV tables, class lists, string maps and
 * checked arithmetic.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/record/classes.h"
#include "common/base/rng.h"
#include "common/base/strmap.h"
#include "common/clinical/table.h"
#include "common/base/util.h"
#include "suites.h"

START_TEST(test_rng_keyed)
{
	struct rng a, b, c;

	rng_seed(&a, 7, "P001/x.png");
	rng_seed(&b, 7, "P001/x.png");
	rng_seed(&c, 8, "P001/x.png");
	for (int i = 0; i < 100; i++) {
		uint64_t x = rng_u64(&a);
		ck_assert_uint_eq(x, rng_u64(&b));
		ck_assert_uint_ne(x, rng_u64(&c));
	}
	/* moments of the two distributions */
	double s = 0, s2 = 0;
	int n = 200000;
	for (int i = 0; i < n; i++) {
		double u = rng_uniform(&a);
		ck_assert(u >= 0 && u < 1);
		s += u;
	}
	ck_assert_double_eq_tol(s / n, 0.5, 0.005);
	s = 0;
	for (int i = 0; i < n; i++) {
		double z = rng_normal(&a);
		s += z;
		s2 += z * z;
	}
	ck_assert_double_eq_tol(s / n, 0, 0.01);
	ck_assert_double_eq_tol(s2 / n, 1, 0.02);
}
END_TEST

static char *
write_tmp(const char *text)
{
	static char path[64];
	FILE *fp;

	strcpy(path, "/tmp/osteo-unit-XXXXXX");
	int fd = mkstemp(path);
	fp = fdopen(fd, "w");
	fputs(text, fp);
	fclose(fp);
	return path;
}

START_TEST(test_table_rfc4180)
{
	char *p = write_tmp("\xef\xbb\xbfpatient,note,age\r\nP1,\"a, b\",30\nP2,\"two\nlines \"\"q\"\"\",\n");
	struct table *t = table_load(p);

	ck_assert_int_eq(t->ncols, 3);
	ck_assert_uint_eq(t->nrows, 2);
	ck_assert_int_eq(table_col(t, "patient"), 0);
	ck_assert_int_eq(table_col(t, "age"), 2);
	ck_assert_int_eq(table_col(t, "nope"), -1);
	ck_assert_str_eq(table_cell(t, 0, 1), "a, b");
	ck_assert_str_eq(table_cell(t, 1, 1), "two\nlines \"q\"");
	ck_assert_str_eq(table_cell(t, 1, 2), "");
	table_free(t);
	unlink(p);
}
END_TEST

START_TEST(test_table_ragged)
{
	char *p = write_tmp("a,b\n1,2\n3\n");

	table_load(p);
}
END_TEST

START_TEST(test_table_missing)
{
	table_load("/nonexistent/osteo.csv");
}
END_TEST

START_TEST(test_classes)
{
	struct classes c;

	classes_parse(&c, DEFAULT_CLASSES, "test");
	ck_assert_int_eq(c.n, 3);
	ck_assert_int_eq(classes_find(&c, "osteopenia", 10), 1);
	ck_assert_int_eq(classes_find(&c, "osteo", 5), -1);
	ck_assert_int_eq(classes_label(&c, "osteoporosis"), 2);
	ck_assert_int_eq(classes_label(&c, "0"), 0);
	ck_assert_int_eq(classes_label(&c, "3"), -1);
	ck_assert_int_eq(classes_label(&c, "2x"), -1);
	ck_assert_int_eq(classes_label(&c, ""), -1);
}
END_TEST

START_TEST(test_classes_duplicate)
{
	struct classes c;

	classes_parse(&c, "a,b,a", "test");
}
END_TEST

START_TEST(test_strmap)
{
	struct strmap m;
	char key[32];

	strmap_init(&m);
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "k%d", i);
		ck_assert_int_eq(strmap_put(&m, key, i), 0);
	}
	ck_assert_int_eq(strmap_put(&m, "k17", 99), 1);
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "k%d", i);
		ck_assert_int_eq(strmap_get(&m, key), i);
	}
	ck_assert_int_eq(strmap_get(&m, "k5000"), -1);
	ck_assert_int_eq(strmap_getn(&m, "k12xyz", 3), 12);
	strmap_free(&m);
}
END_TEST

START_TEST(test_checked_arithmetic)
{
	size_t r;

	ck_assert(mul_ok(1 << 20, 1 << 20, &r) && r == (size_t)1 << 40);
	ck_assert(!mul_ok(SIZE_MAX / 2, 3, &r));
	ck_assert(!add_ok(SIZE_MAX, 1, &r));
}
END_TEST

START_TEST(test_bad_number_option)
{
	estrtonum("12abc", 0, 100, "--test");
}
END_TEST

Suite *
misc_suite(void)
{
	Suite *s = suite_create("misc");
	TCase *tc = tcase_create("helpers");

	tcase_add_test(tc, test_rng_keyed);
	tcase_add_test(tc, test_table_rfc4180);
	tcase_add_exit_test(tc, test_table_ragged, EX_DATAERR);
	tcase_add_exit_test(tc, test_table_missing, EX_NOINPUT);
	tcase_add_test(tc, test_classes);
	tcase_add_exit_test(tc, test_classes_duplicate, EX_USAGE);
	tcase_add_test(tc, test_strmap);
	tcase_add_test(tc, test_checked_arithmetic);
	tcase_add_exit_test(tc, test_bad_number_option, EX_USAGE);
	suite_add_tcase(s, tc);
	return s;
}
