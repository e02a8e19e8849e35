/*
 * osteo-train - train the OsteoNet CNN, with its clinical fusion layer, on
 * a record stream; write the model.
 *
 * The training set is decoded once into memory as f32.  Each epoch visits
 * it in an order drawn from --seed and the epoch's number, and dropout in
 * each batch draws from --seed, the epoch and the batch, so a run resumed
 * from a checkpoint takes exactly the steps the uninterrupted run takes.
 * Adam, reduce-on-plateau, early stopping on validation loss with the best
 * epoch's weights kept.  Files are written atomically.
 */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/record/classes.h"
#include "common/record/contract.h"
#include "engine/dist.h"
#include "engine/engine.h"
#include "common/image/imgops.h"
#include "common/record/input.h"
#include "common/eval/metrics.h"
#include "common/model/auto.h"
#include "common/model/model.h"
#include "engine/spec/net.h"
#include "common/record/record.h"
#include "common/base/rng.h"
#include "common/model/trainopts.h"
#include "common/model/trainstate.h"
#include "common/base/util.h"
#include "common/record/cli.h"
#include "gpu/gpu.h"


struct data {
	int n, c, h, w, k;
	int classes;             /* the model's */
	float *x, *clin;
	int32_t *y;
	uint64_t *pat;           /* each record's patient (its id where it names none), hashed: --auto's folds */
	struct prep prep;        /* the first record's, with every record's chain (contract.h) */
	struct text chains;      /* the chains seen (augment steps aside), one per line */
	struct text splits;      /* the osteo-split runs seen (contract.h's splits_add) */
};


/* ---------------------------------------------------------------- */
/* data */

/* a record prepared otherwise than the first (`cat a.rec b.rec` of two
 * normalisations) would train a model that fits neither: refuse it */
static void
same_preparation(struct input *in, const struct record *r, const struct data *d)
{
	struct prep p;
	const char *mine, *first, *key;

	prep_read(r, &p);
	if ((key = prep_differs(&p, &d->prep, 1, &mine, &first)))
		input_die(in, r, "%s '%s'; the first record's is '%s': prepare all training records alike", key, mine,
		          first);
}

/* r's preparation chain and split kept among the training set's
 * (contract.h's prep_chains_add, splits_add); want: the training set's,
 * which every record of the validation set must have one of (unless
 * --no-check) */
static void
keep_chain(struct input *in, const struct record *r, struct data *d, const struct prep *want, int check)
{
	const char *chain = rec_meta_s(r, KEY_PREP_CHAIN);
	char why[1024];

	if (!want) {
		if (prep_chains_add(&d->chains, chain, why, sizeof why) < 0)
			input_die(in, r, "prepared otherwise than the first record: %s", why);
		splits_add(&d->splits, r);
		return;
	}
	if (!check)
		return;
	if (prep_chain_check(chain, want->chain, why, sizeof why) < 0)
		input_die(in, r, "prepared otherwise than the training records: %s (or --no-check)", why);
	if (split_check(r, want->splits, 1, why, sizeof why) < 0)
		input_die(in, r, "%s (or --no-check)", why);
}

/* the whole stream as f32, checked record by record; want: as keep_chain's.
 * Labels are held to cl, by name too when named (the names came from the
 * training records), else noted in seen to become the classes */
static void
load(struct data *d, char **paths, int npaths, const struct classes *cl, int named, struct classes *seen,
     const char *what, const struct prep *want, int check)
{
	const char *err;
	struct input in;
	struct record r;
	size_t cap = 0, ccap = 0, ycap = 0, pcap = 0;

	memset(d, 0, sizeof *d);
	input_open(&in, paths, npaths);
	input_unique_ids(&in);
	rec_init(&r);
	while (input_read(&in, &r)) {
		struct tensor *t = rec_tensor(&r, TENSOR_IMAGE), *c = rec_tensor(&r, TENSOR_CLINICAL);
		if (!t || t->ndim != 3)
			input_die(&in, &r, "no 'image' tensor [C,H,W]");
		if (!r.has_label)
			input_die(&in, &r, "no label: training needs one on every record");
		if (seen) {
			if (r.label < 0 || r.label >= MAXCLASSES)
				input_die(&in, &r, "label %lld is out of range", r.label);
			if (classes_see(seen, r.label, rec_meta_s(&r, KEY_PROV_CLASS), &err) < 0)
				input_die(&in, &r, "%s", err);
		} else if (classes_agree(cl, r.label, named ? rec_meta_s(&r, KEY_PROV_CLASS) : NULL, &err) < 0)
			input_die(&in, &r, "%s (--classes)", err);
		int k = c ? (int)tensor_elems(c) : 0;
		if (d->n == 0) {
			d->c = (int)t->shape[0];
			d->h = (int)t->shape[1];
			d->w = (int)t->shape[2];
			d->k = k;
			struct prep p;
			prep_read(&r, &p);
			prep_dup(&d->prep, &p);
		} else if ((int)t->shape[0] != d->c || (int)t->shape[1] != d->h || (int)t->shape[2] != d->w)
			input_die(&in, &r, "image %ux%ux%u differs from the first record's %dx%dx%d",
			          t->shape[0], t->shape[1], t->shape[2], d->c, d->h, d->w);
		if (k != d->k)
			input_die(&in, &r, "%d clinical features; the first record has %d", k, d->k);
		if (d->n > 0)
			same_preparation(&in, &r, d);
		keep_chain(&in, &r, d, want, check);
		size_t px = (size_t)d->c * d->h * d->w;
		input_hold(&in, &r, (size_t)d->n + 1);
		egrow((void **)&d->x, &cap, (d->n + 1) * px * sizeof(float));
		float *x = d->x + (size_t)d->n * px;
		tensor_to_float(t, x);
		if (!floats_finite(x, px))
			input_die(&in, &r, "the image has NaN or infinite values");
		if (k) {
			egrow((void **)&d->clin, &ccap, (size_t)(d->n + 1) * k * sizeof(float));
			tensor_to_float(c, d->clin + (size_t)d->n * k);
			if (!floats_finite(d->clin + (size_t)d->n * k, (size_t)k))
				input_die(&in, &r, "'clinical' has NaN or infinite values");
		}
		egrow((void **)&d->y, &ycap, (d->n + 1) * sizeof(int32_t));
		egrow((void **)&d->pat, &pcap, (d->n + 1) * sizeof(uint64_t));
		d->pat[d->n] = hash_str(0, r.has_patient ? r.patient : r.id);
		d->y[d->n++] = (int32_t)r.label;
	}
	input_close(&in);
	rec_free(&r);
	if (d->n == 0)
		die(EX_DATAERR, "%s (%s): no records", what, input_names(&in));
	free((char *)d->prep.chain);
	d->prep.chain = estrdup(d->chains.s ? d->chains.s : "");
	free(d->chains.s);
	d->chains = (struct text){ 0 };
	free((char *)d->prep.splits);
	d->prep.splits = estrdup(d->splits.s ? d->splits.s : "");
	free(d->splits.s);
	d->splits = (struct text){ 0 };
	info("%s: %d records of %dx%dx%d with %d clinical features, %.1f MiB as f32", what, d->n, d->c,
	     d->h, d->w, d->k, ((double)d->n * d->c * d->h * d->w + (double)d->n * d->k) * 4 / 1048576);
}

