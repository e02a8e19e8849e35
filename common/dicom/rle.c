/*
 * rle.c - DICOM's RLE Lossless (PS3.5 Annex G), decoded here rather than
 * by GDCM: Debian's GDCM 3.0 puts the segments of 16- and 32-bit colour in
 * the wrong places (a red pixel comes out green and blue).  Annex G is
 * short: a frame is a 64-byte header (the segment count and fifteen
 * offsets, little endian) and up to fifteen PackBits segments, one per
 * byte of each sample, most significant byte first, sample after sample.
 */
#include "dicom.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* PackBits from p[0..n) into out[0..want): 0, or -1 when the segment ends
 * short (a longer one is padding, which encoders add to an even length) */
static int
unpack(const unsigned char *p, size_t n, unsigned char *out, size_t want)
{
	size_t i = 0, o = 0;

	while (o < want && i < n) {
		int c = (signed char)p[i++];
		if (c >= 0) {
			size_t k = (size_t)c + 1;
			if (k > n - i || k > want - o)
				return -1;
			memcpy(out + o, p + i, k);
			i += k;
			o += k;
		} else if (c != -128) {
			size_t k = (size_t)(1 - c);
			if (i >= n || k > want - o)
				return -1;
			memset(out + o, p[i++], k);
			o += k;
		}
	}
	return o == want ? 0 : -1;
}

int
rle_decode_frame(const unsigned char *frag, size_t n, int rows, int cols, int samples, int bytes,
                 unsigned char *out, unsigned char *scratch, char *err, size_t errlen)
{
	size_t plane = (size_t)rows * cols;
	int want = samples * bytes;

	if (n < 64) {
		snprintf(err, errlen, "RLE: a frame of %zu bytes, shorter than its 64-byte header", n);
		return -1;
	}
	uint32_t nseg = le32(frag);
	if (nseg != (uint32_t)want) {
		snprintf(err, errlen, "RLE: %u segments; %d samples of %d bytes need %d", nseg, samples, bytes, want);
		return -1;
	}
	for (int s = 0; s < want; s++) {
		uint32_t start = le32(frag + 4 + 4 * s);
		uint32_t end = s + 1 < want ? le32(frag + 8 + 4 * s) : (uint32_t)(n > UINT32_MAX ? UINT32_MAX : n);
		if (start < 64 || start > end || end > n) {
			snprintf(err, errlen, "RLE: segment %d lies at bytes %u to %u of a %zu-byte frame", s + 1, start,
			         end, n);
			return -1;
		}
		if (unpack(frag + start, end - start, scratch, plane) < 0) {
			snprintf(err, errlen, "RLE: segment %d does not hold %zu bytes", s + 1, plane);
			return -1;
		}
		/* segment s: sample s / bytes, its byte s % bytes from the top;
		 * out is one plane per sample, each value in host (little
		 * endian) order */
		int sample = s / bytes, shift = bytes - 1 - s % bytes;
		unsigned char *dst = out + (size_t)sample * plane * bytes + shift;
		for (size_t k = 0; k < plane; k++)
			dst[k * bytes] = scratch[k];
	}
	return 0;
}
