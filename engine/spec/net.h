/*
 * net.h - the OsteoNet network assembled from nn.h's layers: an
 * architecture spec, all parameters in one allocation (gradients and Adam
 * moments likewise, so a checkpoint is one write and the optimiser one
 * loop), and whole-network forward and backward passes for a batch.
 *
 * The spec is what a person types:
 *   conv:16,pool,conv:32,pool,conv:64,pool,conv:128,pool,dense:128,dropout:0.5
 * conv:N[:K[:S]] is a KxK convolution (default 3, stride S default 1, same
 * padding) + batch norm + ReLU; pool is 2x2 max pooling; dense:N is a
 * fully connected layer + ReLU; dropout:P drops with probability P in
 * training; gap averages each channel over the image (global average
 * pooling), after the last conv or pool.  Before the first dense layer the
 * image features are flattened and the record's clinical vector (K values)
 * is appended: the fusion layer.  clin:N, anywhere before the first dense
 * layer, is a layer of the clinical branch instead: dense:N + ReLU on the
 * clinical vector (then on the branch's previous layer), whose output is
 * what the fusion layer appends; records without a clinical vector leave
 * the branch out.  The classifier (dense to the number of classes,
 * softmax) is added at the end.
 *
 * Residual networks, darknet's way: cbn:N[:K[:S]] is a convolution and
 * batch norm without the ReLU; route:J makes layer J's output (an earlier
 * layer, by number, or counted back when negative) the next layers'
 * input; add:J adds layer J's output to its input, of the same shape,
 * then ReLU.  A ResNet basic block with a projection shortcut:
 *   conv:64:3:2,cbn:64,route:-3,cbn:64:1:2,add:-3
 * (the block's input is the layer before conv:64:3:2; add:-3 is cbn:64).
 * maxpool:K[:S] is max pooling over KxK windows with stride S (default K)
 * and padding (K-1)/2: ResNet's stem has maxpool:3:2; avgpool:K[:S]
 * averages the same windows over the values inside the image (the padding
 * is not counted: ONNX's AveragePool by default).
 *
 * Presets name whole specs: osteonet (DEFAULT_ARCH) and resnet18,
 * resnet34, resnet50, torchvision's ResNets (v1.5: a bottleneck's stride
 * in its 3x3) up to their global average pooling, with the classifier
 * osteo adds in place of their fc; net_preset spells them out.
 */
#ifndef OSTEO_NET_H
#define OSTEO_NET_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/rng.h"

#define DEFAULT_ARCH "conv:16,pool,conv:32,pool,conv:64,pool,conv:128,pool,dense:128,dropout:0.5"
#define NET_MAXLAYERS 128
#define NET_MAXCLIN 8
/* a spec (or a model file) that sizes a network beyond these is refused
 * before anything is allocated: 32 Mi parameters (OsteoNet has 0.3 Mi), and
 * 64 Mi activations of one image summed over the layers; an input side or
 * a clinical feature count beyond 65535 is refused too */
#define NET_MAXPARAMS ((size_t)1 << 25)
#define NET_MAXACTS ((size_t)1 << 26)
#define NET_MAXSIDE 65535
/* batch norm's epsilon and running-statistics momentum (PyTorch's), on
 * both backends */
#define NET_BN_EPS 1e-5f
#define NET_BN_MOMENTUM 0.1f

