/*
 * export.c - onnx.h's onnx_export: the network of a model (engine/spec/net.h)
 * node by node as its reference walker runs it at inference (engine/ref/ref.c),
 * then what osteo-infer does after it (model_answer: late fusion, the
 * temperature).  The messages are protobuf-c's generated structs, filled
 * from one arena that is freed whole once the file is packed.
 */
#include "onnx.h"
#include "common/base/util.h"
#include "build/gen/onnx.pb-c.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* a graph being built: its nodes, initialisers and every allocation */
struct gb {
	void **blocks;
	size_t nblocks, capblocks;
	Onnx__NodeProto **nodes;
	size_t nnodes, capnodes;
	Onnx__TensorProto **inits;
	size_t ninits, capinits;
	int uniq;
};

static void *
gb_alloc(struct gb *g, size_t n)
{
	void *p = ecalloc(1, n ? n : 1);

	egrow((void **)&g->blocks, &g->capblocks, (g->nblocks + 1) * sizeof *g->blocks);
	g->blocks[g->nblocks++] = p;
	return p;
}

static char *
gb_str(struct gb *g, const char *fmt, ...)
{
	va_list ap;
	char buf[128];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	char *s = gb_alloc(g, strlen(buf) + 1);
	memcpy(s, buf, strlen(buf) + 1);
	return s;
}

/* a fresh value name: what it is, and a number no other value has */
static char *
gb_value(struct gb *g, const char *what)
{
	return gb_str(g, "%s_%d", what, ++g->uniq);
}

/* a float initialiser named name, of ndim dims, from n values */
static char *
gb_init(struct gb *g, const char *name, const int64_t *dims, int ndim, const float *v)
{
	Onnx__TensorProto *t = gb_alloc(g, sizeof *t);
	size_t n = 1;

	onnx__tensor_proto__init(t);
	t->name = gb_str(g, "%s", name);
	t->has_data_type = 1;
	t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
	t->n_dims = (size_t)ndim;
	t->dims = gb_alloc(g, (size_t)ndim * sizeof *t->dims);
	for (int i = 0; i < ndim; i++) {
		t->dims[i] = dims[i];
		n *= (size_t)dims[i];
	}
	t->n_float_data = n;
	t->float_data = gb_alloc(g, n * sizeof(float));
	memcpy(t->float_data, v, n * sizeof(float));
	egrow((void **)&g->inits, &g->capinits, (g->ninits + 1) * sizeof *g->inits);
	g->inits[g->ninits++] = t;
	return t->name;
}

/* a one-value initialiser */
static char *
gb_scalar(struct gb *g, const char *name, float v)
{
	const int64_t one = 1;

	return gb_init(g, name, &one, 1, &v);
}

/* a node of op on nin inputs; its one output, a fresh value named after
 * what (or out when given) */
static Onnx__NodeProto *
gb_node(struct gb *g, const char *op, const char *const *in, int nin, const char *what, const char *out)
{
	Onnx__NodeProto *nd = gb_alloc(g, sizeof *nd);

	onnx__node_proto__init(nd);
	nd->op_type = gb_str(g, "%s", op);
	nd->n_input = (size_t)nin;
	nd->input = gb_alloc(g, (size_t)nin * sizeof *nd->input);
	for (int i = 0; i < nin; i++)
		nd->input[i] = gb_str(g, "%s", in[i]);
	nd->n_output = 1;
	nd->output = gb_alloc(g, sizeof *nd->output);
	nd->output[0] = out ? gb_str(g, "%s", out) : gb_value(g, what);
	nd->name = gb_str(g, "%s_node", nd->output[0]);
	egrow((void **)&g->nodes, &g->capnodes, (g->nnodes + 1) * sizeof *g->nodes);
	g->nodes[g->nnodes++] = nd;
	return nd;
}

/* the node's output, for the next node's input */
static const char *
out(const Onnx__NodeProto *nd)
{
	return nd->output[0];
}

static Onnx__AttributeProto *
gb_attr(struct gb *g, Onnx__NodeProto *nd, const char *name, Onnx__AttributeProto__AttributeType type)
{
	Onnx__AttributeProto *a = gb_alloc(g, sizeof *a);

	onnx__attribute_proto__init(a);
	a->name = gb_str(g, "%s", name);
	a->has_type = 1;
	a->type = type;
	Onnx__AttributeProto **grown = gb_alloc(g, (nd->n_attribute + 1) * sizeof *grown);
	if (nd->n_attribute)
		memcpy(grown, nd->attribute, nd->n_attribute * sizeof *grown);
	grown[nd->n_attribute++] = a;
	nd->attribute = grown;
	return a;
}

