/*
 * osteo-synth - a synthetic cohort that stands in for real exports.
 *
 * Each patient has a latent bone quality q in (0, 1).  The class comes
 * first (drawn by --prevalence), then q from a class-dependent normal with
 * overlap, so even a perfect reader of q cannot be always right.  Images
 * show bone with a cortical shell whose thickness follows q and a
 * trabecular network of struts whose spacing, thickness and length
 * (connectivity) fall with q; horizontal struts thin out first, as they do
 * in osteoporosis.  Clinical columns follow the class as in life: age and
 * fractures go up, the T-score goes down, with enough noise that no single
 * column gives the class away (unless --leak, for testing leakage checks).
 *
 * Everything is drawn from generators keyed by --seed and the patient's
 * key, so a cohort is the same bytes on every run.
 */
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/image.h"
#include "../common/outtree.h"
#include "../common/record.h"
#include "../common/rng.h"
#include "../common/util.h"

static const char usage[] =
	"osteo-synth [-q] [-n PATIENTS] [--seed N] [--images MAX] [--size WxH]\n"
	"       [--prevalence H,P,O] [--leak] [--masks] (-o DIR | --tar -o FILE.tar.gz |\n"
	"       --records [--clinical FILE.csv] [--truth FILE.csv])";
static const char options[] =
	"  -n PATIENTS            patients (default 60)\n"
	"  --seed N               the cohort's generator (default 1)\n"
	"  --images MAX           images per patient, 1 to MAX (default 3)\n"
	"  --size WxH             every image this size (default: by modality)\n"
	"  --prevalence H,P,O     the classes' relative frequencies (default 0.4,0.35,0.25)\n"
	"  --leak                 a T-score that gives the class away (to test leakage checks)\n"
	"  --masks                a bone mask beside each image\n"
	"  -o DIR                 write a tree of PNGs with clinical, manifest and truth CSVs\n"
	"  --tar                  with -o FILE.tar.gz: the same tree as an archive\n"
	"  --records              write records to standard output instead\n"
	"  --clinical FILE.csv    with --records: write the clinical table there\n"
	"  --truth FILE.csv       with --records: write each patient's latent quality and Bayes class there\n";

#define MAXIMAGES 100           /* --images: a patient's images at most */

static const char *const classnames[3] = { "healthy", "osteopenia", "osteoporosis" };
static const char *const modalities[3] = { "xray", "ct", "dexa" };
static const char *const regions[5] = { "lumbar_spine", "hip", "femur", "pelvis", "thoracic_spine" };
enum { XRAY, CT, DEXA };
enum { LUMBAR, HIP, FEMUR, PELVIS, THORACIC };

struct opts {
	int n;
	unsigned long long seed;
	int maximages;
	int w, h;               /* 0: per modality */
	double prev[3];
	int leak;
	int masks;
	int tar;
	int records;
	const char *out;
	const char *clinical;
	const char *truth;
};

struct patient {
	char key[16];
	int label;
	double q;
	int age;
	char sex;
	double tscore;
	int fracture;
	int modality, region;
	int nimages;
};

/* where images go: a directory tree or a tar.gz (outtree.h), or a record stream */
struct sink {
	const struct opts *o;
	struct outtree tree;
	struct rec_writer *w;    /* records */
	struct record rec;
	unsigned char *png;
	size_t pngcap;
};

/* ---------------------------------------------------------------- */
/* arguments */

