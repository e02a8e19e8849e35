/*
 * image.c - PNG (libpng), JPEG (libjpeg-turbo) and PNM decoding into
 * tensors, and PNG encoding.  See image.h for what is kept and dropped.
 */
#include "image.h"
#include "common/base/util.h"

#include <ctype.h>
#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t img_max_pixels = (size_t)1 << 28;

/* interleaved rows from the codecs, before they become planes (one set per
 * thread: osteo-synth encodes on every core) */
static _Thread_local unsigned char *scratch;
static _Thread_local size_t scratchcap;
static _Thread_local unsigned char **rows;
static _Thread_local size_t rowscap;

enum imgfmt
img_sniff(const unsigned char *p, size_t n)
{
	static const unsigned char pngsig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

	if (n >= 8 && !memcmp(p, pngsig, 8))
		return IMG_PNG;
	if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return IMG_JPEG;
	if (n >= 3 && p[0] == 'P' && strchr("2356", p[1]) && p[1] && isspace(p[2]))
		return IMG_PNM;
	return IMG_UNKNOWN;
}

const char *
img_fmt_name(enum imgfmt f)
{
	switch (f) {
	case IMG_PNG: return "png";
	case IMG_JPEG: return "jpeg";
	case IMG_PNM: return "pnm";
	default: return "unknown";
	}
}

static int
check_size(int w, int h, char *err, size_t errlen)
{
	size_t px;

	if (w <= 0 || h <= 0) {
		snprintf(err, errlen, "image has size %dx%d", w, h);
		return -1;
	}
	if (!mul_ok((size_t)w, (size_t)h, &px) || px > img_max_pixels) {
		snprintf(err, errlen, "image of %dx%d pixels is larger than the limit of %zu pixels (--max-pixels)",
		         w, h, img_max_pixels);
		return -1;
	}
	return 0;
}

static struct tensor *
image_tensor(struct record *r, const char *name, enum dtype dt, int c, int h, int w,
             char *err, size_t errlen)
{
	uint32_t shape[3] = { (uint32_t)c, (uint32_t)h, (uint32_t)w };
	const char *e;
	struct tensor *t = rec_tensor_put(r, name, dt, 3, shape, &e);

	if (!t)
		snprintf(err, errlen, "image tensor: %s", e);
	return t;
}

/* interleaved [H,W,C] in scratch to planar [C,H,W] in t */
static void
deinterleave(struct tensor *t, const unsigned char *src, int c, int h, int w, size_t bps)
{
	size_t plane = (size_t)h * w;
	unsigned char *dst = t->data;

	if (c == 1) {
		memcpy(dst, src, plane * bps);
		return;
	}
	if (bps == 1) {
		for (size_t i = 0; i < plane; i++)
			for (int k = 0; k < c; k++)
				dst[k * plane + i] = src[i * c + k];
	} else {
		const uint16_t *s = (const uint16_t *)src;
		uint16_t *d = (uint16_t *)dst;
		for (size_t i = 0; i < plane; i++)
			for (int k = 0; k < c; k++)
				d[k * plane + i] = s[i * c + k];
	}
}

/* ---------------------------------------------------------------- */
/* PNG */

struct pngio {
	const unsigned char *p;
	size_t n, off;
	char *err;
	size_t errlen;
};

static void
png_memread(png_structp png, png_bytep out, size_t n)
{
	struct pngio *io = png_get_io_ptr(png);

	if (n > io->n - io->off)
		png_error(png, "file is truncated");
	memcpy(out, io->p + io->off, n);
	io->off += n;
}

static void
png_fail(png_structp png, png_const_charp msg)
{
	struct pngio *io = png_get_error_ptr(png);

	snprintf(io->err, io->errlen, "PNG: %s", msg);
	png_longjmp(png, 1);
}

