/*
 * check_xgb.c - common/baseline/xgb.c against python3-xgboost: the random forest and
 * the boosted trees of osteo-baseline's defaults (seed 5), fitted on
 * tests/fixtures/xgb/train.tsv through the C API, predict test.tsv as
 * XGBoost's Python package did with the same parameters (make-fixture.py
 * beside the fixtures), to 1e-6; a saved model predicts the same.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/baseline/xgb.h"
#include "suites.h"

#define D 6
#define K 3

/* label, then D features, per line */
static size_t
read_rows(const char *path, float *x, float *y, size_t max)
{
	FILE *fp = fopen(path, "r");
	size_t n = 0;

	ck_assert_msg(fp != NULL, "%s", path);
	while (n < max && fscanf(fp, "%f", &y[n]) == 1) {
		for (int j = 0; j < D; j++)
			ck_assert(fscanf(fp, "%f", &x[n * D + j]) == 1);
		n++;
	}
	fclose(fp);
	return n;
}

static void
against_python(enum xgb_model model, const char *name)
{
	static float x[400 * D], y[400], t[100 * D], ty[100], want[100 * K], got[100 * K], again[100 * K];
	char path[256], err[512];
	struct xgb_params p;

	size_t n = read_rows("fixtures/xgb/train.tsv", x, y, 400);
	size_t m = read_rows("fixtures/xgb/test.tsv", t, ty, 100);
	ck_assert(n == 240 && m == 60);
	snprintf(path, sizeof path, "fixtures/xgb/%s.expected", name);
	FILE *fp = fopen(path, "r");
	ck_assert(fp != NULL);
	for (size_t i = 0; i < m * K; i++)
		ck_assert(fscanf(fp, "%f", &want[i]) == 1);
	fclose(fp);
	xgb_defaults(&p, model);
	p.seed = 5;
	void *b = xgb_fit(x, y, NULL, n, D, K, &p, err, sizeof err);
	ck_assert_msg(b != NULL, "%s", err);
	ck_assert_msg(xgb_predict(b, t, m, D, K, got, err, sizeof err) == 0, "%s", err);
	for (size_t i = 0; i < m * K; i++)
		ck_assert_msg(fabsf(got[i] - want[i]) < 1e-6f, "%s: probability %zu is %.9g, python %.9g", name, i,
		              got[i], want[i]);
	const char *buf;
	size_t len;
	ck_assert(xgb_save(b, &buf, &len, err, sizeof err) == 0);
	void *b2 = xgb_load(buf, len, err, sizeof err);
	ck_assert_msg(b2 != NULL, "%s", err);
	ck_assert(xgb_predict(b2, t, m, D, K, again, err, sizeof err) == 0);
	ck_assert(memcmp(got, again, sizeof got) == 0);
	xgb_free(b2);
	xgb_free(b);
}

START_TEST(rf_as_python) { against_python(XGB_RF, "rf"); }
END_TEST
START_TEST(gbt_as_python) { against_python(XGB_GBT, "gbt"); }
END_TEST

Suite *
xgb_suite(void)
{
	Suite *s = suite_create("xgb");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, rf_as_python);
	tcase_add_test(tc, gbt_as_python);
	suite_add_tcase(s, tc);
	return s;
}
