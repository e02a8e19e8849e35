/*
 * features.h - the classical baselines' view of a record (osteo-baseline):
 * numbers that describe an image (intensity moments and percentiles, a
 * histogram, grey-level co-occurrence texture, edges), then its clinical
 * values, for an SVM or trees to classify.
 */
#ifndef OSTEO_FEATURES_H
#define OSTEO_FEATURES_H

#include <stddef.h>

#include "common/record/record.h"

#define IMAGE_FEATURES (4 + 5 + 16 + 4 + 1)

/* buffers kept between images, grown as needed; zero to start */
struct feat_scratch {
	float *gray, *sorted;
	unsigned char *q;
	size_t cap;
};

/* IMAGE_FEATURES numbers describing one [C,H,W] image, into f */
void image_features(const float *x, int c, int h, int w, double *f, struct feat_scratch *s);

/* the feature vector of a record: image features, then clinical values */
struct featurizer {
	int use_image, use_clin, nclin, nfeat;
	float *x, *clin;
	size_t xcap, clincap;
	struct feat_scratch s;
};
/* nfeat numbers into f; -1 when the image or the clinical values hold NaN
 * or infinities (the caller has checked that the tensors are there) */
int featurize(struct featurizer *fz, const struct record *r, double *f);

#endif
