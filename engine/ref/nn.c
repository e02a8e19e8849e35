/*
 * nn.c - the CPU layers of the network; see nn.h for the conventions.
 */
#include "nn.h"
#include "engine/nnrow.h"
#include "common/base/util.h"
#include "engine/cpu/kern.h"
#include "engine/vec.h"

#ifdef _OPENMP
#include <omp.h>
#else
static int omp_get_num_threads(void) { return 1; }
static int omp_get_thread_num(void) { return 0; }
#endif

#include <math.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

/* oneDNN's sgemm: it picks its kernels by the CPU's features, where
 * Debian's OpenBLAS 0.3.21 falls back to SSE3 on CPUs newer than it */
void
sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
      const float *B, int ldb, float beta, float *C, int ldc)
{
	if (M == 0 || N == 0)
		return;
	dnnl_status_t s = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
	if (s != dnnl_success)
		die(EX_SOFTWARE, "dnnl_sgemm %dx%dx%d failed, status %d", M, N, K, (int)s);
}

/* ---------------------------------------------------------------- */
/* convolution */

int
conv_out(int in, int k, int stride, int pad)
{
	return (in + 2 * pad - k) / stride + 1;
}

size_t
conv_col_size(int C, int k, int OH, int OW)
{
	return (size_t)C * k * k * OH * OW;
}

/* im (C,H,W) -> col (C*k*k, OH*OW) */
static void
im2col(float *col, const float *im, int C, int H, int W, int k, int stride, int pad, int OH, int OW)
{
	for (int c = 0; c < C; c++)
		for (int ky = 0; ky < k; ky++)
			for (int kx = 0; kx < k; kx++) {
				float *row = col + ((size_t)(c * k + ky) * k + kx) * OH * OW;
				for (int oy = 0; oy < OH; oy++) {
					int y = oy * stride - pad + ky;
					for (int ox = 0; ox < OW; ox++) {
						int x = ox * stride - pad + kx;
						row[oy * OW + ox] = y >= 0 && y < H && x >= 0 && x < W
						                        ? im[((size_t)c * H + y) * W + x] : 0;
					}
				}
			}
}

/* col (C*k*k, OH*OW) added into im (C,H,W) */
static void
col2im(float *im, const float *col, int C, int H, int W, int k, int stride, int pad, int OH, int OW)
{
	for (int c = 0; c < C; c++)
		for (int ky = 0; ky < k; ky++)
			for (int kx = 0; kx < k; kx++) {
				const float *row = col + ((size_t)(c * k + ky) * k + kx) * OH * OW;
				for (int oy = 0; oy < OH; oy++) {
					int y = oy * stride - pad + ky;
					if (y < 0 || y >= H)
						continue;
					for (int ox = 0; ox < OW; ox++) {
						int x = ox * stride - pad + kx;
						if (x >= 0 && x < W)
							im[((size_t)c * H + y) * W + x] += row[oy * OW + ox];
					}
				}
			}
}

void
conv_forward(float *out, const float *inp, const float *weight, const float *bias, float *col,
             int B, int C, int H, int W, int OC, int k, int stride, int pad)
{
	int OH = conv_out(H, k, stride, pad), OW = conv_out(W, k, stride, pad), P = OH * OW, CK = C * k * k;

	for (int b = 0; b < B; b++) {
		float *o = out + (size_t)b * OC * P;
		im2col(col, inp + (size_t)b * C * H * W, C, H, W, k, stride, pad, OH, OW);
		/* out (OC,P) = weight (OC,CK) . col (CK,P) */
		for (int oc = 0; oc < OC; oc++)
			for (int p = 0; p < P; p++)
				o[(size_t)oc * P + p] = bias ? bias[oc] : 0;
		sgemm(0, 0, OC, P, CK, 1, weight, CK, col, P, 1, o, P);
	}
}

