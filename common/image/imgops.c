/*
 * imgops.c - resampling, warps and statistics on float images.
 */
#include "imgops.h"
#include "common/record/contract.h"
#include "common/base/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void
tensor_to_float(const struct tensor *t, float *dst)
{
	size_t n = tensor_elems(t);

	switch (t->dtype) {
	case DT_U8:
		for (size_t i = 0; i < n; i++)
			dst[i] = ((const uint8_t *)t->data)[i];
		break;
	case DT_U16:
		for (size_t i = 0; i < n; i++)
			dst[i] = ((const uint16_t *)t->data)[i];
		break;
	default:
		memcpy(dst, t->data, n * sizeof(float));
	}
}

void
img_gray(const float *src, float *dst, size_t plane)
{
	for (size_t i = 0; i < plane; i++)
		dst[i] = 0.299f * src[i] + 0.587f * src[plane + i] + 0.114f * src[2 * plane + i];
}

/* ---------------------------------------------------------------- */
/* resampling: per axis, a table of (first source index, weights) */

struct taps {
	int src, dst;
	int *first;      /* [dst] */
	int *count;      /* [dst] */
	float *w;        /* [dst][maxtaps] */
	int maxtaps;
};

static struct taps *
taps_make(int src, int dst)
{
	struct taps *t = ecalloc(1, sizeof *t);
	double s = (double)src / dst;

	t->src = src;
	t->dst = dst;
	t->maxtaps = dst < src ? (int)ceil(s) + 1 : 2;
	t->first = ecalloc(dst, sizeof *t->first);
	t->count = ecalloc(dst, sizeof *t->count);
	t->w = ecalloc((size_t)dst * t->maxtaps, sizeof *t->w);
	for (int i = 0; i < dst; i++) {
		float *w = t->w + (size_t)i * t->maxtaps;
		if (dst < src) {
			/* area: the source interval [i*s, (i+1)*s) */
			double a = i * s, b = (i + 1) * s;
			int k0 = (int)floor(a), k1 = (int)ceil(b) - 1;
			if (k1 >= src)
				k1 = src - 1;
			t->first[i] = k0;
			t->count[i] = k1 - k0 + 1;
			for (int k = k0; k <= k1; k++)
				w[k - k0] = (float)((fmin(b, k + 1) - fmax(a, k)) / s);
		} else {
			double x = (i + 0.5) * s - 0.5;
			int k0 = (int)floor(x);
			double f = x - k0;
			if (k0 < 0) {
				k0 = 0;
				f = 0;
			}
			if (k0 >= src - 1) {
				k0 = src - 1;
				f = 0;
			}
			t->first[i] = k0;
			t->count[i] = f > 0 ? 2 : 1;
			w[0] = (float)(1 - f);
			w[1] = (float)f;
		}
	}
	return t;
}

/* a few tables stay cached: a stream has one or two sizes.  `keep` is the
 * table the caller already holds, never evicted to make room */
static struct taps *
taps_get(int src, int dst, const struct taps *keep)
{
	static struct taps *cache[8];
	static int next;

	for (int i = 0; i < 8; i++)
		if (cache[i] && cache[i]->src == src && cache[i]->dst == dst)
			return cache[i];
	if (cache[next] && cache[next] == keep)
		next = (next + 1) % 8;
	if (cache[next]) {
		free(cache[next]->first);
		free(cache[next]->count);
		free(cache[next]->w);
		free(cache[next]);
	}
	cache[next] = taps_make(src, dst);
	struct taps *t = cache[next];
	next = (next + 1) % 8;
	return t;
}

void
img_resize(const float *src, int c, int sh, int sw, float *dst, int dh, int dw)
{
	static float *mid;
	static size_t midcap;
	struct taps *tx = taps_get(sw, dw, NULL), *ty = taps_get(sh, dh, tx);

	egrow((void **)&mid, &midcap, (size_t)sh * dw * sizeof(float));
	for (int k = 0; k < c; k++) {
		const float *s = src + (size_t)k * sh * sw;
		float *d = dst + (size_t)k * dh * dw;
		/* rows first, into mid [sh,dw] */
		for (int y = 0; y < sh; y++) {
			const float *row = s + (size_t)y * sw;
			for (int x = 0; x < dw; x++) {
				const float *w = tx->w + (size_t)x * tx->maxtaps;
				const float *p = row + tx->first[x];
				float v = 0;
				for (int j = 0; j < tx->count[x]; j++)
					v += w[j] * p[j];
				mid[(size_t)y * dw + x] = v;
			}
		}
		for (int y = 0; y < dh; y++) {
			const float *w = ty->w + (size_t)y * ty->maxtaps;
			float *out = d + (size_t)y * dw;
			const float *p = mid + (size_t)ty->first[y] * dw;
			for (int x = 0; x < dw; x++)
				out[x] = w[0] * p[x];
			for (int j = 1; j < ty->count[y]; j++)
				for (int x = 0; x < dw; x++)
					out[x] += w[j] * p[(size_t)j * dw + x];
		}
	}
}

void
img_fit(const float *src, int c, int sh, int sw, float *dst, int dh, int dw,
        enum fit fit, float fill, float *tmp)
{
	double sx = (double)dw / sw, sy = (double)dh / sh;
	int rw, rh;

