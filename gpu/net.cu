/*
 * net.cu - the network of engine/spec/net.h on the device: net.c's forward and
 * backward passes with gnn.h's layers, and the batches that feed them.
 *
 * A convolution followed by a pool is one block: batch norm, ReLU and the
 * pool in one pass over the convolution's output, whose normalised values
 * are never stored (the backward pass recomputes them from the
 * convolution's output and the batch statistics).  That halves the memory
 * traffic of the layers that dominate it.  Residual networks as net.c
 * runs them: a route copies its layer's output, an add is relu(input +
 * shortcut), and backward sends each its gradient through a skip buffer
 * of the layer read, added when the walk reaches that layer.
 */
#include <cstring>

#include "check.h"
#include "gnn.h"
#include "gpu.h"

extern "C" {
#include "engine/spec/net.h"
}

extern "C" cudaStream_t gnn_stream(void);

#define MAXSETS 4
/* im2col scratch, in floats, beyond one image's */
#define COL_BUDGET ((size_t)1 << 26)

struct gset {
	const float *hx, *hclin;
	const int32_t *hy;
	int resident;
	float *x, *clin;         /* on the device when resident */
	int32_t *y;
};

/* a staged batch: the rows of a resident set, or a copy of the batch */
struct slot {
	int set, b;
	int32_t *hrows, *rows;   /* pinned, device */
	float *hx, *hclin;       /* pinned */
	int32_t *hy;             /* pinned: the labels, for the host too */
	float *x, *clin;         /* device */
	int32_t *y;
	cudaEvent_t staged, freed;
};

struct gnet {
	struct net *n;
	int dev, maxb;
	size_t px;
	float *params, *grads, *m, *v, *stats, *mean, *rstd;
	float *z[NET_MAXLAYERS], *a[NET_MAXLAYERS], *mask[NET_MAXLAYERS];
	float *skip[NET_MAXLAYERS];     /* gradients routes and adds send a layer, or NULL */
	uint8_t *idx[NET_MAXLAYERS];
	int32_t *kidx[NET_MAXLAYERS];   /* maxpool:K:S's winners, as nn.h keeps them */
	int fused_pool[NET_MAXLAYERS];  /* conv i does layer i+1's pool */
	float *col, *fusedbuf, *probs, *d1, *d2, *scratch, *out;
	float *cz[NET_MAXCLIN], *ca[NET_MAXCLIN], *cd1, *cd2;  /* the clinical branch, (B, units) */
	float *ckeep;            /* (B) the records whose clinical values a training forward kept */
	size_t colbudget;
	double *part, *wsum;
	float *loss, *weights;
	float *x, *clin;         /* the batch in the network's layout */
	int32_t *y;
	float *hmask, *hprobs, *hloss, *hweights;
	int probs_held;          /* hprobs holds the last forward's probabilities */
	cudaEvent_t masks_sent;  /* the last forward's dropout masks have left hmask */
	int have_weights;
	struct gset set[MAXSETS];
	int nsets;
	struct slot slot[2];
	int staged, cur;         /* slot staged last, slot forwarded last */
	cudaStream_t copy;
};

/* page-locked host memory, so copies to the device can overlap compute */
static void *
pinned(size_t bytes)
{
	void *p = NULL;
	cudaError_t e = cudaMallocHost(&p, bytes ? bytes : 1);

	if (e == cudaErrorMemoryAllocation)
		die(EX_OSERR, "cudaMallocHost: out of page-locked host memory (%.1f MiB wanted); try a smaller --batch",
		    bytes / 1048576.0);
	cuda_check(e, "cudaMallocHost", __FILE__, __LINE__);
	return p;
}

