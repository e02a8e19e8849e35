/*
 * net.c - the network of net.h: the spec, one allocation of parameters,
 * whole-network forward and backward.
 */
#include "net.h"
#include "engine/ref/nn.h"
#include "common/base/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- */
/* the spec */

static int
parse_int(const char *s, size_t len, int lo, int hi, int *v)
{
	char buf[32], *end;
	long x;

	if (len == 0 || len >= sizeof buf)
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	x = strtol(buf, &end, 10);
	if (*end || x < lo || x > hi)
		return 0;
	*v = (int)x;
	return 1;
}

static const char *
parse_layer(const char *tok, size_t len, struct layer *l)
{
	const char *colon = memchr(tok, ':', len);
	size_t name = colon ? (size_t)(colon - tok) : len;
	const char *arg = colon ? colon + 1 : NULL;
	size_t alen = colon ? len - name - 1 : 0;

	memset(l, 0, sizeof *l);
	if (name == 4 && !memcmp(tok, "conv", 4)) {
		/* conv:N[:K[:S]] */
		const char *c2 = arg ? memchr(arg, ':', alen) : NULL;
		const char *c3 = c2 ? memchr(c2 + 1, ':', alen - (size_t)(c2 + 1 - arg)) : NULL;
		l->type = L_CONV;
		l->k = 3;
		l->stride = 1;
		if (!arg || !parse_int(arg, c2 ? (size_t)(c2 - arg) : alen, 1, 4096, &l->n))
			return "conv needs a number of filters, conv:N[:K[:S]]";
		if (c2 && !parse_int(c2 + 1, c3 ? (size_t)(c3 - c2 - 1) : alen - (size_t)(c2 + 1 - arg), 1, 15, &l->k))
			return "conv kernel size must be 1 to 15";
		if (c3 && !parse_int(c3 + 1, alen - (size_t)(c3 + 1 - arg), 1, 8, &l->stride))
			return "conv stride must be 1 to 8";
		l->pad = l->k / 2;
	} else if (name == 4 && !memcmp(tok, "pool", 4) && !arg) {
		l->type = L_POOL;
	} else if (name == 3 && !memcmp(tok, "gap", 3) && !arg) {
		l->type = L_GAP;
	} else if (name == 4 && !memcmp(tok, "clin", 4)) {
		l->type = L_CLIN;
		if (!arg || !parse_int(arg, alen, 1, 1 << 16, &l->n))
			return "clin needs a number of units, clin:N";
	} else if (name == 5 && !memcmp(tok, "dense", 5)) {
		l->type = L_DENSE;
		if (!arg || !parse_int(arg, alen, 1, 1 << 16, &l->n))
			return "dense needs a number of units, dense:N";
	} else if (name == 7 && !memcmp(tok, "dropout", 7)) {
		char buf[32], *end;
		l->type = L_DROPOUT;
		if (!arg || alen >= sizeof buf)
			return "dropout needs a probability, dropout:P";
		memcpy(buf, arg, alen);
		buf[alen] = '\0';
		l->p = strtof(buf, &end);
		if (*end || !(l->p >= 0 && l->p < 1))
			return "dropout probability must be in [0, 1)";
	} else
		return "unknown layer (conv:N, pool, gap, clin:N, dense:N, dropout:P)";
	return NULL;
}

/* the features a dense layer sees: every activation of the last conv,
 * pool or gap layer, then the clinical values (the branch's output) */
static const char *
flatten(int *ic, int ih, int iw, int nclin)
{
	size_t f = (size_t)*ic * ih * iw + nclin;

	if (f > (size_t)1 << 24)
		return "more than 16 Mi features reach the first dense layer";
	*ic = (int)f;
	return NULL;
}

static void
entry(struct net *n, int layer, enum pkind kind, const char *what, size_t off, int ndim, const uint32_t *shape)
{
	struct ptensor *t = &n->pt[n->ntensors++];

	t->layer = layer;
	t->kind = kind;
	snprintf(t->name, sizeof t->name, "L%d.%s", layer + 1, what);
	t->off = off;
	t->ndim = ndim;
	t->count = 1;
	for (int d = 0; d < ndim; d++) {
		t->shape[d] = shape[d];
		t->count *= shape[d];
	}
}

