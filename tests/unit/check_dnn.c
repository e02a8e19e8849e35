/*
 * check_dnn.c - the CPU engine's oneDNN path (engine/cpu/dnn.c) held to the
 * reference layers of net.c: the same network, the same initial weights,
 * the same batch, then probabilities, loss, every parameter's gradient,
 * the running statistics and the weights after one Adam step compared
 * tensor by tensor as ||fast - ref||_max / ||ref||_max, for specs that take
 * each of its paths (nChw16c and channels-last, a pooled and an unpooled
 * block, a lone pool, odd sides, stride 2, 5x5, three input channels).
 * Direct convolutions are held to 1e-5; Winograd's F(4x4,3x3) rounds
 * differently, and is held to WINO_TOL (its measured error is about 1e-6
 * to 2e-6 on these inputs).  The training step is also taken on padded,
 * flat-valued images (a quarter of each side zero, the rest in 4x4 blocks
 * of five levels), where every pooling window holds exact ties: the fused
 * passes settle those without the slow path (kern.inc's bn_relu_select16)
 * and must still pick max4_first's winner.  Inference: a record's probabilities are the
 * same bits in a batch of 7 as alone, and two training runs give the
 * same bits.  bfloat16 (dnet_open's bf16): inference within a bound
 * derived from its rounding (test_dnn_bf16_infer), a training step within
 * BF16_TRAIN_TOL and BF16_COS, and two runs the same bits too.  Where the
 * CPU has no bfloat16 instructions oneDNN emulates them (AVX-512) or the
 * convolutions stay float32 (AVX2), and the bounds hold all the same.
 * Residual networks (engine/cpu/res.c, rarchs) take the float32 training
 * step, inference and determinism tests to the same tolerances.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cpu/dnn.h"
#include "engine/cpu/res.h"
#include "engine/spec/net.h"
#include "engine/spec/nnrow.h"
#include "engine/ref/ref.h"
#include "common/base/rng.h"
#include "common/base/util.h"
#include "engine/engine.h"
#include "suites.h"

#define B 7
#define TOL 1e-5
#define WINO_TOL 1e-5
/* bfloat16 training: the forward's probabilities, loss and running
 * statistics to 2^-5 (measured: at most 0.8%); the gradients, which a
 * window's winner changing under rounding sends elsewhere, in direction:
 * each layer's cosine with the reference's at least BF16_COS (measured
 * 0.915 on the worst spec, 0.994 on OsteoNet) */
#define BF16_TRAIN_TOL (1.0 / 32)
#define BF16_COS 0.9

struct arch {
	const char *spec;
	int c, h, w, nclin;
};

static const struct arch archs[] = {
	{ DEFAULT_ARCH, 1, 32, 32, 3 },
	{ "conv:16,pool,conv:32,pool,dense:8", 1, 24, 20, 0 },
	{ "conv:16,pool,pool,conv:32,dense:8,dropout:0.3", 3, 16, 16, 2 },
	{ "conv:8,conv:8,pool,conv:4:5:2,pool,dense:16", 1, 21, 19, 4 },
	{ "conv:6,pool,conv:5:1:2,dense:7", 3, 17, 18, 0 },
	/* net.c's tail from gap and dropout on, with the clinical branch */
	{ "conv:16,pool,conv:32,pool,gap,dropout:0.2,clin:5,clin:4,dense:8", 1, 24, 20, 3 },
};

/* residual networks (engine/cpu/res.c): a ResNet's stem, a basic block
 * whose add the inference absorbs into its cbn, a downsampling block with
 * a route and a 1x1 projection; then channels-last, odd sides, a 5x5
 * stride-2 cbn first, an add after a conv (not absorbed), a lone 2x2 pool
 * over an odd side, a route over a layer with a gradient of its own;
 * average pooling */
static const struct arch rarchs[] = {
	{ "conv:16:7:2,maxpool:3:2,conv:16,cbn:16,add:-3,conv:32:3:2,cbn:32,route:-3,cbn:32:1:2,add:-3,gap", 3, 32, 32, 2 },
	{ "cbn:8:5:2,conv:8,add:-2,pool,conv:12,route:-2,cbn:12:1,add:-3,dense:8", 1, 19, 21, 3 },
	/* average pooling: the padding not counted, overlapping windows */
	{ "conv:16:3:2,avgpool:3:2,conv:16,cbn:16,add:-3,avgpool:2,gap", 3, 23, 22, 0 },
};