static void
parse_prev(const char *s, double p[3])
{
	eparse_numbers(s, p, 3, 3, 0, 1e9, "--prevalence");
	double sum = p[0] + p[1] + p[2];
	if (sum <= 0)
		die(EX_USAGE, "--prevalence: the numbers must not all be 0");
	for (int i = 0; i < 3; i++)
		p[i] /= sum;
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_SEED = 256, O_IMAGES, O_SIZE, O_PREV, O_LEAK, O_MASKS, O_TAR, O_RECORDS, O_CLIN, O_TRUTH };
	static const struct option longopts[] = {
		{ "patients", required_argument, 0, 'n' },
		{ "seed", required_argument, 0, O_SEED },
		{ "images", required_argument, 0, O_IMAGES },
		{ "size", required_argument, 0, O_SIZE },
		{ "prevalence", required_argument, 0, O_PREV },
		{ "leak", no_argument, 0, O_LEAK },
		{ "masks", no_argument, 0, O_MASKS },
		{ "truth", required_argument, 0, O_TRUTH },
		{ "tar", no_argument, 0, O_TAR },
		{ "records", no_argument, 0, O_RECORDS },
		{ "clinical", required_argument, 0, O_CLIN },
		{ "output", required_argument, 0, 'o' },
		CLI_COMMON_OPTIONS
	};
	int c;

	memset(o, 0, sizeof *o);
	o->n = 60;
	o->seed = 1;
	o->maximages = 3;
	parse_prev("0.4,0.35,0.25", o->prev);
	cli_help(options);
	while ((c = getopt_long(argc, argv, "n:o:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': o->n = (int)estrtonum(optarg, 1, 1000000, "-n"); break;
		case O_SEED: o->seed = (unsigned long long)estrtonum(optarg, 0, INT64_MAX, "--seed"); break;
		case O_IMAGES: o->maximages = (int)estrtonum(optarg, 1, MAXIMAGES, "--images"); break;
		case O_SIZE: eparse_size(optarg, &o->w, &o->h, "--size"); break;
		case O_PREV: parse_prev(optarg, o->prev); break;
		case O_LEAK: o->leak = 1; break;
		case O_MASKS: o->masks = 1; break;
		case O_TRUTH: o->truth = optarg; break;
		case O_TAR: o->tar = 1; break;
		case O_RECORDS: o->records = 1; break;
		case O_CLIN: o->clinical = optarg; break;
		case 'o': o->out = optarg; break;
		default: cli_common(c, usage);
		}
	}
	if (optind < argc)
		usage_error(usage, "unexpected argument '%s'", argv[optind]);
	if (o->records == !!o->out)
		usage_error(usage, "give either -o (a directory, or a .tar.gz with --tar) or --records");
	if (o->clinical && !o->records)
		usage_error(usage, "--clinical goes with --records; -o writes clinical.csv itself");
	if (o->truth && !o->records)
		usage_error(usage, "--truth goes with --records; -o writes truth.csv itself");
}

/* ---------------------------------------------------------------- */
/* the patient */

static double
clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* a class's bone quality: normal around its mean, clamped to [Q_LO, Q_HI] */
static const double qmean[3] = { 0.72, 0.50, 0.30 };
#define Q_SD 0.09
#define Q_LO 0.05
#define Q_HI 0.95

/*
 * P(class | q) under the cohort's own model, and the class that maximises
 * it: the best any reader could do who knew the latent quality exactly.
 * Clinical columns and images depend on the class only through q, so no
 * model of them can beat this rule on average; it is the demo's ceiling.
 * A clamped q is a point mass: its likelihood is the tail beyond the end.
 */
static int
bayes_class(const struct opts *o, double q, double post[3])
{
	double sum = 0;
	int best = 0;

	for (int c = 0; c < 3; c++) {
		double z = (q - qmean[c]) / Q_SD;
		double like = q <= Q_LO ? 0.5 * erfc(-z / M_SQRT2) : q >= Q_HI ? 0.5 * erfc(z / M_SQRT2) :
		              exp(-0.5 * z * z);
		post[c] = o->prev[c] * like;
		sum += post[c];
	}
	for (int c = 0; c < 3; c++) {
		post[c] = sum > 0 ? post[c] / sum : 1.0 / 3;
		best = post[c] > post[best] ? c : best;
	}
	return best;
}

static void
make_patient(const struct opts *o, int i, struct patient *p)
{
	struct rng g;
	double u, bad;

	snprintf(p->key, sizeof p->key, "P%04d", i + 1);
	rng_seed(&g, o->seed, p->key);
	u = rng_uniform(&g);
	p->label = u < o->prev[0] ? 0 : u < o->prev[0] + o->prev[1] ? 1 : 2;
	p->q = clamp(qmean[p->label] + Q_SD * rng_normal(&g), Q_LO, Q_HI);
	bad = 1.0 - p->q;
	p->age = (int)lround(clamp(42 + 45 * bad + 7 * rng_normal(&g), 30, 95));
	p->sex = rng_uniform(&g) < 0.40 + 0.45 * bad ? 'F' : 'M';
	p->fracture = rng_uniform(&g) < 0.04 + 0.6 * bad * bad;
	/* a measured T-score: it follows q, with the noise of another site and day */
	p->tscore = -4.5 + 6.0 * p->q + 0.9 * rng_normal(&g);
	if (o->leak) {
		/* the WHO definition itself: the column then gives the class away */
		static const double centre[3] = { 0.0, -1.75, -3.2 };
		p->tscore = centre[p->label] + 0.35 * (2 * rng_uniform(&g) - 1);
	}
	p->tscore = round(p->tscore * 10) / 10;
	u = rng_uniform(&g);
	p->modality = u < 0.45 ? XRAY : u < 0.75 ? CT : DEXA;
	p->region = rng_int(&g, 5);
	p->nimages = 1 + rng_int(&g, o->maximages);
}