/* --class-weights for the loss */
static void
weights_for(const struct train_opts *o, const struct data *d, int nclasses, float *w)
{
	long cnt[MAXCLASSES] = { 0 };
	double v[MAXCLASSES];

	for (int i = 0; i < d->n; i++)
		cnt[d->y[i]]++;
	class_weights(o->weights, cnt, nclasses, v);
	for (int k = 0; k < nclasses; k++)
		w[k] = (float)v[k];
}

/* ---------------------------------------------------------------- */
/* one pass */

struct pass {
	double loss;
	int right;
};

/* SIGINT, SIGTERM or SIGHUP: stop after the batch in hand; the checkpoint
 * of the last finished epoch is on disk, and --resume goes on from it
 * exactly */
static volatile sig_atomic_t stop_signal;
/* this process's rank (--mpi): the others keep quiet but for errors */
static int rank;

static void
on_signal(int sig)
{
	stop_signal = sig;
}

/* the right answers in the batch just forwarded */
static int
right(struct engine *e, int b, int k)
{
	const float *p = engine_probs(e);
	const int32_t *y = engine_labels(e);
	double q[MAXCLASSES];
	int r = 0;

	for (int j = 0; j < b; j++) {
		for (int c = 0; c < k; c++)
			q[c] = p[(size_t)j * k + c];
		r += class_argmax(q, k) == y[j];
	}
	return r;
}

/* one of the sums a --micro-batch step exchanges (dist_sum): the
 * gradients or the running statistics, n values in segments (one per
 * tensor, each its own fixed-point scale) */
struct sum {
	float *live;             /* the network's: the last part, and the sum */
	size_t n, *seg;
	int nseg;
	float *copies;           /* (per - 1, n): the rank's earlier micro-batches' */
	const float **part;      /* (per) */
	double *factor;          /* (per) */
};

/* --micro-batch and --mpi (dist.h): the ranks, and what a step keeps */
struct micro {
	struct dist d;
	struct net *net;
	int size;                /* --micro-batch */
	int per;                 /* micro-batches a rank computes in a step, at most */
	struct sum grads, stats;
	float *stats0;           /* the running statistics the step began with */
	double *slot;            /* per micro-batch of a step, or batch of an evaluation */
	size_t slotcap;
};

/* rows: 0..n-1.  With ranks, each evaluates every size-th batch and the
 * sums are exchanged slot by slot: inference does not depend on the
 * batch, so the figures are the one process's */
static struct pass
evaluate(struct engine *e, int set, const struct data *d, int batch, const int *rows, struct micro *mb)
{
	struct pass p = { 0 };
	int nb = (d->n + batch - 1) / batch, size = mb ? mb->d.size : 1;
	double *slot = NULL;

	if (size > 1) {
		egrow((void **)&mb->slot, &mb->slotcap, (size_t)nb * 2 * sizeof *mb->slot);
		slot = mb->slot;
		memset(slot, 0, (size_t)nb * 2 * sizeof *slot);
	}
	for (int q = mb ? mb->d.rank : 0; q < nb; q += size) {
		int s = q * batch, b = d->n - s < batch ? d->n - s : batch;
		engine_stage(e, set, rows + s, b);
		engine_forward(e, 0, NULL);
		double loss = (double)engine_loss(e, NULL) * b;
		int r = right(e, b, d->classes);
		if (slot) {
			slot[2 * q] = loss;
			slot[2 * q + 1] = r;
		} else {
			p.loss += loss;
			p.right += r;
		}
	}
	if (slot) {
		dist_slots(slot, (size_t)nb * 2);
		for (int q = 0; q < nb; q++) {
			p.loss += slot[2 * q];
			p.right += (int)slot[2 * q + 1];
		}
	}
	p.loss /= d->n;
	return p;
}

/* after a step that a signal ended: the checkpoint of the last finished
 * epoch stays */
static void
stopped(const struct train_opts *o, const struct trainstate *st, int sig)
{
	if (o->progress)
		fputc('\n', stderr);
	if (o->autotune)
		warn("stopped by signal %d: --auto writes no model", sig);
	else if (rank == 0)
		warn("stopped by signal %d in epoch %d; resume with --resume (after epoch %d)", sig, st->epoch + 1,
		     st->epoch);
	dist_end();
	quit(128 + sig);
}

/* this epoch's order: from the seed and the epoch alone */
static void
shuffle(int *order, int n, unsigned long long seed, int epoch)
{
	struct rng g;
	char key[64];

	snprintf(key, sizeof key, "shuffle:%d", epoch);
	rng_seed(&g, seed, key);
	for (int i = 0; i < n; i++)
		order[i] = i;
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(rng_u64(&g) % (uint64_t)(i + 1)), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
}

