/*
 * engine.c - engine.h: the CPU's datasets and staging here, and the one
 * place that composes backends: the CPU runs oneDNN's convolution blocks
 * (engine/cpu/dnn.c) or a residual network's image layers
 * (engine/cpu/res.c) and then the reference walker (engine/ref) on what
 * follows them, or the reference walker alone; CUDA runs gpu/ whole.  Linked with
 * the GPU backend (or gpu/nogpu.c), like device.c.
 */
#include "engine.h"
#include "common/base/util.h"
#include "engine/cpu/dnn.h"
#include "engine/cpu/kern.h"
#include "engine/cpu/res.h"
#include "engine/ref/ref.h"
#include "gpu/gpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENGINE_MAXSETS 4

struct engine {
	struct net *net;
	struct gnet *gpu;        /* NULL on the CPU */
	struct dnet *dnn;        /* the CPU's oneDNN path for plain stacks, */
	struct rnet *res;        /* or for residual networks, or neither: net.c's layers */
	int keep, fetched;        /* ENGINE_KEEP; the last forward's activations are on the host */
	int bf16;                 /* bfloat16 products run */
	/* the CPU's datasets and its two staged batches */
	struct {
		const float *x, *clin;
		const int32_t *y;
	} set[ENGINE_MAXSETS];
	int nsets, staged, cur, maxb;
	struct {
		float *x, *clin;
		int32_t *y;
		const float *bx, *bclin;     /* the batch: x and clin, or the set's own rows */
		int b;
	} slot[2];
	char kernels[640];
};

struct engine *
engine_open(struct net *n, int dev, int maxb, int flags)
{
	struct engine *e = ecalloc(1, sizeof *e);

	e->net = n;
	e->keep = flags & ENGINE_KEEP;
	e->staged = e->cur = -1;
	e->maxb = maxb;
	if (dev >= 0) {
		e->gpu = gnet_open(n, dev, flags & ENGINE_TF32, maxb, flags & ENGINE_KEEP);
		if (flags & ENGINE_KEEP)
			net_reserve(n, maxb);
		return e;
	}
	/* the oneDNN fast path where it covers the network, unless
	 * OSTEO_CPU asks for the reference layers, or for direct convolutions
	 * only (no Winograd) */
	const char *why = "OSTEO_CPU=reference", *cpu = getenv("OSTEO_CPU");
	if (cpu && *cpu && strcmp(cpu, "reference") && strcmp(cpu, "direct"))
		die(EX_USAGE, "OSTEO_CPU=%s: not reference or direct (or unset)", cpu);
	kern_get();              /* OSTEO_KERN is checked here, before any output */
	int bf16 = flags & ENGINE_BF16, strict = bf16 && !(flags & ENGINE_BF16_AUTO);
	int wino = !cpu || strcmp(cpu, "direct");
	if (!cpu || strcmp(cpu, "reference"))
		e->dnn = dnet_open(n, maxb, flags & ENGINE_KEEP, wino, bf16, &why);
	if (!e->dnn && net_residual(n) && (!cpu || strcmp(cpu, "reference")))
		e->res = rnet_open(n, maxb, flags & ENGINE_KEEP, wino, &why);
	e->bf16 = e->dnn && dnet_bf16_layers(e->dnn) > 0;
	if (strict && !e->bf16)
		die(EX_UNAVAILABLE, "--precision bf16: %s", e->dnn ? "the network has no convolution after its first"
		                    : e->res ? "residual networks run in float32 only"
		                    : "the network runs on the reference layers, which are float32 only");
	if (!e->dnn && !e->res) {
		info("the CPU runs the network on its reference layers (%s)", why);
		net_reserve(n, maxb);
	} else if (flags & ENGINE_KEEP)
		net_reserve(n, maxb);           /* every layer's, to hand activations over */
	else
		net_reserve_from(n, maxb, e->dnn ? dnet_tail(e->dnn) : rnet_tail(e->res));  /* the walker's tail's */
	for (int k = 0; k < 2; k++) {
		e->slot[k].x = emalloc((size_t)maxb * n->c * n->h * n->w * sizeof(float));
		e->slot[k].clin = emalloc((size_t)maxb * (n->nclin ? n->nclin : 1) * sizeof(float));
		e->slot[k].y = emalloc((size_t)maxb * sizeof(int32_t));
	}
	return e;
}

void
engine_close(struct engine *e)
{
	if (e->gpu)
		gnet_close(e->gpu);
	dnet_close(e->dnn);
	rnet_close(e->res);
	for (int k = 0; k < 2; k++) {
		free(e->slot[k].x);
		free(e->slot[k].clin);
		free(e->slot[k].y);
	}
	free(e);
}

int
engine_dataset(struct engine *e, const float *x, const float *clin, const int32_t *y, int n, int resident)
{
	if (e->gpu)
		return gnet_dataset(e->gpu, x, clin, y, n, resident);
	if (e->nsets == ENGINE_MAXSETS)
		die(EX_SOFTWARE, "engine_dataset: more than %d datasets", ENGINE_MAXSETS);
	e->set[e->nsets].x = x;
	e->set[e->nsets].clin = clin;
	e->set[e->nsets].y = y;
	return e->nsets++;
}

