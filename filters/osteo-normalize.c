/*
 * osteo-normalize - gray, fixed size, and intensities a network can use.
 *
 * Each record's `image` becomes an f32 [C,H,W] tensor: converted to gray
 * (Rec. 601 luma) unless --keep-channels, fitted to --size, then mapped by
 * --method.  Without a statistics file every image is mapped by its own
 * statistics.  --fit-stats computes the method's statistics over the whole
 * stream it reads (the training split), writes them, and applies them;
 * --stats applies saved ones to another stream (validation, test, new
 * patients), so nothing of those leaks into preprocessing.  Fitting needs
 * the statistics before the first record can be written: the resized
 * records are spooled to a temporary file, not held in memory.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/record/contract.h"
#include "common/image/imgops.h"
#include "common/record/input.h"
#include "common/record/params.h"
#include "common/record/record.h"
#include "common/base/util.h"
#include "common/record/cli.h"

static const char usage[] =
	"osteo-normalize [-q] [--size WxH] [--fit pad|crop|stretch] [--keep-channels]\n"
	"       [--method minmax|zscore|percentile|window|none] [--window CENTER,WIDTH|file]\n"
	"       [--percentiles LO,HI] [--fit-stats FILE | --stats FILE] [FILE|-]...";
static const char options[] =
	"  --size WxH             one size for every image (default: each keeps its own)\n"
	"  --fit pad|crop|stretch how an image meets --size (default pad: keep the aspect ratio)\n"
	"  --keep-channels        keep colour (default: gray)\n"
	"  --method M             minmax, zscore, percentile, window or none (default minmax)\n"
	"  --window C,W|file      the window of --method window: centre and width, or each file's own\n"
	"  --percentiles LO,HI    the percentiles of --method percentile (default 1,99)\n"
	"  --fit-stats FILE       fit the dataset statistics on these records (training) and save them\n"
	"  --stats FILE           apply saved statistics (validation, test, new data)\n";

enum method { M_MINMAX, M_ZSCORE, M_PERCENTILE, M_WINDOW, M_NONE };
static const char *const methods[] = { "minmax", "zscore", "percentile", "window", "none" };
static const char *const fits[] = { "pad", "crop", "stretch" };

#define STATS_KIND "osteo-normalize statistics"
#define MAXC 4
#define NBINS 65536

struct opts {
	int w, h;              /* 0: keep the size */
	enum fit fit;
	int gray;
	enum method method;
	double wc, ww;         /* window centre and width */
	int file_window;       /* --window file: each record's own (meta) */
	double plo, phi;       /* percentiles, 0..100 */
	const char *fit_stats;
	const char *stats;
	unsigned set;          /* which of the above were given */
	char **inputs;
	int ninputs;
};

enum { SET_SIZE = 1, SET_FIT = 2, SET_GRAY = 4, SET_METHOD = 8, SET_WINDOW = 16, SET_PCT = 32 };

/* the mapping's parameters, per channel: v -> (v - off) * mul, maybe clipped */
struct params {
	int dataset;           /* from a statistics file rather than each image */
	int channels;
	double lo[MAXC], hi[MAXC], mean[MAXC], sd[MAXC];
	char fingerprint[24];
};

/* buffers reused from record to record */
struct work {
	float *a, *b, *c, *m, *mo;
	size_t cap_a, cap_b, cap_c, cap_m, cap_mo;
};

/* ---------------------------------------------------------------- */
/* arguments */

