/*
 * nnrow.h - the per-row and per-element arithmetic that nn.c and its CUDA
 * twin gpu/nn.cu share, so the two backends cannot drift apart: written
 * once, compiled for the host by both and for the device by nvcc.
 */
#ifndef OSTEO_NNROW_H
#define OSTEO_NNROW_H

#include <float.h>
#include <math.h>

#ifdef __CUDACC__
#define NN_HD __host__ __device__
#else
#define NN_HD
#endif

/* one row of softmax: p (K) from logits z (K) */
static inline NN_HD void
softmax_row(float *p, const float *z, int K)
{
	float mx = -FLT_MAX;
	double s = 0;

	for (int k = 0; k < K; k++)
		mx = z[k] > mx ? z[k] : mx;
	for (int k = 0; k < K; k++)
		s += p[k] = expf(z[k] - mx);
	for (int k = 0; k < K; k++)
		p[k] = (float)(p[k] / s);
}

/* -log p_y from the logits, not from a rounded probability */
static inline NN_HD double
xent_row(const float *z, int y, int K)
{
	float mx = -FLT_MAX;
	double s = 0;

	for (int k = 0; k < K; k++)
		mx = z[k] > mx ? z[k] : mx;
	for (int k = 0; k < K; k++)
		s += exp(z[k] - mx);
	return -(z[y] - mx - log(s));
}

/* batch norm of one value with its batch's mean m and 1/sd r */
static inline NN_HD float
bn_norm(float x, float m, float r, float gamma, float beta)
{
	return (x - m) * r * gamma + beta;
}

/* inference: the running statistics as one scale and shift, y = x sc + sh */
static inline NN_HD void
bn_affine(float rmean, float rvar, float gamma, float beta, float eps, float *sc, float *sh)
{
	float r = 1 / sqrtf(rvar + eps);

	*sc = r * gamma;
	*sh = beta - rmean * *sc;
}

/* batch norm's input gradient from dy and the channel's means of dy (mdy)
 * and of dy * xhat (mdyx) */
static inline NN_HD float
bn_dx(float dy, float x, float m, float r, float gamma, float mdy, float mdyx)
{
	return gamma * r * (dy - mdy - (x - m) * r * mdyx);
}

/* the first of the largest of a 2x2 window's four values, in the order
 * (0,0), (0,1), (1,0), (1,1): 0 to 3 */
static inline NN_HD int
max4_first(float v0, float v1, float v2, float v3)
{
	int best = 0;
	float b = v0;

	if (v1 > b) { best = 1; b = v1; }
	if (v2 > b) { best = 2; b = v2; }
	if (v3 > b)
		best = 3;
	return best;
}

/* one AdamW update; c1, c2 are the bias corrections 1 - beta^t */
static inline NN_HD void
adam_one(float *param, float grad, float *m, float *v, float lr, float beta1, float beta2, float eps,
         float weight_decay, float c1, float c2)
{
	*m = beta1 * *m + (1 - beta1) * grad;
	*v = beta2 * *v + (1 - beta2) * grad * grad;
	float mh = *m / c1, vh = *v / c2;
	*param -= lr * (mh / (sqrtf(vh) + eps) + weight_decay * *param);
}

#endif