/* ---------------------------------------------------------------- */
/* drawing */

struct canvas {
	int w, h;
	float *bone;      /* signed distance to the bone's edge, px (<0 inside) */
	float *body;      /* signed distance to the body's edge */
	float *trab;      /* trabecular struts, 0..1 */
	float *img;       /* the picture, 0..1 or HU */
	float *tmp;
};

/* one per thread: patients are drawn in parallel (main) */
static _Thread_local struct canvas cv;

static void
canvas_size(int w, int h)
{
	size_t n = (size_t)w * h;

	if (cv.w == w && cv.h == h)
		return;
	free(cv.bone);
	free(cv.body);
	free(cv.trab);
	free(cv.img);
	free(cv.tmp);
	cv.w = w;
	cv.h = h;
	cv.bone = emalloc(n * sizeof(float));
	cv.body = emalloc(n * sizeof(float));
	cv.trab = emalloc(n * sizeof(float));
	cv.img = emalloc(n * sizeof(float));
	cv.tmp = emalloc(n * sizeof(float));
}

/* signed distances of primitive shapes, in the units of the arguments */
static double
sd_ellipse(double x, double y, double cx, double cy, double rx, double ry)
{
	double dx = (x - cx) / rx, dy = (y - cy) / ry;

	return (sqrt(dx * dx + dy * dy) - 1) * fmin(rx, ry);
}

static double
sd_box(double x, double y, double cx, double cy, double hw, double hh, double round)
{
	double qx = fabs(x - cx) - hw + round, qy = fabs(y - cy) - hh + round;
	double ox = fmax(qx, 0), oy = fmax(qy, 0);

	return sqrt(ox * ox + oy * oy) + fmin(fmax(qx, qy), 0) - round;
}

static double
seg_dist(double x, double y, double ax, double ay, double bx, double by)
{
	double px = x - ax, py = y - ay, dx = bx - ax, dy = by - ay;
	double l2 = dx * dx + dy * dy;
	double t = l2 > 0 ? clamp((px * dx + py * dy) / l2, 0, 1) : 0;

	px -= t * dx;
	py -= t * dy;
	return sqrt(px * px + py * py);
}

struct pose {
	double dx, dy, s;   /* shift (fraction of size) and scale jitter */
};

/* the bone's signed distance at (x, y) in units of the image's width */
static double
bone_sd(int modality, int region, double x, double y, const struct pose *ps, double aspect)
{
	/* undo the image's pose: shapes live in a unit square of width 1, height aspect */
	x = 0.5 + (x - 0.5 - ps->dx) / ps->s;
	y = aspect / 2 + (y - aspect / 2 - ps->dy) / ps->s;
	double a = aspect, d = 1e9;

	if (modality == CT) {
		switch (region) {
		case LUMBAR:
		case THORACIC: {
			double r = region == LUMBAR ? 0.28 : 0.22;
			d = sd_ellipse(x, y, 0.5, 0.42 * a, r, r * 0.8);
			/* the posterior arch: a ring behind the body */
			double ring = fabs(sd_ellipse(x, y, 0.5, 0.42 * a + r * 1.25, r * 0.55, r * 0.45)) - 0.035;
			return fmin(d, ring);
		}
		case FEMUR: return sd_ellipse(x, y, 0.5, 0.5 * a, 0.24, 0.22);
		case HIP: return sd_ellipse(x, y, 0.5, 0.5 * a, 0.3, 0.3);
		default:
			return fmin(sd_ellipse(x, y, 0.27, 0.45 * a, 0.17, 0.3),
			            sd_ellipse(x, y, 0.73, 0.45 * a, 0.17, 0.3));
		}
	}
	switch (region) {
	case LUMBAR:
	case THORACIC: {
		int n = region == LUMBAR ? 3 : 4;
		double hw = region == LUMBAR ? 0.24 : 0.18, gap = 0.07 * a;
		double hh = (0.9 * a - (n - 1) * gap) / (2 * n);
		for (int i = 0; i < n; i++) {
			double cy = 0.05 * a + hh + i * (2 * hh + gap);
			d = fmin(d, sd_box(x, y, 0.5, cy, hw, hh, 0.04));
		}
		return d;
	}
	case FEMUR: return sd_box(x, y, 0.5, 0.5 * a, 0.16, 0.47 * a, 0.08);
	case HIP:
		d = sd_ellipse(x, y, 0.36, 0.22 * a, 0.17, 0.17);
		d = fmin(d, seg_dist(x, y, 0.36, 0.22 * a, 0.6, 0.5 * a) - 0.085);
		return fmin(d, seg_dist(x, y, 0.6, 0.45 * a, 0.64, 1.1 * a) - 0.13);
	default:
		return fmax(sd_ellipse(x, y, 0.5, 0.5 * a, 0.44, 0.38 * a),
		            -sd_ellipse(x, y, 0.5, 0.56 * a, 0.27, 0.22 * a));
	}
}

