/*
 * metrics.h - classification metrics over (label, probs) samples, as
 * osteo-metrics(1) reports them and scikit-learn computes them.
 *
 * The prediction is the first class of highest probability (numpy's
 * argmax).  AUC is one-vs-rest, by ranks with ties counted half, which is
 * the trapezoidal area under the ROC curve.  A class with no positives (or
 * no negatives) has AUC NaN, written null, and is left out of averages of
 * AUC; precision with nothing predicted is 0, as sklearn's default.
 */
#ifndef OSTEO_METRICS_H
#define OSTEO_METRICS_H

#include <stddef.h>
#include <stdio.h>

#include "common/record/classes.h"
#include "common/record/input.h"
#include "common/record/record.h"

struct samples {
	int k;                 /* classes */
	size_t n, cap;
	int *label;
	double *p;             /* n x k */
	size_t *unit;          /* resampling unit: the patient's number */
	double *unc;           /* meta.infer.uncertainty, NaN where a record has none */
	size_t nunits;
	char **names;          /* per unit: its patient, or NULL (samples_read) */
	size_t *group;         /* per sample: its subgroup (samples_read_by), or NULL */
	char **gnames;         /* per subgroup: its name */
	size_t ngroups;
	/* heat maps of records that carry a `mask` too: how many, how many
	 * empty, the sums of each map's share of its mass inside the mask and
	 * of the mask's share of the image */
	size_t nmaps, nblank;
	double in_mask, mask_share;
};

struct class_metrics {
	double sens, spec, prec, f1, auc, brier;
	long long support;
};

struct metrics {
	int k;
	size_t n;
	double accuracy;
	struct class_metrics *cls;        /* k */
	struct class_metrics macro, weighted;
	long long *confusion;             /* k x k, rows true */
	double brier;                     /* mean over samples of sum_k (p - y)^2 */
	double ece;
	int ece_bins;
	/* per confidence bin (the top probability, in (b/bins, (b+1)/bins]):
	 * samples, the sum of their confidences, how many are right */
	long long bin_n[64];
	double bin_conf[64], bin_right[64];
};

/* scratch kept between calls so that bootstrap replicates allocate nothing */
struct metrics_work {
	size_t *order;
	size_t cap;
};

void samples_init(struct samples *s, int k);
void samples_add(struct samples *s, int label, const double *p, size_t unit);
void samples_free(struct samples *s);
/* the labelled records of a prediction stream, each patient a resampling
 * unit (a record without one its own).  Class names from names (the
 * user's --classes), else meta.infer.classes, else the default three for
 * three probabilities, else numbers.  Dies (65) naming the record when
 * one has no probs, another number of them, a label that is not a class
 * or a probability outside [0, 1].  Returns the records without a label. */
long long samples_read(struct input *in, const char *names, struct samples *s, struct classes *cl);
/* the same, each sample in the subgroup groupof names (copied into buf,
 * n bytes) for its record */
typedef const char *(*samples_groupof)(const struct record *r, void *ctx, char *buf, size_t n);
long long samples_read_by(struct input *in, const char *names, struct samples *s, struct classes *cl,
                          samples_groupof groupof, void *ctx);
/* the samples of subgroup g, as samples of their own (names not kept) */
void samples_subset(const struct samples *s, size_t g, struct samples *out);

/* one sample per patient (unit), in the order of each one's first record:
 * its records' probabilities combined by their mean, or with use_max by
 * the largest of each class's (renormalised to sum 1); -1 when a patient's
 * records disagree on the label, *bad then that unit */
int samples_per_patient(struct samples *s, int use_max, size_t *bad);

void metrics_init(struct metrics *m, int k, int ece_bins);
void metrics_free(struct metrics *m);
void metrics_work_free(struct metrics_work *w);
/* over the samples idx[0..n) (all of them when idx is NULL) */
void metrics_compute(const struct samples *s, const size_t *idx, size_t n,
                     struct metrics *m, struct metrics_work *w);

/* one-vs-rest AUC of class c over idx (NaN without both kinds) */
double metrics_auc(const struct samples *s, const size_t *idx, size_t n, int c,
                   struct metrics_work *w);

/* ROC points of class c with every distinct score as a threshold,
 * highest first, from (0,0) at +inf: calls fn for each */
void metrics_roc(const struct samples *s, int c, struct metrics_work *w,
                 void (*fn)(void *ctx, double threshold, double fpr, double tpr), void *ctx);

/* percentile bootstrap over units: lo/hi of accuracy, macro F1, macro AUC */
struct bootstrap_ci {
	int reps;
	double level;
	double acc[2], f1[2], auc[2];
	int has_cut;             /* metrics_bootstrap_cut: the binary cut's too */
	double sens[2], spec[2];
};
void metrics_bootstrap(const struct samples *s, int reps, unsigned long long seed,
                       double level, struct bootstrap_ci *ci);
/* the same over a's minus b's figures, a and b the same records (the same
 * labels and units, in the same order) scored by two models: a paired
 * comparison */
void metrics_bootstrap_paired(const struct samples *a, const struct samples *b, int reps,
                              unsigned long long seed, double level, struct bootstrap_ci *ci);

/* DeLong's test of two correlated one-vs-rest AUCs of class c on the same
 * records (a and b as above): the AUCs, their difference, its standard
 * error, z and the two-sided p; -1 without positives and negatives */
struct delong {
	double auc_a, auc_b, diff, se, z, p;
};
int metrics_delong(const struct samples *a, const struct samples *b, int c, struct delong *d);

/* temperature scaling: the T > 0 that minimises the mean negative
 * log-likelihood of the samples' probabilities tempered as p^(1/T),
 * renormalised (dividing the logits by T), by golden-section search on
 * log T over [1/20, 20]; and tempering one row in place */
double metrics_temperature(const struct samples *s);
void metrics_temper(double *p, int k, double t);

/* binary cut: class c positive when p[c] >= threshold */
struct binary_cut {
	int c;
	double threshold;
	long long tp, fp, tn, fn;
	double sens, spec, ppv, npv;
};
void metrics_binary(const struct samples *s, int c, double threshold, struct binary_cut *b);
/* metrics_bootstrap, with the intervals of the cut's sensitivity and
 * specificity too (percentiles over the replicates that have positives,
 * or negatives) */
void metrics_bootstrap_cut(const struct samples *s, int c, double threshold, int reps, unsigned long long seed,
                           double level, struct bootstrap_ci *ci);
/* the highest threshold whose sensitivity (spec 0) reaches want, or the
 * lowest whose specificity (spec 1) does, on these samples; NaN if none */
double metrics_threshold_for(const struct samples *s, int c, int spec, double want, struct metrics_work *w);
/* the threshold that maximises sensitivity + specificity (Youden's J) */
double metrics_youden(const struct samples *s, int c, struct metrics_work *w);

/*
 * Referral (osteo-metrics --coverage): the samples kept when the most
 * uncertain share 1 - keep of them (by unc; ties in their order) go to a
 * reader: how many, the largest uncertainty kept, their accuracy, macro
 * sensitivity and specificity, and the accuracy gained over all of them;
 * with percentile intervals over reps resamples of the units, each
 * referring its own most uncertain share.
 */
struct coverage {
	double keep, cut;
	size_t n;
	double acc, sens, spec, gain;
	double acc_ci[2], sens_ci[2], spec_ci[2], gain_ci[2];
};
void metrics_coverage(const struct samples *s, double keep, int reps, unsigned long long seed, double level,
                      struct coverage *cv);

#endif
