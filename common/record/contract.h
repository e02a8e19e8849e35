/*
 * contract.h - what programs write into a record for the programs after
 * them (osteo-record(5), "Keys programs add"): its tensors' names, where it
 * came from (osteo-decode's provenance), how it was augmented
 * (osteo-augment's aug.*) and prepared (osteo-normalize's norm.*,
 * osteo-fuse's fuse.*, which model files carry too, under the same names),
 * the header every model file starts with, and a prediction
 * (osteo-infer's, osteo-baseline's, osteo-metrics --patients-out's).
 * Every key and tensor name is spelt here, and each group has one writer
 * and one reader: a program that writes or reads one uses these names.
 */
#ifndef OSTEO_CONTRACT_H
#define OSTEO_CONTRACT_H

#include "classes.h"
#include "common/base/util.h"
#include "record.h"

/* the tensors */
#define TENSOR_IMAGE "image"          /* [C,H,W] u8, u16 or f32 */
#define TENSOR_CLINICAL "clinical"    /* [K] f32, osteo-fuse's encoding */
#define TENSOR_MASK "mask"            /* [1,H,W] u8 of 0 and 1, the bone */
#define TENSOR_HEATMAP "heatmap"      /* [1,H,W] f32, osteo-infer --heatmap */
#define TENSOR_FEATURES "features"    /* [C,h,w] f32, osteo-infer --feature-maps */

/* where a record came from: osteo-decode (common/decode, common/dicom)
 * and osteo-synth (common/cohort) write them; readers named beside */
#define KEY_PROV_SOURCE "source"          /* the file (or archive) read */
#define KEY_PROV_MEMBER "member"          /* the archive's member */
#define KEY_PROV_FORMAT "format"          /* png, jpeg, pnm, dicom */
#define KEY_PROV_COLOR "color"            /* gray, rgb, ... */
#define KEY_PROV_BIT_DEPTH "bit_depth"
#define KEY_PROV_MAXVAL "maxval"          /* PNM */
#define KEY_PROV_WIDTH "width"
#define KEY_PROV_HEIGHT "height"
#define KEY_PROV_FRAME "frame"            /* a multi-frame DICOM's frame, from 1 */
#define KEY_PROV_FRAMES "frames"
#define KEY_PROV_CLASS "class"            /* the label's name (osteo-dump, osteo-plot read it) */
#define KEY_PROV_MODALITY "modality"      /* xray, ct, dexa, or the manifest's */
#define KEY_PROV_REGION "region"
#define KEY_PROV_AGE "age"                /* years (osteo-fuse takes header values) */
#define KEY_PROV_SEX "sex"
#define KEY_PROV_SPACING_Y "spacing_y"    /* mm */
#define KEY_PROV_SPACING_X "spacing_x"
#define KEY_PROV_WINDOW_CENTER "window_center"  /* osteo-normalize --window file reads them */
#define KEY_PROV_WINDOW_WIDTH "window_width"
#define KEY_PROV_TRANSFER_SYNTAX "transfer_syntax"
#define KEY_PROV_TRANSFER_SYNTAX_NAME "transfer_syntax_name"
#define KEY_PROV_DICOM_MODALITY "dicom_modality"
#define KEY_PROV_VIEW_POSITION "view_position"
#define KEY_PROV_LATERALITY "laterality"
#define KEY_PROV_STUDY_UID "study_uid"
#define KEY_PROV_SERIES_UID "series_uid"
#define KEY_PROV_SOP_UID "sop_uid"
#define KEY_PROV_PSEUDONYMIZED "pseudonymized"  /* bool: osteo-decode --pseudonymize: the UIDs are pseudonyms */
#define KEY_PROV_PHOTOMETRIC "photometric"
#define KEY_PROV_INVERTED "inverted"      /* bool: MONOCHROME1 turned round */
#define KEY_PROV_BURNED_IN "burned_in_annotation"  /* YES or NO, as the file says */
#define KEY_PROV_RESCALE_SLOPE "rescale_slope"
#define KEY_PROV_RESCALE_INTERCEPT "rescale_intercept"

/* how a copy was augmented: osteo-augment writes them, people read them */
#define KEY_AUG_OF "aug.of"                  /* the original's id */
#define KEY_AUG_ROTATE "aug.rotate"          /* degrees */
#define KEY_AUG_SCALE "aug.scale"
#define KEY_AUG_TRANSLATE_X "aug.translate_x"
#define KEY_AUG_TRANSLATE_Y "aug.translate_y"
#define KEY_AUG_HFLIP "aug.hflip"
#define KEY_AUG_VFLIP "aug.vflip"
#define KEY_AUG_CONTRAST "aug.contrast"
#define KEY_AUG_BRIGHTNESS "aug.brightness"
#define KEY_AUG_NOISE "aug.noise"

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

