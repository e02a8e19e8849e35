/*
 * plumb.c - plumb.h.
 */
#include "plumb.h"
#include "common/base/util.h"
#include "engine/spec/net.h"
#include "engine/spec/nnrow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vec.h"

int
dctx_open(struct dctx *d)
{
	memset(d, 0, sizeof *d);
	if (dnnl_engine_create(&d->eng, dnnl_cpu, 0) != dnnl_success)
		return -1;
	if (dnnl_stream_create(&d->stream, d->eng, dnnl_stream_default_flags) != dnnl_success)
		return -1;
	return 0;
}

void
dctx_close(struct dctx *d)
{
	free(d->scratch);
	if (d->stream)
		dnnl_stream_destroy(d->stream);
	if (d->eng)
		dnnl_engine_destroy(d->eng);
	memset(d, 0, sizeof *d);
}

void
dnn_ok(dnnl_status_t s, const char *what)
{
	if (s == dnnl_success)
		return;
	if (s == dnnl_out_of_memory)
		die(71, "oneDNN: out of memory (%s)", what);
	die(EX_SOFTWARE, "oneDNN: %s failed, status %d", what, (int)s);
}

void
md4t(dnnl_memory_desc_t *md, int a, int b, int c, int d, dnnl_format_tag_t tag, dnnl_data_type_t dt)
{
	dnnl_dims_t dims = { a, b, c, d };
	DNN(dnnl_memory_desc_init_by_tag(md, 4, dims, dt, tag));
}

void
md4(dnnl_memory_desc_t *md, int a, int b, int c, int d, dnnl_format_tag_t tag)
{
	md4t(md, a, b, c, d, tag, dnnl_f32);
}

dnnl_memory_t
mem(struct dctx *d, const dnnl_memory_desc_t *md, void *handle)
{
	dnnl_memory_t m;
	DNN(dnnl_memory_create(&m, md, d->eng, handle));
	return m;
}

void
handle(dnnl_memory_t m, const void *p)
{
	DNN(dnnl_memory_set_data_handle(m, (void *)p));
}

/* execute p with args and, when it has one, its view of the scratchpad */
void
run(struct dctx *d, dnnl_primitive_t p, dnnl_memory_t sp, int nargs, const dnnl_exec_arg_t *args)
{
	dnnl_exec_arg_t all[12];

	memcpy(all, args, (size_t)nargs * sizeof *args);
	if (sp) {
		handle(sp, d->scratch);
		all[nargs++] = (dnnl_exec_arg_t){ DNNL_ARG_SCRATCHPAD, sp };
	}
	DNN(dnnl_primitive_execute(p, d->stream, nargs, all));
	DNN(dnnl_stream_wait(d->stream));
}

/* attributes asking for our scratchpad, with a post-op or none */
dnnl_primitive_attr_t
attr_new(dnnl_post_ops_t po)
{
	dnnl_primitive_attr_t attr;

	DNN(dnnl_primitive_attr_create(&attr));
	DNN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
	if (po) {
		DNN(dnnl_primitive_attr_set_post_ops(attr, po));
		dnnl_post_ops_destroy(po);
	}
	return attr;
}

/* the primitive of pd and its scratchpad view (NULL when it needs none);
 * the shared scratchpad grows to the largest */
dnnl_primitive_t
prim(struct dctx *d, const_dnnl_primitive_desc_t pd, dnnl_memory_t *sp)
{
	const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
	size_t need = md ? dnnl_memory_desc_get_size(md) : 0;
	dnnl_primitive_t p;

	DNN(dnnl_primitive_create(&p, pd));
	*sp = NULL;
	if (!need)
		return p;
	if (need > d->scratch_size) {
		free(d->scratch);
		d->scratch = emalloc(need);
		d->scratch_size = need;
	}
	*sp = mem(d, md, DNNL_MEMORY_NONE);
	return p;
}

/* a reorder from one memory to another (sum: added to what is there) */
dnnl_primitive_t
reorder(struct dctx *d, dnnl_memory_t from, dnnl_memory_t to, int sum)
{
	const dnnl_memory_desc_t *a, *b;
	dnnl_primitive_desc_t pd;
	dnnl_primitive_attr_t attr = NULL;
	dnnl_primitive_t p;

	DNN(dnnl_memory_get_memory_desc(from, &a));
	DNN(dnnl_memory_get_memory_desc(to, &b));
	if (sum) {
		dnnl_post_ops_t po;
		DNN(dnnl_post_ops_create(&po));
		DNN(dnnl_post_ops_append_sum(po, 1.0f));
		DNN(dnnl_primitive_attr_create(&attr));
		DNN(dnnl_primitive_attr_set_post_ops(attr, po));
		dnnl_post_ops_destroy(po);
	}
	DNN(dnnl_reorder_primitive_desc_create(&pd, a, d->eng, b, d->eng, attr));
	DNN(dnnl_primitive_create(&p, pd));
	dnnl_primitive_desc_destroy(pd);
	if (attr)
		dnnl_primitive_attr_destroy(attr);
	return p;
}

