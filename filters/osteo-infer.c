/*
 * osteo-infer - run a trained model over records: each record comes back
 * with `probs`, `pred` and `risk` added.
 *
 * Before using a record it checks that the record is what the model was
 * trained on: the image's shape, the normalisation recorded in meta, and
 * the clinical encoding; a mismatch is refused, not guessed around.
 * Records are read in batches; memory does not grow with the stream.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "common/record/contract.h"
#include "common/image/imgops.h"
#include "common/record/input.h"
#include "common/eval/metrics.h"
#include "common/model/model.h"
#include "engine/spec/net.h"
#include "common/record/record.h"
#include "common/base/sha256.h"
#include "common/base/util.h"
#include "common/record/cli.h"
#include "gpu/gpu.h"

static const char usage[] =
	"osteo-infer [-q] -m MODEL [--batch N] [--risk-class NAME] [--no-check] [--no-calibration]\n"
	"       [--heatmap] [--heatmap-class K] [--heatmap-mode auto|gradcam|absolute|occlusion]\n"
	"       [--feature-maps LAYER] [--tta] [--member N]\n"
	"       [--device auto|cpu|cuda[:N]] [--tf32] [--precision fp32|bf16|auto] [--progress] [FILE|-]...";
static const char options[] =
	"  -m, --model MODEL      the model osteo-train wrote\n"
	"  --batch N              records per forward pass; the answers do not depend on it (default 64)\n"
	"  --risk-class NAME      the class whose probability is the risk (default osteoporosis)\n"
	"  --no-check             accept records normalised or encoded otherwise than the training records\n"
	"  --no-calibration       leave out the model's temperature (osteo-train --calibrate)\n"
	"  --heatmap              add a heat map of where the image moved the answer\n"
	"  --heatmap-class K      explain class K (a name or index; default the predicted class)\n"
	"  --heatmap-mode MODE    auto, gradcam, absolute or occlusion (default auto)\n"
	"  --feature-maps LAYER   add that convolution or pooling layer's output\n"
	"  --tta                  average the answers for the image and its mirror image\n"
	"  --member N             an ensemble's member N alone (1 is the first)\n"
	"  --device DEV           auto, cpu or cuda[:N] (default auto: device 0 when there is one)\n"
	"  --tf32                 let cuBLAS use TF32 tensor cores\n"
	"  --precision P          fp32, bf16 (bfloat16 products on the CPU) or auto (default fp32)\n"
	"  --progress             count records on standard error (default: when it is a terminal)\n";

enum { CAM_AUTO, CAM_GRADCAM, CAM_ABSOLUTE, CAM_OCCLUSION, NCAM };
static const char *const cam_modes[NCAM] = { "auto", "gradcam", "absolute", "occlusion" };

struct opts {
	const char *model, *risk_class, *device, *heat_class, *precision;
	int batch, check, heatmap, cam_mode, features, tf32, nocal, progress, tta, member;
	char **inputs;
	int ninputs;
};

static void
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_BATCH = 256, O_RISK, O_NOCHECK, O_DEVICE, O_HEAT, O_HEATCLASS, O_HEATMODE, O_FEATURES, O_TF32,
	       O_NOCAL, O_PROGRESS, O_PRECISION, O_TTA, O_MEMBER };
	static const struct option longopts[] = {
		{ "model", required_argument, 0, 'm' },
		{ "batch", required_argument, 0, O_BATCH },
		{ "risk-class", required_argument, 0, O_RISK },
		{ "no-check", no_argument, 0, O_NOCHECK },
		{ "no-calibration", no_argument, 0, O_NOCAL },
		{ "device", required_argument, 0, O_DEVICE },
		{ "heatmap", no_argument, 0, O_HEAT },
		{ "heatmap-class", required_argument, 0, O_HEATCLASS },
		{ "heatmap-mode", required_argument, 0, O_HEATMODE },
		{ "feature-maps", required_argument, 0, O_FEATURES },
		{ "tf32", no_argument, 0, O_TF32 },
		{ "precision", required_argument, 0, O_PRECISION },
		{ "progress", no_argument, 0, O_PROGRESS },
		{ "tta", no_argument, 0, O_TTA },
		{ "member", required_argument, 0, O_MEMBER },
		CLI_COMMON_OPTIONS
	};
	int c;

	memset(o, 0, sizeof *o);
	o->batch = 64;
	o->check = 1;
	o->device = "auto";
	o->precision = "fp32";
	o->progress = isatty(2);
	cli_help(options);
	while ((c = getopt_long(argc, argv, "m:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': o->model = optarg; break;
		case O_BATCH: o->batch = (int)estrtonum(optarg, 1, 65536, "--batch"); break;
		case O_RISK: o->risk_class = optarg; break;
		case O_NOCHECK: o->check = 0; break;
		case O_NOCAL: o->nocal = 1; break;
		case O_DEVICE: o->device = optarg; break;
		case O_HEAT: o->heatmap = 1; break;
		case O_HEATCLASS: o->heat_class = optarg; o->heatmap = 1; break;
		case O_HEATMODE:
			for (o->cam_mode = 0; o->cam_mode < NCAM && strcmp(optarg, cam_modes[o->cam_mode]); o->cam_mode++)
				;
			if (o->cam_mode == NCAM)
				usage_error(usage, "--heatmap-mode: '%s' is not auto, gradcam, absolute or occlusion", optarg);
			o->heatmap = 1;
			break;
		case O_FEATURES: o->features = (int)estrtonum(optarg, 1, NET_MAXLAYERS, "--feature-maps"); break;
		case O_TF32: o->tf32 = 1; break;
		case O_PRECISION:
			if (strcmp(optarg, "fp32") && strcmp(optarg, "bf16") && strcmp(optarg, "auto"))
				usage_error(usage, "--precision: fp32, bf16 or auto, not '%s'", optarg);
			o->precision = optarg;
			break;
		case O_PROGRESS: o->progress = 1; break;
		case O_TTA: o->tta = 1; break;
		case O_MEMBER: o->member = (int)estrtonum(optarg, 1, MODEL_MAXMEMBERS, "--member"); break;
		case 'q': quiet = 1; o->progress = 0; break;
		default: cli_common(c, usage);
		}
	}
	if (!o->model)
		usage_error(usage, "-m names the model");
	o->inputs = argv + optind;
	o->ninputs = argc - optind;
}

/* refuse a record the model was not trained for */
static void
check(struct input *in, const struct record *r, const struct model *m, int strict)
{
	const struct net *n = m->net;
	struct expect e = { n->c, n->h, n->w, model_clinical(m), m->prep };

	input_expect(in, r, &e, strict);
}

