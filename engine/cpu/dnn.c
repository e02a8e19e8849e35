/*
 * dnn.c - dnn.h: the convolution blocks on oneDNN (Debian's libdnnl, its C
 * API, in the shape of oneDNN's examples/cpu_cnn_training_f32.c: descriptors
 * once, primitives reused, reorders only where a layout changes).
 *
 * Activations are in oneDNN's nChw16c (blocks of 16 channels) when every
 * block's channels come in sixteens, else channels-last (B,H,W,C); either
 * way our passes read a pixel's channels as vectors (kern.inc).  What
 * oneDNN leaves unfused is ours:
 *   forward (training)  conv -> one read of its output z for the batch
 *                       statistics and each 2x2 window's winner (batch norm
 *                       is monotonic per channel) -> BN + ReLU on the
 *                       pooled quarter, with a 1-byte argmax; the
 *                       normalised full-size map is never stored
 *   backward            BN's two sums over the windows' winners only, then
 *                       BN's input gradient in one pass, written over z (for
 *                       the first layer multiplied at once into its weight
 *                       gradient instead)
 *   inference           BN folded into the weights and a bias, ReLU as the
 *                       convolution's post-op, then a pool pass; one image
 *                       per thread
 * Winograd where it was measured faster.  In bfloat16 (dnet_open's bf16)
 * the convolutions after the first read a bfloat16 copy of their input
 * (to_bf16, made once per training forward and kept for the weights'
 * gradient) and of the gradient our backward pass wrote, with weights
 * reordered to bfloat16 from the float32 ones Adam keeps; they write
 * float32, so the passes above are the same code in either precision.
 * oneDNN has no bfloat16 Winograd: they are direct, and still faster.
 * Each pass runs its images on
 * OpenMP's threads; a sum over the batch is made of per-image parts added
 * in image order, so it does not depend on the number of threads.  Layers
 * from the first that is not conv or pool (gap, dropout, dense) on are
 * net.c's.
 */
#include "dnn.h"
#include "engine/spec/nnrow.h"
#include "common/base/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>
#ifdef _OPENMP
#include <omp.h>
#else
static int omp_get_max_threads(void) { return 1; }
static int omp_get_thread_num(void) { return 0; }
#endif

#include "kern.h"
#include "plumb.h"
#include "vec.h"

#define KERN (kern_get())

/* ---------------------------------------------------------------- */
/* the blocks' primitives */

struct blk {
	int layer;                /* the net's layer (the conv, or a lone pool) */
	int conv, pool;           /* conv + BN + ReLU; a 2x2 pool follows (or is the block) */
	int h;                    /* the convolution's input and weights in bfloat16 */
	uint16_t *inh;            /* (B,ih,iw,ic) its input in bfloat16, training */
	int ic, ih, iw, oc, oh, ow;   /* the convolution's (pool: oh = ih, ow = iw) */
	int ph, pw;               /* the block's output: pooled, or oh x ow */
	float *z;                 /* (B,oh,ow,oc) convolution output, training */
	float *zsel;              /* (B,ph,pw,oc) each window's winning z, training (C % 16 = 0) */
	uint8_t *gap;             /* the binary exponent of its lead over the runner-up */
	float *out;               /* (B,ph,pw,oc) the block's output */
	uint8_t *am;              /* (B,ph,pw,oc) which of the window's four won */
	struct bnfold fold;       /* inference: BN folded into the convolution */
	struct conv_prims tr, inf;
};

/*
 * Inference runs one image per thread, each thread's oneDNN calls running
 * alone (inside a parallel region they do not fork): no barrier between
 * the layers of an image, its maps in that core's cache, and an image's
 * arithmetic the same whatever images run beside it.  A thread's own
 * stream, scratchpad, maps and memory objects for the inference
 * primitives (which are shared: executing one is thread-safe).
 */
struct worker {
	dnnl_stream_t stream;
	void *scratch;
	float *t1, *t2, *t3;      /* one image's maps */
	uint16_t *th;             /* a bfloat16 convolution's input, one image */
	dnnl_memory_t src[NET_MAXLAYERS], dst[NET_MAXLAYERS], sp[NET_MAXLAYERS];
};

struct dnet {
	struct net *n;
	int keep, maxb, nb;
	int tail;                 /* the first layer that is not conv or pool: net.c's from there */
	int blk;                  /* activations in nChw16c (else channels-last) */
	int wino;                 /* Winograd where it pays (else direct only) */
	int bf16;                 /* bfloat16 products where oneDNN has them */
	uint16_t *zh;             /* (B, largest full map) a gradient in bfloat16 */
	struct blk b[NET_MAXLAYERS];
	struct dctx cx;           /* engine, stream, scratchpad, kernels chosen */
	float *xin;               /* (B,H,W,C) input, when C > 1 and channels-last */
	float *ga, *gb;           /* gradient buffers, (B, largest activation) */
	const float *x0;          /* the input of the last training forward */
	struct worker *wk;        /* inference's threads */
	int nwk;
	double *part;             /* per-image partial sums, (B, 2, largest C) */
	double *dwpart;           /* the first layer's, (B, C, 9), or NULL */
	/* the first layer a 3x3 "same" convolution of one channel, which the
	 * training passes compute themselves (z never stored): its weights
	 * tap by tap, (9, C) */
	int conv1;
	float *wT;
};

/*
 * A block's convolution for mb images: training (forward, backward data
 * unless it is the first layer, backward weights) or inference (bias and a
 * ReLU post-op).  Returns 0, or -1 when oneDNN has no primitive for it.
 */