void
conv_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
              const float *weight, float *col, int B, int C, int H, int W, int OC, int k,
              int stride, int pad)
{
	int OH = conv_out(H, k, stride, pad), OW = conv_out(W, k, stride, pad), P = OH * OW, CK = C * k * k;

	for (int b = 0; b < B; b++) {
		const float *d = dout + (size_t)b * OC * P;
		if (dbias)
			for (int oc = 0; oc < OC; oc++)
				for (int p = 0; p < P; p++)
					dbias[oc] += d[(size_t)oc * P + p];
		/* dweight (OC,CK) += dout (OC,P) . col^T (P,CK) */
		im2col(col, inp + (size_t)b * C * H * W, C, H, W, k, stride, pad, OH, OW);
		sgemm(0, 1, OC, CK, P, 1, d, P, col, P, 1, dweight, CK);
		if (!dinp)
			continue;
		/* dcol (CK,P) = weight^T (CK,OC) . dout (OC,P), then back to the image */
		sgemm(1, 0, CK, P, OC, 1, weight, CK, d, P, 0, col, P);
		float *di = dinp + (size_t)b * C * H * W;
		memset(di, 0, (size_t)C * H * W * sizeof *di);
		col2im(di, col, C, H, W, k, stride, pad, OH, OW);
	}
}

/* ---------------------------------------------------------------- */
/* batch normalisation */

void
batchnorm_forward_train(float *out, float *mean, float *rstd, const float *inp,
                        const float *gamma, const float *beta, float *running_mean,
                        float *running_var, float momentum, float eps, int B, int C, int HW)
{
	double n = (double)B * HW;

	for (int c = 0; c < C; c++) {
		double s = 0, s2 = 0;
		for (int b = 0; b < B; b++) {
			const float *x = inp + ((size_t)b * C + c) * HW;
			for (int i = 0; i < HW; i++)
				s += x[i];
		}
		double m = s / n;
		for (int b = 0; b < B; b++) {
			const float *x = inp + ((size_t)b * C + c) * HW;
			for (int i = 0; i < HW; i++)
				s2 += (x[i] - m) * (x[i] - m);
		}
		double var = s2 / n;
		float r = (float)(1 / sqrt(var + eps));
		mean[c] = (float)m;
		rstd[c] = r;
		for (int b = 0; b < B; b++) {
			const float *x = inp + ((size_t)b * C + c) * HW;
			float *y = out + ((size_t)b * C + c) * HW;
			for (int i = 0; i < HW; i++)
				y[i] = bn_norm(x[i], (float)m, r, gamma[c], beta[c]);
		}
		if (running_mean) {
			/* PyTorch's convention: the running variance is unbiased */
			double unbiased = n > 1 ? s2 / (n - 1) : var;
			running_mean[c] = (float)((1 - momentum) * running_mean[c] + momentum * m);
			running_var[c] = (float)((1 - momentum) * running_var[c] + momentum * unbiased);
		}
	}
}

void
batchnorm_forward_infer(float *out, const float *inp, const float *gamma, const float *beta,
                        const float *running_mean, const float *running_var, float eps,
                        int B, int C, int HW)
{
	for (int c = 0; c < C; c++) {
		float sc, sh;
		bn_affine(running_mean[c], running_var[c], gamma[c], beta[c], eps, &sc, &sh);
		for (int b = 0; b < B; b++) {
			const float *x = inp + ((size_t)b * C + c) * HW;
			float *y = out + ((size_t)b * C + c) * HW;
			for (int i = 0; i < HW; i++)
				y[i] = x[i] * sc + sh;
		}
	}
}

