/*
 * res.c - res.h: residual networks on oneDNN's primitives, a layer at a
 * time, in the shape of oneDNN's examples/cnn_training_f32.c.
 *
 * Activations are nChw16c when every layer's channels come in sixteens
 * (the ResNets'), else channels-last; the first convolution reads the
 * caller's NCHW.  Layer by layer:
 *   conv, cbn   training: the convolution into z, then oneDNN's batch norm
 *               (batch statistics; the ReLU fused into it for conv, its
 *               mask in a workspace); backward in place on the gradient.
 *               Inference: batch norm folded into the weights and a bias,
 *               the ReLU a post-op; a cbn whose output only the next add
 *               reads writes straight over the shortcut's buffer with a sum
 *               and a ReLU post-op, which is that add (when nothing reads
 *               the shortcut's map after it; 3% faster than our add loop
 *               on ResNet-18, README's Benchmarks)
 *   route       no copy: its output is the buffer of the layer it routes
 *   add         relu(input + shortcut), our loop; backward masks by the
 *               output and sends the gradient both ways
 *   maxpool,    oneDNN's max pooling (training keeps the winners in a
 *   pool        workspace); avgpool its average pooling, the padding not
 *               counted
 * Backward walks the layers down with two gradient buffers; what a route
 * or an add sends to an earlier layer waits in that layer's skip buffer
 * and joins its gradient when the walk reaches it; it stops at the lowest
 * layer that learns (osteo-train --freeze), and frozen layers get no
 * weight gradient.  Our loops run images
 * on OpenMP's threads.  oneDNN's batch norm sums in an order fixed by
 * the number of threads: results are the same run to run at one thread
 * count (dnn.c's own passes are the same at any).  Inference runs an
 * image per thread through primitives made for one image, as dnn.c does.
 */
#include "res.h"
#include "common/base/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#else
static int omp_get_max_threads(void) { return 1; }
static int omp_get_thread_num(void) { return 0; }
#endif

#include "plumb.h"
#include "vec.h"

/* batch norm's training primitives, for mb images */
struct bnp {
	dnnl_primitive_t fwd, bwd;
	dnnl_memory_t src, dst, scale, shift, mean, var, ws, diff, dscale, dshift;
	dnnl_memory_t sp_fwd, sp_bwd;
};

/* a pooling's: training (forward, with a workspace for max pooling's
 * winners, and backward) or inference */
struct poolp {
	dnnl_primitive_t fwd, bwd;
	dnnl_memory_t src, dst, ws, dsrc, ddst;
	dnnl_memory_t sp_fwd, sp_bwd;
};

struct rl {
	size_t out;               /* output elements per image */
	int owner;                /* whose buffer holds the output in training (a route: its layer's) */
	int iowner;               /* and in inference (a fused add: the shortcut's) */
	int absorbed;             /* inference: a cbn that writes the next add's output itself */
	float *z, *a;             /* (B, out): convolution output, layer output (NULL: owner's) */
	float *skip;              /* (B, out): gradient sent back by routes and adds, or NULL */
	int skipset;              /* skip holds something this backward */
	float *mean, *var;        /* (oc) the last training batch's statistics */
	struct conv_prims tr, inf;
	struct bnp bn;
	struct poolp pool, pinf;
	struct bnfold fold;       /* inference: BN folded into the convolution */
};

struct rworker {
	dnnl_stream_t stream;
	void *scratch;
	float *xin;               /* one image channels-last, when it needs one */
	float *act[NET_MAXLAYERS];
	dnnl_memory_t src[NET_MAXLAYERS], dst[NET_MAXLAYERS], sp[NET_MAXLAYERS];
};

struct rnet {
	struct net *n;
	struct dctx cx;
	int tail, maxb, mb, blk, wino;
	dnnl_format_tag_t tag;    /* activations' layout */
	struct rl r[NET_MAXLAYERS];
	float *xin;               /* (B,H,W,C) input, channels-last with C > 1 */
	const float *x0;          /* the input of the last training forward */
	float *ga, *gb;           /* gradient buffers, (B, largest output) */
	float *dss;               /* (2, largest C) batch norm's scale and shift gradients */
	struct rworker *wk;
	int nwk;
};

/* ---------------------------------------------------------------- */
/* primitives */

static void
vec1(dnnl_memory_desc_t *md, int n)
{
	dnnl_dims_t d = { n };
	DNN(dnnl_memory_desc_init_by_tag(md, 1, d, dnnl_f32, dnnl_a));
}

/* the convolution of layer i for mb images; inference: with a bias, and
 * the post-ops its layer (and an absorbed add) need */
