/*
 * contract.c - the keys of contract.h, written one way and read one way.
 */
#include "contract.h"
#include "common/base/util.h"

#include <stdarg.h>
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
	p->chain = rec_meta_s(r, KEY_PREP_CHAIN);
	p->splits = rec_meta_s(r, KEY_MODEL_SPLITS);
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
	if (*p->chain)
		rec_meta_str(r, KEY_PREP_CHAIN, p->chain);
	if (p->splits && *p->splits)
		rec_meta_str(r, KEY_MODEL_SPLITS, p->splits);
}

void
prep_dup(struct prep *dst, const struct prep *src)
{
	dst->size = estrdup(src->size);
	dst->method = estrdup(src->method);
	dst->stats = estrdup(src->stats);
	dst->features = estrdup(src->features);
	dst->encoding = estrdup(src->encoding);
	dst->chain = estrdup(src->chain ? src->chain : "");
	dst->splits = estrdup(src->splits ? src->splits : "");
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
	free((char *)p->chain);
	free((char *)p->splits);
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

/* ---------------------------------------------------------------- */
/* splits */

/* does set hold a line "id of" (either NULL: any)? */
static int
has_split(const char *set, const char *id, const char *of)
{
	size_t il = id ? strlen(id) : 0, ol = of ? strlen(of) : 0;

	for (const char *l = set; l && *l;) {
		const char *sp = strchr(l, ' '), *nl = strchr(l, '\n');
		if (!nl)
			nl = l + strlen(l);
		if (sp && sp < nl && (!id || ((size_t)(sp - l) == il && !strncmp(l, id, il))) &&
		    (!of || ((size_t)(nl - sp - 1) == ol && !strncmp(sp + 1, of, ol))))
			return 1;
		l = *nl ? nl + 1 : nl;
	}
	return 0;
}

void
splits_add(struct text *set, const struct record *r)
{
	const char *id = rec_meta_s(r, KEY_SPLIT_ID), *of = rec_meta_s(r, KEY_SPLIT_OF);

	if (*id && !has_split(set->s, id, NULL))
		text_add(set, "%s %s\n", id, of);
}

int
split_check(const struct record *r, const char *set, int strict, char *why, size_t n)
{
	const char *id = rec_meta_s(r, KEY_SPLIT_ID), *of = rec_meta_s(r, KEY_SPLIT_OF);

	if (!*id || !set || !*set || has_split(set, id, NULL))
		return 0;
	if (*of && has_split(set, NULL, of)) {
		snprintf(why, n, "it went through osteo-split run %s, the training records through another run "
		         "on the same records, so a patient may be in both (a run killed between its renames, "
		         "or an older file beside newer ones): split again", id);
		return -1;
	}
	if (strict) {
		snprintf(why, n, "it went through osteo-split run %s, which none of the training records went "
		         "through: a train/val/test set is one run's three files", id);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* the preparation chain */

static void
put_escaped(struct text *b, const char *v)
{
	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;
		if (c <= ' ' || c == ';' || c == '=' || c == '%' || c == 127)
			text_add(b, "%%%02X", c);
		else
			text_add(b, "%c", c);
	}
}

void
prep_step(struct record *r, const char *name, ...)
{
	struct text b = { 0 };
	const char *old = rec_meta_s(r, KEY_PREP_CHAIN), *k;
	va_list ap;

	text_add(&b, "%s%s%s", old, *old ? "; " : "", name);
	va_start(ap, name);
	while ((k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);
		if (!v)
			continue;
		text_add(&b, " %s=", k);
		put_escaped(&b, v);
	}
	va_end(ap);
	rec_meta_str(r, KEY_PREP_CHAIN, b.s);
	free(b.s);
}

/* the steps of a chain (a copy of it, cut in place), augment's left out */
struct steps {
	char *buf;
	char **step;
	int n;
};

static void
steps_split(struct steps *s, const char *chain, size_t len)
{
	s->buf = emalloc(len + 1);
	memcpy(s->buf, chain, len);
	s->buf[len] = '\0';
	s->step = emalloc((len / 2 + 2) * sizeof *s->step);
	s->n = 0;
	for (char *p = s->buf, *e; *p; p = e) {
		e = strstr(p, "; ");
		if (e) {
			*e = '\0';
			e += 2;
		} else
			e = p + strlen(p);
		if (strcmp(p, "augment") && strncmp(p, "augment ", 8))
			s->step[s->n++] = p;
	}
}

static void
steps_free(struct steps *s)
{
	free(s->buf);
	free(s->step);
}

char *
prep_chain_core(const char *chain)
{
	struct steps s;
	struct text b = { 0 };

	steps_split(&s, chain, strlen(chain));
	text_add(&b, "%s", "");
	for (int i = 0; i < s.n; i++)
		text_add(&b, "%s%s", i ? "; " : "", s.step[i]);
	steps_free(&s);
	return b.s;
}

/* a step's value of key (NULL when it has none), unescaped into buf */
static const char *
step_value(const char *step, const char *key, char *buf, size_t n)
{
	size_t kl = strlen(key);

	for (const char *p = strchr(step, ' '); p; p = strchr(p + 1, ' ')) {
		if (strncmp(p + 1, key, kl) || p[1 + kl] != '=')
			continue;
		size_t j = 0;
		for (const char *v = p + 2 + kl; *v && *v != ' ' && j + 1 < n; v++) {
			unsigned x;
			if (*v == '%' && sscanf(v + 1, "%2x", &x) == 1) {
				buf[j++] = (char)x;
				v += 2;
			} else
				buf[j++] = *v;
		}
		buf[j] = '\0';
		return buf;
	}
	return NULL;
}

/* a step's name into buf */
static const char *
step_name(const char *step, char *buf, size_t n)
{
	snprintf(buf, n, "%.*s", (int)strcspn(step, " "), step);
	return buf;
}

/* why steps a differ from b (the model's), at the first step that does */
static void
steps_why(const struct steps *a, const struct steps *b, char *why, size_t n)
{
	char na[64], nb[64];
	int i = 0;

	while (i < a->n && i < b->n && !strcmp(a->step[i], b->step[i]))
		i++;
	if (i >= a->n) {
		snprintf(why, n, "it has no step %d; the training records' is '%s'", i + 1, b->step[i]);
		return;
	}
	if (i >= b->n) {
		snprintf(why, n, "its step %d '%s' is one the training records did not have", i + 1, a->step[i]);
		return;
	}
	step_name(a->step[i], na, sizeof na);
	step_name(b->step[i], nb, sizeof nb);
	if (strcmp(na, nb)) {
		snprintf(why, n, "its step %d is %s; the training records' is %s ('%s')", i + 1, na, nb, b->step[i]);
		return;
	}
	/* the first key whose values differ, the record's keys first */
	for (int pass = 0; pass < 2; pass++) {
		const char *s = pass ? b->step[i] : a->step[i];
		for (const char *p = strchr(s, ' '); p; p = strchr(p + 1, ' ')) {
			char key[64], va[512], vb[512];
			size_t kl = strcspn(p + 1, "= ");
			snprintf(key, sizeof key, "%.*s", (int)kl, p + 1);
			const char *x = step_value(a->step[i], key, va, sizeof va);
			const char *y = step_value(b->step[i], key, vb, sizeof vb);
			if (!x || !y || strcmp(x, y)) {
				snprintf(why, n, "step %d (%s): %s is %s; the training records had %s", i + 1, na, key,
				         x ? x : "(none)", y ? y : "(none)");
				return;
			}
		}
	}
	snprintf(why, n, "step %d (%s) '%s'; the training records' is '%s'", i + 1, na, a->step[i], b->step[i]);
}

int
prep_chain_check(const char *chain, const char *chains, char *why, size_t n)
{
	struct steps a, best = { 0 };
	int bestlen = -1, found = 0;

	steps_split(&a, chain, strlen(chain));
	for (const char *line = chains; !found; line += strcspn(line, "\n") + 1) {
		struct steps b;
		steps_split(&b, line, strcspn(line, "\n"));
		int same = 0;
		while (same < a.n && same < b.n && !strcmp(a.step[same], b.step[same]))
			same++;
		found = same == a.n && same == b.n;
		if (!found && same > bestlen) {
			steps_free(&best);
			best = b;
			bestlen = same;
		} else
			steps_free(&b);
		if (!line[strcspn(line, "\n")])
			break;
	}
	if (!found)
		steps_why(&a, &best, why, n);
	steps_free(&a);
	steps_free(&best);
	return found ? 0 : -1;
}

int
prep_chains_add(struct text *set, const char *chain, char *why, size_t n)
{
	char *core = prep_chain_core(chain);
	int lines = 0, st = 0;

	for (const char *p = set->s; p && *p; p += strcspn(p, "\n") + !!p[strcspn(p, "\n")])
		lines++;
	if (lines && !prep_chain_check(core, set->s, why, n)) {
		free(core);
		return 0;
	}
	/* after the decode step, this chain and the first alike */
	char *line = lines ? strndup(set->s, strcspn(set->s, "\n")) : NULL;
	const char *rest = strstr(core, "; "), *first = line ? strstr(line, "; ") : NULL;
	if (line && (!rest != !first || (rest && strcmp(rest, first)))) {
		prep_chain_check(core, line, why, n);
		st = -1;
	} else if (lines == 16) {
		snprintf(why, n, "a 17th way of decoding (bit depths and channels): '%s'", core);
		st = -1;
	} else
		text_add(set, "%s%s", lines ? "\n" : "", core);
	free(line);
	free(core);
	return st;
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