/* a record's heat map from v (H x W, not negative) scaled to [0,1], with
 * the class it explains and the kind of map */
static void
put_map(struct record *r, const float *v, int H, int W, int cls, const char *mode, struct input *in)
{
	uint32_t shape[3] = { 1, (uint32_t)H, (uint32_t)W };
	size_t plane = (size_t)H * W;
	const char *err;
	struct tensor *t = rec_tensor_put(r, TENSOR_HEATMAP, DT_F32, 3, shape, &err);
	float mx = 0;

	if (!t)
		input_die(in, r, "heatmap: %s", err);
	for (size_t p = 0; p < plane; p++)
		mx = v[p] > mx ? v[p] : mx;
	for (size_t p = 0; p < plane; p++)
		((float *)t->data)[p] = mx > 0 ? v[p] / mx : 0;
	rec_meta_int(r, KEY_INFER_HEATMAP_CLASS, cls);
	rec_meta_str(r, KEY_INFER_HEATMAP_MODE, mode);
}

/*
 * Heat maps of the batch, upsampled to the input and scaled to [0,1]:
 * Grad-CAM (the positive part of the class-weighted feature maps), or
 * their absolute value, which keeps the evidence against the class too.
 * Auto takes Grad-CAM unless it is empty, as it is where the evidence for
 * a class is an absence (osteoporosis: struts that are not there); the
 * record says which it got, and whether Grad-CAM was empty.
 */