static int
prims_make(struct dnet *d, struct blk *k, struct conv_prims *p, int mb, int train)
{
	const struct layer *l = &d->n->l[k->layer];
	/* the input of the first convolution is the caller's NCHW.  Winograd
	 * (nChw16c only) where it was measured to pay (bench/README): for 3x3
	 * stride-1 convolutions from 16 channels, but the training forward
	 * from 32; direct elsewhere, or when oneDNN has none */
	int w3 = d->wino && l->k == 3 && l->stride == 1 && l->pad == 1;
	struct convspec c = {
		.ic = k->ic, .ih = k->ih, .iw = k->iw, .oc = k->oc, .oh = k->oh, .ow = k->ow,
		.k = l->k, .stride = l->stride, .pad = l->pad,
		.stag = !d->blk ? dnnl_nhwc : k->layer == 0 ? dnnl_nchw : dnnl_nChw16c,
		.dtag = d->blk ? dnnl_nChw16c : dnnl_nhwc,
		.h = k->h, .first = k->layer == 0,
		.afwd = w3 && k->ic >= (train ? 32 : 16) ? dnnl_convolution_winograd : dnnl_convolution_direct,
		.abwd = w3 && k->ic >= 16 ? dnnl_convolution_winograd : dnnl_convolution_direct,
		.relu = 1,
	};
	return conv_make(&d->cx, &c, p, mb, train, train ? layer_word(L_CONV) : "conv-infer");
}

/* ---------------------------------------------------------------- */
/* our passes, channels-last; one image's (H,W,C) plane at a time */

/* the per-image mean and sum of squared deviations of each channel of
 * z (P,C), in part[0..C) and part[C..2C) */
static VEC void
stats_image(double *part, const float *z, int H, int W, int C, int blk)
{
	double *m = part, *s2 = part + C;
	int P = H * W;

	if (C % 16 == 0) {
		KERN->stats16(part, z, H, W, C, blk);
		return;
	}

	for (int c = 0; c < C; c++)
		m[c] = s2[c] = 0;
	for (int p = 0; p < P; p++)
		for (int c = 0; c < C; c++)
			m[c] += z[(size_t)p * C + c];
	for (int c = 0; c < C; c++)
		m[c] /= P;
	for (int p = 0; p < P; p++)
		for (int c = 0; c < C; c++) {
			double e = z[(size_t)p * C + c] - m[c];
			s2[c] += e * e;
		}
}

/*
 * Batch statistics of z (B,P,C): mean and 1/sd (C), running statistics
 * moved as batchnorm_forward_train moves them.  The images' parts are
 * combined in image order (Chan et al.'s pairwise update), so the result
 * is the same for any number of threads.
 */
static void
bn_combine(const double *part, int B, int P, int C, float *mean, float *rstd, float *rmean, float *rvar)
{
	for (int c = 0; c < C; c++) {
		double m = part[c], s2 = part[C + c], cnt = P;
		for (int b = 1; b < B; b++) {
			const double *q = part + (size_t)b * 2 * C;
			double delta = q[c] - m, tot = cnt + P;
			m += delta * P / tot;
			s2 += q[C + c] + delta * delta * cnt * P / tot;
			cnt = tot;
		}
		double var = s2 / cnt;
		mean[c] = (float)m;
		rstd[c] = (float)(1 / sqrt(var + NET_BN_EPS));
		double unbiased = cnt > 1 ? s2 / (cnt - 1) : var;
		rmean[c] = (float)((1 - NET_BN_MOMENTUM) * rmean[c] + NET_BN_MOMENTUM * m);
		rvar[c] = (float)((1 - NET_BN_MOMENTUM) * rvar[c] + NET_BN_MOMENTUM * unbiased);
	}
}

/*
 * Batch statistics of z (B,H,W,C): mean and 1/sd (C), running statistics
 * moved as batchnorm_forward_train moves them.  The images' parts are
 * combined in image order (Chan et al.'s pairwise update), so the result
 * is the same for any number of threads.
 */
static void
bn_stats(struct dnet *d, const float *z, int B, int H, int W, int C, float *mean, float *rstd, float *rmean,
         float *rvar)
{
	double *part = d->part;
	int P = H * W;

#pragma omp parallel for schedule(static)
	for (int b = 0; b < B; b++)
		stats_image(part + (size_t)b * 2 * C, z + (size_t)b * P * C, H, W, C, d->blk);
	bn_combine(part, B, P, C, mean, rstd, rmean, rvar);
}

/* the winner of a 2x2 window as max4_first picks it: the first of the
 * largest, written branch-free so the channel loop vectorises */
#define MAX4(v0, v1, v2, v3, best, bv)            \
	do {                                      \
		bv = v0;                          \
		best = 0;                         \
		best = v1 > bv ? 1 : best;        \
		bv = v1 > bv ? v1 : bv;           \
		best = v2 > bv ? 2 : best;        \
		bv = v2 > bv ? v2 : bv;           \
		best = v3 > bv ? 3 : best;        \
		bv = v3 > bv ? v3 : bv;           \
	} while (0)

static inline float
relu(float x)
{
	return x > 0 ? x : 0;
}

/* one image: out = pool(relu(bn(z))) (pool) or relu(bn(z)); z (H,W,C),
 * out and am (PH,PW,C) */