/* the rank's k-th micro-batch's values, weighed by factor; the last
 * stays where the engine left it */
static void
sum_keep(struct sum *u, int k, int last, double factor)
{
	u->factor[k] = factor;
	u->part[k] = u->live;
	if (!last) {
		memcpy(u->copies + (size_t)k * u->n, u->live, u->n * sizeof(float));
		u->part[k] = u->copies + (size_t)k * u->n;
	}
}

/* the sum of every rank's nparts kept parts (total in all) into the
 * network's buffer (dist_sum); -1 when a value is not finite */
static int
sum_exchange(struct sum *u, int nparts, int total, int *flag)
{
	if (!u->n)
		return 0;
	return dist_sum(u->live, u->part, u->factor, nparts, total, u->n, u->seg, u->nseg, flag);
}

/*
 * One step of --micro-batch: the batch order[0..b) cut into micro-batches
 * of mb->size, this rank's share of them computed one by one (each from
 * the step's starting statistics, with dropout from its own key), then
 * everything summed exactly over the ranks (dist_sum): the gradients
 * weighted as the whole batch's mean loss weighs each micro-batch, the
 * running statistics averaged.  The result does not depend on how many
 * ranks share the micro-batches.  Returns the batch's mean loss; *r its
 * right answers; *stop a signal any rank had caught by then (every rank
 * stops after the same step, or the others would wait for it forever).
 */
static float
micro_step(struct engine *e, int set, const struct data *d, const struct train_opts *o, struct trainstate *st,
           const float *w, const int *order, int b, int bi, struct micro *mb, int *r, int *stop)
{
	int m = (b + mb->size - 1) / mb->size, P = mb->d.size;
	int lo = (int)((long)mb->d.rank * m / P), hi = (int)((long)(mb->d.rank + 1) * m / P);
	double W = 0, loss = 0;
	struct rng g;
	char key[64];

	for (int j = 0; j < b; j++)
		W += w ? w[d->y[order[j]]] : 1;
	memset(mb->slot, 0, (size_t)m * 2 * sizeof *mb->slot);
	for (int i = lo; i < hi; i++) {
		int s = i * mb->size, c = b - s < mb->size ? b - s : mb->size, k = i - lo;
		double Wi = 0;
		for (int j = s; j < s + c; j++)
			Wi += w ? w[d->y[order[j]]] : 1;
		memcpy(mb->net->stats, mb->stats0, mb->net->nstats * sizeof(float));
		engine_stage(e, set, order + s, c);
		/* (a batch that is one micro-batch draws as a whole batch does) */
		if (m == 1)
			snprintf(key, sizeof key, "dropout:%d:%d", st->epoch + 1, bi);
		else
			snprintf(key, sizeof key, "dropout:%d:%d:%d", st->epoch + 1, bi, i);
		rng_seed(&g, o->seed, key);
		engine_forward(e, 1, &g);
		mb->slot[2 * i] = (double)engine_loss(e, w) * Wi;
		mb->slot[2 * i + 1] = right(e, c, d->classes);
		engine_backward(e, w);
		sum_keep(&mb->grads, k, i == hi - 1, W > 0 ? Wi / W : 0);
		sum_keep(&mb->stats, k, i == hi - 1, 1.0 / m);
	}
	int flag = (int)stop_signal;
	if (sum_exchange(&mb->grads, hi - lo, m, &flag) < 0)
		die(EX_DATAERR, "epoch %d, step %d: the gradients are not finite (a lower --lr?)", st->epoch + 1, bi + 1);
	if (sum_exchange(&mb->stats, hi - lo, m, NULL) < 0)
		die(EX_DATAERR, "epoch %d, step %d: the batch norm statistics are not finite", st->epoch + 1, bi + 1);
	memcpy(mb->stats0, mb->net->stats, mb->net->nstats * sizeof(float));
	dist_slots(mb->slot, (size_t)m * 2);
	*r = 0;
	for (int i = 0; i < m; i++) {
		loss += mb->slot[2 * i];
		*r += (int)mb->slot[2 * i + 1];
	}
	*stop = flag;
	return W > 0 ? (float)(loss / W) : 0;
}

/* one step on the whole batch order[s..s+b), the next one staged
 * meanwhile; as micro_step */
static float
whole_step(struct engine *e, int set, const struct data *d, const struct train_opts *o, struct trainstate *st,
           const float *w, const int *order, int s, int b, int bi, int *r, int *stop)
{
	struct rng g;
	char key[64];
	int s2 = s + o->batch;

	snprintf(key, sizeof key, "dropout:%d:%d", st->epoch + 1, bi);
	rng_seed(&g, o->seed, key);
	engine_forward(e, 1, &g);
	/* the next batch's copy overlaps this step on a GPU */
	if (s2 < d->n)
		engine_stage(e, set, order + s2, d->n - s2 < o->batch ? d->n - s2 : o->batch);
	float loss = engine_loss(e, w);
	*r = right(e, b, d->classes);
	engine_backward(e, w);
	*stop = (int)stop_signal;
	return loss;
}

static struct pass
train_epoch(struct engine *e, int set, const struct data *d, const struct train_opts *o, struct trainstate *st,
            const float *w, int *order, struct micro *mb)
{
	struct pass p = { 0 };
	int nb = (d->n + o->batch - 1) / o->batch;

	shuffle(order, d->n, o->seed, st->epoch + 1);
	if (mb)
		memcpy(mb->stats0, mb->net->stats, mb->net->nstats * sizeof(float));
	else
		engine_stage(e, set, order, d->n < o->batch ? d->n : o->batch);
	for (int bi = 0; bi < nb; bi++) {
		int s = bi * o->batch, b = d->n - s < o->batch ? d->n - s : o->batch, r, stop;
		float loss = mb ? micro_step(e, set, d, o, st, w, order + s, b, bi, mb, &r, &stop)
		                : whole_step(e, set, d, o, st, w, order, s, b, bi, &r, &stop);
		if (o->cosine)
			st->lr = o->lr * 0.5 * (1 + cos(M_PI * st->step / ((double)o->epochs * nb)));
		engine_adam(e, (float)st->lr, (float)o->beta1, (float)o->beta2, (float)o->eps, (float)o->wd, ++st->step);
		if (stop)
			stopped(o, st, stop);
		p.loss += loss * b;
		p.right += r;
		if (o->progress)
			fprintf(stderr, "\r%s: epoch %d [%d/%d] loss %.4f", argv0, st->epoch + 1, bi + 1, nb, loss);
	}
	if (o->progress)
		fputc('\r', stderr);
	p.loss /= d->n;
	return p;
}