static void
add_heatmaps(struct engine *e, const struct net *n, struct record *batch, int b, int heat, int mode,
             float *cam, float *big, struct input *in)
{
	int cls[b], lc = net_last_conv(n);
	const struct layer *l = &n->l[lc];
	size_t plane = (size_t)l->oh * l->ow;

	for (int j = 0; j < b; j++)
		cls[j] = heat >= 0 ? heat : (int)batch[j].pred;
	engine_gradcam(e, cls, b, cam);
	for (int j = 0; j < b; j++) {
		float *c = cam + j * plane;
		int empty = 1;
		for (size_t p = 0; p < plane; p++)
			empty &= !(c[p] > 0);
		int absolute = mode == CAM_ABSOLUTE || (mode == CAM_AUTO && empty);
		for (size_t p = 0; p < plane; p++)
			c[p] = absolute ? fabsf(c[p]) : c[p] > 0 ? c[p] : 0;
		img_resize(c, 1, l->oh, l->ow, big, n->h, n->w);
		put_map(&batch[j], big, n->h, n->w, cls[j], absolute ? "absolute" : "gradcam", in);
		rec_meta_bool(&batch[j], KEY_INFER_GRADCAM_EMPTY, empty);
	}
}

/*
 * Occlusion sensitivity: how much the class's probability moves when a
 * square of the image (a sixteenth of its side, side by side) is painted
 * over with the image's mean; a pixel's value is the move of the square
 * that covers it (the mean, where squares overlap at an edge that does not
 * divide), scaled to [0,1].  It keeps evidence for and against the class,
 * needs no gradient, and costs a forward pass per square (256 for any
 * image size), run in batches on the engine.  The size was measured on the
 * demo's cohort: of squares of 1/4, 1/8, 1/12, 1/16 and 1/32 of the side,
 * with and without overlap, 1/16 put the most of the maps' mass in bone.
 */
#define OCC_PARTS 16
struct occluder {
	int set, cap;            /* the engine's dataset over x, clin; its rows */
	float *x, *clin, *acc, *cnt;
};

/* square k of a row of nx: its top-left corner, y returned and x in *x,
 * the last ones moved back to end at the edge */
static int
square_at(int k, int nx, int sh, int sw, int H, int W, int *x)
{
	int y0 = k / nx * sh, x0 = k % nx * sw;

	*x = x0 < W - sw ? x0 : W - sw;
	return y0 < H - sh ? y0 : H - sh;
}

/* a run: the model, an engine for each member of its ensemble (or its
 * one network), and the buffers of one batch */
struct member {
	struct model *m;
	struct engine *e;
	int set, fset, oset;     /* datasets over the batch, its mirror images (--tta), occluded copies */
};
enum { SET_BATCH, SET_MIRROR, SET_OCCLUDED };

struct run {
	struct model m;
	struct member *mem;
	int nmem, nviews;        /* members; views of each image: 1, or 2 with --tta */
	struct record *batch;
	struct occluder oc;
	int risk, heat, temper, K;
	size_t px;
	float *x, *xf, *clin, *cam, *big;
	double *p;
	double *each;            /* (nviews x nmem, batch, classes): every member's answer to every view */
	double *base;            /* (batch, classes): the members' mean answer to the image as it is */
	char *names;
	char sha[65];            /* the model file's SHA-256, and its name: what the
	                          * prediction says made it (osteo-sr reports both) */
	const char *model_file;
};

