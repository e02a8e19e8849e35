/*
 * metrics.c - accuracy, per-class rates, AUC, calibration and bootstrap
 * intervals.  See metrics.h for the conventions, chosen to match
 * scikit-learn so that tests/fixtures/metrics can hold it to 1e-6.
 */
#include "common/record/contract.h"
#include "metrics.h"
#include "common/base/rng.h"
#include "common/base/strmap.h"
#include "common/base/util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void
samples_init(struct samples *s, int k)
{
	memset(s, 0, sizeof *s);
	s->k = k;
}

void
samples_add(struct samples *s, int label, const double *p, size_t unit)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024, bytes;

		if (!mul_ok(cap, (size_t)s->k * sizeof *s->p, &bytes))
			die(EX_SOFTWARE, "too many samples");
		s->label = erealloc(s->label, cap * sizeof *s->label);
		s->p = erealloc(s->p, bytes);
		s->unit = erealloc(s->unit, cap * sizeof *s->unit);
		s->unc = erealloc(s->unc, cap * sizeof *s->unc);
		s->cap = cap;
	}
	s->unc[s->n] = NAN;
	s->label[s->n] = label;
	memcpy(s->p + s->n * s->k, p, s->k * sizeof *p);
	s->unit[s->n] = unit;
	if (unit >= s->nunits)
		s->nunits = unit + 1;
	s->n++;
}

/* ---------------------------------------------------------------- */
/* reading predictions */

/* the class names: the caller's, else what osteo-infer recorded, else the
 * default three when there are three probabilities, else numbers */
static void
name_classes(struct classes *cl, const char *names, const struct record *r, int k,
             const struct input *in)
{
	const struct metaval *mv = rec_meta(r, KEY_INFER_CLASSES);
	const char *err;

	if (names)
		classes_parse(cl, names, "--classes");
	else if (mv && mv->type == MV_STR && *mv->s) {
		/* data, not an option: a bad list is the record's fault (65) */
		if (classes_read(cl, mv->s, &err) < 0)
			input_die(in, r, "meta.infer.classes: %s", err);
	} else if (k == 3)
		classes_parse(cl, DEFAULT_CLASSES, "classes");
	else {
		cl->n = k;
		for (int c = 0; c < k; c++) {
			cl->names[c] = emalloc(16);
			snprintf(cl->names[c], 16, "%d", c);
		}
	}
	if (cl->n != k)
		input_die(in, r, "%d probabilities but %d classes (%s)", k, cl->n,
		          names ? "--classes" : "meta.infer.classes");
}

/* where a heat map lies against the record's mask (the bone, for
 * osteo-synth --masks): its mass inside over all of it */
static void
map_in_mask(struct samples *s, const struct tensor *heat, const struct tensor *mask)
{
	size_t n = heat ? tensor_elems(heat) : 0;
	double in = 0, all = 0, bone = 0;

	if (!n || !mask || tensor_elems(mask) != n || heat->dtype != DT_F32 || mask->dtype != DT_U8)
		return;
	for (size_t i = 0; i < n; i++) {
		float v = ((const float *)heat->data)[i];
		int m = ((const uint8_t *)mask->data)[i] != 0;
		v = v > 0 ? v : 0;
		all += v;
		in += m ? v : 0;
		bone += m;
	}
	s->nmaps++;
	if (all <= 0) {
		s->nblank++;
		return;
	}
	s->in_mask += in / all;
	s->mask_share += bone / (double)n;
}

long long
samples_read(struct input *in, const char *names, struct samples *s, struct classes *cl)
{
	return samples_read_by(in, names, s, cl, NULL, NULL);
}

