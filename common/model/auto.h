/*
 * auto.h - osteo-train --auto's plan (auto.c): the training records'
 * fingerprint, the candidate networks and recipes that suit it, the
 * patient-grouped folds they are cross-validated on, and what each is
 * expected to cost.  Rules, as nnU-Net's are: everything here is a
 * function of the records and the seed, never of a clock, so the same
 * records, seed and budget choose the same model on any machine.
 */
#ifndef OSTEO_AUTO_H
#define OSTEO_AUTO_H

#include <stddef.h>
#include <stdint.h>

#include "common/record/classes.h"

/* folds of the cross-validation (fewer when there are fewer patients) */
#define AUTO_FOLDS 3
#define AUTO_MAXCAND 16

struct fingerprint {
	int c, h, w, k;          /* image channels and sides, clinical values */
	int n, patients, classes;
	long count[MAXCLASSES];  /* records per class */
	double mean, sd;         /* of every pixel */
	double imbalance;        /* the largest class over the smallest (present) one */
};

struct candidate {
	char name[32];           /* "vgg", "osteonet", "resnet", with the recipe's variant */
	char arch[512];
	int epochs;
	double lr, wd;
	int class_weights;       /* --class-weights auto */
	double cost;             /* expected seconds for all its folds (auto_cost) */
};

/* the fingerprint of n records: images x (n, c, h, w), labels y,
 * patients pat (any ids; equal for a patient's records) */
void auto_fingerprint(struct fingerprint *f, const float *x, int n, int c, int h, int w, int k,
                      const int32_t *y, int classes, const uint64_t *pat);
/* the candidates of the first round, cheapest first; how many */
int auto_candidates(const struct fingerprint *f, struct candidate *out, int max);
/* the second round: variants of the recipe of the round's winner w; how many */
int auto_variants(const struct fingerprint *f, const struct candidate *w, struct candidate *out, int max);
/* each record's fold, 0..folds-1, by patient (a patient's records share
 * one), classes spread evenly over the folds, the order drawn from seed;
 * returns the folds made (fewer than want when there are few patients) */
int auto_folds(const uint64_t *pat, const int32_t *y, int n, int want, uint64_t seed, int *fold);
/* the expected seconds of training arch's network for epochs over n
 * records: a model of this engine's speed on 2 cores (auto.c) */
double auto_cost(const char *arch, const struct fingerprint *f, int late, int epochs, long n);

#endif
