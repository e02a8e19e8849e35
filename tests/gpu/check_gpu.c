/*
 * check_gpu.c - the CUDA layers (gpu/gnn.h) and network (gpu.h's gnet)
 * against their CPU twins (nn.h, net.h) on random inputs.  Runs where a
 * CUDA device is; elsewhere it says why not and exits 77 (skipped).
 *
 * Errors are measured over a whole output, max |gpu - cpu| / max |cpu|:
 * the GPU sums in another order (cuBLAS, block reductions), so float32
 * results agree to rounding, not bit for bit.  Elementwise kernels and
 * indices must agree exactly.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/spec/net.h"
#include "engine/ref/ref.h"
#include "common/base/rng.h"
#include "common/base/util.h"
#include "gpu/gnn.h"
#include "gpu/gpu.h"

#define TOL 1e-5        /* one layer, float32 */
#define NET_TOL 1e-4    /* a whole training step */

static struct rng g;

static float *
randv(size_t n, float scale)
{
	float *v = emalloc(n * sizeof *v);

	for (size_t i = 0; i < n; i++)
		v[i] = (float)(scale * rng_normal(&g));
	return v;
}

static void *
dput(const void *h, size_t bytes)
{
	void *d = gnn_alloc(bytes, "a test");

	gnn_put(d, h, bytes);
	return d;
}

static float *
dgetf(const float *d, size_t n)
{
	float *h = emalloc(n * sizeof *h);

	gnn_sync();
	gnn_get(h, d, n * sizeof *h);
	return h;
}

static double
relerr(const float *a, const float *ref, size_t n)
{
	double d = 0, m = 0;

	for (size_t i = 0; i < n; i++) {
		d = fmax(d, fabs((double)a[i] - ref[i]));
		m = fmax(m, fabs((double)ref[i]));
	}
	return m > 0 ? d / m : d;
}

#define CLOSE(a, ref, n, tol) do { \
	double e_ = relerr(a, ref, n); \
	ck_assert_msg(e_ < (tol), "%s: relative error %.3g (limit %.0g)", #a, e_, (double)(tol)); \
} while (0)

/* (B,C,HW) <-> (C,B,HW) */
static float *
to_cbhw(const float *x, int B, int C, int HW)
{
	float *y = emalloc((size_t)B * C * HW * sizeof *y);

	for (int b = 0; b < B; b++)
		for (int c = 0; c < C; c++)
			memcpy(y + ((size_t)c * B + b) * HW, x + ((size_t)b * C + c) * HW, HW * sizeof *y);
	return y;
}

static float *
to_bchw(const float *x, int C, int B, int HW)
{
	float *y = emalloc((size_t)B * C * HW * sizeof *y);

	for (int b = 0; b < B; b++)
		for (int c = 0; c < C; c++)
			memcpy(y + ((size_t)b * C + c) * HW, x + ((size_t)c * B + b) * HW, HW * sizeof *y);
	return y;
}

/* ---------------------------------------------------------------- */

static const struct convcase { int B, C, H, W, OC, k, stride; size_t budget; } convcases[] = {
	{ 3, 2, 9, 7, 4, 3, 1, 1 },          /* one image per im2col chunk */
	{ 5, 3, 12, 12, 8, 3, 2, 1 << 20 },  /* the whole batch at once, stride 2 */
	{ 4, 1, 16, 10, 6, 5, 1, 3000 },     /* chunks of a few images, 5x5 */
	{ 2, 4, 6, 6, 3, 1, 1, 1 << 20 },    /* 1x1 */
};