void
batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                   const float *inp, const float *mean, const float *rstd,
                   const float *gamma, int B, int C, int HW)
{
	double n = (double)B * HW;

	for (int c = 0; c < C; c++) {
		/* sums of dy and dy * xhat over the channel */
		double sdy = 0, sdyx = 0;
		for (int b = 0; b < B; b++) {
			const float *x = inp + ((size_t)b * C + c) * HW, *dy = dout + ((size_t)b * C + c) * HW;
			for (int i = 0; i < HW; i++) {
				sdy += dy[i];
				sdyx += dy[i] * (x[i] - mean[c]) * rstd[c];
			}
		}
		dgamma[c] += (float)sdyx;
		dbeta[c] += (float)sdy;
		/* dx = gamma rstd (dy - mean(dy) - xhat mean(dy xhat)) */
		float mdy = (float)(sdy / n), mdyx = (float)(sdyx / n);
		for (int b = 0; b < B; b++) {
			const float *x = inp + ((size_t)b * C + c) * HW, *dy = dout + ((size_t)b * C + c) * HW;
			float *dx = dinp + ((size_t)b * C + c) * HW;
			for (int i = 0; i < HW; i++)
				dx[i] = bn_dx(dy[i], x[i], mean[c], rstd[c], gamma[c], mdy, mdyx);
		}
	}
}

/* ---------------------------------------------------------------- */
/* elementwise */

void
relu_forward(float *out, const float *inp, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = inp[i] > 0 ? inp[i] : 0;
}

void
relu_backward(float *dinp, const float *dout, const float *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dinp[i] = out[i] > 0 ? dout[i] : 0;
}

void
maxpool_forward(float *out, int32_t *idx, const float *inp, int B, int C, int H, int W)
{
	int OH = H / 2, OW = W / 2;

	for (size_t bc = 0; bc < (size_t)B * C; bc++) {
		const float *x = inp + bc * H * W;
		float *y = out + bc * OH * OW;
		int32_t *ix = idx + bc * OH * OW;
		for (int oy = 0; oy < OH; oy++)
			for (int ox = 0; ox < OW; ox++) {
				int o = 2 * oy * W + 2 * ox;
				int j = max4_first(x[o], x[o + 1], x[o + W], x[o + W + 1]);
				int best = o + (j >> 1) * W + (j & 1);
				y[oy * OW + ox] = x[best];
				ix[oy * OW + ox] = best;
			}
	}
}

void
maxpool_backward(float *dinp, const float *dout, const int32_t *idx, int B, int C, int H, int W)
{
	int OH = H / 2, OW = W / 2;

	memset(dinp, 0, (size_t)B * C * H * W * sizeof *dinp);
	for (size_t bc = 0; bc < (size_t)B * C; bc++)
		for (int i = 0; i < OH * OW; i++)
			dinp[bc * H * W + idx[bc * OH * OW + i]] += dout[bc * OH * OW + i];
}

void
gap_forward(float *out, const float *inp, int n, int P)
{
	for (size_t i = 0; i < (size_t)n; i++) {
		float s = 0;
		for (int p = 0; p < P; p++)
			s += inp[i * P + p];
		out[i] = s / (float)P;
	}
}

void
gap_backward(float *dinp, const float *dout, int n, int P)
{
	for (size_t i = 0; i < (size_t)n; i++)
		for (int p = 0; p < P; p++)
			dinp[i * P + p] = dout[i] / (float)P;
}

/* ---------------------------------------------------------------- */
/* dense */

void
dense_forward(float *out, const float *inp, const float *weight, const float *bias,
              int B, int IN, int OUT)
{
	for (int b = 0; b < B; b++)
		for (int o = 0; o < OUT; o++)
			out[(size_t)b * OUT + o] = bias ? bias[o] : 0;
	/* out (B,OUT) += inp (B,IN) . weight^T (IN,OUT) */
	sgemm(0, 1, B, OUT, IN, 1, inp, IN, weight, IN, 1, out, OUT);
}

void
dense_forward_rows(float *out, const float *inp, const float *weight, const float *bias, int B, int IN,
                   int OUT)
{
#pragma omp parallel for schedule(static)
	for (int o0 = 0; o0 < OUT; o0 += 4)
		kern_get()->dense_outputs(out, inp, weight, bias, B, IN, OUT, o0, OUT - o0 < 4 ? OUT - o0 : 4);
}

