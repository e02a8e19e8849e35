/*
 * check_imgops.c - resampling, warps, order statistics and the perceptual
 * hash.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/image/imgops.h"
#include "common/base/rng.h"
#include "suites.h"

/* a smooth test picture: a few low-frequency waves */
static void
picture(float *v, int h, int w)
{
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			v[y * w + x] = (float)(sin(x * 0.21) * cos(y * 0.17) + 0.3 * sin((x + y) * 0.11));
}

START_TEST(test_rotate_unrotate)
{
	enum { H = 64, W = 80 };
	static float a[H * W], b[H * W], c[H * W];
	double err = 0, base = 0;
	int n = 0;

	picture(a, H, W);
	img_warp(a, b, 1, H, W, 12, 1, 0, 0, 0, 0);
	img_warp(b, c, 1, H, W, -12, 1, 0, 0, 0, 0);
	/* away from the borders, where replicated edges enter the picture */
	for (int y = 16; y < H - 16; y++)
		for (int x = 16; x < W - 16; x++) {
			err += fabs(c[y * W + x] - a[y * W + x]);
			base += fabs(b[y * W + x] - a[y * W + x]);
			n++;
		}
	ck_assert_msg(err / n < 0.02, "mean error %g after rotating back", err / n);
	ck_assert_msg(base / n > 0.1, "the rotation did nothing (%g)", base / n);
	/* scale and translate, then undo */
	img_warp(a, b, 1, H, W, 0, 1.25, 3, -2, 0, 0);
	img_warp(b, c, 1, H, W, 0, 0.8, -3 * 0.8, 2 * 0.8, 0, 0);
	err = 0;
	n = 0;
	for (int y = 16; y < H - 16; y++)
		for (int x = 16; x < W - 16; x++, n++)
			err += fabs(c[y * W + x] - a[y * W + x]);
	ck_assert_msg(err / n < 0.02, "scale/translate round trip error %g", err / n);
}
END_TEST

START_TEST(test_flips_are_exact)
{
	float a[12], b[12], c[12];

	for (int i = 0; i < 12; i++)
		a[i] = (float)i;
	img_warp(a, b, 1, 3, 4, 0, 1, 0, 0, 1, 0);
	ck_assert_float_eq(b[0], 3);
	ck_assert_float_eq(b[4], 7);
	img_warp(b, c, 1, 3, 4, 0, 1, 0, 0, 1, 0);
	ck_assert_mem_eq(a, c, sizeof a);
	img_warp(a, b, 1, 3, 4, 0, 1, 0, 0, 0, 1);
	ck_assert_float_eq(b[0], 8);
}
END_TEST

START_TEST(test_resize_constant)
{
	static float a[2 * 37 * 53], b[2 * 128 * 128], tmp[2 * 128 * 128];

	for (size_t i = 0; i < sizeof a / sizeof *a; i++)
		a[i] = 0.625f;
	int sizes[][2] = { { 128, 128 }, { 10, 7 }, { 37, 200 }, { 1, 1 } };
	for (int s = 0; s < 4; s++) {
		int dh = sizes[s][0], dw = sizes[s][1] > 128 ? 128 : sizes[s][1];
		img_resize(a, 2, 37, 53, b, dh, dw);
		for (int i = 0; i < 2 * dh * dw; i++)
			ck_assert_float_eq_tol(b[i], 0.625f, 1e-6f);
		for (int f = FIT_PAD; f <= FIT_STRETCH; f++) {
			img_fit(a, 2, 37, 53, b, dh, dw, (enum fit)f, 0.625f, tmp);
			for (int i = 0; i < 2 * dh * dw; i++)
				ck_assert_float_eq_tol(b[i], 0.625f, 1e-6f);
		}
	}
}
END_TEST