START_TEST(conv_matches_cpu)
{
	const struct convcase *t = &convcases[_i];
	int pad = t->k / 2, OH = conv_out(t->H, t->k, t->stride, pad), OW = conv_out(t->W, t->k, t->stride, pad);
	size_t nin = (size_t)t->B * t->C * t->H * t->W, nout = (size_t)t->B * t->OC * OH * OW;
	size_t nw = (size_t)t->OC * t->C * t->k * t->k;
	float *x = randv(nin, 1), *w = randv(nw, 0.5f), *dout = randv(nout, 1);
	float *col = emalloc(conv_col_size(t->C, t->k, OH, OW) * sizeof *col);
	float *out = emalloc(nout * sizeof *out), *dx = emalloc(nin * sizeof *dx), *dw = calloc(nw, sizeof *dw);
	float *xc = to_cbhw(x, t->B, t->C, t->H * t->W), *doutc = to_cbhw(dout, t->B, t->OC, OH * OW);
	float *d_x = dput(xc, nin * 4), *d_w = dput(w, nw * 4), *d_dout = dput(doutc, nout * 4);
	float *d_out = gnn_alloc(nout * 4, "t"), *d_dx = gnn_alloc(nin * 4, "t"), *d_dw = gnn_alloc(nw * 4, "t");
	size_t budget = t->budget;
	/* at least one image's columns, as the network sizes it */
	size_t one = conv_col_size(t->C, t->k, OH, OW);
	float *d_col = gnn_alloc((budget > one ? budget : one) * 4, "t");

	conv_forward(out, x, w, NULL, col, t->B, t->C, t->H, t->W, t->OC, t->k, t->stride, pad);
	conv_backward(dx, dw, NULL, dout, x, w, col, t->B, t->C, t->H, t->W, t->OC, t->k, t->stride, pad);
	gnn_zero(d_dw, nw * 4);
	gconv_forward(d_out, d_x, d_w, d_col, budget, t->B, t->C, t->H, t->W, t->OC, t->k, t->stride, pad);
	gconv_backward(d_dx, d_dw, d_dout, d_x, d_w, d_col, budget, t->B, t->C, t->H, t->W, t->OC, t->k,
	               t->stride, pad);
	float *gout = to_bchw(dgetf(d_out, nout), t->OC, t->B, OH * OW);
	float *gdx = to_bchw(dgetf(d_dx, nin), t->C, t->B, t->H * t->W);
	float *gdw = dgetf(d_dw, nw);
	CLOSE(gout, out, nout, TOL);
	CLOSE(gdx, dx, nin, TOL);
	CLOSE(gdw, dw, nw, TOL);
}
END_TEST

/* batch norm + ReLU (+ pool), forward in training and inference and
 * backward, against nn.c's layers composed */
static const struct bncase { int B, C, H, W, pool, relu; } bncases[] = {
	{ 4, 3, 8, 8, 0, 1 },
	{ 4, 3, 8, 8, 1, 1 },
	{ 3, 5, 7, 9, 1, 1 },     /* odd sides: the pool drops an edge */
	{ 64, 2, 33, 31, 1, 1 },  /* several blocks per channel */
	{ 4, 3, 8, 8, 0, 0 },     /* cbn: batch norm without the ReLU */
	{ 64, 2, 33, 31, 0, 0 },
};