/* the parameter table, from the layers' offsets */
static void
table(struct net *n)
{
	for (int i = 0; i < n->nlayers; i++) {
		const struct layer *l = &n->l[i];
		uint32_t oc[1] = { (uint32_t)l->oc };
		for (int j = 0; i == n->fuse_at && j < n->nbranch; j++) {
			/* the clinical branch, stored with the fusion layer it feeds */
			const struct layer *c = &n->cl[j];
			uint32_t w[2] = { (uint32_t)c->oc, (uint32_t)c->ic }, co[1] = { (uint32_t)c->oc };
			entry(n, i, P_WEIGHT, "w", c->w, 2, w);
			snprintf(n->pt[n->ntensors - 1].name, sizeof n->pt[0].name, "C%d.w", j + 1);
			entry(n, i, P_BIAS, "b", c->b, 1, co);
			snprintf(n->pt[n->ntensors - 1].name, sizeof n->pt[0].name, "C%d.b", j + 1);
		}
		if (l->type == L_CONV) {
			uint32_t w[4] = { (uint32_t)l->oc, (uint32_t)l->ic, (uint32_t)l->k, (uint32_t)l->k };
			entry(n, i, P_WEIGHT, "w", l->w, 4, w);
			entry(n, i, P_GAMMA, "gamma", l->gamma, 1, oc);
			entry(n, i, P_BETA, "beta", l->beta, 1, oc);
			entry(n, i, P_MEAN, "mean", l->rmean, 1, oc);
			entry(n, i, P_VAR, "var", l->rvar, 1, oc);
		} else if (l->type == L_DENSE || l->type == L_CLASSIFIER) {
			uint32_t w[2] = { (uint32_t)l->oc, (uint32_t)l->ic };
			entry(n, i, P_WEIGHT, "w", l->w, 2, w);
			entry(n, i, P_BIAS, "b", l->b, 1, oc);
		}
	}
}

