/*
 * image.h - image files to and from [C,H,W] tensors.
 *
 * Decoding works on a whole file in memory (a file on disk, an archive
 * member, stdin), through libpng, libjpeg-turbo, or a small PNM reader.
 * 8-bit images become u8 tensors and 16-bit ones u16, values untouched;
 * alpha is dropped, palettes become RGB, 1/2/4-bit gray is scaled to 8.
 * Warnings from the codecs count as errors: a truncated JPEG that libjpeg
 * would fill with gray is a corrupt file, not an image.
 */
#ifndef OSTEO_IMAGE_H
#define OSTEO_IMAGE_H

#include <stddef.h>

#include "common/record/record.h"

enum imgfmt { IMG_UNKNOWN, IMG_PNG, IMG_JPEG, IMG_PNM };

struct imginfo {
	enum imgfmt fmt;
	int width, height, channels;
	int bit_depth;        /* as stored in the file: 1, 2, 4, 8, 16 */
	int maxval;           /* PNM only */
	const char *color;    /* gray, gray+alpha, rgb, rgba, palette, cmyk */
};

/* the largest image decoded, in pixels; images beyond it are errors */
extern size_t img_max_pixels;

enum imgfmt img_sniff(const unsigned char *p, size_t n);
const char *img_fmt_name(enum imgfmt f);

/* decode buf into the record's tensor `name`; 0, or -1 with err set */
int img_decode(const unsigned char *buf, size_t len, struct record *r, const char *name,
               struct imginfo *info, char *err, size_t errlen);

/* encode a u8 or u16 tensor of shape [C,H,W] (C 1 or 3) or [H,W] as PNG
 * into a reusable buffer; 0, or -1 with err set */
int img_png_encode(const struct tensor *t, int level, unsigned char **buf, size_t *cap,
                   size_t *len, char *err, size_t errlen);

#endif