long long
samples_read_by(struct input *in, const char *names, struct samples *s, struct classes *cl,
                samples_groupof groupof, void *ctx)
{
	struct record r;
	struct strmap units, groups;
	size_t gcap = 0;
	char gbuf[256];
	long long unlabelled = 0;
	long nunits = 0;

	rec_init(&r);
	strmap_init(&units);
	strmap_init(&groups);
	s->k = 0;
	while (input_read(in, &r)) {
		if (!r.has_label) {
			unlabelled++;
			continue;
		}
		if (!r.has_probs)
			input_die(in, &r, "has a label but no probs (run osteo-infer or osteo-baseline first)");
		if (r.nprobs < 2 || r.nprobs > MAXCLASSES)
			input_die(in, &r, "%d probabilities; 2 to %d classes are possible", r.nprobs, MAXCLASSES);
		input_hold(in, &r, s->n + 1);
		if (!s->k) {
			samples_init(s, r.nprobs);
			name_classes(cl, names, &r, r.nprobs, in);
		}
		if (r.nprobs != s->k)
			input_die(in, &r, "%d probabilities, the records before had %d", r.nprobs, s->k);
		if (r.label < 0 || r.label >= s->k)
			input_die(in, &r, "label %lld is not a class (0 to %d)", r.label, s->k - 1);
		for (int c = 0; c < s->k; c++)
			if (!(r.probs[c] >= 0 && r.probs[c] <= 1))
				input_die(in, &r, "probability %d is %g, not in [0, 1]", c, r.probs[c]);
		/* records without a patient are their own unit */
		long unit = r.has_patient ? strmap_get(&units, r.patient) : -1;
		if (unit < 0) {
			unit = nunits++;
			if (r.has_patient)
				strmap_put(&units, r.patient, unit);
			s->names = erealloc(s->names, (size_t)nunits * sizeof *s->names);
			s->names[unit] = r.has_patient ? estrdup(r.patient) : NULL;
		}
		samples_add(s, (int)r.label, r.probs, (size_t)unit);
		const struct metaval *uv = rec_meta(&r, KEY_INFER_UNCERTAINTY);
		if (uv && (uv->type == MV_FLOAT || uv->type == MV_INT)) {
			double v = uv->type == MV_FLOAT ? uv->f : (double)uv->i;
			if (!(v >= 0 && v <= 1))
				input_die(in, &r, "meta.infer.uncertainty is %g, not in [0, 1]", v);
			s->unc[s->n - 1] = v;
		}
		map_in_mask(s, rec_tensor(&r, TENSOR_HEATMAP), rec_tensor(&r, TENSOR_MASK));
		if (groupof) {
			const char *g = groupof(&r, ctx, gbuf, sizeof gbuf);
			long gi = strmap_get(&groups, g);
			if (gi < 0) {
				gi = (long)s->ngroups++;
				strmap_put(&groups, g, gi);
				s->gnames = erealloc(s->gnames, s->ngroups * sizeof *s->gnames);
				s->gnames[gi] = estrdup(g);
			}
			egrow((void **)&s->group, &gcap, s->n * sizeof *s->group);
			s->group[s->n - 1] = (size_t)gi;
		}
	}
	strmap_free(&groups);
	strmap_free(&units);
	rec_free(&r);
	return unlabelled;
}

int
samples_per_patient(struct samples *s, int use_max, size_t *bad)
{
	size_t nu = s->nunits, k = (size_t)s->k;
	double *p = ecalloc(nu * k, sizeof *p);
	int *label = emalloc(nu * sizeof *label);
	size_t *count = ecalloc(nu, sizeof *count), *first = emalloc(nu * sizeof *first);
	double *unc = ecalloc(nu, sizeof *unc);

	for (size_t i = 0; i < s->n; i++) {
		size_t u = s->unit[i];
		/* a patient's uncertainty: its images' mean (or largest); NaN
		 * when one of them has none */
		if (isnan(s->unc[i]) || isnan(unc[u]))
			unc[u] = NAN;
		else
			unc[u] = use_max && count[u] ? fmax(unc[u], s->unc[i]) : unc[u] + s->unc[i];
		if (!count[u]++) {
			label[u] = s->label[i];
			first[u] = i;
		} else if (label[u] != s->label[i]) {
			*bad = u;
			free(p), free(label), free(count), free(first), free(unc);
			return -1;
		}
		for (size_t c = 0; c < k; c++) {
			double v = s->p[i * k + c];
			p[u * k + c] = use_max ? fmax(p[u * k + c], v) : p[u * k + c] + v;
		}
	}
	/* the patients in the order of their first records */
	size_t *order = emalloc(nu * sizeof *order), n = 0;
	for (size_t i = 0; i < s->n; i++)
		if (first[s->unit[i]] == i)
			order[n++] = s->unit[i];
	for (size_t j = 0; j < n; j++) {
		size_t u = order[j];
		double sum = 0;
		for (size_t c = 0; c < k; c++)
			sum += p[u * k + c];
		for (size_t c = 0; c < k; c++)
			s->p[j * k + c] = use_max ? (sum > 0 ? p[u * k + c] / sum : 1.0 / k) : p[u * k + c] / count[u];
		s->label[j] = label[u];
		s->unit[j] = u;
		s->unc[j] = use_max ? unc[u] : unc[u] / count[u];
	}
	/* a patient's subgroup is its first record's */
	for (size_t j = 0; s->group && j < n; j++)
		s->group[j] = s->group[first[order[j]]];
	s->n = n;
	free(p), free(label), free(count), free(first), free(order), free(unc);
	return 0;
}