static int
conv_for(struct rnet *d, int i, struct conv_prims *p, int mb, int train)
{
	const struct layer *l = &d->n->l[i];
	/* Winograd for 3x3 stride-1 convolutions from 16 channels where
	 * oneDNN has it: on ResNet-18 it was faster than direct in all three
	 * passes at every stage (README, Benchmarks) */
	int w3 = d->wino && l->k == 3 && l->stride == 1 && l->pad == 1 && l->ic >= 16;
	struct convspec c = {
		.ic = l->ic, .ih = l->ih, .iw = l->iw, .oc = l->oc, .oh = l->oh, .ow = l->ow,
		.k = l->k, .stride = l->stride, .pad = l->pad,
		.stag = i == 0 && d->blk ? dnnl_nchw : d->tag, .dtag = d->tag,
		.first = i == 0,
		.afwd = w3 ? dnnl_convolution_winograd : dnnl_convolution_direct,
		.abwd = w3 ? dnnl_convolution_winograd : dnnl_convolution_direct,
		.sum = d->r[i].absorbed,
		.relu = l->type == L_CONV || d->r[i].absorbed,
	};
	return conv_make(&d->cx, &c, p, mb, train,
	                 train ? layer_word(l->type) : d->r[i].absorbed ? "cbn+add-infer" : "conv-infer");
}

static void
bn_free(struct bnp *p)
{
	dnnl_primitive_t ps[] = { p->fwd, p->bwd };
	dnnl_memory_t ms[] = { p->src, p->dst, p->scale, p->shift, p->mean, p->var, p->ws, p->diff, p->dscale,
		               p->dshift, p->sp_fwd, p->sp_bwd };
	destroy_all(ps, sizeof ps / sizeof *ps, ms, sizeof ms / sizeof *ms);
	memset(p, 0, sizeof *p);
}

/* layer i's batch norm for mb images, training (ReLU fused for conv) */
static int
bn_make(struct rnet *d, int i, struct bnp *p, int mb)
{
	const struct layer *l = &d->n->l[i];
	unsigned flags = dnnl_use_scale | dnnl_use_shift | (l->type == L_CONV ? dnnl_fuse_norm_relu : 0);
	dnnl_memory_desc_t data, c1;
	dnnl_batch_normalization_desc_t bd;
	dnnl_primitive_desc_t fpd, bpd;
	dnnl_primitive_attr_t attr = attr_new(NULL);
	int ok = 0;

	md4(&data, mb, l->oc, l->oh, l->ow, d->tag);
	vec1(&c1, l->oc);
	memset(p, 0, sizeof *p);
	if (dnnl_batch_normalization_forward_desc_init(&bd, dnnl_forward_training, &data, NET_BN_EPS, flags) ||
	    dnnl_primitive_desc_create(&fpd, &bd, attr, d->cx.eng, NULL)) {
		dnnl_primitive_attr_destroy(attr);
		return -1;
	}
	if (!dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, &data, &data, NET_BN_EPS, flags) &&
	    !dnnl_primitive_desc_create(&bpd, &bd, attr, d->cx.eng, fpd)) {
		note_impl(&d->cx, fpd, "bnorm");
		p->fwd = prim(&d->cx, fpd, &p->sp_fwd);
		p->bwd = prim(&d->cx, bpd, &p->sp_bwd);
		const dnnl_memory_desc_t *ws = dnnl_primitive_desc_query_md(fpd, dnnl_query_workspace_md, 0);
		if (ws && dnnl_memory_desc_get_size(ws))
			p->ws = mem(&d->cx, ws, DNNL_MEMORY_ALLOCATE);
		dnnl_primitive_desc_destroy(bpd);
		ok = 1;
	}
	dnnl_primitive_desc_destroy(fpd);
	dnnl_primitive_attr_destroy(attr);
	if (!ok)
		return -1;
	p->src = mem(&d->cx, &data, DNNL_MEMORY_NONE);
	p->dst = mem(&d->cx, &data, DNNL_MEMORY_NONE);
	p->diff = mem(&d->cx, &data, DNNL_MEMORY_NONE);
	dnnl_memory_t *vs[] = { &p->scale, &p->shift, &p->mean, &p->var, &p->dscale, &p->dshift };
	for (size_t k = 0; k < sizeof vs / sizeof *vs; k++)
		*vs[k] = mem(&d->cx, &c1, DNNL_MEMORY_NONE);
	return 0;
}

static void
pool_free(struct poolp *p)
{
	dnnl_primitive_t ps[] = { p->fwd, p->bwd };
	dnnl_memory_t ms[] = { p->src, p->dst, p->ws, p->dsrc, p->ddst, p->sp_fwd, p->sp_bwd };
	destroy_all(ps, sizeof ps / sizeof *ps, ms, sizeof ms / sizeof *ms);
	memset(p, 0, sizeof *p);
}

/* layer i's pooling (pool: 2x2 max, stride 2, the odd edge dropped;
 * maxpool, avgpool: net.h's window, stride and padding) for mb images */