void
engine_stage(struct engine *e, int set, const int *rows, int b)
{
	const struct net *n = e->net;
	size_t px = (size_t)n->c * n->h * n->w, K = (size_t)n->nclin;
	int k = (e->staged + 1) % 2;

	if (e->gpu) {
		gnet_stage(e->gpu, set, rows, b);
		return;
	}
	/* the slots hold maxb images: a larger batch would write past them */
	if (b < 1 || b > e->maxb || set < 0 || set >= e->nsets)
		die(EX_SOFTWARE, "engine_stage: a batch of %d (1 to %d) of set %d (of %d)", b, e->maxb, set, e->nsets);
	e->staged = k;
	e->slot[k].b = b;
	/* a contiguous run is used where it lies */
	if (!rows) {
		e->slot[k].bx = e->set[set].x;
		e->slot[k].bclin = e->set[set].clin;
		if (e->set[set].y)
			memcpy(e->slot[k].y, e->set[set].y, (size_t)b * sizeof(int32_t));
		return;
	}
	e->slot[k].bx = e->slot[k].x;
	e->slot[k].bclin = e->slot[k].clin;
	for (int j = 0; j < b; j++) {
		size_t i = (size_t)rows[j];
		memcpy(e->slot[k].x + j * px, e->set[set].x + i * px, px * sizeof(float));
		if (K)
			memcpy(e->slot[k].clin + j * K, e->set[set].clin + i * K, K * sizeof(float));
		if (e->set[set].y)
			e->slot[k].y[j] = e->set[set].y[i];
	}
}

void
engine_forward(struct engine *e, int train, struct rng *g)
{
	e->fetched = 0;
	if (e->gpu) {
		gnet_forward(e->gpu, train, g);
		return;
	}
	e->cur = e->staged;
	const float *x = e->slot[e->cur].bx, *clin = e->slot[e->cur].bclin;
	int b = e->slot[e->cur].b;
	if (e->dnn) {
		/* oneDNN's blocks, then the reference walker from their output on */
		dnet_forward(e->dnn, x, b, train);
		ref_forward_from(e->net, dnet_tail(e->dnn), x, clin, b, train, g);
		return;
	}
	if (e->res) {
		rnet_forward(e->res, x, b, train);
		ref_forward_from(e->net, rnet_tail(e->res), x, clin, b, train, g);
		return;
	}
	ref_forward(e->net, x, clin, b, train, g);
}

const int32_t *
engine_labels(struct engine *e)
{
	return e->gpu ? gnet_labels(e->gpu) : e->slot[e->cur].y;
}

const float *
engine_probs(struct engine *e)
{
	return e->gpu ? gnet_probs(e->gpu) : e->net->probs;
}

float
engine_loss(struct engine *e, const float *weights)
{
	if (e->gpu)
		return gnet_loss(e->gpu, weights);
	return ref_loss(e->net, e->slot[e->cur].y, weights, e->slot[e->cur].b);
}

void
engine_backward(struct engine *e, const float *weights)
{
	if (e->gpu) {
		gnet_backward(e->gpu, weights);
		return;
	}
	net_zero_grads(e->net);
	if (e->dnn) {
		int tail = dnet_tail(e->dnn), b = e->slot[e->cur].b;
		dnet_backward(e->dnn, ref_backward_to(e->net, NULL, e->slot[e->cur].y, weights, b, tail - 1), b);
		return;
	}
	if (e->res) {
		int tail = rnet_tail(e->res), b = e->slot[e->cur].b;
		rnet_backward(e->res, ref_backward_to(e->net, NULL, e->slot[e->cur].y, weights, b, tail - 1), b);
		return;
	}
	ref_backward(e->net, e->slot[e->cur].bx, e->slot[e->cur].y, weights, e->slot[e->cur].b);
}

void
engine_adam(struct engine *e, float lr, float beta1, float beta2, float eps, float wd, int t)
{
	if (e->gpu)
		gnet_adam(e->gpu, lr, beta1, beta2, eps, wd, t);
	else
		ref_adam(e->net, lr, beta1, beta2, eps, wd, t);
}

/* the activations of the last inference forward, on the host */
static void
fetch(struct engine *e)
{
	if (!e->keep)
		die(EX_SOFTWARE, "engine: activations asked for of an engine opened without ENGINE_KEEP");
	if (e->gpu && !e->fetched)
		gnet_fetch(e->gpu);
	e->fetched = 1;
}

int
engine_gradcam(struct engine *e, const int *cls, int b, float *cam)
{
	fetch(e);
	return ref_gradcam(e->net, cls, b, cam);
}

const float *
engine_activations(struct engine *e, int i)
{
	fetch(e);
	return e->net->a[i];
}

const char *
engine_precision(const struct engine *e)
{
	return e->bf16 ? "bf16" : "fp32";
}

const char *
engine_kernels(struct engine *e)
{
	if (e->gpu)
		return "CUDA (cuBLAS, gpu/nn.cu)";
	if (e->res)
		return rnet_kernels(e->res);
	if (!e->dnn)
		return "the reference layers (engine/ref)";
	snprintf(e->kernels, sizeof e->kernels, "%s; passes %s", dnet_kernels(e->dnn), kern_get()->name);
	return e->kernels;
}

void
engine_pull(struct engine *e)
{
	if (e->gpu)
		gnet_pull(e->gpu);
}