extern "C" struct gnet *
gnet_open(struct net *n, int dev, int tf32, int maxb, int keep)
{
	struct gnet *g = (struct gnet *)ecalloc(1, sizeof *g);
	size_t np = n->nparams * sizeof(float), ns = (n->nstats ? n->nstats : 1) * sizeof(float);
	size_t parts = 1, masks = 0, acts = (size_t)maxb * n->maxact * sizeof(float);

	gnn_open(dev, tf32);
	g->n = n;
	g->dev = dev;
	g->maxb = maxb;
	g->px = (size_t)n->c * n->h * n->w;
	g->params = (float *)gnn_alloc(np, "the weights");
	g->grads = (float *)gnn_alloc(np, "the gradients");
	g->m = (float *)gnn_alloc(np, "Adam's moments");
	g->v = (float *)gnn_alloc(np, "Adam's moments");
	g->stats = (float *)gnn_alloc(ns, "the running statistics");
	g->mean = (float *)gnn_alloc(ns, "the batch statistics");
	g->rstd = (float *)gnn_alloc(ns, "the batch statistics");
	gnn_put(g->params, n->params, np);
	gnn_put(g->m, n->m, np);
	gnn_put(g->v, n->v, np);
	gnn_put(g->stats, n->stats, n->nstats * sizeof(float));
	for (int i = 0; i < n->nlayers; i++) {
		struct layer *l = &n->l[i];
		size_t e = layer_elems(l), be = (size_t)maxb * e * sizeof(float);
		g->fused_pool[i] = !keep && l->type == L_CONV && i + 1 < n->nlayers && n->l[i + 1].type == L_POOL;
		if (l->type == L_CONV || l->type == L_CBN || l->type == L_DENSE || l->type == L_CLASSIFIER)
			g->z[i] = (float *)gnn_alloc(be, "activations");
		if (l->type == L_MAXPOOL)
			g->kidx[i] = (int32_t *)gnn_alloc((size_t)maxb * e * sizeof(int32_t), "pool indices");
		if ((l->type == L_ROUTE || l->type == L_ADD) && !g->skip[l->ref])
			g->skip[l->ref] = (float *)gnn_alloc((size_t)maxb * layer_elems(&n->l[l->ref]) * sizeof(float),
			                                     "shortcut gradients");
		if (l->type != L_CLASSIFIER && !g->fused_pool[i])
			g->a[i] = (float *)gnn_alloc(be, "activations");
		if (l->type == L_POOL)
			g->idx[i] = (uint8_t *)gnn_alloc((size_t)maxb * e, "pool indices");
		if (l->type == L_DROPOUT) {
			g->mask[i] = (float *)gnn_alloc(be, "dropout masks");
			masks += (size_t)maxb * e;
		}
		if (l->type == L_CONV || l->type == L_CBN) {
			size_t p = gnn_bn_parts(l->oc, (size_t)maxb * l->oh * l->ow);
			parts = p > parts ? p : parts;
		}
	}
	/* one image's im2col at least; the whole batch's when it is small */
	size_t col = n->maxcol;
	g->colbudget = col * maxb < COL_BUDGET ? col * maxb : col > COL_BUDGET ? col : COL_BUDGET;
	g->col = (float *)gnn_alloc(g->colbudget * sizeof(float), "im2col scratch");
	g->part = (double *)gnn_alloc(parts * sizeof(double), "reduction scratch");
	g->fusedbuf = (float *)gnn_alloc((size_t)maxb * n->l[n->fuse_at].ic * sizeof(float), "the fusion layer");
	int wide = 1;
	for (int j = 0; j < n->nbranch; j++) {
		size_t be = (size_t)maxb * n->cl[j].oc * sizeof(float);
		g->cz[j] = (float *)gnn_alloc(be, "the clinical branch");
		g->ca[j] = (float *)gnn_alloc(be, "the clinical branch");
		wide = n->cl[j].oc > wide ? n->cl[j].oc : wide;
	}
	g->cd1 = (float *)gnn_alloc((size_t)maxb * wide * sizeof(float), "the clinical branch");
	g->cd2 = (float *)gnn_alloc((size_t)maxb * wide * sizeof(float), "the clinical branch");
	g->ckeep = (float *)gnn_alloc((size_t)maxb * sizeof(float), "the clinical branch");
	masks += maxb;           /* the host's draws of ckeep go through hmask too */
	g->probs = (float *)gnn_alloc((size_t)maxb * n->nclasses * sizeof(float), "probabilities");
	g->d1 = (float *)gnn_alloc(acts, "gradients");
	g->d2 = (float *)gnn_alloc(acts, "gradients");
	g->scratch = (float *)gnn_alloc(acts, "gradients");
	if (keep)
		g->out = (float *)gnn_alloc(acts, "activations for the host");
	g->x = (float *)gnn_alloc((size_t)maxb * g->px * sizeof(float), "the batch");
	g->clin = (float *)gnn_alloc((size_t)maxb * (n->nclin ? n->nclin : 1) * sizeof(float), "the batch");
	g->y = (int32_t *)gnn_alloc((size_t)maxb * sizeof(int32_t), "the batch");
	g->loss = (float *)gnn_alloc(sizeof(float), "the loss");
	g->wsum = (double *)gnn_alloc(sizeof(double), "the loss");
	g->weights = (float *)gnn_alloc((size_t)n->nclasses * sizeof(float), "class weights");
	g->hmask = (float *)pinned(masks * sizeof(float));
	g->hprobs = (float *)pinned((size_t)maxb * n->nclasses * sizeof(float));
	g->hloss = (float *)pinned(sizeof(float));
	g->hweights = (float *)pinned((size_t)n->nclasses * sizeof(float));
	CUDA(cudaStreamCreateWithFlags(&g->copy, cudaStreamNonBlocking));
	CUDA(cudaEventCreateWithFlags(&g->masks_sent, cudaEventDisableTiming));
	for (int k = 0; k < 2; k++) {
		struct slot *s = &g->slot[k];
		s->set = -1;
		s->hrows = (int32_t *)pinned((size_t)maxb * sizeof(int32_t));
		s->rows = (int32_t *)gnn_alloc((size_t)maxb * sizeof(int32_t), "the batch's rows");
		CUDA(cudaEventCreateWithFlags(&s->staged, cudaEventDisableTiming));
		CUDA(cudaEventCreateWithFlags(&s->freed, cudaEventDisableTiming));
	}
	g->staged = g->cur = -1;
	return g;
}

