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
