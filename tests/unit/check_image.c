/*
 * check_image.c - PNG encode/decode round trips through libpng, the PNM
 * reader, format sniffing and the size limit.
 */
#include <stdlib.h>
#include <string.h>

#include "common/image/image.h"
#include "common/base/util.h"
#include "suites.h"

static void
roundtrip(enum dtype dt, uint32_t c, uint32_t h, uint32_t w)
{
	struct record a, b;
	uint32_t shape[3] = { c, h, w };
	const char *e;
	struct tensor *t, *u;
	unsigned char *buf = NULL;
	size_t cap = 0, len;
	char err[256];
	struct imginfo info;

	rec_init(&a);
	rec_init(&b);
	t = rec_tensor_put(&a, "image", dt, 3, shape, &e);
	for (size_t i = 0; i < tensor_elems(t); i++) {
		if (dt == DT_U8)
			((uint8_t *)t->data)[i] = (uint8_t)(i * 37 + 5);
		else
			((uint16_t *)t->data)[i] = (uint16_t)(i * 4099 + 3);
	}
	ck_assert_int_eq(img_png_encode(t, 6, &buf, &cap, &len, err, sizeof err), 0);
	ck_assert_int_eq(img_sniff(buf, len), IMG_PNG);
	ck_assert_int_eq(img_decode(buf, len, &b, "image", &info, err, sizeof err), 0);
	u = rec_tensor(&b, "image");
	ck_assert_ptr_nonnull(u);
	ck_assert_int_eq(u->dtype, dt);
	ck_assert_mem_eq(u->shape, t->shape, sizeof shape);
	ck_assert_mem_eq(u->data, t->data, t->nbytes);
	ck_assert_int_eq(info.width, (int)w);
	ck_assert_int_eq(info.height, (int)h);
	ck_assert_int_eq(info.bit_depth, dt == DT_U16 ? 16 : 8);
	free(buf);
	rec_free(&a);
	rec_free(&b);
}

START_TEST(test_png_roundtrip)
{
	roundtrip(DT_U8, 1, 7, 5);
	roundtrip(DT_U16, 1, 3, 9);
	roundtrip(DT_U8, 3, 4, 6);
	roundtrip(DT_U16, 3, 2, 2);
}
END_TEST

static int
decode_str(const char *s, size_t n, struct record *r, char *err)
{
	struct imginfo info;

	return img_decode((const unsigned char *)s, n, r, "image", &info, err, 256);
}

START_TEST(test_pnm)
{
	struct record r;
	char err[256];
	struct tensor *t;
	static const char p2[] = "P2\n# comment\n3 1\n4095\n0 4095 7\n";
	static const char p6[] = "P6 2 1 255\n\x01\x02\x03\x04\x05\x06";
	static const char p5_16[] = "P5\n2 1\n65535\n\x12\x34\xff\xfe";

	rec_init(&r);
	ck_assert_int_eq(decode_str(p2, sizeof p2 - 1, &r, err), 0);
	t = rec_tensor(&r, "image");
	ck_assert_int_eq(t->dtype, DT_U16);
	ck_assert_int_eq(((uint16_t *)t->data)[1], 4095);
	ck_assert_int_eq(((uint16_t *)t->data)[2], 7);

	ck_assert_int_eq(decode_str(p6, sizeof p6 - 1, &r, err), 0);
	t = rec_tensor(&r, "image");
	ck_assert_int_eq(t->shape[0], 3);
	/* planar: all reds, then greens, then blues */
	static const uint8_t want[6] = { 1, 4, 2, 5, 3, 6 };
	ck_assert_mem_eq(t->data, want, 6);

	ck_assert_int_eq(decode_str(p5_16, sizeof p5_16 - 1, &r, err), 0);
	t = rec_tensor(&r, "image");
	ck_assert_int_eq(((uint16_t *)t->data)[0], 0x1234);
	ck_assert_int_eq(((uint16_t *)t->data)[1], 0xfffe);
	rec_free(&r);
}
END_TEST

START_TEST(test_pnm_bad)
{
	struct record r;
	char err[256];

	rec_init(&r);
	ck_assert_int_eq(decode_str("P5\n3 3\n255\nab", 14, &r, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "truncated"));
	ck_assert_int_eq(decode_str("P2\n2 1\n10\n3 11\n", 15, &r, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "maxval"));
	ck_assert_int_eq(decode_str("P2\n0 1\n10\n", 10, &r, err), -1);
	ck_assert_int_eq(decode_str("P5\n2 1\n0\n\0\0", 11, &r, err), -1);
	rec_free(&r);
}
END_TEST

START_TEST(test_size_limit)
{
	struct record r;
	char err[256];
	size_t saved = img_max_pixels;
	static const char huge[] = "P5\n65535 65535\n255\n";

	rec_init(&r);
	ck_assert_int_eq(decode_str(huge, sizeof huge - 1, &r, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "limit"));
	img_max_pixels = 4;
	ck_assert_int_eq(decode_str("P2 3 2 9 1 2 3 4 5 6", 20, &r, err), -1);
	img_max_pixels = saved;
	rec_free(&r);
}
END_TEST

START_TEST(test_sniff)
{
	ck_assert_int_eq(img_sniff((const unsigned char *)"\xff\xd8\xff\xe0", 4), IMG_JPEG);
	ck_assert_int_eq(img_sniff((const unsigned char *)"P5\n", 3), IMG_PNM);
	ck_assert_int_eq(img_sniff((const unsigned char *)"P7\n", 3), IMG_UNKNOWN);
	ck_assert_int_eq(img_sniff((const unsigned char *)"\x89PNG\r\n\x1a", 7), IMG_UNKNOWN);
	ck_assert_int_eq(img_sniff((const unsigned char *)"", 0), IMG_UNKNOWN);
}
END_TEST

Suite *
image_suite(void)
{
	Suite *s = suite_create("image");
	TCase *tc = tcase_create("codecs");

	tcase_add_test(tc, test_png_roundtrip);
	tcase_add_test(tc, test_pnm);
	tcase_add_test(tc, test_pnm_bad);
	tcase_add_test(tc, test_size_limit);
	tcase_add_test(tc, test_sniff);
	suite_add_tcase(s, tc);
	return s;
}