struct net *
net_new(const char *spec, int c, int h, int w, int nclin, int nclasses, const char **err)
{
	static char msg[256];
	struct net *n = ecalloc(1, sizeof *n);
	const char *p = spec;
	int dense_seen = 0, gap_seen = 0, kc = nclin;
	size_t np = 0, ns = 0, acts = 0;
	const char *e;

	if (c < 1 || c > 1024 || h < 1 || h > NET_MAXSIDE || w < 1 || w > NET_MAXSIDE ||
	    nclin < 0 || nclin > NET_MAXSIDE || nclasses < 1 || nclasses > NET_MAXSIDE) {
		snprintf(msg, sizeof msg, "input %dx%dx%d with %d clinical features and %d classes is "
		         "outside what a network takes", c, h, w, nclin, nclasses);
		*err = msg;
		goto fail;
	}
	n->c = c;
	n->h = h;
	n->w = w;
	n->nclin = nclin;
	n->nclasses = nclasses;
	n->fuse_at = -1;
	int ic = c, ih = h, iw = w;
	for (;;) {
		size_t len = strcspn(p, ",");
		struct layer *l;
		if (n->nlayers == NET_MAXLAYERS - 1) {
			*err = "too many layers";
			goto fail;
		}
		l = &n->l[n->nlayers];
		if ((e = parse_layer(p, len, l))) {
			snprintf(msg, sizeof msg, "layer %d '%.*s': %s", n->nlayers + 1, (int)len, p, e);
			*err = msg;
			goto fail;
		}
		if (l->type == L_CLIN) {
			/* the clinical branch: beside the image layers, not among them */
			if (dense_seen) {
				snprintf(msg, sizeof msg, "layer %d: clin after a dense layer", n->nlayers + 1);
				*err = msg;
				goto fail;
			}
			if (nclin && n->nbranch == NET_MAXCLIN) {
				*err = "more than 8 clin layers";
				goto fail;
			}
			if (nclin) {
				struct layer *c = &n->cl[n->nbranch++];
				*c = *l;
				c->ic = kc;
				c->ih = c->iw = c->oh = c->ow = 1;
				c->oc = kc = c->n;
				c->pstart = c->w = np;
				np += (size_t)c->oc * c->ic;
				c->b = np;
				np += c->oc;
				c->pcount = np - c->pstart;
			}
			if (!p[len])
				break;
			p += len + 1;
			continue;
		}
		if (l->type == L_DENSE && !dense_seen) {
			n->fuse_at = n->nlayers;
			dense_seen = 1;
			if ((e = flatten(&ic, ih, iw, kc))) {
				snprintf(msg, sizeof msg, "layer %d '%.*s': %s", n->nlayers + 1, (int)len, p, e);
				*err = msg;
				goto fail;
			}
			ih = iw = 1;
		}
		if ((dense_seen || gap_seen) && (l->type == L_CONV || l->type == L_POOL || l->type == L_GAP)) {
			snprintf(msg, sizeof msg, "layer %d: %s after a %s layer", n->nlayers + 1,
			         l->type == L_CONV ? "conv" : l->type == L_POOL ? "pool" : "gap",
			         dense_seen ? "dense" : "gap");
			*err = msg;
			goto fail;
		}
		gap_seen |= l->type == L_GAP;
		l->ic = ic;
		l->ih = ih;
		l->iw = iw;
		switch (l->type) {
		case L_CONV:
			l->oc = l->n;
			l->oh = conv_out(ih, l->k, l->stride, l->pad);
			l->ow = conv_out(iw, l->k, l->stride, l->pad);
			break;
		case L_POOL:
			l->oc = ic;
			l->oh = ih / 2;
			l->ow = iw / 2;
			break;
		case L_DENSE:
			l->oc = l->n;
			l->oh = l->ow = 1;
			break;
		case L_GAP:
			l->oc = ic;
			l->oh = l->ow = 1;
			break;
		default:
			l->oc = ic;
			l->oh = ih;
			l->ow = iw;
		}
		if (l->oh < 1 || l->ow < 1) {
			snprintf(msg, sizeof msg, "layer %d '%.*s': the image (%dx%d there) is too small for it",
			         n->nlayers + 1, (int)len, p, iw, ih);
			*err = msg;
			goto fail;
		}
		l->pstart = np;
		if (l->type == L_CONV) {
			l->w = np;
			np += (size_t)l->oc * ic * l->k * l->k;
			l->gamma = np;
			np += l->oc;
			l->beta = np;
			np += l->oc;
			l->rmean = ns;
			ns += l->oc;
			l->rvar = ns;
			ns += l->oc;
		} else if (l->type == L_DENSE) {
			l->w = np;
			np += (size_t)l->oc * ic;
			l->b = np;
			np += l->oc;
		}
		l->pcount = np - l->pstart;
		acts += layer_elems(l);
		if (np > NET_MAXPARAMS || acts > NET_MAXACTS) {
			snprintf(msg, sizeof msg, "layer %d '%.*s': the network grows past %s",
			         n->nlayers + 1, (int)len, p,
			         np > NET_MAXPARAMS ? "32 Mi parameters" : "64 Mi activations per image");
			*err = msg;
			goto fail;
		}
		ic = l->oc;
		ih = l->oh;
		iw = l->ow;
		n->nlayers++;
		if (!p[len])
			break;
		p += len + 1;
	}
	/* the classifier */
	struct layer *l = &n->l[n->nlayers];
	memset(l, 0, sizeof *l);
	l->type = L_CLASSIFIER;
	if (n->fuse_at < 0) {
		n->fuse_at = n->nlayers;
		if ((e = flatten(&ic, ih, iw, kc))) {
			snprintf(msg, sizeof msg, "the classifier: %s", e);
			*err = msg;
			goto fail;
		}
	}
	l->ic = ic;
	l->ih = l->iw = 1;
	l->oc = nclasses;
	l->oh = l->ow = 1;
	l->pstart = np;
	l->w = np;
	np += (size_t)nclasses * ic;
	l->b = np;
	np += nclasses;
	l->pcount = np - l->pstart;
	if (np > NET_MAXPARAMS) {
		*err = "the network grows past 32 Mi parameters";
		goto fail;
	}
	n->nlayers++;
	n->kfuse = kc;
	n->maxact = (size_t)c * h * w;
	for (int i = 0; i < n->nlayers; i++) {
		const struct layer *q = &n->l[i];
		size_t e = layer_elems(q), in = (size_t)q->ic * q->ih * q->iw;
		size_t col = q->type == L_CONV ? conv_col_size(q->ic, q->k, q->oh, q->ow) : 0;
		n->maxact = e > n->maxact ? e : n->maxact;
		n->maxact = in > n->maxact ? in : n->maxact;
		n->maxcol = col > n->maxcol ? col : n->maxcol;
	}
	n->nparams = np;
	n->nstats = ns;
	table(n);
	n->params = ecalloc(np, sizeof(float));
	n->grads = ecalloc(np, sizeof(float));
	n->m = ecalloc(np, sizeof(float));
	n->v = ecalloc(np, sizeof(float));
	n->stats = ecalloc(ns ? ns : 1, sizeof(float));
	/* batch statistics of the last training forward, laid out like stats */
	n->mean = ecalloc(ns ? ns : 1, sizeof(float));
	n->rstd = ecalloc(ns ? ns : 1, sizeof(float));
	*err = NULL;
	return n;
fail:
	free(n);
	return NULL;
}

