/*
 * osteo-augment - randomly transformed copies of images, and class
 * balancing by oversampling.
 *
 * Every random choice comes from a generator keyed by --seed and the new
 * record's id ("ID#aug2"), so a record gets the same copies whether the
 * stream is whole or sharded with `parallel --pipe`.  Transforms work on
 * f32 images (run osteo-normalize first; u8 and u16 become f32 here).
 * --balance must count the classes before writing: it holds the whole
 * stream in memory (the records' bytes, once) and says so.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/image/imgops.h"
#include "common/record/contract.h"
#include "common/record/input.h"
#include "common/record/record.h"
#include "common/base/rng.h"
#include "common/base/util.h"
#include "common/record/cli.h"

static const char usage[] =
	"osteo-augment [-q] [--seed N] [--copies K] [--no-original] [--balance]\n"
	"       [--rotate DEG[,P]] [--scale S[,P]] [--translate F[,P]] [--hflip P] [--vflip P]\n"
	"       [--noise SD[,P]] [--contrast C[,P]] [--brightness B[,P]] [FILE|-]...";
static const char options[] =
	"  --seed N               the transforms' generator, keyed by each record's id (default 1)\n"
	"  --copies K             transformed copies per record (default 0)\n"
	"  --no-original          write the copies only, not the records read\n"
	"  --balance              more copies of the smaller classes, until each has the largest's count\n"
	"  --rotate DEG[,P]       rotate by up to DEG degrees, with probability P (default 1)\n"
	"  --scale S[,P]          scale by a factor in [1-S, 1+S]\n"
	"  --translate F[,P]      shift by up to F of each side\n"
	"  --hflip P              mirror left to right with probability P\n"
	"  --vflip P              mirror top to bottom with probability P\n"
	"  --noise SD[,P]         add Gaussian noise of standard deviation SD\n"
	"  --contrast C[,P]       scale about the mean by a factor in [1-C, 1+C]\n"
	"  --brightness B[,P]     add an offset in [-B, B]\n";

/* a transform's size and the probability it is applied */
struct knob {
	double v, p;
};

struct opts {
	unsigned long long seed;
	int copies;
	int original;
	int balance;
	struct knob rotate, scale, translate, noise, contrast, brightness;
	double hflip, vflip;
	char **inputs;
	int ninputs;
};

struct work {
	float *a, *b, *m, *mo;
	size_t cap_a, cap_b, cap_m, cap_mo;
	struct record copy;
};

static void
knob(const char *s, struct knob *k, double max, const char *what)
{
	double v[2] = { 0, 1 };

	eparse_numbers(s, v, 1, 2, 0, max, what);
	if (v[1] > 1)
		die(EX_USAGE, "%s: the probability %g is above 1", what, v[1]);
	k->v = v[0];
	k->p = v[1];
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_SEED = 256, O_COPIES, O_NOORIG, O_BALANCE, O_ROT, O_SCALE, O_TRANS, O_HFLIP,
	       O_VFLIP, O_NOISE, O_CONTRAST, O_BRIGHT };
	static const struct option longopts[] = {
		{ "seed", required_argument, 0, O_SEED },
		{ "copies", required_argument, 0, O_COPIES },
		{ "no-original", no_argument, 0, O_NOORIG },
		{ "balance", no_argument, 0, O_BALANCE },
		{ "rotate", required_argument, 0, O_ROT },
		{ "scale", required_argument, 0, O_SCALE },
		{ "translate", required_argument, 0, O_TRANS },
		{ "hflip", required_argument, 0, O_HFLIP },
		{ "vflip", required_argument, 0, O_VFLIP },
		{ "noise", required_argument, 0, O_NOISE },
		{ "contrast", required_argument, 0, O_CONTRAST },
		{ "brightness", required_argument, 0, O_BRIGHT },
		CLI_COMMON_OPTIONS
	};
	int c;

	memset(o, 0, sizeof *o);
	o->seed = 1;
	o->original = 1;
	cli_help(options);
	while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (c) {
		case O_SEED: o->seed = (unsigned long long)estrtonum(optarg, 0, INT64_MAX, "--seed"); break;
		case O_COPIES: o->copies = (int)estrtonum(optarg, 0, 10000, "--copies"); break;
		case O_NOORIG: o->original = 0; break;
		case O_BALANCE: o->balance = 1; break;
		case O_ROT: knob(optarg, &o->rotate, 180, "--rotate"); break;
		case O_SCALE: knob(optarg, &o->scale, 0.9, "--scale"); break;
		case O_TRANS: knob(optarg, &o->translate, 0.5, "--translate"); break;
		case O_HFLIP: o->hflip = estrtod(optarg, 0, 1, "--hflip"); break;
		case O_VFLIP: o->vflip = estrtod(optarg, 0, 1, "--vflip"); break;
		case O_NOISE: knob(optarg, &o->noise, 1e6, "--noise"); break;
		case O_CONTRAST: knob(optarg, &o->contrast, 0.99, "--contrast"); break;
		case O_BRIGHT: knob(optarg, &o->brightness, 1e6, "--brightness"); break;
		default: cli_common(c, usage);
		}
	}
	if (!o->copies && !o->balance)
		warn("neither --copies nor --balance: records pass through unchanged");
	o->inputs = argv + optind;
	o->ninputs = argc - optind;
}