struct pair {
	struct net *ref, *fast;
	struct dnet *d;           /* a plain stack's path, */
	struct rnet *r;           /* or a residual network's */
	float *x, *clin;
	int32_t *y;
};

/* images like prepared X-rays: zero padding around flat regions */
static void
fill_ties(float *x, const struct arch *a, struct rng *g)
{
	for (int i = 0; i < B * a->c; i++)
		for (int y = 0; y < a->h; y++)
			for (int c = 0; c < a->w; c++) {
				int pad = y < a->h / 4 || c < a->w / 4;
				float *v = x + ((size_t)i * a->h + y) * a->w + c;
				if (pad)
					*v = 0;
				else if (y % 4 == 0 && c % 4 == 0)
					*v = (float)rng_int(g, 5) / 4;
				else
					*v = x[((size_t)i * a->h + y / 4 * 4) * a->w + c / 4 * 4];
			}
}

static int
pair_tail(const struct pair *p)
{
	return p->d ? dnet_tail(p->d) : rnet_tail(p->r);
}

static void
pair_open_x(struct pair *p, const struct arch *a, int wino, int keep, int ties, int bf16)
{
	const char *err;
	struct rng g;

	p->ref = net_new(a->spec, a->c, a->h, a->w, a->nclin, 3, &err);
	p->fast = net_new(a->spec, a->c, a->h, a->w, a->nclin, 3, &err);
	ck_assert_msg(p->ref && p->fast, "%s: %s", a->spec, err);
	net_init(p->ref, 5);
	net_init(p->fast, 5);
	net_reserve(p->ref, B);
	p->d = NULL;
	p->r = NULL;
	if (net_residual(p->fast)) {
		p->r = rnet_open(p->fast, B, keep, wino, &err);
		ck_assert_msg(p->r, "%s: rnet_open: %s", a->spec, err);
	} else {
		p->d = dnet_open(p->fast, B, keep, wino, bf16, &err);
		ck_assert_msg(p->d, "%s: dnet_open: %s", a->spec, err);
	}
	if (keep)
		net_reserve(p->fast, B);
	else
		net_reserve_from(p->fast, B, pair_tail(p));
	size_t px = (size_t)a->c * a->h * a->w;
	p->x = malloc(B * px * sizeof(float));
	p->clin = malloc(B * (a->nclin + 1) * sizeof(float));
	p->y = malloc(B * sizeof(int32_t));
	rng_seed(&g, 9, a->spec);
	for (size_t i = 0; i < B * px; i++)
		p->x[i] = (float)rng_normal(&g);
	if (ties)
		fill_ties(p->x, a, &g);
	for (int i = 0; i < B * a->nclin; i++)
		p->clin[i] = (float)rng_normal(&g);
	for (int i = 0; i < B; i++)
		p->y[i] = i % 3;
}

static void
pair_open(struct pair *p, const struct arch *a, int wino, int keep)
{
	pair_open_x(p, a, wino, keep, 0, 0);
}

/* the fast path as the engine runs it: oneDNN's blocks, then the
 * reference walker from their output on (engine/engine.c) */
static void
fast_forward(struct pair *p, int b, int train, struct rng *g, const float *x, const float *clin)
{
	if (p->d)
		dnet_forward(p->d, x, b, train);
	else
		rnet_forward(p->r, x, b, train);
	ref_forward_from(p->fast, pair_tail(p), x, clin, b, train, g);
}

static void
fast_backward(struct pair *p, const float *w, int b)
{
	const float *df = ref_backward_to(p->fast, NULL, p->y, w, b, pair_tail(p) - 1);
	if (p->d)
		dnet_backward(p->d, df, b);
	else
		rnet_backward(p->r, df, b);
}

static void
pair_close(struct pair *p)
{
	dnet_close(p->d);
	rnet_close(p->r);
	net_free(p->ref);
	net_free(p->fast);
	free(p->x);
	free(p->clin);
	free(p->y);
}

/* ||a - r||_max / ||r||_max */
static double
rel(const float *a, const float *r, size_t n)
{
	double d = 0, m = 0;

	for (size_t i = 0; i < n; i++) {
		d = fmax(d, fabs((double)a[i] - r[i]));
		m = fmax(m, fabs((double)r[i]));
	}
	return m > 0 ? d / m : d;
}

