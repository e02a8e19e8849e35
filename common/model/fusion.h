/*
 * fusion.h - late fusion: the clinical values joined to a network's answer
 * after it, by a multinomial logistic regression of the class on the
 * network's log-probabilities and the record's clinical vector.
 *
 * A network trained jointly on images and clinical values learns the
 * clinical vector first (it is the same on every augmented copy of a
 * patient) and stops learning from the images early; one fitted on the
 * training records' answers trusts the images too much, as those answers
 * are overconfident there.  So the network is trained on the images
 * alone, and the regression is fitted on the validation records, where
 * the network's answers are as good as on new patients (stacking).  The
 * network's log-probabilities are weighed too, so the fit also calibrates.
 */
#ifndef OSTEO_FUSION_H
#define OSTEO_FUSION_H

#include <stddef.h>
#include <stdint.h>

/* the ridge penalty on the weights (not the biases), per record; chosen
 * over make demo's cohorts, seeds 1-5 (README, "How good is the CNN") */
#define FUSION_L2 0.03

struct fusion {
	int k, nclin;            /* classes, clinical values; k = 0: none */
	/* (k + nclin + 1) x k: row i the weights of input i for each class
	 * (inputs: log p[0..k), clinical[0..nclin), 1) */
	double *w;
};

/*
 * Fit on n records: p (n x k) the network's probabilities, clin (n x
 * nclin), y the labels; l2 the penalty.  Newton's method on the mean
 * negative log-likelihood plus l2 * |weights|^2 (convex: one answer,
 * whatever the start).  0, or -1 when it does not converge.
 */
int fusion_fit(struct fusion *f, int k, int nclin, const double *p, const float *clin, const int32_t *y, size_t n,
               double l2);
/* p (k): the network's probabilities in, the fused ones out */
void fusion_apply(const struct fusion *f, double *p, const float *clin);
void fusion_free(struct fusion *f);

#endif
