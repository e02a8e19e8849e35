/*
 * bench.h - what cpu-bench.c and gpu-bench.c share: a clock, a comparison
 * for qsort, and OsteoNet (the default --arch, 8 clinical features, 3
 * classes) with one batch of random images, as bench/torch_osteonet.py
 * builds its own.
 */
#ifndef OSTEO_BENCH_H
#define OSTEO_BENCH_H

#include <stdint.h>
#include <time.h>

#include "engine/spec/net.h"
#include "common/base/rng.h"
#include "common/base/util.h"

#define REPS 7

static inline double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static inline int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* tie-heavy images, as prepared X-rays are: a quarter of each side zero
 * (padding), the rest flat 4x4 blocks of five levels, so that every
 * pooling window of the first layers holds exact ties */
static inline void
ties_fill(float *x, int b, int size, struct rng *g)
{
	for (int i = 0; i < b; i++)
		for (int y = 0; y < size; y++)
			for (int c = 0; c < size; c++) {
				float *v = x + ((size_t)i * size + y) * size + c;
				if (y < size / 4 || c < size / 4)
					*v = 0;
				else if (y % 4 == 0 && c % 4 == 0)
					*v = (float)rng_int(g, 5) / 4;
				else
					*v = x[((size_t)i * size + y / 4 * 4) * size + c / 4 * 4];
			}
}

/* the network of spec (or a preset) for c x size x size images with nclin
 * clinical values and 3 classes, and a batch of b: x (b,c,size,size), clin
 * (b,nclin), y (b); ties: the images tie-heavy (ties_fill), not random */
static inline struct net *
net_batch_of(const char *spec, int c, int size, int nclin, int b, int ties, float **x, float **clin, int32_t **y)
{
	const char *err;
	struct net *n = net_new(net_preset(spec), c, size, size, nclin, 3, &err);
	struct rng g;
	size_t px = (size_t)c * size * size;

	if (!n)
		die(EX_USAGE, "%s", err);
	net_init(n, 1);
	*x = emalloc((size_t)b * px * sizeof(float));
	*clin = emalloc((size_t)b * (nclin ? nclin : 1) * sizeof(float));
	*y = emalloc((size_t)b * sizeof(int32_t));
	rng_seed(&g, 2, "data");
	for (size_t i = 0; i < (size_t)b * px; i++)
		(*x)[i] = (float)rng_normal(&g);
	for (int i = 0; i < b * nclin; i++)
		(*clin)[i] = (float)rng_normal(&g);
	for (int i = 0; i < b; i++)
		(*y)[i] = i % 3;
	if (ties)
		ties_fill(*x, b * c, size, &g);
	return n;
}

/* OsteoNet's: one channel, 8 clinical values */
static inline struct net *
osteonet_batch_of(int size, int b, int ties, float **x, float **clin, int32_t **y)
{
	return net_batch_of(DEFAULT_ARCH, 1, size, 8, b, ties, x, clin, y);
}

static inline struct net *
osteonet_batch(int size, int b, float **x, float **clin, int32_t **y)
{
	return osteonet_batch_of(size, b, 0, x, clin, y);
}

#endif