/*
 * After training, on the validation records: --fusion late fits the
 * regression that joins their clinical values to the kept network's
 * answers (fusion.h); --calibrate then fits the temperature that makes the
 * model's answers honest there (temperature scaling: one number, so the
 * calls and their order stay as they are).
 */
static void
fit_on_val(struct model *m, const struct train_opts *o, int dev, const struct data *va, const int *rows,
           double *ans)
{
	struct net *n = m->net;
	struct engine *e = engine_open(n, dev, o->batch, 0);
	int set = engine_dataset(e, va->x, va->clin, va->y, va->n, 1), k = n->nclasses;
	double *p = emalloc((size_t)va->n * k * sizeof *p);
	struct samples s;

	for (int i = 0; i < va->n; i += o->batch) {
		int b = va->n - i < o->batch ? va->n - i : o->batch;
		engine_stage(e, set, rows + i, b);
		engine_forward(e, 0, NULL);
		const float *q = engine_probs(e);
		for (size_t j = 0; j < (size_t)b * k; j++)
			p[(size_t)i * k + j] = q[j];
	}
	engine_close(e);
	/* (ans: the network's answers, to be the model's once it is fitted) */
	if (ans)
		memcpy(ans, p, (size_t)va->n * k * sizeof *p);
	if (o->late) {
		if (fusion_fit(&m->fusion, k, va->k, p, va->clin, va->y, (size_t)va->n, FUSION_L2) < 0)
			die(EX_DATAERR, "%s: late fusion did not converge on the validation records", o->val);
		if (!ans)
			info("late fusion of %d clinical values fitted on %d validation records", va->k, va->n);
	}
	if (o->calibrate) {
		samples_init(&s, k);
		for (int i = 0; i < va->n; i++) {
			double *pi = p + (size_t)i * k;
			model_answer(m, pi, va->k ? va->clin + (size_t)i * va->k : NULL, 0);
			samples_add(&s, va->y[i], pi, (size_t)i);
		}
		m->temperature = metrics_temperature(&s);
		samples_free(&s);
		if (ans == NULL)
			info("calibrated on %d validation records: temperature %.4f", va->n, m->temperature);
	}
	if (ans)
		for (int i = 0; i < va->n; i++)
			model_answer(m, ans + (size_t)i * k, va->k ? va->clin + (size_t)i * va->k : NULL, 1);
	free(p);
}

static void
describe_line(const char *s)
{
	info("%s", s);
}

/* a run: the model being trained, its data on the engine, its log */
struct run {
	struct model m;
	struct trainstate st;
	struct data tr, va;
	struct engine *e;
	int dev, tset, vset, prec;      /* prec: ENGINE_BF16 flags from --precision */
	float w[MAXCLASSES];
	int *order, *rows;
	char *ckpt;
	FILE *log;
	int silent;              /* --auto's folds: no line per epoch, no checkpoint */
	struct micro *mb;        /* --micro-batch, --mpi; else NULL */
};

static void setup_net(struct run *u, const struct train_opts *o);

/* n's gradients (stats 0) or running statistics (1) as a sum of up to
 * per parts: its segments are the tensors' starts, in order of place */
static void
sum_open(struct sum *u, const struct net *n, int stats, int per)
{
	u->live = stats ? n->stats : n->grads;
	u->n = stats ? n->nstats : n->nparams;
	u->seg = emalloc(((size_t)n->ntensors + 1) * sizeof *u->seg);
	for (int t = 0; t < n->ntensors; t++) {
		const struct ptensor *pt = &n->pt[t];
		if ((pt->kind == P_MEAN || pt->kind == P_VAR) != stats || !pt->count)
			continue;
		int i = u->nseg++;
		for (; i > 0 && u->seg[i - 1] > pt->off; i--)
			u->seg[i] = u->seg[i - 1];
		u->seg[i] = pt->off;
	}
	u->seg[u->nseg] = u->n;
	if (u->n && (u->nseg == 0 || u->seg[0] != 0))
		die(EX_SOFTWARE, "sum_open: the parameter table does not tile the %s", stats ? "statistics" : "parameters");
	u->copies = per > 1 ? emalloc((size_t)(per - 1) * u->n * sizeof(float)) : NULL;
	u->part = emalloc((size_t)per * sizeof *u->part);
	u->factor = emalloc((size_t)per * sizeof *u->factor);
}

/* a step's buffers for network n and batches of up to batch records */
static void
micro_open(struct micro *mb, struct net *n, int batch)
{
	int m = (batch + mb->size - 1) / mb->size;

	if (mb->d.size > m)
		die(EX_USAGE, "%d ranks share batches of %d micro-batches (--batch %d, --micro-batch %d): give each "
		    "rank one at least", mb->d.size, m, batch, mb->size);
	mb->net = n;
	mb->per = (m + mb->d.size - 1) / mb->d.size;
	sum_open(&mb->grads, n, 0, mb->per);
	sum_open(&mb->stats, n, 1, mb->per);
	mb->stats0 = emalloc((n->nstats ? n->nstats : 1) * sizeof(float));
	egrow((void **)&mb->slot, &mb->slotcap, (size_t)m * 2 * sizeof *mb->slot);
}

