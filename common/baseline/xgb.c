/*
 * xgb.c - XGBoost's C API behind xgb.h.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <xgboost/c_api.h>

#include "xgb.h"

void
xgb_defaults(struct xgb_params *p, enum xgb_model m)
{
	memset(p, 0, sizeof *p);
	p->model = m;
	if (m == XGB_RF) {
		p->trees = 200;
		p->depth = 8;
		p->eta = 1;
		p->subsample = 0.632;
		p->colsample = 0.5;
	} else {
		p->trees = 150;
		p->depth = 4;
		p->eta = 0.1;
		p->subsample = 0.8;
		p->colsample = 0.8;
	}
}

/* the name=value pairs both fit and the model file's meta say */
static int
pairs(const struct xgb_params *p, int k, const char *names[], char values[][32])
{
	int n = 0;
#define PUT(name, ...) (names[n] = (name), snprintf(values[n++], 32, __VA_ARGS__))
	PUT("objective", "multi:softprob");
	PUT("num_class", "%d", k);
	PUT("tree_method", "hist");
	PUT("max_depth", "%d", p->depth);
	PUT("eta", "%.17g", p->eta);
	PUT("subsample", "%.17g", p->subsample);
	PUT("seed", "%llu", p->seed % 2147483647ULL);
	PUT("nthread", "1");
	PUT("verbosity", "0");
	if (p->model == XGB_RF) {
		PUT("num_parallel_tree", "%d", p->trees);
		PUT("colsample_bynode", "%.17g", p->colsample);
	} else
		PUT("colsample_bytree", "%.17g", p->colsample);
#undef PUT
	return n;
}

void
xgb_describe(const struct xgb_params *p, char *buf, size_t n)
{
	const char *names[16];
	char values[16][32];
	int np = pairs(p, 0, names, values);
	size_t o = 0;

	buf[0] = 0;
	for (int i = 0; i < np && o < n; i++)
		if (strcmp(names[i], "num_class") && strcmp(names[i], "verbosity"))
			o += (size_t)snprintf(buf + o, n - o, "%s%s=%s", o ? "," : "", names[i], values[i]);
	if (o < n)
		snprintf(buf + o, n - o, ",rounds=%d", p->model == XGB_RF ? 1 : p->trees);
}

static int
failed(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "XGBoost: %s: %s", what, XGBGetLastError());
	return -1;
}

void *
xgb_fit(const float *x, const float *y, const float *w, size_t n, size_t d, int k, const struct xgb_params *p,
        char *err, size_t errlen)
{
	DMatrixHandle m;
	BoosterHandle b;
	const char *names[16];
	char values[16][32];
	int np = pairs(p, k, names, values);

	if (XGDMatrixCreateFromMat(x, n, d, NAN, &m)) {
		failed(err, errlen, "the training matrix");
		return NULL;
	}
	if (XGDMatrixSetFloatInfo(m, "label", y, n) || (w && XGDMatrixSetFloatInfo(m, "weight", w, n)) ||
	    XGBoosterCreate(&m, 1, &b)) {
		failed(err, errlen, "the training set");
		XGDMatrixFree(m);
		return NULL;
	}
	for (int i = 0; i < np; i++)
		if (XGBoosterSetParam(b, names[i], values[i])) {
			failed(err, errlen, names[i]);
			XGBoosterFree(b);
			XGDMatrixFree(m);
			return NULL;
		}
	int rounds = p->model == XGB_RF ? 1 : p->trees;
	for (int r = 0; r < rounds; r++)
		if (XGBoosterUpdateOneIter(b, r, m)) {
			failed(err, errlen, "a boosting round");
			XGBoosterFree(b);
			XGDMatrixFree(m);
			return NULL;
		}
	XGDMatrixFree(m);
	return b;
}

int
xgb_save(void *b, const char **buf, size_t *len, char *err, size_t errlen)
{
	bst_ulong n = 0;

	if (XGBoosterSaveModelToBuffer(b, "{\"format\": \"json\"}", &n, buf))
		return failed(err, errlen, "saving the model");
	*len = (size_t)n;
	return 0;
}

void *
xgb_load(const void *buf, size_t len, char *err, size_t errlen)
{
	BoosterHandle b;

	if (XGBoosterCreate(NULL, 0, &b) || XGBoosterLoadModelFromBuffer(b, buf, len)) {
		failed(err, errlen, "loading the model");
		return NULL;
	}
	XGBoosterSetParam(b, "nthread", "1");
	return b;
}

int
xgb_predict(void *b, const float *x, size_t n, size_t d, int k, float *out, char *err, size_t errlen)
{
	DMatrixHandle m;
	bst_ulong len;
	const float *res;

	if (XGDMatrixCreateFromMat(x, n, d, NAN, &m))
		return failed(err, errlen, "the matrix to predict");
	if (XGBoosterPredict(b, m, 0, 0, 0, &len, &res)) {
		XGDMatrixFree(m);
		return failed(err, errlen, "predicting");
	}
	if (len != (bst_ulong)n * (bst_ulong)k) {
		XGDMatrixFree(m);
		snprintf(err, errlen, "XGBoost: %llu probabilities for %zu records of %d classes",
		         (unsigned long long)len, n, k);
		return -1;
	}
	memcpy(out, res, n * (size_t)k * sizeof *out);
	XGDMatrixFree(m);
	return 0;
}

void
xgb_free(void *b)
{
	if (b)
		XGBoosterFree(b);
}