static void
png_quiet(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

static const char *
png_color_name(int ct)
{
	switch (ct) {
	case PNG_COLOR_TYPE_GRAY: return "gray";
	case PNG_COLOR_TYPE_GRAY_ALPHA: return "gray+alpha";
	case PNG_COLOR_TYPE_RGB: return "rgb";
	case PNG_COLOR_TYPE_RGB_ALPHA: return "rgba";
	case PNG_COLOR_TYPE_PALETTE: return "palette";
	default: return "unknown";
	}
}

static int
png_decode(const unsigned char *buf, size_t len, struct record *r, const char *name,
           struct imginfo *info, char *err, size_t errlen)
{
	struct pngio io = { buf, len, 0, err, errlen };
	png_structp png;
	png_infop pi = NULL;
	png_uint_32 w, h;
	int depth, ct, c;
	size_t rowbytes, need;
	struct tensor *t;

	png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &io, png_fail, png_quiet);
	if (!png || !(pi = png_create_info_struct(png))) {
		snprintf(err, errlen, "PNG: out of memory");
		png_destroy_read_struct(&png, NULL, NULL);
		return -1;
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_read_struct(&png, &pi, NULL);
		return -1;
	}
	png_set_read_fn(png, &io, png_memread);
	/* our own limit is checked below; lift libpng's default 1e6 columns */
	png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
	png_read_info(png, pi);
	png_get_IHDR(png, pi, &w, &h, &depth, &ct, NULL, NULL, NULL);
	if (check_size((int)w, (int)h, err, errlen) < 0)
		png_longjmp(png, 2);
	info->bit_depth = depth;
	info->color = png_color_name(ct);
	if (ct == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(png);
	if (ct == PNG_COLOR_TYPE_GRAY && depth < 8)
		png_set_expand_gray_1_2_4_to_8(png);
	if (ct & PNG_COLOR_MASK_ALPHA)
		png_set_strip_alpha(png);
	if (depth == 16)
		png_set_swap(png);
	png_set_interlace_handling(png);
	png_read_update_info(png, pi);
	c = png_get_channels(png, pi);
	rowbytes = png_get_rowbytes(png, pi);
	if (c != 1 && c != 3)
		png_error(png, "unexpected channel count after transforms");
	t = image_tensor(r, name, depth == 16 ? DT_U16 : DT_U8, c, (int)h, (int)w, err, errlen);
	if (!t)
		png_longjmp(png, 2);
	if (!mul_ok(rowbytes, h, &need))
		png_error(png, "image size overflows");
	/* gray needs no reordering: read straight into the tensor */
	unsigned char *dst = c == 1 ? t->data : NULL;
	if (!dst) {
		egrow((void **)&scratch, &scratchcap, need);
		dst = scratch;
	}
	egrow((void **)&rows, &rowscap, h * sizeof *rows);
	for (png_uint_32 y = 0; y < h; y++)
		rows[y] = dst + (size_t)y * rowbytes;
	png_read_image(png, rows);
	png_read_end(png, NULL);
	if (c != 1)
		deinterleave(t, scratch, c, (int)h, (int)w, depth == 16 ? 2 : 1);
	info->width = (int)w;
	info->height = (int)h;
	info->channels = c;
	png_destroy_read_struct(&png, &pi, NULL);
	return 0;
}

struct pngout {
	unsigned char **buf;
	size_t *cap, len;
	char *err;
	size_t errlen;
};

static void
png_memwrite(png_structp png, png_bytep data, size_t n)
{
	struct pngout *o = png_get_io_ptr(png);

	egrow((void **)o->buf, o->cap, o->len + n);
	memcpy(*o->buf + o->len, data, n);
	o->len += n;
}

static void
png_flush_none(png_structp png)
{
	(void)png;
}

static void
png_wfail(png_structp png, png_const_charp msg)
{
	struct pngout *o = png_get_error_ptr(png);

	snprintf(o->err, o->errlen, "PNG: %s", msg);
	png_longjmp(png, 1);
}

int
img_png_encode(const struct tensor *t, int level, unsigned char **buf, size_t *cap,
               size_t *len, char *err, size_t errlen)
{
	struct pngout o = { buf, cap, 0, err, errlen };
	png_structp png;
	png_infop pi = NULL;
	int c, h, w, depth;
	size_t bps, rowbytes;

	if (t->ndim == 2) {
		c = 1;
		h = (int)t->shape[0];
		w = (int)t->shape[1];
	} else if (t->ndim == 3 && (t->shape[0] == 1 || t->shape[0] == 3)) {
		c = (int)t->shape[0];
		h = (int)t->shape[1];
		w = (int)t->shape[2];
	} else {
		snprintf(err, errlen, "tensor '%s' is not [C,H,W] with C 1 or 3", t->name);
		return -1;
	}
	if (t->dtype == DT_F32 || h == 0 || w == 0) {
		snprintf(err, errlen, "tensor '%s' is not a u8 or u16 image", t->name);
		return -1;
	}
	depth = t->dtype == DT_U16 ? 16 : 8;
	bps = (size_t)depth / 8;
	rowbytes = (size_t)w * c * bps;
	egrow((void **)&scratch, &scratchcap, rowbytes * h);
	/* planar to interleaved */
	size_t plane = (size_t)h * w;
	if (c == 1)
		memcpy(scratch, t->data, plane * bps);
	else if (bps == 1) {
		const unsigned char *s = t->data;
		for (size_t i = 0; i < plane; i++)
			for (int k = 0; k < c; k++)
				scratch[i * c + k] = s[k * plane + i];
	} else {
		const uint16_t *s = t->data;
		uint16_t *d = (uint16_t *)scratch;
		for (size_t i = 0; i < plane; i++)
			for (int k = 0; k < c; k++)
				d[i * c + k] = s[k * plane + i];
	}
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &o, png_wfail, png_quiet);
	if (!png || !(pi = png_create_info_struct(png))) {
		snprintf(err, errlen, "PNG: out of memory");
		png_destroy_write_struct(&png, NULL);
		return -1;
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &pi);
		return -1;
	}
	png_set_write_fn(png, &o, png_memwrite, png_flush_none);
	png_set_compression_level(png, level);
	png_set_IHDR(png, pi, (png_uint_32)w, (png_uint_32)h, depth,
	             c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
	             PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, pi);
	if (depth == 16)
		png_set_swap(png);
	egrow((void **)&rows, &rowscap, (size_t)h * sizeof *rows);
	for (int y = 0; y < h; y++)
		rows[y] = scratch + (size_t)y * rowbytes;
	png_write_image(png, rows);
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &pi);
	*len = o.len;
	return 0;
}