static void
draw_strut(double ax, double ay, double bx, double by, double width)
{
	int x0 = (int)floor(fmin(ax, bx) - width - 1), x1 = (int)ceil(fmax(ax, bx) + width + 1);
	int y0 = (int)floor(fmin(ay, by) - width - 1), y1 = (int)ceil(fmax(ay, by) + width + 1);

	x0 = x0 < 0 ? 0 : x0;
	y0 = y0 < 0 ? 0 : y0;
	x1 = x1 >= cv.w ? cv.w - 1 : x1;
	y1 = y1 >= cv.h ? cv.h - 1 : y1;
	for (int y = y0; y <= y1; y++)
		for (int x = x0; x <= x1; x++) {
			double a = clamp(width / 2 + 0.5 - seg_dist(x, y, ax, ay, bx, by), 0, 1);
			float *t = &cv.trab[(size_t)y * cv.w + x];
			if (a > *t)
				*t = (float)a;
		}
}

/* separable Gaussian blur of cv.img, sigma in pixels */
static void
blur(float sigma)
{
	float k[33];
	int r = (int)ceil(3 * sigma);
	float sum = 0;

	if (r < 1)
		return;
	r = r > 16 ? 16 : r;
	for (int i = -r; i <= r; i++)
		sum += k[i + r] = expf(-(float)(i * i) / (2 * sigma * sigma));
	for (int i = 0; i <= 2 * r; i++)
		k[i] /= sum;
	for (int y = 0; y < cv.h; y++)
		for (int x = 0; x < cv.w; x++) {
			float v = 0;
			for (int i = -r; i <= r; i++) {
				int xx = x + i < 0 ? 0 : x + i >= cv.w ? cv.w - 1 : x + i;
				v += k[i + r] * cv.img[(size_t)y * cv.w + xx];
			}
			cv.tmp[(size_t)y * cv.w + x] = v;
		}
	for (int y = 0; y < cv.h; y++)
		for (int x = 0; x < cv.w; x++) {
			float v = 0;
			for (int i = -r; i <= r; i++) {
				int yy = y + i < 0 ? 0 : y + i >= cv.h ? cv.h - 1 : y + i;
				v += k[i + r] * cv.tmp[(size_t)yy * cv.w + x];
			}
			cv.img[(size_t)y * cv.w + x] = v;
		}
}

/*
 * Render image k of patient p into t (u8 for X-ray and DEXA, u16 holding
 * HU + 1024 for CT).
 */
