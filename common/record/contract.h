/*
 * contract.h - what programs write into a record for the programs after
 * them (osteo-record(5), "Keys programs add"): how it was prepared
 * (osteo-normalize's norm.*, osteo-fuse's fuse.*, which model files carry
 * too, under the same names) and a prediction (osteo-infer's,
 * osteo-baseline's, osteo-metrics --patients-out's).  Every key is spelt
 * here, and each group has one writer and one reader.
 */
#ifndef OSTEO_CONTRACT_H
#define OSTEO_CONTRACT_H

#include "classes.h"
#include "record.h"

/* how a record was prepared */
#define KEY_NORM_SIZE "norm.size"            /* WxH, or "" when each image kept its own */
#define KEY_NORM_FIT "norm.fit"              /* pad, crop or stretch */
#define KEY_NORM_GRAY "norm.gray"            /* bool */
#define KEY_NORM_METHOD "norm.method"        /* minmax, zscore, percentile, window, none */
#define KEY_NORM_STATS "norm.stats"          /* the statistics' fingerprint, or "per-image" */
#define KEY_NORM_WC "norm.window_center"
#define KEY_NORM_WW "norm.window_width"
#define KEY_FUSE_FEATURES "fuse.features"    /* the clinical vector's names, comma-separated */
#define KEY_FUSE_ENCODING "fuse.encoding"    /* the encoding's fingerprint */

/* the preparation a model depends on; strings "" when absent */
struct prep {
	const char *size, *method, *stats, *features, *encoding;
	int gray;
};

/* r's (the strings point into r) */
void prep_read(const struct record *r, struct prep *p);
/* onto r: every key of struct prep, as a model file keeps them
 * (osteo-normalize writes the norm.* keys of a record itself, with the
 * fit and window it used; osteo-fuse its group with prep_write_fuse) */
void prep_write(struct record *r, const struct prep *p);
void prep_write_fuse(struct record *r, const char *features, const char *encoding);
/* a copy whose strings are the copy's own; prep_free frees them */
void prep_dup(struct prep *dst, const struct prep *src);
void prep_free(struct prep *p);
/*
 * The first key whose values in a and b differ, or NULL: the
 * normalisation (method, statistics), then with clin the clinical
 * features and encoding.  Its values are in *va and *vb.
 */
const char *prep_differs(const struct prep *a, const struct prep *b, int clin, const char **va,
                         const char **vb);

/* a prediction's keys */
#define KEY_INFER_CLASS "infer.class"        /* the predicted class's name */
#define KEY_INFER_CLASSES "infer.classes"    /* the model's classes, "a,b,c" */
#define KEY_INFER_MODEL "infer.model"        /* osteo-baseline's kind of model */
#define KEY_INFER_TEMPERATURE "infer.temperature"      /* the calibration applied */
#define KEY_INFER_PER_PATIENT "infer.per_patient"      /* osteo-metrics --patients-out: mean or max */
#define KEY_INFER_HEATMAP_CLASS "infer.heatmap_class"  /* the class a heat map explains */
#define KEY_INFER_HEATMAP_MODE "infer.heatmap_mode"    /* gradcam, absolute or occlusion */
#define KEY_INFER_GRADCAM_EMPTY "infer.gradcam_empty"  /* bool: Grad-CAM had no positive part */
#define KEY_INFER_FEATURES_LAYER "infer.features_layer"  /* --feature-maps' layer */

/*
 * The prediction p[0..cl->n) on r: probs, pred (the first largest), risk
 * (p[risk]) and the predicted class's and the model's class names (names:
 * classes_join(cl), made once by the caller).  Returns pred.
 */
int rec_set_prediction(struct record *r, const double *p, const struct classes *cl, int risk, const char *names);

#endif