/* ---------------------------------------------------------------- */
/* one augmented copy */

static int
chance(struct rng *g, double p)
{
	/* always draw, so one knob's probability does not shift the others */
	return rng_uniform(g) < p;
}

static double
symmetric(struct rng *g, double v)
{
	return (2 * rng_uniform(g) - 1) * v;
}

/*
 * Replace dst with src transformed, under the id `id`.  The parameters
 * drawn are recorded in meta so a copy can be explained.
 */
static void
augment(const struct opts *o, struct input *in, const struct record *src, struct record *dst,
        const char *id, struct work *wk)
{
	struct tensor *t;
	struct rng g;
	int c, h, w;
	const char *err;

	rec_copy(dst, src);
	rec_set_id(dst, id);
	t = rec_tensor(dst, TENSOR_IMAGE);
	if (!t || t->ndim != 3 || !t->shape[0] || !t->shape[1] || !t->shape[2])
		input_die(in, src, "no 'image' tensor [C,H,W] to augment");
	c = (int)t->shape[0];
	h = (int)t->shape[1];
	w = (int)t->shape[2];
	size_t n = tensor_elems(t);
	egrow((void **)&wk->a, &wk->cap_a, n * sizeof(float));
	egrow((void **)&wk->b, &wk->cap_b, n * sizeof(float));
	tensor_to_float(t, wk->a);
	if (!floats_finite(wk->a, n))
		input_die(in, src, "'image' has NaN or infinite values");
	rng_seed(&g, o->seed, id);

	/* draw every parameter, in a fixed order, whatever is enabled */
	int r_on = chance(&g, o->rotate.p), s_on = chance(&g, o->scale.p), t_on = chance(&g, o->translate.p);
	double deg = symmetric(&g, o->rotate.v), sc = 1 + symmetric(&g, o->scale.v);
	double tx = symmetric(&g, o->translate.v) * w, ty = symmetric(&g, o->translate.v) * h;
	int hf = chance(&g, o->hflip), vf = chance(&g, o->vflip);
	int c_on = chance(&g, o->contrast.p), b_on = chance(&g, o->brightness.p), n_on = chance(&g, o->noise.p);
	double con = 1 + symmetric(&g, o->contrast.v), bri = symmetric(&g, o->brightness.v);
	deg = r_on ? deg : 0;
	sc = s_on ? sc : 1;
	tx = t_on ? tx : 0;
	ty = t_on ? ty : 0;

	float *img = wk->a;
	if (deg != 0 || sc != 1 || tx != 0 || ty != 0 || hf || vf) {
		img_warp(wk->a, wk->b, c, h, w, deg, sc, tx, ty, hf, vf);
		img = wk->b;
		/* a mask moves with its image */
		float *m = mask_load(dst, h, w, &wk->m, &wk->cap_m, &err);
		if (err)
			input_die(in, src, "%s", err);
		if (m) {
			egrow((void **)&wk->mo, &wk->cap_mo, (size_t)h * w * sizeof(float));
			img_warp(m, wk->mo, 1, h, w, deg, sc, tx, ty, hf, vf);
			mask_store(dst, wk->mo, h, w);
		}
	}
	if ((c_on && o->contrast.v > 0) || (b_on && o->brightness.v > 0)) {
		for (int k = 0; k < c; k++) {
			float *x = img + (size_t)k * h * w;
			double mean = 0;
			for (size_t i = 0; i < (size_t)h * w; i++)
				mean += x[i];
			mean /= (double)h * w;
			for (size_t i = 0; i < (size_t)h * w; i++)
				x[i] = (float)((x[i] - mean) * (c_on ? con : 1) + mean + (b_on ? bri : 0));
		}
	}
	if (n_on && o->noise.v > 0)
		for (size_t i = 0; i < n; i++)
			img[i] += (float)(o->noise.v * rng_normal(&g));

	uint32_t shape[3] = { (uint32_t)c, (uint32_t)h, (uint32_t)w };
	t = rec_tensor_put(dst, TENSOR_IMAGE, DT_F32, 3, shape, &err);
	if (!t)
		input_die(in, src, "augmented image: %s", err);
	memcpy(t->data, img, n * sizeof(float));
	rec_meta_str(dst, KEY_AUG_OF, src->id);
	rec_meta_float(dst, KEY_AUG_ROTATE, deg);
	rec_meta_float(dst, KEY_AUG_SCALE, sc);
	rec_meta_float(dst, KEY_AUG_TRANSLATE_X, tx);
	rec_meta_float(dst, KEY_AUG_TRANSLATE_Y, ty);
	rec_meta_bool(dst, KEY_AUG_HFLIP, hf);
	rec_meta_bool(dst, KEY_AUG_VFLIP, vf);
	rec_meta_float(dst, KEY_AUG_CONTRAST, c_on ? con : 1);
	rec_meta_float(dst, KEY_AUG_BRIGHTNESS, b_on ? bri : 0);
	rec_meta_float(dst, KEY_AUG_NOISE, n_on ? o->noise.v : 0);
	prep_step(dst, "augment", NULL);
}

