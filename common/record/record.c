/*
 * record.c - the record in memory (osteo-record(5)): tensors, meta,
 * copies.  Reading and writing streams is recio.c's.
 */
#include "record.h"
#include "recpriv.h"
#include "common/base/util.h"

#include <stdlib.h>
#include <string.h>

struct rec_limits rec_limits = {
	.max_tensor_bytes = (size_t)1 << 30,
	.max_record_bytes = (size_t)1 << 31,
	.max_string = (size_t)1 << 16,
	.max_records = 1000000,
};

static const struct {
	const char *name;
	size_t size;
} dtypes[DT_COUNT] = {
	[DT_U8] = { "u8", 1 },
	[DT_U16] = { "u16", 2 },
	[DT_F32] = { "f32", 4 },
};

size_t
dtype_size(enum dtype t)
{
	return dtypes[t].size;
}

const char *
dtype_name(enum dtype t)
{
	return dtypes[t].name;
}

int
dtype_parse(const char *s, size_t len, enum dtype *t)
{
	for (int i = 0; i < DT_COUNT; i++)
		if (strlen(dtypes[i].name) == len && !memcmp(dtypes[i].name, s, len)) {
			*t = (enum dtype)i;
			return 1;
		}
	return 0;
}

size_t
tensor_elems(const struct tensor *t)
{
	size_t n = 1;

	for (int i = 0; i < t->ndim; i++)
		n *= t->shape[i];
	return n;
}

/* ---------------------------------------------------------------- */
/* the record in memory */

void
setstr(char **dst, size_t *cap, const char *s, size_t len)
{
	egrow((void **)dst, cap, len + 1);
	memcpy(*dst, s, len);
	(*dst)[len] = '\0';
}

void
rec_init(struct record *r)
{
	memset(r, 0, sizeof *r);
	rec_clear(r);
}

void
rec_clear(struct record *r)
{
	setstr(&r->id, &r->idcap, "", 0);
	setstr(&r->patient, &r->patcap, "", 0);
	r->has_patient = 0;
	r->has_label = 0;
	r->label = 0;
	r->nmeta = 0;
	r->ntensors = 0;
	r->has_probs = 0;
	r->nprobs = 0;
	r->has_pred = 0;
	r->pred = 0;
	r->has_risk = 0;
	r->risk = 0;
	r->extralen = 0;
	r->nextra = 0;
}

void
rec_free(struct record *r)
{
	free(r->id);
	free(r->patient);
	for (int i = 0; i < r->metacap; i++) {
		free(r->meta[i].key);
		free(r->meta[i].s);
	}
	free(r->meta);
	for (int i = 0; i < r->tensorcap; i++) {
		free(r->tensors[i].name);
		free(r->tensors[i].data);
	}
	free(r->tensors);
	free(r->probs);
	free(r->extra);
	memset(r, 0, sizeof *r);
}

void
rec_set_id(struct record *r, const char *id)
{
	setstr(&r->id, &r->idcap, id, strlen(id));
}

void
rec_set_patient(struct record *r, const char *patient)
{
	r->has_patient = patient != NULL;
	if (patient)
		setstr(&r->patient, &r->patcap, patient, strlen(patient));
}

struct tensor *
rec_tensor(const struct record *r, const char *name)
{
	for (int i = 0; i < r->ntensors; i++)
		if (!strcmp(r->tensors[i].name, name))
			return &r->tensors[i];
	return NULL;
}

struct tensor *
tensor_slot(struct record *r, const char *name, size_t len)
{
	struct tensor *t;

	for (int i = 0; i < r->ntensors; i++) {
		t = &r->tensors[i];
		if (strlen(t->name) == len && !memcmp(t->name, name, len))
			return t;
	}
	if (r->ntensors == r->tensorcap) {
		int nc = r->tensorcap ? 2 * r->tensorcap : 4;
		r->tensors = erealloc(r->tensors, nc * sizeof *r->tensors);
		memset(r->tensors + r->tensorcap, 0, (nc - r->tensorcap) * sizeof *r->tensors);
		r->tensorcap = nc;
	}
	t = &r->tensors[r->ntensors++];
	setstr(&t->name, &t->namecap, name, len);
	return t;
}

/* size the tensor for dtype and shape, checking for overflow and limits */
const char *
tensor_shape(struct tensor *t, enum dtype dtype, int ndim, const uint32_t *shape)
{
	size_t n = dtype_size(dtype), span = n;

	if (ndim < 0 || ndim > TENSOR_MAXDIM)
		return "too many dimensions";
	/* span treats a 0 as 1, so an empty tensor cannot carry dimensions
	 * whose products overflow in the code that reads its shape */
	for (int i = 0; i < ndim; i++)
		if (shape[i] > INT32_MAX || !mul_ok(n, shape[i], &n) ||
		    !mul_ok(span, shape[i] ? shape[i] : 1, &span))
			return "size overflows";
	if (span > rec_limits.max_tensor_bytes) {
		static char msg[128];
		snprintf(msg, sizeof msg, "%zu bytes, more than the limit of %zu (--max-tensor-bytes)", span,
		         rec_limits.max_tensor_bytes);
		return msg;
	}
	t->dtype = dtype;
	t->ndim = ndim;
	memcpy(t->shape, shape, ndim * sizeof *shape);
	t->nbytes = n;
	/* never NULL, even for an empty tensor: callers memcpy to and from it */
	egrow(&t->data, &t->cap, n ? n : 1);
	return NULL;
}