/*
 * The layer kinds, a row each: the kind, its word in a spec, what follows
 * the word's colon, where it may stand, the shape of its output and the
 * parameters it owns.  This table is the only place a layer's word is
 * spelt: the parser, its messages, the parameter table and net_describe
 * read it (engine/spec/net.c).  A new kind whose row uses the forms below needs
 * this row and its passes on each backend; README, "Where to add things".
 *   arguments  NONE; UNITS n (1 to 65536); CONV n[:k[:stride]] (filters
 *              1 to 4096, k 1 to 15, stride 1 to 8, "same" padding k/2);
 *              PROB p in [0, 1); REF j, an earlier image layer: its
 *              number (1 is the first) or, negative, counted back from
 *              this one (-1 the layer just before); KS k[:stride]
 *              (a window of k 1 to 15, stride 1 to 8, default k, padding
 *              (k-1)/2 on each side, beyond which nothing wins)
 *   place      IMAGE maps, before any feature layer and not after a
 *              global one; FEATURES after the fusion layer (the first
 *              flattens the image and appends the clinical values); ANY;
 *              BRANCH the clinical branch (cl[]); END the classifier,
 *              which no spec names: net_new adds it
 *   shape      CONV (n maps of conv_out's size); HALF (2x2, odd edges
 *              dropped); UNITS (n); SAME; GLOBAL (1x1 per channel);
 *              CLASSES (the number of classes); ROUTE (the referenced
 *              layer's); WINDOW (conv_out's, for the window and stride)
 *   params     CONVBN (weights (n,ic,k,k), batch norm's gamma and beta,
 *              its running mean and variance); DENSE (weights (n,ic),
 *              bias (n)); NONE
 */
#define NET_LAYERS(X)                                                   \
	X(L_CONV,       "conv",       CONV,  IMAGE,    CONV,    CONVBN) \
	X(L_POOL,       "pool",       NONE,  IMAGE,    HALF,    NONE)   \
	X(L_DENSE,      "dense",      UNITS, FEATURES, UNITS,   DENSE)  \
	X(L_DROPOUT,    "dropout",    PROB,  ANY,      SAME,    NONE)   \
	X(L_CLASSIFIER, "classifier", NONE,  END,      CLASSES, DENSE)  \
	X(L_GAP,        "gap",        NONE,  IMAGE,    GLOBAL,  NONE)   \
	X(L_CLIN,       "clin",       UNITS, BRANCH,   UNITS,   DENSE)  \
	X(L_CBN,        "cbn",        CONV,  IMAGE,    CONV,    CONVBN) \
	X(L_ROUTE,      "route",      REF,   IMAGE,    ROUTE,   NONE)   \
	X(L_ADD,        "add",        REF,   IMAGE,    SAME,    NONE)   \
	X(L_MAXPOOL,    "maxpool",    KS,    IMAGE,    WINDOW,  NONE)   \
	X(L_AVGPOOL,    "avgpool",    KS,    IMAGE,    WINDOW,  NONE)

#define NET_KIND(kind, word, arg, place, shape, params) kind,
#define NET_ONE(kind, word, arg, place, shape, params) +1
enum ltype { NET_LAYERS(NET_KIND) };
enum { L_NKINDS = 0 NET_LAYERS(NET_ONE) };
#undef NET_KIND
#undef NET_ONE

/* a kind's word in a spec ("conv", ...; the classifier's is never parsed) */
const char *layer_word(int t);

/*
 * The parameter table: every named tensor of the network, in the order
 * the model file stores them (per layer: a convolution's weights, batch
 * norm's gamma and beta, its running mean and variance; a dense layer's
 * weights and bias).  Initialisation, the model file, --init, and Adam all
 * walk it.  Trained ones live in params (gradients and Adam's moments at
 * the same offsets), the running statistics in stats.
 */
enum pkind { P_WEIGHT, P_BIAS, P_GAMMA, P_BETA, P_MEAN, P_VAR };
struct ptensor {
	int layer;               /* index in l[] (the clinical branch's: fuse_at) */
	enum pkind kind;
	char name[16];           /* the model file's key, "L3.w", "L3.gamma", ... */
	size_t off, count;       /* in params (P_MEAN, P_VAR: in stats) */
	int ndim;
	uint32_t shape[4];
};
#define NET_MAXTENSORS (5 * NET_MAXLAYERS + 2 * NET_MAXCLIN)

struct layer {
	enum ltype type;
	int n;                   /* conv filters, dense units */
	int k, stride, pad;
	float p;                 /* dropout */
	int ic, ih, iw;          /* input shape (dense: ic features, ih = iw = 1) */
	int oc, oh, ow;          /* output shape */
	size_t w, b, gamma, beta;  /* offsets into params */
	size_t rmean, rvar;      /* offsets into the running statistics */
	size_t pstart, pcount;   /* this layer's slice of params */
	int frozen;
	int ref;                 /* route, add: the layer read (an index in l[]) */
};