static int
pool_make(struct rnet *d, int i, struct poolp *p, int mb, int train)
{
	const struct layer *l = &d->n->l[i];
	int K = l->type == L_POOL ? 2 : l->k, S = l->type == L_POOL ? 2 : l->stride, P = l->type == L_POOL ? 0 : l->pad;
	dnnl_dims_t kern = { K, K }, st = { S, S }, pl = { P, P };
	/* the right padding that gives net.h's output size (negative: an
	 * edge dropped) */
	dnnl_dims_t pr = { (l->oh - 1) * S + K - l->ih - P, (l->ow - 1) * S + K - l->iw - P };
	dnnl_memory_desc_t src, dst;
	dnnl_pooling_desc_t pdd;
	dnnl_primitive_desc_t fpd, bpd;
	dnnl_primitive_attr_t attr = attr_new(NULL);
	int ok = -1;

	md4(&src, mb, l->ic, l->ih, l->iw, d->tag);
	md4(&dst, mb, l->oc, l->oh, l->ow, d->tag);
	memset(p, 0, sizeof *p);
	dnnl_alg_kind_t alg = l->type == L_AVGPOOL ? dnnl_pooling_avg_exclude_padding : dnnl_pooling_max;
	if (dnnl_pooling_forward_desc_init(&pdd, train ? dnnl_forward_training : dnnl_forward_inference,
	                                   alg, &src, &dst, st, kern, pl, pr) ||
	    dnnl_primitive_desc_create(&fpd, &pdd, attr, d->cx.eng, NULL)) {
		dnnl_primitive_attr_destroy(attr);
		return -1;
	}
	if (!train) {
		p->fwd = prim(&d->cx, fpd, &p->sp_fwd);
		ok = 0;
	} else if (!dnnl_pooling_backward_desc_init(&pdd, alg, &src, &dst, st, kern, pl, pr) &&
	           !dnnl_primitive_desc_create(&bpd, &pdd, attr, d->cx.eng, fpd)) {
		note_impl(&d->cx, fpd, layer_word(l->type));
		p->fwd = prim(&d->cx, fpd, &p->sp_fwd);
		p->bwd = prim(&d->cx, bpd, &p->sp_bwd);
		/* max pooling's winners; average pooling has none */
		const dnnl_memory_desc_t *ws = dnnl_primitive_desc_query_md(fpd, dnnl_query_workspace_md, 0);
		if (ws && dnnl_memory_desc_get_size(ws))
			p->ws = mem(&d->cx, ws, DNNL_MEMORY_ALLOCATE);
		p->dsrc = mem(&d->cx, &src, DNNL_MEMORY_NONE);
		p->ddst = mem(&d->cx, &dst, DNNL_MEMORY_NONE);
		dnnl_primitive_desc_destroy(bpd);
		ok = 0;
	}
	dnnl_primitive_desc_destroy(fpd);
	dnnl_primitive_attr_destroy(attr);
	if (ok < 0)
		return -1;
	p->src = mem(&d->cx, &src, DNNL_MEMORY_NONE);
	p->dst = mem(&d->cx, &dst, DNNL_MEMORY_NONE);
	return 0;
}

/* ---------------------------------------------------------------- */
/* our loops, a batch's images on the threads */

/* out = relu(a + b), n per image */
static VEC void
add_relu(float *out, const float *a, const float *b, size_t n)
{
	for (size_t q = 0; q < n; q++) {
		float s = a[q] + b[q];
		out[q] = s > 0 ? s : 0;
	}
}

static void
add_relu_batch(float *out, const float *a, const float *b, int B, size_t n)
{
#pragma omp parallel for schedule(static)
	for (int j = 0; j < B; j++)
		add_relu(out + j * n, a + j * n, b + j * n, n);
}

/* dx = dy where the output is positive, else 0 */
static VEC void
relu_mask(float *dx, const float *dy, const float *out, size_t n)
{
	for (size_t q = 0; q < n; q++)
		dx[q] = out[q] > 0 ? dy[q] : 0;
}

static VEC void
add_to(float *y, const float *x, size_t n)
{
	for (size_t q = 0; q < n; q++)
		y[q] += x[q];
}

/* the gradient g (B, n) sent back to layer j's skip buffer */
static void
skip_add(struct rnet *d, int j, const float *g, int B)
{
	struct rl *r = &d->r[j];
	size_t n = r->out;

	if (!r->skipset)
		memcpy(r->skip, g, (size_t)B * n * sizeof(float));
	else
#pragma omp parallel for schedule(static)
		for (int b = 0; b < B; b++)
			add_to(r->skip + b * n, g + b * n, n);
	r->skipset = 1;
}

/* ---------------------------------------------------------------- */
/* open and close */

