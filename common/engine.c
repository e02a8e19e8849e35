/*
 * engine.c - engine.h: the CPU twin here, the CUDA one in gpu/.  Linked with
 * the GPU backend (or nogpu.c), like device.c.
 */
#include "engine.h"
#include "../gpu/gpu.h"
#include "dnn.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

void
engine_open(struct engine *e, struct net *n, int dev, int maxb, int flags)
{
	memset(e, 0, sizeof *e);
	e->net = n;
	e->staged = e->cur = -1;
	if (dev >= 0) {
		e->gpu = gnet_open(n, dev, flags & ENGINE_TF32, maxb, flags & ENGINE_KEEP);
		if (flags & ENGINE_KEEP)
			net_reserve(n, maxb);
		return;
	}
	/* the oneDNN fast path where it covers the network, unless
	 * OSTEO_CPU asks for the reference layers, or for direct convolutions
	 * only (no Winograd) */
	const char *why = "OSTEO_CPU=reference", *cpu = getenv("OSTEO_CPU");
	if (!cpu || strcmp(cpu, "reference"))
		e->dnn = dnet_open(n, maxb, flags & ENGINE_KEEP, !cpu || strcmp(cpu, "direct"), &why);
	if (!e->dnn) {
		info("the CPU runs the network on its reference layers (%s)", why);
		net_reserve(n, maxb);
	}
	for (int k = 0; k < 2; k++) {
		e->slot[k].x = emalloc((size_t)maxb * n->c * n->h * n->w * sizeof(float));
		e->slot[k].clin = emalloc((size_t)maxb * (n->nclin ? n->nclin : 1) * sizeof(float));
		e->slot[k].y = emalloc((size_t)maxb * sizeof(int32_t));
	}
}

void
engine_close(struct engine *e)
{
	if (e->gpu) {
		gnet_close(e->gpu);
		return;
	}
	dnet_close(e->dnn);
	for (int k = 0; k < 2; k++) {
		free(e->slot[k].x);
		free(e->slot[k].clin);
		free(e->slot[k].y);
	}
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
	if (e->gpu) {
		gnet_forward(e->gpu, train, g);
		return;
	}
	e->cur = e->staged;
	if (e->dnn) {
		dnet_forward(e->dnn, e->slot[e->cur].bx, e->slot[e->cur].bclin, e->slot[e->cur].b, train, g);
		return;
	}
	net_forward(e->net, e->slot[e->cur].bx, e->slot[e->cur].bclin, e->slot[e->cur].b, train, g);
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
	return net_loss(e->net, e->slot[e->cur].y, weights, e->slot[e->cur].b);
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
		dnet_backward(e->dnn, e->slot[e->cur].y, weights, e->slot[e->cur].b);
		return;
	}
	net_backward(e->net, e->slot[e->cur].bx, e->slot[e->cur].y, weights, e->slot[e->cur].b);
}

void
engine_adam(struct engine *e, float lr, float beta1, float beta2, float eps, float wd, int t)
{
	if (e->gpu)
		gnet_adam(e->gpu, lr, beta1, beta2, eps, wd, t);
	else
		net_adam(e->net, lr, beta1, beta2, eps, wd, t);
}

void
engine_fetch(struct engine *e)
{
	if (e->gpu)
		gnet_fetch(e->gpu);
}

void
engine_pull(struct engine *e)
{
	if (e->gpu)
		gnet_pull(e->gpu);
}