/* the staging buffers of a set that is not resident: made on first use */
static void
slot_buffers(struct gnet *g, struct slot *s)
{
	int K = g->n->nclin ? g->n->nclin : 1;

	if (s->hx)
		return;
	s->hx = (float *)pinned((size_t)g->maxb * g->px * sizeof(float));
	s->hclin = (float *)pinned((size_t)g->maxb * K * sizeof(float));
	s->x = (float *)gnn_alloc((size_t)g->maxb * g->px * sizeof(float), "a staged batch");
	s->clin = (float *)gnn_alloc((size_t)g->maxb * K * sizeof(float), "a staged batch");
	s->y = (int32_t *)gnn_alloc((size_t)g->maxb * sizeof(int32_t), "a staged batch");
}

extern "C" void
gnet_close(struct gnet *g)
{
	/* the process ends soon after; the driver frees the device's memory,
	 * but a failed kernel should still be reported rather than lost */
	if (g)
		gnn_sync();
}

extern "C" int
gnet_dataset(struct gnet *g, const float *x, const float *clin, const int32_t *y, int n, int resident)
{
	int K = g->n->nclin;
	size_t bytes = (size_t)n * (g->px + K) * sizeof(float) + (size_t)n * sizeof(int32_t);

	if (g->nsets == MAXSETS)
		die(EX_SOFTWARE, "gnet_dataset: more than %d datasets", MAXSETS);
	struct gset *s = &g->set[g->nsets];
	s->hx = x;
	s->hclin = clin;
	s->hy = y;
	s->resident = resident && bytes <= gnn_free_memory() / 2;
	if (s->resident) {
		s->x = (float *)gnn_alloc((size_t)n * g->px * sizeof(float), "a dataset");
		s->clin = (float *)gnn_alloc((size_t)n * (K ? K : 1) * sizeof(float), "a dataset");
		s->y = (int32_t *)gnn_alloc((size_t)n * sizeof(int32_t), "a dataset");
		gnn_put(s->x, x, (size_t)n * g->px * sizeof(float));
		if (K)
			gnn_put(s->clin, clin, (size_t)n * K * sizeof(float));
		if (y)
			gnn_put(s->y, y, (size_t)n * sizeof(int32_t));
		info("cuda:%d: %d images on the device (%.1f MiB)", g->dev, n, bytes / 1048576.0);
	} else if (resident)
		info("cuda:%d: %d images (%.1f MiB) do not fit; each batch is copied as it is needed", g->dev,
		     n, bytes / 1048576.0);
	return g->nsets++;
}

