/*
 * net.c - net.h: the spec (one table of layer kinds, net.h's NET_LAYERS),
 * the parameter table in one allocation, the host's activation buffers,
 * and what every backend draws and sizes alike (dropout's masks, the
 * convolution's output size).  No layer runs here: the reference layers
 * and their walker are engine/ref/ref.c, the CPU's fast path
 * engine/cpu/dnn.c, CUDA's gpu/.
 */
#include "net.h"
#include "common/base/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- */
/* the table of kinds, from net.h */

enum argform { A_NONE, A_UNITS, A_CONV, A_PROB, A_REF, A_KS };
enum place { AT_IMAGE, AT_FEATURES, AT_ANY, AT_BRANCH, AT_END };
enum shape { S_CONV, S_HALF, S_UNITS, S_SAME, S_GLOBAL, S_CLASSES, S_ROUTE, S_WINDOW };
enum owns { O_NONE, O_CONVBN, O_DENSE };

static const struct kind {
	const char *word;
	enum argform arg;
	enum place place;
	enum shape shape;
	enum owns params;
} kinds[] = {
#define NET_ROW(kind, word, arg, place, shape, params) \
	[kind] = { word, A_##arg, AT_##place, S_##shape, O_##params },
	NET_LAYERS(NET_ROW)
#undef NET_ROW
};

const char *
layer_word(int t)
{
	return t >= 0 && t < L_NKINDS ? kinds[t].word : "?";
}

/* a kind's form for messages: its word and what its argument takes */
static const char *
usage_of(int t, char *buf, size_t len)
{
	static const char *const forms[] = { [A_NONE] = "", [A_UNITS] = ":N", [A_CONV] = ":N[:K[:S]]",
	                                      [A_PROB] = ":P", [A_REF] = ":J", [A_KS] = ":K[:S]" };

	snprintf(buf, len, "%s%s", kinds[t].word, forms[kinds[t].arg]);
	return buf;
}

/* ---------------------------------------------------------------- */
/* what every backend computes alike */

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

void
dropout_mask(float *mask, size_t n, float p, struct rng *g)
{
	float keep = 1 / (1 - p);

	for (size_t i = 0; i < n; i++)
		mask[i] = rng_uniform(g) < p ? 0 : keep;
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

/* one word of a spec, with its argument, into l (type, n, k, stride, pad, p) */
static const char *
parse_layer(const char *tok, size_t len, struct layer *l)
{
	static char msg[160];
	const char *colon = memchr(tok, ':', len);
	size_t name = colon ? (size_t)(colon - tok) : len;
	const char *arg = colon ? colon + 1 : NULL;
	size_t alen = colon ? len - name - 1 : 0;
	char form[32];
	int t;

	memset(l, 0, sizeof *l);
	for (t = 0; t < L_NKINDS; t++)
		if (kinds[t].place != AT_END && strlen(kinds[t].word) == name && !memcmp(tok, kinds[t].word, name))
			break;
	if (t == L_NKINDS) {
		int k = snprintf(msg, sizeof msg, "unknown layer (");
		for (int u = 0; u < L_NKINDS; u++)
			if (kinds[u].place != AT_END)
				k += snprintf(msg + k, sizeof msg - k, "%s%s", k > 15 ? ", " : "", usage_of(u, form, sizeof form));
		snprintf(msg + k, sizeof msg - k, ")");
		return msg;
	}
	l->type = t;
	usage_of(t, form, sizeof form);
	switch (kinds[t].arg) {
	case A_NONE:
		if (arg) {
			snprintf(msg, sizeof msg, "%s takes no argument", kinds[t].word);
			return msg;
		}
		break;
	case A_UNITS:
		if (!arg || !parse_int(arg, alen, 1, 1 << 16, &l->n)) {
			snprintf(msg, sizeof msg, "%s needs a number of units, %s", kinds[t].word, form);
			return msg;
		}
		break;
	case A_CONV: {
		/* N[:K[:S]] */
		const char *c2 = arg ? memchr(arg, ':', alen) : NULL;
		const char *c3 = c2 ? memchr(c2 + 1, ':', alen - (size_t)(c2 + 1 - arg)) : NULL;
		l->k = 3;
		l->stride = 1;
		if (!arg || !parse_int(arg, c2 ? (size_t)(c2 - arg) : alen, 1, 4096, &l->n)) {
			snprintf(msg, sizeof msg, "%s needs a number of filters, %s", kinds[t].word, form);
			return msg;
		}
		if (c2 && !parse_int(c2 + 1, c3 ? (size_t)(c3 - c2 - 1) : alen - (size_t)(c2 + 1 - arg), 1, 15, &l->k)) {
			snprintf(msg, sizeof msg, "%s kernel size must be 1 to 15", kinds[t].word);
			return msg;
		}
		if (c3 && !parse_int(c3 + 1, alen - (size_t)(c3 + 1 - arg), 1, 8, &l->stride)) {
			snprintf(msg, sizeof msg, "%s stride must be 1 to 8", kinds[t].word);
			return msg;
		}
		l->pad = l->k / 2;
		break;
	}
	case A_KS: {
		/* K[:S] */
		const char *c2 = arg ? memchr(arg, ':', alen) : NULL;
		if (!arg || !parse_int(arg, c2 ? (size_t)(c2 - arg) : alen, 1, 15, &l->k)) {
			snprintf(msg, sizeof msg, "%s needs a window of 1 to 15, %s", kinds[t].word, form);
			return msg;
		}
		l->stride = l->k;
		if (c2 && !parse_int(c2 + 1, alen - (size_t)(c2 + 1 - arg), 1, 8, &l->stride)) {
			snprintf(msg, sizeof msg, "%s stride must be 1 to 8", kinds[t].word);
			return msg;
		}
		l->pad = (l->k - 1) / 2;
		break;
	}
	case A_REF:
		/* the layer's number; net_new checks it is an earlier one */
		if (!arg || !parse_int(arg[0] == '-' ? arg + 1 : arg, arg[0] == '-' ? alen - 1 : alen, 1, NET_MAXLAYERS,
		                       &l->ref)) {
			snprintf(msg, sizeof msg, "%s needs an earlier layer, %s (its number, or -1 for the one before)",
			         kinds[t].word, form);
			return msg;
		}
		if (arg[0] == '-')
			l->ref = -l->ref;
		break;
	case A_PROB: {
		char buf[32], *end;
		if (!arg || alen >= sizeof buf) {
			snprintf(msg, sizeof msg, "%s needs a probability, %s", kinds[t].word, form);
			return msg;
		}
		memcpy(buf, arg, alen);
		buf[alen] = '\0';
		l->p = strtof(buf, &end);
		if (*end || !(l->p >= 0 && l->p < 1)) {
			snprintf(msg, sizeof msg, "%s probability must be in [0, 1)", kinds[t].word);
			return msg;
		}
		break;
	}
	}
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
	snprintf(t->name, sizeof t->name, "L%d.%.7s", (layer + 1) % 1000, what);
	t->off = off;
	t->ndim = ndim;
	t->count = 1;
	for (int d = 0; d < ndim; d++) {
		t->shape[d] = shape[d];
		t->count *= shape[d];
	}
}
/* the parameters layer l owns, at the ends of params (np) and of the
 * running statistics (ns), in the order the model file stores them */
static void
own(struct layer *l, size_t *np, size_t *ns)
{
	l->pstart = *np;
	switch (kinds[l->type].params) {
	case O_CONVBN:
		l->w = *np;
		*np += (size_t)l->oc * l->ic * l->k * l->k;
		l->gamma = *np;
		*np += l->oc;
		l->beta = *np;
		*np += l->oc;
		l->rmean = *ns;
		*ns += l->oc;
		l->rvar = *ns;
		*ns += l->oc;
		break;
	case O_DENSE:
		l->w = *np;
		*np += (size_t)l->oc * l->ic;
		l->b = *np;
		*np += l->oc;
		break;
	case O_NONE:
		break;
	}
	l->pcount = *np - l->pstart;
}

/* the table's entries for l's parameters; prefix "L3" or "C1" */
static void
entries(struct net *n, int i, const struct layer *l, const char *prefix)
{
	uint32_t oc[1] = { (uint32_t)l->oc };
	int first = n->ntensors;

	switch (kinds[l->type].params) {
	case O_CONVBN: {
		uint32_t w[4] = { (uint32_t)l->oc, (uint32_t)l->ic, (uint32_t)l->k, (uint32_t)l->k };
		entry(n, i, P_WEIGHT, "w", l->w, 4, w);
		entry(n, i, P_GAMMA, "gamma", l->gamma, 1, oc);
		entry(n, i, P_BETA, "beta", l->beta, 1, oc);
		entry(n, i, P_MEAN, "mean", l->rmean, 1, oc);
		entry(n, i, P_VAR, "var", l->rvar, 1, oc);
		break;
	}
	case O_DENSE: {
		uint32_t w[2] = { (uint32_t)l->oc, (uint32_t)l->ic };
		entry(n, i, P_WEIGHT, "w", l->w, 2, w);
		entry(n, i, P_BIAS, "b", l->b, 1, oc);
		break;
	}
	case O_NONE:
		break;
	}
	for (int t = first; prefix && t < n->ntensors; t++) {
		struct ptensor *p = &n->pt[t];
		char what[8];
		snprintf(what, sizeof what, "%s", strchr(p->name, '.') + 1);
		snprintf(p->name, sizeof p->name, "%.7s.%.7s", prefix, what);
	}
}

/* the parameter table, from the layers' offsets */
static void
table(struct net *n)
{
	char prefix[16];

	for (int i = 0; i < n->nlayers; i++) {
		/* the clinical branch, stored with the fusion layer it feeds */
		for (int j = 0; i == n->fuse_at && j < n->nbranch; j++) {
			snprintf(prefix, sizeof prefix, "C%d", j + 1);
			entries(n, i, &n->cl[j], prefix);
		}
		entries(n, i, &n->l[i], NULL);
	}
}

/* l's output shape from its input ic x ih x iw */
static void
shape(struct layer *l, int ic, int ih, int iw, int nclasses)
{
	l->ic = ic;
	l->ih = ih;
	l->iw = iw;
	l->oc = ic;
	l->oh = ih;
	l->ow = iw;
	switch (kinds[l->type].shape) {
	case S_CONV:
		l->oc = l->n;
		l->oh = conv_out(ih, l->k, l->stride, l->pad);
		l->ow = conv_out(iw, l->k, l->stride, l->pad);
		break;
	case S_HALF:
		l->oh = ih / 2;
		l->ow = iw / 2;
		break;
	case S_UNITS:
		l->oc = l->n;
		l->oh = l->ow = 1;
		break;
	case S_GLOBAL:
		l->oh = l->ow = 1;
		break;
	case S_CLASSES:
		l->oc = nclasses;
		l->oh = l->ow = 1;
		break;
	case S_WINDOW:
		l->oh = conv_out(ih, l->k, l->stride, l->pad);
		l->ow = conv_out(iw, l->k, l->stride, l->pad);
		break;
	case S_SAME:
	case S_ROUTE:             /* net_new: the referenced layer's */
		break;
	}
}

/* one ResNet stage: n blocks of width c, the first with stride s; its
 * input has in channels.  Basic blocks (expansion 1): conv, cbn and an add
 * of the block's input, or, where the shape changes, a route back to it, a
 * 1x1 cbn projection and an add of the main path.  Bottlenecks (4): 1x1
 * conv, 3x3 conv (the stride), 1x1 cbn to 4c, then the same shortcut. */
static int
resnet_stage(struct text *t, int n, int c, int s, int in, int bottleneck)
{
	int out = bottleneck ? 4 * c : c;

	for (int b = 0; b < n; b++, s = 1, in = out) {
		int main = bottleneck ? 3 : 2;
		if (bottleneck)
			text_add(t, ",%s:%d:1,%s:%d:3:%d,%s:%d:1", layer_word(L_CONV), c, layer_word(L_CONV), c, s,
			         layer_word(L_CBN), out);
		else
			text_add(t, ",%s:%d:3:%d,%s:%d", layer_word(L_CONV), c, s, layer_word(L_CBN), out);
		if (s == 1 && in == out)
			text_add(t, ",%s:-%d", layer_word(L_ADD), main + 1);
		else
			text_add(t, ",%s:-%d,%s:%d:1:%d,%s:-3", layer_word(L_ROUTE), main + 1, layer_word(L_CBN), out, s,
			         layer_word(L_ADD));
	}
	return out;
}

const char *
net_preset(const char *spec)
{
	static const struct {
		const char *name;
		int blocks[4], bottleneck;
	} resnets[] = {
		{ "resnet18", { 2, 2, 2, 2 }, 0 },
		{ "resnet34", { 3, 4, 6, 3 }, 0 },
		{ "resnet50", { 3, 4, 6, 3 }, 1 },
	};
	static char *made[3];

	if (!strcmp(spec, "osteonet"))
		return DEFAULT_ARCH;
	for (int r = 0; r < 3; r++) {
		if (strcmp(spec, resnets[r].name))
			continue;
		if (!made[r]) {
			struct text t = { 0 };
			int in = 64;
			/* the stem: 7x7/2 and a 3x3/2 max pool */
			text_add(&t, "%s:64:7:2,%s:3:2", layer_word(L_CONV), layer_word(L_MAXPOOL));
			for (int s = 0; s < 4; s++)
				in = resnet_stage(&t, resnets[r].blocks[s], 64 << s, s ? 2 : 1, in, resnets[r].bottleneck);
			text_add(&t, ",%s", layer_word(L_GAP));
			made[r] = t.s;
		}
		return made[r];
	}
	return spec;
}

struct net *
net_new(const char *spec, int c, int h, int w, int nclin, int nclasses, const char **err)
{
	static char msg[256];
	struct net *n = ecalloc(1, sizeof *n);
	const char *p = spec = net_preset(spec);
	/* the kind that ended the image layers: the first feature layer or a
	 * global one (-1: none yet) */
	int closed = -1, kc = nclin;
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
		const struct kind *k = &kinds[l->type];
		if (k->place == AT_BRANCH) {
			/* the clinical branch: beside the image layers, not among them */
			if (n->fuse_at >= 0) {
				snprintf(msg, sizeof msg, "layer %d: %s after a %s layer", n->nlayers + 1, k->word,
				         kinds[n->l[n->fuse_at].type].word);
				*err = msg;
				goto fail;
			}
			if (nclin && n->nbranch == NET_MAXCLIN) {
				snprintf(msg, sizeof msg, "more than %d %s layers", NET_MAXCLIN, k->word);
				*err = msg;
				goto fail;
			}
			if (nclin) {
				struct layer *b = &n->cl[n->nbranch++];
				*b = *l;
				shape(b, kc, 1, 1, nclasses);
				kc = b->oc;
				own(b, &np, &ns);
			}
			if (!p[len])
				break;
			p += len + 1;
			continue;
		}
		if (k->place == AT_FEATURES && n->fuse_at < 0) {
			n->fuse_at = n->nlayers;
			if (closed < 0)
				closed = l->type;
			if ((e = flatten(&ic, ih, iw, kc))) {
				snprintf(msg, sizeof msg, "layer %d '%.*s': %s", n->nlayers + 1, (int)len, p, e);
				*err = msg;
				goto fail;
			}
			ih = iw = 1;
		}
		if (closed >= 0 && k->place == AT_IMAGE) {
			snprintf(msg, sizeof msg, "layer %d: %s after a %s layer", n->nlayers + 1, k->word,
			         kinds[n->fuse_at >= 0 ? (int)n->l[n->fuse_at].type : closed].word);
			*err = msg;
			goto fail;
		}
		if (k->shape == S_GLOBAL && closed < 0)
			closed = l->type;
		shape(l, ic, ih, iw, nclasses);
		if (k->arg == A_REF) {
			/* parse_layer's number (1-based, or counted back) as an index */
			int r = l->ref < 0 ? n->nlayers + l->ref : l->ref - 1;
			if (r < 0 || r >= n->nlayers) {
				snprintf(msg, sizeof msg, "layer %d '%.*s': no layer %d before it", n->nlayers + 1, (int)len, p,
				         l->ref < 0 ? r + 1 : l->ref);
				*err = msg;
				goto fail;
			}
			const struct layer *q = &n->l[r];
			l->ref = r;
			if (k->shape == S_ROUTE) {
				l->oc = q->oc;
				l->oh = q->oh;
				l->ow = q->ow;
			} else if (q->oc != ic || q->oh != ih || q->ow != iw) {
				snprintf(msg, sizeof msg, "layer %d '%.*s': layer %d's output is %dx%dx%d, its input %dx%dx%d",
				         n->nlayers + 1, (int)len, p, r + 1, q->oc, q->oh, q->ow, ic, ih, iw);
				*err = msg;
				goto fail;
			}
		}
		if (l->oh < 1 || l->ow < 1) {
			snprintf(msg, sizeof msg, "layer %d '%.*s': the image (%dx%d there) is too small for it",
			         n->nlayers + 1, (int)len, p, iw, ih);
			*err = msg;
			goto fail;
		}
		own(l, &np, &ns);
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
		ih = iw = 1;
	}
	shape(l, ic, ih, iw, nclasses);
	own(l, &np, &ns);
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
		size_t col = kinds[q->type].shape == S_CONV ? conv_col_size(q->ic, q->k, q->oh, q->ow) : 0;
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
		free(n->skip[i]);
	}
	free(n->skip);
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

/* ---------------------------------------------------------------- */
/* the host's activation buffers */

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
	n->skip = ecalloc(n->nlayers, sizeof *n->skip);
	for (int i = first; i < n->nlayers; i++) {
		struct layer *l = &n->l[i];
		size_t e = layer_elems(l), in = (size_t)l->ic * l->ih * l->iw;
		big = e > big ? e : big;
		big = in > big ? in : big;
		if (i < from) {
			n->a[i] = emalloc((size_t)b * e * sizeof(float));
			continue;
		}
		if (kinds[l->type].params != O_NONE)
			n->z[i] = emalloc((size_t)b * e * sizeof(float));
		if (l->type != L_CLASSIFIER)
			n->a[i] = emalloc((size_t)b * e * sizeof(float));
		if (l->type == L_POOL || l->type == L_MAXPOOL)
			n->idx[i] = emalloc((size_t)b * e * sizeof(int32_t));
		if (l->type == L_DROPOUT)
			n->mask[i] = emalloc((size_t)b * e * sizeof(float));
		if ((l->type == L_ROUTE || l->type == L_ADD) && !n->skip[l->ref])
			n->skip[l->ref] = emalloc((size_t)b * layer_elems(&n->l[l->ref]) * sizeof(float));
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

void
net_zero_grads(struct net *n)
{
	memset(n->grads, 0, n->nparams * sizeof(float));
}

int
net_residual(const struct net *n)
{
	for (int i = 0; i < n->nlayers; i++) {
		enum ltype t = n->l[i].type;
		if (t == L_CBN || t == L_ROUTE || t == L_ADD || t == L_MAXPOOL || t == L_AVGPOOL)
			return 1;
	}
	return 0;
}

int
net_last_conv(const struct net *n)
{
	for (int i = n->fuse_at - 1; i >= 0; i--)
		if (n->l[i].type == L_CONV)
			return i;
	return -1;
}

void
net_describe(const struct net *n, void (*line)(const char *))
{
	char buf[256];

	for (int i = 0; i < n->nlayers; i++) {
		const struct layer *l = &n->l[i];
		const struct kind *k = &kinds[l->type];
		for (int j = 0; i == n->fuse_at && j < n->nbranch; j++) {
			const struct layer *c = &n->cl[j];
			snprintf(buf, sizeof buf, "C%d %-10s dense +relu on %d clinical -> %d, %zu parameters", j + 1,
			         kinds[c->type].word, c->ic, c->oc, c->pcount);
			line(buf);
		}
		int at = snprintf(buf, sizeof buf, "%2d %-10s", i + 1, k->word);
		if (k->arg == A_CONV || k->arg == A_KS)
			at += snprintf(buf + at, sizeof buf - at, " %dx%d/%d", l->k, l->k, l->stride);
		if (k->params == O_CONVBN)
			at += snprintf(buf + at, sizeof buf - at, l->type == L_CONV ? " +bn +relu" : " +bn");
		if (k->arg == A_REF)
			at += snprintf(buf + at, sizeof buf - at, l->type == L_ADD ? " %d +relu" : " %d", l->ref + 1);
		if (k->arg == A_PROB)
			at += snprintf(buf + at, sizeof buf - at, " p=%.2f", l->p);
		if (i == n->fuse_at)
			at += snprintf(buf + at, sizeof buf - at, " fusing %d clinical", n->kfuse);
		snprintf(buf + at, sizeof buf - at, " -> %dx%dx%d, %zu parameters", l->oc, l->oh, l->ow, l->pcount);
		line(buf);
	}
}