static void
rl_free(struct rl *r)
{
	free(r->z);
	free(r->a);
	free(r->skip);
	free(r->mean);
	free(r->var);
	bnfold_free(&r->fold);
	conv_free(&r->tr);
	conv_free(&r->inf);
	bn_free(&r->bn);
	pool_free(&r->pool);
	pool_free(&r->pinf);
}

static void
workers_close(struct rnet *d)
{
	for (int t = 0; t < d->nwk; t++) {
		struct rworker *w = &d->wk[t];
		for (int i = 0; i < d->tail; i++) {
			destroy_all(NULL, 0, (dnnl_memory_t[]){ w->src[i], w->dst[i], w->sp[i] }, 3);
			free(w->act[i]);
		}
		if (w->stream)
			dnnl_stream_destroy(w->stream);
		free(w->scratch);
		free(w->xin);
	}
	free(d->wk);
}

void
rnet_close(struct rnet *d)
{
	if (!d)
		return;
	workers_close(d);
	for (int i = 0; i < d->tail; i++)
		rl_free(&d->r[i]);
	free(d->xin);
	free(d->ga);
	free(d->gb);
	free(d->dss);
	dctx_close(&d->cx);
	free(d);
}

static int
is_pool(const struct layer *l)
{
	return l->type == L_MAXPOOL || l->type == L_POOL || l->type == L_AVGPOOL;
}

static dnnl_primitive_t
inf_prim(const struct rl *r, const struct layer *l)
{
	return l->type == L_CONV || l->type == L_CBN ? r->inf.fwd : is_pool(l) ? r->pinf.fwd : NULL;
}

static void
workers_open(struct rnet *d)
{
	const struct net *n = d->n;
	size_t sp = 0;

	for (int i = 0; i < d->tail; i++) {
		dnnl_primitive_t p = inf_prim(&d->r[i], &n->l[i]);
		const_dnnl_primitive_desc_t pd;
		if (!p)
			continue;
		DNN(dnnl_primitive_get_primitive_desc(p, &pd));
		const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
		size_t need = md ? dnnl_memory_desc_get_size(md) : 0;
		sp = need > sp ? need : sp;
	}
	d->nwk = omp_get_max_threads();
	d->wk = ecalloc((size_t)d->nwk, sizeof *d->wk);
	for (int t = 0; t < d->nwk; t++) {
		struct rworker *w = &d->wk[t];
		DNN(dnnl_stream_create(&w->stream, d->cx.eng, dnnl_stream_default_flags));
		w->scratch = emalloc(sp ? sp : 1);
		if (d->xin)
			w->xin = emalloc((size_t)n->c * n->h * n->w * sizeof(float));
		for (int i = 0; i < d->tail; i++) {
			dnnl_primitive_t p = inf_prim(&d->r[i], &n->l[i]);
			if (d->r[i].iowner == i && !d->r[i].absorbed)
				w->act[i] = emalloc(d->r[i].out * sizeof(float));
			if (!p)
				continue;
			w->src[i] = mem_like(&d->cx, p, dnnl_query_src_md);
			w->dst[i] = mem_like(&d->cx, p, dnnl_query_dst_md);
			w->sp[i] = mem_like(&d->cx, p, dnnl_query_scratchpad_md);
		}
	}
}

/* the layer whose output layer i's is, through routes */
static int
source(const struct net *n, int i)
{
	while (n->l[i].type == L_ROUTE)
		i = n->l[i].ref;
	return i;
}

/*
 * Who holds each output.  In training a route's output is its layer's.
 * In inference an add whose input is a cbn read by nothing else, and
 * whose shortcut's buffer nobody reads after it, is absorbed into that
 * cbn's convolution (a sum post-op over the shortcut's buffer): the add's
 * output is then that buffer.
 */
static void
owners(struct rnet *d)
{
	const struct net *n = d->n;
	int last[NET_MAXLAYERS];   /* the last layer reading each output (tail: the walker) */

	for (int i = 0; i < d->tail; i++)
		last[i] = -1;
	for (int i = 0; i < d->tail; i++) {
		const struct layer *l = &n->l[i];
		d->r[i].owner = d->r[i].iowner = source(n, i);
		if (i > 0 && l->type != L_ROUTE)
			last[source(n, i - 1)] = i;
		if (l->type == L_ADD)
			last[source(n, l->ref)] = i;
	}
	last[source(n, d->tail - 1)] = d->tail;
	for (int i = 1; i < d->tail; i++) {
		const struct layer *l = &n->l[i];
		if (l->type != L_ADD || n->l[i - 1].type != L_CBN || source(n, i - 1) != i - 1 || last[i - 1] != i)
			continue;
		int buf = d->r[source(n, l->ref)].iowner, later = 0;
		for (int k = 0; k < i; k++)
			if (d->r[k].iowner == buf && last[k] > i)
				later = 1;
		/* nor may the cbn read the buffer it writes */
		if (later || buf == i - 1 || (i >= 2 && d->r[i - 2].iowner == buf))
			continue;
		d->r[i - 1].absorbed = 1;
		d->r[i].iowner = buf;
		/* later readers of the add read buf */
		for (int k = i + 1; k < d->tail; k++)
			if (source(n, k) == i)
				d->r[k].iowner = buf;
	}
}