extern "C" void
gnet_stage(struct gnet *g, int set, const int *rows, int b)
{
	int k = (g->staged + 1) % 2, K = g->n->nclin;
	struct slot *s = &g->slot[k];
	const struct gset *d = &g->set[set];

	if (b < 1 || b > g->maxb)
		die(EX_SOFTWARE, "gnet_stage: a batch of %d (1 to %d)", b, g->maxb);
	/* the host side of this slot was last read by a copy two stages ago */
	CUDA(cudaEventSynchronize(s->staged));
	s->set = set;
	s->b = b;
	if (!s->hy)
		s->hy = (int32_t *)pinned((size_t)g->maxb * sizeof(int32_t));
	for (int j = 0; j < b; j++) {
		s->hrows[j] = rows ? rows[j] : j;
		if (d->hy)
			s->hy[j] = d->hy[s->hrows[j]];
	}
	/* and the device side by the forward pass that used it */
	CUDA(cudaStreamWaitEvent(g->copy, s->freed, 0));
	if (d->resident)
		CUDA(cudaMemcpyAsync(s->rows, s->hrows, (size_t)b * sizeof(int32_t), cudaMemcpyHostToDevice, g->copy));
	else {
		slot_buffers(g, s);
		for (int j = 0; j < b; j++) {
			size_t r = (size_t)s->hrows[j];
			memcpy(s->hx + j * g->px, d->hx + r * g->px, g->px * sizeof(float));
			if (K)
				memcpy(s->hclin + (size_t)j * K, d->hclin + r * K, (size_t)K * sizeof(float));
		}
		CUDA(cudaMemcpyAsync(s->x, s->hx, (size_t)b * g->px * sizeof(float), cudaMemcpyHostToDevice, g->copy));
		if (K)
			CUDA(cudaMemcpyAsync(s->clin, s->hclin, (size_t)b * K * sizeof(float), cudaMemcpyHostToDevice, g->copy));
		if (d->hy)
			CUDA(cudaMemcpyAsync(s->y, s->hy, (size_t)b * sizeof(int32_t), cudaMemcpyHostToDevice, g->copy));
	}
	CUDA(cudaEventRecord(s->staged, g->copy));
	g->staged = k;
}

/* the staged batch into the network's layout */
static int
take_batch(struct gnet *g)
{
	struct slot *s = &g->slot[g->staged];
	const struct gset *d = &g->set[s->set];
	cudaStream_t cs = gnn_stream();
	int b = s->b, K = g->n->nclin;

	CUDA(cudaStreamWaitEvent(cs, s->staged, 0));
	if (d->resident) {
		gnn_gather(g->x, d->x, s->rows, b, g->n->c, g->n->h * g->n->w);
		gnn_gather_rows(g->clin, d->clin, d->hy ? g->y : NULL, d->y, s->rows, b, K);
	} else {
		gnn_gather(g->x, s->x, NULL, b, g->n->c, g->n->h * g->n->w);
		gnn_gather_rows(g->clin, s->clin, d->hy ? g->y : NULL, s->y, NULL, b, K);
	}
	CUDA(cudaEventRecord(s->freed, cs));
	g->cur = g->staged;
	return b;
}

static const float *
layer_input(const struct gnet *g, int i)
{
	if (i == g->n->fuse_at)
		return g->fusedbuf;
	return i == 0 ? g->x : g->a[i - 1];
}

/* a layer's output as (C, HW) planes: before the fusion layer images,
 * after it rows of features */
static void
planes(const struct net *n, int i, int *C, int *HW)
{
	const struct layer *l = &n->l[i];

	*C = i < n->fuse_at ? l->oc : 1;
	*HW = i < n->fuse_at ? l->oh * l->ow : l->oc;
}