static void
expect(const char *spec, const char *what, int layer, double err, double tol)
{
	ck_assert_msg(err <= tol, "%s: %s of layer %d off by %g (tolerance %g)", spec, what, layer + 1, err, tol);
}

/* the cosine of the angle between a and r */
static double
cosine(const float *a, const float *r, size_t n)
{
	double ar = 0, aa = 0, rr = 0;

	for (size_t i = 0; i < n; i++) {
		ar += (double)a[i] * r[i];
		aa += (double)a[i] * a[i];
		rr += (double)r[i] * r[i];
	}
	return aa > 0 && rr > 0 ? ar / sqrt(aa * rr) : aa == rr;
}

/* bfloat16's gradients: each layer's in the reference's direction */
static void
bf16_gradients(const struct arch *a, const struct pair *p)
{
	for (int i = 0; i < p->ref->nlayers; i++) {
		const struct layer *l = &p->ref->l[i];
		if (!l->pcount)
			continue;
		double c = cosine(p->fast->grads + l->pstart, p->ref->grads + l->pstart, l->pcount);
		ck_assert_msg(c >= BF16_COS, "%s: layer %d's bfloat16 gradient at %.4f of the reference's direction",
		              a->spec, i + 1, c);
	}
}

/* one training step on both, compared at every stage */
static void
train_step(const struct arch *a, int wino, int ties, int bf16)
{
	struct pair p;
	struct rng g1, g2;
	const float w[3] = { 1, 2, 0.5f };
	double tol = bf16 ? BF16_TRAIN_TOL : wino ? WINO_TOL : TOL;

	pair_open_x(&p, a, wino, 0, ties, bf16);
	rng_seed(&g1, 3, "dropout");
	rng_seed(&g2, 3, "dropout");
	ref_forward(p.ref, p.x, p.clin, B, 1, &g1);
	fast_forward(&p, B, 1, &g2, p.x, p.clin);
	expect(a->spec, "probabilities", p.ref->nlayers - 1, rel(p.fast->probs, p.ref->probs, B * 3), tol);
	float lr = ref_loss(p.ref, p.y, w, B), lf = ref_loss(p.fast, p.y, w, B);
	expect(a->spec, "loss", p.ref->nlayers - 1, fabs(lf - lr) / fabs(lr), tol);
	net_zero_grads(p.ref);
	net_zero_grads(p.fast);
	ref_backward(p.ref, p.x, p.y, w, B);
	fast_backward(&p, w, B);
	if (bf16) {
		for (int i = 0; i < p.ref->nlayers; i++) {
			const struct layer *l = &p.ref->l[i];
			if (l->type != L_CONV)
				continue;
			expect(a->spec, "running mean", i, rel(p.fast->stats + l->rmean, p.ref->stats + l->rmean, l->oc), tol);
			expect(a->spec, "running variance", i, rel(p.fast->stats + l->rvar, p.ref->stats + l->rvar, l->oc), tol);
		}
		bf16_gradients(a, &p);
		pair_close(&p);
		return;
	}
	for (int i = 0; i < p.ref->nlayers; i++) {
		const struct layer *l = &p.ref->l[i];
		if (l->type == L_CONV || l->type == L_CBN) {
			size_t nw = (size_t)l->oc * l->ic * l->k * l->k;
			expect(a->spec, "weight gradient", i, rel(p.fast->grads + l->w, p.ref->grads + l->w, nw), tol);
			expect(a->spec, "gamma gradient", i, rel(p.fast->grads + l->gamma, p.ref->grads + l->gamma, l->oc), tol);
			expect(a->spec, "beta gradient", i, rel(p.fast->grads + l->beta, p.ref->grads + l->beta, l->oc), tol);
			expect(a->spec, "running mean", i, rel(p.fast->stats + l->rmean, p.ref->stats + l->rmean, l->oc), tol);
			expect(a->spec, "running variance", i, rel(p.fast->stats + l->rvar, p.ref->stats + l->rvar, l->oc), tol);
		} else if (l->pcount)
			expect(a->spec, "gradient", i, rel(p.fast->grads + l->pstart, p.ref->grads + l->pstart, l->pcount), tol);
	}
	for (int j = 0; j < p.ref->nbranch; j++) {
		const struct layer *l = &p.ref->cl[j];
		expect(a->spec, "clinical branch gradient", j, rel(p.fast->grads + l->pstart, p.ref->grads + l->pstart,
		       l->pcount), tol);
	}
	ref_adam(p.ref, 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-4f, 1);
	ref_adam(p.fast, 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-4f, 1);
	/* Adam's first step moves a weight by about lr whatever the size of
	 * its gradient, so a gradient of 1e-12 against -1e-12 moves it both
	 * ways: compare the moments it keeps, and the weights whose gradient
	 * is not lost in rounding */
	expect(a->spec, "Adam's first moment", -1, rel(p.fast->m, p.ref->m, p.ref->nparams), tol);
	expect(a->spec, "Adam's second moment", -1, rel(p.fast->v, p.ref->v, p.ref->nparams), 2 * tol);
	double gmax = 0;
	for (size_t i = 0; i < p.ref->nparams; i++)
		gmax = fmax(gmax, fabs(p.ref->grads[i]));
	for (size_t i = 0; i < p.ref->nparams; i++)
		if (fabs(p.ref->grads[i]) > 1e-2 * gmax)
			ck_assert_msg(fabs(p.fast->params[i] - p.ref->params[i]) <= 1e-5 * fmax(1, fabs(p.ref->params[i])),
			              "%s: parameter %zu after one Adam step: %g, not %g", a->spec, i, p.fast->params[i],
			              p.ref->params[i]);
	pair_close(&p);
}