/* the data, the network (new, from --init, or resumed) and the engine */
static void
setup(struct run *u, const struct train_opts *o)
{
	struct model *m = &u->m;
	const char *err;

	/* the classes: --classes, else the names the records carry */
	struct classes seen = { 0 };
	if (o->classes)
		classes_parse(&m->classes, o->classes, "--classes");
	load(&u->tr, o->inputs, o->ninputs, &m->classes, 0, o->classes ? NULL : &seen, "training set", NULL, 1);
	if (!o->classes) {
		const char *from = o->ninputs ? o->inputs[0] : "standard input";
		if (classes_settle(&m->classes, &seen, &err) < 0)
			die(EX_DATAERR, "training set (%s): %s", from, err);
		for (int i = 0; i < u->tr.n; i++)
			if (u->tr.y[i] >= m->classes.n)
				die(EX_DATAERR, "training set (%s): label %d is out of range: %d classes (%s; give "
				    "--classes)", from, u->tr.y[i], m->classes.n,
				    seen.n ? "named by the records" : "the default");
		classes_free(&seen);
		char *names = classes_join(&m->classes);
		info("classes from the records: %.200s", names);
		free(names);
	}
	if (o->val)
		load(&u->va, (char *[]){ (char *)o->val }, 1, &m->classes, !o->classes, NULL, "validation set",
		     &u->tr.prep, !o->no_check);
	if (o->val && (u->va.c != u->tr.c || u->va.h != u->tr.h || u->va.w != u->tr.w || u->va.k != u->tr.k))
		die(EX_DATAERR, "%s: its images or clinical features differ in shape from the training set", o->val);
	m->prep = u->tr.prep;
	if (o->autotune)
		return;
	/* a training from --init builds that model's network unless --arch
	 * says otherwise (an imported backbone's spec is long) */
	m->arch = o->arch ? estrdup(o->arch) : o->init ? model_arch_of(o->init) : estrdup(DEFAULT_ARCH);
	/* late fusion: the network sees the images alone */
	if (o->late && !u->tr.k)
		die(EX_DATAERR, "--fusion late: the training records have no clinical vector to join");
	setup_net(u, o);
	if (o->checkpoint)
		u->ckpt = estrdup(o->checkpoint);
	else {
		u->ckpt = emalloc(strlen(o->out) + 8);
		sprintf(u->ckpt, "%s.ckpt", o->out);
	}
	if (o->log && rank == 0 && !(u->log = fopen(o->log, u->st.epoch ? "a" : "w")))
		die(EX_CANTCREAT, "%s: cannot create:", o->log);
	if (u->log && !u->st.epoch)
		fprintf(u->log, "epoch\ttrain_loss\ttrain_acc\tval_loss\tval_acc\tlr\tseconds\timages_per_s\n");
}

/* the network of m->arch for the data in u (new, from --init, or
 * resumed) and its engine */
static void
setup_net(struct run *u, const struct train_opts *o)
{
	struct model *m = &u->m;
	const char *err;

	if (!(m->net = net_new(m->arch, u->tr.c, u->tr.h, u->tr.w, o->late ? 0 : u->tr.k, m->classes.n, &err)))
		die(EX_USAGE, "--arch: %s", err);
	net_init(m->net, o->seed);
	if (o->init)
		info("--init: %d layers' weights from %s", model_init_from(o->init, m->net), o->init);
	for (int i = 0; i < o->freeze && i < m->net->nlayers; i++)
		m->net->l[i].frozen = 1;
	/* images must carry the answer alone for some records, or the clinical
	 * vector, the same on every augmented copy, is learnt first and cuts
	 * the images' learning short */
	m->net->clin_drop = (float)o->clin_drop;
	if (!u->silent) {
		net_describe(m->net, describe_line);
		info("%zu parameters", m->net->nparams);
	}
	if (o->weights)
		weights_for(o, &u->tr, m->classes.n, u->w);
	trainstate_init(&u->st, m->net, o->lr, o->seed);
	if (o->resume) {
		checkpoint_resume(o->resume, m, &u->st);
		info("resuming after epoch %d from %s", u->st.epoch, o->resume);
	}
	u->order = emalloc((size_t)u->tr.n * sizeof(int));
	int nrows = o->val && u->va.n > u->tr.n ? u->va.n : u->tr.n;
	u->rows = emalloc((size_t)nrows * sizeof(int));
	for (int i = 0; i < nrows; i++)
		u->rows[i] = i;
	u->tr.classes = u->va.classes = m->classes.n;
	u->e = engine_open(m->net, u->dev, o->batch, (o->tf32 ? ENGINE_TF32 : 0) | u->prec);
	if (u->dev < 0 && !u->silent)
		info("CPU kernels: %s; %s", engine_kernels(u->e), engine_precision(u->e));
	/* a run resumed in another precision would not end where the whole
	 * run would have */
	if (o->resume && strcmp(u->st.precision, engine_precision(u->e)))
		die(EX_DATAERR, "%s: trained in %s so far; resume it with --precision %s", o->resume, u->st.precision,
		    u->st.precision);
	u->st.precision = engine_precision(u->e);
	u->tset = engine_dataset(u->e, u->tr.x, u->tr.clin, u->tr.y, u->tr.n, 1);
	u->vset = o->val ? engine_dataset(u->e, u->va.x, u->va.clin, u->va.y, u->va.n, 1) : -1;
	if (u->mb)
		micro_open(u->mb, m->net, o->batch);
}