static void
emit_copies(const struct opts *o, struct input *in, const struct record *r, int k0, int k1,
            const char *tag, struct work *wk, struct rec_writer *out)
{
	char id[4096];

	for (int k = k0; k <= k1; k++) {
		if ((size_t)snprintf(id, sizeof id, "%s#%s%d", r->id, tag, k) >= sizeof id)
			input_die(in, r, "id too long to augment");
		augment(o, in, r, &wk->copy, id, wk);
		rec_write(out, &wk->copy);
	}
}

/* ---------------------------------------------------------------- */
/* --balance */

struct held {
	struct record *r;
	long n, cap;
	size_t bytes;
};

static int
by_id(const void *a, const void *b)
{
	return strcmp(((const struct record *)a)->id, ((const struct record *)b)->id);
}

static void
balance(const struct opts *o, struct input *in, struct work *wk, struct rec_writer *out)
{
	struct held h = { 0 };
	long *count = NULL, nl = 0, most = 0;

	for (;;) {
		if (h.n == h.cap) {
			h.cap = h.cap ? 2 * h.cap : 256;
			h.r = erealloc(h.r, h.cap * sizeof *h.r);
		}
		rec_init(&h.r[h.n]);
		if (!input_read(in, &h.r[h.n])) {
			rec_free(&h.r[h.n]);
			break;
		}
		struct record *r = &h.r[h.n++];
		input_hold(in, r, (size_t)h.n);
		if (!r->has_label)
			input_die(in, r, "--balance needs a label on every record");
		if (r->label >= 100000)
			input_die(in, r, "label %lld is implausibly large", r->label);
		if (r->label >= nl) {
			count = erealloc(count, (r->label + 1) * sizeof *count);
			memset(count + nl, 0, (r->label + 1 - nl) * sizeof *count);
			nl = r->label + 1;
		}
		count[r->label]++;
		for (int i = 0; i < r->ntensors; i++)
			h.bytes += r->tensors[i].nbytes;
	}
	info("--balance holds %ld records, %.1f MiB of tensors, in memory", h.n, h.bytes / 1048576.0);
	/* the stream's order must not matter: copies go round-robin in id order */
	qsort(h.r, h.n, sizeof *h.r, by_id);
	for (long k = 0; k < nl; k++)
		most = count[k] > most ? count[k] : most;
	/* every class ends at the largest class's size, copies included */
	long per = o->original + o->copies, *seen = ecalloc(nl, sizeof *seen);
	if (per == 0)
		die(EX_USAGE, "--balance with --no-original needs --copies");
	for (long i = 0; i < h.n; i++) {
		struct record *r = &h.r[i];
		long k = r->label, rank = seen[k]++;
		long extra = (most - count[k]) * per;
		long mine = extra / count[k] + (rank < extra % count[k]);
		if (o->original)
			rec_write(out, r);
		if (o->copies)
			emit_copies(o, in, r, 1, o->copies, "aug", wk, out);
		if (mine)
			emit_copies(o, in, r, 1, (int)mine, "bal", wk, out);
	}
	for (long k = 0; k < nl; k++)
		if (count[k])
			info("label %ld: %ld records, %ld copies, %ld added to balance", k, count[k],
			     count[k] * o->copies, (most - count[k]) * per);
	free(seen);
	for (long i = 0; i < h.n; i++)
		rec_free(&h.r[i]);
	free(h.r);
	free(count);
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct input in;
	struct record r;
	struct work wk = { 0 };
	struct rec_writer *out;
	int st;

	/* arguments */
	cli_init(argv[0]);
	parse_args(argc, argv, &o);

	/* prepare */
	out = rec_writer_new(stdout, "<stdout>");
	input_open(&in, o.inputs, o.ninputs);
	rec_init(&r);
	rec_init(&wk.copy);

	/* process */
	if (o.balance)
		balance(&o, &in, &wk, out);
	else
		while (input_read(&in, &r)) {
			if (o.original)
				rec_write(out, &r);
			emit_copies(&o, &in, &r, 1, o.copies, "aug", &wk, out);
		}

	/* clean up */
	input_close(&in);
	st = rec_writer_close(out);
	rec_free(&r);
	rec_free(&wk.copy);
	return st;
}