struct tensor *
rec_tensor_put(struct record *r, const char *name, enum dtype dtype,
               int ndim, const uint32_t *shape, const char **err)
{
	struct tensor *t = tensor_slot(r, name, strlen(name));

	if ((*err = tensor_shape(t, dtype, ndim, shape))) {
		rec_tensor_drop(r, name);
		return NULL;
	}
	return t;
}

void
rec_tensor_drop(struct record *r, const char *name)
{
	for (int i = 0; i < r->ntensors; i++) {
		if (strcmp(r->tensors[i].name, name))
			continue;
		/* swap the dropped slot (and its buffers) past the end, keeping order */
		struct tensor tmp = r->tensors[i];
		memmove(&r->tensors[i], &r->tensors[i + 1], (r->ntensors - i - 1) * sizeof tmp);
		r->tensors[--r->ntensors] = tmp;
		return;
	}
}

const struct metaval *
rec_meta(const struct record *r, const char *key)
{
	for (int i = 0; i < r->nmeta; i++)
		if (!strcmp(r->meta[i].key, key))
			return &r->meta[i];
	return NULL;
}

const char *
rec_meta_s(const struct record *r, const char *key)
{
	const struct metaval *m = rec_meta(r, key);

	return m && m->type == MV_STR ? m->s : "";
}

struct metaval *
meta_slot(struct record *r, const char *key, size_t len)
{
	struct metaval *m;

	for (int i = 0; i < r->nmeta; i++) {
		m = &r->meta[i];
		if (strlen(m->key) == len && !memcmp(m->key, key, len))
			return m;
	}
	if (r->nmeta == r->metacap) {
		int nc = r->metacap ? 2 * r->metacap : 8;
		r->meta = erealloc(r->meta, nc * sizeof *r->meta);
		memset(r->meta + r->metacap, 0, (nc - r->metacap) * sizeof *r->meta);
		r->metacap = nc;
	}
	m = &r->meta[r->nmeta++];
	setstr(&m->key, &m->keycap, key, len);
	return m;
}

void
rec_meta_str(struct record *r, const char *key, const char *val)
{
	struct metaval *m = meta_slot(r, key, strlen(key));

	m->type = MV_STR;
	setstr(&m->s, &m->scap, val, strlen(val));
}

void
rec_meta_int(struct record *r, const char *key, long long val)
{
	struct metaval *m = meta_slot(r, key, strlen(key));

	m->type = MV_INT;
	m->i = val;
}

void
rec_meta_float(struct record *r, const char *key, double val)
{
	struct metaval *m = meta_slot(r, key, strlen(key));

	m->type = MV_FLOAT;
	m->f = val;
}

void
rec_meta_bool(struct record *r, const char *key, int val)
{
	struct metaval *m = meta_slot(r, key, strlen(key));

	m->type = MV_BOOL;
	m->i = !!val;
}

void
rec_set_probs(struct record *r, const double *p, int n)
{
	egrow((void **)&r->probs, &r->probscap, (size_t)n * sizeof *p);
	memcpy(r->probs, p, (size_t)n * sizeof *p);
	r->nprobs = n;
	r->has_probs = 1;
}

void
rec_copy(struct record *dst, const struct record *src)
{
	rec_clear(dst);
	rec_set_id(dst, src->id);
	rec_set_patient(dst, src->has_patient ? src->patient : NULL);
	dst->has_label = src->has_label;
	dst->label = src->label;
	for (int i = 0; i < src->nmeta; i++) {
		const struct metaval *m = &src->meta[i];
		struct metaval *d = meta_slot(dst, m->key, strlen(m->key));
		d->type = m->type;
		d->i = m->i;
		d->f = m->f;
		if (m->type == MV_STR)
			setstr(&d->s, &d->scap, m->s, strlen(m->s));
	}
	for (int i = 0; i < src->ntensors; i++) {
		const struct tensor *t = &src->tensors[i];
		struct tensor *d = tensor_slot(dst, t->name, strlen(t->name));
		tensor_shape(d, t->dtype, t->ndim, t->shape);
		memcpy(d->data, t->data, t->nbytes);
	}
	if (src->has_probs)
		rec_set_probs(dst, src->probs, src->nprobs);
	dst->has_pred = src->has_pred;
	dst->pred = src->pred;
	dst->has_risk = src->has_risk;
	dst->risk = src->risk;
	egrow((void **)&dst->extra, &dst->extracap, src->extralen);
	if (src->extralen)
		memcpy(dst->extra, src->extra, src->extralen);
	dst->extralen = src->extralen;
	dst->nextra = src->nextra;
}