/* ---------------------------------------------------------------- */
/* JPEG */

struct jerr {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
	char *err;
	size_t errlen;
};

static void
jpeg_fail(j_common_ptr cinfo)
{
	struct jerr *je = (struct jerr *)cinfo->err;
	char msg[JMSG_LENGTH_MAX];

	cinfo->err->format_message(cinfo, msg);
	snprintf(je->err, je->errlen, "JPEG: %s", msg);
	longjmp(je->jb, 1);
}

/* a warning means corrupt data that libjpeg would patch over: fail */
static void
jpeg_msg(j_common_ptr cinfo, int level)
{
	if (level < 0)
		jpeg_fail(cinfo);
}

static int
jpeg_decode(const unsigned char *buf, size_t len, struct record *r, const char *name,
            struct imginfo *info, char *err, size_t errlen)
{
	struct jpeg_decompress_struct cinfo;
	struct jerr je;
	struct tensor *t;
	int c, w, h;

	cinfo.err = jpeg_std_error(&je.pub);
	je.pub.error_exit = jpeg_fail;
	je.pub.emit_message = jpeg_msg;
	je.err = err;
	je.errlen = errlen;
	if (setjmp(je.jb)) {
		jpeg_destroy_decompress(&cinfo);
		return -1;
	}
	jpeg_create_decompress(&cinfo);
	jpeg_mem_src(&cinfo, buf, (unsigned long)len);
	jpeg_read_header(&cinfo, TRUE);
	info->bit_depth = cinfo.data_precision;
	switch (cinfo.jpeg_color_space) {
	case JCS_GRAYSCALE:
		info->color = "gray";
		cinfo.out_color_space = JCS_GRAYSCALE;
		break;
	case JCS_CMYK:
	case JCS_YCCK:
		snprintf(err, errlen, "JPEG: CMYK images are not supported");
		jpeg_destroy_decompress(&cinfo);
		return -1;
	default:
		info->color = "rgb";
		cinfo.out_color_space = JCS_RGB;
	}
	if (check_size((int)cinfo.image_width, (int)cinfo.image_height, err, errlen) < 0) {
		jpeg_destroy_decompress(&cinfo);
		return -1;
	}
	jpeg_start_decompress(&cinfo);
	c = cinfo.output_components;
	w = (int)cinfo.output_width;
	h = (int)cinfo.output_height;
	t = image_tensor(r, name, DT_U8, c, h, w, err, errlen);
	if (!t) {
		jpeg_destroy_decompress(&cinfo);
		return -1;
	}
	unsigned char *dst = c == 1 ? t->data : NULL;
	if (!dst) {
		egrow((void **)&scratch, &scratchcap, (size_t)w * h * c);
		dst = scratch;
	}
	while (cinfo.output_scanline < cinfo.output_height) {
		JSAMPROW row = dst + (size_t)cinfo.output_scanline * w * c;
		jpeg_read_scanlines(&cinfo, &row, 1);
	}
	jpeg_finish_decompress(&cinfo);
	jpeg_destroy_decompress(&cinfo);
	if (c != 1)
		deinterleave(t, scratch, c, h, w, 1);
	info->width = w;
	info->height = h;
	info->channels = c;
	return 0;
}