static int
pick(const char *s, const char *const *names, int n, const char *what)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return i;
	die(EX_USAGE, "%s: unknown value '%s'", what, s);
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_SIZE = 256, O_FIT, O_KEEP, O_METHOD, O_WINDOW, O_PCT, O_FITSTATS, O_STATS };
	static const struct option longopts[] = {
		{ "size", required_argument, 0, O_SIZE },
		{ "fit", required_argument, 0, O_FIT },
		{ "keep-channels", no_argument, 0, O_KEEP },
		{ "method", required_argument, 0, O_METHOD },
		{ "window", required_argument, 0, O_WINDOW },
		{ "percentiles", required_argument, 0, O_PCT },
		{ "fit-stats", required_argument, 0, O_FITSTATS },
		{ "stats", required_argument, 0, O_STATS },
		CLI_COMMON_OPTIONS
	};
	double v[2];
	int c;

	memset(o, 0, sizeof *o);
	o->gray = 1;
	o->method = M_MINMAX;
	o->plo = 1;
	o->phi = 99;
	cli_help(options);
	while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (c) {
		case O_SIZE: eparse_size(optarg, &o->w, &o->h, "--size"); o->set |= SET_SIZE; break;
		case O_FIT: o->fit = (enum fit)pick(optarg, fits, 3, "--fit"); o->set |= SET_FIT; break;
		case O_KEEP: o->gray = 0; o->set |= SET_GRAY; break;
		case O_METHOD: o->method = (enum method)pick(optarg, methods, 5, "--method"); o->set |= SET_METHOD; break;
		case O_WINDOW:
			if (!strcmp(optarg, "file")) {
				o->file_window = 1;
				o->set |= SET_WINDOW;
				break;
			}
			eparse_numbers(optarg, v, 2, 2, -1e9, 1e9, "--window");
			o->wc = v[0];
			o->ww = v[1];
			if (o->ww <= 0)
				die(EX_USAGE, "--window: the width must be positive");
			o->set |= SET_WINDOW;
			break;
		case O_PCT:
			eparse_numbers(optarg, v, 2, 2, 0, 100, "--percentiles");
			o->plo = v[0];
			o->phi = v[1];
			if (o->plo >= o->phi)
				die(EX_USAGE, "--percentiles: LO must be below HI");
			o->set |= SET_PCT;
			break;
		case O_FITSTATS: o->fit_stats = optarg; break;
		case O_STATS: o->stats = optarg; break;
		default: cli_common(c, usage);
		}
	}
	if (o->fit_stats && o->stats)
		usage_error(usage, "--fit-stats fits statistics, --stats applies them: give one");
	if (o->method == M_WINDOW && !(o->set & SET_WINDOW) && !o->stats)
		usage_error(usage, "--method window needs --window CENTER,WIDTH or --window file");
	if ((o->set & SET_WINDOW) && o->method != M_WINDOW)
		o->method = M_WINDOW, o->set |= SET_METHOD;
	if (o->fit_stats && (o->method == M_WINDOW || o->method == M_NONE))
		usage_error(usage, "--method %s has no statistics to fit", methods[o->method]);
	o->inputs = argv + optind;
	o->ninputs = argc - optind;
}

/* ---------------------------------------------------------------- */
/* the statistics file */

static void
put_vec(struct record *r, const char *name, const double *v, int n)
{
	uint32_t shape[1] = { (uint32_t)n };
	const char *err;
	struct tensor *t = rec_tensor_put(r, name, DT_F32, 1, shape, &err);

	for (int i = 0; i < n; i++)
		((float *)t->data)[i] = (float)v[i];
}

static void
get_vec(const char *path, const struct record *r, const char *name, double *v, int n)
{
	const struct tensor *t = rec_tensor(r, name);

	if (!t || t->dtype != DT_F32 || t->ndim != 1 || (int)t->shape[0] != n)
		die(EX_DATAERR, "%s: tensor '%s' is not f32 [%d]", path, name, n);
	for (int i = 0; i < n; i++)
		v[i] = ((const float *)t->data)[i];
}

/* the statistics, named by the fingerprint their records carry */
static void
stats_save(const char *path, const struct opts *o, struct params *p, unsigned long long n)
{
	struct record r;
	char size[32];

	rec_init(&r);
	rec_set_id(&r, "statistics");
	rec_meta_str(&r, "kind", STATS_KIND);
	rec_meta_str(&r, "method", methods[o->method]);
	rec_meta_str(&r, "fit", fits[o->fit]);
	snprintf(size, sizeof size, "%dx%d", o->w, o->h);
	rec_meta_str(&r, "size", size);
	rec_meta_bool(&r, "gray", o->gray);
	rec_meta_int(&r, "channels", p->channels);
	rec_meta_float(&r, "percentile_lo", o->plo);
	rec_meta_float(&r, "percentile_hi", o->phi);
	rec_meta_int(&r, "images", (long long)n);
	put_vec(&r, "lo", p->lo, p->channels);
	put_vec(&r, "hi", p->hi, p->channels);
	put_vec(&r, "mean", p->mean, p->channels);
	put_vec(&r, "sd", p->sd, p->channels);
	snprintf(p->fingerprint, sizeof p->fingerprint, "%s", params_fingerprint(&r));
	params_save(path, &r);
	rec_free(&r);
}