static void
render(const struct opts *o, const struct patient *p, int k, struct record *r)
{
	static const int defw[3] = { 160, 128, 96 }, defh[3] = { 192, 128, 128 };
	int w = o->w ? o->w : defw[p->modality], h = o->h ? o->h : defh[p->modality];
	size_t n = (size_t)w * h;
	double px = 1.0 / w, aspect = (double)h / w;
	char key[32];
	struct rng g;
	struct pose ps;
	const char *err;

	snprintf(key, sizeof key, "%s#%d", p->key, k);
	rng_seed(&g, o->seed, key);
	canvas_size(w, h);
	double q = clamp(p->q + 0.025 * rng_normal(&g), 0.02, 0.98), bad = 1 - q;
	ps.dx = 0.03 * rng_normal(&g);
	ps.dy = 0.03 * aspect * rng_normal(&g);
	ps.s = 1 + 0.05 * rng_normal(&g);

	/* geometry, in pixels */
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			double ux = (x + 0.5) * px, uy = (y + 0.5) * px;
			cv.bone[(size_t)y * w + x] = (float)(bone_sd(p->modality, p->region, ux, uy, &ps, aspect) * w);
			cv.body[(size_t)y * w + x] = (float)(sd_ellipse(ux, uy, 0.5, aspect / 2, 0.47, 0.47 * aspect) * w);
		}

	/* trabeculae: struts per area follow 1 / (spacing x length) */
	double scale = w / 128.0;
	double spacing = scale * (2.6 + 5.0 * bad);
	double thick = scale * (0.6 + 1.3 * q);
	double len = scale * (4.0 + 16.0 * q);
	double horiz = 0.12 + 0.38 * q;
	double cortex = scale * (1.2 + 4.8 * q);
	size_t inside = 0;
	memset(cv.trab, 0, n * sizeof(float));
	for (size_t i = 0; i < n; i++)
		inside += cv.bone[i] < 0;
	long nstruts = (long)(inside / (spacing * len) * 1.3);
	for (long s = 0, tries = 0; s < nstruts && tries < 20 * nstruts; tries++) {
		double cx = rng_uniform(&g) * w, cy = rng_uniform(&g) * h;
		if (cv.bone[(size_t)cy * w + (size_t)cx] >= 0)
			continue;
		int hz = rng_uniform(&g) < horiz;
		double ang = (hz ? 0 : M_PI / 2) + 0.3 * rng_normal(&g);
		double l = len * (0.5 + rng_uniform(&g));
		double dx = cos(ang) * l / 2, dy = sin(ang) * l / 2;
		draw_strut(cx - dx, cy - dy, cx + dx, cy + dy, thick * (0.7 + 0.6 * rng_uniform(&g)));
		s++;
	}

	/* bone tissue: marrow, struts, and the cortical shell at the edge */
	double mineral = 0.55 + 0.45 * q;
	for (size_t i = 0; i < n; i++) {
		float d = cv.bone[i];
		double v = 0;
		if (d < 0) {
			double shell = clamp(0.5 - (-d - cortex), 0, 1) * clamp(0.5 - d, 0, 1);
			v = 0.18 + 0.62 * cv.trab[i];
			v = fmax(v, shell) * mineral;
		}
		cv.img[i] = (float)v;
	}

	uint32_t shape[3] = { 1, (uint32_t)h, (uint32_t)w };
	struct tensor *t;
	if (o->masks) {
		/* where the bone is: 1 inside its edge, before blur and noise */
		if (!(t = rec_tensor_put(r, "mask", DT_U8, 3, shape, &err)))
			die(EX_USAGE, "mask %dx%d: %s", w, h, err);
		for (size_t i = 0; i < n; i++)
			((uint8_t *)t->data)[i] = cv.bone[i] < 0;
	}
	if (!(t = rec_tensor_put(r, "image", p->modality == CT ? DT_U16 : DT_U8, 3, shape, &err)))
		die(EX_USAGE, "image %dx%d: %s", w, h, err);
	if (p->modality == CT) {
		/* HU: air outside the body, soft tissue, marrow to cortical bone */
		uint16_t *out = t->data;
		for (size_t i = 0; i < n; i++) {
			double hu = cv.body[i] > 0 ? -1000 : 40;
			if (cv.bone[i] < 0)
				hu = 60 + 1500 * cv.img[i];
			cv.img[i] = (float)hu;
		}
		blur(0.6f);
		for (size_t i = 0; i < n; i++)
			out[i] = (uint16_t)clamp(lround(cv.img[i] + 20 * rng_normal(&g) + 1024), 0, 4095);
	} else {
		/* a projection: soft tissue with a gradient, bone on top */
		int dexa = p->modality == DEXA;
		double tilt = 0.1 * rng_normal(&g), gain = 0.9 + 0.2 * rng_uniform(&g);
		uint8_t *out = t->data;
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++) {
				size_t i = (size_t)y * w + x;
				double tissue = cv.body[i] < 0 ? 0.22 + tilt * ((double)x / w - 0.5) : 0.04;
				cv.img[i] = (float)(tissue + 0.7 * cv.img[i]);
			}
		blur(dexa ? 1.6f : 0.7f);
		double noise = dexa ? 0.012 : 0.035;
		for (size_t i = 0; i < n; i++) {
			double v = gain * cv.img[i] + noise * rng_normal(&g);
			out[i] = (uint8_t)lround(clamp(pow(clamp(v, 0, 1), dexa ? 1.0 : 0.8) * 255, 0, 255));
		}
	}
	rec_meta_str(r, "modality", modalities[p->modality]);
	rec_meta_str(r, "region", regions[p->region]);
}

