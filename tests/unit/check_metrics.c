/*
 * check_metrics.c - common/eval/metrics.c against scikit-learn: the fixtures in
 * tests/fixtures/metrics (random labels and probabilities with many ties,
 * a class that is never the truth, a class never predicted, and the
 * example of osteo-metrics(1)) were made by make-fixtures.py beside them.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/model/fusion.h"
#include "common/base/util.h"
#include "common/eval/metrics.h"
#include "suites.h"

#define TOL 1e-6

struct fixture_value {
	char key[64];
	double v;
};

static struct fixture_value ex[4096];
static int nex;

static void
load(const char *name, struct samples *s)
{
	char path[256], line[4096];
	FILE *fp;
	int k = 0;

	snprintf(path, sizeof path, "fixtures/metrics/%s.tsv", name);
	fp = fopen(path, "r");
	ck_assert_msg(fp != NULL, "cannot open %s (run the tests from tests/)", path);
	ck_assert(fgets(line, sizeof line, fp) != NULL);
	for (char *t = line; (t = strchr(t, '\t')); t++)
		k++;
	samples_init(s, k);
	while (fgets(line, sizeof line, fp)) {
		double p[16];
		char *e;
		int y = (int)strtol(line, &e, 10);

		for (int c = 0; c < k; c++)
			p[c] = strtod(e, &e);
		samples_add(s, y, p, s->n);
	}
	fclose(fp);
	snprintf(path, sizeof path, "fixtures/metrics/%s.expected", name);
	fp = fopen(path, "r");
	ck_assert_msg(fp != NULL, "cannot open %s", path);
	nex = 0;
	while (nex < 4096 && fscanf(fp, "%63s %lf", ex[nex].key, &ex[nex].v) == 2)
		nex++;
	fclose(fp);
}

static int
has(const char *key, double *v)
{
	for (int i = 0; i < nex; i++)
		if (!strcmp(ex[i].key, key)) {
			*v = ex[i].v;
			return 1;
		}
	return 0;
}

static void
near(double got, const char *fmt, ...)
{
	char key[64];
	double want;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(key, sizeof key, fmt, ap);
	va_end(ap);
	ck_assert_msg(has(key, &want), "%s missing from the fixture", key);
	if (isnan(want)) {
		ck_assert_msg(isnan(got), "%s: got %.9g, want null", key, got);
		return;
	}
	ck_assert_msg(fabs(got - want) <= TOL, "%s: got %.9g, want %.9g", key, got, want);
}

struct roc {
	int n;
	double t[1024], fpr[1024], tpr[1024];
};

static void
roc_point(void *ctx, double threshold, double fpr, double tpr)
{
	struct roc *r = ctx;

	ck_assert_int_lt(r->n, 1024);
	r->t[r->n] = threshold;
	r->fpr[r->n] = fpr;
	r->tpr[r->n] = tpr;
	r->n++;
}

static void
against_sklearn(const char *name)
{
	struct samples s;
	struct metrics m;
	struct metrics_work w = { 0 };
	double v;

	load(name, &s);
	metrics_init(&m, s.k, 10);
	metrics_compute(&s, NULL, s.n, &m, &w);
	near(m.n, "n");
	near(m.accuracy, "accuracy");
	for (int c = 0; c < s.k; c++) {
		struct roc r = { 0 };

		near(m.cls[c].sens, "sens.%d", c);
		near(m.cls[c].spec, "spec.%d", c);
		near(m.cls[c].prec, "prec.%d", c);
		near(m.cls[c].f1, "f1.%d", c);
		near(m.cls[c].support, "support.%d", c);
		near(m.cls[c].brier, "brier.%d", c);
		near(m.cls[c].auc, "auc.%d", c);
		near(metrics_auc(&s, NULL, s.n, c, &w), "auc.%d", c);
		metrics_roc(&s, c, &w, roc_point, &r);
		if (isnan(m.cls[c].auc)) {
			ck_assert_int_eq(r.n, 0);
			continue;
		}
		near(r.n, "roc.%d.points", c);
		ck_assert(isinf(r.t[0]) && r.fpr[0] == 0 && r.tpr[0] == 0);
		for (int i = 1; i < r.n; i++) {
			near(r.t[i], "roc.%d.%d.threshold", c, i);
			near(r.fpr[i], "roc.%d.%d.fpr", c, i);
			near(r.tpr[i], "roc.%d.%d.tpr", c, i);
		}
	}
	near(m.macro.prec, "macro.prec");
	near(m.macro.sens, "macro.sens");
	near(m.macro.f1, "macro.f1");
	near(m.weighted.prec, "weighted.prec");
	near(m.weighted.sens, "weighted.sens");
	near(m.weighted.f1, "weighted.f1");
	near(m.macro.auc, "auc_macro");
	near(m.weighted.auc, "auc_weighted");
	if (has("auc_macro_ovr", &v))
		near(m.macro.auc, "auc_macro_ovr");
	for (int i = 0; i < s.k; i++)
		for (int j = 0; j < s.k; j++)
			near(m.confusion[i * s.k + j], "confusion.%d.%d", i, j);
	near(m.brier, "brier");
	near(m.ece, "ece");
	metrics_free(&m);
	metrics_work_free(&w);
	samples_free(&s);
}

START_TEST(sklearn_three) { against_sklearn("three"); }
END_TEST

START_TEST(sklearn_four) { against_sklearn("four"); }
END_TEST

START_TEST(sklearn_hand) { against_sklearn("hand"); }
END_TEST

/* intervals repeat with the seed, hold the point estimate, and resample
 * patients whole: when both records of every patient agree, every
 * replicate's accuracy is a whole number of patients over the patients */
