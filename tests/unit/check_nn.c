/*
 * check_nn.c - every layer's backward pass against central finite
 * differences of its forward pass.  The loss is L = sum(out * R) for a
 * fixed random R, so dL/dout = R; the error is measured over the whole
 * gradient, ||analytic - numeric|| / ||numeric||.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ref/ref.h"
#include "common/base/rng.h"
#include "suites.h"

#define EPS 1e-2f
#define TOL 1e-3

static struct rng g;

static float *
randv(size_t n, float scale)
{
	float *v = malloc(n * sizeof *v);

	for (size_t i = 0; i < n; i++)
		v[i] = (float)(scale * rng_normal(&g));
	return v;
}

static double
dot(const float *a, const float *b, size_t n)
{
	double s = 0;

	for (size_t i = 0; i < n; i++)
		s += (double)a[i] * b[i];
	return s;
}

/* the layer under test: forward into out, from the current parameters */
typedef void (*fwd_fn)(float *out, void *ctx);

static double
check(fwd_fn f, void *ctx, float *x, const float *analytic, size_t n, float *out, const float *R,
      size_t nout)
{
	double num2 = 0, diff2 = 0;

	for (size_t i = 0; i < n; i++) {
		float keep = x[i];
		x[i] = keep + EPS;
		f(out, ctx);
		double lp = dot(out, R, nout);
		x[i] = keep - EPS;
		f(out, ctx);
		double lm = dot(out, R, nout);
		x[i] = keep;
		double num = (lp - lm) / (2 * EPS);
		num2 += num * num;
		diff2 += (num - analytic[i]) * (num - analytic[i]);
	}
	return sqrt(diff2 / (num2 > 0 ? num2 : 1));
}

/* ---- convolution */

struct convctx {
	float *inp, *w, *b, *col;
	int B, C, H, W, OC, k, s, p;
};

static void
conv_f(float *out, void *c)
{
	struct convctx *x = c;

	conv_forward(out, x->inp, x->w, x->b, x->col, x->B, x->C, x->H, x->W, x->OC, x->k, x->s, x->p);
}

static void
conv_case(int B, int C, int H, int W, int OC, int k, int s, int p)
{
	struct convctx x = { .B = B, .C = C, .H = H, .W = W, .OC = OC, .k = k, .s = s, .p = p };
	int OH = conv_out(H, k, s, p), OW = conv_out(W, k, s, p);
	size_t nin = (size_t)B * C * H * W, nw = (size_t)OC * C * k * k, nout = (size_t)B * OC * OH * OW;

	x.inp = randv(nin, 1);
	x.w = randv(nw, 0.5f);
	x.b = randv(OC, 0.5f);
	x.col = malloc(conv_col_size(C, k, OH, OW) * sizeof(float));
	float *out = malloc(nout * sizeof *out), *R = randv(nout, 1);
	float *dinp = malloc(nin * sizeof *dinp), *dw = calloc(nw, sizeof *dw), *db = calloc(OC, sizeof *db);
	conv_f(out, &x);
	conv_backward(dinp, dw, db, R, x.inp, x.w, x.col, B, C, H, W, OC, k, s, p);
	double e1 = check(conv_f, &x, x.inp, dinp, nin, out, R, nout);
	double e2 = check(conv_f, &x, x.w, dw, nw, out, R, nout);
	double e3 = check(conv_f, &x, x.b, db, OC, out, R, nout);
	ck_assert_msg(e1 < TOL && e2 < TOL && e3 < TOL, "conv k%d s%d p%d: errors %g %g %g", k, s, p, e1, e2, e3);
	free(x.inp); free(x.w); free(x.b); free(x.col); free(out); free(R); free(dinp); free(dw); free(db);
}

START_TEST(test_conv)
{
	rng_seed(&g, 1, "conv");
	conv_case(2, 3, 7, 6, 4, 3, 1, 1);
	conv_case(1, 2, 9, 8, 3, 5, 2, 2);
	conv_case(2, 1, 6, 6, 2, 1, 1, 0);
}
END_TEST

