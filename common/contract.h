/*
 * contract.h - what programs write into a record for the programs after
 * them (osteo-record(5), "Keys programs add").  This is the first part:
 * a prediction, as osteo-infer, osteo-baseline and osteo-metrics
 * --patients-out write it; the norm.* and fuse.* groups are still spelt
 * where they are written and read.
 */
#ifndef OSTEO_CONTRACT_H
#define OSTEO_CONTRACT_H

#include "classes.h"
#include "record.h"

/* a prediction's keys */
#define KEY_INFER_CLASS "infer.class"        /* the predicted class's name */
#define KEY_INFER_CLASSES "infer.classes"    /* the model's classes, "a,b,c" */

/*
 * The prediction p[0..cl->n) on r: probs, pred (the first largest), risk
 * (p[risk]) and the predicted class's and the model's class names (names:
 * classes_join(cl), made once by the caller).  Returns pred.
 */
int rec_set_prediction(struct record *r, const double *p, const struct classes *cl, int risk, const char *names);

#endif