struct rnet *
rnet_open(struct net *n, int maxb, int keep, int wino, const char **why)
{
	struct rnet *d;
	int tail = 0;

	*why = NULL;
	if (keep) {
		*why = "heat maps and feature maps of residual networks";
		return NULL;
	}
	if (n->l[0].type != L_CONV && n->l[0].type != L_CBN) {
		*why = "the first layer is not a convolution";
		return NULL;
	}
	for (; tail < n->fuse_at; tail++) {
		enum ltype t = n->l[tail].type;
		if (t != L_CONV && t != L_CBN && t != L_ROUTE && t != L_ADD && !is_pool(&n->l[tail]))
			break;
	}
	for (int i = tail; i < n->fuse_at; i++)
		if (n->l[i].type != L_GAP && n->l[i].type != L_DROPOUT && n->l[i].type != L_CLIN) {
			*why = "an image layer after gap or dropout";
			return NULL;
		}
	d = ecalloc(1, sizeof *d);
	d->n = n;
	d->tail = tail;
	d->maxb = maxb;
	d->wino = wino;
	d->blk = 1;
	for (int i = 0; i < tail; i++)
		if (n->l[i].oc % 16)
			d->blk = 0;
	d->tag = d->blk ? dnnl_nChw16c : dnnl_nhwc;
	if (dctx_open(&d->cx) < 0) {
		*why = "oneDNN has no CPU engine";
		rnet_close(d);
		return NULL;
	}
	for (int i = 0; i < tail; i++)
		d->r[i].out = layer_elems(&n->l[i]);
	owners(d);
	for (int i = 0; i < tail; i++) {
		const struct layer *l = &n->l[i];
		struct rl *r = &d->r[i];
		int bad = 0;
		if (l->type == L_CONV || l->type == L_CBN) {
			bad = conv_for(d, i, &r->inf, 1, 0) < 0;
			bnfold_open(&r->fold, l);
			r->mean = emalloc((size_t)l->oc * sizeof(float));
			r->var = emalloc((size_t)l->oc * sizeof(float));
		} else if (is_pool(l))
			bad = pool_make(d, i, &r->pinf, 1, 0) < 0;
		if (bad) {
			*why = "oneDNN has no primitive for a layer's shape";
			rnet_close(d);
			return NULL;
		}
	}
	if (!d->blk && n->c > 1)
		d->xin = emalloc((size_t)maxb * n->c * n->h * n->w * sizeof(float));
	workers_open(d);
	return d;
}

int
rnet_tail(const struct rnet *d)
{
	return d->tail;
}

const char *
rnet_kernels(const struct rnet *d)
{
	return d->cx.kernels;
}

/* the training buffers and primitives for batches of b, made at the first
 * training forward and again when b changes */
static void
train_ready(struct rnet *d, int b)
{
	const struct net *n = d->n;

	if (d->ga && d->mb == b)
		return;
	if (!d->ga) {
		size_t big = 1;
		int maxc = 1;
		for (int i = 0; i < d->tail; i++) {
			const struct layer *l = &n->l[i];
			struct rl *r = &d->r[i];
			size_t B = (size_t)d->maxb * r->out;
			big = r->out > big ? r->out : big;
			maxc = l->oc > maxc ? l->oc : maxc;
			if (l->type == L_CONV || l->type == L_CBN)
				r->z = emalloc(B * sizeof(float));
			if (l->type != L_ROUTE)
				r->a = emalloc(B * sizeof(float));
			if (l->type == L_ROUTE || l->type == L_ADD) {
				struct rl *s = &d->r[source(n, l->ref)];
				if (!s->skip)
					s->skip = emalloc((size_t)d->maxb * s->out * sizeof(float));
			}
		}
		d->ga = emalloc((size_t)d->maxb * big * sizeof(float));
		d->gb = emalloc((size_t)d->maxb * big * sizeof(float));
		d->dss = emalloc(2 * (size_t)maxc * sizeof(float));
	}
	for (int i = 0; i < d->tail; i++) {
		const struct layer *l = &n->l[i];
		struct rl *r = &d->r[i];
		int bad = 0;
		if (l->type == L_CONV || l->type == L_CBN) {
			conv_free(&r->tr);
			bn_free(&r->bn);
			/* training never absorbs an add: batch norm comes between */
			int ab = r->absorbed;
			r->absorbed = 0;
			bad = conv_for(d, i, &r->tr, b, 1) < 0 || bn_make(d, i, &r->bn, b) < 0;
			r->absorbed = ab;
		} else if (is_pool(l)) {
			pool_free(&r->pool);
			bad = pool_make(d, i, &r->pool, b, 1) < 0;
		}
		if (bad)
			die(EX_SOFTWARE, "oneDNN has no training primitive for layer %d at batch %d", i + 1, b);
	}
	d->mb = b;
}