START_TEST(bn_relu_pool_matches_cpu)
{
	const struct bncase *t = &bncases[_i];
	int B = t->B, C = t->C, H = t->H, W = t->W, HW = H * W, OH = H / 2, OW = W / 2;
	size_t n = (size_t)B * C * HW, np = (size_t)B * C * OH * OW, nout = t->pool ? np : n;
	float *z = randv(n, 2), *gamma = randv(C, 1), *beta = randv(C, 0.5f), *dout = randv(nout, 1);
	float rm[C], rv[C], mean[C], rstd[C], dgamma[C], dbeta[C];
	float *a = emalloc(n * 4), *pooled = emalloc(np * 4), *da = emalloc(n * 4), *dz = emalloc(n * 4);
	float *infer = emalloc(n * 4), *ipooled = emalloc(np * 4);
	int32_t *idx = emalloc(np * 4), *iidx = emalloc(np * 4);
	for (int c = 0; c < C; c++) {
		z[c] += 3;        /* a mean well away from 0 */
		rm[c] = 0.1f * c;
		rv[c] = 1 + 0.5f * c;
		dgamma[c] = dbeta[c] = 0.25f;
	}
	float *d_rm = dput(rm, C * 4), *d_rv = dput(rv, C * 4), *d_g = dput(gamma, C * 4), *d_b = dput(beta, C * 4);
	float *d_dg = dput(dgamma, C * 4), *d_db = dput(dbeta, C * 4);
	float *d_z = dput(to_cbhw(z, B, C, HW), n * 4), *d_dout = dput(to_cbhw(dout, B, C, t->pool ? OH * OW : HW), nout * 4);
	float *d_out = gnn_alloc(nout * 4, "t"), *d_mean = gnn_alloc(C * 4, "t"), *d_rstd = gnn_alloc(C * 4, "t");
	float *d_dz = gnn_alloc(n * 4, "t");
	uint8_t *d_idx = gnn_alloc(np, "t");
	int32_t *d_off = gnn_alloc(np * 4, "t");
	double *d_part = gnn_alloc(gnn_bn_parts(C, (size_t)B * HW) * sizeof(double), "t");

	/* inference first: it reads the running statistics training moves */
	batchnorm_forward_infer(infer, z, gamma, beta, rm, rv, 1e-5f, B, C, HW);
	if (t->relu)
		relu_forward(infer, infer, n);
	maxpool_forward(ipooled, iidx, infer, B, C, H, W);
	gbn_relu_forward(d_out, d_idx, d_z, NULL, NULL, d_g, d_b, d_rm, d_rv, NULL, 0, 0.1f, 1e-5f, C, B, H, W, t->pool, t->relu);
	float *gi = to_bchw(dgetf(d_out, nout), C, B, t->pool ? OH * OW : HW);
	CLOSE(gi, t->pool ? ipooled : infer, nout, TOL);

	batchnorm_forward_train(a, mean, rstd, z, gamma, beta, rm, rv, 0.1f, 1e-5f, B, C, HW);
	if (t->relu)
		relu_forward(a, a, n);
	maxpool_forward(pooled, idx, a, B, C, H, W);
	gbn_relu_forward(d_out, d_idx, d_z, d_mean, d_rstd, d_g, d_b, d_rm, d_rv, d_part, 1, 0.1f, 1e-5f, C, B,
	                 H, W, t->pool, t->relu);
	float *go = to_bchw(dgetf(d_out, nout), C, B, t->pool ? OH * OW : HW);
	CLOSE(go, t->pool ? pooled : a, nout, TOL);
	CLOSE(dgetf(d_mean, C), mean, C, TOL);
	CLOSE(dgetf(d_rstd, C), rstd, C, TOL);
	CLOSE(dgetf(d_rm, C), rm, C, TOL);
	CLOSE(dgetf(d_rv, C), rv, C, TOL);
	if (t->pool) {
		int32_t off[np];
		gnn_pool_offsets(d_off, d_idx, C, B, H, W);
		gnn_sync();
		gnn_get(off, d_off, np * 4);
		ck_assert_msg(!memcmp(off, idx, np * 4), "pool indices differ");
	}

	if (t->pool)
		maxpool_backward(da, dout, idx, B, C, H, W);
	else
		memcpy(da, dout, n * 4);
	if (t->relu)
		relu_backward(da, da, a, n);
	batchnorm_backward(dz, dgamma, dbeta, da, z, mean, rstd, gamma, B, C, HW);
	gbn_relu_backward(d_dz, d_dg, d_db, d_dout, t->pool ? d_idx : NULL, d_z, d_mean, d_rstd, d_g, d_b,
	                  d_part, C, B, H, W, t->relu);
	float *gdz = to_bchw(dgetf(d_dz, n), C, B, HW);
	CLOSE(gdz, dz, n, TOL);
	CLOSE(dgetf(d_dg, C), dgamma, C, TOL);
	CLOSE(dgetf(d_db, C), dbeta, C, TOL);
}
END_TEST

