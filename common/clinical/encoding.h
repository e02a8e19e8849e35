/*
 * encoding.h - how osteo-fuse turns clinical CSV columns into numbers: each
 * column's type (number, yes/no, category) and its fitted parameters
 * (z-score, P(yes), levels and their frequencies), fitted on the training
 * patients and kept in a parameter file (params.h) whose fingerprint the
 * fused records carry; and the leakage check, how well one column alone
 * predicts the label.
 */
#ifndef OSTEO_ENCODING_H
#define OSTEO_ENCODING_H

#include "common/record/record.h"
#include "table.h"

#define ENC_KIND "osteo-fuse encoding"
#define MAXCOLS 256
#define MAXLEVELS 64

enum coltype { C_NUMBER, C_BINARY, C_CATEGORY };
extern const char *const coltypes[3];  /* the types' names in an encoding file */

struct column {
	char *name;
	int csv;                  /* index in the CSV */
	enum coltype type;
	double mean, sd;          /* number: z-score; binary: mean is P(yes) */
	int nlevels;
	char *levels[MAXLEVELS];
	double freq[MAXLEVELS];   /* for imputing a category */
};

struct encoding {
	char key[256];
	int ncols;
	struct column col[MAXCOLS];
	int nfeatures;
	char *features;           /* comma-separated names */
	char fingerprint[24];
};

/* a CSV value: missing (empty, NA, NaN, ?); a finite number (1 with *v);
 * yes/no (1, 0, or -1 for neither); a category's level index, or -1 */
int enc_missing(const char *s);
int enc_number(const char *s, double *v);
int enc_bool(const char *s);
int enc_level(const struct column *c, const char *s);

/* what a column named so would identify a patient by ("a name", "a birth
 * date", ...), or NULL: names, birth dates, record numbers and other IDs,
 * addresses, phone numbers, e-mail addresses, in their usual spellings
 * (case, '_', '-', ' ' and '.' aside) */
const char *enc_identifier(const char *column);

/* the feature names, one per number a record gets ("age", "sex=F", ...) */
void enc_name_features(struct encoding *e);
/* name a fitted encoding by its contents, and save it when path is given */
void enc_seal(struct encoding *e, const char *path);
/* read an encoding file (66, 65 when it is not one) */
void enc_load(const char *path, struct encoding *e);
/* find the encoding's columns in the CSV; an unknown one is bad data (65) */
void enc_bind(struct encoding *e, const struct table *t, const char *path);
/* fit each column on the rows of the patients seen (rows[i] != 0) */
void enc_fit(struct encoding *e, const struct table *t, const long *rows);
/* warn about a column that alone predicts labels[row] (nl classes) on at
 * least threshold of the training patients */
void enc_check_leakage(const struct encoding *e, const struct table *t, const long *labels, long nl,
                       double threshold);

#endif