static VEC void
bn_relu_pool_image(float *out, uint8_t *am, const float *z, int H, int W, int C, int pool, int blk,
                   const float *m, const float *r, const float *g, const float *be)
{
	/* (a pooled block of sixteens takes stats_select16 and
	 * bn_relu_select16 instead; the loops below are channels-last) */
	if (C % 16 == 0 && !pool) {
		KERN->bn_relu16(out, z, (size_t)H * W, C, blk, m, r, g, be);
		return;
	}
	if (!pool) {
		for (size_t p = 0; p < (size_t)H * W; p++)
			for (int c = 0; c < C; c++)
				out[p * C + c] = relu(bn_norm(z[p * C + c], m[c], r[c], g[c], be[c]));
		return;
	}
	int PH = H / 2, PW = W / 2;
	for (int py = 0; py < PH; py++)
		for (int px = 0; px < PW; px++) {
			const float *z0 = z + ((size_t)2 * py * W + 2 * px) * C, *z1 = z0 + C;
			const float *z2 = z0 + (size_t)W * C, *z3 = z2 + C;
			float *o = out + ((size_t)py * PW + px) * C;
			uint8_t *a = am + ((size_t)py * PW + px) * C;
			for (int c = 0; c < C; c++) {
				float v0 = relu(bn_norm(z0[c], m[c], r[c], g[c], be[c]));
				float v1 = relu(bn_norm(z1[c], m[c], r[c], g[c], be[c]));
				float v2 = relu(bn_norm(z2[c], m[c], r[c], g[c], be[c]));
				float v3 = relu(bn_norm(z3[c], m[c], r[c], g[c], be[c]));
				float bv;
				int best;
				MAX4(v0, v1, v2, v3, best, bv);
				o[c] = bv;
				a[c] = (uint8_t)best;
			}
		}
}

/* one image: a 2x2 pool of x (H,W,C) into out and am (H/2,W/2,C); am may
 * be NULL */
static VEC void
pool_image(float *out, uint8_t *am, const float *x, int H, int W, int C, int blk)
{
	int PH = H / 2, PW = W / 2;

	if (C % 16 == 0) {
		KERN->pool16(out, am, x, H, W, C, blk);
		return;
	}
	for (int py = 0; py < PH; py++)
		for (int px = 0; px < PW; px++) {
			const float *x0 = x + ((size_t)2 * py * W + 2 * px) * C, *x1 = x0 + C;
			const float *x2 = x0 + (size_t)W * C, *x3 = x2 + C;
			float *o = out + ((size_t)py * PW + px) * C;
			uint8_t *a = am ? am + ((size_t)py * PW + px) * C : NULL;
			for (int c = 0; c < C; c++) {
				float bv;
				int best;
				MAX4(x0[c], x1[c], x2[c], x3[c], best, bv);
				o[c] = bv;
				if (a)
					a[c] = (uint8_t)best;
			}
		}
}

/* one image: the gradient of a 2x2 pool, dx (H,W,C) from dy and am
 * (H/2,W/2,C); the odd edge's row and column get zero */
static VEC void
unpool_image(float *dx, const float *dy, const uint8_t *am, int H, int W, int C, int blk)
{
	int PH = H / 2, PW = W / 2;
	size_t HW = (size_t)H * W, PHW = (size_t)PH * PW;

	memset(dx, 0, HW * C * sizeof *dx);
	for (int c = 0; c < C; c++)
		for (int py = 0; py < PH; py++)
			for (int px = 0; px < PW; px++) {
				size_t q = elem(blk, c, (size_t)py * PW + px, C, PHW);
				int a = am[q];
				dx[elem(blk, c, (size_t)(2 * py + (a >> 1)) * W + 2 * px + (a & 1), C, HW)] = dy[q];
			}
}

/*
 * Backward of one image's BN + ReLU (+ pool), first half: the sums of dy
 * and dy * xhat per channel over the positions that carry a gradient (the
 * windows' winners), in part[0..C) and part[C..2C).  dp and out (PH,PW,C)
 * are the block output's gradient and value, z (H,W,C).
 */
static VEC void
bn_sums_image(double *part, const float *dp, const float *out, const uint8_t *am, const float *z, int H,
              int W, int C, int pool, int blk, const float *m, const float *r)
{
	double *sdy = part, *sdyx = part + C;
	int PH = pool ? H / 2 : H, PW = pool ? W / 2 : W;

	/* (a pooled block of sixteens sums over zsel, in dnet_backward) */
	if (C % 16 == 0 && !pool) {
		KERN->bn_sums16(part, dp, out, z, H, W, C, blk, m, r);
		return;
	}
	for (int c = 0; c < C; c++)
		sdy[c] = sdyx[c] = 0;
	for (int py = 0; py < PH; py++)
		for (int px = 0; px < PW; px++) {
			size_t q = ((size_t)py * PW + px) * C;
			const float *z0 = pool ? z + ((size_t)2 * py * W + 2 * px) * C : z + q;
			for (int c = 0; c < C; c++) {
				int a = pool ? am[q + c] : 0;
				float x = z0[(size_t)((a >> 1) * W + (a & 1)) * C + c];
				float dy = out[q + c] > 0 ? dp[q + c] : 0;
				sdy[c] += dy;
				sdyx[c] += dy * (x - m[c]) * r[c];
			}
		}
}

/* second half: dz (H,W,C), batch norm's input gradient everywhere; dz may
 * be z itself (the training backward writes it over z, not needed again) */
