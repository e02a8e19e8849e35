/*
 * import.c - onnx.h's onnx_import: an ONNX graph of what osteo's engine
 * runs (convolutions with batch norm, with or without a ReLU, residual
 * shortcuts, 2x2 max pooling, global average pooling, a flatten, dense
 * layers, a clinical input joined by Concat, dropout) read node by node in
 * the graph's order (ONNX keeps it topological) into a net.h spec and its
 * weights.  The stack's value is the last layer's output; a node that reads
 * an earlier layer's output is a route to it, an Add of the stack's value
 * and an earlier one an add.  What the
 * engine cannot run is refused by name, node and op, never approximated:
 * osteo's layers are the reference, and a model that imported would give
 * the file's answers.
 */
#include "onnx.h"
#include "common/base/util.h"
#include "build/gen/onnx.pb-c.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "raw_data is little endian: read it byte by byte on this machine"
#endif

/* a layer read from the graph, waiting for net_new's offsets */
struct ilayer {
	enum ltype type;
	int branch;              /* a layer of the clinical branch */
	const float *w, *b, *gamma, *beta, *mean, *var;   /* NULL: absent */
	int transposed;          /* dense weights stored (ic, oc) */
	int oc, ic, k, stride;
	int64_t pads[4];
	float eps, p;
	const char *node;        /* the node that made it, for messages */
};

struct imp {
	const char *path;
	Onnx__ModelProto *mp;
	const Onnx__GraphProto *g;
	sigjmp_buf refused;      /* where refuse() goes back to, its message in err */
	char err[640];
	/* float copies of tensors kept as raw_data, freed at the end */
	float **owned;
	size_t nowned, capowned;
	struct ilayer l[NET_MAXLAYERS + NET_MAXCLIN];
	int n;
	char spec[4096];
	/* the image layers' outputs by value name, for route and add */
	const char *vname[NET_MAXLAYERS];
	int vlayer[NET_MAXLAYERS], nv, nimg;
	int c, h, w, nclin;
	const char *image, *clinical;   /* the graph's input names */
	int newhead;              /* the file's classifier is left out for one of --classes' size */
};

/* the import ends: what was wrong, with the node when there is one */
static void __attribute__((noreturn, format(printf, 3, 4)))
refuse(const struct imp *cim, const Onnx__NodeProto *nd, const char *fmt, ...)
{
	struct imp *im = (struct imp *)cim;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (nd)
		snprintf(im->err, sizeof im->err, "node '%s' (%s): %s", nd->name && *nd->name ? nd->name : "(unnamed)",
		         nd->op_type ? nd->op_type : "?", msg);
	else
		snprintf(im->err, sizeof im->err, "%s", msg);
	siglongjmp(im->refused, 1);
}

/* an initialiser, a Constant node's value, or an Identity of one of
 * those, by name: PyTorch's exporter gives equal initialisers one tensor
 * and each reader an Identity of it (depth bounds a file whose Identities
 * go round in a circle) */
static const Onnx__TensorProto *
tensor_at(const struct imp *im, const char *name, int depth)
{
	const Onnx__GraphProto *g = im->g;

	for (size_t i = 0; i < g->n_initializer; i++)
		if (g->initializer[i]->name && !strcmp(g->initializer[i]->name, name))
			return g->initializer[i];
	for (size_t i = 0; i < g->n_node; i++) {
		const Onnx__NodeProto *nd = g->node[i];
		if (!nd->op_type || nd->n_output != 1 || strcmp(nd->output[0], name))
			continue;
		if (!strcmp(nd->op_type, "Constant"))
			for (size_t a = 0; a < nd->n_attribute; a++)
				if (!strcmp(nd->attribute[a]->name, "value") && nd->attribute[a]->t)
					return nd->attribute[a]->t;
		if (!strcmp(nd->op_type, "Identity") && nd->n_input == 1 && depth < 16)
			return tensor_at(im, nd->input[0], depth + 1);
	}
	return NULL;
}

static const Onnx__TensorProto *
tensor(const struct imp *im, const char *name)
{
	return tensor_at(im, name, 0);
}

/* the number of values a tensor's dims make, 0 when they overflow the
 * engine's bounds */
static size_t
count(const Onnx__TensorProto *t)
{
	size_t n = 1;

	for (size_t i = 0; i < t->n_dims; i++) {
		if (t->dims[i] < 0 || (uint64_t)t->dims[i] > NET_MAXPARAMS || !mul_ok(n, (size_t)t->dims[i], &n) ||
		    n > NET_MAXPARAMS)
			return 0;
	}
	return n;
}