static void
free_acts(struct net *n)
{
	if (!n->z)
		return;
	for (int i = 0; i < n->nlayers; i++) {
		free(n->z[i]);
		free(n->a[i]);
		free(n->idx[i]);
		free(n->mask[i]);
	}
	free(n->z);
	free(n->a);
	free(n->idx);
	free(n->mask);
	for (int j = 0; j < n->nbranch; j++) {
		free(n->cz[j]);
		free(n->ca[j]);
	}
	free(n->cd1);
	free(n->cd2);
	free(n->cmask);
	free(n->col);
	free(n->fused);
	free(n->probs);
	free(n->d1);
	free(n->d2);
	n->z = NULL;
}

void
net_free(struct net *n)
{
	if (!n)
		return;
	free_acts(n);
	free(n->params);
	free(n->grads);
	free(n->m);
	free(n->v);
	free(n->stats);
	free(n->mean);
	free(n->rstd);
	free(n);
}

void
net_init(struct net *n, uint64_t seed)
{
	struct rng g;

	rng_seed(&g, seed, "he-init");
	memset(n->params, 0, n->nparams * sizeof(float));
	memset(n->stats, 0, n->nstats * sizeof(float));
	/* He: weights ~ N(0, 2 / fan-in), drawn in the table's order;
	 * batch norm starts as the identity */
	for (int i = 0; i < n->ntensors; i++) {
		const struct ptensor *t = &n->pt[i];
		float *v = ptensor_data(n, t);
		if (t->kind == P_WEIGHT) {
			float sd = sqrtf(2.0f / (float)(t->count / t->shape[0]));
			for (size_t j = 0; j < t->count; j++)
				v[j] = sd * (float)rng_normal(&g);
		} else if (t->kind == P_GAMMA || t->kind == P_VAR)
			for (size_t j = 0; j < t->count; j++)
				v[j] = 1;
	}
}


void
net_reserve(struct net *n, int b)
{
	net_reserve_from(n, b, 0);
}

void
net_reserve_from(struct net *n, int b, int from)
{
	/* from the layer whose output layer `from` reads */
	int first = from > 0 ? from - 1 : 0;
	size_t big = 0;

	if (n->z && b <= n->maxb && first >= n->first)
		return;
	free_acts(n);
	n->maxb = b;
	n->first = first;
	n->z = ecalloc(n->nlayers, sizeof *n->z);
	n->a = ecalloc(n->nlayers, sizeof *n->a);
	n->idx = ecalloc(n->nlayers, sizeof *n->idx);
	n->mask = ecalloc(n->nlayers, sizeof *n->mask);
	for (int i = first; i < n->nlayers; i++) {
		struct layer *l = &n->l[i];
		size_t e = layer_elems(l), in = (size_t)l->ic * l->ih * l->iw;
		big = e > big ? e : big;
		big = in > big ? in : big;
		if (i < from) {
			n->a[i] = emalloc((size_t)b * e * sizeof(float));
			continue;
		}
		if (l->type == L_CONV || l->type == L_DENSE || l->type == L_CLASSIFIER)
			n->z[i] = emalloc((size_t)b * e * sizeof(float));
		if (l->type != L_CLASSIFIER)
			n->a[i] = emalloc((size_t)b * e * sizeof(float));
		if (l->type == L_POOL)
			n->idx[i] = emalloc((size_t)b * e * sizeof(int32_t));
		if (l->type == L_DROPOUT)
			n->mask[i] = emalloc((size_t)b * e * sizeof(float));
	}
	n->col = emalloc((first == 0 && n->maxcol ? n->maxcol : 1) * sizeof(float));
	n->fused = emalloc((size_t)b * n->l[n->fuse_at].ic * sizeof(float));
	int wide = n->nclin;
	for (int j = 0; j < n->nbranch; j++) {
		n->cz[j] = emalloc((size_t)b * n->cl[j].oc * sizeof(float));
		n->ca[j] = emalloc((size_t)b * n->cl[j].oc * sizeof(float));
		wide = n->cl[j].oc > wide ? n->cl[j].oc : wide;
	}
	n->cmask = emalloc((size_t)b * sizeof(float));
	n->cd1 = emalloc((size_t)b * (wide ? wide : 1) * sizeof(float));
	n->cd2 = emalloc((size_t)b * (wide ? wide : 1) * sizeof(float));
	n->probs = emalloc((size_t)b * n->nclasses * sizeof(float));
	/* three gradient buffers in one: the current, the previous, a scratch */
	n->dmax = first == 0 ? n->maxact : big;
	n->d1 = emalloc((size_t)b * n->dmax * sizeof(float));
	n->d2 = emalloc(2 * (size_t)b * n->dmax * sizeof(float));
}