/* one epoch: train, validate, keep the best, adjust the rate, log, checkpoint */
static void
epoch(struct run *u, const struct train_opts *o)
{
	struct trainstate *st = &u->st;
	struct model *m = &u->m;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct pass p = train_epoch(u->e, u->tset, &u->tr, o, st, o->weights ? u->w : NULL, u->order, u->mb);
	struct pass v = o->val ? evaluate(u->e, u->vset, &u->va, o->batch, u->rows, u->mb) : p;
	engine_pull(u->e);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	double lr_used = st->lr;
	st->epoch++;
	m->hist = erealloc(m->hist, (size_t)st->epoch * 6 * sizeof(float));
	float *h = m->hist + (size_t)(st->epoch - 1) * 6;
	h[0] = (float)st->epoch;
	h[1] = (float)p.loss;
	h[2] = (float)p.right / u->tr.n;
	h[3] = (float)v.loss;
	h[4] = o->val ? (float)v.right / u->va.n : (float)p.right / u->tr.n;
	h[5] = (float)lr_used;
	m->nhist = st->epoch;
	/* the best epoch's weights are what the model keeps */
	if (v.loss < st->best) {
		st->best = v.loss;
		st->best_epoch = st->epoch;
		st->bad = st->plateau_bad = 0;
		trainstate_keep(st, m->net);
	} else {
		st->bad++;
		if (o->plateau && !o->cosine && ++st->plateau_bad >= o->plateau) {
			st->lr *= o->factor;
			st->plateau_bad = 0;
		}
	}
	if (!quiet && !u->silent)
		fprintf(stderr, "%s: epoch %d/%d  loss %.4f acc %.3f  val_loss %.4f val_acc %.3f  lr %.2g  %.1f s  %.0f img/s\n",
		        argv0, st->epoch, o->epochs, p.loss, h[2], v.loss, h[4], lr_used, secs, u->tr.n / secs);
	if (u->log) {
		fprintf(u->log, "%d\t%.6f\t%.6f\t%.6f\t%.6f\t%.6g\t%.3f\t%.1f\n", st->epoch, p.loss, h[2], v.loss, h[4],
		        lr_used, secs, u->tr.n / secs);
		fflush(u->log);
	}
	if (u->ckpt && rank == 0)
		checkpoint_save(u->ckpt, m, st);
}

/* ---------------------------------------------------------------- */
/* --auto */

/* the records of d in fold f (in) or in the others (!in) */
static void
fold_data(const struct data *d, const int *fold, int f, int in, struct data *out)
{
	size_t px = (size_t)d->c * d->h * d->w;
	int n = 0;

	memset(out, 0, sizeof *out);
	for (int i = 0; i < d->n; i++)
		n += (fold[i] == f) == in;
	*out = (struct data){ .c = d->c, .h = d->h, .w = d->w, .k = d->k, .classes = d->classes };
	out->x = emalloc((size_t)n * px * sizeof(float));
	out->clin = d->k ? emalloc((size_t)n * d->k * sizeof(float)) : NULL;
	out->y = emalloc((size_t)n * sizeof *out->y);
	out->pat = emalloc((size_t)n * sizeof *out->pat);
	for (int i = 0; i < d->n; i++) {
		if ((fold[i] == f) != in)
			continue;
		memcpy(out->x + (size_t)out->n * px, d->x + (size_t)i * px, px * sizeof(float));
		if (d->k)
			memcpy(out->clin + (size_t)out->n * d->k, d->clin + (size_t)i * d->k, (size_t)d->k * sizeof(float));
		out->y[out->n] = d->y[i];
		out->pat[out->n++] = d->pat[i];
	}
}

static void
data_free(struct data *d)
{
	free(d->x);
	free(d->clin);
	free(d->y);
	free(d->pat);
}

/* one candidate cross-validated: the outcome, and its fold models */
struct trial {
	struct candidate c;
	int ran;
	double acc, f1, nll, secs;
	struct model *models;    /* one per fold, each fitted (late fusion, temperature) on its own fold */
};

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/*
 * Trains the candidate on each fold's complement, keeping the epoch with
 * the best loss on the fold, fits late fusion (when the records have
 * clinical values) and the temperature on the fold, and scores the
 * answers to every record from the model that did not see it (pooled
 * out-of-fold accuracy, macro F1 and log loss).
 */
static void
cross_validate(struct run *top, const struct train_opts *o, const int *fold, int k, struct trial *t)
{
	const struct candidate *c = &t->c;
	struct train_opts co = *o;
	int K = top->m.classes.n;
	struct samples oof;
	double t0 = now();

	co.arch = c->arch;
	co.epochs = c->epochs;
	co.lr = c->lr;
	co.wd = c->wd;
	co.cosine = 1;
	co.weights = c->class_weights ? "auto" : NULL;
	co.late = top->tr.k > 0;
	co.calibrate = 1;
	co.val = "the held-out fold";
	t->models = ecalloc((size_t)k, sizeof *t->models);
	samples_init(&oof, K);
	for (int f = 0; f < k; f++) {
		struct run fr = { .dev = top->dev, .prec = top->prec, .silent = 1 };
		const char *err;
		fold_data(&top->tr, fold, f, 0, &fr.tr);
		fold_data(&top->tr, fold, f, 1, &fr.va);
		char *names = classes_join(&top->m.classes);
		if (classes_read(&fr.m.classes, names, &err) < 0)
			die(EX_SOFTWARE, "%s", err);
		free(names);
		fr.m.arch = estrdup(c->arch);
		setup_net(&fr, &co);
		while (fr.st.epoch < co.epochs && (co.patience == 0 || fr.st.bad < co.patience))
			epoch(&fr, &co);
		engine_close(fr.e);
		trainstate_restore(&fr.st, fr.m.net);
		fr.m.best_epoch = fr.st.best_epoch;
		double *ans = emalloc((size_t)fr.va.n * K * sizeof *ans);
		fit_on_val(&fr.m, &co, fr.dev, &fr.va, fr.rows, ans);
		for (int i = 0; i < fr.va.n; i++) {
			const double *a = ans + (size_t)i * K;
			samples_add(&oof, fr.va.y[i], a, oof.n);
			t->nll -= log(fmax(a[fr.va.y[i]], 1e-12));
		}
		free(ans);
		free(fr.st.best_params);
		free(fr.st.best_stats);
		free(fr.order);
		free(fr.rows);
		data_free(&fr.tr);
		data_free(&fr.va);
		t->models[f] = fr.m;
	}
	struct metrics m;
	struct metrics_work w = { 0 };
	metrics_init(&m, K, 10);
	metrics_compute(&oof, NULL, oof.n, &m, &w);
	t->acc = m.accuracy;
	t->f1 = m.macro.f1;
	t->nll /= (double)oof.n;
	metrics_free(&m);
	metrics_work_free(&w);
	samples_free(&oof);
	t->ran = 1;
	t->secs = now() - t0;
}