/*
 * The preparation chain: every stage that changes what a network sees
 * appends one step to meta "prep" (osteo-decode's channels and bit depth,
 * each osteo-normalize's method, fit, size and statistics, osteo-augment's
 * mark, osteo-fuse's features and encoding), so a second normalisation
 * adds to the first instead of hiding it.  A step is "NAME k=v k=v";
 * steps are joined by "; "; a value's ' ', ';', '=', '%' and control
 * characters are written %XX.  A model keeps its training records' chains,
 * one per line (a cohort of 8- and 16-bit files has two), without their
 * augment steps: augmentation is the training data's alone.
 */
#define KEY_PREP_CHAIN "prep"
/* append a step to r's chain: name, then key and value strings, NULL (a
 * key whose value is NULL is left out) */
void prep_step(struct record *r, const char *name, ...);
/* chain without its augment steps, in a buffer of its own (free it) */
char *prep_chain_core(const char *chain);
/* add chain (augment steps aside) to a training set's chains, one per
 * line, unless it is there: 0; -1 with why when it differs from the
 * first beyond its decode step (the files of one cohort may differ in bit
 * depth or channels, but a model fits one preparation) or is a 17th */
int prep_chains_add(struct text *set, const char *chain, char *why, size_t n);
/* 0 when chain (augment steps aside) is one of the lines of chains; else
 * -1 with why saying the first step that differs from the nearest line,
 * and both values */
int prep_chain_check(const char *chain, const char *chains, char *why, size_t n);

/*
 * Which osteo-split run a record came through: the run's fingerprint (its
 * input's digest and its settings), the part it went to, and the input's
 * digest alone.  osteo-split renames its three files one after the other,
 * so a run killed between two renames leaves files of two runs beside each
 * other; these keys tell them apart.  A model keeps its training records'
 * splits, "ID OF" a line.
 */
#define KEY_SPLIT_ID "split.id"
#define KEY_SPLIT_PART "split.part"          /* train, val or test */
#define KEY_SPLIT_OF "split.of"
#define KEY_MODEL_SPLITS "splits"
/* add r's split to a set, a line each, unless it is there or r has none */
void splits_add(struct text *set, const struct record *r);
/* -1 with why when r came through another split of an input one of set's
 * came from too (its patients may be in both); with strict (a validation
 * set), when r came through any split but set's; else 0 */
int split_check(const struct record *r, const char *set, int strict, char *why, size_t n);

/* the preparation a model depends on; strings "" when absent; chain: the
 * training records' chains (above), one per line; splits: their splits */
struct prep {
	const char *size, *method, *stats, *features, *encoding, *chain, *splits;
	int gray;
};

/* r's (the strings point into r) */
void prep_read(const struct record *r, struct prep *p);
/* onto r: every key of struct prep, as a model file keeps them; a
 * record's norm.* group, with the fit and window used (osteo-normalize;
 * wc and ww written when window); its fuse.* group (osteo-fuse) */
void prep_write(struct record *r, const struct prep *p);
void prep_write_norm(struct record *r, const char *size, const char *fit, int gray, const char *method,
                     int window, double wc, double ww, const char *stats);
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

/*
 * The header every model file starts with: osteo-train's (common/model)
 * and osteo-baseline's, each with its own kind; what follows it is the
 * kind's own.  Written and read here alone.
 */
#define KEY_MODEL_KIND "kind"
#define KEY_MODEL_VERSION "version"
#define KEY_MODEL_ARCH "arch"                /* osteo-train's network spec */
#define KEY_MODEL_CLASSES "classes"          /* "a,b,c" */
#define KEY_MODEL_INPUT "input"              /* CxHxW */
#define KEY_MODEL_CLINICAL_COUNT "clinical_count"
struct model_header {
	const char *kind;
	int version;
	const char *arch;        /* NULL or "" for a model without a network */
	const char *classes;
	int c, h, w, nclin;
};
void model_header_write(struct record *r, const struct model_header *h);
/* r's header into h (its strings point into r): 0, or -1 with *err set
 * when a key is missing or out of range (the kind is the caller's to
 * check: params_load and model_load do) */
int model_header_read(const struct record *r, struct model_header *h, const char **err);

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
#define KEY_INFER_UNCERTAINTY "infer.uncertainty"  /* 1 - the largest probability: how unsure the answer is (osteo-infer(1)) */
#define KEY_INFER_ENTROPY "infer.entropy"          /* the answer's entropy over log(classes) */
#define KEY_INFER_DISAGREEMENT "infer.disagreement"  /* the members' and views' mutual information, likewise */
#define KEY_INFER_VIEWS "infer.views"              /* the answers averaged: members x (--tta: 2) */
#define KEY_INFER_MODEL_FILE "infer.model_file"    /* the model file's name (osteo-infer -m) */
#define KEY_INFER_MODEL_SHA256 "infer.model_sha256"  /* its SHA-256, 64 hex digits */
#define KEY_INFER_VERSION "infer.version"          /* "osteo" and the version that answered */

/*
 * The prediction p[0..cl->n) on r: probs, pred (the first largest), risk
 * (p[risk]) and the predicted class's and the model's class names (names:
 * classes_join(cl), made once by the caller).  Returns pred.
 */
int rec_set_prediction(struct record *r, const double *p, const struct classes *cl, int risk, const char *names);

#endif