static VEC void
bn_dx_image(float *dz, const float *dp, const float *out, const uint8_t *am, const float *z, int H, int W,
            int C, int pool, int blk, const float *m, const float *r, const float *g, const float *mdy,
            const float *mdyx)
{
	if (C % 16 == 0) {
		KERN->bn_dx16(dz, dp, out, am, z, H, W, C, pool, blk, m, r, g, mdy, mdyx);
		return;
	}
	if (!pool) {
		for (size_t p = 0; p < (size_t)H * W; p++)
			for (int c = 0; c < C; c++) {
				size_t i = p * C + c;
				float dy = out[i] > 0 ? dp[i] : 0;
				dz[i] = bn_dx(dy, z[i], m[c], r[c], g[c], mdy[c], mdyx[c]);
			}
		return;
	}
	int PH = H / 2, PW = W / 2;
	for (int py = 0; py < PH; py++)
		for (int px = 0; px < PW; px++) {
			size_t q = ((size_t)py * PW + px) * C, i0 = ((size_t)2 * py * W + 2 * px) * C;
			size_t i1 = i0 + C, i2 = i0 + (size_t)W * C, i3 = i2 + C;
			for (int c = 0; c < C; c++) {
				float dy = out[q + c] > 0 ? dp[q + c] : 0;
				int a = am[q + c];
				dz[i0 + c] = bn_dx(a == 0 ? dy : 0, z[i0 + c], m[c], r[c], g[c], mdy[c], mdyx[c]);
				dz[i1 + c] = bn_dx(a == 1 ? dy : 0, z[i1 + c], m[c], r[c], g[c], mdy[c], mdyx[c]);
				dz[i2 + c] = bn_dx(a == 2 ? dy : 0, z[i2 + c], m[c], r[c], g[c], mdy[c], mdyx[c]);
				dz[i3 + c] = bn_dx(a == 3 ? dy : 0, z[i3 + c], m[c], r[c], g[c], mdy[c], mdyx[c]);
			}
		}
	/* the odd edge the pool dropped: no gradient arrives there */
	for (int y = 0; y < H; y++)
		for (int x = y < 2 * PH ? 2 * PW : 0; x < W; x++)
			for (int c = 0; c < C; c++) {
				size_t i = ((size_t)y * W + x) * C + c;
				dz[i] = bn_dx(0, z[i], m[c], r[c], g[c], mdy[c], mdyx[c]);
			}
}

/*
 * n floats to bfloat16, rounded to nearest, ties to even (as oneDNN's
 * reorders and vcvtneps2bf16 round); a NaN stays a NaN.  GCC makes this
 * sixteen at a time.
 */
static VEC void
to_bf16(uint16_t *dst, const float *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &src[i], sizeof u);
		uint32_t r = (u + 0x7fffu + ((u >> 16) & 1)) >> 16;
		dst[i] = (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? (u >> 16) | 0x40 : r);
	}
}

/* ---------------------------------------------------------------- */
/* open and close */

static void
blk_free(struct blk *k)
{
	free(k->z);
	free(k->inh);
	free(k->zsel);
	free(k->gap);
	free(k->out);
	free(k->am);
	bnfold_free(&k->fold);
	conv_free(&k->tr);
	conv_free(&k->inf);
}

static void
workers_open(struct dnet *d, size_t big)
{
	size_t sp = 0;

	d->nwk = omp_get_max_threads();
	d->wk = ecalloc((size_t)d->nwk, sizeof *d->wk);
	for (int i = 0; i < d->nb; i++) {
		const_dnnl_primitive_desc_t pd;
		if (!d->b[i].conv)
			continue;
		DNN(dnnl_primitive_get_primitive_desc(d->b[i].inf.fwd, &pd));
		const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
		size_t need = md ? dnnl_memory_desc_get_size(md) : 0;
		sp = need > sp ? need : sp;
	}
	for (int t = 0; t < d->nwk; t++) {
		struct worker *w = &d->wk[t];
		DNN(dnnl_stream_create(&w->stream, d->cx.eng, dnnl_stream_default_flags));
		w->scratch = emalloc(sp ? sp : 1);
		w->t1 = emalloc(big * sizeof(float));
		w->t2 = emalloc(big * sizeof(float));
		w->t3 = emalloc(big * sizeof(float));
		if (d->bf16)
			w->th = emalloc(big * sizeof(uint16_t));
		for (int i = 0; i < d->nb; i++) {
			if (!d->b[i].conv)
				continue;
			w->src[i] = mem_like(&d->cx, d->b[i].inf.fwd, dnnl_query_src_md);
			w->dst[i] = mem_like(&d->cx, d->b[i].inf.fwd, dnnl_query_dst_md);
			w->sp[i] = mem_like(&d->cx, d->b[i].inf.fwd, dnnl_query_scratchpad_md);
		}
	}
}

static void
workers_close(struct dnet *d)
{
	for (int t = 0; t < d->nwk; t++) {
		struct worker *w = &d->wk[t];
		for (int i = 0; i < d->nb; i++) {
			destroy_all(NULL, 0, (dnnl_memory_t[]){ w->src[i], w->dst[i], w->sp[i] }, 3);
		}
		if (w->stream)
			dnnl_stream_destroy(w->stream);
		free(w->scratch);
		free(w->t1);
		free(w->t2);
		free(w->t3);
		free(w->th);
	}
	free(d->wk);
}

void
dnet_close(struct dnet *d)
{
	if (!d)
		return;
	workers_close(d);
	for (int i = 0; i < d->nb; i++)
		blk_free(&d->b[i]);
	free(d->xin);
	free(d->ga);
	free(d->gb);
	free(d->zh);
	free(d->part);
	free(d->dwpart);
	free(d->wT);
	dctx_close(&d->cx);
	free(d);
}

