/*
 * features.c - a record as the classical baselines see it (features.h).
 */
#include "features.h"
#include "common/record/contract.h"
#include "common/image/imgops.h"
#include "common/base/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NHIST 16
#define NLEVELS 16

void
image_features(const float *x, int c, int h, int w, double *f, struct feat_scratch *s)
{
	size_t n = (size_t)h * w;
	double sum = 0, m2 = 0, m3 = 0, m4 = 0;

	if (s->cap < n) {
		s->gray = erealloc(s->gray, n * sizeof *s->gray);
		s->sorted = erealloc(s->sorted, n * sizeof *s->sorted);
		s->q = erealloc(s->q, n);
		s->cap = n;
	}
	for (size_t i = 0; i < n; i++) {
		float v = 0;
		for (int k = 0; k < c; k++)
			v += x[(size_t)k * n + i];
		s->gray[i] = v / c;
		sum += s->gray[i];
	}
	double mean = sum / n;
	for (size_t i = 0; i < n; i++) {
		double d = s->gray[i] - mean;
		m2 += d * d;
		m3 += d * d * d;
		m4 += d * d * d * d;
	}
	m2 /= n;
	m3 /= n;
	m4 /= n;
	*f++ = mean;
	*f++ = sqrt(m2);
	*f++ = m2 > 0 ? m3 / pow(m2, 1.5) : 0;
	*f++ = m2 > 0 ? m4 / (m2 * m2) - 3 : 0;
	static const double pct[] = { 0.10, 0.25, 0.50, 0.75, 0.90 };
	memcpy(s->sorted, s->gray, n * sizeof *s->sorted);
	for (int i = 0; i < 5; i++)
		*f++ = select_rank(s->sorted, n, pct[i]);
	double lo = select_rank(s->sorted, n, 0.01), hi = select_rank(s->sorted, n, 0.99);
	double span = hi > lo ? hi - lo : 1;

	/* the histogram and texture see the image quantised over its own range */
	double hist[NHIST] = { 0 };
	for (size_t i = 0; i < n; i++) {
		double t = (s->gray[i] - lo) / span;
		int b = !(t > 0) ? 0 : t >= 1 ? NLEVELS - 1 : (int)(t * NLEVELS);
		s->q[i] = (unsigned char)b;
		hist[b * NHIST / NLEVELS] += 1.0 / n;
	}
	memcpy(f, hist, sizeof hist);
	f += NHIST;

	/* grey-level co-occurrence, right and down neighbours, symmetric */
	double glcm[NLEVELS][NLEVELS];
	double pairs = 0;
	memset(glcm, 0, sizeof glcm);
	for (int y = 0; y < h; y++)
		for (int xx = 0; xx < w; xx++) {
			int a = s->q[(size_t)y * w + xx];
			if (xx + 1 < w) {
				int b = s->q[(size_t)y * w + xx + 1];
				glcm[a][b]++, glcm[b][a]++, pairs += 2;
			}
			if (y + 1 < h) {
				int b = s->q[(size_t)(y + 1) * w + xx];
				glcm[a][b]++, glcm[b][a]++, pairs += 2;
			}
		}
	double contrast = 0, homog = 0, energy = 0, mu = 0, var = 0, corr = 0;
	for (int i = 0; i < NLEVELS; i++)
		for (int j = 0; j < NLEVELS; j++) {
			double p = pairs ? glcm[i][j] / pairs : 0;
			glcm[i][j] = p;
			contrast += (i - j) * (i - j) * p;
			homog += p / (1 + abs(i - j));
			energy += p * p;
			mu += i * p;
		}
	for (int i = 0; i < NLEVELS; i++)
		for (int j = 0; j < NLEVELS; j++) {
			var += (i - mu) * (i - mu) * glcm[i][j];
			corr += (i - mu) * (j - mu) * glcm[i][j];
		}
	*f++ = contrast;
	*f++ = homog;
	*f++ = energy;
	*f++ = var > 0 ? corr / var : 0;

	/* edges: mean gradient magnitude, central differences inside */
	double grad = 0;
	for (int y = 1; y + 1 < h; y++)
		for (int xx = 1; xx + 1 < w; xx++) {
			const float *g = s->gray + (size_t)y * w + xx;
			double gx = (g[1] - g[-1]) / 2, gy = (g[w] - g[-w]) / 2;
			grad += sqrt(gx * gx + gy * gy);
		}
	*f = h > 2 && w > 2 ? grad / ((double)(h - 2) * (w - 2)) : 0;
}

int
featurize(struct featurizer *fz, const struct record *r, double *f)
{
	const struct tensor *t = rec_tensor(r, TENSOR_IMAGE), *c = rec_tensor(r, TENSOR_CLINICAL);

	if (fz->use_image) {
		size_t px = tensor_elems(t);
		egrow((void **)&fz->x, &fz->xcap, px * sizeof(float));
		tensor_to_float(t, fz->x);
		if (!floats_finite(fz->x, px))
			return -1;
		image_features(fz->x, (int)t->shape[0], (int)t->shape[1], (int)t->shape[2], f, &fz->s);
		f += IMAGE_FEATURES;
	}
	if (fz->use_clin && fz->nclin) {
		egrow((void **)&fz->clin, &fz->clincap, fz->nclin * sizeof(float));
		tensor_to_float(c, fz->clin);
		if (!floats_finite(fz->clin, (size_t)fz->nclin))
			return -1;
		for (int i = 0; i < fz->nclin; i++)
			f[i] = fz->clin[i];
	}
	return 0;
}