/* ---------------------------------------------------------------- */
/* output */

static void
sink_open(struct sink *s, const struct opts *o)
{
	memset(s, 0, sizeof *s);
	s->o = o;
	rec_init(&s->rec);
	if (o->records)
		s->w = rec_writer_new(stdout, "<stdout>");
	else
		outtree_open(&s->tree, o->out, o->tar);
}

/* a growing text buffer for the CSVs */
struct text {
	char *s;
	size_t len, cap;
};

static void __attribute__((format(printf, 2, 3)))
text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
		va_end(ap);
		if (t->s && (size_t)n < t->cap - t->len)
			break;
		egrow((void **)&t->s, &t->cap, t->len + (size_t)n + 1);
	}
	t->len += (size_t)n;
}

/* write a text to path atomically (beside a record stream) */
static void
write_text(const char *path, const struct text *t)
{
	char *tmp;
	FILE *fp = atomic_open(path, &tmp);

	if (fwrite(t->s, 1, t->len, fp) != t->len)
		die(EX_IOERR, "%s: write error:", tmp);
	atomic_commit(fp, tmp, path);
}

static void
sink_close(struct sink *s, const struct text *clinical, const struct text *manifest, const struct text *truth)
{
	if (s->w) {
		int st = rec_writer_close(s->w);
		if (st)
			quit(st);
		if (s->o->clinical)
			write_text(s->o->clinical, clinical);
		if (s->o->truth)
			write_text(s->o->truth, truth);
		return;
	}
	outtree_file(&s->tree, "clinical.csv", clinical->s, clinical->len);
	outtree_file(&s->tree, "manifest.csv", manifest->s, manifest->len);
	outtree_file(&s->tree, "truth.csv", truth->s, truth->len);
	outtree_commit(&s->tree);
}

/* a patient's images (and masks) as PNG bytes, drawn by one thread and
 * written, in order, by the main one */
struct drawn {
	unsigned char *png[2 * MAXIMAGES];   /* image k-1 at 2(k-1), its mask after it */
	size_t len[2 * MAXIMAGES], cap[2 * MAXIMAGES];
};

static void
image_path(const struct patient *p, int k, char *rel, size_t n)
{
	snprintf(rel, n, "%s/%.64s/%s_%s_%d.png", classnames[p->label], p->key, modalities[p->modality],
	         regions[p->region], k);
}

static void
draw_patient(const struct opts *o, const struct patient *p, struct record *r, struct drawn *d)
{
	char rel[256], err[256];

	for (int k = 1; k <= p->nimages; k++) {
		rec_clear(r);
		render(o, p, k, r);
		if (img_png_encode(rec_tensor(r, "image"), 1, &d->png[2 * k - 2], &d->cap[2 * k - 2], &d->len[2 * k - 2],
		                   err, sizeof err) < 0) {
			image_path(p, k, rel, sizeof rel);
			die(EX_SOFTWARE, "%s: %s", rel, err);
		}
		if (o->masks) {
			/* beside the image, 0 and 255 so that it can be looked at */
			struct tensor *m = rec_tensor(r, "mask");
			for (size_t i = 0; i < tensor_elems(m); i++)
				((uint8_t *)m->data)[i] *= 255;
			if (img_png_encode(m, 1, &d->png[2 * k - 1], &d->cap[2 * k - 1], &d->len[2 * k - 1], err,
			                   sizeof err) < 0) {
				image_path(p, k, rel, sizeof rel);
				die(EX_SOFTWARE, "%s's mask: %s", rel, err);
			}
		}
	}
}

