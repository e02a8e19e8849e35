/*
 * ref.c - ref.h: the reference backend, plain C on the CPU and the
 * tests' yardstick: the layers (each forward beside its backward), then
 * the walker that runs a net.h network's layers in order and back again.
 * The engine runs it where the oneDNN path does not cover a network, for
 * OSTEO_CPU=reference, and for the dense tail behind the oneDNN blocks.
 * Inference's dense rows borrow engine/cpu/kern's vectorised row, whose
 * order of sums is the same on every instruction set.
 */
#include "ref.h"
#include "engine/spec/nnrow.h"
#include "common/base/util.h"
#include "engine/cpu/kern.h"
#include "engine/cpu/vec.h"

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
	maxpoolk_backward(dinp, dout, idx, B, C, H, W, H / 2, W / 2);
}

/* KxK windows with stride S and padding P: the first of the largest in
 * each (the padding never wins), its offset in idx */
void
maxpoolk_forward(float *out, int32_t *idx, const float *inp, int B, int C, int H, int W, int K, int S, int P,
                 int OH, int OW)
{
	for (size_t bc = 0; bc < (size_t)B * C; bc++) {
		const float *x = inp + bc * H * W;
		for (int oy = 0; oy < OH; oy++)
			for (int ox = 0; ox < OW; ox++) {
				int best = -1;
				for (int ky = 0; ky < K; ky++)
					for (int kx = 0; kx < K; kx++) {
						int y = oy * S + ky - P, xx = ox * S + kx - P;
						if (y < 0 || xx < 0 || y >= H || xx >= W)
							continue;
						if (best < 0 || x[y * W + xx] > x[best])
							best = y * W + xx;
					}
				/* a window wholly in the padding: conv_out's sizes never make one */
				size_t q = bc * OH * OW + (size_t)oy * OW + ox;
				out[q] = best < 0 ? 0 : x[best];
				idx[q] = best < 0 ? 0 : best;
			}
	}
}

void
maxpoolk_backward(float *dinp, const float *dout, const int32_t *idx, int B, int C, int H, int W, int OH, int OW)
{
	memset(dinp, 0, (size_t)B * C * H * W * sizeof *dinp);
	for (size_t bc = 0; bc < (size_t)B * C; bc++)
		for (int i = 0; i < OH * OW; i++)
			dinp[bc * H * W + idx[bc * OH * OW + i]] += dout[bc * OH * OW + i];
}

/* the window of output (oy, ox) clipped to the image: rows y0..y1-1,
 * columns x0..x1-1 */
static void
window_in(int oy, int ox, int H, int W, int K, int S, int P, int *y0, int *y1, int *x0, int *x1)
{
	*y0 = oy * S - P;
	*x0 = ox * S - P;
	*y1 = *y0 + K < H ? *y0 + K : H;
	*x1 = *x0 + K < W ? *x0 + K : W;
	*y0 = *y0 > 0 ? *y0 : 0;
	*x0 = *x0 > 0 ? *x0 : 0;
}

void
avgpoolk_forward(float *out, const float *inp, int B, int C, int H, int W, int K, int S, int P, int OH, int OW)
{
	for (size_t bc = 0; bc < (size_t)B * C; bc++) {
		const float *x = inp + bc * H * W;
		for (int oy = 0; oy < OH; oy++)
			for (int ox = 0; ox < OW; ox++) {
				int y0, y1, x0, x1;
				float s = 0;
				window_in(oy, ox, H, W, K, S, P, &y0, &y1, &x0, &x1);
				for (int y = y0; y < y1; y++)
					for (int xx = x0; xx < x1; xx++)
						s += x[y * W + xx];
				/* conv_out's sizes never make a window wholly in the padding */
				int cnt = (y1 - y0) * (x1 - x0);
				out[bc * OH * OW + (size_t)oy * OW + ox] = cnt > 0 ? s / cnt : 0;
			}
	}
}

