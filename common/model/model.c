/*
 * model.c - models and checkpoints as one-record files.
 */
#include "model.h"
#include "common/record/params.h"
#include "common/eval/metrics.h"
#include "common/base/util.h"

#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void
put(struct record *r, const char *name, const float *v, int ndim, const uint32_t *shape)
{
	const char *err;
	struct tensor *t = rec_tensor_put(r, name, DT_F32, ndim, shape, &err);

	if (!t)
		die(EX_SOFTWARE, "model tensor %s: %s", name, err);
	memcpy(t->data, v, t->nbytes);
}

static void
put1(struct record *r, const char *name, const float *v, size_t n)
{
	uint32_t s[1] = { (uint32_t)n };

	put(r, name, v, 1, s);
}

/* what one member of an ensemble owns, under its prefix ("" for the first) */
static void
member_put(const struct model *m, struct record *r, const char *pre)
{
	const struct net *n = m->net;
	char key[64];

	snprintf(key, sizeof key, "%sbest_epoch", pre);
	rec_meta_int(r, key, m->best_epoch);
	if (m->temperature > 0 && m->temperature != 1) {
		snprintf(key, sizeof key, "%scalibration.temperature", pre);
		rec_meta_float(r, key, m->temperature);
	}
	if (m->fusion.k) {
		const struct fusion *f = &m->fusion;
		uint32_t s[2] = { (uint32_t)(f->k + f->nclin + 1), (uint32_t)f->k };
		size_t nw = (size_t)s[0] * s[1];
		float *w = emalloc(nw * sizeof *w);
		for (size_t i = 0; i < nw; i++)
			w[i] = (float)f->w[i];
		snprintf(key, sizeof key, "%sfusion.late", pre);
		if (!*pre)
			rec_meta_str(r, "fusion", "late");
		put(r, key, w, 2, s);
		free(w);
	}
	for (int i = 0; i < n->ntensors; i++) {
		snprintf(key, sizeof key, "%s%s", pre, n->pt[i].name);
		put(r, key, ptensor_data(n, &n->pt[i]), n->pt[i].ndim, n->pt[i].shape);
	}
}

void
model_to_record(const struct model *m, struct record *r, int checkpoint)
{
	const struct net *n = m->net;
	char *cls = classes_join(&m->classes);

	rec_set_id(r, checkpoint ? "checkpoint" : "model");
	model_header_write(r, &(struct model_header){ .kind = MODEL_FORMAT, .version = MODEL_VERSION, .arch = m->arch,
	                                               .classes = cls, .c = n->c, .h = n->h, .w = n->w,
	                                               .nclin = n->nclin });
	prep_write(r, &m->prep);
	rec_meta_int(r, "parameters", (long long)n->nparams);
	free(cls);
	member_put(m, r, "");
	if (m->nmembers)
		rec_meta_int(r, "ensemble", 1 + m->nmembers);
	for (int i = 0; i < m->nmembers; i++) {
		char pre[16];
		snprintf(pre, sizeof pre, "E%d.", i + 2);
		member_put(&m->members[i], r, pre);
	}
	if (m->nhist) {
		uint32_t s[2] = { (uint32_t)m->nhist, 6 };
		put(r, "history", m->hist, 2, s);
	}
	if (checkpoint) {
		put1(r, "opt.m", n->m, n->nparams);
		put1(r, "opt.v", n->v, n->nparams);
	}
}

struct model *
model_member(struct model *m, int i)
{
	return i ? &m->members[i - 1] : m;
}

void
model_save(const char *path, const struct model *m, const struct record *extra, int checkpoint)
{
	struct record r;

	rec_init(&r);
	if (extra)
		rec_copy(&r, extra);
	model_to_record(m, &r, checkpoint);
	params_save(path, &r);
	rec_free(&r);
}

static int
take(const struct record *r, const char *name, float *dst, size_t n)
{
	const struct tensor *t = rec_tensor(r, name);

	if (!t || t->dtype != DT_F32 || tensor_elems(t) != n)
		return -1;
	memcpy(dst, t->data, n * sizeof(float));
	return 0;
}