struct dnet *
dnet_open(struct net *n, int maxb, int keep, int wino, int bf16, const char **why)
{
	struct dnet *d;
	size_t big = (size_t)n->c * n->h * n->w;
	int maxc = 1;

	/* the blocks: conv and pool layers from the first; what follows them
	 * (gap, dropout, the dense tail) is net.c's */
	int tail = 0;
	*why = NULL;
	if (net_residual(n)) {
		*why = "cbn, route, add or maxpool layers";
		return NULL;
	}
	while (tail < n->fuse_at && (n->l[tail].type == L_CONV || n->l[tail].type == L_POOL))
		tail++;
	if (tail == 0) {
		*why = "no convolution";
		return NULL;
	}
	for (int i = tail; i < n->fuse_at; i++)
		if (n->l[i].type == L_CONV || n->l[i].type == L_POOL) {
			*why = "a conv or pool layer after dropout";
			return NULL;
		}
	d = ecalloc(1, sizeof *d);
	d->n = n;
	d->tail = tail;
	d->keep = keep;
	d->maxb = maxb;
	d->wino = wino;
	d->bf16 = bf16;
	/* nChw16c when every block's channels come in sixteens (OsteoNet's
	 * do): Winograd needs it, and the first convolution then reads the
	 * caller's NCHW as it is */
	d->blk = n->l[0].type == L_CONV;
	for (int i = 0; i < tail; i++)
		if (n->l[i].oc % 16 || (i > 0 && n->l[i].ic % 16))
			d->blk = 0;
	if (dctx_open(&d->cx) < 0) {
		*why = "oneDNN has no CPU engine";
		dnet_close(d);
		return NULL;
	}
	/* blocks: a conv with the pool after it, a conv alone, a pool alone */
	for (int i = 0; i < tail; i++) {
		const struct layer *l = &n->l[i];
		struct blk *k = &d->b[d->nb++];
		k->layer = i;
		k->conv = l->type == L_CONV;
		k->pool = !k->conv || (i + 1 < tail && n->l[i + 1].type == L_POOL);
		k->ic = l->ic;
		k->ih = l->ih;
		k->iw = l->iw;
		k->oc = l->oc;
		k->oh = k->conv ? l->oh : l->ih;
		k->ow = k->conv ? l->ow : l->iw;
		k->ph = k->pool ? k->oh / 2 : k->oh;
		k->pw = k->pool ? k->ow / 2 : k->ow;
		if (k->conv && k->pool)
			i++;
		size_t full = (size_t)k->oh * k->ow * k->oc, pooled = (size_t)k->ph * k->pw * k->oc;
		big = full > big ? full : big;
		maxc = k->oc > maxc ? k->oc : maxc;
		k->out = emalloc((size_t)maxb * pooled * sizeof(float));
		if (k->pool)
			k->am = emalloc((size_t)maxb * pooled);
		if (!k->conv)
			continue;
		bnfold_open(&k->fold, l);
		/* bfloat16 from the second convolution on: the first reads
		 * the image as it came, and has few products to speed up */
		k->h = bf16 && d->nb > 1;
		if (k->h && prims_make(d, k, &k->inf, 1, 0) < 0)
			k->h = 0;
		if (!k->inf.mb && prims_make(d, k, &k->inf, 1, 0) < 0) {
			*why = "oneDNN has no convolution for a layer's shape";
			dnet_close(d);
			return NULL;
		}
	}
	/* the first layer computed by the training passes themselves: its z
	 * costs 9 products a value to make again, less than storing it */
	const struct layer *l0 = &n->l[0];
	d->conv1 = d->b[0].conv && d->b[0].pool && l0->oc % 16 == 0 && l0->ic == 1 && l0->k == 3 && l0->stride == 1 &&
	           l0->pad == 1;
	if (n->c > 1 && !d->blk)
		d->xin = emalloc((size_t)maxb * n->c * n->h * n->w * sizeof(float));
	workers_open(d, big);
	d->part = emalloc((size_t)maxb * 2 * maxc * sizeof(double));
	return d;
}

int
dnet_bf16_layers(const struct dnet *d)
{
	int c = 0;

	for (int i = 0; i < d->nb; i++)
		c += d->b[i].h;
	return c;
}