void
samples_subset(const struct samples *s, size_t g, struct samples *out)
{
	/* the group's patients numbered afresh: the bootstrap draws 0..nunits-1 */
	size_t *dense = emalloc((s->nunits ? s->nunits : 1) * sizeof *dense), nu = 0;

	for (size_t u = 0; u < s->nunits; u++)
		dense[u] = SIZE_MAX;
	samples_init(out, s->k);
	for (size_t i = 0; i < s->n; i++)
		if (s->group[i] == g) {
			if (dense[s->unit[i]] == SIZE_MAX)
				dense[s->unit[i]] = nu++;
			samples_add(out, s->label[i], s->p + i * (size_t)s->k, dense[s->unit[i]]);
			out->unc[out->n - 1] = s->unc[i];
		}
	free(dense);
}

void
samples_free(struct samples *s)
{
	for (size_t u = 0; s->names && u < s->nunits; u++)
		free(s->names[u]);
	free(s->names);
	for (size_t g = 0; g < s->ngroups; g++)
		free(s->gnames[g]);
	free(s->gnames);
	free(s->group);
	free(s->label);
	free(s->p);
	free(s->unit);
	free(s->unc);
	memset(s, 0, sizeof *s);
}

void
metrics_init(struct metrics *m, int k, int ece_bins)
{
	memset(m, 0, sizeof *m);
	m->k = k;
	m->ece_bins = ece_bins;
	m->cls = ecalloc(k, sizeof *m->cls);
	m->confusion = ecalloc((size_t)k * k, sizeof *m->confusion);
}

void
metrics_free(struct metrics *m)
{
	free(m->cls);
	free(m->confusion);
}

void
metrics_work_free(struct metrics_work *w)
{
	free(w->order);
	memset(w, 0, sizeof *w);
}

static double
ratio(long long a, long long b)
{
	return b ? (double)a / (double)b : 0.0;
}

struct by_score {
	const struct samples *s;
	int c;
};

/* ascending by score; equal scores keep sample order, so runs repeat */
static int
cmp_score(const void *a, const void *b, void *ctx)
{
	const struct by_score *k = ctx;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	double x = k->s->p[i * k->s->k + k->c], y = k->s->p[j * k->s->k + k->c];

	if (x != y)
		return x < y ? -1 : 1;
	return (i > j) - (i < j);
}

static size_t *
sorted(const struct samples *s, const size_t *idx, size_t n, int c, struct metrics_work *w)
{
	struct by_score key = { s, c };

	if (w->cap < n) {
		w->order = erealloc(w->order, n * sizeof *w->order);
		w->cap = n;
	}
	for (size_t i = 0; i < n; i++)
		w->order[i] = idx ? idx[i] : i;
	qsort_r(w->order, n, sizeof *w->order, cmp_score, &key);
	return w->order;
}

double
metrics_auc(const struct samples *s, const size_t *idx, size_t n, int c, struct metrics_work *w)
{
	size_t *o = sorted(s, idx, n, c, w);
	double rank_sum = 0;
	long long pos = 0;

	for (size_t i = 0; i < n;) {
		double v = s->p[o[i] * s->k + c];
		size_t j = i;
		long long gpos = 0;

		while (j < n && s->p[o[j] * s->k + c] == v)
			gpos += s->label[o[j++]] == c;
		/* ranks i+1 .. j share their mean */
		rank_sum += gpos * ((double)(i + 1) + (double)j) / 2.0;
		pos += gpos;
		i = j;
	}
	long long neg = (long long)n - pos;
	if (!pos || !neg)
		return NAN;
	return (rank_sum - (double)pos * (pos + 1) / 2.0) / ((double)pos * (double)neg);
}

void
metrics_compute(const struct samples *s, const size_t *idx, size_t n, struct metrics *m,
                struct metrics_work *w)
{
	int k = s->k, bins = m->ece_bins;
	long long correct = 0;
	double sq = 0, *ece_conf = m->bin_conf, *ece_acc = m->bin_right;
	long long *ece_n = m->bin_n;