START_TEST(maxpool_matches_cpu)
{
	int B = 3, C = 4, H = 9, W = 6, P = B * C, OH = H / 2, OW = W / 2;
	size_t n = (size_t)P * H * W, np = (size_t)P * OH * OW;
	float *x = randv(n, 1), *dout = randv(np, 1), *out = emalloc(np * 4), *dx = emalloc(n * 4);
	int32_t *idx = emalloc(np * 4);
	/* ties: the first of equal values wins on both */
	for (size_t i = 0; i < n; i += 7)
		x[i] = x[i + 1 < n ? i + 1 : i] = 0.5f;
	float *d_x = dput(x, n * 4), *d_dout = dput(dout, np * 4), *d_out = gnn_alloc(np * 4, "t");
	float *d_dx = gnn_alloc(n * 4, "t");
	uint8_t *d_idx = gnn_alloc(np, "t");

	/* planes are planes: the (B,C) order does not matter to the pool */
	maxpool_forward(out, idx, x, B, C, H, W);
	maxpool_backward(dx, dout, idx, B, C, H, W);
	gmaxpool_forward(d_out, d_idx, d_x, P, H, W);
	gmaxpool_backward(d_dx, d_dout, d_idx, P, H, W);
	ck_assert(!memcmp(dgetf(d_out, np), out, np * 4));
	ck_assert(!memcmp(dgetf(d_dx, n), dx, n * 4));
}
END_TEST

/* maxpool:K:S (ResNet's stem: 3, 2, overlapping windows; 2, 1) with ties,
 * avgpool:K:S over the same windows, and a residual add's forward and its
 * gradient's sum */
static const struct kcase { int K, S, H, W; } kcases[] = { { 3, 2, 9, 8 }, { 2, 1, 7, 6 }, { 5, 3, 11, 10 } };

START_TEST(maxpoolk_matches_cpu)
{
	const struct kcase *t = &kcases[_i];
	int B = 3, C = 4, H = t->H, W = t->W, P = B * C, pad = (t->K - 1) / 2;
	int OH = conv_out(H, t->K, t->S, pad), OW = conv_out(W, t->K, t->S, pad);
	size_t n = (size_t)P * H * W, np = (size_t)P * OH * OW;
	float *x = randv(n, 1), *dout = randv(np, 1), *out = emalloc(np * 4), *dx = emalloc(n * 4);
	int32_t *idx = emalloc(np * 4);
	for (size_t i = 0; i < n; i += 5)
		x[i] = x[i + 1 < n ? i + 1 : i] = 0.5f;
	float *d_x = dput(x, n * 4), *d_dout = dput(dout, np * 4), *d_out = gnn_alloc(np * 4, "t");
	float *d_dx = gnn_alloc(n * 4, "t");
	int32_t *d_idx = gnn_alloc(np * 4, "t");

	maxpoolk_forward(out, idx, x, B, C, H, W, t->K, t->S, pad, OH, OW);
	maxpoolk_backward(dx, dout, idx, B, C, H, W, OH, OW);
	gmaxpoolk_forward(d_out, d_idx, d_x, P, H, W, t->K, t->S, pad, OH, OW);
	gmaxpoolk_backward(d_dx, d_dout, d_idx, P, H, W, t->K, t->S, pad, OH, OW);
	ck_assert(!memcmp(dgetf(d_out, np), out, np * 4));
	int32_t gi[np];
	gnn_sync();
	gnn_get(gi, d_idx, np * 4);
	ck_assert_msg(!memcmp(gi, idx, np * 4), "maxpool:%d:%d: winners differ", t->K, t->S);
	/* the windows overlapping an input summed in nn.c's order: the same bits */
	ck_assert_msg(!memcmp(dgetf(d_dx, n), dx, n * 4), "maxpool:%d:%d: input gradient differs", t->K, t->S);

	/* avgpool over the same windows: the padding not counted */
	avgpoolk_forward(out, x, B, C, H, W, t->K, t->S, pad, OH, OW);
	avgpoolk_backward(dx, dout, B, C, H, W, t->K, t->S, pad, OH, OW);
	gavgpoolk_forward(d_out, d_x, P, H, W, t->K, t->S, pad, OH, OW);
	gavgpoolk_backward(d_dx, d_dout, P, H, W, t->K, t->S, pad, OH, OW);
	CLOSE(dgetf(d_out, np), out, np, TOL);
	CLOSE(dgetf(d_dx, n), dx, n, TOL);

	float *y = randv(n, 1), *sum = emalloc(n * 4), *d_y = dput(y, n * 4), *d_sum = gnn_alloc(n * 4, "t");
	for (size_t i = 0; i < n; i++)
		sum[i] = x[i] + y[i] > 0 ? x[i] + y[i] : 0;
	gadd_relu(d_sum, d_x, d_y, n);
	ck_assert(!memcmp(dgetf(d_sum, n), sum, n * 4));
	for (size_t i = 0; i < n; i++)
		sum[i] = y[i] + x[i];
	gnn_add(d_y, d_x, n);
	ck_assert(!memcmp(dgetf(d_y, n), sum, n * 4));
}
END_TEST