/* weights memory in the layout a primitive asked for: the user's own when
 * it is the same, else a buffer of its own and a reorder into it */
dnnl_memory_t
weights_for(struct dctx *d, const dnnl_memory_desc_t *want, dnnl_memory_t user, dnnl_primitive_t *re)
{
	const dnnl_memory_desc_t *have;

	DNN(dnnl_memory_get_memory_desc(user, &have));
	*re = NULL;
	if (dnnl_memory_desc_equal(want, have))
		return user;
	dnnl_memory_t m = mem(d, want, DNNL_MEMORY_ALLOCATE);
	*re = reorder(d, user, m, 0);
	return m;
}

void
note_impl(struct dctx *d, const_dnnl_primitive_desc_t pd, const char *what)
{
	const char *impl = NULL;
	char one[128];
	size_t k = strlen(d->kernels);

	if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success || !impl)
		return;
	snprintf(one, sizeof one, "%s %s", what, impl);
	if (strstr(d->kernels, one) || k + strlen(one) + 3 >= sizeof d->kernels)
		return;
	snprintf(d->kernels + k, sizeof d->kernels - k, "%s%s", k ? ", " : "", one);
}

/* a backward primitive's descriptor (weights: of the weights, else of the
 * data), Winograd falling back to direct */
int
bwd_desc(struct dctx *d, dnnl_primitive_desc_t *pd, dnnl_convolution_desc_t *cd, int weights,
         dnnl_alg_kind_t alg, const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *w,
         const dnnl_memory_desc_t *dst, const dnnl_dim_t *strides, const dnnl_dim_t *pl,
         const dnnl_dim_t *pr, const_dnnl_primitive_attr_t attr, const_dnnl_primitive_desc_t fpd)
{
	for (;;) {
		dnnl_status_t s = weights
			? dnnl_convolution_backward_weights_desc_init(cd, alg, src, w, NULL, dst, strides, pl, pr)
			: dnnl_convolution_backward_data_desc_init(cd, alg, src, w, dst, strides, pl, pr);
		if (s == dnnl_success && dnnl_primitive_desc_create(pd, cd, attr, d->eng, fpd) == dnnl_success)
			return 0;
		if (alg == dnnl_convolution_direct)
			return -1;
		alg = dnnl_convolution_direct;
	}
}

/* a memory object like the one a primitive's descriptor names */
dnnl_memory_t
mem_like(struct dctx *d, dnnl_primitive_t p, dnnl_query_t what)
{
	const_dnnl_primitive_desc_t pd;
	const dnnl_memory_desc_t *md;

	DNN(dnnl_primitive_get_primitive_desc(p, &pd));
	md = dnnl_primitive_desc_query_md(pd, what, 0);
	return md && dnnl_memory_desc_get_size(md) ? mem(d, md, DNNL_MEMORY_NONE) : NULL;
}

void
destroy_all(dnnl_primitive_t *ps, size_t np, dnnl_memory_t *ms, size_t nm)
{
	for (size_t i = 0; i < np; i++)
		if (ps[i])
			dnnl_primitive_destroy(ps[i]);
	for (size_t i = 0; i < nm; i++)
		if (ms[i])
			dnnl_memory_destroy(ms[i]);
}

void
conv_free(struct conv_prims *p)
{
	dnnl_primitive_t ps[] = { p->fwd, p->bwd_data, p->bwd_w, p->to_fwd_w, p->to_bwd_w, p->from_dw };
	/* the weights in a primitive's layout, when they are not the user's */
	dnnl_memory_t ws[] = { p->w_fwd != p->w_user ? p->w_fwd : NULL,
		               p->w_bwd != p->w_user && p->w_bwd != p->w_fwd ? p->w_bwd : NULL };
	dnnl_memory_t ms[] = { p->w_user, p->dw, p->dw_user, p->src, p->dst, p->bias, p->diff_src, p->diff_dst,
		               p->sp_fwd, p->sp_bwd_data, p->sp_bwd_w };
	destroy_all(ps, sizeof ps / sizeof *ps, ws, 2);
	destroy_all(NULL, 0, ms, sizeof ms / sizeof *ms);
	memset(p, 0, sizeof *p);
}