/*
 * Each member's answers to the b images of one of its datasets (which),
 * with late fusion and the temperature as the record's probs have them,
 * into out (nmem, b, classes); clin: the images' clinical values, step
 * values apart (0: one record's, for its occluded copies).
 */
static void
member_answers(struct run *u, int which, int b, const float *clin, size_t step, double *out)
{
	int k = u->m.net->nclasses;

	for (int i = 0; i < u->nmem; i++) {
		struct member *me = &u->mem[i];
		engine_stage(me->e, which == SET_BATCH ? me->set : which == SET_MIRROR ? me->fset : me->oset, NULL, b);
		engine_forward(me->e, 0, NULL);
		const float *q = engine_probs(me->e);
		for (int j = 0; j < b; j++) {
			double *row = out + ((size_t)i * b + j) * k;
			for (int c = 0; c < k; c++)
				row[c] = q[(size_t)j * k + c];
			model_answer(me->m, row, clin + (size_t)j * step, u->temper);
		}
	}
}

static void
add_occlusion(struct run *u, struct record *batch, int b, struct input *in)
{
	const struct net *n = u->m.net;
	struct occluder *oc = &u->oc;
	int H = n->h, W = n->w, K = n->nclin, C = n->c, KR = u->K, k = n->nclasses;
	int sh = H / OCC_PARTS > 0 ? H / OCC_PARTS : 1, sw = W / OCC_PARTS > 0 ? W / OCC_PARTS : 1;
	/* side by side; the last row and column of squares end at the edge */
	int ny = (H - 1) / sh + 1, nx = (W - 1) / sw + 1, np = ny * nx;
	size_t px = (size_t)C * H * W, plane = (size_t)H * W;
	double *ans = u->each;   /* free until the next batch */

	for (int j = 0; j < b; j++) {
		int cls = u->heat >= 0 ? u->heat : (int)batch[j].pred;
		/* against the ensemble's answer to the image as it is (--tta's
		 * mirror images are not occluded) */
		double p0 = u->base[(size_t)j * k + cls], mean = 0;
		const float *img = u->x + j * px;
		for (size_t i = 0; i < px; i++)
			mean += img[i];
		mean /= (double)px;
		memset(oc->acc, 0, plane * sizeof(float));
		memset(oc->cnt, 0, plane * sizeof(float));
		for (int p0i = 0; p0i < np; p0i += oc->cap) {
			int nb = np - p0i < oc->cap ? np - p0i : oc->cap, y0s[nb], x0s[nb];
			for (int q = 0; q < nb; q++) {
				int y0 = square_at(p0i + q, nx, sh, sw, H, W, &x0s[q]);
				int x0 = x0s[q];
				y0s[q] = y0;
				float *o = oc->x + (size_t)q * px;
				memcpy(o, img, px * sizeof(float));
				for (int c = 0; c < C; c++)
					for (int y = y0; y < y0 + sh; y++)
						for (int xx = x0; xx < x0 + sw; xx++)
							o[(size_t)c * plane + (size_t)y * W + xx] = (float)mean;
				if (K)
					memcpy(oc->clin + (size_t)q * K, u->clin + (size_t)j * K, (size_t)K * sizeof(float));
			}
			member_answers(u, SET_OCCLUDED, nb, u->clin + (size_t)j * KR, 0, ans);
			for (int q = 0; q < nb; q++) {
				int y0 = y0s[q], x0 = x0s[q];
				double pc = 0;
				for (int i = 0; i < u->nmem; i++)
					pc += ans[((size_t)i * nb + q) * k + cls];
				float d = (float)fabs(p0 - pc / u->nmem);
				for (int y = y0; y < y0 + sh; y++)
					for (int xx = x0; xx < x0 + sw; xx++) {
						oc->acc[(size_t)y * W + xx] += d;
						oc->cnt[(size_t)y * W + xx] += 1;
					}
			}
		}
		for (size_t i = 0; i < plane; i++)
			oc->acc[i] = oc->cnt[i] > 0 ? oc->acc[i] / oc->cnt[i] : 0;
		put_map(&batch[j], oc->acc, H, W, cls, "occlusion", in);
	}
}