	if (bins < 1 || bins > 64)
		die(EX_SOFTWARE, "metrics: %d calibration bins", bins);
	m->n = n;
	memset(m->confusion, 0, (size_t)k * k * sizeof *m->confusion);
	memset(m->bin_n, 0, sizeof m->bin_n);
	memset(m->bin_conf, 0, sizeof m->bin_conf);
	memset(m->bin_right, 0, sizeof m->bin_right);
	memset(m->cls, 0, k * sizeof *m->cls);
	for (size_t i = 0; i < n; i++) {
		size_t r = idx ? idx[i] : i;
		const double *p = s->p + r * k;
		int y = s->label[r], pred = class_argmax(p, k);
		int b = (int)ceil(p[pred] * bins) - 1;

		m->confusion[(size_t)y * k + pred]++;
		correct += pred == y;
		for (int c = 0; c < k; c++) {
			double d = p[c] - (c == y);

			m->cls[c].brier += d * d;
		}
		b = b < 0 ? 0 : b >= bins ? bins - 1 : b;
		ece_n[b]++;
		ece_conf[b] += p[pred];
		ece_acc[b] += pred == y;
	}
	m->accuracy = ratio(correct, n);
	m->ece = 0;
	for (int b = 0; b < bins; b++)
		if (ece_n[b])
			m->ece += fabs(ece_acc[b] - ece_conf[b]) / n;
	memset(&m->macro, 0, sizeof m->macro);
	memset(&m->weighted, 0, sizeof m->weighted);
	int nauc = 0;
	long long auc_support = 0;
	for (int c = 0; c < k; c++) {
		struct class_metrics *cm = &m->cls[c];
		long long tp = m->confusion[(size_t)c * k + c], row = 0, col = 0;

		for (int j = 0; j < k; j++) {
			row += m->confusion[(size_t)c * k + j];
			col += m->confusion[(size_t)j * k + c];
		}
		long long fp = col - tp, fn = row - tp, tn = (long long)n - tp - fp - fn;
		cm->support = row;
		cm->sens = ratio(tp, row);
		cm->spec = ratio(tn, tn + fp);
		cm->prec = ratio(tp, col);
		cm->f1 = cm->prec + cm->sens > 0 ? 2 * cm->prec * cm->sens / (cm->prec + cm->sens) : 0;
		cm->brier = n ? cm->brier / n : 0;
		sq += cm->brier;
		cm->auc = metrics_auc(s, idx, n, c, w);

		m->macro.sens += cm->sens / k;
		m->macro.spec += cm->spec / k;
		m->macro.prec += cm->prec / k;
		m->macro.f1 += cm->f1 / k;
		m->macro.brier += cm->brier / k;
		m->weighted.sens += cm->sens * row;
		m->weighted.spec += cm->spec * row;
		m->weighted.prec += cm->prec * row;
		m->weighted.f1 += cm->f1 * row;
		m->weighted.brier += cm->brier * row;
		m->macro.support += row;
		m->weighted.support += row;
		if (!isnan(cm->auc)) {
			nauc++;
			m->macro.auc += cm->auc;
			m->weighted.auc += cm->auc * row;
			auc_support += row;
		}
	}
	if (n) {
		m->weighted.sens /= n;
		m->weighted.spec /= n;
		m->weighted.prec /= n;
		m->weighted.f1 /= n;
		m->weighted.brier /= n;
	}
	m->macro.auc = nauc ? m->macro.auc / nauc : NAN;
	m->weighted.auc = auc_support ? m->weighted.auc / auc_support : NAN;
	m->brier = sq;
}

void
metrics_roc(const struct samples *s, int c, struct metrics_work *w,
            void (*fn)(void *ctx, double threshold, double fpr, double tpr), void *ctx)
{
	size_t n = s->n, *o = sorted(s, NULL, n, c, w);
	long long pos = 0, tp = 0, fp = 0;

	for (size_t i = 0; i < n; i++)
		pos += s->label[i] == c;
	long long neg = (long long)n - pos;
	if (!pos || !neg)
		return;
	fn(ctx, INFINITY, 0, 0);
	for (size_t j = n; j > 0;) {
		double v = s->p[o[j - 1] * s->k + c];

		while (j > 0 && s->p[o[j - 1] * s->k + c] == v) {
			if (s->label[o[j - 1]] == c)
				tp++;
			else
				fp++;
			j--;
		}
		fn(ctx, v, (double)fp / neg, (double)tp / pos);
	}
}