/* the file's settings win; options given that disagree are an error */
static void
stats_load(const char *path, struct opts *o, struct params *p)
{
	struct record r;
	struct opts f = *o;

	rec_init(&r);
	params_load(path, STATS_KIND, &r);
	f.method = (enum method)pick(params_str(path, &r, "method"), methods, 5, path);
	f.fit = (enum fit)pick(params_str(path, &r, "fit"), fits, 3, path);
	eparse_size(params_str(path, &r, "size"), &f.w, &f.h, path);
	f.gray = (int)params_int(path, &r, "gray");
	p->channels = (int)params_int(path, &r, "channels");
	if (p->channels < 1 || p->channels > MAXC)
		die(EX_DATAERR, "%s: %d channels", path, p->channels);
	if (((o->set & SET_SIZE) && (f.w != o->w || f.h != o->h)) ||
	    ((o->set & SET_FIT) && f.fit != o->fit) || ((o->set & SET_GRAY) && f.gray != o->gray) ||
	    ((o->set & SET_METHOD) && f.method != o->method))
		die(EX_USAGE, "%s: its size, fit, channels or method differ from the options given", path);
	get_vec(path, &r, "lo", p->lo, p->channels);
	get_vec(path, &r, "hi", p->hi, p->channels);
	get_vec(path, &r, "mean", p->mean, p->channels);
	get_vec(path, &r, "sd", p->sd, p->channels);
	f.set = o->set;
	f.plo = o->plo;
	f.phi = o->phi;
	*o = f;
	p->dataset = 1;
	snprintf(p->fingerprint, sizeof p->fingerprint, "%s", params_str(path, &r, "fingerprint"));
	rec_free(&r);
}

/* ---------------------------------------------------------------- */
/* per record */

/*
 * Gray and fit the record's image into an f32 tensor, intensities
 * unchanged.  Returns the tensor; *c, *h, *w its shape.
 */
