/*
 * xgb.h - the tree baselines through XGBoost's C API (Debian's
 * libxgboost-dev): a random forest (one round of many parallel trees on
 * bootstrap-free row and column subsamples) and gradient-boosted trees,
 * multi-class softmax probabilities.  One thread and a fixed seed, so a
 * fit is the same bytes on every run and matches python3-xgboost given the
 * same parameters (tests/fixtures/xgb).
 */
#ifndef OSTEO_XGB_H
#define OSTEO_XGB_H

#include <stddef.h>

enum xgb_model { XGB_RF, XGB_GBT };

struct xgb_params {
	enum xgb_model model;
	int trees;               /* rf: trees in its one round; gbt: rounds */
	int depth;
	double eta;              /* gbt's learning rate (rf: 1) */
	double subsample, colsample;
	unsigned long long seed;
};

/* the defaults of osteo-baseline --model rf|gbt */
void xgb_defaults(struct xgb_params *p, enum xgb_model m);
/* the parameters as XGBoost's name=value pairs, for the model file */
void xgb_describe(const struct xgb_params *p, char *buf, size_t n);

/* fit on x (n, d) with labels y in 0..k-1 and weights w (NULL: 1); the
 * booster, or NULL with err set */
void *xgb_fit(const float *x, const float *y, const float *w, size_t n, size_t d, int k,
              const struct xgb_params *p, char *err, size_t errlen);
/* the booster as XGBoost's JSON model, in *buf (its storage) */
int xgb_save(void *b, const char **buf, size_t *len, char *err, size_t errlen);
void *xgb_load(const void *buf, size_t len, char *err, size_t errlen);
/* probabilities (n, k) of x (n, d) into out */
int xgb_predict(void *b, const float *x, size_t n, size_t d, int k, float *out, char *err, size_t errlen);
void xgb_free(void *b);

#endif