START_TEST(dense_matches_cpu)
{
	int B = 7, IN = 300, OUT = 17;
	float *x = randv((size_t)B * IN, 1), *w = randv((size_t)OUT * IN, 0.1f), *bias = randv(OUT, 1);
	float *dout = randv((size_t)B * OUT, 1), *z = emalloc(B * OUT * 4), *a = emalloc(B * OUT * 4);
	float *dx = emalloc((size_t)B * IN * 4), *dw = randv((size_t)OUT * IN, 1), *db = randv(OUT, 1);
	float *d_x = dput(x, B * IN * 4), *d_w = dput(w, OUT * IN * 4), *d_b = dput(bias, OUT * 4);
	float *d_dout = dput(dout, B * OUT * 4), *d_dw = dput(dw, OUT * IN * 4), *d_db = dput(db, OUT * 4);
	float *d_z = gnn_alloc(B * OUT * 4, "t"), *d_a = gnn_alloc(B * OUT * 4, "t"), *d_dx = gnn_alloc(B * IN * 4, "t");

	dense_forward(z, x, w, bias, B, IN, OUT);
	relu_forward(a, z, (size_t)B * OUT);
	dense_backward(dx, dw, db, dout, x, w, B, IN, OUT);
	gdense_forward(d_z, d_a, d_x, d_w, d_b, B, IN, OUT);
	gdense_backward(d_dx, d_dw, d_db, d_dout, d_x, d_w, B, IN, OUT);
	CLOSE(dgetf(d_z, B * OUT), z, B * OUT, TOL);
	CLOSE(dgetf(d_a, B * OUT), a, B * OUT, TOL);
	CLOSE(dgetf(d_dx, B * IN), dx, B * IN, TOL);
	CLOSE(dgetf(d_dw, OUT * IN), dw, OUT * IN, TOL);
	/* the bias gradient sums in nn.c's order: exactly */
	ck_assert(!memcmp(dgetf(d_db, OUT), db, OUT * 4));
	float *dr = emalloc(B * OUT * 4);
	relu_backward(dr, dout, a, (size_t)B * OUT);
	grelu_backward(d_dx, d_dout, d_a, (size_t)B * OUT);
	ck_assert(!memcmp(dgetf(d_dx, B * OUT), dr, B * OUT * 4));
}
END_TEST

