/*
 * engine.h - the network of net.h run where --device says, behind one API,
 * so osteo-train and osteo-infer have one loop for every backend:
 *   the spec                 engine/spec/net.c: the layer table, parameters, host buffers
 *   the CPU's oneDNN path    engine/cpu/dnn.c (convolution blocks), engine/cpu/kern.inc
 *                            (our fused passes); what follows the blocks on
 *                            the reference walker
 *   the CPU's reference      engine/ref/ref.c, the layers and their walker
 *                            (plain C; the tests' yardstick, and the CPU path
 *                            for a spec dnn.c does not cover or for
 *                            OSTEO_CPU=reference)
 *   CUDA                     gpu/net.cu, gpu/nn.cu, or gpu/nogpu.c's stub
 * The engine is opaque: programs see the net's spec (struct net's layers)
 * and its parameters after engine_pull, never a backend's buffers.
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
 * always); a caller who changes them between inference forwards may (the
 * CPU engine notices).
 */
#ifndef OSTEO_ENGINE_H
#define OSTEO_ENGINE_H

#include <stdint.h>

#include "engine/spec/net.h"
#include "common/base/rng.h"

#define ENGINE_TF32 1            /* TF32 tensor cores for the products */
#define ENGINE_KEEP 2            /* keep every activation: heat maps, feature maps */
#define ENGINE_BF16 4            /* bfloat16 products on the CPU (precision_select) */
#define ENGINE_BF16_AUTO 8       /* with ENGINE_BF16: float32 where the network has no bfloat16 path */

struct engine;

/* --device auto|cpu|cuda[:N] (engine/device.c): -1 for the CPU, else the
 * CUDA device's number; dies with 64 on a bad spec and 69 when CUDA is
 * asked for and cannot be had */
int device_select(const char *spec, const char *usage);
/* 1 when device_select's GPU came from --device auto */
int device_auto(void);

/* --precision fp32|bf16|auto (engine/device.c) for device dev: 0 (float32),
 * ENGINE_BF16, or ENGINE_BF16 | ENGINE_BF16_AUTO for auto on a CPU that
 * has bfloat16 instructions; dies with 64 on a bad word and 69 when bf16
 * is asked for where it cannot run (a GPU, a CPU without AVX512_BF16 or
 * AMX as oneDNN sees it) */
int precision_select(const char *spec, int dev, const char *usage);

/* dev from device_select (-1: the CPU); batches of up to maxb; flags
 * ENGINE_*.  ENGINE_BF16 without ENGINE_BF16_AUTO dies with 69 where the
 * network cannot run in bfloat16 (the reference layers, or no convolution
 * past the first) */
struct engine *engine_open(struct net *n, int dev, int maxb, int flags);
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
/* the host net's parameters and running statistics made current */
void engine_pull(struct engine *e);
/*
 * After an inference forward of b images with ENGINE_KEEP: Grad-CAM of
 * image j for class cls[j] in cam (b, oh, ow of the last convolution
 * block), signed, as ref_gradcam computes it (returns -1 when there is no
 * convolution); and the output of layer i (0-based) for the batch,
 * (b, that layer's output), as net.c lays it out.
 */
int engine_gradcam(struct engine *e, const int *cls, int b, float *cam);
const float *engine_activations(struct engine *e, int i);
/* "bf16" when bfloat16 products run, else "fp32" */
const char *engine_precision(const struct engine *e);
/* the kernels the CPU engine runs on, for people (make bench) */
const char *engine_kernels(struct engine *e);

#endif