static void
add_features(struct engine *e, const struct net *n, struct record *batch, int b, int layer, struct input *in)
{
	const float *a = engine_activations(e, layer - 1);
	const struct layer *l = &n->l[layer - 1];
	size_t per = (size_t)l->oc * l->oh * l->ow;
	uint32_t shape[3] = { (uint32_t)l->oc, (uint32_t)l->oh, (uint32_t)l->ow };
	const char *err;

	for (int j = 0; j < b; j++) {
		struct tensor *t = rec_tensor_put(&batch[j], TENSOR_FEATURES, DT_F32, 3, shape, &err);
		if (!t)
			input_die(in, &batch[j], "features: %s", err);
		memcpy(t->data, a + j * per, per * sizeof(float));
		rec_meta_int(&batch[j], KEY_INFER_FEATURES_LAYER, layer);
	}
}

static void
setup(struct run *u, const struct opts *o, int dev)
{
	struct record mr;
	const char *err;

	rec_init(&mr);
	if (model_load(o->model, &u->m, &mr, &err) < 0)
		die(EX_DATAERR, "%s: %s", o->model, err);
	rec_free(&mr);
	file_sha256(o->model, u->sha);
	u->model_file = strrchr(o->model, '/') ? strrchr(o->model, '/') + 1 : o->model;
	struct net *n = u->m.net;
	if ((u->risk = classes_risk(&u->m.classes, o->risk_class)) < 0)
		die(EX_USAGE, "--risk-class: '%s' is not one of the model's classes", o->risk_class);
	u->heat = -1;
	u->names = classes_join(&u->m.classes);
	if (o->heatmap && o->cam_mode != CAM_OCCLUSION && net_last_conv(n) < 0)
		die(EX_USAGE, "--heatmap: the model has no convolution to explain (--heatmap-mode occlusion has no need of one)");
	if (o->heat_class && (u->heat = classes_label(&u->m.classes, o->heat_class)) < 0)
		die(EX_USAGE, "--heatmap-class: '%s' is not one of the model's classes", o->heat_class);
	if (o->features && (o->features >= n->fuse_at + 1 || n->l[o->features - 1].type == L_DROPOUT))
		die(EX_USAGE, "--feature-maps: layer %d is not a convolution or pooling layer (1 to %d)",
		    o->features, n->fuse_at);
	u->px = (size_t)n->c * n->h * n->w;
	u->x = emalloc((size_t)o->batch * u->px * sizeof(float));
	/* the records' clinical values, K each: the network's, or those late
	 * fusion joins to its answer (the engine then reads none of them) */
	u->K = model_clinical(&u->m);
	u->clin = emalloc((size_t)o->batch * (u->K ? u->K : 1) * sizeof(float));
	u->p = emalloc((size_t)n->nclasses * sizeof *u->p);
	u->temper = !o->nocal;
	u->batch = ecalloc(o->batch, sizeof *u->batch);
	for (int i = 0; i < o->batch; i++)
		rec_init(&u->batch[i]);
	if (o->member > 1 + u->m.nmembers)
		die(EX_USAGE, "--member %d: %s has %d", o->member, o->model, 1 + u->m.nmembers);
	u->nmem = o->member ? 1 : 1 + u->m.nmembers;
	u->nviews = o->tta ? 2 : 1;
	u->mem = ecalloc((size_t)u->nmem, sizeof *u->mem);
	if (o->tta)
		u->xf = emalloc((size_t)o->batch * u->px * sizeof(float));
	if (o->heatmap && o->cam_mode == CAM_OCCLUSION) {
		struct occluder *oc = &u->oc;
		oc->cap = o->batch;
		oc->x = emalloc((size_t)o->batch * u->px * sizeof(float));
		oc->clin = emalloc((size_t)o->batch * (n->nclin ? n->nclin : 1) * sizeof(float));
		oc->acc = emalloc((size_t)n->h * n->w * sizeof(float));
		oc->cnt = emalloc((size_t)n->h * n->w * sizeof(float));
	}
	u->each = emalloc((size_t)u->nviews * u->nmem * o->batch * n->nclasses * sizeof *u->each);
	u->base = emalloc((size_t)o->batch * n->nclasses * sizeof *u->base);
	/* heat maps and feature maps are made on the host from the device's
	 * activations: the first member's */
	int keep = (o->heatmap && o->cam_mode != CAM_OCCLUSION) || o->features;
	int flags = (o->tf32 ? ENGINE_TF32 : 0) | precision_select(o->precision, dev, usage);
	for (int i = 0; i < u->nmem; i++) {
		struct member *me = &u->mem[i];
		me->m = model_member(&u->m, o->member ? o->member - 1 : i);
		me->e = engine_open(me->m->net, dev, o->batch, flags | (keep && i == 0 ? ENGINE_KEEP : 0));
		me->set = engine_dataset(me->e, u->x, u->clin, NULL, o->batch, 0);
		if (o->tta)
			me->fset = engine_dataset(me->e, u->xf, u->clin, NULL, o->batch, 0);
		if (u->oc.x)
			me->oset = engine_dataset(me->e, u->oc.x, u->oc.clin, NULL, o->batch, 0);
	}
	u->cam = emalloc((size_t)o->batch * u->px * sizeof(float));
	u->big = emalloc(u->px * sizeof(float));
}