/* ---- batch norm */

struct bnctx {
	float *inp, *gamma, *beta, *mean, *rstd;
	int B, C, HW;
};

static void
bn_f(float *out, void *c)
{
	struct bnctx *x = c;

	batchnorm_forward_train(out, x->mean, x->rstd, x->inp, x->gamma, x->beta, NULL, NULL, 0, 1e-5f,
	                        x->B, x->C, x->HW);
}

START_TEST(test_batchnorm)
{
	struct bnctx x = { .B = 3, .C = 2, .HW = 5 };
	size_t n = 30;

	rng_seed(&g, 1, "bn");
	x.inp = randv(n, 2);
	x.gamma = randv(2, 1);
	x.beta = randv(2, 1);
	x.mean = malloc(2 * sizeof(float));
	x.rstd = malloc(2 * sizeof(float));
	float *out = malloc(n * sizeof *out), *R = randv(n, 1), *dinp = malloc(n * sizeof *dinp);
	float dg[2] = { 0 }, dbt[2] = { 0 };
	bn_f(out, &x);
	batchnorm_backward(dinp, dg, dbt, R, x.inp, x.mean, x.rstd, x.gamma, 3, 2, 5);
	double e1 = check(bn_f, &x, x.inp, dinp, n, out, R, n);
	double e2 = check(bn_f, &x, x.gamma, dg, 2, out, R, n);
	double e3 = check(bn_f, &x, x.beta, dbt, 2, out, R, n);
	ck_assert_msg(e1 < TOL && e2 < TOL && e3 < TOL, "batchnorm: errors %g %g %g", e1, e2, e3);
	/* the output of training mode has mean beta and sd |gamma| per channel */
	double s = 0;
	for (int b = 0; b < 3; b++)
		for (int i = 0; i < 5; i++)
			s += out[b * 10 + i];
	ck_assert_double_eq_tol(s / 15, x.beta[0], 1e-5);
	free(x.inp); free(x.gamma); free(x.beta); free(x.mean); free(x.rstd); free(out); free(R); free(dinp);
}
END_TEST

/* ---- relu, maxpool, dropout: exact by construction away from kinks */

struct elctx {
	float *inp, *mask;
	int32_t *idx;
	int B, C, H, W;
	size_t n;
};

static void
relu_f(float *out, void *c)
{
	struct elctx *x = c;

	relu_forward(out, x->inp, x->n);
}

static void
pool_f(float *out, void *c)
{
	struct elctx *x = c;

	maxpool_forward(out, x->idx, x->inp, x->B, x->C, x->H, x->W);
}

START_TEST(test_relu_pool)
{
	struct elctx x = { .B = 2, .C = 2, .H = 6, .W = 7, .n = 168 };
	float *out = malloc(168 * sizeof *out), *R = randv(168, 1), *d = malloc(168 * sizeof *d);

	rng_seed(&g, 1, "relu");
	x.inp = malloc(168 * sizeof(float));
	/* values at least 0.1 apart, so a step of EPS crosses no kink */
	for (int i = 0; i < 168; i++)
		x.inp[i] = (float)((i * 37 % 168) - 84) * 0.1f + 0.05f;
	relu_f(out, &x);
	relu_backward(d, R, out, 168);
	ck_assert_double_lt(check(relu_f, &x, x.inp, d, 168, out, R, 168), TOL);
	x.idx = malloc(2 * 2 * 3 * 3 * sizeof *x.idx);
	size_t nout = 2 * 2 * 3 * 3;
	pool_f(out, &x);
	maxpool_backward(d, R, x.idx, 2, 2, 6, 7);
	ck_assert_double_lt(check(pool_f, &x, x.inp, d, 168, out, R, nout), TOL);
	free(x.inp); free(x.idx); free(out); free(R); free(d);
}
END_TEST