START_TEST(test_dnn_train_direct)
{
	train_step(&archs[_i], 0, 0, 0);
}
END_TEST

START_TEST(test_dnn_train_winograd)
{
	train_step(&archs[_i], 1, 0, 0);
}
END_TEST

START_TEST(test_dnn_train_ties)
{
	train_step(&archs[_i], 0, 1, 0);
}
END_TEST

START_TEST(test_dnn_bf16_train)
{
	train_step(&archs[_i], 1, 0, 1);
}
END_TEST

/* running statistics away from their initial 0 and 1, the same in both */
static void
random_stats(struct pair *p)
{
	struct rng g;

	rng_seed(&g, 4, "stats");
	for (int i = 0; i < p->ref->nlayers; i++) {
		const struct layer *l = &p->ref->l[i];
		for (int c = 0; (l->type == L_CONV || l->type == L_CBN) && c < l->oc; c++) {
			p->ref->stats[l->rmean + c] = p->fast->stats[l->rmean + c] = (float)(0.3 * rng_normal(&g));
			p->ref->stats[l->rvar + c] = p->fast->stats[l->rvar + c] = (float)(0.5 + fabs(rng_normal(&g)));
		}
	}
}

/* inference: against the reference, and batch of B against one by one */
static void
infer(const struct arch *a)
{
	struct pair p;
	float all[B * 3];
	size_t px = (size_t)a->c * a->h * a->w;

	pair_open(&p, a, 1, 0);
	random_stats(&p);
	ref_forward(p.ref, p.x, p.clin, B, 0, NULL);
	fast_forward(&p, B, 0, NULL, p.x, p.clin);
	expect(a->spec, "inference probabilities", p.ref->nlayers - 1, rel(p.fast->probs, p.ref->probs, B * 3), WINO_TOL);
	memcpy(all, p.fast->probs, sizeof all);
	for (int j = 0; j < B; j++) {
		fast_forward(&p, 1, 0, NULL, p.x + j * px, p.clin + j * a->nclin);
		ck_assert_msg(!memcmp(p.fast->probs, all + j * 3, 3 * sizeof(float)),
		              "%s: image %d's probabilities depend on its batch", a->spec, j);
	}
	pair_close(&p);
}

START_TEST(test_dnn_infer)
{
	infer(&archs[_i]);
}
END_TEST