START_TEST(test_resize_values)
{
	/* area: 4x4 to 2x2 is the mean of each 2x2 block */
	float a[16], b[4];
	for (int i = 0; i < 16; i++)
		a[i] = (float)i;
	img_resize(a, 1, 4, 4, b, 2, 2);
	ck_assert_float_eq_tol(b[0], (0 + 1 + 4 + 5) / 4.0f, 1e-6f);
	ck_assert_float_eq_tol(b[3], (10 + 11 + 14 + 15) / 4.0f, 1e-6f);
	/* 3 to 2 along x: thirds overlap, weights 2/3 and 1/3 */
	float c[3] = { 0, 3, 6 }, d[2];
	img_resize(c, 1, 1, 3, d, 1, 2);
	ck_assert_float_eq_tol(d[0], (0 * 1.0f + 3 * 0.5f) / 1.5f, 1e-6f);
	ck_assert_float_eq_tol(d[1], (3 * 0.5f + 6 * 1.0f) / 1.5f, 1e-6f);
	/* bilinear 2 to 4 with half-pixel centres: 0, .25, .75, 1 of the way */
	float e[2] = { 0, 4 }, f[4];
	img_resize(e, 1, 1, 2, f, 1, 4);
	ck_assert_float_eq_tol(f[0], 0, 1e-6f);
	ck_assert_float_eq_tol(f[1], 1, 1e-6f);
	ck_assert_float_eq_tol(f[2], 3, 1e-6f);
	ck_assert_float_eq_tol(f[3], 4, 1e-6f);
}
END_TEST

START_TEST(test_fit_pad_and_crop)
{
	/* a 2x4 image into 4x4: padded rows above and below */
	float a[8] = { 1, 1, 1, 1, 1, 1, 1, 1 }, b[16], tmp[16];

	img_fit(a, 1, 2, 4, b, 4, 4, FIT_PAD, -1, tmp);
	for (int x = 0; x < 4; x++) {
		ck_assert_float_eq(b[x], -1);
		ck_assert_float_eq(b[4 + x], 1);
		ck_assert_float_eq(b[8 + x], 1);
		ck_assert_float_eq(b[12 + x], -1);
	}
	/* crop: a 2x4 ramp into 2x2 keeps the middle columns */
	float r[8] = { 0, 1, 2, 3, 0, 1, 2, 3 }, c[4];
	img_fit(r, 1, 2, 4, c, 2, 2, FIT_CROP, 0, tmp);
	ck_assert_float_eq(c[0], 1);
	ck_assert_float_eq(c[1], 2);
}
END_TEST

static int
cmpf(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return x < y ? -1 : x > y;
}

START_TEST(test_select_rank)
{
	enum { N = 1001 };
	static float v[N], s[N], tmp[N];
	struct rng g;

	rng_seed(&g, 3, "select");
	for (int i = 0; i < N; i++)
		v[i] = s[i] = (float)floor(rng_uniform(&g) * 50);   /* many ties */
	qsort(s, N, sizeof *s, cmpf);
	double ps[] = { 0, 0.01, 0.5, 0.99, 1 };
	for (int i = 0; i < 5; i++) {
		memcpy(tmp, v, sizeof v);
		ck_assert_float_eq(select_rank(tmp, N, ps[i]), s[(int)llround(ps[i] * (N - 1))]);
	}
}
END_TEST

START_TEST(test_dhash)
{
	enum { H = 60, W = 70 };
	static float a[H * W], b[H * W];
	struct rng g;

	picture(a, H, W);
	rng_seed(&g, 1, "noise");
	for (int i = 0; i < H * W; i++)
		b[i] = a[i] + 0.01f * (float)rng_normal(&g);
	uint64_t ha = img_dhash(a, H, W), hb = img_dhash(b, H, W);
	ck_assert_int_le(__builtin_popcountll(ha ^ hb), 4);
	img_warp(a, b, 1, H, W, 0, 1, 0, 0, 1, 0);
	ck_assert_int_gt(__builtin_popcountll(ha ^ img_dhash(b, H, W)), 10);
}
END_TEST

Suite *
imgops_suite(void)
{
	Suite *s = suite_create("imgops");
	TCase *tc = tcase_create("ops");

	tcase_add_test(tc, test_rotate_unrotate);
	tcase_add_test(tc, test_flips_are_exact);
	tcase_add_test(tc, test_resize_constant);
	tcase_add_test(tc, test_resize_values);
	tcase_add_test(tc, test_fit_pad_and_crop);
	tcase_add_test(tc, test_select_rank);
	tcase_add_test(tc, test_dhash);
	suite_add_tcase(s, tc);
	return s;
}
