/*
 * dicom.h - DICOM files into [C,H,W] tensors and header values, through
 * GDCM (common/dicom/gdcm.cc, C++ behind this C interface; common/dicom/dicom.c does
 * the values).
 *
 * GDCM parses the dataset from memory (any transfer syntax Debian's GDCM
 * decodes: uncompressed little/big endian, implicit VR, deflate, RLE, JPEG
 * baseline/extended/lossless, JPEG-LS, JPEG 2000) and hands over the
 * decoded pixel data of every frame, in host byte order, as stored.
 * dicom.c then makes the values mean something: bits outside Bits Stored
 * masked off and signed values sign-extended, MONOCHROME1 inverted (so that
 * brighter is denser, as in MONOCHROME2), the modality LUT (Rescale Slope
 * and Intercept: Hounsfield units for CT) applied, in the narrowest dtype
 * that holds every value the stored range can map to exactly: u8 or u16
 * for whole numbers from 0 up, else f32.  Colour (RGB, YBR_*, palette)
 * comes out as RGB.
 */
#ifndef OSTEO_DICOM_H
#define OSTEO_DICOM_H

#include <stddef.h>

#include "common/record/record.h"

#ifdef __cplusplus
extern "C" {
#endif

/* the header elements osteo reads, and no others (no names, dates,
 * institutions or free text): string values as the file has them,
 * padding trimmed, several values joined by a backslash as in the file */
enum dcm_field {
	DCM_PATIENT_ID, DCM_PATIENT_SEX, DCM_PATIENT_AGE,
	DCM_STUDY_UID, DCM_SERIES_UID, DCM_SOP_UID, DCM_MODALITY, DCM_BODY_PART, DCM_VIEW_POSITION,
	DCM_LATERALITY, DCM_IMAGE_LATERALITY, DCM_PIXEL_SPACING, DCM_IMAGER_SPACING,
	DCM_WINDOW_CENTER, DCM_WINDOW_WIDTH, DCM_BURNED_IN, DCM_FIELDS
};

struct dcm_image {
	int rows, cols, frames, samples;
	int bits_allocated, bits_stored, high_bit, is_signed;
	int planar;              /* colour: 0 interleaved, 1 one plane per sample */
	double slope, intercept;
	char photometric[24];    /* after GDCM's colour conversion: MONOCHROME1/2 or RGB */
	char photometric_file[24]; /* as the file says */
	char ts_uid[68];         /* transfer syntax */
	const char *ts_name;
	const unsigned char *pixels; /* every frame, host byte order */
	size_t nbytes;
};

/* DICM at byte 128, or a dataset that begins as one without the preamble
 * (a first element of group 0002 or 0008, or, with an explicit VR, of
 * 0010 to 0028) */
int dcm_sniff(const unsigned char *p, size_t n);

enum { DCM_OK = 0, DCM_NOPIXELS = 1, DCM_ERROR = -1 };

/*
 * A reader runs GDCM in a worker process of its own, started at the first
 * file and again after one that killed it: Debian's GDCM checks its input
 * with assert(), and its codecs can crash or loop on a hostile file, so a
 * file that stops GDCM is reported like any bad file and the next one is
 * read.  The file and the pixels travel through shared memory, reused from
 * file to file.
 */
#define DCM_TIMEOUT 300          /* seconds GDCM may spend on one file */
struct dcm_reader;
/* dies with 71 when its shared memory cannot be made */
struct dcm_reader *dcm_reader_new(void);
void dcm_reader_free(struct dcm_reader *rd);

/* parse buf and decode its pixel data into img (valid until the next
 * read): DCM_OK; DCM_NOPIXELS for a DICOM object without an image (a
 * structured report, an RT plan); DCM_ERROR with err set (not DICOM,
 * truncated, a transfer syntax or pixel layout that cannot be decoded,
 * more than max_pixels pixels, GDCM stopped by an assertion, a signal or
 * DCM_TIMEOUT) */
int dcm_read(struct dcm_reader *rd, const unsigned char *buf, size_t len, size_t max_pixels,
             struct dcm_image *img, char *err, size_t errlen);
/* a header value of the last file read: "" when absent */
const char *dcm_field(const struct dcm_reader *rd, enum dcm_field f);

/* frame i (0-based) of img into r's tensor `name` with the values above,
 * and meta that says what was done (photometric, inverted, rescale, bits
 * stored); 0, or -1 with err set (a tensor beyond the record limits) */
int dcm_frame(const struct dcm_image *img, int i, struct record *r, const char *name, char *err,
              size_t errlen);

/* between dicom.c and gdcm.cc (in the worker): what a read hands back */
#define DCM_FIELD_MAX 1024
struct dcm_result {
	struct dcm_image img;    /* pixels and ts_name: the reader's side sets them */
	char ts_name[160];
	char fields[DCM_FIELDS][DCM_FIELD_MAX];
};
/* gdcm.cc: parse and decode, the pixels into the buffer of n bytes that
 * out(n, ctx) returns (NULL: out of memory) */
int gdcm_read(const unsigned char *buf, size_t len, size_t max_pixels, struct dcm_result *res,
              unsigned char *(*out)(size_t n, void *ctx), void *ctx, char *err, size_t errlen);

/* rle.c: one RLE Lossless frame of n bytes into out, one plane per
 * sample, each value little endian; scratch holds rows x cols bytes.  0,
 * or -1 with err set */
int rle_decode_frame(const unsigned char *frag, size_t n, int rows, int cols, int samples, int bytes,
                     unsigned char *out, unsigned char *scratch, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
