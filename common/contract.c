/*
 * contract.c - the keys of contract.h, written one way.
 */
#include "contract.h"

int
rec_set_prediction(struct record *r, const double *p, const struct classes *cl, int risk, const char *names)
{
	int best = class_argmax(p, cl->n);

	rec_set_probs(r, p, cl->n);
	r->has_pred = 1;
	r->pred = best;
	r->has_risk = 1;
	r->risk = p[risk];
	rec_meta_str(r, KEY_INFER_CLASS, cl->names[best]);
	rec_meta_str(r, KEY_INFER_CLASSES, names);
	return best;
}
