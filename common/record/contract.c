/*
 * contract.c - the keys of contract.h, written one way and read one way.
 */
#include "contract.h"
#include "common/base/util.h"

#include <stdlib.h>
#include <string.h>

void
prep_read(const struct record *r, struct prep *p)
{
	const struct metaval *g = rec_meta(r, KEY_NORM_GRAY);

	p->size = rec_meta_s(r, KEY_NORM_SIZE);
	p->method = rec_meta_s(r, KEY_NORM_METHOD);
	p->stats = rec_meta_s(r, KEY_NORM_STATS);
	p->features = rec_meta_s(r, KEY_FUSE_FEATURES);
	p->encoding = rec_meta_s(r, KEY_FUSE_ENCODING);
	p->gray = g && g->type == MV_BOOL && g->i;
}

void
prep_write_fuse(struct record *r, const char *features, const char *encoding)
{
	rec_meta_str(r, KEY_FUSE_ENCODING, encoding);
	rec_meta_str(r, KEY_FUSE_FEATURES, features);
}

void
prep_write(struct record *r, const struct prep *p)
{
	rec_meta_str(r, KEY_NORM_SIZE, p->size);
	rec_meta_bool(r, KEY_NORM_GRAY, p->gray);
	rec_meta_str(r, KEY_NORM_METHOD, p->method);
	rec_meta_str(r, KEY_NORM_STATS, p->stats);
	prep_write_fuse(r, p->features, p->encoding);
}

void
prep_dup(struct prep *dst, const struct prep *src)
{
	dst->size = estrdup(src->size);
	dst->method = estrdup(src->method);
	dst->stats = estrdup(src->stats);
	dst->features = estrdup(src->features);
	dst->encoding = estrdup(src->encoding);
	dst->gray = src->gray;
}

void
prep_free(struct prep *p)
{
	free((char *)p->size);
	free((char *)p->method);
	free((char *)p->stats);
	free((char *)p->features);
	free((char *)p->encoding);
	memset(p, 0, sizeof *p);
}

const char *
prep_differs(const struct prep *a, const struct prep *b, int clin, const char **va, const char **vb)
{
	const char *key[] = { KEY_NORM_METHOD, KEY_NORM_STATS, KEY_FUSE_FEATURES, KEY_FUSE_ENCODING };
	const char *x[] = { a->method, a->stats, a->features, a->encoding };
	const char *y[] = { b->method, b->stats, b->features, b->encoding };

	for (int i = 0; i < (clin ? 4 : 2); i++)
		if (strcmp(x[i], y[i])) {
			*va = x[i];
			*vb = y[i];
			return key[i];
		}
	return NULL;
}

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