void
avgpoolk_backward(float *dinp, const float *dout, int B, int C, int H, int W, int K, int S, int P, int OH, int OW)
{
	memset(dinp, 0, (size_t)B * C * H * W * sizeof *dinp);
	for (size_t bc = 0; bc < (size_t)B * C; bc++)
		for (int oy = 0; oy < OH; oy++)
			for (int ox = 0; ox < OW; ox++) {
				int y0, y1, x0, x1;
				window_in(oy, ox, H, W, K, S, P, &y0, &y1, &x0, &x1);
				int cnt = (y1 - y0) * (x1 - x0);
				float d = cnt > 0 ? dout[bc * OH * OW + (size_t)oy * OW + ox] / cnt : 0;
				for (int y = y0; y < y1; y++)
					for (int xx = x0; xx < x1; xx++)
						dinp[bc * H * W + (size_t)y * W + xx] += d;
			}
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

/* ---------------------------------------------------------------- */
/* the walker: a batch through the layers above, forward and back */

/* the input of layer i for this batch */
static const float *
layer_input(const struct net *n, int i, const float *x)
{
	if (i == n->fuse_at)
		return n->fused;
	return i == 0 ? x : n->a[i - 1];
}


/*
 * In inference a record's probabilities must not depend on which records
 * share its batch (or shard): sgemm may sum in another order for another
 * batch size, so inference's dense layers sum each row in one fixed order
 * (dense_forward_rows).  Convolutions already run image by image.
 */
static void
dense_rows(float *out, const float *in, const float *w, const float *bias, int b, int ic, int oc,
           int train)
{
	if (train)
		dense_forward(out, in, w, bias, b, ic, oc);
	else
		dense_forward_rows(out, in, w, bias, b, ic, oc);
}

void
ref_forward(struct net *n, const float *x, const float *clin, int b, int train, struct rng *g)
{
	net_reserve(n, b);
	ref_forward_from(n, 0, x, clin, b, train, g);
}

void
ref_forward_from(struct net *n, int from, const float *x, const float *clin, int b, int train,
                 struct rng *g)
{
	for (int i = from; i < n->nlayers; i++) {
		struct layer *l = &n->l[i];
		size_t e = (size_t)b * layer_elems(l);
		if (i == n->fuse_at) {
			/* the fusion layer: flattened image features, then clinical
			 * values, from the clinical branch when there is one */
			size_t f = (size_t)l->ic - n->kfuse;
			const float *img = i == 0 ? x : n->a[i - 1], *cv = clin;
			n->clin_in = clin;
			for (int j = 0; j < n->nbranch; j++) {
				const struct layer *c = &n->cl[j];
				dense_rows(n->cz[j], cv, n->params + c->w, n->params + c->b, b, c->ic, c->oc, train);
				relu_forward(n->ca[j], n->cz[j], (size_t)b * c->oc);
				cv = n->ca[j];
			}
			int hide = train && n->clin_drop > 0 && n->kfuse;
			if (hide)
				clin_keep(n->cmask, b, n->clin_drop, g);
			for (int j = 0; j < b; j++) {
				memcpy(n->fused + (size_t)j * l->ic, img + (size_t)j * f, f * sizeof(float));
				if (n->kfuse && hide && !n->cmask[j])
					memset(n->fused + (size_t)j * l->ic + f, 0, (size_t)n->kfuse * sizeof(float));
				else if (n->kfuse)
					memcpy(n->fused + (size_t)j * l->ic + f, cv + (size_t)j * n->kfuse,
					       (size_t)n->kfuse * sizeof(float));
			}
		}
		const float *in = layer_input(n, i, x);
		switch (l->type) {
		case L_CONV:
		case L_CBN:
			conv_forward(n->z[i], in, n->params + l->w, NULL, n->col, b, l->ic, l->ih, l->iw, l->oc,
			             l->k, l->stride, l->pad);
			if (train)
				batchnorm_forward_train(n->a[i], n->mean + l->rmean, n->rstd + l->rmean, n->z[i],
				                        n->params + l->gamma, n->params + l->beta,
				                        n->stats + l->rmean, n->stats + l->rvar, NET_BN_MOMENTUM,
				                        NET_BN_EPS, b, l->oc, l->oh * l->ow);
			else
				batchnorm_forward_infer(n->a[i], n->z[i], n->params + l->gamma, n->params + l->beta,
				                        n->stats + l->rmean, n->stats + l->rvar, NET_BN_EPS, b, l->oc,
				                        l->oh * l->ow);
			if (l->type == L_CONV)
				relu_forward(n->a[i], n->a[i], e);
			break;
		case L_ROUTE:
			memcpy(n->a[i], n->a[l->ref], e * sizeof(float));
			break;
		case L_ADD:
			for (size_t q = 0; q < e; q++)
				n->a[i][q] = in[q] + n->a[l->ref][q];
			relu_forward(n->a[i], n->a[i], e);
			break;
		case L_POOL:
			maxpool_forward(n->a[i], n->idx[i], in, b, l->ic, l->ih, l->iw);
			break;
		case L_MAXPOOL:
			maxpoolk_forward(n->a[i], n->idx[i], in, b, l->ic, l->ih, l->iw, l->k, l->stride, l->pad, l->oh,
			                 l->ow);
			break;
		case L_AVGPOOL:
			avgpoolk_forward(n->a[i], in, b, l->ic, l->ih, l->iw, l->k, l->stride, l->pad, l->oh, l->ow);
			break;
		case L_GAP:
			gap_forward(n->a[i], in, b * l->ic, l->ih * l->iw);
			break;
		case L_CLIN:
			/* the branch's layers are cl[], never in l[] */
			break;
		case L_DENSE:
			dense_rows(n->z[i], in, n->params + l->w, n->params + l->b, b, l->ic, l->oc, train);
			relu_forward(n->a[i], n->z[i], e);
			break;
		case L_DROPOUT:
			if (train && l->p > 0)
				dropout_forward(n->a[i], n->mask[i], in, e, l->p, g);
			else
				memcpy(n->a[i], in, e * sizeof(float));
			break;
		case L_CLASSIFIER:
			dense_rows(n->z[i], in, n->params + l->w, n->params + l->b, b, l->ic, l->oc, train);
			softmax_forward(n->probs, n->z[i], b, l->oc);
			break;
		}
	}
}

float
ref_loss(struct net *n, const int32_t *labels, const float *weights, int b)
{
	return softmax_xent_forward(n->probs, n->z[n->nlayers - 1], labels, weights, b, n->nclasses);
}


/*
 * The clinical branch's parameter gradients from dfused, the fusion
 * layer's input gradient (B, ic): its last kfuse values per image are the
 * branch's output gradient.  The clinical vector's own gradient is not
 * needed.
 */
static void
branch_backward(struct net *n, const float *dfused, int b)
{
	int ic = n->l[n->fuse_at].ic, f = ic - n->kfuse;
	float *dcur = n->cd1, *dz = n->cd2;

	for (int j = 0; j < b; j++)
		memcpy(dcur + (size_t)j * n->kfuse, dfused + (size_t)j * ic + f, (size_t)n->kfuse * sizeof(float));
	/* a record whose clinical values were hidden taught the branch nothing */
	for (int j = 0; n->clin_drop > 0 && j < b; j++)
		if (!n->cmask[j])
			memset(dcur + (size_t)j * n->kfuse, 0, (size_t)n->kfuse * sizeof(float));
	for (int k = n->nbranch - 1; k >= 0; k--) {
		const struct layer *c = &n->cl[k];
		relu_backward(dz, dcur, n->ca[k], (size_t)b * c->oc);
		/* dz is read whole before dcur is written */
		dense_backward(k ? dcur : NULL, n->grads + c->w, n->grads + c->b, dz, k ? n->ca[k - 1] : n->clin_in,
		               n->params + c->w, b, c->ic, c->oc);
	}
}

/*
 * Back-propagate dcur, the gradient at the logits, from the classifier down
 * to the output of layer `stop` (-1: through layer 0), and return the
 * buffer holding the gradient there.  train: parameter gradients are added
 * to n->grads and dropout uses its masks; otherwise only the activations'
 * gradients are made and dropout is the identity, as in inference.
 */
static float *
backprop(struct net *n, const float *x, float *dcur, int b, int stop, int train)
{
	float *dprev = dcur == n->d1 ? n->d2 : n->d1;
	float *scratch = n->d2 + (size_t)n->maxb * n->dmax;

	for (int i = 0; i < n->nlayers; i++)
		if (n->skip && n->skip[i])
			memset(n->skip[i], 0, (size_t)b * layer_elems(&n->l[i]) * sizeof(float));
	for (int i = n->nlayers - 1; i > stop; i--) {
		struct layer *l = &n->l[i];
		const float *in = layer_input(n, i, x);
		size_t e = (size_t)b * layer_elems(l);
		/* what the routes and adds that read this layer sent back */
		if (n->skip && n->skip[i])
			for (size_t q = 0; q < e; q++)
				dcur[q] += n->skip[i][q];
		/* the first layer's input gradient is never used, unless it is
		 * the fusion layer's and the clinical branch's part is */
		float *dinp = i == 0 && !(i == n->fuse_at && n->nbranch && train) ? NULL : dprev;
		float *gw = train ? n->grads + l->w : NULL, *gb = train ? n->grads + l->b : NULL;
		switch (l->type) {
		case L_CLASSIFIER:
			dense_backward(dinp, gw, gb, dcur, in, n->params + l->w, b, l->ic, l->oc);
			break;
		case L_DENSE:
			relu_backward(scratch, dcur, n->a[i], e);
			dense_backward(dinp, gw, gb, scratch, in, n->params + l->w, b, l->ic, l->oc);
			break;
		case L_DROPOUT:
			if (train && l->p > 0)
				dropout_backward(dprev, dcur, n->mask[i], e);
			else
				memcpy(dprev, dcur, e * sizeof(float));
			break;
		case L_POOL:
			maxpool_backward(dprev, dcur, n->idx[i], b, l->ic, l->ih, l->iw);
			break;
		case L_MAXPOOL:
			maxpoolk_backward(dprev, dcur, n->idx[i], b, l->ic, l->ih, l->iw, l->oh, l->ow);
			break;
		case L_AVGPOOL:
			avgpoolk_backward(dprev, dcur, b, l->ic, l->ih, l->iw, l->k, l->stride, l->pad, l->oh, l->ow);
			break;
		case L_GAP:
			gap_backward(dprev, dcur, b * l->ic, l->ih * l->iw);
			break;
		case L_CLIN:
			break;
		case L_ROUTE:
			/* all of it to the layer routed, none to the one before */
			for (size_t q = 0; q < e; q++)
				n->skip[l->ref][q] += dcur[q];
			memset(dprev, 0, (size_t)b * l->ic * l->ih * l->iw * sizeof(float));
			break;
		case L_ADD:
			relu_backward(dprev, dcur, n->a[i], e);
			for (size_t q = 0; q < e; q++)
				n->skip[l->ref][q] += dprev[q];
			break;
		case L_CONV:
		case L_CBN:
			/* batch statistics: only after a training forward */
			if (l->type == L_CONV)
				relu_backward(scratch, dcur, n->a[i], e);
			else
				memcpy(scratch, dcur, e * sizeof(float));
			batchnorm_backward(dcur, n->grads + l->gamma, n->grads + l->beta, scratch, n->z[i],
			                   n->mean + l->rmean, n->rstd + l->rmean, n->params + l->gamma, b,
			                   l->oc, l->oh * l->ow);
			conv_backward(dinp, n->grads + l->w, NULL, dcur, in, n->params + l->w, n->col, b, l->ic,
			              l->ih, l->iw, l->oc, l->k, l->stride, l->pad);
			break;
		}
		if (i == n->fuse_at && train && n->nbranch)
			branch_backward(n, dinp, b);
		if (i == 0)
			break;
		if (i == n->fuse_at) {
			/* keep the image features' part of the fused gradient */
			size_t f = (size_t)l->ic - n->kfuse;
			for (int j = 0; j < b; j++)
				memmove(dprev + (size_t)j * f, dprev + (size_t)j * l->ic, f * sizeof(float));
		}
		float *t = dcur;
		dcur = dprev;
		dprev = t;
	}
	return dcur;
}

void
ref_backward(struct net *n, const float *x, const int32_t *labels, const float *weights, int b)
{
	ref_backward_to(n, x, labels, weights, b, -1);
}

const float *
ref_backward_to(struct net *n, const float *x, const int32_t *labels, const float *weights, int b,
                int stop)
{
	softmax_xent_backward(n->d1, n->probs, labels, weights, b, n->nclasses);
	return backprop(n, x, n->d1, b, stop, 1);
}

void
ref_adam(struct net *n, float lr, float beta1, float beta2, float eps, float wd, int t)
{
	for (int i = 0; i < n->ntensors; i++) {
		const struct ptensor *p = &n->pt[i];
		if (n->l[p->layer].frozen || p->kind == P_MEAN || p->kind == P_VAR)
			continue;
		adam_update(n->params + p->off, n->grads + p->off, n->m + p->off, n->v + p->off, p->count, lr, beta1,
		            beta2, eps, wd, t);
	}
}

int
ref_gradcam(struct net *n, const int *cls, int b, float *cam)
{
	int lc = net_last_conv(n);
	float *dcur = n->d1;

	if (lc < 0)
		return -1;
	/* d score_c / d logits is one-hot: the class score before the softmax */
	memset(dcur, 0, (size_t)b * n->nclasses * sizeof(float));
	for (int j = 0; j < b; j++)
		dcur[(size_t)j * n->nclasses + cls[j]] = 1;
	/* layers above the last conv block only: no batch norm on the way */
	dcur = backprop(n, NULL, dcur, b, lc, 0);
	const struct layer *l = &n->l[lc];
	size_t plane = (size_t)l->oh * l->ow;
	for (int j = 0; j < b; j++) {
		float *c = cam + (size_t)j * plane;
		memset(c, 0, plane * sizeof(float));
		for (int k = 0; k < l->oc; k++) {
			const float *g = dcur + ((size_t)j * l->oc + k) * plane;
			const float *a = n->a[lc] + ((size_t)j * l->oc + k) * plane;
			double alpha = 0;
			for (size_t p = 0; p < plane; p++)
				alpha += g[p];
			alpha /= (double)plane;
			for (size_t p = 0; p < plane; p++)
				c[p] += (float)alpha * a[p];
		}
	}
	return 0;
}