void
dense_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
               const float *weight, int B, int IN, int OUT)
{
	if (dbias)
		for (int b = 0; b < B; b++)
			for (int o = 0; o < OUT; o++)
				dbias[o] += dout[(size_t)b * OUT + o];
	/* dweight (OUT,IN) += dout^T (OUT,B) . inp (B,IN) */
	if (dweight)
		sgemm(1, 0, OUT, IN, B, 1, dout, OUT, inp, IN, 1, dweight, IN);
	/* dinp (B,IN) = dout (B,OUT) . weight (OUT,IN) */
	if (dinp)
		sgemm(0, 0, B, IN, OUT, 1, dout, OUT, weight, IN, 0, dinp, IN);
}

/* ---------------------------------------------------------------- */
/* dropout, loss, optimiser */

void
dropout_mask(float *mask, size_t n, float p, struct rng *g)
{
	float keep = 1 / (1 - p);

	for (size_t i = 0; i < n; i++)
		mask[i] = rng_uniform(g) < p ? 0 : keep;
}

void
dropout_forward(float *out, float *mask, const float *inp, size_t n, float p, struct rng *g)
{
	dropout_mask(mask, n, p, g);
	for (size_t i = 0; i < n; i++)
		out[i] = inp[i] * mask[i];
}

void
dropout_backward(float *dinp, const float *dout, const float *mask, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dinp[i] = dout[i] * mask[i];
}

void
softmax_forward(float *probs, const float *logits, int B, int K)
{
	for (int b = 0; b < B; b++)
		softmax_row(probs + (size_t)b * K, logits + (size_t)b * K, K);
}

float
softmax_xent_forward(float *probs, const float *logits, const int32_t *labels,
                     const float *weights, int B, int K)
{
	double loss = 0, wsum = 0;

	softmax_forward(probs, logits, B, K);
	for (int b = 0; b < B; b++) {
		double w = weights ? weights[labels[b]] : 1;
		loss += w * xent_row(logits + (size_t)b * K, labels[b], K);
		wsum += w;
	}
	return wsum > 0 ? (float)(loss / wsum) : 0;
}

void
softmax_xent_backward(float *dlogits, const float *probs, const int32_t *labels,
                      const float *weights, int B, int K)
{
	double wsum = 0;

	for (int b = 0; b < B; b++)
		wsum += weights ? weights[labels[b]] : 1;
	for (int b = 0; b < B; b++) {
		float w = (float)((weights ? weights[labels[b]] : 1) / wsum);
		for (int k = 0; k < K; k++)
			dlogits[(size_t)b * K + k] = w * (probs[(size_t)b * K + k] - (k == labels[b]));
	}
}

/* a stretch of the parameters; cloned by instruction set, so the loop is
 * vectorised for the CPU it runs on */
static VEC void
adam_stretch(float *restrict param, const float *restrict grad, float *restrict m, float *restrict v, size_t n,
             float lr, float beta1, float beta2, float eps, float weight_decay, float c1, float c2)
{
	for (size_t i = 0; i < n; i++)
		adam_one(&param[i], grad[i], &m[i], &v[i], lr, beta1, beta2, eps, weight_decay, c1, c2);
}

void
adam_update(float *param, const float *grad, float *m, float *v, size_t n, float lr, float beta1, float beta2,
            float eps, float weight_decay, int t)
{
	float c1 = 1 - powf(beta1, (float)t), c2 = 1 - powf(beta2, (float)t);

	/* elementwise, so the threads (for a layer big enough to pay for
	 * them) change nothing in the result */
#pragma omp parallel if (n >= 65536)
	{
		int nt = omp_get_num_threads(), id = omp_get_thread_num();
		size_t lo = n * id / nt, hi = n * (id + 1) / nt;
		adam_stretch(param + lo, grad + lo, m + lo, v + lo, hi - lo, lr, beta1, beta2, eps, weight_decay, c1, c2);
	}
}