extern "C" void
gnet_forward(struct gnet *g, int train, struct rng *rng)
{
	struct net *n = g->n;
	cudaStream_t cs = gnn_stream();
	float *hmask = g->hmask;
	int b = take_batch(g);

	g->probs_held = 0;
	CUDA(cudaEventSynchronize(g->masks_sent));
	for (int i = 0; i < n->nlayers; i++) {
		struct layer *l = &n->l[i];
		size_t e = (size_t)b * layer_elems(l);
		int C, HW;
		if (i == n->fuse_at) {
			const float *img = i == 0 ? g->x : g->a[i - 1], *cv = g->clin;
			int ic = i == 0 ? n->c : n->l[i - 1].oc, ihw = i == 0 ? n->h * n->w : n->l[i - 1].oh * n->l[i - 1].ow;
			for (int j = 0; j < n->nbranch; j++) {
				const struct layer *c = &n->cl[j];
				gdense_forward(g->cz[j], g->ca[j], cv, g->params + c->w, g->params + c->b, b, c->ic, c->oc);
				cv = g->ca[j];
			}
			gfuse_forward(g->fusedbuf, img, cv, ic, b, ihw, n->kfuse);
			if (train && n->clin_drop > 0 && n->kfuse) {
				/* drawn on the host in layer order, as net.c draws them */
				clin_keep(hmask, b, n->clin_drop, rng);
				CUDA(cudaMemcpyAsync(g->ckeep, hmask, (size_t)b * sizeof(float), cudaMemcpyHostToDevice, cs));
				gfuse_hide(g->fusedbuf, g->ckeep, ic * ihw, b, n->kfuse);
				hmask += b;
			}
		}
		const float *in = layer_input(g, i);
		const float *P = g->params;
		planes(n, i, &C, &HW);
		switch (l->type) {
		case L_CONV:
		case L_CBN: {
			int fp = g->fused_pool[i];
			gconv_forward(g->z[i], in, P + l->w, g->col, g->colbudget, b, l->ic, l->ih, l->iw, l->oc, l->k,
			              l->stride, l->pad);
			gbn_relu_forward(fp ? g->a[i + 1] : g->a[i], fp ? g->idx[i + 1] : NULL, g->z[i], g->mean + l->rmean,
			                 g->rstd + l->rmean, P + l->gamma, P + l->beta, g->stats + l->rmean,
			                 g->stats + l->rvar, g->part, train, NET_BN_MOMENTUM, NET_BN_EPS, l->oc, b, l->oh,
			                 l->ow, fp, l->type == L_CONV);
			break;
		}
		case L_ROUTE:
			CUDA(cudaMemcpyAsync(g->a[i], g->a[l->ref], e * sizeof(float), cudaMemcpyDeviceToDevice, cs));
			break;
		case L_ADD:
			gadd_relu(g->a[i], in, g->a[l->ref], e);
			break;
		case L_MAXPOOL:
			gmaxpoolk_forward(g->a[i], g->kidx[i], in, l->ic * b, l->ih, l->iw, l->k, l->stride, l->pad, l->oh,
			                  l->ow);
			break;
		case L_AVGPOOL:
			gavgpoolk_forward(g->a[i], in, l->ic * b, l->ih, l->iw, l->k, l->stride, l->pad, l->oh, l->ow);
			break;
		case L_POOL:
			if (i == 0 || !g->fused_pool[i - 1])
				gmaxpool_forward(g->a[i], g->idx[i], in, l->ic * b, l->ih, l->iw);
			break;
		case L_GAP:
			ggap_forward(g->a[i], in, l->ic * b, l->ih * l->iw);
			break;
		case L_DENSE:
			gdense_forward(g->z[i], g->a[i], in, P + l->w, P + l->b, b, l->ic, l->oc);
			break;
		case L_CLIN:
			break;
		case L_DROPOUT:
			if (train && l->p > 0) {
				/* drawn on the host, in net.c's order, so both backends drop the same units */
				dropout_mask(hmask, e, l->p, rng);
				CUDA(cudaMemcpyAsync(g->mask[i], hmask, e * sizeof(float), cudaMemcpyHostToDevice, cs));
				gdropout(g->a[i], in, g->mask[i], C, b, HW);
				hmask += e;
			} else
				CUDA(cudaMemcpyAsync(g->a[i], in, e * sizeof(float), cudaMemcpyDeviceToDevice, cs));
			break;
		case L_CLASSIFIER:
			CUDA(cudaEventRecord(g->masks_sent, cs));
			gdense_forward(g->z[i], NULL, in, P + l->w, P + l->b, b, l->ic, l->oc);
			gsoftmax(g->probs, g->z[i], b, l->oc);
			break;
		}
	}
}

extern "C" const int32_t *
gnet_labels(struct gnet *g)
{
	return g->slot[g->cur].hy;
}

static const float *
class_weights(struct gnet *g, const float *w)
{
	size_t bytes = (size_t)g->n->nclasses * sizeof(float);

	if (!w)
		return NULL;
	if (!g->have_weights || memcmp(g->hweights, w, bytes)) {
		memcpy(g->hweights, w, bytes);
		gnn_put(g->weights, g->hweights, bytes);
		g->have_weights = 1;
	}
	return g->weights;
}