START_TEST(dropout_fuse_gather_match_cpu)
{
	int B = 5, C = 3, HW = 11, K = 4, N = 9;
	size_t n = (size_t)B * C * HW;
	float *x = randv(n, 1), *mask = emalloc(n * 4), *out = emalloc(n * 4), *clin = randv((size_t)B * K, 1);
	struct rng r;
	rng_seed(&r, 7, "t");
	dropout_forward(out, mask, x, n, 0.4f, &r);
	float *d_x = dput(to_cbhw(x, B, C, HW), n * 4), *d_mask = dput(mask, n * 4), *d_out = gnn_alloc(n * 4, "t");
	gdropout(d_out, d_x, d_mask, C, B, HW);
	ck_assert(!memcmp(to_bchw(dgetf(d_out, n), C, B, HW), out, n * 4));

	/* fusion: each image's features in (C,HW) order, then its clinical values */
	size_t row = (size_t)C * HW + K;
	float *fused = emalloc(B * row * 4), *d_clin = dput(clin, B * K * 4), *d_f = gnn_alloc(B * row * 4, "t");
	for (int b = 0; b < B; b++) {
		memcpy(fused + b * row, x + (size_t)b * C * HW, (size_t)C * HW * 4);
		memcpy(fused + b * row + C * HW, clin + b * K, K * 4);
	}
	gfuse_forward(d_f, d_x, d_clin, C, B, HW, K);
	ck_assert(!memcmp(dgetf(d_f, B * row), fused, B * row * 4));
	gfuse_backward(d_out, d_f, C, B, HW, K);
	ck_assert(!memcmp(to_bchw(dgetf(d_out, n), C, B, HW), x, n * 4));

	/* a batch gathered from a dataset (N,C,HW) by rows, as planes */
	float *set = randv((size_t)N * C * HW, 1), *sclin = randv((size_t)N * K, 1), *want = emalloc(n * 4);
	int32_t rows[5] = { 8, 0, 3, 3, 5 }, ys[9] = { 0, 1, 2, 0, 1, 2, 0, 1, 2 }, y[5];
	float *wclin = emalloc(B * K * 4);
	for (int b = 0; b < B; b++) {
		memcpy(want + (size_t)b * C * HW, set + (size_t)rows[b] * C * HW, (size_t)C * HW * 4);
		memcpy(wclin + b * K, sclin + rows[b] * K, K * 4);
	}
	float *d_set = dput(set, (size_t)N * C * HW * 4), *d_sclin = dput(sclin, N * K * 4);
	int32_t *d_rows = dput(rows, sizeof rows), *d_ys = dput(ys, sizeof ys), *d_y = gnn_alloc(sizeof y, "t");
	gnn_gather(d_out, d_set, d_rows, B, C, HW);
	gnn_gather_rows(d_clin, d_sclin, d_y, d_ys, d_rows, B, K);
	ck_assert(!memcmp(to_bchw(dgetf(d_out, n), C, B, HW), want, n * 4));
	ck_assert(!memcmp(dgetf(d_clin, B * K), wclin, B * K * 4));
	gnn_get(y, d_y, sizeof y);
	for (int b = 0; b < B; b++)
		ck_assert_int_eq(y[b], ys[rows[b]]);
	gnn_to_bchw(d_f, d_out, C, B, HW);
	ck_assert(!memcmp(dgetf(d_f, n), want, n * 4));

	/* the clinical part of a fused gradient */
	float *d_k = gnn_alloc(B * K * 4, "t");
	gfuse_clin_backward(d_k, dput(fused, B * row * 4), C * HW, B, K);
	ck_assert(!memcmp(dgetf(d_k, B * K), clin, B * K * 4));

	/* global average pooling, summed as net.c sums: the same bits */
	float *gap = emalloc((size_t)B * C * 4), *dgap = emalloc(n * 4);
	gap_forward(gap, x, B * C, HW);
	ggap_forward(d_f, d_x, C * B, HW);
	ck_assert(!memcmp(to_bchw(dgetf(d_f, (size_t)B * C), C, B, 1), gap, (size_t)B * C * 4));
	gap_backward(dgap, gap, B * C, HW);
	ggap_backward(d_out, d_f, C * B, HW);
	ck_assert(!memcmp(to_bchw(dgetf(d_out, n), C, B, HW), dgap, n * 4));
}
END_TEST