struct youden {
	double best, threshold;
};

static void
youden_point(void *ctx, double threshold, double fpr, double tpr)
{
	struct youden *y = ctx;

	if (tpr - fpr > y->best) {
		y->best = tpr - fpr;
		y->threshold = threshold;
	}
}

double
metrics_youden(const struct samples *s, int c, struct metrics_work *w)
{
	struct youden y = { -1, NAN };

	metrics_roc(s, c, w, youden_point, &y);
	return y.threshold;
}

void
metrics_temper(double *p, int k, double t)
{
	double lp[MAXCLASSES], mx = -INFINITY, sum = 0;

	if (t == 1 || k > MAXCLASSES)
		return;
	for (int c = 0; c < k; c++) {
		/* a probability of 0 stays 0 at any temperature */
		lp[c] = p[c] > 0 ? log(p[c]) / t : -INFINITY;
		mx = fmax(mx, lp[c]);
	}
	for (int c = 0; c < k; c++)
		sum += (p[c] = lp[c] == -INFINITY ? 0 : exp(lp[c] - mx));
	for (int c = 0; c < k; c++)
		p[c] /= sum;
}

/* the mean negative log-likelihood at temperature t (probabilities of 0
 * taken as 1e-12, so that one sure mistake does not make it infinite) */
static double
nll_at(const struct samples *s, double t)
{
	double sum = 0;

	for (size_t i = 0; i < s->n; i++) {
		const double *p = s->p + i * (size_t)s->k;
		double mx = -INFINITY, z = 0, ly = 0;
		for (int c = 0; c < s->k; c++)
			mx = fmax(mx, log(fmax(p[c], 1e-12)) / t);
		for (int c = 0; c < s->k; c++) {
			double l = log(fmax(p[c], 1e-12)) / t;
			z += exp(l - mx);
			if (c == s->label[i])
				ly = l;
		}
		sum += mx + log(z) - ly;
	}
	return sum / (double)(s->n ? s->n : 1);
}

double
metrics_temperature(const struct samples *s)
{
	const double g = (sqrt(5.0) - 1) / 2;
	double a = log(1.0 / 20), b = log(20.0);
	double x1 = b - g * (b - a), x2 = a + g * (b - a);
	double f1 = nll_at(s, exp(x1)), f2 = nll_at(s, exp(x2));

	for (int it = 0; it < 200 && b - a > 1e-12; it++) {
		if (f1 <= f2) {
			b = x2, x2 = x1, f2 = f1;
			x1 = b - g * (b - a);
			f1 = nll_at(s, exp(x1));
		} else {
			a = x1, x1 = x2, f1 = f2;
			x2 = a + g * (b - a);
			f2 = nll_at(s, exp(x2));
		}
	}
	return exp((a + b) / 2);
}

struct target {
	int spec;
	double want, threshold;
};

/* thresholds come highest first: sensitivity rises, specificity falls */
static void
target_point(void *ctx, double threshold, double fpr, double tpr)
{
	struct target *g = ctx;

	if (!g->spec && isnan(g->threshold) && tpr >= g->want - 1e-12)
		g->threshold = threshold;
	else if (g->spec && 1 - fpr >= g->want - 1e-12)
		g->threshold = threshold;
}

double
metrics_threshold_for(const struct samples *s, int c, int spec, double want, struct metrics_work *w)
{
	struct target g = { spec, want, NAN };

	metrics_roc(s, c, w, target_point, &g);
	return g.threshold;
}

/* the cut of the samples idx[0..n) (all when idx is NULL) */
static void
binary_over(const struct samples *s, const size_t *idx, size_t n, int c, double threshold, struct binary_cut *b)
{
	memset(b, 0, sizeof *b);
	b->c = c;
	b->threshold = threshold;
	for (size_t j = 0; j < n; j++) {
		size_t i = idx ? idx[j] : j;
		int say = s->p[i * s->k + c] >= threshold, is = s->label[i] == c;

		b->tp += say && is;
		b->fp += say && !is;
		b->tn += !say && !is;
		b->fn += !say && is;
	}
	b->sens = ratio(b->tp, b->tp + b->fn);
	b->spec = ratio(b->tn, b->tn + b->fp);
	b->ppv = ratio(b->tp, b->tp + b->fp);
	b->npv = ratio(b->tn, b->tn + b->fn);
}