struct net {
	int nlayers;
	struct layer l[NET_MAXLAYERS];
	int c, h, w;             /* input image */
	int nclin;               /* clinical features of a record */
	int nbranch;             /* layers of the clinical branch, cl[] */
	struct layer cl[NET_MAXCLIN];
	int kfuse;               /* clinical values the fusion layer appends (the branch's output) */
	int nclasses;
	int fuse_at;             /* index of the first dense layer (or the classifier) */
	size_t nparams, nstats;
	int ntensors;
	struct ptensor pt[NET_MAXTENSORS];
	float *params, *grads, *m, *v;
	float *stats;            /* batch norm running means and variances */
	/* activations for up to maxb images, allocated once */
	int maxb;
	float **z, **a;          /* per layer: pre-activation, output */
	float *mean, *rstd;      /* per conv layer, slices by offset */
	int32_t **idx;           /* pool argmax */
	float **skip;            /* per layer read by a route or add: the gradient they send it */
	float **mask;            /* dropout masks */
	float *col;              /* im2col scratch */
	float *fused;            /* (B, features + kfuse) */
	float *cz[NET_MAXCLIN], *ca[NET_MAXCLIN];  /* the branch's pre-activations and outputs */
	float *cd1, *cd2;        /* the branch's gradients */
	const float *clin_in;    /* the clinical vectors of the last forward */
	/* training only (osteo-train --clinical-dropout): the probability that a
	 * record's clinical values are hidden from the fusion layer (zeros) in
	 * a training forward, drawn per record from the forward's generator in
	 * layer order (at the fusion layer); cmask (B) 1 kept, 0 hidden */
	float clin_drop;
	float *cmask;
	float *probs;            /* (B, nclasses) */
	float *d1, *d2;          /* gradient buffers, dmax per image */
	size_t dmax;
	int first;               /* buffers exist for layers first.. (net_reserve_from) */
	/* per image, from the layers (net_new): the largest activation or
	 * layer input, the largest im2col scratch; both backends size by them */
	size_t maxact, maxcol;
};

/* where a table entry's values are */
static inline float *
ptensor_data(const struct net *n, const struct ptensor *t)
{
	return (t->kind == P_MEAN || t->kind == P_VAR ? n->stats : n->params) + t->off;
}

/* a layer's output per image */
static inline size_t
layer_elems(const struct layer *l)
{
	return (size_t)l->oc * l->oh * l->ow;
}

/* parse spec and size every layer for input c x h x w with nclin clinical
 * features and nclasses classes; NULL and *err set on a bad spec */
struct net *net_new(const char *spec, int c, int h, int w, int nclin, int nclasses, const char **err);
void net_free(struct net *n);
/* He initialisation from seed */
void net_init(struct net *n, uint64_t seed);
/* size the activation buffers for batches of up to b */
void net_reserve(struct net *n, int b);
/* the buffers of layers from..  and of the output of the layer before,
 * for a backend that runs the convolution blocks itself (engine/cpu/dnn.c) */
void net_reserve_from(struct net *n, int b, int from);
void net_zero_grads(struct net *n);
/* a convolution's output side; its im2col scratch per image, (C*k*k, OH*OW) */
int conv_out(int in, int k, int stride, int pad);
size_t conv_col_size(int C, int k, int OH, int OW);
/* inverted dropout's mask, 0 or 1/(1-p), drawn from g in order: every
 * backend's draws */
void dropout_mask(float *mask, size_t n, float p, struct rng *g);
/* keep (b): 1 or 0 for each record of a training batch, hiding clinical
 * values with probability p (every backend's draws) */
void clin_keep(float *keep, int b, float p, struct rng *g);
/* the index of the last convolution block, or -1 */
int net_last_conv(const struct net *n);
/* 1 when a layer of n is a residual network's (cbn, route, add,
 * maxpool, avgpool): the CPU runs n on engine/cpu/res.c rather than dnn.c */
int net_residual(const struct net *n);
/* a preset's spec (osteonet, resnet18, resnet34, resnet50), or spec itself */
const char *net_preset(const char *spec);
/* a one-line summary of each layer, for people */
void net_describe(const struct net *n, void (*line)(const char *));

#endif