int
conv_make(struct dctx *d, const struct convspec *c, struct conv_prims *p, int mb, int train, const char *what)
{
	dnnl_memory_desc_t src, dst, wany, wuser, bias, dsrc, ddst, dwany;
	dnnl_dims_t strides = { c->stride, c->stride }, pl = { c->pad, c->pad };
	/* the right padding that gives net.h's output size exactly */
	dnnl_dims_t pr = { (c->oh - 1) * c->stride + c->k - c->ih - c->pad,
	                   (c->ow - 1) * c->stride + c->k - c->iw - c->pad };
	dnnl_convolution_desc_t cd;
	dnnl_primitive_desc_t fpd = NULL, pd;
	dnnl_primitive_attr_t attr, battr;
	dnnl_post_ops_t po = NULL;

	/* in bfloat16 the input, the weights and the output's gradient are
	 * rounded to it, the products summed in float32 and written as float32
	 * (z and the gradients our passes read, the weight gradient Adam
	 * adds) */
	dnnl_data_type_t dt = c->h ? dnnl_bf16 : dnnl_f32;
	dnnl_alg_kind_t afwd = c->afwd, abwd = c->abwd;
	md4t(&src, mb, c->ic, c->ih, c->iw, c->stag, dt);
	md4(&dsrc, mb, c->ic, c->ih, c->iw, c->stag);
	md4(&dst, mb, c->oc, c->oh, c->ow, c->dtag);
	md4t(&ddst, mb, c->oc, c->oh, c->ow, c->dtag, dt);
	md4(&wuser, c->oc, c->ic, c->k, c->k, dnnl_oihw);
	md4t(&wany, c->oc, c->ic, c->k, c->k, dnnl_format_tag_any, dt);
	md4(&dwany, c->oc, c->ic, c->k, c->k, dnnl_format_tag_any);
	dnnl_dims_t bd = { c->oc };
	DNN(dnnl_memory_desc_init_by_tag(&bias, 1, bd, dnnl_f32, dnnl_a));
again:
	if (dnnl_convolution_forward_desc_init(&cd, train ? dnnl_forward_training : dnnl_forward_inference,
	                                       afwd, &src, &wany, train ? NULL : &bias,
	                                       &dst, strides, pl, pr) != dnnl_success)
		return -1;
	if (!train && (c->sum || c->relu)) {
		DNN(dnnl_post_ops_create(&po));
		if (c->sum)
			DNN(dnnl_post_ops_append_sum(po, 1.0f));
		if (c->relu)
			DNN(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0, 0));
	}
	attr = attr_new(po);
	battr = attr_new(NULL);
	dnnl_status_t s = dnnl_primitive_desc_create(&fpd, &cd, attr, d->eng, NULL);
	dnnl_primitive_attr_destroy(attr);
	if (s != dnnl_success) {
		dnnl_primitive_attr_destroy(battr);
		if (afwd == dnnl_convolution_winograd) {
			afwd = dnnl_convolution_direct;
			goto again;
		}
		return -1;
	}
	memset(p, 0, sizeof *p);
	p->mb = mb;
	note_impl(d, fpd, what);
	p->fwd = prim(d, fpd, &p->sp_fwd);
	p->w_user = mem(d, &wuser, DNNL_MEMORY_NONE);
	p->src = mem(d, &src, DNNL_MEMORY_NONE);
	p->dst = mem(d, &dst, DNNL_MEMORY_NONE);
	p->w_fwd = weights_for(d, dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 0), p->w_user,
	                       &p->to_fwd_w);
	if (!train) {
		p->bias = mem(d, &bias, DNNL_MEMORY_NONE);
		dnnl_primitive_desc_destroy(fpd);
		dnnl_primitive_attr_destroy(battr);
		return 0;
	}
	if (!c->first) {
		if (bwd_desc(d, &pd, &cd, 0, abwd, &dsrc, &wany, &ddst, strides, pl, pr, battr, fpd) < 0)
			goto fail;
		note_impl(d, pd, "conv-bwd-data");
		p->bwd_data = prim(d, pd, &p->sp_bwd_data);
		const dnnl_memory_desc_t *wm = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
		const dnnl_memory_desc_t *fm;
		DNN(dnnl_memory_get_memory_desc(p->w_fwd, &fm));
		if (dnnl_memory_desc_equal(wm, fm))
			p->w_bwd = p->w_fwd;
		else
			p->w_bwd = weights_for(d, wm, p->w_user, &p->to_bwd_w);
		p->diff_src = mem(d, &dsrc, DNNL_MEMORY_NONE);
		dnnl_primitive_desc_destroy(pd);
	}
	if (bwd_desc(d, &pd, &cd, 1, abwd, &src, &dwany, &ddst, strides, pl, pr, battr, fpd) < 0)
		goto fail;
	note_impl(d, pd, "conv-bwd-weights");
	p->bwd_w = prim(d, pd, &p->sp_bwd_w);
	p->dw = mem(d, dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 0), DNNL_MEMORY_ALLOCATE);
	p->dw_user = mem(d, &wuser, DNNL_MEMORY_NONE);
	p->from_dw = reorder(d, p->dw, p->dw_user, 1);
	p->diff_dst = mem(d, &ddst, DNNL_MEMORY_NONE);
	dnnl_primitive_desc_destroy(pd);
	dnnl_primitive_desc_destroy(fpd);
	dnnl_primitive_attr_destroy(battr);
	return 0;