static void
attr_int(struct gb *g, Onnx__NodeProto *nd, const char *name, int64_t v)
{
	Onnx__AttributeProto *a = gb_attr(g, nd, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);

	a->has_i = 1;
	a->i = v;
}

static void
attr_float(struct gb *g, Onnx__NodeProto *nd, const char *name, float v)
{
	Onnx__AttributeProto *a = gb_attr(g, nd, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);

	a->has_f = 1;
	a->f = v;
}

static void
attr_ints(struct gb *g, Onnx__NodeProto *nd, const char *name, const int64_t *v, int n)
{
	Onnx__AttributeProto *a = gb_attr(g, nd, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);

	a->n_ints = (size_t)n;
	a->ints = gb_alloc(g, (size_t)n * sizeof *a->ints);
	memcpy(a->ints, v, (size_t)n * sizeof *a->ints);
}

/* a float tensor's name, type and shape; a dim of 0 is the batch: free
 * ("batch") or fixed */
static Onnx__ValueInfoProto *
gb_io(struct gb *g, const char *name, const int64_t *dims, int ndim, int batch)
{
	Onnx__ValueInfoProto *v = gb_alloc(g, sizeof *v);
	Onnx__TypeProto *t = gb_alloc(g, sizeof *t);
	Onnx__TypeProto__Tensor *tt = gb_alloc(g, sizeof *tt);
	Onnx__TensorShapeProto *sh = gb_alloc(g, sizeof *sh);

	onnx__value_info_proto__init(v);
	onnx__type_proto__init(t);
	onnx__type_proto__tensor__init(tt);
	onnx__tensor_shape_proto__init(sh);
	v->name = gb_str(g, "%s", name);
	v->type = t;
	t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
	t->tensor_type = tt;
	tt->has_elem_type = 1;
	tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
	tt->shape = sh;
	sh->n_dim = (size_t)ndim;
	sh->dim = gb_alloc(g, (size_t)ndim * sizeof *sh->dim);
	for (int i = 0; i < ndim; i++) {
		Onnx__TensorShapeProto__Dimension *d = gb_alloc(g, sizeof *d);
		onnx__tensor_shape_proto__dimension__init(d);
		if (dims[i] == 0 && !batch) {
			d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
			d->dim_param = gb_str(g, "batch");
		} else {
			d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
			d->dim_value = dims[i] ? dims[i] : batch;
		}
		sh->dim[i] = d;
	}
	return v;
}

/* a dense layer of net.h (weights (oc, ic), bias (oc)) as Gemm, with ReLU
 * after it unless it is the classifier */
static const char *
dense(struct gb *g, const struct net *n, const struct layer *l, const char *name, const char *x, int relu)
{
	int64_t wd[2] = { l->oc, l->ic }, bd[1] = { l->oc };
	const char *in[3] = { x, gb_init(g, gb_str(g, "%s.w", name), wd, 2, n->params + l->w),
		              gb_init(g, gb_str(g, "%s.b", name), bd, 1, n->params + l->b) };
	Onnx__NodeProto *nd = gb_node(g, "Gemm", in, 3, relu ? layer_word(L_DENSE) : "logits", NULL);
	attr_int(g, nd, "transB", 1);
	if (!relu)
		return out(nd);
	const char *r[1] = { out(nd) };
	return out(gb_node(g, "Relu", r, 1, "relu", NULL));
}

/* a convolution's or max pool's window as ONNX attributes: net.h pads
 * l->pad at the top and left, and at the bottom and right what gives its
 * output size (ONNX's formula drops what a stride does not reach; where
 * the stride stops short of the edge, none) */
static void
window(struct gb *g, Onnx__NodeProto *nd, const struct layer *l)
{
	int64_t k[2] = { l->k, l->k }, s[2] = { l->stride, l->stride };
	int64_t p[4] = { l->pad, l->pad, (int64_t)(l->oh - 1) * l->stride + l->k - l->ih - l->pad,
		         (int64_t)(l->ow - 1) * l->stride + l->k - l->iw - l->pad };

	p[2] = p[2] > 0 ? p[2] : 0;
	p[3] = p[3] > 0 ? p[3] : 0;
	attr_ints(g, nd, "kernel_shape", k, 2);
	attr_ints(g, nd, "strides", s, 2);
	attr_ints(g, nd, "pads", p, 4);
}