static struct tensor *
shape_image(struct input *in, struct record *r, const struct opts *o, struct work *wk)
{
	struct tensor *t = rec_tensor(r, TENSOR_IMAGE);
	int c, h, w, dh, dw;
	size_t n;
	const char *err;

	if (!t)
		input_die(in, r, "no 'image' tensor");
	if (t->ndim == 3) {
		c = (int)t->shape[0];
		h = (int)t->shape[1];
		w = (int)t->shape[2];
	} else if (t->ndim == 2) {
		c = 1;
		h = (int)t->shape[0];
		w = (int)t->shape[1];
	} else
		input_die(in, r, "'image' has %d dimensions; expected [C,H,W]", t->ndim);
	if (c == 0 || h == 0 || w == 0)
		input_die(in, r, "'image' is empty (%dx%dx%d)", c, h, w);
	if (o->gray && c != 1 && c != 3)
		input_die(in, r, "'image' has %d channels; gray needs 1 or 3 (or --keep-channels)", c);
	if (!o->gray && c > MAXC)
		input_die(in, r, "'image' has %d channels; at most %d", c, MAXC);
	n = tensor_elems(t);
	egrow((void **)&wk->a, &wk->cap_a, n * sizeof(float));
	tensor_to_float(t, wk->a);
	if (!floats_finite(wk->a, n))
		input_die(in, r, "'image' has NaN or infinite values");
	if (o->gray && c == 3) {
		egrow((void **)&wk->b, &wk->cap_b, (size_t)h * w * sizeof(float));
		img_gray(wk->a, wk->b, (size_t)h * w);
		float *s = wk->a;
		wk->a = wk->b;
		wk->b = s;
		size_t cs = wk->cap_a;
		wk->cap_a = wk->cap_b;
		wk->cap_b = cs;
		c = 1;
	}
	dh = o->h ? o->h : h;
	dw = o->w ? o->w : w;
	/* pad with the image's darkest value: the background of a radiograph */
	float fill = INFINITY;
	for (size_t i = 0; i < (size_t)c * h * w; i++)
		fill = wk->a[i] < fill ? wk->a[i] : fill;
	uint32_t shape[3] = { (uint32_t)c, (uint32_t)dh, (uint32_t)dw };
	struct tensor *out = rec_tensor_put(r, TENSOR_IMAGE, DT_F32, 3, shape, &err);
	if (!out)
		input_die(in, r, "normalised image: %s", err);
	if (dh == h && dw == w)
		memcpy(out->data, wk->a, (size_t)c * h * w * sizeof(float));
	else {
		egrow((void **)&wk->c, &wk->cap_c, (size_t)c * dh * dw * sizeof(float));
		img_fit(wk->a, c, h, w, out->data, dh, dw, o->fit, fill, wk->c);
		/* a mask goes where its image goes; margins are not bone */
		float *m = mask_load(r, h, w, &wk->m, &wk->cap_m, &err);
		if (err)
			input_die(in, r, "%s", err);
		if (m) {
			egrow((void **)&wk->mo, &wk->cap_mo, (size_t)dh * dw * sizeof(float));
			img_fit(m, 1, h, w, wk->mo, dh, dw, o->fit, 0, wk->c);
			mask_store(r, wk->mo, dh, dw);
			out = rec_tensor(r, TENSOR_IMAGE);
		}
	}
	return out;
}

/* per-image statistics, for a run without a statistics file */
static void
image_params(const struct tensor *t, const struct opts *o, struct params *p, struct work *wk)
{
	int c = (int)t->shape[0];
	size_t plane = (size_t)t->shape[1] * t->shape[2];
	const float *v = t->data;

	p->channels = c;
	for (int k = 0; k < c; k++) {
		const float *x = v + k * plane;
		double s = 0, s2 = 0, lo = INFINITY, hi = -INFINITY;
		for (size_t i = 0; i < plane; i++) {
			s += x[i];
			s2 += (double)x[i] * x[i];
			lo = x[i] < lo ? x[i] : lo;
			hi = x[i] > hi ? x[i] : hi;
		}
		p->mean[k] = s / plane;
		p->sd[k] = sqrt(fmax(s2 / plane - p->mean[k] * p->mean[k], 0));
		p->lo[k] = lo;
		p->hi[k] = hi;
		if (o->method == M_PERCENTILE) {
			egrow((void **)&wk->b, &wk->cap_b, plane * sizeof(float));
			memcpy(wk->b, x, plane * sizeof(float));
			p->lo[k] = select_rank(wk->b, plane, o->plo / 100);
			p->hi[k] = select_rank(wk->b, plane, o->phi / 100);
		}
	}
}

/* --window file: the window the record's DICOM header gave (osteo-decode's
 * meta window_center and window_width) */
static void
own_window(struct input *in, const struct record *r, struct opts *o)
{
	const struct metaval *c = rec_meta(r, KEY_PROV_WINDOW_CENTER), *w = rec_meta(r, KEY_PROV_WINDOW_WIDTH);

	if (!c || !w || (c->type != MV_FLOAT && c->type != MV_INT) || (w->type != MV_FLOAT && w->type != MV_INT))
		input_die(in, r, "no window_center and window_width in its meta (--window file takes the window "
		          "a DICOM file's header gives)");
	o->wc = c->type == MV_FLOAT ? c->f : (double)c->i;
	o->ww = w->type == MV_FLOAT ? w->f : (double)w->i;
	if (!(o->ww > 0))
		input_die(in, r, "its window width %g is not positive", o->ww);
}