START_TEST(test_dropout)
{
	enum { N = 100000 };
	float *in = malloc(N * sizeof *in), *out = malloc(N * sizeof *out), *mask = malloc(N * sizeof *mask);
	double s = 0;
	int zeros = 0;

	rng_seed(&g, 1, "dropout");
	for (int i = 0; i < N; i++)
		in[i] = 1;
	dropout_forward(out, mask, in, N, 0.5f, &g);
	for (int i = 0; i < N; i++) {
		s += out[i];
		zeros += out[i] == 0;
	}
	/* inverted dropout keeps the expectation */
	ck_assert_double_eq_tol(s / N, 1, 0.02);
	ck_assert_int_gt(zeros, N * 0.48);
	ck_assert_int_lt(zeros, N * 0.52);
	dropout_backward(out, in, mask, N);
	ck_assert_mem_eq(out, mask, N * sizeof *out);
	free(in); free(out); free(mask);
}
END_TEST

/* ---- dense */

struct dctx {
	float *inp, *w, *b;
	int B, IN, OUT;
};

static void
dense_f(float *out, void *c)
{
	struct dctx *x = c;

	dense_forward(out, x->inp, x->w, x->b, x->B, x->IN, x->OUT);
}

START_TEST(test_dense)
{
	struct dctx x = { .B = 3, .IN = 7, .OUT = 4 };

	rng_seed(&g, 1, "dense");
	x.inp = randv(21, 1);
	x.w = randv(28, 0.5f);
	x.b = randv(4, 0.5f);
	float *out = malloc(12 * sizeof *out), *R = randv(12, 1), *di = malloc(21 * sizeof *di);
	float *dw = calloc(28, sizeof *dw), *db = calloc(4, sizeof *db);
	dense_f(out, &x);
	dense_backward(di, dw, db, R, x.inp, x.w, 3, 7, 4);
	double e1 = check(dense_f, &x, x.inp, di, 21, out, R, 12);
	double e2 = check(dense_f, &x, x.w, dw, 28, out, R, 12);
	double e3 = check(dense_f, &x, x.b, db, 4, out, R, 12);
	ck_assert_msg(e1 < TOL && e2 < TOL && e3 < TOL, "dense: errors %g %g %g", e1, e2, e3);
	free(x.inp); free(x.w); free(x.b); free(out); free(R); free(di); free(dw); free(db);
}
END_TEST

/* ---- softmax cross-entropy, with and without class weights */

struct sctx {
	float *logits, *probs, *weights;
	int32_t labels[4];
};

static void
xent_f(float *out, void *c)
{
	struct sctx *x = c;

	out[0] = softmax_xent_forward(x->probs, x->logits, x->labels, x->weights, 4, 3);
}

START_TEST(test_softmax_xent)
{
	struct sctx x = { .labels = { 0, 2, 1, 2 } };
	float w[3] = { 1, 2.5f, 0.5f }, R[1] = { 1 }, out[1], d[12];

	rng_seed(&g, 1, "xent");
	x.logits = randv(12, 2);
	x.probs = malloc(12 * sizeof(float));
	for (int pass = 0; pass < 2; pass++) {
		x.weights = pass ? w : NULL;
		xent_f(out, &x);
		softmax_xent_backward(d, x.probs, x.labels, x.weights, 4, 3);
		ck_assert_double_lt(check(xent_f, &x, x.logits, d, 12, out, R, 1), TOL);
	}
	/* probabilities sum to 1 */
	for (int b = 0; b < 4; b++)
		ck_assert_float_eq_tol(x.probs[b * 3] + x.probs[b * 3 + 1] + x.probs[b * 3 + 2], 1, 1e-6f);
	free(x.logits); free(x.probs);
}
END_TEST