	if (fit == FIT_STRETCH) {
		img_resize(src, c, sh, sw, dst, dh, dw);
		return;
	}
	double s = fit == FIT_PAD ? fmin(sx, sy) : fmax(sx, sy);
	rw = (int)lround(sw * s);
	rh = (int)lround(sh * s);
	rw = rw < 1 ? 1 : rw;
	rh = rh < 1 ? 1 : rh;
	if (fit == FIT_PAD) {
		rw = rw > dw ? dw : rw;
		rh = rh > dh ? dh : rh;
	} else {
		rw = rw < dw ? dw : rw;
		rh = rh < dh ? dh : rh;
	}
	/* tmp must hold the intermediate [c, rh, rw], at most c*dh*dw for pad;
	 * for crop it can be larger, so it is grown here */
	static float *big;
	static size_t bigcap;
	float *r = tmp;
	if (fit == FIT_CROP) {
		egrow((void **)&big, &bigcap, (size_t)c * rh * rw * sizeof(float));
		r = big;
	}
	img_resize(src, c, sh, sw, r, rh, rw);
	int ox = (dw - rw) / 2, oy = (dh - rh) / 2;
	for (int k = 0; k < c; k++)
		for (int y = 0; y < dh; y++)
			for (int x = 0; x < dw; x++) {
				int xx = x - ox, yy = y - oy;
				float v = fill;
				if (xx >= 0 && xx < rw && yy >= 0 && yy < rh)
					v = r[((size_t)k * rh + yy) * rw + xx];
				dst[((size_t)k * dh + y) * dw + x] = v;
			}
}

void
img_warp(const float *src, float *dst, int c, int h, int w, double deg, double scale,
         double tx, double ty, int hflip, int vflip)
{
	double a = deg * M_PI / 180, cs = cos(a) / scale, sn = sin(a) / scale;
	double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;

	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			/* the inverse map: output pixel to source position */
			double dx = (hflip ? w - 1 - x : x) - cx - tx, dy = (vflip ? h - 1 - y : y) - cy - ty;
			/* y grows downwards, so a counter-clockwise turn on screen
			 * is a clockwise one in these coordinates */
			double sx = cs * dx - sn * dy + cx, sy = sn * dx + cs * dy + cy;
			sx = sx < 0 ? 0 : sx > w - 1 ? w - 1 : sx;
			sy = sy < 0 ? 0 : sy > h - 1 ? h - 1 : sy;
			int x0 = (int)sx, y0 = (int)sy;
			int x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
			float fx = (float)(sx - x0), fy = (float)(sy - y0);
			for (int k = 0; k < c; k++) {
				const float *p = src + (size_t)k * h * w;
				float top = p[(size_t)y0 * w + x0] * (1 - fx) + p[(size_t)y0 * w + x1] * fx;
				float bot = p[(size_t)y1 * w + x0] * (1 - fx) + p[(size_t)y1 * w + x1] * fx;
				dst[((size_t)k * h + y) * w + x] = top * (1 - fy) + bot * fy;
			}
		}
}

float
select_rank(float *v, size_t n, double p)
{
	size_t k = (size_t)llround(p * (double)(n - 1)), lo = 0, hi = n - 1;

	/* Hoare's quickselect with a middle pivot */
	while (lo < hi) {
		float pivot = v[lo + (hi - lo) / 2];
		size_t i = lo, j = hi;
		while (i <= j) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j) {
				float t = v[i];
				v[i] = v[j];
				v[j] = t;
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break;
	}
	return v[k];
}

uint64_t
img_dhash(const float *src, int h, int w)
{
	float small[8 * 9];
	uint64_t bits = 0;

	img_resize(src, 1, h, w, small, 8, 9);
	for (int y = 0; y < 8; y++)
		for (int x = 0; x < 8; x++)
			bits = bits << 1 | (small[y * 9 + x] > small[y * 9 + x + 1]);
	return bits;
}

int
floats_finite(const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(x[i]))
			return 0;
	return 1;
}

float *
mask_load(const struct record *r, int h, int w, float **buf, size_t *cap, const char **err)
{
	const struct tensor *t = rec_tensor(r, TENSOR_MASK);

	*err = NULL;
	if (!t)
		return NULL;
	if (t->ndim != 3 || t->shape[0] != 1 || t->shape[1] != (uint32_t)h || t->shape[2] != (uint32_t)w) {
		*err = "'mask' is not [1,H,W] of the image's size";
		return NULL;
	}
	egrow((void **)buf, cap, (size_t)h * w * sizeof(float));
	tensor_to_float(t, *buf);
	return *buf;
}

void
mask_store(struct record *r, const float *v, int h, int w)
{
	uint32_t shape[3] = { 1, (uint32_t)h, (uint32_t)w };
	const char *err;
	struct tensor *t = rec_tensor_put(r, TENSOR_MASK, DT_U8, 3, shape, &err);

	if (!t)
		die(EX_SOFTWARE, "mask %dx%d: %s", w, h, err);
	for (size_t i = 0; i < (size_t)h * w; i++)
		((uint8_t *)t->data)[i] = v[i] >= 0.5f;
}

void
img_hflip(const float *src, float *dst, int c, int h, int w)
{
	for (size_t r = 0; r < (size_t)c * h; r++)
		for (int x = 0; x < w; x++)
			dst[r * w + x] = src[r * w + (w - 1 - x)];
}
