/*
 * sr.h - osteo-sr's DICOM objects, written by dcmtk (dcmsr for the
 * report, dcmdata for the heat maps) behind this C interface (sr.cc):
 * a Comprehensive SR per study and Secondary Capture heat maps, both in
 * the source images' study, their patient and study attributes copied
 * from a source file so the PACS files them with the images.  The
 * objects come back as bytes: the caller writes them, checking writes.
 */
#ifndef OSTEO_SR_H
#define OSTEO_SR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SR_UID 65                /* a UID and its NUL */

/* what osteo-sr needs of a source image, read from its file (no pixels) */
struct sr_source {
	char study[SR_UID], series[SR_UID], sop[SR_UID], sop_class[SR_UID];
};

/* one image's answer, or the study's (its images' mean) */
struct sr_answer {
	const double *p;         /* k probabilities */
	int pred;
	double risk;
	double unc;              /* NaN: none */
};

struct sr_image {
	const char *path;        /* the source file */
	struct sr_source src;
	struct sr_answer a;
	const float *heat;       /* [hh][hw], or NULL */
	int hh, hw;
	int heat_class;          /* the class the map explains, or -1 */
	const char *heat_mode;   /* how it was made (osteo-infer --heatmap-mode), or NULL */
};

struct sr_study {
	const char *model_file, *model_sha256, *version;
	int k;
	char *const *classes;
	const struct sr_image *img;
	int n;
	struct sr_answer all;
};

/* the source file's UIDs; -1 with err when it is not DICOM or lacks one */
int sr_read_source(const char *path, struct sr_source *s, char *err, size_t errlen);
/* the study's report as a DICOM file's bytes (*buf malloc'd), with the
 * series and instance UIDs given; -1 with err */
int sr_make_report(const struct sr_study *s, const char *series_uid, const char *sop_uid, unsigned char **buf,
                   size_t *len, char *err, size_t errlen);
/* image i's heat map as a Secondary Capture, likewise */
int sr_make_heatmap(const struct sr_study *s, int i, const char *series_uid, const char *sop_uid, unsigned char **buf,
                    size_t *len, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