/* the input of layer i for this batch */
static const float *
layer_input(const struct net *n, int i, const float *x)
{
	if (i == n->fuse_at)
		return n->fused;
	return i == 0 ? x : n->a[i - 1];
}

/* which records keep their clinical values: dropout's draws (the same on
 * every backend), 1 kept and 0 hidden, not rescaled, since inference sees
 * every record's */
void
clin_keep(float *keep, int b, float p, struct rng *g)
{
	dropout_mask(keep, (size_t)b, p, g);
	for (int j = 0; j < b; j++)
		keep[j] = keep[j] > 0;
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
net_forward(struct net *n, const float *x, const float *clin, int b, int train, struct rng *g)
{
	net_reserve(n, b);
	net_forward_from(n, 0, x, clin, b, train, g);
}

void
net_forward_from(struct net *n, int from, const float *x, const float *clin, int b, int train,
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
			relu_forward(n->a[i], n->a[i], e);
			break;
		case L_POOL:
			maxpool_forward(n->a[i], n->idx[i], in, b, l->ic, l->ih, l->iw);
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
net_loss(struct net *n, const int32_t *labels, const float *weights, int b)
{
	return softmax_xent_forward(n->probs, n->z[n->nlayers - 1], labels, weights, b, n->nclasses);
}

void
net_zero_grads(struct net *n)
{
	memset(n->grads, 0, n->nparams * sizeof(float));
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

	for (int i = n->nlayers - 1; i > stop; i--) {
		struct layer *l = &n->l[i];
		const float *in = layer_input(n, i, x);
		size_t e = (size_t)b * layer_elems(l);
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
		case L_GAP:
			gap_backward(dprev, dcur, b * l->ic, l->ih * l->iw);
			break;
		case L_CLIN:
			break;
		case L_CONV:
			/* batch statistics: only after a training forward */
			relu_backward(scratch, dcur, n->a[i], e);
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
net_backward(struct net *n, const float *x, const int32_t *labels, const float *weights, int b)
{
	net_backward_to(n, x, labels, weights, b, -1);
}

const float *
net_backward_to(struct net *n, const float *x, const int32_t *labels, const float *weights, int b,
                int stop)
{
	softmax_xent_backward(n->d1, n->probs, labels, weights, b, n->nclasses);
	return backprop(n, x, n->d1, b, stop, 1);
}

void
net_adam(struct net *n, float lr, float beta1, float beta2, float eps, float wd, int t)
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
net_last_conv(const struct net *n)
{
	for (int i = n->fuse_at - 1; i >= 0; i--)
		if (n->l[i].type == L_CONV)
			return i;
	return -1;
}

int
net_gradcam(struct net *n, const int *cls, int b, float *cam)
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

void
net_describe(const struct net *n, void (*line)(const char *))
{
	static const char *const names[] = { "conv", "pool", "dense", "dropout", "classifier", "gap", "clin" };
	char buf[256];

	for (int i = 0; i < n->nlayers; i++) {
		const struct layer *l = &n->l[i];
		for (int j = 0; i == n->fuse_at && j < n->nbranch; j++) {
			const struct layer *c = &n->cl[j];
			snprintf(buf, sizeof buf, "C%d clin       dense +relu on %d clinical -> %d, %zu parameters", j + 1,
			         c->ic, c->oc, c->pcount);
			line(buf);
		}
		int k = snprintf(buf, sizeof buf, "%2d %-10s", i + 1, names[l->type]);
		if (l->type == L_CONV)
			k += snprintf(buf + k, sizeof buf - k, " %dx%d/%d +bn +relu", l->k, l->k, l->stride);
		if (l->type == L_DROPOUT)
			k += snprintf(buf + k, sizeof buf - k, " p=%.2f", l->p);
		if (i == n->fuse_at)
			k += snprintf(buf + k, sizeof buf - k, " fusing %d clinical", n->kfuse);
		snprintf(buf + k, sizeof buf - k, " -> %dx%dx%d, %zu parameters", l->oc, l->oh, l->ow, l->pcount);
		line(buf);
	}
}