/* up to a batch of records, checked, their images and clinical values in x
 * and clin; how many */
static int
read_batch(struct run *u, const struct opts *o, struct input *in)
{
	int b = 0;

	while (b < o->batch && input_read(in, &u->batch[b])) {
		struct record *r = &u->batch[b];
		check(in, r, &u->m, o->check);
		tensor_to_float(rec_tensor(r, TENSOR_IMAGE), u->x + b * u->px);
		if (!floats_finite(u->x + b * u->px, u->px))
			input_die(in, r, "the image has NaN or infinite values");
		if (u->K) {
			tensor_to_float(rec_tensor(r, TENSOR_CLINICAL), u->clin + (size_t)b * u->K);
			if (!floats_finite(u->clin + (size_t)b * u->K, (size_t)u->K))
				input_die(in, r, "'clinical' has NaN or infinite values");
		}
		b++;
	}
	return b;
}

/* p[0..k)'s entropy over log k: 0 sure, 1 uniform */
static double
entropy(const double *p, int k)
{
	double h = 0;

	for (int c = 0; c < k; c++)
		h -= p[c] > 0 ? p[c] * log(p[c]) : 0;
	return h / log(k);
}

/*
 * The batch's answers, heat maps and feature maps onto its records.  The
 * answer is the mean of every member's answer to every view of the image
 * (itself, and with --tta its mirror image).  Its uncertainty: the
 * chance, by the answer itself, that its class is wrong (1 - the largest
 * probability); beside it the answer's entropy and, where there are
 * several answers, their disagreement (the mutual information: the mean
 * answer's entropy less the answers' mean entropy), both over
 * log(classes).  Referring by the largest probability is Chow's rule,
 * the best for what is kept when the answer is calibrated; over make
 * demo's cohorts it found the errors better than the entropy did
 * (osteo-infer(1) has the figures).
 */
