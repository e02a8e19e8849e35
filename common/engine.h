/*
 * engine.h - the network of net.h run where --device says: the CPU twin
 * (net.c, nn.c) or the CUDA one (gpu/net.cu, gpu/nn.cu), behind one API, so
 * osteo-train and osteo-infer have one loop for both.
 *
 * Batches come from datasets the engine is told of once.  A step stages
 * the next batch while the current one is computed:
 *
 *	engine_stage(e, set, rows0, b0);
 *	for each batch:
 *		engine_forward(e, 1, &rng);      the batch staged last
 *		engine_stage(e, set, next, nb);  overlaps the step on a GPU
 *		loss = engine_loss(e, w);
 *		engine_backward(e, w);
 *		engine_adam(e, ...);
 *
 * The host net's parameters are current after engine_pull (on the CPU
 * always); its activations after engine_fetch.
 */
#ifndef OSTEO_ENGINE_H
#define OSTEO_ENGINE_H

#include <stdint.h>

#include "net.h"
#include "rng.h"

#define ENGINE_TF32 1            /* TF32 tensor cores for the products */
#define ENGINE_KEEP 2            /* keep every activation for engine_fetch */
#define ENGINE_MAXSETS 4

struct gnet;
struct dnet;

struct engine {
	struct net *net;
	struct gnet *gpu;        /* NULL on the CPU */
	struct dnet *dnn;        /* the CPU's oneDNN path, or NULL: net.c's layers */
	/* the CPU's datasets and its two staged batches */
	struct {
		const float *x, *clin;
		const int32_t *y;
	} set[ENGINE_MAXSETS];
	int nsets, staged, cur;
	struct {
		float *x, *clin;
		int32_t *y;
		const float *bx, *bclin;     /* the batch: x and clin, or the set's own rows */
		int b;
	} slot[2];
};

/* dev from device_select (-1: the CPU); batches of up to maxb */
void engine_open(struct engine *e, struct net *n, int dev, int maxb, int flags);
void engine_close(struct engine *e);
/* a dataset of n images x (n,c,h,w), clinical (n,nclin) and labels (n) or
 * NULL, kept by the caller.  resident: a GPU may upload it once (else the
 * rows are copied from x at each engine_stage, as for a buffer the caller
 * refills between batches). */
int engine_dataset(struct engine *e, const float *x, const float *clin, const int32_t *y, int n,
                   int resident);
/* rows[0..b) of the set (NULL: 0..b-1) are the next batch */
void engine_stage(struct engine *e, int set, const int *rows, int b);
void engine_forward(struct engine *e, int train, struct rng *g);
/* the forwarded batch's labels (b) and probabilities (b, nclasses) */
const int32_t *engine_labels(struct engine *e);
const float *engine_probs(struct engine *e);
/* after a training forward: the mean (class-weighted) loss */
float engine_loss(struct engine *e, const float *weights);
/* zero the gradients, then back-propagate that loss */
void engine_backward(struct engine *e, const float *weights);
void engine_adam(struct engine *e, float lr, float beta1, float beta2, float eps, float wd, int t);
void engine_fetch(struct engine *e);
void engine_pull(struct engine *e);

#endif
