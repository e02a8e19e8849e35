/*
 * dnn.h - the CPU engine's fast path (dnn.c): the convolution blocks of a
 * net.h network on oneDNN's primitives, batch norm + ReLU + 2x2 max pool
 * fused into passes of our own, the dense tail on net.c's layers.  The
 * results are net.c's to float rounding; tests/unit/check_dnn.c holds them
 * to it.  engine/engine.c calls these; programs call engine/engine.h.
 *
 * Covered: every spec that begins with conv and pool layers and has none
 * after its first gap or dropout (those and the dense tail run on net.c's
 * layers); a network without them, or with a conv after dropout, runs on
 * the reference layers of net.c (dnet_open returns NULL).
 */
#ifndef OSTEO_DNN_H
#define OSTEO_DNN_H

#include <stdint.h>

#include "engine/net.h"
#include "common/base/rng.h"

struct dnet;

/* NULL when the spec is not covered, or oneDNN has no primitive for a
 * layer's shape (*why says which); keep: every layer's activations land in
 * the host net's buffers at each inference forward (heat maps, feature
 * maps); wino: Winograd convolutions where they pay (else direct only) */
struct dnet *dnet_open(struct net *n, int maxb, int keep, int wino, const char **why);
void dnet_close(struct dnet *d);
/* x (b,c,h,w), clin (b,nclin): as net_forward.  An inference forward runs
 * each image alone through primitives made for one image, so a record's
 * probabilities never depend on the batch it came in */
void dnet_forward(struct dnet *d, const float *x, const float *clin, int b, int train, struct rng *g);
/* after a training forward of b images: gradients *added* to n->grads */
void dnet_backward(struct dnet *d, const int32_t *labels, const float *weights, int b);
/* the names of the implementations oneDNN chose, for make bench */
const char *dnet_kernels(const struct dnet *d);

#endif