/*
 * bfloat16 inference (dnet_open's bf16) against the float32 reference,
 * within a bound derived layer by layer rather than a tolerance chosen.
 * A convolution past the first rounds its input x^ (which is already off
 * the exact x by E) and its folded weights w to bfloat16, each to a
 * relative error of at most u = 2^-9 (8 significant bits, to nearest),
 * and sums the products in float32:
 *	|r(w) r(x^) - w x| <= |w| |x^ - x| + (2u + u^2) |w| |x^|
 * and |x^| <= |x| + E, so an output is off by at most
 *	sum |w| (E + c (|x| + E)),   c = 2u + u^2 + 2 K 2^-24
 * where the last term is each side's float32 summation of K products
 * (the first convolution, float32 on both sides, has only that).  ReLU and
 * max pooling never widen an error (each is 1-Lipschitz in the largest
 * difference), and the folded bias and the float32 rounding of batch
 * norm add 2^-20 |y|.  Every block's output is held to its bound,
 * element by element, for every spec (channels-last as well as nChw16c).
 */
#define BF16_U (1.0 / 512)

/* out (oc,oh,ow) = sum |w| v over each output's window, one image */
static void
conv_abs(double *out, const float *w, const float *sc, const double *v, const struct layer *l)
{
	for (int o = 0; o < l->oc; o++)
		for (int y = 0; y < l->oh; y++)
			for (int x = 0; x < l->ow; x++) {
				double acc = 0;
				for (int c = 0; c < l->ic; c++)
					for (int ky = 0; ky < l->k; ky++)
						for (int kx = 0; kx < l->k; kx++) {
							int iy = y * l->stride + ky - l->pad, ix = x * l->stride + kx - l->pad;
							if (iy < 0 || ix < 0 || iy >= l->ih || ix >= l->iw)
								continue;
							float wv = w[(((size_t)o * l->ic + c) * l->k + ky) * l->k + kx] * sc[o];
							acc += fabs(wv) * v[((size_t)c * l->ih + iy) * l->iw + ix];
						}
				out[((size_t)o * l->oh + y) * l->ow + x] = acc;
			}
}

START_TEST(test_dnn_bf16_infer)
{
	const struct arch *a = &archs[_i];
	struct pair p;
	size_t px = (size_t)a->c * a->h * a->w;

	pair_open_x(&p, a, 1, 1, 0, 1);
	net_reserve(p.fast, B);
	random_stats(&p);
	ref_forward(p.ref, p.x, p.clin, B, 0, NULL);
	fast_forward(&p, B, 0, NULL, p.x, p.clin);
	const struct net *n = p.ref;
	for (int j = 0; j < B; j++) {
		size_t big = px;
		for (int i = 0; i < n->fuse_at; i++)
			big = layer_elems(&n->l[i]) > big ? layer_elems(&n->l[i]) : big;
		double *e = calloc(big, sizeof *e), *v = malloc(big * sizeof *v), *ne = malloc(big * sizeof *ne);
		const float *xin = p.x + j * px;
		int first = 1;
		for (int i = 0; i < dnet_tail(p.d); i++) {
			const struct layer *l = &n->l[i];
			size_t ni = (size_t)l->ic * l->ih * l->iw, no = layer_elems(l);
			const float *ref = n->a[i] + j * no, *fast = p.fast->a[i] + j * no;
			if (l->type == L_CONV) {
				float sc[l->oc], sh;
				double c = (first ? 0 : 2 * BF16_U + BF16_U * BF16_U) + 2.0 * l->ic * l->k * l->k / 16777216.0;
				for (int o = 0; o < l->oc; o++)
					bn_affine(n->stats[l->rmean + o], n->stats[l->rvar + o], n->params[l->gamma + o],
					          n->params[l->beta + o], NET_BN_EPS, &sc[o], &sh);
				for (size_t q = 0; q < ni; q++)
					v[q] = e[q] + c * (fabs(xin[q]) + e[q]);
				conv_abs(ne, n->params + l->w, sc, v, l);
				for (size_t q = 0; q < no; q++)
					ne[q] += fabs(ref[q]) / 1048576.0;
				first = 0;
			} else
				for (int ch = 0; ch < l->oc; ch++)
					for (int y = 0; y < l->oh; y++)
						for (int x = 0; x < l->ow; x++) {
							const double *w0 = e + ((size_t)ch * l->ih + 2 * y) * l->iw + 2 * x;
							ne[((size_t)ch * l->oh + y) * l->ow + x] =
							        fmax(fmax(w0[0], w0[1]), fmax(w0[l->iw], w0[l->iw + 1]));
						}
			for (size_t q = 0; q < no; q++)
				ck_assert_msg(fabs((double)fast[q] - ref[q]) <= ne[q],
				              "%s: image %d, layer %d, element %zu: bfloat16 %.9g against %.9g, "
				              "off by more than its bound %.3g", a->spec, j, i + 1, q, fast[q], ref[q], ne[q]);
			memcpy(e, ne, no * sizeof *e);
			xin = ref;
		}
		free(e);
		free(v);
		free(ne);
	}
	pair_close(&p);
}
END_TEST

