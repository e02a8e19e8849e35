/*
 * imgops.h - image operations on planar float images [C,H,W]: gray,
 * resampling, fitting to a size, affine warps, flips, order statistics and
 * a perceptual hash.  Buffers are the caller's; nothing here allocates per
 * call except weight tables, which are cached by size.
 */
#ifndef OSTEO_IMGOPS_H
#define OSTEO_IMGOPS_H

#include <stddef.h>
#include <stdint.h>

#include "common/record/record.h"

enum fit { FIT_PAD, FIT_CROP, FIT_STRETCH };

/* any u8/u16/f32 tensor's values as floats, into dst (tensor_elems long) */
void tensor_to_float(const struct tensor *t, float *dst);
/* 1 when none of x[0..n) is NaN or infinite: f32 tensors come from outside */
int floats_finite(const float *x, size_t n);

/*
 * A record's `mask` (0 and 1, [1,h,w] like its image) through the image's
 * geometric steps: mask_load gives it as floats in *buf (grown), NULL when
 * the record has none, and sets *err when its shape is not [1,h,w];
 * mask_store puts a transformed one back, 1 from one half up.
 */
float *mask_load(const struct record *r, int h, int w, float **buf, size_t *cap, const char **err);
void mask_store(struct record *r, const float *v, int h, int w);

/* Rec. 601 luma of a [3,H,W] image; dst [H,W] may not alias src */
void img_gray(const float *src, float *dst, size_t plane);

/* resample [C,sh,sw] to [C,dh,dw]: area averaging along an axis that
 * shrinks, bilinear (half-pixel centres) along one that grows */
void img_resize(const float *src, int c, int sh, int sw, float *dst, int dh, int dw);

/*
 * Fit [C,sh,sw] into [C,dh,dw]: pad keeps the aspect ratio and fills the
 * margins with `fill`; crop keeps it and cuts the overhang evenly; stretch
 * ignores it.  tmp holds at least c*dh*dw floats.
 */
void img_fit(const float *src, int c, int sh, int sw, float *dst, int dh, int dw,
             enum fit fit, float fill, float *tmp);

/*
 * dst(x) = src(A^-1 (x - centre - t) + centre) with bilinear sampling and
 * replicated edges: rotation by `deg` (counter-clockwise as displayed),
 * scaling by `scale`, translation (tx, ty) in pixels, optional flips.
 */
void img_warp(const float *src, float *dst, int c, int h, int w, double deg, double scale,
              double tx, double ty, int hflip, int vflip);

/* the value of rank round(p * (n - 1)) of v[0..n); v is reordered */
float select_rank(float *v, size_t n, double p);

/* 64-bit difference hash of a [C,H,W] image (channel 0): 9x8 area
 * downscale, one bit per horizontal neighbour comparison */
uint64_t img_dhash(const float *src, int h, int w);

/* dst = src mirrored left to right, c planes of h x w (not in place) */
void img_hflip(const float *src, float *dst, int c, int h, int w);

#endif