START_TEST(test_adam_first_step)
{
	/* the first Adam step moves each parameter by lr against its gradient's sign */
	float p[3] = { 1, -2, 0.5f }, gr[3] = { 0.3f, -4, 1e-3f }, m[3] = { 0 }, v[3] = { 0 };

	adam_update(p, gr, m, v, 3, 0.01f, 0.9f, 0.999f, 1e-8f, 0, 1);
	ck_assert_float_eq_tol(p[0], 0.99f, 1e-6f);
	ck_assert_float_eq_tol(p[1], -1.99f, 1e-6f);
	ck_assert_float_eq_tol(p[2], 0.49f, 1e-5f);
}
END_TEST

Suite *
nn_suite(void)
{
	Suite *s = suite_create("nn");
	TCase *tc = tcase_create("gradients");

	tcase_add_test(tc, test_conv);
	tcase_add_test(tc, test_batchnorm);
	tcase_add_test(tc, test_relu_pool);
	tcase_add_test(tc, test_dropout);
	tcase_add_test(tc, test_dense);
	tcase_add_test(tc, test_softmax_xent);
	tcase_add_test(tc, test_adam_first_step);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- the whole network: every parameter's gradient against finite
 * differences of the loss, with fusion and class weights */

#include "engine/spec/net.h"

/* with plain fusion, with gap and a clinical branch, the branch straight
 * into the classifier, and the branch beside the image itself */
static const char *const grad_specs[] = {
	/* residual: an identity shortcut; a projection shortcut (route back
	 * to the block's input, a strided 1x1 cbn, add the main path) */
	"conv:3,cbn:3,add:-2,gap,dense:4", "conv:3,conv:4:3:2,cbn:4,route:-3,cbn:4:1:2,add:-3,pool,dense:5",
	/* ResNet's stem pooling, and a window that does not divide the image */
	"conv:3,maxpool:3:2,conv:2,dense:4", "conv:2,maxpool:2:1,dense:4",
	/* average pooling: padding left out of the count; overlapping windows */
	"conv:3,avgpool:3:2,conv:2,dense:4", "conv:2,avgpool:2,cbn:2,avgpool:3:1,dense:4",
	"conv:3,pool,conv:2:3:2,dense:5", "conv:3,pool,conv:4,gap,clin:3,clin:2,dense:5", "conv:3,gap,clin:4",
	"clin:3,dense:4",
};
#define NGRAD ((int)(sizeof grad_specs / sizeof *grad_specs))

#define H 3e-3f
START_TEST(test_net_gradients)
{
	const char *err;
	const char *spec = grad_specs[_i < NGRAD ? _i : _i - 2];
	struct net *n = net_new(spec, 1, 8, 6, 2, 3, &err);
	int32_t labels[4] = { 0, 2, 1, 2 };
	float w[3] = { 1, 2, 0.5f };
	struct rng dr;

	ck_assert_msg(n != NULL, "%s", err ? err : "");
	net_init(n, 7);
	/* the last specs again with clinical values hidden for some records:
	 * the same records every forward (the generator seeded alike) */
	n->clin_drop = _i >= NGRAD ? 0.5f : 0;
	rng_seed(&g, 2, "net");
	float *x = randv(4 * 48, 1), *clin = randv(4 * 2, 1);
	/* move BN's beta off zero so ReLUs are not all at their kink */
	for (size_t i = 0; i < n->nparams; i++)
		n->params[i] += 0.05f * (float)rng_normal(&g);
	rng_seed(&dr, 3, "hide"), ref_forward(n, x, clin, 4, 1, &dr);
	ref_loss(n, labels, w, 4);
	net_zero_grads(n);
	ref_backward(n, x, labels, w, 4);
	double num2 = 0, diff2 = 0;
	for (size_t i = 0; i < n->nparams; i++) {
		float keep = n->params[i];
		n->params[i] = keep + H;
		rng_seed(&dr, 3, "hide"), ref_forward(n, x, clin, 4, 1, &dr);
		double lp = ref_loss(n, labels, w, 4);
		n->params[i] = keep - H;
		rng_seed(&dr, 3, "hide"), ref_forward(n, x, clin, 4, 1, &dr);
		double lm = ref_loss(n, labels, w, 4);
		n->params[i] = keep;
		double num = (lp - lm) / (2 * H);
		num2 += num * num;
		diff2 += (num - n->grads[i]) * (num - n->grads[i]);
	}
	ck_assert_msg(sqrt(diff2 / num2) < 5e-3, "%s: network gradient error %g over %zu parameters",
	              spec, sqrt(diff2 / num2), n->nparams);
	if (n->clin_drop > 0) {
		/* hidden records' clinical part of the fused vector is zero */
		int hidden = 0;
		for (int j = 0; j < 4; j++)
			for (int k = 0; !n->cmask[j] && k < n->kfuse; k++)
				ck_assert_float_eq(n->fused[(size_t)j * n->l[n->fuse_at].ic + n->l[n->fuse_at].ic - n->kfuse + k], 0);
		for (int j = 0; j < 4; j++)
			hidden += !n->cmask[j];
		ck_assert_msg(hidden > 0 && hidden < 4, "%d of 4 records hidden: choose another seed", hidden);
	}
	free(x);
	free(clin);
	net_free(n);
}
END_TEST
#undef H

START_TEST(test_net_specs)
{
	const char *err;
	struct net *n = net_new("conv:16,pool,conv:32,pool,conv:64,pool,conv:128,pool,dense:128,dropout:0.5", 1,
	                        128, 128, 4, 3, &err);

	ck_assert_msg(n != NULL, "%s", err ? err : "");
	/* 4 conv blocks, 4 pools, dense, dropout, classifier */
	ck_assert_int_eq(n->nlayers, 11);
	ck_assert_int_eq(n->l[n->fuse_at].ic, 128 * 8 * 8 + 4);
	ck_assert_uint_eq(n->nparams, (16 * 9 + 32) + (32 * 16 * 9 + 64) + (64 * 32 * 9 + 128) +
	                  (128 * 64 * 9 + 256) + (128 * (8196) + 128) + (3 * 128 + 3));
	net_free(n);
	ck_assert_ptr_null(net_new("conv:16,dense:4,pool", 1, 32, 32, 0, 3, &err));
	ck_assert_ptr_nonnull(strstr(err, "after a dense"));
	ck_assert_ptr_null(net_new("conv", 1, 32, 32, 0, 3, &err));
	ck_assert_ptr_null(net_new("pool,pool,pool", 1, 4, 4, 0, 3, &err));
	ck_assert_ptr_nonnull(strstr(err, "too small"));
	ck_assert_ptr_null(net_new("dropout:1.5", 1, 4, 4, 0, 3, &err));
	ck_assert_ptr_null(net_new("conv:8:3:1:9", 1, 4, 4, 0, 3, &err));
	ck_assert_ptr_null(net_new("banana", 1, 4, 4, 0, 3, &err));
	/* gap and the clinical branch */
	n = net_new("conv:8,pool,conv:16,gap,clin:6,dense:4", 1, 16, 16, 3, 3, &err);
	ck_assert_msg(n != NULL, "%s", err ? err : "");
	ck_assert_int_eq(n->nlayers, 6);
	ck_assert_int_eq(n->nbranch, 1);
	ck_assert_int_eq(n->kfuse, 6);
	ck_assert_int_eq(n->l[n->fuse_at].ic, 16 + 6);
	ck_assert_uint_eq(n->nparams, (8 * 9 + 16) + (16 * 8 * 9 + 32) + (6 * 3 + 6) + (4 * 22 + 4) + (3 * 4 + 3));
	net_free(n);
	/* records without a clinical vector: no branch */
	n = net_new("conv:8,gap,clin:6,dense:4", 1, 16, 16, 0, 3, &err);
	ck_assert_msg(n != NULL, "%s", err ? err : "");
	ck_assert_int_eq(n->nbranch, 0);
	ck_assert_int_eq(n->l[n->fuse_at].ic, 8);
	net_free(n);
	ck_assert_ptr_null(net_new("conv:8,gap,pool", 1, 16, 16, 0, 3, &err));
	ck_assert_ptr_nonnull(strstr(err, "after a gap"));
	ck_assert_ptr_null(net_new("conv:8,dense:4,clin:2", 1, 16, 16, 2, 3, &err));
	ck_assert_ptr_nonnull(strstr(err, "clin after a dense"));
	ck_assert_ptr_null(net_new("conv:8,clin", 1, 16, 16, 2, 3, &err));
	ck_assert_ptr_null(net_new("conv:8,gap:2", 1, 16, 16, 2, 3, &err));
	/* residual layers: shapes and references */
	n = net_new("conv:8,conv:16:3:2,cbn:16,route:-3,cbn:16:1:2,add:3,gap", 1, 16, 16, 0, 3, &err);
	ck_assert_msg(n != NULL, "%s", err ? err : "");
	ck_assert_int_eq(n->l[3].ref, 0);
	ck_assert_int_eq(n->l[3].oc, 8);
	ck_assert_int_eq(n->l[3].oh, 16);
	ck_assert_int_eq(n->l[5].ref, 2);
	ck_assert_int_eq(n->l[5].oh, 8);
	net_free(n);
	ck_assert_ptr_null(net_new("conv:8,add:-1,conv:4,add:1", 1, 16, 16, 0, 3, &err));
	ck_assert_ptr_nonnull(strstr(err, "layer 1's output is 8x16x16, its input 4x16x16"));
	ck_assert_ptr_null(net_new("conv:8,route:5", 1, 16, 16, 0, 3, &err));
	ck_assert_ptr_nonnull(strstr(err, "no layer 5 before it"));
	ck_assert_ptr_null(net_new("route:-1", 1, 16, 16, 0, 3, &err));
	ck_assert_ptr_null(net_new("conv:8,add:0", 1, 16, 16, 0, 3, &err));
	ck_assert_ptr_null(net_new("conv:8,add", 1, 16, 16, 0, 3, &err));
}
END_TEST

/* Grad-CAM where it can be worked out by hand: a classifier straight after
 * one convolution block, so d score_c / d A is the classifier's row c */
START_TEST(test_gradcam)
{
	const char *err;
	struct net *n = net_new("conv:2", 1, 4, 4, 0, 3, &err);
	float cam[2 * 16];
	int cls[2] = { 2, 0 };

	ck_assert_ptr_nonnull(n);
	net_init(n, 3);
	rng_seed(&g, 4, "cam");
	float *x = randv(2 * 16, 1);
	for (size_t i = 0; i < n->nparams; i++)
		n->params[i] += 0.1f * (float)rng_normal(&g);
	ref_forward(n, x, NULL, 2, 0, NULL);
	ck_assert_int_eq(net_last_conv(n), 0);
	ck_assert_int_eq(ref_gradcam(n, cls, 2, cam), 0);
	const struct layer *c = &n->l[1];
	for (int j = 0; j < 2; j++) {
		const float *wc = n->params + c->w + (size_t)cls[j] * 32;
		for (int p = 0; p < 16; p++) {
			double v = 0;
			for (int k = 0; k < 2; k++) {
				double alpha = 0;
				for (int q = 0; q < 16; q++)
					alpha += wc[k * 16 + q] / 16.0;
				v += alpha * n->a[0][(size_t)j * 32 + k * 16 + p];
			}
			ck_assert_float_eq_tol(cam[j * 16 + p], (float)v, 1e-5f);
		}
	}
	free(x);
	net_free(n);
}
END_TEST

Suite *
net_suite(void)
{
	Suite *s = suite_create("net");
	TCase *tc = tcase_create("network");

	tcase_add_loop_test(tc, test_net_gradients, 0, NGRAD + 2);
	tcase_add_test(tc, test_net_specs);
	tcase_add_test(tc, test_gradcam);
	suite_add_tcase(s, tc);
	return s;
}