/* ---------------------------------------------------------------- */
/* PNM: P2/P5 gray and P3/P6 color, maxval up to 65535, values kept raw */

struct pnmin {
	const unsigned char *p;
	size_t n, off;
};

static void
pnm_skip(struct pnmin *in)
{
	while (in->off < in->n) {
		if (in->p[in->off] == '#') {
			while (in->off < in->n && in->p[in->off] != '\n')
				in->off++;
		} else if (isspace(in->p[in->off]))
			in->off++;
		else
			break;
	}
}

/* a decimal number up to max; -1 when absent or too large */
static long
pnm_num(struct pnmin *in, long max)
{
	long v = 0;
	int any = 0;

	pnm_skip(in);
	while (in->off < in->n && isdigit(in->p[in->off])) {
		v = v * 10 + (in->p[in->off++] - '0');
		if (v > max)
			return -1;
		any = 1;
	}
	return any ? v : -1;
}

static int
pnm_decode(const unsigned char *buf, size_t len, struct record *r, const char *name,
           struct imginfo *info, char *err, size_t errlen)
{
	struct pnmin in = { buf, len, 2 };
	char kind = (char)buf[1];
	int ascii = kind == '2' || kind == '3';
	int c = kind == '3' || kind == '6' ? 3 : 1;
	long w = pnm_num(&in, 65535), h = pnm_num(&in, 65535), maxval = pnm_num(&in, 65535);
	struct tensor *t;
	size_t n;

	if (w < 0 || h < 0 || maxval < 1) {
		snprintf(err, errlen, "PNM: bad header (width, height, maxval 1..65535)");
		return -1;
	}
	if (check_size((int)w, (int)h, err, errlen) < 0)
		return -1;
	info->maxval = (int)maxval;
	info->bit_depth = maxval > 255 ? 16 : 8;
	info->color = c == 1 ? "gray" : "rgb";
	t = image_tensor(r, name, maxval > 255 ? DT_U16 : DT_U8, c, (int)h, (int)w, err, errlen);
	if (!t)
		return -1;
	n = (size_t)w * h * c;
	size_t bps = maxval > 255 ? 2 : 1;
	unsigned char *dst = c == 1 ? t->data : NULL;
	if (!dst) {
		egrow((void **)&scratch, &scratchcap, n * bps);
		dst = scratch;
	}
	if (ascii) {
		for (size_t i = 0; i < n; i++) {
			long v = pnm_num(&in, maxval);
			if (v < 0) {
				snprintf(err, errlen, "PNM: sample %zu of %zu is missing or above maxval %ld",
				         i + 1, n, maxval);
				return -1;
			}
			if (bps == 1)
				dst[i] = (unsigned char)v;
			else
				((uint16_t *)dst)[i] = (uint16_t)v;
		}
	} else {
		/* exactly one whitespace byte separates the header from the samples */
		in.off++;
		if (in.off > len || len - in.off < n * bps) {
			snprintf(err, errlen, "PNM: file is truncated (%zu bytes of samples, %zu needed)",
			         in.off > len ? 0 : len - in.off, n * bps);
			return -1;
		}
		const unsigned char *s = buf + in.off;
		for (size_t i = 0; i < n; i++) {
			unsigned v = bps == 1 ? s[i] : (unsigned)(s[2 * i] << 8 | s[2 * i + 1]);
			if (v > (unsigned)maxval) {
				snprintf(err, errlen, "PNM: sample %zu is %u, above maxval %ld", i + 1, v, maxval);
				return -1;
			}
			if (bps == 1)
				dst[i] = (unsigned char)v;
			else
				((uint16_t *)dst)[i] = (uint16_t)v;
		}
	}
	if (c != 1)
		deinterleave(t, scratch, c, (int)h, (int)w, bps);
	info->width = (int)w;
	info->height = (int)h;
	info->channels = c;
	return 0;
}

int
img_decode(const unsigned char *buf, size_t len, struct record *r, const char *name,
           struct imginfo *info, char *err, size_t errlen)
{
	memset(info, 0, sizeof *info);
	info->fmt = img_sniff(buf, len);
	switch (info->fmt) {
	case IMG_PNG: return png_decode(buf, len, r, name, info, err, errlen);
	case IMG_JPEG: return jpeg_decode(buf, len, r, name, info, err, errlen);
	case IMG_PNM: return pnm_decode(buf, len, r, name, info, err, errlen);
	default:
		snprintf(err, errlen, "not a PNG, JPEG or PNM image");
		return -1;
	}
}