static void
answer_batch(struct run *u, const struct opts *o, int b, struct input *in)
{
	const struct net *n = u->m.net;
	int k = n->nclasses, na = u->nviews * u->nmem;
	size_t per = (size_t)u->nmem * b * k;

	member_answers(u, SET_BATCH, b, u->clin, u->K, u->each);
	if (o->tta) {
		for (int j = 0; j < b; j++)
			img_hflip(u->x + j * u->px, u->xf + j * u->px, n->c, n->h, n->w);
		member_answers(u, SET_MIRROR, b, u->clin, u->K, u->each + per);
	}
	for (int j = 0; j < b; j++) {
		double hmean = 0;
		for (int c = 0; c < k; c++)
			u->p[c] = u->base[(size_t)j * k + c] = 0;
		for (int a = 0; a < na; a++) {
			const double *q = u->each + ((size_t)a * b + j) * k;
			for (int c = 0; c < k; c++) {
				u->p[c] += q[c];
				if (a < u->nmem)
					u->base[(size_t)j * k + c] += q[c];
			}
			hmean += entropy(q, k);
		}
		for (int c = 0; c < k; c++) {
			u->p[c] /= na;
			u->base[(size_t)j * k + c] /= u->nmem;
		}
		struct record *r = &u->batch[j];
		int pred = rec_set_prediction(r, u->p, &u->m.classes, u->risk, u->names);
		rec_meta_str(r, KEY_INFER_MODEL_FILE, u->model_file);
		rec_meta_str(r, KEY_INFER_MODEL_SHA256, u->sha);
		rec_meta_str(r, KEY_INFER_VERSION, "osteo " OSTEO_VERSION);
		double h = entropy(u->p, k);
		rec_meta_float(r, KEY_INFER_UNCERTAINTY, 1 - u->p[pred]);
		rec_meta_float(r, KEY_INFER_ENTROPY, h);
		if (na > 1) {
			rec_meta_float(r, KEY_INFER_DISAGREEMENT, fmax(h - hmean / na, 0));
			rec_meta_int(r, KEY_INFER_VIEWS, na);
		}
		if (u->temper && u->nmem == 1 && u->m.temperature != 1)
			rec_meta_float(r, KEY_INFER_TEMPERATURE, u->m.temperature);
	}
	if (o->heatmap && o->cam_mode == CAM_OCCLUSION)
		add_occlusion(u, u->batch, b, in);
	else if (o->heatmap)
		add_heatmaps(u->mem[0].e, n, u->batch, b, u->heat, o->cam_mode, u->cam, u->big, in);
	if (o->features)
		add_features(u->mem[0].e, n, u->batch, b, o->features, in);
}

static double
seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* records done and their rate on standard error: in place on a terminal,
 * else a line every few seconds (a log read later); last: the summary */
static void
progress(unsigned long long n, double t0, double *shown, int last)
{
	double now = seconds();

	if (!last && now - *shown < (isatty(2) ? 0.2 : 5))
		return;
	*shown = now;
	fprintf(stderr, "%s%s: %llu records, %.1f s, %.0f records/s%s", isatty(2) ? "\r" : "", argv0, n, now - t0,
	        n / fmax(now - t0, 1e-9), isatty(2) && !last ? "" : "\n");
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct run u = { 0 };
	struct input in;
	struct rec_writer *out;
	int b;

	/* arguments */
	cli_init(argv[0]);
	parse_args(argc, argv, &o);
	int dev = device_select(o.device, usage);

	/* prepare */
	setup(&u, &o, dev);
	out = rec_writer_new(stdout, "<stdout>");
	input_open(&in, o.inputs, o.ninputs);

	/* process */
	double t0 = seconds(), shown = t0;
	while ((b = read_batch(&u, &o, &in)) > 0) {
		answer_batch(&u, &o, b, &in);
		for (int j = 0; j < b; j++)
			rec_write(out, &u.batch[j]);
		if (o.progress)
			progress(rec_writer_count(out), t0, &shown, 0);
	}
	if (o.progress)
		progress(rec_writer_count(out), t0, &shown, 1);

	/* clean up */
	for (int i = 0; i < u.nmem; i++)
		engine_close(u.mem[i].e);
	input_close(&in);
	free(u.names);
	return rec_writer_close(out);
}