START_TEST(loss_and_adam_match_cpu)
{
	int B = 300, K = 3;
	float *logits = randv((size_t)B * K, 3), *probs = emalloc(B * K * 4), *dl = emalloc(B * K * 4);
	float w[3] = { 0.5f, 1, 2.5f }, loss;
	int32_t y[300];
	double wsum;
	for (int b = 0; b < B; b++)
		y[b] = b * 7 % K;
	float *d_l = dput(logits, B * K * 4), *d_w = dput(w, sizeof w), *d_p = gnn_alloc(B * K * 4, "t");
	float *d_dl = gnn_alloc(B * K * 4, "t"), *d_loss = gnn_alloc(4, "t");
	int32_t *d_y = dput(y, sizeof y);
	double *d_ws = gnn_alloc(sizeof(double), "t");
	for (int weighted = 0; weighted < 2; weighted++) {
		float ref = softmax_xent_forward(probs, logits, y, weighted ? w : NULL, B, K);
		softmax_xent_backward(dl, probs, y, weighted ? w : NULL, B, K);
		gsoftmax(d_p, d_l, B, K);
		gxent_forward(d_loss, d_ws, d_l, d_y, weighted ? d_w : NULL, B, K);
		gxent_backward(d_dl, d_p, d_y, weighted ? d_w : NULL, d_ws, B, K);
		gnn_sync();
		gnn_get(&loss, d_loss, 4);
		gnn_get(&wsum, d_ws, sizeof wsum);
		ck_assert_msg(fabs(loss - ref) <= TOL * fabs(ref), "loss %.8g, CPU %.8g", loss, ref);
		CLOSE(dgetf(d_p, B * K), probs, B * K, TOL);
		CLOSE(dgetf(d_dl, B * K), dl, B * K, TOL);
	}

	size_t n = 1000;
	float *p = randv(n, 1), *gr = randv(n, 1), *m = randv(n, 0.1f), *v = emalloc(n * 4);
	for (size_t i = 0; i < n; i++)
		v[i] = fabsf(m[i]);
	float *d_p2 = dput(p, n * 4), *d_g = dput(gr, n * 4), *d_m = dput(m, n * 4), *d_v = dput(v, n * 4);
	adam_update(p, gr, m, v, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 3);
	gadam(d_p2, d_g, d_m, d_v, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 3);
	CLOSE(dgetf(d_p2, n), p, n, TOL);
	CLOSE(dgetf(d_m, n), m, n, TOL);
	CLOSE(dgetf(d_v, n), v, n, TOL);
}
END_TEST

/* ---------------------------------------------------------------- */
/* whole networks: a training step on both, from the same weights */

static const char *const archs[] = {
	"conv:4,pool,conv:8,pool,dense:16,dropout:0.5",
	"conv:4:3:2,conv:6,dropout:0.25,pool,pool,dense:8",      /* no conv+pool fusion; pool after pool */
	"conv:3:5,pool",                                          /* straight to the classifier */
	"dense:12",                                               /* no image stage at all */
	"conv:4,pool,conv:8,gap,dropout:0.2,clin:5,clin:4,dense:8", /* gap, the clinical branch */
	"clin:6,dense:8",                                         /* the branch beside the raw image */
	/* residual: a stem, a basic block, a downsampling one (route, 1x1) */
	"conv:4:5:2,maxpool:3:2,conv:4,cbn:4,add:-3,conv:8:3:2,cbn:8,route:-3,cbn:8:1:2,add:-3,gap,dense:8",
	"cbn:4,conv:4,add:-2,pool,conv:6,route:-2,cbn:6:1,add:-3",  /* an add after conv; a route past a layer */
	"conv:4,avgpool:3:2,conv:4,cbn:4,add:-3,avgpool:2",        /* average pooling */
};