extern "C" float
gnet_loss(struct gnet *g, const float *weights)
{
	struct net *n = g->n;
	int b = g->slot[g->cur].b;

	gxent_forward(g->loss, g->wsum, g->z[n->nlayers - 1], g->y, class_weights(g, weights), b, n->nclasses);
	CUDA(cudaMemcpyAsync(g->hloss, g->loss, sizeof(float), cudaMemcpyDeviceToHost, gnn_stream()));
	/* the probabilities come back in the same round trip: training reads both */
	CUDA(cudaMemcpyAsync(g->hprobs, g->probs, (size_t)b * n->nclasses * sizeof(float), cudaMemcpyDeviceToHost,
	                     gnn_stream()));
	gnn_sync();
	g->probs_held = 1;
	return *g->hloss;
}

/* the clinical branch's parameter gradients from dfused (B, fusion layer's
 * ic), as net.c's branch_backward */
static void
branch_backward(struct gnet *g, float *dfused, int b)
{
	struct net *n = g->n;
	int f = n->l[n->fuse_at].ic - n->kfuse;
	float *dcur = g->cd1, *dz = g->cd2;

	if (n->clin_drop > 0)
		gfuse_hide(dfused, g->ckeep, f, b, n->kfuse);
	gfuse_clin_backward(dcur, dfused, f, b, n->kfuse);
	for (int k = n->nbranch - 1; k >= 0; k--) {
		const struct layer *c = &n->cl[k];
		grelu_backward(dz, dcur, g->ca[k], (size_t)b * c->oc);
		gdense_backward(k ? dcur : NULL, g->grads + c->w, g->grads + c->b, dz, k ? g->ca[k - 1] : g->clin,
		                g->params + c->w, b, c->ic, c->oc);
	}
}

extern "C" void
gnet_backward(struct gnet *g, const float *weights)
{
	struct net *n = g->n;
	cudaStream_t cs = gnn_stream();
	int b = g->slot[g->cur].b;
	float *dcur = g->d1, *dprev = g->d2, *G = g->grads;
	const float *P = g->params;

	gnn_zero(g->grads, n->nparams * sizeof(float));
	for (int i = 0; i < n->nlayers; i++)
		if (g->skip[i])
			gnn_zero(g->skip[i], (size_t)b * layer_elems(&n->l[i]) * sizeof(float));
	gxent_backward(dcur, g->probs, g->y, class_weights(g, weights), g->wsum, b, n->nclasses);
	for (int i = n->nlayers - 1; i >= 0; i--) {
		struct layer *l = &n->l[i];
		const float *in = layer_input(g, i);
		size_t e = (size_t)b * layer_elems(l);
		/* what the routes and adds that read this layer sent back */
		if (g->skip[i])
			gnn_add(dcur, g->skip[i], e);
		/* the first layer's input gradient is not needed, unless the
		 * clinical branch's part of it is */
		float *dinp = i == 0 && !(i == n->fuse_at && n->nbranch) ? NULL : dprev;
		int C, HW, swap = 1;
		planes(n, i, &C, &HW);
		switch (l->type) {
		case L_CLASSIFIER:
			gdense_backward(dinp, G + l->w, G + l->b, dcur, in, P + l->w, b, l->ic, l->oc);
			break;
		case L_DENSE:
			grelu_backward(g->scratch, dcur, g->a[i], e);
			gdense_backward(dinp, G + l->w, G + l->b, g->scratch, in, P + l->w, b, l->ic, l->oc);
			break;
		case L_DROPOUT:
			if (l->p > 0)
				gdropout(dprev, dcur, g->mask[i], C, b, HW);
			else
				CUDA(cudaMemcpyAsync(dprev, dcur, e * sizeof(float), cudaMemcpyDeviceToDevice, cs));
			break;
		case L_GAP:
			ggap_backward(dprev, dcur, l->ic * b, l->ih * l->iw);
			break;
		case L_CLIN:
			break;
		case L_ROUTE:
			/* all of it to the layer routed, none to the one before */
			gnn_add(g->skip[l->ref], dcur, e);
			gnn_zero(dprev, (size_t)b * l->ic * l->ih * l->iw * sizeof(float));
			break;
		case L_ADD:
			grelu_backward(dprev, dcur, g->a[i], e);
			gnn_add(g->skip[l->ref], dprev, e);
			break;
		case L_MAXPOOL:
			gmaxpoolk_backward(dprev, dcur, g->kidx[i], l->ic * b, l->ih, l->iw, l->k, l->stride, l->pad, l->oh,
			                   l->ow);
			break;
		case L_AVGPOOL:
			gavgpoolk_backward(dprev, dcur, l->ic * b, l->ih, l->iw, l->k, l->stride, l->pad, l->oh, l->ow);
			break;
		case L_POOL:
			/* a pool done by the conv below passes its gradient down as it is */
			if (i > 0 && g->fused_pool[i - 1])
				swap = 0;
			else
				gmaxpool_backward(dprev, dcur, g->idx[i], l->ic * b, l->ih, l->iw);
			break;
		case L_CONV:
		case L_CBN: {
			int fp = g->fused_pool[i];
			gbn_relu_backward(g->scratch, G + l->gamma, G + l->beta, dcur, fp ? g->idx[i + 1] : NULL, g->z[i],
			                  g->mean + l->rmean, g->rstd + l->rmean, P + l->gamma, P + l->beta, g->part,
			                  l->oc, b, l->oh, l->ow, l->type == L_CONV);
			gconv_backward(dinp, G + l->w, g->scratch, in, P + l->w, g->col, g->colbudget, b, l->ic, l->ih,
			               l->iw, l->oc, l->k, l->stride, l->pad);
			break;
		}
		}
		if (i == n->fuse_at && n->nbranch)
			branch_backward(g, dinp, b);
		if (i == 0)
			break;
		if (swap) {
			float *t = dcur;
			dcur = dprev;
			dprev = t;
		}
		if (i == n->fuse_at) {
			/* the image features' part of the fused gradient, as planes again */
			const struct layer *p = &n->l[i - 1];
			gfuse_backward(dprev, dcur, p->oc, b, p->oh * p->ow, n->kfuse);
			float *t = dcur;
			dcur = dprev;
			dprev = t;
		}
	}
}

