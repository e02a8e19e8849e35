/*
 * trainstate.c - checkpoints: a model file with the optimiser's moments
 * and the training state in its meta ("train.*") and tensors ("best.*").
 */
#include "trainstate.h"
#include "common/base/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void
trainstate_init(struct trainstate *st, const struct net *n, double lr, unsigned long long seed)
{
	memset(st, 0, sizeof *st);
	st->lr = lr;
	st->best = INFINITY;
	st->seed = seed;
	st->precision = "fp32";
	st->best_params = emalloc(n->nparams * sizeof(float));
	st->best_stats = emalloc((n->nstats ? n->nstats : 1) * sizeof(float));
	trainstate_keep(st, n);
}

void
trainstate_keep(struct trainstate *st, const struct net *n)
{
	memcpy(st->best_params, n->params, n->nparams * sizeof(float));
	memcpy(st->best_stats, n->stats, n->nstats * sizeof(float));
}

void
trainstate_restore(const struct trainstate *st, struct net *n)
{
	memcpy(n->params, st->best_params, n->nparams * sizeof(float));
	memcpy(n->stats, st->best_stats, n->nstats * sizeof(float));
}

void
checkpoint_save(const char *path, const struct model *m, const struct trainstate *st)
{
	struct record extra;
	const char *err;
	uint32_t s1[1] = { (uint32_t)m->net->nparams }, s2[1] = { (uint32_t)m->net->nstats };

	rec_init(&extra);
	rec_meta_int(&extra, "train.epoch", st->epoch);
	rec_meta_int(&extra, "train.step", st->step);
	rec_meta_float(&extra, "train.lr", st->lr);
	rec_meta_float(&extra, "train.best", st->best);
	rec_meta_int(&extra, "train.best_epoch", st->best_epoch);
	rec_meta_int(&extra, "train.bad", st->bad);
	rec_meta_int(&extra, "train.plateau_bad", st->plateau_bad);
	rec_meta_int(&extra, "train.seed", (long long)st->seed);
	rec_meta_str(&extra, "train.precision", st->precision);
	memcpy(rec_tensor_put(&extra, "best.params", DT_F32, 1, s1, &err)->data, st->best_params,
	       m->net->nparams * sizeof(float));
	/* a network without conv layers has no statistics: a 0-element tensor */
	memcpy(rec_tensor_put(&extra, "best.stats", DT_F32, 1, s2, &err)->data, st->best_stats,
	       m->net->nstats * sizeof(float));
	model_save(path, m, &extra, 1);
	rec_free(&extra);
}

static long long
ck_int(const char *path, const struct record *r, const char *key)
{
	const struct metaval *v = rec_meta(r, key);

	if (!v || v->type != MV_INT)
		die(EX_DATAERR, "%s: not a checkpoint (no %s)", path, key);
	return v->i;
}

static double
ck_float(const char *path, const struct record *r, const char *key)
{
	const struct metaval *v = rec_meta(r, key);

	if (!v || v->type != MV_FLOAT)
		die(EX_DATAERR, "%s: not a checkpoint (no %s)", path, key);
	return v->f;
}

void
checkpoint_resume(const char *path, struct model *m, struct trainstate *st)
{
	struct record r;
	struct model cm;
	const char *err;
	const struct net *n = m->net;

	rec_init(&r);
	if (model_load(path, &cm, &r, &err) < 0)
		die(EX_DATAERR, "%s: %s", path, err);
	if ((unsigned long long)ck_int(path, &r, "train.seed") != st->seed || strcmp(cm.arch, m->arch) ||
	    cm.net->nparams != n->nparams || cm.net->c != n->c || cm.net->h != n->h || cm.net->w != n->w ||
	    cm.net->nclin != n->nclin)
		die(EX_DATAERR, "%s: made with another seed, architecture or input shape", path);
	memcpy(n->params, cm.net->params, n->nparams * sizeof(float));
	memcpy(n->stats, cm.net->stats, n->nstats * sizeof(float));
	memcpy(n->m, cm.net->m, n->nparams * sizeof(float));
	memcpy(n->v, cm.net->v, n->nparams * sizeof(float));
	/* its precision, for the caller to compare once the engine is open
	 * (a checkpoint from before --precision was float32) */
	const char *prec = rec_meta_s(&r, "train.precision");
	st->precision = prec && !strcmp(prec, "bf16") ? "bf16" : "fp32";
	st->epoch = (int)ck_int(path, &r, "train.epoch");
	st->step = (int)ck_int(path, &r, "train.step");
	st->lr = ck_float(path, &r, "train.lr");
	st->best = ck_float(path, &r, "train.best");
	st->best_epoch = (int)ck_int(path, &r, "train.best_epoch");
	st->bad = (int)ck_int(path, &r, "train.bad");
	st->plateau_bad = (int)ck_int(path, &r, "train.plateau_bad");
	const struct tensor *bp = rec_tensor(&r, "best.params"), *bs = rec_tensor(&r, "best.stats");
	if (!bp || bp->dtype != DT_F32 || bp->nbytes != n->nparams * sizeof(float) ||
	    !bs || bs->dtype != DT_F32 || bs->nbytes != n->nstats * sizeof(float))
		die(EX_DATAERR, "%s: no best weights", path);
	memcpy(st->best_params, bp->data, bp->nbytes);
	memcpy(st->best_stats, bs->data, n->nstats * sizeof(float));
	free(m->hist);
	m->hist = cm.hist;
	m->nhist = cm.nhist;
	cm.hist = NULL;
	model_free(&cm);
	rec_free(&r);
}

char *
model_arch_of(const char *path)
{
	struct record r;
	struct model m;
	const char *err;

	rec_init(&r);
	if (model_load(path, &m, &r, &err) < 0)
		die(EX_DATAERR, "%s: %s", path, err);
	char *arch = estrdup(m.arch);
	model_free(&m);
	rec_free(&r);
	return arch;
}

int
model_init_from(const char *path, struct net *n)
{
	struct record r;
	struct model src;
	const char *err;
	int copied = 0;

	rec_init(&r);
	if (model_load(path, &src, &r, &err) < 0)
		die(EX_DATAERR, "%s: %s", path, err);
	/* a layer is copied whole when every tensor of it has its twin,
	 * by name and shape, in the other model */
	for (int i = 0; i < n->nlayers && i < src.net->nlayers; i++) {
		int want = 0, have = 0;
		if (n->l[i].type != src.net->l[i].type)
			continue;
		for (int k = 0; k < n->ntensors; k++) {
			const struct ptensor *a = &n->pt[k];
			if (a->layer != i)
				continue;
			want++;
			for (int q = 0; q < src.net->ntensors; q++) {
				const struct ptensor *b = &src.net->pt[q];
				if (!strcmp(a->name, b->name) && a->ndim == b->ndim &&
				    !memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof *a->shape))
					have++;
			}
		}
		if (!want || want != have)
			continue;
		for (int k = 0; k < n->ntensors; k++)
			for (int q = 0; q < src.net->ntensors; q++)
				if (n->pt[k].layer == i && !strcmp(n->pt[k].name, src.net->pt[q].name))
					memcpy(ptensor_data(n, &n->pt[k]), ptensor_data(src.net, &src.net->pt[q]),
					       n->pt[k].count * sizeof(float));
		copied++;
	}
	model_free(&src);
	rec_free(&r);
	return copied;
}