/* the image layers before the fusion layer, from "image" */
static const char *
image_layers(struct gb *g, const struct net *n)
{
	const char *x = "image", *outs[NET_MAXLAYERS];

	for (int i = 0; i < n->fuse_at; x = outs[i++]) {
		const struct layer *l = &n->l[i];
		Onnx__NodeProto *nd;
		outs[i] = x;
		if (l->type == L_ROUTE)
			outs[i] = outs[l->ref];
		else if (l->type == L_ADD) {
			const char *in[2] = { x, outs[l->ref] };
			in[0] = out(gb_node(g, "Add", in, 2, layer_word(L_ADD), NULL));
			outs[i] = out(gb_node(g, "Relu", in, 1, "relu", NULL));
		} else if (l->type == L_CONV || l->type == L_CBN) {
			int64_t wd[4] = { l->oc, l->ic, l->k, l->k }, cd[1] = { l->oc };
			const char *cin[2] = { x, gb_init(g, gb_str(g, "L%d.w", i + 1), wd, 4, n->params + l->w) };
			nd = gb_node(g, "Conv", cin, 2, layer_word(l->type), NULL);
			window(g, nd, l);
			const char *bin[5] = { out(nd), gb_init(g, gb_str(g, "L%d.gamma", i + 1), cd, 1, n->params + l->gamma),
				               gb_init(g, gb_str(g, "L%d.beta", i + 1), cd, 1, n->params + l->beta),
				               gb_init(g, gb_str(g, "L%d.mean", i + 1), cd, 1, n->stats + l->rmean),
				               gb_init(g, gb_str(g, "L%d.var", i + 1), cd, 1, n->stats + l->rvar) };
			nd = gb_node(g, "BatchNormalization", bin, 5, "bn", NULL);
			attr_float(g, nd, "epsilon", NET_BN_EPS);
			const char *rin[1] = { out(nd) };
			outs[i] = l->type == L_CBN ? out(nd) : out(gb_node(g, "Relu", rin, 1, "relu", NULL));
		} else if (l->type == L_POOL) {
			int64_t k[2] = { 2, 2 };
			const char *in[1] = { x };
			nd = gb_node(g, "MaxPool", in, 1, layer_word(L_POOL), NULL);
			attr_ints(g, nd, "kernel_shape", k, 2);
			attr_ints(g, nd, "strides", k, 2);
			outs[i] = out(nd);
		} else if (l->type == L_MAXPOOL) {
			const char *in[1] = { x };
			nd = gb_node(g, "MaxPool", in, 1, layer_word(L_MAXPOOL), NULL);
			window(g, nd, l);
			outs[i] = out(nd);
		} else if (l->type == L_AVGPOOL) {
			const char *in[1] = { x };
			nd = gb_node(g, "AveragePool", in, 1, layer_word(L_AVGPOOL), NULL);
			window(g, nd, l);
			attr_int(g, nd, "count_include_pad", 0);
			outs[i] = out(nd);
		} else if (l->type == L_GAP) {
			const char *in[1] = { x };
			outs[i] = out(gb_node(g, "GlobalAveragePool", in, 1, layer_word(L_GAP), NULL));
		}
		/* dropout: nothing at inference */
	}
	return x;
}

/* the fusion layer and the dense tail: the logits */
static const char *
tail_layers(struct gb *g, const struct net *n, const char *x)
{
	const char *in[2] = { x, NULL };
	Onnx__NodeProto *nd = gb_node(g, "Flatten", in, 1, "features", NULL);

	attr_int(g, nd, "axis", 1);
	x = out(nd);
	if (n->kfuse) {
		const char *cv = "clinical";
		for (int j = 0; j < n->nbranch; j++)
			cv = dense(g, n, &n->cl[j], gb_str(g, "C%d", j + 1), cv, 1);
		in[0] = x;
		in[1] = cv;
		nd = gb_node(g, "Concat", in, 2, "fused", NULL);
		attr_int(g, nd, "axis", 1);
		x = out(nd);
	}
	for (int i = n->fuse_at; i < n->nlayers; i++) {
		const struct layer *l = &n->l[i];
		if (l->type == L_DENSE || l->type == L_CLASSIFIER)
			x = dense(g, n, l, gb_str(g, "L%d", i + 1), x, l->type == L_DENSE);
	}
	return x;
}

/*
 * After the logits, what model_answer does: late fusion's regression on
 * the log-probabilities (floored at 1e-12, as fusion.c floors them) and
 * the clinical values, then the temperature, then the softmax.  The
 * temperature of softmax(log p / T) is the softmax of the logits over T.
 */
