/*
 * res.h - the CPU engine's path for residual networks (res.c): the image
 * layers of a net.h network with cbn, route, add or maxpool layers (the
 * ResNets, imported or preset) on oneDNN's convolution, batch norm and
 * pooling primitives.  Its results are the reference layers' to float
 * rounding; tests/unit/check_dnn.c holds them to it.  engine/engine.c
 * calls these as it calls dnn.h's, and runs what follows the image layers
 * (gap, dropout, the dense tail) on the reference walker.
 *
 * Covered: every spec whose first layer is conv or cbn and whose layers up
 * to the first gap, dense or dropout are conv, cbn, route, add, maxpool,
 * avgpool and pool, in float32.  A network it does not cover, or an engine opened
 * for heat maps or feature maps (keep), runs on dnn.h or the reference
 * layers.
 */
#ifndef OSTEO_RES_H
#define OSTEO_RES_H

#include "engine/spec/net.h"

struct rnet;

/* NULL when the network is not covered, or oneDNN has no primitive for a
 * layer's shape (*why says which); wino: Winograd convolutions where they
 * pay (else direct only) */
struct rnet *rnet_open(struct net *n, int maxb, int keep, int wino, const char **why);
void rnet_close(struct rnet *d);
/* the layers before rnet_tail(d) are the ones this path runs */
int rnet_tail(const struct rnet *d);
/* x (b,c,h,w): the image layers forward, their output in n->a[tail - 1].
 * An inference forward runs each image alone through primitives made for
 * one image, so a record's probabilities never depend on its batch */
void rnet_forward(struct rnet *d, const float *x, int b, int train);
/* after a training forward of b images and the walker's backward down to
 * the image layers' output, whose gradient is df (b, n->a[tail - 1]'s
 * layout): their gradients *added* to n->grads */
void rnet_backward(struct rnet *d, const float *df, int b);
/* the implementations oneDNN chose, for make bench */
const char *rnet_kernels(const struct rnet *d);

#endif