void
metrics_binary(const struct samples *s, int c, double threshold, struct binary_cut *b)
{
	binary_over(s, NULL, s->n, c, threshold, b);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* numpy's default (linear) percentile of v[0..n), sorted in place */
static double
percentile(double *v, int n, double q)
{
	if (!n)
		return NAN;
	qsort(v, n, sizeof *v, cmp_double);
	double h = (n - 1) * q;
	int lo = (int)floor(h);

	return lo + 1 < n ? v[lo] + (h - lo) * (v[lo + 1] - v[lo]) : v[lo];
}

/* the samples of each unit, contiguous (a counting sort): unit u's are
 * member[start[u]..start[u+1]); start has nunits + 1 zeroed places */
static void
unit_members(const struct samples *s, size_t *start, size_t *member)
{
	size_t nu = s->nunits, *fill = emalloc((nu ? nu : 1) * sizeof *fill);

	for (size_t i = 0; i < s->n; i++)
		start[s->unit[i] + 1]++;
	for (size_t u = 0; u < nu; u++)
		start[u + 1] += start[u];
	memcpy(fill, start, nu * sizeof *fill);
	for (size_t i = 0; i < s->n; i++)
		member[fill[s->unit[i]]++] = i;
	free(fill);
}

/* one bootstrap replicate: nu units drawn with replacement, their
 * samples' indices in *idx (grown as needed); how many */
static size_t
draw_units(struct rng *g, const size_t *start, const size_t *member, size_t nu, size_t **idx, size_t *idxcap)
{
	size_t n = 0;

	for (size_t d = 0; d < nu; d++) {
		size_t u = (size_t)(rng_u64(g) % nu), len = start[u + 1] - start[u];

		if (*idxcap < n + len) {
			*idxcap = 2 * (n + len);
			*idx = erealloc(*idx, *idxcap * sizeof **idx);
		}
		memcpy(*idx + n, member + start[u], len * sizeof **idx);
		n += len;
	}
	return n;
}

/* the percentile bootstrap over units of a's figures, or with b (the same
 * records scored by another model) of a's minus b's on each replicate */
static void
bootstrap(const struct samples *s, const struct samples *b, int cut, double threshold, int reps,
          unsigned long long seed, double level, struct bootstrap_ci *ci)
{
	double *sens = cut >= 0 ? emalloc(reps * sizeof *sens) : NULL, *spec = cut >= 0 ? emalloc(reps * sizeof *spec) : NULL;
	int nsens = 0, nspec = 0;
	size_t nu = s->nunits, *start = ecalloc(nu + 1, sizeof *start);
	size_t *member = emalloc((s->n ? s->n : 1) * sizeof *member), *idx = NULL, idxcap = 0;
	double *acc = emalloc(reps * sizeof *acc), *f1 = emalloc(reps * sizeof *f1);
	double *auc = emalloc(reps * sizeof *auc);
	int nauc = 0;
	struct metrics m, mb;
	struct metrics_work w = { 0 };
	struct rng g;

	memset(ci, 0, sizeof *ci);
	ci->reps = reps;
	ci->level = level;
	unit_members(s, start, member);
	metrics_init(&m, s->k, 10);
	metrics_init(&mb, s->k, 10);
	rng_seed(&g, seed, "bootstrap");
	for (int r = 0; r < reps; r++) {
		size_t n = draw_units(&g, start, member, nu, &idx, &idxcap);

		metrics_compute(s, idx, n, &m, &w);
		if (b)
			metrics_compute(b, idx, n, &mb, &w);
		acc[r] = m.accuracy - (b ? mb.accuracy : 0);
		f1[r] = m.macro.f1 - (b ? mb.macro.f1 : 0);
		double d = m.macro.auc - (b ? mb.macro.auc : 0);
		if (!isnan(d))
			auc[nauc++] = d;
		if (cut >= 0) {
			struct binary_cut bc;
			binary_over(s, idx, n, cut, threshold, &bc);
			if (bc.tp + bc.fn)
				sens[nsens++] = bc.sens;
			if (bc.tn + bc.fp)
				spec[nspec++] = bc.spec;
		}
	}
	double a = (1 - level) / 2;
	ci->acc[0] = percentile(acc, reps, a);
	ci->acc[1] = percentile(acc, reps, 1 - a);
	ci->f1[0] = percentile(f1, reps, a);
	ci->f1[1] = percentile(f1, reps, 1 - a);
	ci->auc[0] = percentile(auc, nauc, a);
	ci->auc[1] = percentile(auc, nauc, 1 - a);
	if (cut >= 0) {
		ci->has_cut = 1;
		ci->sens[0] = percentile(sens, nsens, a);
		ci->sens[1] = percentile(sens, nsens, 1 - a);
		ci->spec[0] = percentile(spec, nspec, a);
		ci->spec[1] = percentile(spec, nspec, 1 - a);
	}
	free(sens);
	free(spec);
	metrics_free(&m);
	metrics_free(&mb);
	metrics_work_free(&w);
	free(start);
	free(member);
	free(idx);
	free(acc);
	free(f1);
	free(auc);
}

void
metrics_bootstrap(const struct samples *s, int reps, unsigned long long seed, double level,
                  struct bootstrap_ci *ci)
{
	bootstrap(s, NULL, -1, 0, reps, seed, level, ci);
}

void
metrics_bootstrap_cut(const struct samples *s, int c, double threshold, int reps, unsigned long long seed,
                      double level, struct bootstrap_ci *ci)
{
	bootstrap(s, NULL, c, threshold, reps, seed, level, ci);
}

void
metrics_bootstrap_paired(const struct samples *a, const struct samples *b, int reps, unsigned long long seed,
                         double level, struct bootstrap_ci *ci)
{
	bootstrap(a, b, -1, 0, reps, seed, level, ci);
}

static int
cmp_at(const void *a, const void *b, void *ctx)
{
	const double *v = ctx;
	double x = v[*(const size_t *)a], y = v[*(const size_t *)b];

	return (x > y) - (x < y);
}

/* midranks of v[0..n) (ties share their mean rank, 1-based) into r */
static void
midranks(const double *v, size_t n, double *r, size_t *order)
{
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof *order, cmp_at, (void *)v);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && v[order[j + 1]] == v[order[i]])
			j++;
		for (size_t t = i; t <= j; t++)
			r[order[t]] = (double)(i + j) / 2 + 1;
		i = j + 1;
	}
}