fail:
	dnnl_primitive_desc_destroy(fpd);
	dnnl_primitive_attr_destroy(battr);
	conv_free(p);
	return -1;
}

void
bnfold_open(struct bnfold *f, const struct layer *l)
{
	f->w = emalloc((size_t)l->oc * l->ic * l->k * l->k * sizeof(float));
	f->b = emalloc((size_t)l->oc * sizeof(float));
	f->kept = ecalloc(l->pcount + 2 * (size_t)l->oc, sizeof(float));
	f->stale = 1;
}

void
bnfold_free(struct bnfold *f)
{
	free(f->w);
	free(f->b);
	free(f->kept);
	memset(f, 0, sizeof *f);
}

void
bnfold_run(struct dctx *d, struct bnfold *f, const struct net *n, const struct layer *l, struct conv_prims *p)
{
	size_t per = (size_t)l->ic * l->k * l->k;
	float *keep = f->kept, *st = keep + l->pcount;

	if (!f->stale && !memcmp(keep, n->params + l->pstart, l->pcount * sizeof(float)) &&
	    !memcmp(st, n->stats + l->rmean, l->oc * sizeof(float)) &&
	    !memcmp(st + l->oc, n->stats + l->rvar, l->oc * sizeof(float)))
		return;
	f->stale = 0;
	memcpy(keep, n->params + l->pstart, l->pcount * sizeof(float));
	memcpy(st, n->stats + l->rmean, l->oc * sizeof(float));
	memcpy(st + l->oc, n->stats + l->rvar, l->oc * sizeof(float));
	for (int o = 0; o < l->oc; o++) {
		float sc, sh;
		bn_affine(n->stats[l->rmean + o], n->stats[l->rvar + o], n->params[l->gamma + o], n->params[l->beta + o],
		          NET_BN_EPS, &sc, &sh);
		for (size_t q = 0; q < per; q++)
			f->w[o * per + q] = n->params[l->w + o * per + q] * sc;
		f->b[o] = sh;
	}
	handle(p->w_user, f->w);
	handle(p->bias, f->b);
	if (p->to_fwd_w)
		run(d, p->to_fwd_w, NULL, 2, (dnnl_exec_arg_t[]){ { DNNL_ARG_FROM, p->w_user }, { DNNL_ARG_TO, p->w_fwd } });
}

/* (P,C) or nChw16c <-> (C,P), one image */
VEC void
to_planes(float *dst, const float *src, int P, int C, int blk)
{
	for (int c = 0; c < C; c++)
		for (int p = 0; p < P; p++)
			dst[(size_t)c * P + p] = src[elem(blk, c, p, C, P)];
}

VEC void
to_pixels(float *dst, const float *src, int P, int C, int blk)
{
	for (int c = 0; c < C; c++)
		for (int p = 0; p < P; p++)
			dst[elem(blk, c, p, C, P)] = src[(size_t)c * P + p];
}

const float *
input_pixels(float *xin, const float *x, int b, int C, int P)
{
	size_t px = (size_t)P * C;

	if (!xin)
		return x;
#pragma omp parallel for schedule(static)
	for (int j = 0; j < b; j++)
		to_pixels(xin + j * px, x + j * px, P, C, 0);
	return xin;
}