/* ---------------------------------------------------------------- */
/* forward */

/* the input as the first convolution reads it */
static const float *
input(struct rnet *d, const float *x, int b)
{
	return input_pixels(d->xin, x, b, d->n->c, d->n->h * d->n->w);
}

/* layer i's output in training */
static float *
out_of(struct rnet *d, int i)
{
	return d->r[d->r[i].owner].a;
}

/* the last layer's output into n->a[tail - 1], as the walker reads it */
static void
features_out(struct rnet *d, const float *last, int b, int j0)
{
	const struct layer *l = &d->n->l[d->tail - 1];
	int P = l->oh * l->ow;
	float *a = d->n->a[d->tail - 1];

	for (int j = 0; j < b; j++)
		to_planes(a + (size_t)(j0 + j) * P * l->oc, last + (size_t)j * P * l->oc, P, l->oc, d->blk);
}

static void
forward_train(struct rnet *d, const float *x, int b)
{
	struct net *n = d->n;
	const float *x0 = d->x0 = input(d, x, b);

	train_ready(d, b);
	for (int i = 0; i < d->tail; i++) {
		const struct layer *l = &n->l[i];
		struct rl *r = &d->r[i];
		const float *in = i ? out_of(d, i - 1) : x0;
		switch (l->type) {
		case L_CONV:
		case L_CBN: {
			struct conv_prims *p = &r->tr;
			struct bnp *q = &r->bn;
			handle(p->w_user, n->params + l->w);
			if (p->to_fwd_w)
				run(&d->cx, p->to_fwd_w, NULL, 2,
				    (dnnl_exec_arg_t[]){ { DNNL_ARG_FROM, p->w_user }, { DNNL_ARG_TO, p->w_fwd } });
			handle(p->src, in);
			handle(p->dst, r->z);
			run(&d->cx, p->fwd, p->sp_fwd, 3,
			    (dnnl_exec_arg_t[]){ { DNNL_ARG_SRC, p->src }, { DNNL_ARG_WEIGHTS, p->w_fwd },
			                         { DNNL_ARG_DST, p->dst } });
			handle(q->src, r->z);
			handle(q->dst, r->a);
			handle(q->scale, n->params + l->gamma);
			handle(q->shift, n->params + l->beta);
			handle(q->mean, r->mean);
			handle(q->var, r->var);
			dnnl_exec_arg_t args[7] = { { DNNL_ARG_SRC, q->src }, { DNNL_ARG_DST, q->dst },
				                    { DNNL_ARG_SCALE, q->scale }, { DNNL_ARG_SHIFT, q->shift },
				                    { DNNL_ARG_MEAN, q->mean }, { DNNL_ARG_VARIANCE, q->var },
				                    { DNNL_ARG_WORKSPACE, q->ws } };
			run(&d->cx, q->fwd, q->sp_fwd, q->ws ? 7 : 6, args);
			/* running statistics as batchnorm_forward_train moves them
			 * (the variance unbiased); the mean and 1/sd for net.h */
			double cnt = (double)b * l->oh * l->ow;
			float *rm = n->stats + l->rmean, *rv = n->stats + l->rvar;
			for (int c = 0; c < l->oc; c++) {
				double v = r->var[c], unbiased = cnt > 1 ? v * cnt / (cnt - 1) : v;
				rm[c] = (float)((1 - NET_BN_MOMENTUM) * rm[c] + NET_BN_MOMENTUM * r->mean[c]);
				rv[c] = (float)((1 - NET_BN_MOMENTUM) * rv[c] + NET_BN_MOMENTUM * unbiased);
				n->mean[l->rmean + c] = r->mean[c];
				n->rstd[l->rmean + c] = (float)(1 / sqrt(v + NET_BN_EPS));
			}
			break;
		}
		case L_ADD:
			add_relu_batch(r->a, in, out_of(d, l->ref), b, r->out);
			break;
		case L_MAXPOOL:
		case L_AVGPOOL:
		case L_POOL: {
			struct poolp *p = &r->pool;
			handle(p->src, in);
			handle(p->dst, r->a);
			run(&d->cx, p->fwd, p->sp_fwd, p->ws ? 3 : 2,
			    (dnnl_exec_arg_t[]){ { DNNL_ARG_SRC, p->src }, { DNNL_ARG_DST, p->dst },
			                         { DNNL_ARG_WORKSPACE, p->ws } });
			break;
		}
		default:
			break;
		}
	}
	const float *last = out_of(d, d->tail - 1);
	size_t per = d->r[d->tail - 1].out;
#pragma omp parallel for schedule(static)
	for (int j = 0; j < b; j++)
		features_out(d, last + j * per, 1, j);
}