int
metrics_delong(const struct samples *a, const struct samples *b, int c, struct delong *d)
{
	size_t n = a->n, m = 0, k = (size_t)a->k;
	double *x[2], *all = emalloc(n * sizeof *all), *rall = emalloc(n * sizeof *rall);
	size_t *order = emalloc(n * sizeof *order);
	const struct samples *s2[2] = { a, b };

	memset(d, 0, sizeof *d);
	for (size_t i = 0; i < n; i++)
		m += a->label[i] == c;
	size_t q = n - m;
	if (!m || !q) {
		free(all), free(rall), free(order);
		return -1;
	}
	/* structural components (DeLong 1988, by midranks as Sun and Xu 2014):
	 * V10 of each positive, V01 of each negative, per model */
	double *v10[2], *v01[2];
	double *pos = emalloc(m * sizeof *pos), *neg = emalloc(q * sizeof *neg);
	double *rp = emalloc(m * sizeof *rp), *rn = emalloc(q * sizeof *rn);
	for (int t = 0; t < 2; t++) {
		const struct samples *s = s2[t];
		size_t ip = 0, in = 0;
		for (size_t i = 0; i < n; i++) {
			all[i] = s->p[i * k + (size_t)c];
			if (s->label[i] == c)
				pos[ip++] = all[i];
			else
				neg[in++] = all[i];
		}
		midranks(all, n, rall, order);
		midranks(pos, m, rp, order);
		midranks(neg, q, rn, order);
		v10[t] = emalloc(m * sizeof **v10);
		v01[t] = emalloc(q * sizeof **v01);
		double sum = 0;
		ip = in = 0;
		for (size_t i = 0; i < n; i++) {
			if (s->label[i] == c) {
				v10[t][ip] = (rall[i] - rp[ip]) / (double)q;
				sum += v10[t][ip++];
			} else {
				v01[t][in] = 1 - (rall[i] - rn[in]) / (double)m;
				in++;
			}
		}
		x[t] = t ? &d->auc_b : &d->auc_a;
		*x[t] = sum / (double)m;
	}
	/* var(A - B) = (S10_aa + S10_bb - 2 S10_ab) / m + (S01 likewise) / q */
	double var = 0;
	for (int part = 0; part < 2; part++) {
		double **v = part ? v01 : v10;
		size_t len = part ? q : m;
		double ma = 0, mb = 0, saa = 0, sbb = 0, sab = 0;
		for (size_t i = 0; i < len; i++)
			ma += v[0][i], mb += v[1][i];
		ma /= (double)len, mb /= (double)len;
		for (size_t i = 0; i < len; i++) {
			saa += (v[0][i] - ma) * (v[0][i] - ma);
			sbb += (v[1][i] - mb) * (v[1][i] - mb);
			sab += (v[0][i] - ma) * (v[1][i] - mb);
		}
		double den = len > 1 ? (double)(len - 1) : 1;
		var += (saa + sbb - 2 * sab) / den / (double)len;
	}
	d->diff = d->auc_a - d->auc_b;
	d->se = sqrt(fmax(var, 0));
	d->z = d->se > 0 ? d->diff / d->se : 0;
	d->p = d->se > 0 ? erfc(fabs(d->z) / M_SQRT2) : 1;
	for (int t = 0; t < 2; t++)
		free(v10[t]), free(v01[t]);
	free(pos), free(neg), free(rp), free(rn), free(all), free(rall), free(order);
	return 0;
}

