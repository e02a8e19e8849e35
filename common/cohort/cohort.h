/*
 * cohort.h - osteo-synth's world: patients with a latent bone quality q,
 * their class, clinical values and Bayes-optimal class (the ceiling), and
 * the images drawn of them (bone whose cortex and trabecular struts follow
 * q; a bone mask beside each).  osteo-synth(1) describes the model; every
 * draw comes from generators keyed by the seed and the patient's key, so
 * patients can be drawn in any order, on any thread.
 */
#ifndef OSTEO_COHORT_H
#define OSTEO_COHORT_H

#include "common/record/record.h"

extern const char *const cohort_classes[3];
extern const char *const cohort_modalities[3];
extern const char *const cohort_regions[5];
enum { XRAY, CT, DEXA };
enum { LUMBAR, HIP, FEMUR, PELVIS, THORACIC };

/* what the patients and their images are like */
struct cohort {
	unsigned long long seed;
	int maximages;          /* 1 to this many images per patient */
	int w, h;               /* 0: per modality */
	double prev[3];         /* the classes' relative frequencies */
	int leak;               /* the T-score gives the class away (tests) */
	int masks;              /* render adds the bone mask */
};

struct patient {
	char key[16];
	int label;
	double q;
	int age;
	char sex;
	double tscore;
	int fracture;
	int modality, region;
	int nimages;
};

/* patient i (0-based; key P0001 for 0) */
void make_patient(const struct cohort *o, int i, struct patient *p);
/* P(class | q) into post, and the class that maximises it */
int bayes_class(const struct cohort *o, double q, double post[3]);
/* image k of patient p into r's tensor "image" (u8 for X-ray and DEXA,
 * u16 holding HU + 1024 for CT), and "mask" with masks; one canvas per
 * thread, kept between calls */
void render(const struct cohort *o, const struct patient *p, int k, struct record *r);

#endif