static void
apply(struct tensor *t, const struct opts *o, const struct params *p)
{
	int c = (int)t->shape[0];
	size_t plane = (size_t)t->shape[1] * t->shape[2];
	float *v = t->data;

	for (int k = 0; k < c && o->method != M_NONE; k++) {
		float *x = v + k * plane;
		double off, mul;
		int clip = 0;
		switch (o->method) {
		case M_ZSCORE:
			off = p->mean[k];
			mul = p->sd[k] > 0 ? 1 / p->sd[k] : 0;
			break;
		case M_WINDOW:
			off = o->wc - o->ww / 2;
			mul = 1 / o->ww;
			clip = 1;
			break;
		default:
			off = p->lo[k];
			mul = p->hi[k] > p->lo[k] ? 1 / (p->hi[k] - p->lo[k]) : 0;
			clip = o->method == M_PERCENTILE || p->dataset;
		}
		for (size_t i = 0; i < plane; i++) {
			float y = (float)((x[i] - off) * mul);
			if (clip)
				y = y < 0 ? 0 : y > 1 ? 1 : y;
			x[i] = y;
		}
	}
}

static void
note(struct record *r, const struct opts *o, const struct params *p)
{
	char size[32];

	snprintf(size, sizeof size, "%ux%u", rec_tensor(r, TENSOR_IMAGE)->shape[2], rec_tensor(r, TENSOR_IMAGE)->shape[1]);
	prep_write_norm(r, size, fits[o->fit], o->gray, methods[o->method], o->method == M_WINDOW, o->wc, o->ww,
	                p->dataset ? p->fingerprint : "per-image");
	/* the method's own settings: the percentiles, or the window (a
	 * header's window is the file's, so "file" says it) */
	char how[64] = "";
	if (o->method == M_PERCENTILE)
		snprintf(how, sizeof how, "%g,%g", o->plo, o->phi);
	else if (o->method == M_WINDOW)
		snprintf(how, sizeof how, o->file_window ? "file" : "%g,%g", o->wc, o->ww);
	prep_step(r, "normalize", "size", size, "fit", fits[o->fit], "gray", o->gray ? "1" : "0", "method",
	          methods[o->method], o->method == M_WINDOW ? "window" : "percentiles", *how ? how : NULL, "stats",
	          p->dataset ? p->fingerprint : "per-image", NULL);
}

/* ---------------------------------------------------------------- */
/* fitting over the stream */

struct acc {
	unsigned long long images, n[MAXC];
	double sum[MAXC], sum2[MAXC], lo[MAXC], hi[MAXC];
	unsigned long long *hist;   /* [MAXC][NBINS] */
};

static void
acc_add(struct acc *a, const struct tensor *t, struct input *in, struct record *r, int *channels)
{
	int c = (int)t->shape[0];
	size_t plane = (size_t)t->shape[1] * t->shape[2];
	const float *v = t->data;

	if (*channels && c != *channels)
		input_die(in, r, "%d channels, but earlier records have %d", c, *channels);
	*channels = c;
	a->images++;
	for (int k = 0; k < c; k++)
		for (size_t i = 0; i < plane; i++) {
			double x = v[k * plane + i];
			a->sum[k] += x;
			a->sum2[k] += x * x;
			a->lo[k] = x < a->lo[k] ? x : a->lo[k];
			a->hi[k] = x > a->hi[k] ? x : a->hi[k];
			a->n[k]++;
		}
}

static void
acc_hist(struct acc *a, const struct tensor *t)
{
	int c = (int)t->shape[0];
	size_t plane = (size_t)t->shape[1] * t->shape[2];
	const float *v = t->data;

	for (int k = 0; k < c; k++) {
		double span = a->hi[k] - a->lo[k];
		for (size_t i = 0; i < plane; i++) {
			long b = span > 0 ? (long)((v[k * plane + i] - a->lo[k]) / span * (NBINS - 1)) : 0;
			a->hist[(size_t)k * NBINS + (b < 0 ? 0 : b >= NBINS ? NBINS - 1 : b)]++;
		}
	}
}

