/*
 * classes.h - the list of class names (--classes a,b,c): label i is
 * names[i].
 */
#ifndef OSTEO_CLASSES_H
#define OSTEO_CLASSES_H

#include <stddef.h>

#define DEFAULT_CLASSES "healthy,osteopenia,osteoporosis"
#define MAXCLASSES 256

struct classes {
	int n;
	char *names[MAXCLASSES];
};

/* "a,b,c", refused when a name is empty or repeated or there are too
 * many: classes_parse dies with 64 (a list given as an option);
 * classes_read returns -1 and *err (a list read from data: 65 is the
 * caller's) */
void classes_parse(struct classes *c, const char *list, const char *what);
int classes_read(struct classes *c, const char *list, const char **err);
void classes_free(struct classes *c);
/* the index of the class spelled s[0..len), or -1 */
int classes_find(const struct classes *c, const char *s, size_t len);
/* the class whose probability is read as risk: name (a name or an index),
 * or by default osteoporosis, else the last class; -1 when name is none */
int classes_risk(const struct classes *c, const char *name);
/*
 * Without --classes, a training takes its classes from the records: the
 * name osteo-decode gave each label (meta.class).  classes_see notes one
 * record's label and name in seen (names[label], NULL until a record
 * names it); -1 and *err when the label is named otherwise elsewhere.
 * classes_settle makes c the names seen when every label up to the
 * largest has one and no name is given two labels, and the default list
 * when no record names its class or every name seen is the default's at
 * its label (then a label may go unseen); -1 and *err otherwise.
 */
int classes_see(struct classes *seen, long long label, const char *name, const char **err);
int classes_settle(struct classes *c, const struct classes *seen, const char **err);
/* 0 when a record's label and name (may be NULL) agree with c; -1 and *err */
int classes_agree(const struct classes *c, long long label, const char *name, const char **err);
/* "a,b,c", allocated */
char *classes_join(const struct classes *c);
/* a class name or a decimal index below c->n; -1 when neither */
int classes_label(const struct classes *c, const char *s);
/* the predicted class: the first of the largest of p[0..k) */
int class_argmax(const double *p, int k);
/* --class-weights of k classes into w: "auto" (n / (k n_c), rare classes
 * weigh more, as scikit-learn's "balanced") from count[0..k), or a list
 * of k numbers (dies with 64 on a bad one) */
void class_weights(const char *spec, const long *count, int k, double *w);

#endif