/* BN folded into each convolution (bnfold_run) */
static void
fold(struct rnet *d)
{
	for (int i = 0; i < d->tail; i++)
		if (d->n->l[i].type == L_CONV || d->n->l[i].type == L_CBN)
			bnfold_run(&d->cx, &d->r[i].fold, d->n, &d->n->l[i], &d->r[i].inf);
}

/* image j (x, as the first convolution reads it) through the layers on
 * worker w */
static void
infer_image(struct rnet *d, struct rworker *w, const float *x, int j)
{
	const struct net *n = d->n;

	for (int i = 0; i < d->tail; i++) {
		const struct layer *l = &n->l[i];
		struct rl *r = &d->r[i];
		const float *in = i ? w->act[d->r[i - 1].iowner] : x;
		dnnl_exec_arg_t args[5];
		int na = 0;
		switch (l->type) {
		case L_CONV:
		case L_CBN:
			/* an absorbed add's output is its shortcut's buffer */
			handle(w->dst[i], w->act[r->absorbed ? d->r[i + 1].iowner : i]);
			args[na++] = (dnnl_exec_arg_t){ DNNL_ARG_WEIGHTS, r->inf.w_fwd };
			args[na++] = (dnnl_exec_arg_t){ DNNL_ARG_BIAS, r->inf.bias };
			break;
		case L_MAXPOOL:
		case L_AVGPOOL:
		case L_POOL:
			handle(w->dst[i], w->act[i]);
			break;
		case L_ADD:
			if (r->iowner == i)
				add_relu(w->act[i], in, w->act[d->r[l->ref].iowner], r->out);
			continue;
		default:
			continue;
		}
		handle(w->src[i], in);
		args[na++] = (dnnl_exec_arg_t){ DNNL_ARG_SRC, w->src[i] };
		args[na++] = (dnnl_exec_arg_t){ DNNL_ARG_DST, w->dst[i] };
		if (w->sp[i]) {
			handle(w->sp[i], w->scratch);
			args[na++] = (dnnl_exec_arg_t){ DNNL_ARG_SCRATCHPAD, w->sp[i] };
		}
		DNN(dnnl_primitive_execute(inf_prim(r, l), w->stream, na, args));
		DNN(dnnl_stream_wait(w->stream));
	}
	features_out(d, w->act[d->r[d->tail - 1].iowner], 1, j);
}

static void
forward_infer(struct rnet *d, const float *x, int b)
{
	const struct net *n = d->n;
	const float *xs = input(d, x, b);
	size_t px = (size_t)n->c * n->h * n->w;

	fold(d);
	/* a lone image gets every thread inside oneDNN's primitives, which
	 * split a convolution's outputs among them, never its sums: the same
	 * bits as on one thread (check_dnn's test_res_infer) */
	if (b == 1) {
		infer_image(d, &d->wk[0], xs, 0);
		return;
	}
#pragma omp parallel for schedule(static)
	for (int j = 0; j < b; j++)
		infer_image(d, &d->wk[omp_get_thread_num()], xs + j * px, j);
}

void
rnet_forward(struct rnet *d, const float *x, int b, int train)
{
	if (b > d->maxb)
		die(EX_SOFTWARE, "rnet_forward: batch %d past the engine's %d", b, d->maxb);
	if (train)
		forward_train(d, x, b);
	else
		forward_infer(d, x, b);
}

/* ---------------------------------------------------------------- */
/* backward */