static void
trial_free(struct trial *t, int k)
{
	for (int f = 0; t->models && f < k; f++)
		model_free(&t->models[f]);
	free(t->models);
	t->models = NULL;
}

/* a beats b: the higher cross-validated macro F1, then accuracy, then
 * the lower log loss */
static int
better(const struct trial *a, const struct trial *b)
{
	if (!b || !b->ran)
		return a->ran;
	if (a->f1 != b->f1)
		return a->f1 > b->f1;
	if (a->acc != b->acc)
		return a->acc > b->acc;
	return a->nll < b->nll;
}

/* a candidate's row of the table; with measured, the seconds it took
 * (stderr's table has them, the model's leaves them out: the same records
 * and seed give the same model file) */
static void
row(char *buf, size_t n, const struct trial *t, int measured, const char *note)
{
	char secs[16] = "-", acc[16] = "-", f1[16] = "-", nll[16] = "-";

	if (t->ran) {
		snprintf(secs, sizeof secs, "%.0f", t->secs);
		snprintf(acc, sizeof acc, "%.4f", t->acc);
		snprintf(f1, sizeof f1, "%.4f", t->f1);
		snprintf(nll, sizeof nll, "%.4f", t->nll);
	}
	snprintf(buf, n, "%-22.31s %6d %7.0e %5.2f %3s %8.0f%s%*s %7s %7s %7s  %s", t->c.name, t->c.epochs, t->c.lr,
	         t->c.wd, t->c.class_weights ? "yes" : "no", t->c.cost, measured ? " " : "", measured ? 8 : 0,
	         measured ? secs : "", acc, f1, nll, note);
}

/*
 * osteo-train --auto: the training records' fingerprint, candidate
 * networks scaled to their image size (auto.h), each cross-validated on
 * patient-grouped folds of the training records in the order of their
 * planned cost while the plan stays within --budget; then variants of
 * the winner's recipe.  The model is the winner's fold models as one
 * ensemble, each with its late fusion and temperature fitted on the fold
 * it did not see.  The plan counts expected seconds (auto_cost), never
 * the clock, so it is the same on any machine; the table gives both.
 */
static void
auto_train(struct run *u, const struct train_opts *o)
{
	struct fingerprint fp;
	struct trial t[AUTO_MAXCAND];
	struct candidate cand[AUTO_MAXCAND];
	int nt = 0, best = -1, late = u->tr.k > 0;
	int *fold = emalloc((size_t)u->tr.n * sizeof *fold);
	double budget = o->budget * 60, planned = 0;
	struct text table = { 0 };
	char line[512];

	auto_fingerprint(&fp, u->tr.x, u->tr.n, u->tr.c, u->tr.h, u->tr.w, u->tr.k, u->tr.y, u->m.classes.n,
	                 u->tr.pat);
	info("--auto: %d records of %dx%dx%d, %d patients, %d classes (largest over smallest %.2f), %d clinical "
	     "values, pixels %.3f +- %.3f", fp.n, fp.c, fp.h, fp.w, fp.patients, fp.classes, fp.imbalance, fp.k,
	     fp.mean, fp.sd);
	int k = auto_folds(u->tr.pat, u->tr.y, u->tr.n, AUTO_FOLDS, o->seed, fold);
	if (k < 2)
		die(EX_DATAERR, "--auto: the training records are of %d patient; cross-validation needs 2 or more",
		    fp.patients);
	for (int round = 0; round < 2; round++) {
		int nc = round == 0 ? auto_candidates(&fp, cand, AUTO_MAXCAND)
		                    : auto_variants(&fp, &t[best].c, cand, AUTO_MAXCAND - nt);
		for (int i = 0; i < nc; i++)
			cand[i].cost = auto_cost(cand[i].arch, &fp, late, cand[i].epochs, (long)u->tr.n * (k - 1));
		/* cheapest first, so a small budget still sees what it can */
		for (int i = 1; i < nc; i++)
			for (int j = i; j > 0 && cand[j].cost < cand[j - 1].cost; j--) {
				struct candidate x = cand[j];
				cand[j] = cand[j - 1];
				cand[j - 1] = x;
			}
		for (int i = 0; i < nc && nt < AUTO_MAXCAND; i++) {
			struct trial *tr = &t[nt++];
			memset(tr, 0, sizeof *tr);
			tr->c = cand[i];
			if (best >= 0 && planned + tr->c.cost > budget)
				continue;
			if (best < 0 && tr->c.cost > budget)
				warn("--budget %g: too small for any candidate; %s, the cheapest, is planned to take %.0f s",
				     o->budget, tr->c.name, tr->c.cost);
			planned += tr->c.cost;
			cross_validate(u, o, fold, k, tr);
			info("--auto: %s: cross-validated accuracy %.4f, macro F1 %.4f, %.0f s (planned %.0f)",
			     tr->c.name, tr->acc, tr->f1, tr->secs, tr->c.cost);
			if (better(tr, best >= 0 ? &t[best] : NULL)) {
				if (best >= 0)
					trial_free(&t[best], k);
				best = (int)(tr - t);
			} else
				trial_free(tr, k);
		}
	}
	/* the table, and why the winner won */
	int second = -1;
	for (int i = 0; i < nt; i++)
		if (i != best && t[i].ran && (second < 0 || better(&t[i], &t[second])))
			second = i;
	struct text shown = { 0 };
	for (int measured = 0; measured < 2; measured++) {
		struct text *tb = measured ? &shown : &table;
		snprintf(line, sizeof line, "%-22s %6s %7s %5s %3s %8s%s%*s %7s %7s %7s", "candidate", "epochs", "lr",
		         "wd", "cw", "plan s", measured ? " " : "", measured ? 8 : 0, measured ? "s" : "", "acc", "F1",
		         "logloss");
		text_add(tb, "%s\n", line);
		for (int i = 0; i < nt; i++) {
			row(line, sizeof line, &t[i], measured, i == best ? "chosen" : t[i].ran ? "" : "over the budget");
			text_add(tb, "%s\n", line);
		}
	}
	char why[256];
	if (second >= 0)
		snprintf(why, sizeof why, "%s: the best cross-validated macro F1 over %d patient-grouped folds "
		         "(%.4f; next %s, %.4f)", t[best].c.name, k, t[best].f1, t[second].c.name, t[second].f1);
	else
		snprintf(why, sizeof why, "%s: the only candidate within the budget (macro F1 %.4f over %d folds)",
		         t[best].c.name, t[best].f1, k);
	if (!quiet)
		fprintf(stderr, "%s: --auto, %d folds by patient, budget %g min (planned %.0f s):\n%s", argv0, k,
		        o->budget, planned, shown.s);
	free(shown.s);
	info("chosen %s", why);
	info("architecture %s, %d epochs, lr %g, weight decay %g%s", t[best].c.arch, t[best].c.epochs,
	     t[best].c.lr, t[best].c.wd, t[best].c.class_weights ? ", class weights" : "");
	/* the ensemble: the first fold's model with the others as members */
	struct model *m = &u->m;
	struct model *f = t[best].models;
	m->arch = estrdup(t[best].c.arch);
	m->net = f[0].net;
	m->nhist = f[0].nhist;
	m->hist = f[0].hist;
	m->best_epoch = f[0].best_epoch;
	m->temperature = f[0].temperature;
	m->fusion = f[0].fusion;
	m->nmembers = k - 1;
	m->members = ecalloc((size_t)k - 1, sizeof *m->members);
	for (int i = 1; i < k; i++)
		m->members[i - 1] = f[i];
	classes_free(&f[0].classes);
	free(f[0].arch);
	struct record extra;
	rec_init(&extra);
	rec_meta_str(&extra, "auto.candidates", table.s);
	rec_meta_str(&extra, "auto.chosen", why);
	rec_meta_int(&extra, "auto.folds", k);
	rec_meta_float(&extra, "auto.budget", o->budget);
	model_save(o->out, m, &extra, 0);
	rec_free(&extra);
	info("ensemble of %d fold models in %s", k, o->out);
	free(table.s);
	free(fold);
}