/* keep: the activations handed to net.c's buffers, as Grad-CAM reads them */
START_TEST(test_dnn_keep)
{
	const struct arch *a = &archs[_i];
	struct pair p;

	pair_open(&p, a, 0, 1);
	net_reserve(p.fast, B);
	ref_forward(p.ref, p.x, p.clin, B, 0, NULL);
	fast_forward(&p, B, 0, NULL, p.x, p.clin);
	for (int i = 0; i < p.ref->fuse_at; i++) {
		const struct layer *l = &p.ref->l[i];
		size_t e = (size_t)B * layer_elems(l);
		expect(a->spec, "kept activation", i, rel(p.fast->a[i], p.ref->a[i], e), TOL);
		/* the same winner of each window, unless two of its values are
		 * equal to rounding (folded batch norm rounds differently) */
		size_t plane = (size_t)l->ih * l->iw, oplane = (size_t)l->oh * l->ow;
		if (l->type == L_POOL && i > 0)
			for (size_t q = 0; q < e; q++)
				if (p.ref->a[i][q] > 1e-3f && p.fast->idx[i][q] != p.ref->idx[i][q] &&
				    fabs(p.ref->a[i - 1][q / oplane * plane + p.fast->idx[i][q]] - p.ref->a[i][q]) >
				            1e-5 * p.ref->a[i][q])
					ck_assert_msg(0,
					              "%s: pool argmax of layer %d at %zu: %d, not %d (value %g)", a->spec, i + 1, q,
					              p.fast->idx[i][q], p.ref->idx[i][q], p.ref->a[i][q]);
	}
	int cls[B];
	float cr[B * 64 * 64], cf[B * 64 * 64];
	for (int j = 0; j < B; j++)
		cls[j] = j % 3;
	if (ref_gradcam(p.ref, cls, B, cr) == 0) {
		ref_gradcam(p.fast, cls, B, cf);
		const struct layer *l = &p.ref->l[net_last_conv(p.ref)];
		expect(a->spec, "Grad-CAM", net_last_conv(p.ref), rel(cf, cr, (size_t)B * l->oh * l->ow), TOL);
	}
	pair_close(&p);
}
END_TEST

/* the same seed: the same weights, bit for bit, after a few steps, in
 * float32 (_i 0) and in bfloat16 (_i 1) */
static void
deterministic(const struct arch *a, int bf16)
{
	float *w[2];
	size_t np = 0;

	for (int run = 0; run < 2; run++) {
		struct pair p;
		struct rng g;
		pair_open_x(&p, a, 1, 0, 0, bf16);
		rng_seed(&g, 1, "dropout");
		for (int t = 1; t <= 3; t++) {
			fast_forward(&p, B, 1, &g, p.x, p.clin);
			net_zero_grads(p.fast);
			fast_backward(&p, NULL, B);
			ref_adam(p.fast, 1e-3f, 0.9f, 0.999f, 1e-8f, 0, t);
		}
		np = p.fast->nparams;
		w[run] = malloc(np * sizeof(float));
		memcpy(w[run], p.fast->params, np * sizeof(float));
		pair_close(&p);
	}
	ck_assert_msg(!memcmp(w[0], w[1], np * sizeof(float)), "%s: two runs from one seed differ (%s)", a->spec,
	              bf16 ? "bf16" : "fp32");
	free(w[0]);
	free(w[1]);
}

START_TEST(test_dnn_deterministic)
{
	deterministic(&archs[0], _i);
}
END_TEST

START_TEST(test_res_train_direct)
{
	train_step(&rarchs[_i], 0, 0, 0);
}
END_TEST

START_TEST(test_res_train_winograd)
{
	train_step(&rarchs[_i], 1, 0, 0);
}
END_TEST

/* against the reference, a batch against one by one, and two training
 * runs the same bits, as for the plain stacks */
START_TEST(test_res_infer)
{
	infer(&rarchs[_i]);
}
END_TEST