int
dnet_bf16_native(const char **isa)
{
	dnnl_cpu_isa_t have = dnnl_get_effective_cpu_isa();

	*isa = (have & dnnl_cpu_isa_avx512_core_amx) == dnnl_cpu_isa_avx512_core_amx     ? "AMX"
	       : (have & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16 ? "AVX512_BF16"
	       : (have & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core           ? "AVX-512 without BF16"
	       : (have & dnnl_cpu_isa_avx2) == dnnl_cpu_isa_avx2                         ? "AVX2"
	                                                                                 : "no AVX2";
	return (have & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
}

int
dnet_tail(const struct dnet *d)
{
	return d->tail;
}

const char *
dnet_kernels(const struct dnet *d)
{
	return d->cx.kernels;
}

/* the largest convolution output of the blocks, per image */
static size_t
big_full(const struct dnet *d)
{
	size_t big = 0;

	for (int i = 0; i < d->nb; i++) {
		size_t full = (size_t)d->b[i].oh * d->b[i].ow * d->b[i].oc;
		big = full > big ? full : big;
	}
	return big;
}

/* the training buffers and primitives for batches of b, made at the first
 * training forward and again when b changes (oneDNN's primitive cache
 * makes the second time cheap) */
static void
train_ready(struct dnet *d, int b)
{
	if (d->ga && d->b[0].tr.mb == b)
		return;
	if (!d->ga) {
		size_t big = (size_t)d->n->c * d->n->h * d->n->w;
		for (int i = 0; i < d->nb; i++) {
			struct blk *k = &d->b[i];
			size_t full = (size_t)k->oh * k->ow * k->oc;
			big = full > big ? full : big;
			if (k->conv && !(i == 0 && d->conv1))
				k->z = emalloc((size_t)d->maxb * full * sizeof(float));
			if (k->h) {
				k->inh = emalloc((size_t)d->maxb * k->ih * k->iw * k->ic * sizeof(uint16_t));
				if (!d->zh)
					d->zh = emalloc((size_t)d->maxb * big_full(d) * sizeof(uint16_t));
			}
			if (k->conv && k->pool && k->oc % 16 == 0)
			{
				size_t pooled = (size_t)d->maxb * k->ph * k->pw * k->oc;
				k->zsel = emalloc(pooled * sizeof(float));
				k->gap = emalloc(pooled);
			}
		}
		if (d->conv1) {
			d->dwpart = emalloc((size_t)d->maxb * 9 * d->b[0].oc * sizeof(double));
			d->wT = emalloc((size_t)9 * d->b[0].oc * sizeof(float));
		}
		d->ga = emalloc((size_t)d->maxb * big * sizeof(float));
		d->gb = emalloc((size_t)d->maxb * big * sizeof(float));
	}
	for (int i = 0; i < d->nb; i++) {
		struct blk *k = &d->b[i];
		if (!k->conv || (i == 0 && d->conv1))
			continue;
		conv_free(&k->tr);
		if (prims_make(d, k, &k->tr, b, 1) < 0)
			die(EX_SOFTWARE, "oneDNN has no training convolution for layer %d at batch %d", k->layer + 1, b);
	}
	/* lone pools carry mb too, so the test above sees the batch */
	d->b[0].tr.mb = b;
}

/* ---------------------------------------------------------------- */
/* forward */

/* the input as the first convolution reads it: (B,H,W,C), or NCHW as it
 * came for nChw16c */
static const float *
input(struct dnet *d, const float *x, int b)
{
	return input_pixels(d->xin, x, b, d->n->c, d->n->h * d->n->w);
}

/* the last block's output into n->a[tail - 1], laid out as the walker
 * of engine/ref reads it */
static void
features_out(struct dnet *d, int b)
{
	const struct blk *k = &d->b[d->nb - 1];
	int P = k->ph * k->pw;
	float *a = d->n->a[d->tail - 1];

#pragma omp parallel for schedule(static)
	for (int j = 0; j < b; j++)
		to_planes(a + (size_t)j * P * k->oc, k->out + (size_t)j * P * k->oc, P, k->oc, d->blk);
}

static void
forward_train(struct dnet *d, const float *x, int b)
{
	struct net *n = d->n;
	const float *src = d->x0 = input(d, x, b);

	train_ready(d, b);
	for (int i = 0; i < d->nb; i++) {
		struct blk *k = &d->b[i];
		const struct layer *l = &n->l[k->layer];
		size_t in = (size_t)k->ih * k->iw * k->ic, full = (size_t)k->oh * k->ow * k->oc;
		size_t pooled = (size_t)k->ph * k->pw * k->oc;
		if (!k->conv) {
#pragma omp parallel for schedule(static)
			for (int j = 0; j < b; j++)
				pool_image(k->out + j * pooled, k->am + j * pooled, src + j * in, k->ih, k->iw, k->ic, d->blk);
			src = k->out;
			continue;
		}
		float *m = n->mean + l->rmean, *r = n->rstd + l->rmean;
		const float *g = n->params + l->gamma, *be = n->params + l->beta;
		if (i == 0 && d->conv1) {
			size_t px = (size_t)k->ih * k->iw;
			for (int o = 0; o < k->oc; o++)
				for (int t = 0; t < 9; t++)
					d->wT[t * k->oc + o] = n->params[l->w + (size_t)o * 9 + t];
#pragma omp parallel for schedule(static)
			for (int j = 0; j < b; j++)
				KERN->stats_select16(d->part + (size_t)j * 2 * k->oc, k->zsel + j * pooled, k->am + j * pooled,
				                     k->gap + j * pooled, NULL, src + j * px, d->wT, k->oh, k->ow, k->oc, d->blk, g);
			bn_combine(d->part, b, k->oh * k->ow, k->oc, m, r, n->stats + l->rmean, n->stats + l->rvar);
#pragma omp parallel for schedule(static)
			for (int j = 0; j < b; j++)
				KERN->bn_relu_select16(k->out + j * pooled, k->zsel + j * pooled, k->am + j * pooled,
				                       k->gap + j * pooled, NULL, src + j * px, d->wT, k->oh, k->ow, k->oc, d->blk,
				                       m, r, g, be);
			src = k->out;
			continue;
		}
		struct conv_prims *p = &k->tr;
		handle(p->w_user, n->params + l->w);
		if (p->to_fwd_w)
			run(&d->cx, p->to_fwd_w, NULL, 2, (dnnl_exec_arg_t[]){ { DNNL_ARG_FROM, p->w_user }, { DNNL_ARG_TO, p->w_fwd } });
		if (k->h) {
#pragma omp parallel for schedule(static)
			for (int j = 0; j < b; j++)
				to_bf16(k->inh + j * in, src + j * in, in);
			handle(p->src, k->inh);
		} else
			handle(p->src, src);
		handle(p->dst, k->z);
		run(&d->cx, p->fwd, p->sp_fwd, 3, (dnnl_exec_arg_t[]){ { DNNL_ARG_SRC, p->src }, { DNNL_ARG_WEIGHTS, p->w_fwd },
		                                       { DNNL_ARG_DST, p->dst } });
		if (k->zsel) {
			/* one read of z; then batch norm and ReLU on the winners */
#pragma omp parallel for schedule(static)
			for (int j = 0; j < b; j++)
				KERN->stats_select16(d->part + (size_t)j * 2 * k->oc, k->zsel + j * pooled, k->am + j * pooled,
				                     k->gap + j * pooled, k->z + j * full, NULL, NULL, k->oh, k->ow, k->oc, d->blk,
				                     g);
			bn_combine(d->part, b, k->oh * k->ow, k->oc, m, r, n->stats + l->rmean, n->stats + l->rvar);
#pragma omp parallel for schedule(static)
			for (int j = 0; j < b; j++)
				KERN->bn_relu_select16(k->out + j * pooled, k->zsel + j * pooled, k->am + j * pooled,
				                       k->gap + j * pooled, k->z + j * full, NULL, NULL, k->oh, k->ow, k->oc,
				                       d->blk, m, r, g, be);
			src = k->out;
			continue;
		}
		bn_stats(d, k->z, b, k->oh, k->ow, k->oc, m, r, n->stats + l->rmean, n->stats + l->rvar);
#pragma omp parallel for schedule(static)
		for (int j = 0; j < b; j++)
			bn_relu_pool_image(k->out + j * pooled, k->am ? k->am + j * pooled : NULL, k->z + j * full, k->oh,
			                   k->ow, k->oc, k->pool, d->blk, m, r, g, be);
		src = k->out;
	}
	features_out(d, b);
}

/* BN folded into each convolution (bnfold_run) */
static void
fold(struct dnet *d)
{
	for (int i = 0; i < d->nb; i++)
		if (d->b[i].conv)
			bnfold_run(&d->cx, &d->b[i].fold, d->n, &d->n->l[d->b[i].layer], &d->b[i].inf);
}

/* keep: image j's activations of layer i, (P,C), into net.c's buffers */
static void
keep_layer(struct dnet *d, int i, int j, const float *act, const uint8_t *am, int PH, int PW, int C)
{
	struct net *n = d->n;
	size_t P = (size_t)PH * PW;

	to_planes(n->a[i] + j * P * C, act, (int)P, C, d->blk);
	if (!am)
		return;
	/* pool argmax: the winner's offset in the input plane, as net.c keeps it */
	int W = n->l[i].iw;
	int32_t *idx = n->idx[i] + j * P * C;
	for (int c = 0; c < C; c++)
		for (size_t q = 0; q < P; q++) {
			int a = am[elem(d->blk, c, q, C, P)], py = (int)(q / PW), px = (int)(q % PW);
			idx[c * P + q] = (2 * py + (a >> 1)) * W + 2 * px + (a & 1);
		}
}

/* image j through the convolution blocks on worker w */
static void
infer_image(struct dnet *d, struct worker *w, const float *src, int j)
{
	for (int i = 0; i < d->nb; i++) {
		struct blk *k = &d->b[i];
		size_t pooled = (size_t)k->ph * k->pw * k->oc;
		/* block outputs alternate between t2 and t3, the last one lands
		 * in its row of the batch; a pooled conv's full map in t1 */
		float *out = i == d->nb - 1 ? k->out + j * pooled : src == w->t2 ? w->t3 : w->t2;
		uint8_t *am = d->keep && k->pool ? k->am + j * pooled : NULL;
		if (!k->conv) {
			pool_image(out, am, src, k->ih, k->iw, k->ic, d->blk);
			if (d->keep)
				keep_layer(d, k->layer, j, out, am, k->ph, k->pw, k->oc);
			src = out;
			continue;
		}
		struct conv_prims *p = &k->inf;
		float *full = k->pool ? w->t1 : out;
		dnnl_exec_arg_t args[5] = { { DNNL_ARG_SRC, w->src[i] }, { DNNL_ARG_WEIGHTS, p->w_fwd },
		                            { DNNL_ARG_BIAS, p->bias }, { DNNL_ARG_DST, w->dst[i] },
		                            { DNNL_ARG_SCRATCHPAD, w->sp[i] } };
		if (k->h) {
			size_t in = (size_t)k->ih * k->iw * k->ic;
			to_bf16(w->th, src, in);
			handle(w->src[i], w->th);
		} else
			handle(w->src[i], src);
		handle(w->dst[i], full);
		if (w->sp[i])
			handle(w->sp[i], w->scratch);
		DNN(dnnl_primitive_execute(p->fwd, w->stream, w->sp[i] ? 5 : 4, args));
		DNN(dnnl_stream_wait(w->stream));
		if (d->keep)
			keep_layer(d, k->layer, j, full, NULL, k->oh, k->ow, k->oc);
		if (k->pool) {
			pool_image(out, am, full, k->oh, k->ow, k->oc, d->blk);
			if (d->keep)
				keep_layer(d, k->layer + 1, j, out, am, k->ph, k->pw, k->oc);
		}
		src = out;
	}
}

static void
forward_infer(struct dnet *d, const float *x, int b)
{
	struct net *n = d->n;
	const float *xs = input(d, x, b);
	size_t px = (size_t)n->c * n->h * n->w;

	fold(d);
#pragma omp parallel for schedule(static)
	for (int j = 0; j < b; j++)
		infer_image(d, &d->wk[omp_get_thread_num()], xs + j * px, j);
	features_out(d, b);
}

void
dnet_forward(struct dnet *d, const float *x, int b, int train)
{
	if (b > d->maxb)
		die(EX_SOFTWARE, "dnet_forward: batch %d past the engine's %d", b, d->maxb);
	if (train)
		forward_train(d, x, b);
	else
		forward_infer(d, x, b);
}

/* ---------------------------------------------------------------- */
/* backward */

/* the first layer's batch norm input gradient and weight gradient in one
 * pass (kern.inc's bn_dx_dw1_16), its images' parts added in order */
static void
first_dw(struct dnet *d, struct blk *k, const float *dp, int b, const float *m, const float *r, const float *g,
         const float *mdy, const float *mdyx)
{
	struct net *n = d->n;
	const struct layer *l = &n->l[k->layer];
	size_t pooled = (size_t)k->ph * k->pw * k->oc, px = (size_t)k->ih * k->iw;
	size_t per = (size_t)k->oc * 9;

#pragma omp parallel for schedule(static)
	for (int j = 0; j < b; j++)
		KERN->bn_dx_dw1_16(d->dwpart + j * per, dp + j * pooled, k->out + j * pooled, k->am + j * pooled, NULL,
		                   d->x0 + j * px, d->wT, k->oh, k->ow, k->oc, d->blk, m, r, g, mdy, mdyx);
	for (int o = 0; o < k->oc; o++)
		for (int t = 0; t < 9; t++) {
			double s = 0;
			for (int j = 0; j < b; j++)
				s += d->dwpart[j * per + (size_t)(o / 16) * 9 * 16 + t * 16 + o % 16];
			n->grads[l->w + (size_t)o * 9 + t] += (float)s;
		}
}

void
dnet_backward(struct dnet *d, const float *df, int b)
{
	struct net *n = d->n;
	float *dcur = d->ga, *dnext = d->gb;
	const struct blk *last = &d->b[d->nb - 1];
	int P = last->ph * last->pw;

	/* the features' gradient, net.c's layout, back to channels-last */
#pragma omp parallel for schedule(static)
	for (int j = 0; j < b; j++)
		to_pixels(dcur + (size_t)j * P * last->oc, df + (size_t)j * P * last->oc, P, last->oc, d->blk);
	for (int i = d->nb - 1; i >= 0; i--) {
		struct blk *k = &d->b[i];
		const struct layer *l = &n->l[k->layer];
		size_t in = (size_t)k->ih * k->iw * k->ic, full = (size_t)k->oh * k->ow * k->oc;
		size_t pooled = (size_t)k->ph * k->pw * k->oc;
		if (!k->conv) {
			if (i == 0)
				break;
#pragma omp parallel for schedule(static)
			for (int j = 0; j < b; j++)
				unpool_image(dnext + j * in, dcur + j * pooled, k->am + j * pooled, k->ih, k->iw, k->ic, d->blk);
		} else {
			const float *m = n->mean + l->rmean, *r = n->rstd + l->rmean, *g = n->params + l->gamma;
			int C = k->oc;
			double *part = d->part;
			/* the sums over the windows' winners: from zsel where the
			 * forward kept them */
#pragma omp parallel for schedule(static)
			for (int j = 0; j < b; j++)
				if (k->zsel)
					KERN->bn_sums16(part + (size_t)j * 2 * C, dcur + j * pooled, k->out + j * pooled,
					                k->zsel + j * pooled, k->ph, k->pw, C, d->blk, m, r);
				else
					bn_sums_image(part + (size_t)j * 2 * C, dcur + j * pooled, k->out + j * pooled,
					              k->am ? k->am + j * pooled : NULL, k->z + j * full, k->oh, k->ow, C, k->pool,
					              d->blk, m, r);
			float mdy[C], mdyx[C];
			double cnt = (double)b * k->oh * k->ow;
			for (int c = 0; c < C; c++) {
				double sdy = 0, sdyx = 0;
				for (int j = 0; j < b; j++) {
					sdy += part[(size_t)j * 2 * C + c];
					sdyx += part[(size_t)j * 2 * C + C + c];
				}
				n->grads[l->gamma + c] += (float)sdyx;
				n->grads[l->beta + c] += (float)sdy;
				mdy[c] = (float)(sdy / cnt);
				mdyx[c] = (float)(sdyx / cnt);
			}
			if (d->dwpart && i == 0) {
				first_dw(d, k, dcur, b, m, r, g, mdy, mdyx);
				break;
			}
#pragma omp parallel for schedule(static)
			for (int j = 0; j < b; j++)
				bn_dx_image(k->z + j * full, dcur + j * pooled, k->out + j * pooled,
				            k->am ? k->am + j * pooled : NULL, k->z + j * full, k->oh, k->ow, C, k->pool,
				            d->blk, m, r, g, mdy, mdyx);
			struct conv_prims *p = &k->tr;
			if (k->h) {
#pragma omp parallel for schedule(static)
				for (int j = 0; j < b; j++)
					to_bf16(d->zh + j * full, k->z + j * full, full);
				handle(p->src, k->inh);
				handle(p->diff_dst, d->zh);
			} else {
				handle(p->src, i == 0 ? d->x0 : d->b[i - 1].out);
				handle(p->diff_dst, k->z);
			}
			run(&d->cx, p->bwd_w, p->sp_bwd_w, 3, (dnnl_exec_arg_t[]){ { DNNL_ARG_SRC, p->src }, { DNNL_ARG_DIFF_DST, p->diff_dst },
			                                         { DNNL_ARG_DIFF_WEIGHTS, p->dw } });
			handle(p->dw_user, n->grads + l->w);
			run(&d->cx, p->from_dw, NULL, 2, (dnnl_exec_arg_t[]){ { DNNL_ARG_FROM, p->dw }, { DNNL_ARG_TO, p->dw_user } });
			if (i == 0)
				break;
			if (p->to_bwd_w)
				run(&d->cx, p->to_bwd_w, NULL, 2, (dnnl_exec_arg_t[]){ { DNNL_ARG_FROM, p->w_user }, { DNNL_ARG_TO, p->w_bwd } });
			handle(p->diff_src, dnext);
			run(&d->cx, p->bwd_data, p->sp_bwd_data, 3, (dnnl_exec_arg_t[]){ { DNNL_ARG_DIFF_DST, p->diff_dst },
			                                            { DNNL_ARG_WEIGHTS, p->w_bwd },
			                                            { DNNL_ARG_DIFF_SRC, p->diff_src } });
		}
		float *t = dcur;
		dcur = dnext;
		dnext = t;
	}
}