/* a float tensor of the given rank and, where want[i] >= 0, those dims */
static const float *
floats(struct imp *im, const Onnx__NodeProto *nd, const char *name, int rank, const int64_t *want)
{
	const Onnx__TensorProto *t = name && *name ? tensor(im, name) : NULL;

	if (!t)
		refuse(im, nd, "input '%s' is not a constant (weights must be initialisers)", name ? name : "");
	if (!t->has_data_type || t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
		refuse(im, nd, "tensor '%s' is not float32 (data type %d)", name, (int)t->data_type);
	if ((int)t->n_dims != rank)
		refuse(im, nd, "tensor '%s' has %zu dimensions, not %d", name, t->n_dims, rank);
	for (int i = 0; i < rank; i++)
		if (want && want[i] >= 0 && t->dims[i] != want[i])
			refuse(im, nd, "tensor '%s' is %lld along dimension %d where the graph needs %lld", name,
			       (long long)t->dims[i], i, (long long)want[i]);
	size_t n = count(t);
	if (!n)
		refuse(im, nd, "tensor '%s' is empty or too large", name);
	if (t->n_float_data == n)
		return t->float_data;
	if (t->has_raw_data && t->raw_data.len == n * sizeof(float)) {
		float *f = emalloc(n * sizeof *f);
		memcpy(f, t->raw_data.data, n * sizeof *f);
		egrow((void **)&im->owned, &im->capowned, (im->nowned + 1) * sizeof *im->owned);
		im->owned[im->nowned++] = f;
		return f;
	}
	refuse(im, nd, "tensor '%s' holds %zu values where its dims say %zu", name,
	       t->n_float_data ? t->n_float_data : (size_t)t->raw_data.len / sizeof(float), n);
}

static const Onnx__AttributeProto *
attr(const Onnx__NodeProto *nd, const char *name)
{
	for (size_t a = 0; a < nd->n_attribute; a++)
		if (nd->attribute[a]->name && !strcmp(nd->attribute[a]->name, name))
			return nd->attribute[a];
	return NULL;
}

static int64_t
attr_int(const Onnx__NodeProto *nd, const char *name, int64_t dflt)
{
	const Onnx__AttributeProto *a = attr(nd, name);

	return a && a->has_i ? a->i : dflt;
}

static float
attr_float(const Onnx__NodeProto *nd, const char *name, float dflt)
{
	const Onnx__AttributeProto *a = attr(nd, name);

	return a && a->has_f ? a->f : dflt;
}

/* a list attribute of n values, all of them v (absent: as if so) */
static int
ints_all(const Onnx__NodeProto *nd, const char *name, size_t n, int64_t v)
{
	const Onnx__AttributeProto *a = attr(nd, name);

	if (!a)
		return 1;
	if (a->n_ints != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (a->ints[i] != v)
			return 0;
	return 1;
}

/* every attribute of nd is one of the names allowed (a comma list) */
static void
only_attrs(const struct imp *im, const Onnx__NodeProto *nd, const char *allowed)
{
	for (size_t a = 0; a < nd->n_attribute; a++) {
		const char *name = nd->attribute[a]->name ? nd->attribute[a]->name : "";
		size_t len = strlen(name);
		int ok = 0;
		for (const char *p = allowed; *p && !ok;) {
			size_t w = strcspn(p, ",");
			ok = len && w == len && !strncmp(p, name, len);
			p += w + (p[w] == ',');
		}
		if (!ok)
			refuse(im, nd, "attribute '%s' is not one osteo reads (%s)", name, *allowed ? allowed : "none");
	}
}

static int
is(const Onnx__NodeProto *nd, const char *op)
{
	return nd->op_type && !strcmp(nd->op_type, op);
}

static struct ilayer *
add(struct imp *im, enum ltype t, const Onnx__NodeProto *nd)
{
	if (im->n == (int)(sizeof im->l / sizeof *im->l) || im->nimg == NET_MAXLAYERS - 1)
		refuse(im, nd, "more than %d layers", NET_MAXLAYERS - 1);
	struct ilayer *l = &im->l[im->n++];
	memset(l, 0, sizeof *l);
	l->type = t;
	l->node = nd->name;
	im->nimg += t != L_CLIN;
	return l;
}

/* value name is the output of the image layer added last */
static void
produced(struct imp *im, const char *name)
{
	if (im->nv < NET_MAXLAYERS) {
		im->vname[im->nv] = name;
		im->vlayer[im->nv++] = im->nimg - 1;
	}
}

/* the image layer (an index in l[]) whose output value name is, or -1 */
static int
layer_of(const struct imp *im, const char *name)
{
	for (int i = im->nv - 1; i >= 0; i--)
		if (!strcmp(im->vname[i], name))
			return im->vlayer[i];
	return -1;
}

static void
word(struct imp *im, const char *fmt, ...)
{
	size_t k = strlen(im->spec);
	va_list ap;

	if (k)
		im->spec[k++] = ',';
	va_start(ap, fmt);
	vsnprintf(im->spec + k, sizeof im->spec - k, fmt, ap);
	va_end(ap);
}

/* a convolution layer's word in the spec: conv or cbn, N[:K[:S]] */
static void
conv_word(struct imp *im, enum ltype t, const struct ilayer *l)
{
	word(im, l->stride > 1 ? "%s:%d:%d:%d" : l->k != 3 ? "%s:%d:%d" : "%s:%d", layer_word(t), l->oc, l->k, l->stride);
}

/* the graph's image input (rank 4, fixed channels and sides) and its
 * clinical one (rank 2), each not an initialiser */
static void
inputs(struct imp *im)
{
	const Onnx__GraphProto *g = im->g;

	for (size_t i = 0; i < g->n_input; i++) {
		const Onnx__ValueInfoProto *v = g->input[i];
		if (!v->name || tensor(im, v->name))
			continue;
		const Onnx__TypeProto__Tensor *t = v->type && v->type->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
		                                           ? v->type->tensor_type : NULL;
		if (!t || !t->shape || (t->has_elem_type && t->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT))
			refuse(im, NULL, "input '%s' is not a float tensor of known rank", v->name);
		int64_t d[4] = { 0 };
		for (size_t k = 1; k < t->shape->n_dim && k < 4; k++) {
			const Onnx__TensorShapeProto__Dimension *dm = t->shape->dim[k];
			d[k] = dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ? dm->dim_value : -1;
			if (d[k] < 1 || d[k] > NET_MAXSIDE)
				refuse(im, NULL, "input '%s': dimension %zu is not a fixed size from 1 to %d", v->name, k,
				       NET_MAXSIDE);
		}
		if (t->shape->n_dim == 4 && !im->image) {
			im->image = v->name;
			im->c = (int)d[1], im->h = (int)d[2], im->w = (int)d[3];
		} else if (t->shape->n_dim == 2 && !im->clinical) {
			im->clinical = v->name;
			im->nclin = (int)d[1];
		} else
			refuse(im, NULL, "input '%s' of rank %zu is neither the image (N,C,H,W) nor a clinical vector (N,K)",
			       v->name, t->shape->n_dim);
	}
	if (!im->image)
		refuse(im, NULL, "no image input of rank 4 (N,C,H,W)");
}

/* the dense layer a Gemm or MatMul starts, weights (oc, ic) or (ic, oc) */
static struct ilayer *
dense(struct imp *im, const Onnx__NodeProto *nd, int branch)
{
	struct ilayer *l = add(im, L_DENSE, nd);
	const Onnx__TensorProto *t = nd->n_input > 1 ? tensor(im, nd->input[1]) : NULL;

	if (!t || t->n_dims != 2)
		refuse(im, nd, "its weights '%s' are not a constant matrix", nd->n_input > 1 ? nd->input[1] : "");
	l->branch = branch;
	if (is(nd, "Gemm")) {
		only_attrs(im, nd, "alpha,beta,transA,transB");
		if (attr_int(nd, "transA", 0) || attr_float(nd, "alpha", 1) != 1 || attr_float(nd, "beta", 1) != 1)
			refuse(im, nd, "transA, alpha or beta other than 0, 1 and 1");
		l->transposed = !attr_int(nd, "transB", 0);
	} else
		l->transposed = 1;
	l->oc = (int)(l->transposed ? t->dims[1] : t->dims[0]);
	l->ic = (int)(l->transposed ? t->dims[0] : t->dims[1]);
	l->w = floats(im, nd, nd->input[1], 2, NULL);
	if (nd->n_input > 2 && *nd->input[2])
		l->b = floats(im, nd, nd->input[2], 1, (int64_t[]){ l->oc });
	return l;
}

/*
 * The nodes in order.  cur is the image path's current value, clin the
 * clinical path's; open is the layer whose ReLU (a convolution's, or its
 * batch norm first) or bias (a MatMul's) may still come.
 */
static void
walk(struct imp *im, int *nclasses)
{
	const Onnx__GraphProto *g = im->g;
	const char *cur = im->image, *clin = im->clinical;
	struct ilayer *open = NULL;
	int flat = 0, fused = 0, ended = 0, added = 0;
	for (size_t i = 0; i < g->n_node; i++) {
		const Onnx__NodeProto *nd = g->node[i];
		const char *in0 = nd->n_input ? nd->input[0] : "", *out = nd->n_output ? nd->output[0] : "";
		if (nd->domain && *nd->domain && strcmp(nd->domain, "ai.onnx"))
			refuse(im, nd, "domain '%s' is not ONNX's own", nd->domain);
		/* constants, and Identities of them, are read where they are used */
		if (is(nd, "Constant") || (is(nd, "Identity") && nd->n_input == 1 && tensor(im, in0)))
			continue;
		if (ended)
			refuse(im, nd, "comes after the class scores' Softmax");
		int reads_cur = !strcmp(in0, cur), relu = is(nd, "Relu") && reads_cur;
		/* osteo's add ends in a ReLU; so must the file's */
		if (added && !relu)
			refuse(im, nd, "follows an Add of two activations, which osteo ends in a ReLU");
		/* a convolution whose output goes on without a ReLU is cbn */
		if (open && open->type == L_CONV && !relu && !(is(nd, "BatchNormalization") && reads_cur && !open->gamma)) {
			open->type = L_CBN;
			conv_word(im, L_CBN, open);
			produced(im, cur);
			open = NULL;
		}
		int shortcut = is(nd, "Add") && nd->n_input == 2 && !tensor(im, nd->input[0]) && !tensor(im, nd->input[1]);
		int on_clin = clin && !strcmp(in0, clin) && !reads_cur;
		if (!on_clin && !reads_cur && !is(nd, "Concat") && !shortcut) {
			/* an earlier layer's output: a route to it */
			int j = layer_of(im, in0);
			if (j < 0 || flat || open)
				refuse(im, nd, "reads '%s', which is not the output of an earlier image layer", in0);
			add(im, L_ROUTE, nd)->oc = j;
			word(im, "%s:%d", layer_word(L_ROUTE), j + 1);
			cur = in0;
		}
		if (is(nd, "Conv")) {
			only_attrs(im, nd, "kernel_shape,strides,pads,dilations,group,auto_pad");
			const Onnx__AttributeProto *ks = attr(nd, "kernel_shape"), *st = attr(nd, "strides"), *pd = attr(nd, "pads");
			const Onnx__AttributeProto *ap = attr(nd, "auto_pad");
			if (flat || on_clin)
				refuse(im, nd, "a convolution after the features were flattened");
			if (open)
				refuse(im, nd, "the layer before it has no ReLU: osteo's layers end in one");
			if (attr_int(nd, "group", 1) != 1 || !ints_all(nd, "dilations", 2, 1) ||
			    (ap && ap->has_s && !(ap->s.len == 6 && !memcmp(ap->s.data, "NOTSET", 6))))
				refuse(im, nd, "groups, dilations or auto_pad, which osteo's convolutions do not have");
			struct ilayer *l = add(im, L_CONV, nd);
			const Onnx__TensorProto *wt = nd->n_input > 1 ? tensor(im, nd->input[1]) : NULL;
			if (!wt || wt->n_dims != 4 || wt->dims[2] != wt->dims[3])
				refuse(im, nd, "weights that are not a constant (OC, IC, K, K)");
			l->oc = (int)wt->dims[0];
			l->ic = (int)wt->dims[1];
			l->k = (int)wt->dims[2];
			if ((ks && (ks->n_ints != 2 || ks->ints[0] != l->k || ks->ints[1] != l->k)))
				refuse(im, nd, "kernel_shape differs from the weights'");
			l->stride = st && st->n_ints == 2 ? (int)st->ints[0] : 1;
			if (st && (st->n_ints != 2 || st->ints[0] != st->ints[1]))
				refuse(im, nd, "strides that differ between the axes");
			for (int k = 0; k < 4; k++)
				l->pads[k] = pd && pd->n_ints == 4 ? pd->ints[k] : 0;
			l->w = floats(im, nd, nd->input[1], 4, NULL);
			if (nd->n_input > 2 && *nd->input[2])
				l->b = floats(im, nd, nd->input[2], 1, (int64_t[]){ l->oc });
			l->eps = NET_BN_EPS;
			open = l;
		} else if (is(nd, "BatchNormalization")) {
			only_attrs(im, nd, "epsilon,momentum,spatial,training_mode");
			if (!open || open->type != L_CONV || open->gamma)
				refuse(im, nd, "batch norm that does not follow a convolution");
			if (attr_int(nd, "training_mode", 0) || attr_int(nd, "spatial", 1) != 1 || nd->n_input != 5 ||
			    nd->n_output != 1)
				refuse(im, nd, "batch norm in training mode or not per channel");
			const int64_t c[1] = { open->oc };
			open->gamma = floats(im, nd, nd->input[1], 1, c);
			open->beta = floats(im, nd, nd->input[2], 1, c);
			open->mean = floats(im, nd, nd->input[3], 1, c);
			open->var = floats(im, nd, nd->input[4], 1, c);
			open->eps = attr_float(nd, "epsilon", 1e-5f);
		} else if (is(nd, "Relu")) {
			only_attrs(im, nd, "");
			if (added) {
				produced(im, out);
				added = 0;
				cur = out;
				continue;
			}
			if (!open)
				refuse(im, nd, "a ReLU that does not end a convolution, an Add or a dense layer");
			if (open->type == L_CONV) {
				conv_word(im, L_CONV, open);
				produced(im, out);
			} else
				word(im, "%s:%d", layer_word(open->branch ? L_CLIN : L_DENSE), open->oc);
			open = NULL;
		} else if (is(nd, "MaxPool")) {
			only_attrs(im, nd, "kernel_shape,strides,pads,ceil_mode,dilations,storage_order,auto_pad");
			if (open && open->type == L_CONV)
				refuse(im, nd, "the convolution before it has no ReLU: osteo's end in batch norm and ReLU");
			const Onnx__AttributeProto *ks = attr(nd, "kernel_shape"), *st = attr(nd, "strides"), *pd = attr(nd, "pads");
			if (!ks || ks->n_ints != 2 || ks->ints[0] != ks->ints[1] || ks->ints[0] < 1 || ks->ints[0] > 15 ||
			    (st && (st->n_ints != 2 || st->ints[0] != st->ints[1] || st->ints[0] < 1 || st->ints[0] > 8)) ||
			    (pd && pd->n_ints != 4) || attr_int(nd, "ceil_mode", 0) || !ints_all(nd, "dilations", 2, 1) ||
			    attr_int(nd, "storage_order", 0))
				refuse(im, nd, "max pooling other than square windows with equal strides and no dilation");
			int k = (int)ks->ints[0], s = st ? (int)st->ints[0] : 1;
			if (k == 2 && s == 2 && ints_all(nd, "pads", 4, 0)) {
				add(im, L_POOL, nd);
				word(im, "%s", layer_word(L_POOL));
			} else {
				struct ilayer *l = add(im, L_MAXPOOL, nd);
				l->k = k;
				l->stride = s;
				for (int q = 0; q < 4; q++)
					l->pads[q] = pd ? pd->ints[q] : 0;
				word(im, "%s:%d:%d", layer_word(L_MAXPOOL), k, s);
			}
			produced(im, out);
		} else if (is(nd, "AveragePool")) {
			only_attrs(im, nd, "kernel_shape,strides,pads,ceil_mode,count_include_pad,auto_pad");
			if (open && open->type == L_CONV)
				refuse(im, nd, "the convolution before it has no ReLU: osteo's end in batch norm and ReLU");
			const Onnx__AttributeProto *ks = attr(nd, "kernel_shape"), *st = attr(nd, "strides"), *pd = attr(nd, "pads");
			const Onnx__AttributeProto *ap = attr(nd, "auto_pad");
			if (!ks || ks->n_ints != 2 || ks->ints[0] != ks->ints[1] || ks->ints[0] < 1 || ks->ints[0] > 15 ||
			    (st && (st->n_ints != 2 || st->ints[0] != st->ints[1] || st->ints[0] < 1 || st->ints[0] > 8)) ||
			    (pd && pd->n_ints != 4) || attr_int(nd, "ceil_mode", 0) ||
			    (ap && ap->has_s && !(ap->s.len == 6 && !memcmp(ap->s.data, "NOTSET", 6))))
				refuse(im, nd, "average pooling other than square windows with equal strides");
			/* counting the padding is the same where there is none */
			if (attr_int(nd, "count_include_pad", 0) && !ints_all(nd, "pads", 4, 0))
				refuse(im, nd, "average pooling that counts its padding (count_include_pad); osteo's leaves it out");
			struct ilayer *l = add(im, L_AVGPOOL, nd);
			l->k = (int)ks->ints[0];
			l->stride = st ? (int)st->ints[0] : 1;
			for (int q = 0; q < 4; q++)
				l->pads[q] = pd ? pd->ints[q] : 0;
			word(im, "%s:%d:%d", layer_word(L_AVGPOOL), l->k, l->stride);
			produced(im, out);
		} else if (is(nd, "GlobalAveragePool")) {
			if (open && open->type == L_CONV)
				refuse(im, nd, "the convolution before it has no ReLU");
			add(im, L_GAP, nd);
			word(im, "%s", layer_word(L_GAP));
			produced(im, out);
		} else if (is(nd, "Flatten") || is(nd, "Reshape")) {
			if (is(nd, "Flatten") && attr_int(nd, "axis", 1) != 1)
				refuse(im, nd, "flattening from an axis other than 1");
			if (is(nd, "Reshape")) {
				const Onnx__TensorProto *s = nd->n_input > 1 ? tensor(im, nd->input[1]) : NULL;
				if (!s || s->n_dims != 1 || s->dims[0] != 2 || s->n_int64_data != 2 ||
				    !(s->int64_data[1] == -1 || s->int64_data[0] == -1 || s->int64_data[0] == 0))
					refuse(im, nd, "a reshape other than to (batch, features)");
			}
			if (open)
				refuse(im, nd, "the layer before it is not finished (no ReLU)");
			flat = 1;
		} else if (is(nd, "Concat")) {
			if (!clin || fused || nd->n_input != 2 || strcmp(nd->input[0], cur) || strcmp(nd->input[1], clin) ||
			    attr_int(nd, "axis", 1) != 1 || open)
				refuse(im, nd, "only the image features followed by the clinical values are joined");
			fused = 1;
			flat = 1;
		} else if (is(nd, "Gemm") || is(nd, "MatMul")) {
			if (open)
				refuse(im, nd, "the layer before it is not finished (no ReLU)");
			if (!on_clin && !flat)
				refuse(im, nd, "a product of the image's maps before a Flatten");
			open = dense(im, nd, on_clin);
		} else if (shortcut) {
			/* the stack's value plus an earlier layer's */
			const char *other = !strcmp(nd->input[0], cur) ? nd->input[1] : !strcmp(nd->input[1], cur) ? nd->input[0] : NULL;
			int j = other && strcmp(other, cur) ? layer_of(im, other) : -1;
			if (j < 0 || flat || open)
				refuse(im, nd, "adds '%s' and '%s', not the stack's value and an earlier image layer's output",
				       nd->input[0], nd->input[1]);
			add(im, L_ADD, nd)->oc = j;
			word(im, "%s:%d", layer_word(L_ADD), j + 1);
			added = 1;
		} else if (is(nd, "Add")) {
			if (nd->n_input != 2 || !tensor(im, nd->input[1]))
				refuse(im, nd, "an addition other than a bias after a MatMul");
			if (!open || open->type != L_DENSE || open->b)
				refuse(im, nd, "a bias that does not follow a MatMul");
			open->b = floats(im, nd, nd->input[1], 1, (int64_t[]){ open->oc });
		} else if (is(nd, "Pad")) {
			/* PyTorch puts one of no width before some average poolings:
			 * the identity; any other width would be counted in the
			 * average, which osteo's pooling leaves out */
			only_attrs(im, nd, "mode,pads,value");
			const Onnx__TensorProto *t = nd->n_input > 1 && *nd->input[1] ? tensor(im, nd->input[1]) : NULL;
			const Onnx__AttributeProto *pa = attr(nd, "pads");
			int zero = (t || pa) && !(t && pa);
			for (size_t q = 0; t && q < t->raw_data.len; q++)
				zero &= !t->raw_data.data[q];
			for (size_t q = 0; t && q < t->n_int64_data; q++)
				zero &= !t->int64_data[q];
			for (size_t q = 0; pa && q < pa->n_ints; q++)
				zero &= !pa->ints[q];
			if (!zero)
				refuse(im, nd, "padding of some width (average pooling that counts its padding, say)");
		} else if (is(nd, "Dropout") || is(nd, "Identity")) {
			if (is(nd, "Dropout") && !on_clin && flat && !open) {
				float p = attr_float(nd, "ratio", 0.5f);
				if (nd->n_input > 1 && *nd->input[1])
					p = *floats(im, nd, nd->input[1], 0, NULL);
				if (!(p >= 0 && p < 1))
					refuse(im, nd, "a dropout ratio of %g", p);
				add(im, L_DROPOUT, nd)->p = p;
				word(im, "%s:%g", layer_word(L_DROPOUT), p);
			}
		} else if (is(nd, "Softmax")) {
			if (!open || open->type != L_DENSE || (attr_int(nd, "axis", 1) != 1 && attr_int(nd, "axis", 1) != -1))
				refuse(im, nd, "a softmax that is not over the last dense layer's class scores");
			ended = 1;
		} else
			refuse(im, nd, "op '%s' is not one osteo reads (Conv, BatchNormalization, Relu, MaxPool, "
			       "AveragePool, GlobalAveragePool, Flatten, Reshape, Concat, Gemm, MatMul, Add, Softmax, Dropout, "
			       "Identity, a Pad of no width)",
			       nd->op_type ? nd->op_type : "");
		/* the output becomes the path's current value */
		if (!nd->n_output || !*out)
			refuse(im, nd, "no output");
		if (on_clin)
			clin = out;
		else
			cur = out;
	}
	if (!open || open->type != L_DENSE || open->branch)
		refuse(im, NULL, "the graph does not end in class scores (a dense layer without ReLU)");
	open->type = L_CLASSIFIER;
	*nclasses = open->oc;
	if (clin && !fused)
		refuse(im, NULL, "the clinical input '%s' is never joined to the image features", im->clinical);
}

/* the file's window (a convolution's or max pool's) is the layer's: net.h
 * pads l->pad at the top and left, and at the bottom and right any padding
 * that gives its output size is the same (a stride never reaches the
 * rest); the file's output size in *oh, *ow */
static int
window_fits(const struct layer *l, const struct ilayer *il, int64_t *oh, int64_t *ow)
{
	*oh = (l->ih + il->pads[0] + il->pads[2] - l->k) / l->stride + 1;
	*ow = (l->iw + il->pads[1] + il->pads[3] - l->k) / l->stride + 1;
	return il->pads[0] == l->pad && il->pads[1] == l->pad && *oh == l->oh && *ow == l->ow;
}

/* each layer's weights into the net net_new made, checked against its shapes */
static void
fill(struct imp *im, struct net *n)
{
	int li = 0, bi = 0;

	for (int i = 0; i < im->n; i++) {
		struct ilayer *il = &im->l[i];
		struct layer *l = il->branch ? &n->cl[bi++] : &n->l[li++];
		if (il->type == L_CONV || il->type == L_CBN) {
			int64_t oh, ow;
			if (!window_fits(l, il, &oh, &ow) || l->ic != il->ic)
				refuse(im, NULL, "node '%s': %d input channels and pads %lld,%lld,%lld,%lld (%lldx%lld out) "
				    "where osteo's conv:%d:%d:%d has %d channels, pads %d at the top and left and %dx%d out",
				    il->node, il->ic, (long long)il->pads[0], (long long)il->pads[1],
				    (long long)il->pads[2], (long long)il->pads[3], (long long)oh, (long long)ow, l->oc, l->k,
				    l->stride, l->ic, l->pad, l->oh, l->ow);
			size_t nw = (size_t)l->oc * l->ic * l->k * l->k;
			memcpy(n->params + l->w, il->w, nw * sizeof(float));
			/* batch norm at osteo's epsilon: the file's difference goes
			 * into the variance; a convolution's bias into the mean; none
			 * at all: the identity */
			for (int c = 0; c < l->oc; c++) {
				double bias = il->b ? il->b[c] : 0;
				n->params[l->gamma + c] = il->gamma ? il->gamma[c] : 1;
				n->params[l->beta + c] = il->gamma ? il->beta[c] : (float)bias;
				n->stats[l->rmean + c] = il->gamma ? (float)(il->mean[c] - bias) : 0;
				n->stats[l->rvar + c] = (float)((il->gamma ? il->var[c] + il->eps : 1.0) - NET_BN_EPS);
				if (!(n->stats[l->rvar + c] + NET_BN_EPS > 0) || !isfinite(n->stats[l->rvar + c]))
					refuse(im, NULL, "node '%s': a variance of %g", il->node, n->stats[l->rvar + c]);
			}
		} else if (il->type == L_MAXPOOL || il->type == L_AVGPOOL) {
			int64_t oh, ow;
			if (!window_fits(l, il, &oh, &ow))
				refuse(im, NULL, "node '%s': pooling padded %lld,%lld,%lld,%lld (%lldx%lld out) where osteo's "
				       "%s:%d:%d pads %d at the top and left and gives %dx%d", il->node,
				       (long long)il->pads[0], (long long)il->pads[1], (long long)il->pads[2],
				       (long long)il->pads[3], (long long)oh, (long long)ow, layer_word(il->type), l->k, l->stride,
				       l->pad, l->oh, l->ow);
		} else if (il->type == L_CLASSIFIER && im->newhead) {
			continue;        /* net_init's, of the size --classes asks */
		} else if (il->type == L_DENSE || il->type == L_CLASSIFIER) {
			if (l->ic != il->ic || l->oc != il->oc)
				refuse(im, NULL, "node '%s': a product of %d inputs to %d where osteo's layer there has %d to %d",
				       il->node, il->ic, il->oc, l->ic, l->oc);
			for (int o = 0; o < l->oc; o++) {
				for (int k = 0; k < l->ic; k++)
					n->params[l->w + (size_t)o * l->ic + k] =
					        il->transposed ? il->w[(size_t)k * l->oc + o] : il->w[(size_t)o * l->ic + k];
				n->params[l->b + o] = il->b ? il->b[o] : 0;
			}
		}
	}
}

/* what the import allocated, whether it ended well or not */
static void
release(struct imp *im)
{
	for (size_t i = 0; i < im->nowned; i++)
		free(im->owned[i]);
	free(im->owned);
	if (im->mp)
		onnx__model_proto__free_unpacked(im->mp, NULL);
	free(im);
}

/* the file whole, bounded: NULL with *why set */
static uint8_t *
slurp(const char *path, size_t *len, const char **why)
{
	struct stat sb;
	FILE *fp = fopen(path, "rb");

	if (!fp)
		die(EX_NOINPUT, "%s: cannot open:", path);
	if (fstat(fileno(fp), &sb) < 0 || sb.st_size <= 0 || (uint64_t)sb.st_size > ONNX_MAX_BYTES) {
		*why = sb.st_size <= 0 ? "empty" : "larger than osteo reads (1 GiB)";
		fclose(fp);
		return NULL;
	}
	*len = (size_t)sb.st_size;
	uint8_t *buf = emalloc(*len);
	if (fread(buf, 1, *len, fp) != *len)
		die(EX_IOERR, "%s: cannot read:", path);
	fclose(fp);
	return buf;
}

/* --gray: the first convolution's weights summed over its 3 input
 * channels, so a gray image gives what it gives in all three */
static void
to_gray(struct imp *im)
{
	struct ilayer *l = &im->l[0];

	if (im->c != 3)
		refuse(im, NULL, "gray input for a network of %d input channels (3 wanted)", im->c);
	if (im->n == 0 || (l->type != L_CONV && l->type != L_CBN) || l->branch || l->ic != 3)
		refuse(im, NULL, "gray input: the network does not begin with a convolution of the image");
	size_t taps = (size_t)l->k * l->k;
	float *w = emalloc((size_t)l->oc * taps * sizeof *w);
	for (int o = 0; o < l->oc; o++)
		for (size_t t = 0; t < taps; t++)
			w[o * taps + t] = l->w[(o * 3 + 0) * taps + t] + l->w[(o * 3 + 1) * taps + t] +
			                  l->w[(o * 3 + 2) * taps + t];
	egrow((void **)&im->owned, &im->capowned, (im->nowned + 1) * sizeof *im->owned);
	im->owned[im->nowned++] = w;
	l->w = w;
	l->ic = 1;
	im->c = 1;
}

int
onnx_import(const char *path, const char *classes, int gray, struct model *m, char *err, size_t errlen)
{
	struct imp *im = ecalloc(1, sizeof *im);
	const char *why = NULL;
	size_t len = 0;

	memset(m, 0, sizeof *m);
	im->path = path;
	uint8_t *buf = slurp(path, &len, &why);
	if (buf) {
		im->mp = onnx__model_proto__unpack(NULL, len, buf);
		free(buf);
	}
	if (sigsetjmp(im->refused, 0)) {
		snprintf(err, errlen, "%s", im->err);
		release(im);
		model_free(m);
		return -1;
	}
	if (why)
		refuse(im, NULL, "%s", why);
	if (!im->mp || !im->mp->graph)
		refuse(im, NULL, "not an ONNX model (truncated, or not protobuf)");
	int64_t opset = -1;
	for (size_t i = 0; i < im->mp->n_opset_import; i++) {
		const Onnx__OperatorSetIdProto *o = im->mp->opset_import[i];
		if (!o->domain || !*o->domain || !strcmp(o->domain, "ai.onnx"))
			opset = o->version;
	}
	if (opset < ONNX_MIN_OPSET || opset > ONNX_MAX_OPSET)
		refuse(im, NULL, "opset %lld; osteo reads opsets %d to %d", (long long)opset, ONNX_MIN_OPSET, ONNX_MAX_OPSET);
	im->g = im->mp->graph;
	inputs(im);
	int nclasses;
	walk(im, &nclasses);
	if (gray)
		to_gray(im);
	/* --classes of another number than the file's: a backbone (ImageNet's
	 * 1000 classes, say) with a new classifier for the task's */
	if (classes)
		classes_parse(&m->classes, classes, "--classes");
	else if (nclasses < 2 || nclasses > MAXCLASSES)
		refuse(im, NULL, "%d class scores; osteo takes 2 to %d: --classes names the task's for a new classifier",
		       nclasses, MAXCLASSES);
	else {
		struct text t = { 0 };
		for (int c = 0; c < nclasses; c++)
			text_add(&t, "%sclass%d", c ? "," : "", c);
		classes_parse(&m->classes, t.s, "the imported classes");
		free(t.s);
	}
	im->newhead = m->classes.n != nclasses;
	const char *nerr;
	struct net *n = net_new(im->spec, im->c, im->h, im->w, im->nclin, m->classes.n, &nerr);
	if (!n)
		refuse(im, NULL, "the graph reads as '%s', which osteo cannot build: %s", im->spec, nerr);
	m->net = n;
	m->arch = estrdup(im->spec);
	net_init(n, 1);
	fill(im, n);
	if (im->newhead)
		info("%s: its %d class scores left out: a new classifier for --classes' %d, to be trained", im->path,
		     nclasses, m->classes.n);
	/* what the file says of the images it takes: their size and channels;
	 * not how they were prepared, so osteo-infer needs --no-check until
	 * osteo-train --init gives the network a preparation of its own */
	char size[32];
	snprintf(size, sizeof size, "%dx%d", im->w, im->h);
	struct prep none = { size, "", "", "", "", "", "", im->c == 1 };
	prep_dup(&m->prep, &none);
	release(im);
	return 0;
}
