/*
 * contract.c - the keys of contract.h, written one way and read one way.
 */
#include "contract.h"
#include "common/base/util.h"

#include <stdio.h>
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
prep_write_norm(struct record *r, const char *size, const char *fit, int gray, const char *method, int window,
                double wc, double ww, const char *stats)
{
	rec_meta_str(r, KEY_NORM_SIZE, size);
	rec_meta_str(r, KEY_NORM_FIT, fit);
	rec_meta_bool(r, KEY_NORM_GRAY, gray);
	rec_meta_str(r, KEY_NORM_METHOD, method);
	if (window) {
		rec_meta_float(r, KEY_NORM_WC, wc);
		rec_meta_float(r, KEY_NORM_WW, ww);
	}
	rec_meta_str(r, KEY_NORM_STATS, stats);
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

void
model_header_write(struct record *r, const struct model_header *h)
{
	char shape[64];

	rec_meta_str(r, KEY_MODEL_KIND, h->kind);
	rec_meta_int(r, KEY_MODEL_VERSION, h->version);
	if (h->arch && *h->arch)
		rec_meta_str(r, KEY_MODEL_ARCH, h->arch);
	rec_meta_str(r, KEY_MODEL_CLASSES, h->classes);
	snprintf(shape, sizeof shape, "%dx%dx%d", h->c, h->h, h->w);
	rec_meta_str(r, KEY_MODEL_INPUT, shape);
	rec_meta_int(r, KEY_MODEL_CLINICAL_COUNT, h->nclin);
}

int
model_header_read(const struct record *r, struct model_header *h, const char **err)
{
	const struct metaval *v = rec_meta(r, KEY_MODEL_VERSION), *nc = rec_meta(r, KEY_MODEL_CLINICAL_COUNT);
	char end;

	memset(h, 0, sizeof *h);
	h->kind = rec_meta_s(r, KEY_MODEL_KIND);
	h->version = v && v->type == MV_INT && v->i > 0 && v->i < 1 << 20 ? (int)v->i : 0;
	h->arch = rec_meta_s(r, KEY_MODEL_ARCH);
	h->classes = rec_meta_s(r, KEY_MODEL_CLASSES);
	if (!*h->classes || !nc || nc->type != MV_INT ||
	    sscanf(rec_meta_s(r, KEY_MODEL_INPUT), "%dx%dx%d%c", &h->c, &h->h, &h->w, &end) != 3) {
		*err = "meta classes, input (CxHxW) or clinical_count missing";
		return -1;
	}
	if (nc->i < 0 || nc->i > 65535) {
		*err = "clinical_count out of range";
		return -1;
	}
	h->nclin = (int)nc->i;
	*err = NULL;
	return 0;
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