/* one member's weights, best epoch, temperature and fusion (member_put's) */
static int
member_take(const struct record *r, struct model *m, const char *pre, const char **err)
{
	static char msg[512];
	const struct metaval *v;
	struct net *n = m->net;
	char key[64];

	for (int i = 0; i < n->ntensors; i++) {
		const struct ptensor *t = &n->pt[i];
		snprintf(key, sizeof key, "%s%s", pre, t->name);
		if (take(r, key, ptensor_data(n, t), t->count)) {
			snprintf(msg, sizeof msg, "%slayer %d's weights are missing or of the wrong shape", pre, t->layer + 1);
			*err = msg;
			return -1;
		}
	}
	snprintf(key, sizeof key, "%sbest_epoch", pre);
	v = rec_meta(r, key);
	m->best_epoch = v && v->type == MV_INT ? (int)v->i : 0;
	snprintf(key, sizeof key, "%scalibration.temperature", pre);
	v = rec_meta(r, key);
	m->temperature = v && v->type == MV_FLOAT && v->f > 0 && isfinite(v->f) ? v->f : 1;
	snprintf(key, sizeof key, "%sfusion.late", pre);
	const struct tensor *fw = rec_tensor(r, key);
	if (fw) {
		int k = m->classes.n;
		if (fw->dtype != DT_F32 || fw->ndim != 2 || (int)fw->shape[1] != k || (int)fw->shape[0] < k + 1 ||
		    fw->shape[0] > (uint32_t)(k + 1 + NET_MAXSIDE) || n->nclin) {
			snprintf(msg, sizeof msg, "%sfusion.late is not (classes + clinical values + 1) x classes, or the "
			         "network takes clinical values too", pre);
			*err = msg;
			return -1;
		}
		size_t nw = tensor_elems(fw);
		m->fusion.k = k;
		m->fusion.nclin = (int)fw->shape[0] - k - 1;
		m->fusion.w = emalloc(nw * sizeof *m->fusion.w);
		for (size_t i = 0; i < nw; i++) {
			m->fusion.w[i] = ((const float *)fw->data)[i];
			if (!isfinite(m->fusion.w[i])) {
				snprintf(msg, sizeof msg, "%sfusion.late has NaN or infinite values", pre);
				*err = msg;
				return -1;
			}
		}
	}
	return 0;
}

int
model_load(const char *path, struct model *m, struct record *r, const char **err)
{
	static char msg[512];
	const struct metaval *v;
	struct model_header hd;
	const char *arch, *cls;
	int c, h, w, nclin;

	params_load(path, MODEL_FORMAT, r);
	memset(m, 0, sizeof *m);
	if (model_header_read(r, &hd, err) < 0)
		return -1;
	if (hd.version != MODEL_VERSION) {
		*err = "unsupported model version";
		return -1;
	}
	if (!*hd.arch) {
		*err = "meta arch missing";
		return -1;
	}
	arch = hd.arch;
	cls = hd.classes;
	c = hd.c;
	h = hd.h;
	w = hd.w;
	nclin = hd.nclin;
	if (classes_read(&m->classes, cls, err) < 0)
		return -1;
	m->arch = estrdup(arch);
	m->net = net_new(arch, c, h, w, nclin, m->classes.n, err);
	if (!m->net)
		return -1;
	if (member_take(r, m, "", err) < 0)
		return -1;
	struct net *n = m->net;
	take(r, "opt.m", n->m, n->nparams);
	take(r, "opt.v", n->v, n->nparams);
	const struct tensor *hist = rec_tensor(r, "history");
	if (hist && hist->dtype == DT_F32 && hist->ndim == 2 && hist->shape[1] == 6) {
		m->nhist = (int)hist->shape[0];
		m->hist = emalloc(hist->nbytes ? hist->nbytes : 1);
		memcpy(m->hist, hist->data, hist->nbytes);
	}
	struct prep p;
	prep_read(r, &p);
	/* models written before fuse.* (version 1 all the same) named them so */
	if (!*p.features)
		p.features = rec_meta_s(r, "clinical_features");
	if (!*p.encoding)
		p.encoding = rec_meta_s(r, "clinical_encoding");
	prep_dup(&m->prep, &p);
	v = rec_meta(r, "ensemble");
	if (v && (v->type != MV_INT || v->i < 1 || v->i > MODEL_MAXMEMBERS)) {
		snprintf(msg, sizeof msg, "meta ensemble is not a count of 1 to %d members", MODEL_MAXMEMBERS);
		*err = msg;
		return -1;
	}
	m->nmembers = v ? (int)v->i - 1 : 0;
	m->members = m->nmembers ? ecalloc((size_t)m->nmembers, sizeof *m->members) : NULL;
	for (int i = 0; i < m->nmembers; i++) {
		struct model *e = &m->members[i];
		char pre[16];
		snprintf(pre, sizeof pre, "E%d.", i + 2);
		if (classes_read(&e->classes, cls, err) < 0 || !(e->net = net_new(arch, c, h, w, nclin, e->classes.n, err)))
			return -1;
		if (member_take(r, e, pre, err) < 0)
			return -1;
		if ((e->fusion.k != 0) != (m->fusion.k != 0) || e->fusion.nclin != m->fusion.nclin) {
			snprintf(msg, sizeof msg, "ensemble member %d has another late fusion than the first", i + 2);
			*err = msg;
			return -1;
		}
	}
	*err = NULL;
	return 0;
}

int
model_clinical(const struct model *m)
{
	return m->fusion.k ? m->fusion.nclin : m->net->nclin;
}

void
model_answer(const struct model *m, double *p, const float *clin, int temper)
{
	fusion_apply(&m->fusion, p, clin);
	if (temper)
		metrics_temper(p, m->net->nclasses, m->temperature);
}

void
model_free(struct model *m)
{
	for (int i = 0; i < m->nmembers; i++)
		model_free(&m->members[i]);
	free(m->members);
	net_free(m->net);
	classes_free(&m->classes);
	free(m->arch);
	prep_free(&m->prep);
	free(m->hist);
	fusion_free(&m->fusion);
	memset(m, 0, sizeof *m);
}