extern "C" void
gnet_adam(struct gnet *g, float lr, float beta1, float beta2, float eps, float wd, int t)
{
	struct net *n = g->n;

	for (int i = 0; i < n->nlayers + n->nbranch; i++) {
		/* the clinical branch goes with the fusion layer it feeds, as in net.c's table */
		struct layer *l = i < n->nlayers ? &n->l[i] : &n->cl[i - n->nlayers];
		if ((i < n->nlayers ? l->frozen : n->l[n->fuse_at].frozen) || !l->pcount)
			continue;
		gadam(g->params + l->pstart, g->grads + l->pstart, g->m + l->pstart, g->v + l->pstart, l->pcount,
		      lr, beta1, beta2, eps, wd, t);
	}
}

extern "C" const float *
gnet_probs(struct gnet *g)
{
	int b = g->slot[g->cur].b;

	if (!g->probs_held) {
		CUDA(cudaMemcpyAsync(g->hprobs, g->probs, (size_t)b * g->n->nclasses * sizeof(float),
		                     cudaMemcpyDeviceToHost, gnn_stream()));
		gnn_sync();
		g->probs_held = 1;
	}
	return g->hprobs;
}

extern "C" void
gnet_fetch(struct gnet *g)
{
	struct net *n = g->n;
	int b = g->slot[g->cur].b;

	for (int i = 0; i < n->nlayers; i++) {
		struct layer *l = &n->l[i];
		size_t e = (size_t)b * layer_elems(l);
		if (g->a[i] && i < n->fuse_at) {
			gnn_to_bchw(g->out, g->a[i], l->oc, b, l->oh * l->ow);
			gnn_get(n->a[i], g->out, e * sizeof(float));
		} else if (g->a[i])
			gnn_get(n->a[i], g->a[i], e * sizeof(float));
		if (g->idx[i]) {
			gnn_pool_offsets((int32_t *)g->out, g->idx[i], l->ic, b, l->ih, l->iw);
			gnn_get(n->idx[i], g->out, e * sizeof(int32_t));
		}
		/* (maxpool's winners stay on the device: the heat map's walk back
		 * from the last convolution never reaches one) */
		if (g->z[i] && i >= n->fuse_at)
			gnn_get(n->z[i], g->z[i], e * sizeof(float));
	}
	gnn_get(n->fused, g->fusedbuf, (size_t)b * n->l[n->fuse_at].ic * sizeof(float));
	memcpy(n->probs, gnet_probs(g), (size_t)b * n->nclasses * sizeof(float));
}

extern "C" void
gnet_pull(struct gnet *g)
{
	struct net *n = g->n;
	size_t np = n->nparams * sizeof(float);

	gnn_get(n->params, g->params, np);
	gnn_get(n->m, g->m, np);
	gnn_get(n->v, g->v, np);
	gnn_get(n->stats, g->stats, n->nstats * sizeof(float));
}