/* the value below which a fraction q of the histogram's samples lie */
static double
hist_quantile(const struct acc *a, int k, double q)
{
	const unsigned long long *h = a->hist + (size_t)k * NBINS;
	unsigned long long want = (unsigned long long)llround(q * (double)(a->n[k] - 1)), seen = 0;

	for (int b = 0; b < NBINS; b++) {
		seen += h[b];
		if (seen > want)
			return a->lo[k] + (a->hi[k] - a->lo[k]) * b / (NBINS - 1);
	}
	return a->hi[k];
}

/* the percentiles' pass: each spooled image into the histograms */
static void
spool_pass(struct spool *spool, struct record *r, struct acc *a)
{
	struct input in;

	spool_input(spool, &in, "<spool>");
	while (input_read(&in, r))
		acc_hist(a, rec_tensor(r, TENSOR_IMAGE));
	input_close(&in);
}

static unsigned long long
fit_and_apply(struct opts *o, struct input *in, struct record *r, struct work *wk,
              struct rec_writer *out)
{
	struct acc a = { 0 };
	struct params p = { .dataset = 1 };
	struct spool spool;
	struct input sp;

	spool_open(&spool);
	for (int k = 0; k < MAXC; k++) {
		a.lo[k] = INFINITY;
		a.hi[k] = -INFINITY;
	}
	while (input_read(in, r)) {
		struct tensor *t = shape_image(in, r, o, wk);
		/* without --size, the first record's size is the one recorded */
		if (!o->w) {
			o->w = (int)t->shape[2];
			o->h = (int)t->shape[1];
		} else if ((int)t->shape[2] != o->w || (int)t->shape[1] != o->h)
			input_die(in, r, "size %ux%u differs from the first record's %dx%d; give --size",
			          t->shape[2], t->shape[1], o->w, o->h);
		acc_add(&a, t, in, r, &p.channels);
		spool_add(&spool, r);
	}
	spool_end(&spool);
	if (!a.images)
		die(EX_DATAERR, "no records to fit statistics on");
	for (int k = 0; k < p.channels; k++) {
		p.mean[k] = a.sum[k] / a.n[k];
		p.sd[k] = sqrt(fmax(a.sum2[k] / a.n[k] - p.mean[k] * p.mean[k], 0));
		p.lo[k] = a.lo[k];
		p.hi[k] = a.hi[k];
	}
	if (o->method == M_PERCENTILE) {
		a.hist = ecalloc((size_t)MAXC * NBINS, sizeof *a.hist);
		spool_pass(&spool, r, &a);
		for (int k = 0; k < p.channels; k++) {
			p.lo[k] = hist_quantile(&a, k, o->plo / 100);
			p.hi[k] = hist_quantile(&a, k, o->phi / 100);
		}
		free(a.hist);
	}
	stats_save(o->fit_stats, o, &p, a.images);
	spool_input(&spool, &sp, "<spool>");
	while (input_read(&sp, r)) {
		apply(rec_tensor(r, TENSOR_IMAGE), o, &p);
		note(r, o, &p);
		rec_write(out, r);
	}
	input_close(&sp);
	spool_close(&spool);
	return a.images;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct input in;
	struct record r;
	struct work wk = { 0 };
	struct params p = { 0 };
	struct rec_writer *out;
	int st;

	/* arguments */
	cli_init(argv[0]);
	parse_args(argc, argv, &o);

	/* prepare */
	if (o.stats)
		stats_load(o.stats, &o, &p);
	out = rec_writer_new(stdout, "<stdout>");
	input_open(&in, o.inputs, o.ninputs);
	rec_init(&r);

	/* process */
	if (o.fit_stats)
		fit_and_apply(&o, &in, &r, &wk, out);
	else
		while (input_read(&in, &r)) {
			struct tensor *t = shape_image(&in, &r, &o, &wk);
			if (p.dataset && (int)t->shape[0] != p.channels)
				input_die(&in, &r, "%u channels; the statistics have %d", t->shape[0], p.channels);
			if (!p.dataset)
				image_params(t, &o, &p, &wk);
			if (o.file_window)
				own_window(&in, &r, &o);
			apply(t, &o, &p);
			note(&r, &o, &p);
			rec_write(out, &r);
		}

	/* clean up */
	input_close(&in);
	st = rec_writer_close(out);
	rec_free(&r);
	return st;
}