void
rnet_backward(struct rnet *d, const float *df, int b)
{
	struct net *n = d->n;
	float *dcur = d->ga, *dnext = d->gb;
	const struct layer *lt = &n->l[d->tail - 1];
	int P = lt->oh * lt->ow, zero = 0;

	/* the features' gradient, net.c's layout, back to ours */
#pragma omp parallel for schedule(static)
	for (int j = 0; j < b; j++)
		to_pixels(dcur + (size_t)j * P * lt->oc, df + (size_t)j * P * lt->oc, P, lt->oc, d->blk);
	/* frozen layers (osteo-train --freeze) need no weight gradient, and
	 * nothing below the lowest layer that learns needs any gradient */
	int low = d->tail;
	for (int i = d->tail - 1; i >= 0; i--)
		if (n->l[i].pcount && !n->l[i].frozen)
			low = i;
	for (int i = 0; i < d->tail; i++)
		d->r[i].skipset = 0;
	for (int i = d->tail - 1; i >= low; i--) {
		const struct layer *l = &n->l[i];
		struct rl *r = &d->r[i];
		size_t e = (size_t)b * r->out;
		const float *in = i ? out_of(d, i - 1) : d->x0;
		int znext = 0;
		/* what routes and adds sent this layer joins its gradient */
		if (r->skipset && zero)
			memcpy(dcur, r->skip, e * sizeof(float));
		else if (r->skipset)
#pragma omp parallel for schedule(static)
			for (int j = 0; j < b; j++)
				add_to(dcur + j * r->out, r->skip + j * r->out, r->out);
		else if (zero)
			memset(dcur, 0, e * sizeof(float));
		switch (l->type) {
		case L_CONV:
		case L_CBN: {
			struct conv_prims *p = &r->tr;
			struct bnp *q = &r->bn;
			float *dg = d->dss, *db = d->dss + l->oc;
			handle(q->src, r->z);
			handle(q->diff, dcur);
			handle(q->scale, n->params + l->gamma);
			handle(q->shift, n->params + l->beta);
			handle(q->mean, r->mean);
			handle(q->var, r->var);
			handle(q->dscale, dg);
			handle(q->dshift, db);
			dnnl_exec_arg_t args[10] = { { DNNL_ARG_SRC, q->src }, { DNNL_ARG_DIFF_DST, q->diff },
				                     { DNNL_ARG_DIFF_SRC, q->diff }, { DNNL_ARG_SCALE, q->scale },
				                     { DNNL_ARG_SHIFT, q->shift }, { DNNL_ARG_MEAN, q->mean },
				                     { DNNL_ARG_VARIANCE, q->var }, { DNNL_ARG_DIFF_SCALE, q->dscale },
				                     { DNNL_ARG_DIFF_SHIFT, q->dshift } };
			if (q->ws)
				args[9] = (dnnl_exec_arg_t){ DNNL_ARG_WORKSPACE, q->ws };
			run(&d->cx, q->bwd, q->sp_bwd, q->ws ? 10 : 9, args);
			for (int c = 0; c < l->oc; c++) {
				n->grads[l->gamma + c] += dg[c];
				n->grads[l->beta + c] += db[c];
			}
			handle(p->src, in);
			handle(p->diff_dst, dcur);
			if (!l->frozen) {
				run(&d->cx, p->bwd_w, p->sp_bwd_w, 3,
				    (dnnl_exec_arg_t[]){ { DNNL_ARG_SRC, p->src }, { DNNL_ARG_DIFF_DST, p->diff_dst },
				                         { DNNL_ARG_DIFF_WEIGHTS, p->dw } });
				handle(p->dw_user, n->grads + l->w);
				run(&d->cx, p->from_dw, NULL, 2,
				    (dnnl_exec_arg_t[]){ { DNNL_ARG_FROM, p->dw }, { DNNL_ARG_TO, p->dw_user } });
			}
			if (i == low)
				return;
			handle(p->w_user, n->params + l->w);
			if (p->to_bwd_w)
				run(&d->cx, p->to_bwd_w, NULL, 2,
				    (dnnl_exec_arg_t[]){ { DNNL_ARG_FROM, p->w_user }, { DNNL_ARG_TO, p->w_bwd } });
			handle(p->diff_src, dnext);
			run(&d->cx, p->bwd_data, p->sp_bwd_data, 3,
			    (dnnl_exec_arg_t[]){ { DNNL_ARG_DIFF_DST, p->diff_dst }, { DNNL_ARG_WEIGHTS, p->w_bwd },
			                         { DNNL_ARG_DIFF_SRC, p->diff_src } });
			break;
		}
		case L_ADD: {
			const float *a = r->a;
#pragma omp parallel for schedule(static)
			for (int j = 0; j < b; j++)
				relu_mask(dnext + j * r->out, dcur + j * r->out, a + j * r->out, r->out);
			skip_add(d, source(n, l->ref), dnext, b);
			break;
		}
		case L_ROUTE:
			/* all of it to the layer routed, none to the one before */
			skip_add(d, source(n, l->ref), dcur, b);
			znext = 1;
			break;
		case L_MAXPOOL:
		case L_AVGPOOL:
		case L_POOL: {
			struct poolp *p = &r->pool;
			handle(p->ddst, dcur);
			handle(p->dsrc, dnext);
			run(&d->cx, p->bwd, p->sp_bwd, p->ws ? 3 : 2,
			    (dnnl_exec_arg_t[]){ { DNNL_ARG_DIFF_DST, p->ddst }, { DNNL_ARG_DIFF_SRC, p->dsrc },
			                         { DNNL_ARG_WORKSPACE, p->ws } });
			break;
		}
		default:
			break;
		}
		if (i == 0)
			return;
		float *t = dcur;
		dcur = dnext;
		dnext = t;
		zero = znext;
	}
}