START_TEST(test_res_deterministic)
{
	deterministic(&rarchs[_i], 0);
}
END_TEST

/* --freeze: the layers that learn get the reference's gradients; the
 * frozen ones below them none (their backward is not run) */
START_TEST(test_res_frozen)
{
	const struct arch *a = &rarchs[0];
	struct pair p;
	struct rng g1, g2;

	pair_open(&p, a, 0, 0);
	for (int i = 0; i < 4; i++)
		p.ref->l[i].frozen = p.fast->l[i].frozen = 1;
	rng_seed(&g1, 3, "dropout");
	rng_seed(&g2, 3, "dropout");
	ref_forward(p.ref, p.x, p.clin, B, 1, &g1);
	fast_forward(&p, B, 1, &g2, p.x, p.clin);
	net_zero_grads(p.ref);
	net_zero_grads(p.fast);
	ref_backward(p.ref, p.x, p.y, NULL, B);
	fast_backward(&p, NULL, B);
	for (int i = 0; i < p.ref->nlayers; i++) {
		const struct layer *l = &p.ref->l[i];
		size_t nw = (size_t)l->oc * l->ic * l->k * l->k;
		if (l->type != L_CONV && l->type != L_CBN)
			continue;
		if (l->frozen)
			for (size_t q = 0; q < nw; q++)
				ck_assert_msg(p.fast->grads[l->w + q] == 0, "frozen layer %d has a weight gradient", i + 1);
		else
			expect(a->spec, "weight gradient (frozen below)", i, rel(p.fast->grads + l->w, p.ref->grads + l->w, nw), TOL);
	}
	pair_close(&p);
}
END_TEST

/* heat maps and feature maps of a residual network are the reference
 * layers' (rnet_open declines an engine that keeps activations) */
START_TEST(test_res_keep_declined)
{
	const char *err;
	struct net *n = net_new(rarchs[0].spec, 3, 32, 32, 2, 3, &err);

	ck_assert_ptr_nonnull(n);
	ck_assert_ptr_null(rnet_open(n, B, 1, 1, &err));
	ck_assert_ptr_nonnull(strstr(err, "heat maps"));
	net_free(n);
}
END_TEST

/* a batch larger than the engine was opened for is refused (70), not
 * copied past the end of its slots */
START_TEST(test_engine_stage_bound)
{
	const char *err;
	struct net *n = net_new("conv:8,pool,dense:4", 1, 8, 8, 0, 3, &err);
	float *x = ecalloc(8 * 64, sizeof(float));
	int32_t y[8] = { 0 };

	ck_assert_ptr_nonnull(n);
	net_init(n, 1);
	struct engine *e = engine_open(n, -1, 4, 0);
	int set = engine_dataset(e, x, NULL, y, 8, 1);
	engine_stage(e, set, NULL, 4);
	engine_stage(e, set, NULL, 5);
}
END_TEST

Suite *
dnn_suite(void)
{
	Suite *s = suite_create("dnn");
	TCase *tc = tcase_create("dnn");
	int na = (int)(sizeof archs / sizeof *archs), nr = (int)(sizeof rarchs / sizeof *rarchs);

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_dnn_train_direct, 0, na);
	tcase_add_loop_test(tc, test_dnn_train_winograd, 0, na);
	tcase_add_loop_test(tc, test_dnn_train_ties, 0, na);
	tcase_add_loop_test(tc, test_dnn_bf16_train, 0, na);
	tcase_add_loop_test(tc, test_dnn_infer, 0, na);
	tcase_add_loop_test(tc, test_dnn_keep, 0, na);
	tcase_add_loop_test(tc, test_dnn_bf16_infer, 0, na);
	tcase_add_loop_test(tc, test_dnn_deterministic, 0, 2);
	tcase_add_loop_test(tc, test_res_train_direct, 0, nr);
	tcase_add_loop_test(tc, test_res_train_winograd, 0, nr);
	tcase_add_loop_test(tc, test_res_infer, 0, nr);
	tcase_add_loop_test(tc, test_res_deterministic, 0, nr);
	tcase_add_test(tc, test_res_keep_declined);
	tcase_add_test(tc, test_res_frozen);
	tcase_add_exit_test(tc, test_engine_stage_bound, EX_SOFTWARE);
	suite_add_tcase(s, tc);
	return s;
}
