/*
 * kern.h - the vector passes of the CPU engine (kern.inc), compiled by
 * kern.c for AVX-512 (x86-64-v4), AVX2 (x86-64-v3) and the baseline; the
 * table for the CPU this runs on, chosen once.  dnn.c documents the
 * passes; dense_outputs is nn.c's dense_forward_rows for four outputs.
 */
#ifndef OSTEO_KERN_H
#define OSTEO_KERN_H

#include <stddef.h>
#include <stdint.h>

struct kern {
	const char *name;
	void (*stats16)(double *part, const float *z, int H, int W, int C, int blk);
	/* z NULL: the first layer's z, computed from its image x and weights
	 * wT (9,C) tap by tap (3x3, stride 1, "same", one channel) */
	void (*stats_select16)(double *part, float *zsel, uint8_t *am, uint8_t *gap, const float *z, const float *x,
	                       const float *wT, int H, int W, int C, int blk, const float *g);
	void (*bn_relu_select16)(float *out, float *zsel, uint8_t *am, const uint8_t *gap, const float *z,
	                         const float *x, const float *wT, int H, int W, int C, int blk, const float *m,
	                         const float *r, const float *g, const float *be);
	void (*bn_relu16)(float *out, const float *z, size_t P, int C, int blk, const float *m, const float *r,
	                  const float *g, const float *be);
	void (*bn_sums16)(double *part, const float *dp, const float *out, const float *x, int PH, int PW, int C,
	                  int blk, const float *m, const float *r);
	void (*bn_dx16)(float *dz, const float *dp, const float *out, const uint8_t *am, const float *z, int H, int W,
	                int C, int pool, int blk, const float *m, const float *r, const float *g, const float *mdy,
	                const float *mdyx);
	void (*bn_dx_dw1_16)(double *part, const float *dp, const float *out, const uint8_t *am, const float *z,
	                     const float *x, const float *wT, int H, int W, int C, int blk, const float *m,
	                     const float *r, const float *g, const float *mdy, const float *mdyx);
	void (*pool16)(float *out, uint8_t *am, const float *x, int H, int W, int C, int blk);
	void (*dense_outputs)(float *out, const float *inp, const float *weight, const float *bias, int B, int IN,
	                      int OUT, int o0, int no);
};

/* the table for this CPU; OSTEO_KERN=base|v3|v4 asks for one (tests) */
const struct kern *kern_get(void);

#endif