START_TEST(network_step_matches_cpu)
{
	int B = 8, C = 1, H = 20, W = 18, K = 3, NC = 3;
	const char *err;
	struct net *cpu = net_new(archs[_i], C, H, W, K, NC, &err), *gn = net_new(archs[_i], C, H, W, K, NC, &err);
	ck_assert_msg(cpu && gn, "%s", err);
	net_init(cpu, 5);
	net_init(gn, 5);
	/* records' clinical values hidden at random where there is a branch */
	cpu->clin_drop = gn->clin_drop = strstr(archs[_i], "clin") ? 0.4f : 0;
	float *x = randv((size_t)B * C * H * W, 1), *clin = randv((size_t)B * K, 1);
	float w[3] = { 1, 2, 0.5f };
	int32_t y[8] = { 0, 1, 2, 0, 1, 2, 2, 1 };
	struct rng r1, r2;
	struct gnet *d = gnet_open(gn, 0, 0, B, 0);
	/* the batch is rows of a dataset (on the device, or staged from the
	 * host for every other network) in another order; the CPU gets them
	 * in that order */
	int rows[8] = { 3, 0, 7, 1, 6, 2, 5, 4 };
	size_t px = (size_t)C * H * W;
	float *sx = emalloc(B * px * 4), *sclin = emalloc(B * K * 4);
	int32_t sy[8];
	for (int j = 0; j < B; j++) {
		memcpy(sx + rows[j] * px, x + j * px, px * 4);
		memcpy(sclin + rows[j] * K, clin + j * K, K * 4);
		sy[rows[j]] = y[j];
	}
	int set = gnet_dataset(d, sx, sclin, sy, B, _i % 2 == 0);

	net_reserve(cpu, B);
	for (int step = 1; step <= 2; step++) {
		rng_seed(&r1, step, "dropout");
		rng_seed(&r2, step, "dropout");
		ref_forward(cpu, x, clin, B, 1, &r1);
		float lc = ref_loss(cpu, y, w, B);
		net_zero_grads(cpu);
		ref_backward(cpu, x, y, w, B);
		gnet_stage(d, set, rows, B);
		gnet_forward(d, 1, &r2);
		ck_assert(!memcmp(gnet_labels(d), y, sizeof y));
		float lg = gnet_loss(d, w);
		ck_assert_msg(fabs(lg - lc) <= NET_TOL * fabs(lc), "%s step %d: loss %.8g, CPU %.8g", archs[_i], step, lg, lc);
		CLOSE(gnet_probs(d), cpu->probs, (size_t)B * NC, NET_TOL);
		gnet_backward(d, w);
		ref_adam(cpu, 1e-2f, 0.9f, 0.999f, 1e-8f, 0, step);
		gnet_adam(d, 1e-2f, 0.9f, 0.999f, 1e-8f, 0, step);
		gnet_pull(d);
		CLOSE(gn->params, cpu->params, cpu->nparams, NET_TOL);
		CLOSE(gn->m, cpu->m, cpu->nparams, NET_TOL);
		CLOSE(gn->stats, cpu->stats, cpu->nstats, NET_TOL);
	}
	/* inference, and the activations a heat map needs, from a device net
	 * that keeps them */
	struct gnet *k = gnet_open(gn, 0, 0, B, 1);
	int kset = gnet_dataset(k, x, clin, NULL, B, 0);
	net_reserve(gn, B);
	ref_forward(cpu, x, clin, B, 0, NULL);
	gnet_stage(k, kset, NULL, B);
	gnet_forward(k, 0, NULL);
	gnet_fetch(k);
	CLOSE(gn->probs, cpu->probs, (size_t)B * NC, NET_TOL);
	for (int i = 0; i < cpu->nlayers - 1; i++) {
		const struct layer *l = &cpu->l[i];
		size_t e = (size_t)B * l->oc * l->oh * l->ow;
		CLOSE(gn->a[i], cpu->a[i], e, NET_TOL);
		if (l->type == L_POOL)
			ck_assert_msg(!memcmp(gn->idx[i], cpu->idx[i], e * 4), "layer %d: pool indices differ", i + 1);
	}
	net_free(cpu);
}
END_TEST

int
main(void)
{
	const char *why;
	Suite *s = suite_create("gpu");
	TCase *tc = tcase_create("layers");
	SRunner *sr;
	int failed;

	cli_init("check_gpu");
	if (gpu_count(&why) == 0) {
		printf("skipped: no CUDA device: %s\n", why);
		return 77;
	}
	gnn_open(0, 0);
	rng_seed(&g, 42, "check_gpu");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, conv_matches_cpu, 0, sizeof convcases / sizeof *convcases);
	tcase_add_loop_test(tc, bn_relu_pool_matches_cpu, 0, sizeof bncases / sizeof *bncases);
	tcase_add_test(tc, maxpool_matches_cpu);
	tcase_add_loop_test(tc, maxpoolk_matches_cpu, 0, sizeof kcases / sizeof *kcases);
	tcase_add_test(tc, dense_matches_cpu);
	tcase_add_test(tc, dropout_fuse_gather_match_cpu);
	tcase_add_test(tc, loss_and_adam_match_cpu);
	tcase_add_loop_test(tc, network_step_matches_cpu, 0, sizeof archs / sizeof *archs);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	/* one process: a CUDA context does not survive fork() */
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