static void
answer(struct gb *g, const struct model *m, const char *z)
{
	const struct fusion *f = &m->fusion;
	const char *in[3];
	Onnx__NodeProto *nd;

	if (f->k) {
		in[0] = z;
		nd = gb_node(g, "LogSoftmax", in, 1, "logp", NULL);
		attr_int(g, nd, "axis", 1);
		const char *lp = out(nd);
		/* max(lp, floor) as lp + relu(floor - lp): exactly lp above the floor */
		in[0] = lp;
		in[1] = gb_scalar(g, "fusion.minus_one", -1);
		in[0] = out(gb_node(g, "Mul", in, 2, "neg", NULL));
		in[1] = gb_scalar(g, "fusion.floor", (float)log(1e-12));
		in[0] = out(gb_node(g, "Add", in, 2, "below", NULL));
		in[0] = out(gb_node(g, "Relu", in, 1, "lift", NULL));
		in[1] = lp;
		const char *x = out(gb_node(g, "Add", in, 2, "logp_floored", NULL));
		if (f->nclin) {
			in[0] = x;
			in[1] = "clinical";
			nd = gb_node(g, "Concat", in, 2, "fusion_in", NULL);
			attr_int(g, nd, "axis", 1);
			x = out(nd);
		}
		/* fusion.h's w is (k + nclin + 1) x k, the last row the bias */
		int d = f->k + f->nclin;
		float *w = emalloc((size_t)d * f->k * sizeof *w), *b = emalloc((size_t)f->k * sizeof *b);
		for (int c = 0; c < f->k; c++) {
			for (int i = 0; i < d; i++)
				w[(size_t)c * d + i] = (float)f->w[(size_t)i * f->k + c];
			b[c] = (float)f->w[(size_t)d * f->k + c];
		}
		int64_t wd[2] = { f->k, d }, bd[1] = { f->k };
		in[0] = x;
		in[1] = gb_init(g, "fusion.w", wd, 2, w);
		in[2] = gb_init(g, "fusion.b", bd, 1, b);
		free(w);
		free(b);
		nd = gb_node(g, "Gemm", in, 3, "fused_logits", NULL);
		attr_int(g, nd, "transB", 1);
		z = out(nd);
	}
	if (m->temperature > 0 && m->temperature != 1) {
		in[0] = z;
		in[1] = gb_scalar(g, "calibration.inverse_temperature", (float)(1 / m->temperature));
		z = out(gb_node(g, "Mul", in, 2, "tempered", NULL));
	}
	in[0] = z;
	nd = gb_node(g, "Softmax", in, 1, NULL, "probs");
	attr_int(g, nd, "axis", 1);
}

int
onnx_export(const struct model *m, int batch, const char *path)
{
	const struct net *n = m->net;
	struct gb g = { 0 };
	Onnx__ModelProto mp;
	Onnx__GraphProto gp;
	Onnx__OperatorSetIdProto op;
	Onnx__OperatorSetIdProto *ops[1] = { &op };

	answer(&g, m, tail_layers(&g, n, image_layers(&g, n)));

	onnx__graph_proto__init(&gp);
	gp.name = "osteo";
	gp.n_node = g.nnodes;
	gp.node = g.nodes;
	gp.n_initializer = g.ninits;
	gp.initializer = g.inits;
	int k = model_clinical(m);
	int64_t idims[4] = { 0, n->c, n->h, n->w }, cdims[2] = { 0, k }, odims[2] = { 0, n->nclasses };
	Onnx__ValueInfoProto *ins[2] = { gb_io(&g, "image", idims, 4, batch), gb_io(&g, "clinical", cdims, 2, batch) };
	Onnx__ValueInfoProto *outs[1] = { gb_io(&g, "probs", odims, 2, batch) };
	gp.n_input = k ? 2 : 1;
	gp.input = ins;
	gp.n_output = 1;
	gp.output = outs;

	onnx__operator_set_id_proto__init(&op);
	op.domain = "";
	op.has_version = 1;
	op.version = ONNX_OPSET;
	onnx__model_proto__init(&mp);
	mp.has_ir_version = 1;
	mp.ir_version = ONNX_IR_VERSION;
	mp.producer_name = "osteo";
	mp.producer_version = OSTEO_VERSION;
	char *names = classes_join(&m->classes);
	mp.doc_string = gb_str(&g, "osteo model: %.60s; classes %.60s", m->arch, names);
	free(names);
	mp.n_opset_import = 1;
	mp.opset_import = ops;
	mp.graph = &gp;

	size_t len = onnx__model_proto__get_packed_size(&mp);
	uint8_t *buf = emalloc(len ? len : 1);
	if (onnx__model_proto__pack(&mp, buf) != len)
		die(EX_SOFTWARE, "%s: protobuf-c packed the model short", path);
	char *tmp;
	FILE *fp = atomic_open(path, &tmp);
	if (fwrite(buf, 1, len, fp) != len)
		write_failed(tmp);
	atomic_commit(fp, tmp, path);
	free(buf);
	for (size_t i = 0; i < g.nblocks; i++)
		free(g.blocks[i]);
	free(g.blocks);
	free(g.nodes);
	free(g.inits);
	return (int)gp.n_node;
}
