/*
 * auto.c - osteo-train --auto's plan: fingerprint, candidates, folds and
 * costs (auto.h).
 */
#include "auto.h"
#include "engine/spec/net.h"
#include "common/base/rng.h"
#include "common/base/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void
auto_fingerprint(struct fingerprint *f, const float *x, int n, int c, int h, int w, int k, const int32_t *y,
                 int classes, const uint64_t *pat)
{
	size_t px = (size_t)c * h * w;
	double s = 0, ss = 0;
	long lo = 0, hi = 0;

	memset(f, 0, sizeof *f);
	f->c = c;
	f->h = h;
	f->w = w;
	f->k = k;
	f->n = n;
	f->classes = classes;
	for (size_t i = 0; i < (size_t)n * px; i++) {
		s += x[i];
		ss += (double)x[i] * x[i];
	}
	f->mean = s / ((double)n * px);
	f->sd = sqrt(fmax(ss / ((double)n * px) - f->mean * f->mean, 0));
	for (int i = 0; i < n; i++)
		f->count[y[i]]++;
	for (int i = 0; i < classes; i++)
		if (f->count[i]) {
			lo = lo && lo < f->count[i] ? lo : f->count[i];
			hi = hi > f->count[i] ? hi : f->count[i];
		}
	f->imbalance = lo ? (double)hi / lo : 1;
	uint64_t *p = emalloc((size_t)n * sizeof *p);
	memcpy(p, pat, (size_t)n * sizeof *p);
	qsort(p, (size_t)n, sizeof *p, cmp_u64);
	for (int i = 0; i < n; i++)
		f->patients += i == 0 || p[i] != p[i - 1];
	free(p);
}

/* how many times the smaller side halves and stays at least 2 (at most 4):
 * the stages a network of 2x2 poolings can have */
static int
halvings(const struct fingerprint *f)
{
	int s = f->h < f->w ? f->h : f->w, p = 0;

	while (p < 4 && s / 2 >= 2) {
		s /= 2;
		p++;
	}
	return p;
}

static void
cat(char *s, size_t n, const char *fmt, int v)
{
	size_t at = strlen(s);

	snprintf(s + at, n - at, fmt, v);
}

/*
 * The networks, scaled to the image: as many stages as the smaller side
 * halves (up to 4), so an 8x8 image gets a network as a 256x256 one does.
 *   osteonet  make demo's: a conv (16, 32, 64, 64 filters) per stage, max
 *             pooling between, dense 64, dropout 0.3
 *   vgg       two convs per stage (w, 2w, 4w, 8w: w 32 up to 32x32, 16
 *             above), pooling between stages, global average pooling,
 *             dropout 0.3
 *   resnet    a conv stem (w) and a basic block per stage, the later ones
 *             halving the maps with a strided projection shortcut,
 *             global average pooling
 */
static void
arch_of(const char *family, const struct fingerprint *f, char *s, size_t n)
{
	static const int demo[4] = { 16, 32, 64, 64 };
	int p = halvings(f), stages = p + 1 < 4 ? p + 1 : 4, w = f->h * f->w <= 32 * 32 ? 32 : 16;

	s[0] = '\0';
	if (!strcmp(family, "osteonet")) {
		for (int i = 0; i < 4; i++) {
			cat(s, n, i ? ",conv:%d" : "conv:%d", demo[i]);
			if (i < p)
				cat(s, n, ",pool", 0);
		}
		cat(s, n, ",dense:%d,dropout:0.3", 64);
	} else if (!strcmp(family, "vgg")) {
		for (int i = 0; i < stages; i++) {
			cat(s, n, i ? ",conv:%d" : "conv:%d", w << i);
			cat(s, n, ",conv:%d", w << i);
			cat(s, n, i + 1 < stages ? ",pool" : ",gap", 0);
		}
		cat(s, n, ",dropout:0.%d", 3);
	} else {
		cat(s, n, "conv:%d", w);
		cat(s, n, ",conv:%d", w);
		cat(s, n, ",cbn:%d,add:-3", w);
		for (int i = 1; i < stages; i++) {
			cat(s, n, ",conv:%d:3:2", w << i);
			cat(s, n, ",cbn:%d", w << i);
			cat(s, n, ",route:-3,cbn:%d:1:2,add:-3", w << i);
		}
		cat(s, n, ",gap", 0);
	}
}

/* the first round's recipe: make demo's (Adam at 1e-3 falling along a
 * cosine, weight decay 0.02), epochs so that a small set still takes
 * about 20,000 steps' worth of images (10 to 40), class weights where one
 * class outnumbers another three to one */
static void
recipe(const struct fingerprint *f, struct candidate *c)
{
	int e = (int)lround(20000.0 / f->n);

	c->epochs = e < 10 ? 10 : e > 40 ? 40 : e;
	c->lr = 1e-3;
	c->wd = 0.02;
	c->class_weights = f->imbalance > 3;
}