START_TEST(bootstrap_patients)
{
	struct samples s;
	struct metrics m;
	struct metrics_work w = { 0 };
	struct bootstrap_ci a, b;

	samples_init(&s, 2);
	for (int i = 0; i < 40; i++) {
		double p[2] = { i % 3 ? 0.8 : 0.3, 0 };

		p[1] = 1 - p[0];
		samples_add(&s, 0, p, i / 2);
		p[0] = i % 5 ? 0.3 : 0.6;
		p[1] = 1 - p[0];
		samples_add(&s, 1, p, 20 + i / 2);
	}
	metrics_init(&m, 2, 10);
	metrics_compute(&s, NULL, s.n, &m, &w);
	metrics_bootstrap(&s, 500, 7, 0.95, &a);
	metrics_bootstrap(&s, 500, 7, 0.95, &b);
	ck_assert(memcmp(&a, &b, sizeof a) == 0);
	ck_assert(a.acc[0] < m.accuracy && m.accuracy < a.acc[1]);
	ck_assert(a.f1[0] < m.macro.f1 && m.macro.f1 < a.f1[1]);
	ck_assert(a.auc[0] < m.macro.auc && m.macro.auc < a.auc[1]);
	metrics_bootstrap(&s, 500, 8, 0.95, &b);
	ck_assert(memcmp(&a, &b, sizeof a) != 0);
	metrics_free(&m);
	metrics_work_free(&w);
	samples_free(&s);
}
END_TEST

START_TEST(binary_and_youden)
{
	struct samples s;
	struct metrics_work w = { 0 };
	struct binary_cut b;
	double p[6][3] = { { .7, .2, .1 }, { .4, .5, .1 }, { .2, .6, .2 },
	                   { .3, .3, .4 }, { .1, .2, .7 }, { .2, .2, .6 } };

	samples_init(&s, 3);
	for (int i = 0; i < 6; i++)
		samples_add(&s, i / 2, p[i], i);
	metrics_binary(&s, 2, 0.5, &b);
	ck_assert(b.tp == 2 && b.fp == 0 && b.tn == 4 && b.fn == 0);
	metrics_binary(&s, 2, 0.3, &b);
	ck_assert(b.tp == 2 && b.fp == 1 && b.tn == 3 && b.fn == 0);
	ck_assert(fabs(b.spec - 0.75) < 1e-12 && fabs(b.ppv - 2.0 / 3) < 1e-12 && b.npv == 1);
	ck_assert(fabs(metrics_youden(&s, 2, &w) - 0.6) < 1e-12);
	metrics_work_free(&w);
	samples_free(&s);
}
END_TEST