/* ---------------------------------------------------------------- */
/* referral */

static int
by_unc(const void *a, const void *b, void *ctx)
{
	const double *u = ctx;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;

	if (u[i] != u[j])
		return u[i] < u[j] ? -1 : 1;
	return (i > j) - (i < j);
}

/* of idx[0..n), the least uncertain share keep (at least one), first in
 * idx (reordered); how many; their figures into cv's kept */
static size_t
keep_sure(const struct samples *s, size_t *idx, size_t n, double keep, struct metrics *m, struct metrics *all,
          struct metrics_work *w)
{
	size_t kept = (size_t)llround(keep * (double)n);

	kept = kept ? kept : 1;
	metrics_compute(s, idx, n, all, w);
	qsort_r(idx, n, sizeof *idx, by_unc, s->unc);
	metrics_compute(s, idx, kept, m, w);
	return kept;
}

void
metrics_coverage(const struct samples *s, double keep, int reps, unsigned long long seed, double level,
                 struct coverage *cv)
{
	size_t nu = s->nunits, *start = ecalloc(nu + 1, sizeof *start), *member = emalloc((s->n ? s->n : 1) * sizeof *member);
	size_t *idx = emalloc((s->n ? s->n : 1) * sizeof *idx), idxcap = s->n ? s->n : 1;
	double *v[4];
	struct metrics m, all;
	struct metrics_work w = { 0 };
	struct rng g;

	memset(cv, 0, sizeof *cv);
	cv->keep = keep;
	metrics_init(&m, s->k, 10);
	metrics_init(&all, s->k, 10);
	for (size_t i = 0; i < s->n; i++)
		idx[i] = i;
	cv->n = keep_sure(s, idx, s->n, keep, &m, &all, &w);
	cv->cut = s->unc[idx[cv->n - 1]];
	cv->acc = m.accuracy;
	cv->sens = m.macro.sens;
	cv->spec = m.macro.spec;
	cv->gain = m.accuracy - all.accuracy;
	/* intervals: patients drawn with replacement, the most uncertain share
	 * of each replicate referred */
	unit_members(s, start, member);
	for (int f = 0; f < 4; f++)
		v[f] = emalloc((reps ? reps : 1) * sizeof *v[f]);
	rng_seed(&g, seed, "bootstrap");
	for (int r = 0; r < reps; r++) {
		size_t n = draw_units(&g, start, member, nu, &idx, &idxcap);
		keep_sure(s, idx, n, keep, &m, &all, &w);
		v[0][r] = m.accuracy;
		v[1][r] = m.macro.sens;
		v[2][r] = m.macro.spec;
		v[3][r] = m.accuracy - all.accuracy;
	}
	double a = (1 - level) / 2, *ci[4] = { cv->acc_ci, cv->sens_ci, cv->spec_ci, cv->gain_ci };
	for (int f = 0; f < 4; f++) {
		ci[f][0] = reps ? percentile(v[f], reps, a) : NAN;
		ci[f][1] = reps ? percentile(v[f], reps, 1 - a) : NAN;
		free(v[f]);
	}
	metrics_free(&m);
	metrics_free(&all);
	metrics_work_free(&w);
	free(start), free(member), free(idx);
}