int
auto_candidates(const struct fingerprint *f, struct candidate *out, int max)
{
	static const char *const families[] = { "osteonet", "vgg", "resnet" };
	int n = 0;

	for (size_t i = 0; i < sizeof families / sizeof *families && n < max; i++) {
		struct candidate *c = &out[n++];
		memset(c, 0, sizeof *c);
		snprintf(c->name, sizeof c->name, "%s", families[i]);
		arch_of(families[i], f, c->arch, sizeof c->arch);
		recipe(f, c);
	}
	return n;
}

int
auto_variants(const struct fingerprint *f, const struct candidate *w, struct candidate *out, int max)
{
	int n = 0;

	if (n < max) {
		out[n] = *w;
		out[n].lr = w->lr * 3;
		snprintf(out[n++].name, sizeof out->name, "%.20s lr*3", w->name);
	}
	if (n < max) {
		out[n] = *w;
		out[n].epochs = w->epochs * 2;
		snprintf(out[n++].name, sizeof out->name, "%.20s epochs*2", w->name);
	}
	if (n < max && f->imbalance > 1.5 && !w->class_weights) {
		out[n] = *w;
		out[n].class_weights = 1;
		snprintf(out[n++].name, sizeof out->name, "%.20s weighted", w->name);
	}
	return n;
}

struct pat {
	uint64_t id, key;
	int label, fold;
};

static int
by_id(const void *a, const void *b)
{
	const struct pat *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int
by_label_key(const void *a, const void *b)
{
	const struct pat *x = a, *y = b;

	if (x->label != y->label)
		return x->label < y->label ? -1 : 1;
	return x->key < y->key ? -1 : x->key > y->key ? 1 : x->id < y->id ? -1 : x->id > y->id;
}

int
auto_folds(const uint64_t *pat, const int32_t *y, int n, int want, uint64_t seed, int *fold)
{
	struct pat *p = emalloc((size_t)n * sizeof *p);
	int np = 0, k;

	/* a patient's class is its first record's; patients sorted by id */
	for (int i = 0; i < n; i++)
		p[i] = (struct pat){ pat[i], 0, y[i], 0 };
	/* (fold holds the record's index until the folds are dealt: qsort
	 * is not stable, and the patient's first record gives its class) */
	for (int i = 0; i < n; i++)
		p[i].fold = i;
	qsort(p, (size_t)n, sizeof *p, by_id);
	for (int i = 0; i < n; i++) {
		if (np && p[np - 1].id == p[i].id) {
			if (p[i].fold < p[np - 1].fold) {
				p[np - 1].fold = p[i].fold;
				p[np - 1].label = p[i].label;
			}
			continue;
		}
		p[np++] = p[i];
	}
	k = np < want ? np : want;
	/* within each class, patients in an order drawn from the seed dealt
	 * round the folds, each class starting where the last left off */
	for (int i = 0; i < np; i++)
		p[i].key = hash_str(seed ^ p[i].id, "fold");
	qsort(p, (size_t)np, sizeof *p, by_label_key);
	for (int i = 0; i < np; i++)
		p[i].fold = k > 0 ? i % k : 0;
	qsort(p, (size_t)np, sizeof *p, by_id);
	for (int i = 0; i < n; i++) {
		struct pat key = { .id = pat[i] }, *q = bsearch(&key, p, (size_t)np, sizeof *p, by_id);
		fold[i] = q->fold;
	}
	free(p);
	return k;
}

/*
 * Seconds per image of a training epoch: a multiply-add costs 1/RATE
 * (forward, backward to the data and to the weights: three times the
 * forward's) and each image a fixed PER_IMAGE besides (memory-bound
 * passes, staging, the optimiser's share).  Fitted on this machine (2
 * cores of an AMD EPYC, Zen 4, 2026-12-06) to the candidates' measured
 * training times on make demo's cohort and the real sets of bench/auto.sh;
 * osteo-train prints each candidate's measured time beside its plan.
 */
#define AUTO_RATE 80e9
#define AUTO_PER_IMAGE 40e-6

double
auto_cost(const char *arch, const struct fingerprint *f, int late, int epochs, long n)
{
	const char *err;
	struct net *net = net_new(arch, f->c, f->h, f->w, late ? 0 : f->k, f->classes, &err);
	double macs = 0;

	if (!net)
		return INFINITY;
	for (int i = 0; i < net->nlayers; i++) {
		const struct layer *l = &net->l[i];
		if (l->type == L_CONV || l->type == L_CBN)
			macs += (double)l->oc * l->oh * l->ow * l->ic * l->k * l->k;
		else if (l->type == L_DENSE || l->type == L_CLASSIFIER)
			macs += (double)l->oc * l->ic;
	}
	net_free(net);
	return (double)epochs * n * (3 * macs / AUTO_RATE + AUTO_PER_IMAGE);
}