/* a hand-worked case: patients 5, 9, 5, 2, 9 (units), one call each */
START_TEST(per_patient)
{
	struct samples s;
	struct metrics m;
	struct metrics_work w = { 0 };
	double p[5][2] = { { .9, .1 }, { .2, .8 }, { .5, .5 }, { .6, .4 }, { .4, .6 } };
	int unit[5] = { 5, 9, 5, 2, 9 }, label[5] = { 0, 1, 0, 0, 1 };
	size_t bad = 0;

	for (int use_max = 0; use_max < 2; use_max++) {
		samples_init(&s, 2);
		for (int i = 0; i < 5; i++)
			samples_add(&s, label[i], p[i], unit[i]);
		ck_assert_int_eq(samples_per_patient(&s, use_max, &bad), 0);
		ck_assert_uint_eq(s.n, 3);
		/* in the order of the first records: 5, 9, 2 */
		ck_assert(s.unit[0] == 5 && s.unit[1] == 9 && s.unit[2] == 2);
		ck_assert(s.label[0] == 0 && s.label[1] == 1 && s.label[2] == 0);
		/* mean: (.7, .3), (.3, .7), (.6, .4); max: (.9, .5)/1.4, (.4, .8)/1.2, (.6, .4) */
		double want[2][6] = { { .7, .3, .3, .7, .6, .4 }, { .9 / 1.4, .5 / 1.4, .4 / 1.2, .8 / 1.2, .6, .4 } };
		for (int j = 0; j < 6; j++)
			ck_assert(fabs(s.p[j] - want[use_max][j]) < 1e-12);
		metrics_init(&m, 2, 10);
		metrics_compute(&s, NULL, s.n, &m, &w);
		ck_assert(fabs(m.accuracy - 1) < 1e-12);
		metrics_free(&m);
		samples_free(&s);
	}
	/* a patient whose images disagree on the label */
	samples_init(&s, 2);
	samples_add(&s, 0, p[0], 0);
	samples_add(&s, 1, p[1], 1);
	samples_add(&s, 1, p[2], 0);
	ck_assert_int_eq(samples_per_patient(&s, 0, &bad), -1);
	ck_assert_uint_eq(bad, 0);
	samples_free(&s);
	metrics_work_free(&w);
}
END_TEST

/* temperature scaling against scipy's bounded minimiser (make-calibration.py) */
START_TEST(temperature_as_scipy)
{
	struct samples s;
	double want, p[3];

	load("calib", &s);
	double t = metrics_temperature(&s);
	ck_assert(has("temperature", &want));
	ck_assert_msg(fabs(t - want) < 1e-6 * want, "temperature %.9g, scipy %.9g", t, want);
	memcpy(p, s.p, sizeof p);
	metrics_temper(p, 3, t);
	for (int c = 0; c < 3; c++) {
		char key[16];
		snprintf(key, sizeof key, "row0.p%d", c);
		ck_assert(has(key, &want));
		ck_assert_msg(fabs(p[c] - want) < 1e-6, "%s %.9g, scipy %.9g", key, p[c], want);
	}
	/* a temperature of 1 changes nothing; a zero stays zero */
	double q[3] = { 0.5, 0.5, 0 };
	metrics_temper(q, 3, 1);
	ck_assert(q[0] == 0.5 && q[2] == 0);
	metrics_temper(q, 3, 2);
	ck_assert(fabs(q[0] - 0.5) < 1e-15 && q[2] == 0);
	samples_free(&s);
}
END_TEST

/* late fusion's Newton fit against scipy's L-BFGS-B on the same objective
 * (make-fusion.py); the rows are label, three probabilities, four
 * clinical values */
START_TEST(fusion_as_scipy)
{
	struct samples s;
	struct fusion f;
	double want;

	load("fusion", &s);
	ck_assert_int_eq(s.k, 7);
	size_t n = s.n;
	double *p = emalloc(n * 3 * sizeof *p);
	float *clin = emalloc(n * 4 * sizeof *clin);
	int32_t *y = emalloc(n * sizeof *y);
	for (size_t i = 0; i < n; i++) {
		for (int c = 0; c < 3; c++)
			p[i * 3 + c] = s.p[i * 7 + c];
		for (int j = 0; j < 4; j++)
			clin[i * 4 + j] = (float)s.p[i * 7 + 3 + j];
		y[i] = s.label[i];
	}
	ck_assert_int_eq(fusion_fit(&f, 3, 4, p, clin, y, n, 0.03), 0);
	for (int i = 0; i < 8; i++)
		for (int c = 0; c < 3; c++) {
			char key[16];
			snprintf(key, sizeof key, "w%d.%d", i, c);
			ck_assert(has(key, &want));
			ck_assert_msg(fabs(f.w[i * 3 + c] - want) < 1e-5, "%s %.9g, scipy %.9g", key, f.w[i * 3 + c], want);
		}
	fusion_apply(&f, p, clin);
	for (int c = 0; c < 3; c++) {
		char key[16];
		snprintf(key, sizeof key, "row0.p%d", c);
		ck_assert(has(key, &want));
		ck_assert_msg(fabs(p[c] - want) < 1e-5, "%s %.9g, scipy %.9g", key, p[c], want);
	}
	fusion_free(&f);
	free(p);
	free(clin);
	free(y);
	samples_free(&s);
}
END_TEST

Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, sklearn_three);
	tcase_add_test(tc, sklearn_four);
	tcase_add_test(tc, sklearn_hand);
	tcase_add_test(tc, bootstrap_patients);
	tcase_add_test(tc, binary_and_youden);
	tcase_add_test(tc, per_patient);
	tcase_add_test(tc, temperature_as_scipy);
	tcase_add_test(tc, fusion_as_scipy);
	suite_add_tcase(s, tc);
	return s;
}