int
main(int argc, char **argv)
{
	struct train_opts o;
	struct run u = { 0 };

	/* arguments */
	cli_init(argv[0]);
	train_opts_parse(argc, argv, &o);
	int launched = dist_launched();
	if (launched > 1 && !o.mpi)
		usage_error(train_usage, "started as one of %d processes (mpirun, srun) without --mpi: each would "
		            "train alone and write the same files", launched);
	if (o.micro)
		u.mb = ecalloc(1, sizeof *u.mb);
	if (o.mpi) {
		static char name[64];
		int stdin_read = !o.ninputs;
		for (int i = 0; i < o.ninputs; i++)
			stdin_read |= !strcmp(o.inputs[i], "-");
		if (stdin_read)
			usage_error(train_usage, "--mpi: name the training records' files; every rank reads them, "
			            "and standard input reaches one rank only");
		dist_init(&argc, &argv, &u.mb->d);
		rank = u.mb->d.rank;
		if (u.mb->d.size > 1) {
			snprintf(name, sizeof name, "%s (rank %d)", argv0, rank);
			argv0 = name;
		}
		if (rank) {
			quiet = 1;
			o.progress = 0;
		}
	} else if (u.mb)
		u.mb->d = (struct dist){ .rank = 0, .size = 1 };
	if (u.mb)
		u.mb->size = o.micro;
	u.dev = device_select(o.device, train_usage);
	/* the micro-batches' gradients are summed on the host */
	if (u.mb && u.dev >= 0) {
		if (!device_auto())
			usage_error(train_usage, "--%s trains on the CPU: --device cpu", o.mpi ? "mpi" : "micro-batch");
		info("--%s: training on the CPU", o.mpi ? "mpi" : "micro-batch");
		u.dev = -1;
	}
	u.prec = precision_select(o.precision, u.dev, train_usage);

	/* prepare */
	setup(&u, &o);
	/* one the caller ignores (nohup's SIGHUP) stays ignored */
	static const int stops[] = { SIGINT, SIGTERM, SIGHUP };
	for (size_t i = 0; i < sizeof stops / sizeof *stops; i++) {
		struct sigaction old;
		if (sigaction(stops[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
			signal(stops[i], on_signal);
	}
	if (o.autotune) {
		auto_train(&u, &o);
		return 0;
	}
	/* a checkpoint before the first epoch, so an early interrupt can resume too */
	if (!u.st.epoch && rank == 0)
		checkpoint_save(u.ckpt, &u.m, &u.st);

	/* process */
	while (u.st.epoch < o.epochs && (!o.val || o.patience == 0 || u.st.bad < o.patience))
		epoch(&u, &o);

	/* clean up: the best epoch's model, fused and calibrated on --val (by
	 * rank 0: every rank holds the same weights) */
	engine_close(u.e);
	if (rank) {
		dist_end();
		return 0;
	}
	if (o.val && o.patience && u.st.bad >= o.patience)
		info("early stop after epoch %d: no better validation loss for %d epochs", u.st.epoch, o.patience);
	trainstate_restore(&u.st, u.m.net);
	u.m.best_epoch = u.st.best_epoch;
	if (o.late || o.calibrate)
		fit_on_val(&u.m, &o, u.dev, &u.va, u.rows, NULL);
	model_save(o.out, &u.m, NULL, 0);
	info("model of epoch %d (best %s loss %.4f) in %s", u.st.best_epoch, o.val ? "validation" : "training",
	     u.st.best, o.out);
	if (u.log && fclose(u.log) == EOF)
		die(EX_IOERR, "%s: write error:", o.log);
	dist_end();
	return 0;
}
