/*
 * dnn.h - the CPU engine's fast path (dnn.c): the convolution blocks of a
 * net.h network on oneDNN's primitives, batch norm + ReLU + 2x2 max pool
 * fused into passes of our own (kern.inc).  The results are the reference
 * layers' (engine/ref) to float rounding; tests/unit/check_dnn.c holds
 * them to it.  engine/engine.c calls these, and runs what follows the
 * blocks on the reference walker; programs call engine/engine.h.
 *
 * Covered: every spec that begins with conv and pool layers and has none
 * after its first gap or dropout; a network without them, with a conv
 * after dropout, or a residual one (cbn, route, add), runs on the
 * reference backend alone (dnet_open returns NULL).
 */
#ifndef OSTEO_DNN_H
#define OSTEO_DNN_H

#include <stdint.h>

#include "engine/spec/net.h"

struct dnet;

/* NULL when the spec is not covered, or oneDNN has no primitive for a
 * layer's shape (*why says which); keep: every layer's activations land in
 * the host net's buffers at each inference forward (heat maps, feature
 * maps); wino: Winograd convolutions where they pay (else direct only);
 * bf16: the convolutions after the first take their input and weights in
 * bfloat16 (and their output's gradient), sum in float32 and give float32;
 * everything else stays float32 (batch norm, pooling, the dense tail,
 * the weights Adam keeps) */
struct dnet *dnet_open(struct net *n, int maxb, int keep, int wino, int bf16, const char **why);
/* the number of convolutions running in bfloat16 */
int dnet_bf16_layers(const struct dnet *d);
/* 1 when oneDNN runs bfloat16 in this CPU's own instructions (AVX512_BF16
 * or AMX), 0 when it could only emulate them; *isa names what it sees */
int dnet_bf16_native(const char **isa);
void dnet_close(struct dnet *d);
/* the layers before dnet_tail(d) are the blocks this path runs; the
 * engine runs the rest (gap, dropout, the dense tail) on the reference
 * walker (engine/ref), which reads the blocks' output in n->a[tail - 1] */
int dnet_tail(const struct dnet *d);
/* x (b,c,h,w): the blocks forward, their output in n->a[tail - 1] (and,
 * with keep, every block's output in n->a[] at inference).  An inference
 * forward runs each image alone through primitives made for one image, so
 * a record's probabilities never depend on the batch it came in */
void dnet_forward(struct dnet *d, const float *x, int b, int train);
/* after a training forward of b images and the walker's backward down to
 * the blocks' output, whose gradient is df (b, n->a[tail - 1]'s layout):
 * the blocks' gradients *added* to n->grads */
void dnet_backward(struct dnet *d, const float *df, int b);
/* the names of the implementations oneDNN chose, for make bench */
const char *dnet_kernels(const struct dnet *d);

#endif