static void
write_patient(struct sink *s, const struct patient *p, const struct drawn *d, struct text *manifest)
{
	char rel[256], mrel[256];

	for (int k = 1; k <= p->nimages; k++) {
		image_path(p, k, rel, sizeof rel);
		outtree_file(&s->tree, rel, d->png[2 * k - 2], d->len[2 * k - 2]);
		text_add(manifest, "%s,%s,%s,%s,%s", rel, classnames[p->label], p->key,
		         modalities[p->modality], regions[p->region]);
		if (s->o->masks) {
			snprintf(mrel, sizeof mrel, "%.*s.mask.png", (int)strlen(rel) - 4, rel);
			outtree_file(&s->tree, mrel, d->png[2 * k - 1], d->len[2 * k - 1]);
			text_add(manifest, ",%s", mrel);
		}
		text_add(manifest, "\n");
	}
}

/* --records: each image as a record, in order */
static void
emit_records(struct sink *s, const struct patient *p)
{
	char rel[256];

	for (int k = 1; k <= p->nimages; k++) {
		struct record *r = &s->rec;
		image_path(p, k, rel, sizeof rel);
		rec_clear(r);
		render(s->o, p, k, r);
		rec_set_id(r, rel);
		rec_set_patient(r, p->key);
		r->has_label = 1;
		r->label = p->label;
		rec_meta_str(r, "class", classnames[p->label]);
		rec_write(s->w, r);
	}
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct sink s;
	struct text clinical = { 0 }, manifest = { 0 }, truth = { 0 };
	double post[3];
	unsigned long long nimages = 0, per[3] = { 0 };

	/* arguments */
	cli_init(argv[0]);
	parse_args(argc, argv, &o);

	/* prepare */
	sink_open(&s, &o);
	text_add(&clinical, "patient,age,sex,bmd_tscore,fracture_history,modality,region,label\n");
	text_add(&manifest, "path,label,patient,modality,region%s\n", o.masks ? ",mask" : "");
	text_add(&truth, "patient,quality,bayes_class,p_healthy,p_osteopenia,p_osteoporosis\n");

	/* process: patients in chunks, drawn and encoded on every core, written
	 * in order, so the files are the same bytes however many threads */
	enum { CHUNK = 64 };
	static struct patient pp[CHUNK];
	static struct drawn drawn[CHUNK];
	for (int i0 = 0; i0 < o.n; i0 += CHUNK) {
		int nc = o.n - i0 < CHUNK ? o.n - i0 : CHUNK;
		for (int j = 0; j < nc; j++)
			make_patient(&o, i0 + j, &pp[j]);
		if (!s.w) {
#pragma omp parallel
			{
				struct record r;
				rec_init(&r);
#pragma omp for schedule(dynamic)
				for (int j = 0; j < nc; j++)
					draw_patient(&o, &pp[j], &r, &drawn[j]);
				rec_free(&r);
			}
		}
		for (int j = 0; j < nc; j++) {
			const struct patient *p = &pp[j];
			text_add(&clinical, "%s,%d,%c,%.1f,%s,%s,%s,%s\n", p->key, p->age, p->sex, p->tscore,
			         p->fracture ? "yes" : "no", modalities[p->modality], regions[p->region],
			         classnames[p->label]);
			int best = bayes_class(&o, p->q, post);
			text_add(&truth, "%s,%.4f,%s,%.4f,%.4f,%.4f\n", p->key, p->q, classnames[best], post[0],
			         post[1], post[2]);
			if (s.w)
				emit_records(&s, p);
			else
				write_patient(&s, p, &drawn[j], &manifest);
			nimages += p->nimages;
			per[p->label]++;
		}
	}
	for (int j = 0; j < CHUNK; j++)
		for (int k = 0; k < 2 * MAXIMAGES; k++)
			free(drawn[j].png[k]);

	/* clean up */
	sink_close(&s, &clinical, &manifest, &truth);
	info("%d patients (%llu healthy, %llu osteopenia, %llu osteoporosis), %llu images%s%s",
	     o.n, per[0], per[1], per[2], nimages, o.out ? " in " : "", o.out ? o.out : "");
	free(clinical.s);
	free(manifest.s);
	free(truth.s);
	rec_free(&s.rec);
	return 0;
}
