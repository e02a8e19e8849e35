/*
 * plumb.h - oneDNN plumbing the CPU engine's two paths share (dnn.c for
 * OsteoNet's plain stacks, res.c for residual networks): a context (engine,
 * stream, one scratchpad for every primitive, the names of the kernels
 * chosen), memory descriptors and objects, execution, reorders, and the
 * two activation layouts our passes read.  Every failure of oneDNN but
 * "no primitive for this shape" is fatal (71 out of memory, else 70).
 */
#ifndef OSTEO_PLUMB_H
#define OSTEO_PLUMB_H

#include <stddef.h>

#include <oneapi/dnnl/dnnl.h>

struct dctx {
	dnnl_engine_t eng;
	dnnl_stream_t stream;
	/* one scratchpad for every primitive (they run one at a time), made
	 * once: oneDNN's own would be allocated, and its pages touched, at
	 * each execution */
	void *scratch;
	size_t scratch_size;
	char kernels[512];
};

/* 0, or -1 when oneDNN has no CPU engine */
int dctx_open(struct dctx *d);
void dctx_close(struct dctx *d);

void dnn_ok(dnnl_status_t s, const char *what);
#define DNN(call) dnn_ok((call), #call)

void md4t(dnnl_memory_desc_t *md, int a, int b, int c, int d, dnnl_format_tag_t tag, dnnl_data_type_t dt);
/* float32 */
void md4(dnnl_memory_desc_t *md, int a, int b, int c, int d, dnnl_format_tag_t tag);
dnnl_memory_t mem(struct dctx *d, const dnnl_memory_desc_t *md, void *handle);
void handle(dnnl_memory_t m, const void *p);
/* execute p with args (at most 11) and, when it has one, its view of the
 * scratchpad; waits */
void run(struct dctx *d, dnnl_primitive_t p, dnnl_memory_t sp, int nargs, const dnnl_exec_arg_t *args);
/* attributes asking for our scratchpad, with post-ops (consumed) or none */
dnnl_primitive_attr_t attr_new(dnnl_post_ops_t po);
/* the primitive of pd and its scratchpad view (NULL when it needs none);
 * the shared scratchpad grows to the largest */
dnnl_primitive_t prim(struct dctx *d, const_dnnl_primitive_desc_t pd, dnnl_memory_t *sp);
/* a reorder from one memory to another (sum: added to what is there) */
dnnl_primitive_t reorder(struct dctx *d, dnnl_memory_t from, dnnl_memory_t to, int sum);
/* weights memory in the layout a primitive asked for: the user's own when
 * it is the same, else a buffer of its own and a reorder into it (*re) */
dnnl_memory_t weights_for(struct dctx *d, const dnnl_memory_desc_t *want, dnnl_memory_t user, dnnl_primitive_t *re);
/* adds "what impl" to d->kernels, once */
void note_impl(struct dctx *d, const_dnnl_primitive_desc_t pd, const char *what);
/* a backward convolution's descriptor (weights: of the weights, else of
 * the data), Winograd falling back to direct; -1 when neither exists */
int bwd_desc(struct dctx *d, dnnl_primitive_desc_t *pd, dnnl_convolution_desc_t *cd, int weights,
             dnnl_alg_kind_t alg, const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *w,
             const dnnl_memory_desc_t *dst, const dnnl_dim_t *strides, const dnnl_dim_t *pl,
             const dnnl_dim_t *pr, const_dnnl_primitive_attr_t attr, const_dnnl_primitive_desc_t fpd);
/* a memory object (no data yet) like the one p's descriptor names, or
 * NULL when it names none */
dnnl_memory_t mem_like(struct dctx *d, dnnl_primitive_t p, dnnl_query_t what);

/* a convolution's primitives, for mb images */
struct conv_prims {
	int mb;                   /* images per execution; 0: not made */
	dnnl_primitive_t fwd, bwd_data, bwd_w;
	dnnl_primitive_t to_fwd_w, to_bwd_w, from_dw;  /* weight reorders, or NULL */
	dnnl_memory_t w_user;     /* (OC,IC,k,k) as net.h keeps them */
	dnnl_memory_t w_fwd, w_bwd, dw, dw_user;
	dnnl_memory_t src, dst, bias, diff_src, diff_dst;
	dnnl_memory_t sp_fwd, sp_bwd_data, sp_bwd_w;  /* views of the shared scratchpad */
};


/*
 * What a convolution is: shapes, the layouts of its input and output (and
 * of their gradients), h: input, weights and output gradient in bfloat16
 * (sums and output float32), first: no input gradient (the network's
 * first layer), the algorithms asked for (Winograd falls back to direct
 * where oneDNN has none), and inference's post-ops: sum adds what the
 * output buffer holds (a shortcut), then relu.
 */
struct convspec {
	int ic, ih, iw, oc, oh, ow, k, stride, pad;
	dnnl_format_tag_t stag, dtag;
	int h, first;
	dnnl_alg_kind_t afwd, abwd;
	int sum, relu;
};

/* training (forward, backward data unless first, backward weights into a
 * buffer of its own with a reorder adding it to the user's layout) or
 * inference (with a bias); 0, or -1 when oneDNN has no primitive for it.
 * what names the forward in d->kernels */
int conv_make(struct dctx *d, const struct convspec *c, struct conv_prims *p, int mb, int train, const char *what);
void conv_free(struct conv_prims *p);
/* the primitives and memories of the arrays that are not NULL */
void destroy_all(dnnl_primitive_t *ps, size_t np, dnnl_memory_t *ms, size_t nm);

/*
 * Inference's batch norm folded into a convolution's weights and a bias
 * (bn_affine's scale and shift from the running statistics), made again
 * only when the layer's parameters or statistics changed since (a training
 * step, or a caller's copy into the net): a copy of what was folded tells.
 */
struct bnfold {
	float *w, *b;             /* (OC,IC,k,k) and (OC) */
	float *kept;              /* the layer's parameters and running statistics folded last */
	int stale;                /* nothing folded yet */
};
struct net;
struct layer;
void bnfold_open(struct bnfold *f, const struct layer *l);
void bnfold_free(struct bnfold *f);
/* fold layer l of n if it changed, into inference's primitives p */
void bnfold_run(struct dctx *d, struct bnfold *f, const struct net *n, const struct layer *l, struct conv_prims *p);

/* where channels cb..cb+15 of pixel p (of HW) lie: channels-last, or
 * oneDNN's nChw16c (blocks of 16 channels, each a (H,W,16) plane) */
static inline size_t
at(int blk, int cb, size_t p, int C, size_t HW)
{
	return blk ? (size_t)cb * HW + p * 16 : p * C + cb;
}

/* the element of channel c, pixel p (of P), in either layout */
static inline size_t
elem(int blk, int c, size_t p, int C, size_t P)
{
	return blk ? at(1, c & ~15, p, C, P) + (c & 15) : p * C + c;
}

/* one image's (P,C) or nChw16c map to (C,P) planes, and back */
void to_planes(float *dst, const float *src, int P, int C, int blk);
void to_pixels(float *dst, const float *src, int P, int C, int blk);
/* b images x (b,C,P) as the first convolution reads them: into xin
 * channels-last, or x itself when xin is NULL (one channel, or a layout
 * that reads NCHW) */
const float *input_pixels(float *xin, const float *x, int b, int C, int P);

#endif
