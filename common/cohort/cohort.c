/*
 * cohort.c - osteo-synth's patients and the images drawn of them
 * (cohort.h).
 */
#include "cohort.h"
#include "common/record/contract.h"
#include "common/image/image.h"
#include "common/base/rng.h"
#include "common/base/util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *const cohort_classes[3] = { "healthy", "osteopenia", "osteoporosis" };
const char *const cohort_modalities[3] = { "xray", "ct", "dexa" };
const char *const cohort_regions[5] = { "lumbar_spine", "hip", "femur", "pelvis", "thoracic_spine" };

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
int
bayes_class(const struct cohort *o, double q, double post[3])
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

void
make_patient(const struct cohort *o, int i, struct patient *p)
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

/* one per thread: osteo-synth draws patients in parallel */
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

/*
 * One pass of the blur: dst = src convolved with k[0..2r] along x (horiz)
 * or y, the edge pixel repeated beyond the border.
 */
static void
blur_pass(const float *src, float *dst, const float *k, int r, int horiz)
{
	int w = cv.w, n = horiz ? cv.w : cv.h;
	size_t step = horiz ? 1 : (size_t)w;

	for (int y = 0; y < cv.h; y++)
		for (int x = 0; x < w; x++) {
			int at = horiz ? x : y;
			const float *line = src + (size_t)y * w + x - (size_t)at * step;
			float v = 0;
			for (int i = -r; i <= r; i++) {
				int j = at + i < 0 ? 0 : at + i >= n ? n - 1 : at + i;
				v += k[i + r] * line[(size_t)j * step];
			}
			dst[(size_t)y * w + x] = v;
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
	blur_pass(cv.img, cv.tmp, k, r, 1);
	blur_pass(cv.tmp, cv.img, k, r, 0);
}

/*
 * Render image k of patient p into t (u8 for X-ray and DEXA, u16 holding
 * HU + 1024 for CT).
 */
void
render(const struct cohort *o, const struct patient *p, int k, struct record *r)
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
		if (!(t = rec_tensor_put(r, TENSOR_MASK, DT_U8, 3, shape, &err)))
			die(EX_USAGE, "mask %dx%d: %s", w, h, err);
		for (size_t i = 0; i < n; i++)
			((uint8_t *)t->data)[i] = cv.bone[i] < 0;
	}
	if (!(t = rec_tensor_put(r, TENSOR_IMAGE, p->modality == CT ? DT_U16 : DT_U8, 3, shape, &err)))
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
	rec_meta_str(r, KEY_PROV_MODALITY, cohort_modalities[p->modality]);
	rec_meta_str(r, KEY_PROV_REGION, cohort_regions[p->region]);
}

