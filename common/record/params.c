/*
 * params.c - one-record parameter files and their fingerprints.
 */
#include "params.h"
#include "common/base/rng.h"
#include "common/base/util.h"

#include <stdio.h>
#include <string.h>

/*
 * FNV-1a over the bytes, each field ended by its length so that "ab","c"
 * and "a","bc" differ; mixed at the end by hash_str.  Meta and tensors
 * are hashed in the record's order, which a file read back keeps, so a
 * loaded file has the fingerprint it was saved with.
 */
static uint64_t
mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	for (int i = 0; i < 8; i++)
		h = (h ^ ((n >> (8 * i)) & 0xff)) * 0x100000001b3ULL;
	return h;
}

static uint64_t
mix_str(uint64_t h, const char *s)
{
	return mix(h, s, strlen(s));
}

uint64_t
rec_digest(uint64_t h, const struct record *r)
{
	char buf[64];

	if (!h)
		h = 0xcbf29ce484222325ULL;
	h = mix_str(h, r->id ? r->id : "");
	for (int i = 0; i < r->nmeta; i++) {
		const struct metaval *m = &r->meta[i];
		if (!strcmp(m->key, "fingerprint"))
			continue;
		h = mix_str(h, m->key);
		switch (m->type) {
		case MV_STR: h = mix_str(h, m->s); break;
		case MV_FLOAT: snprintf(buf, sizeof buf, "f%.17g", m->f); h = mix_str(h, buf); break;
		default: snprintf(buf, sizeof buf, "%c%lld", m->type == MV_BOOL ? 'b' : 'i', m->i); h = mix_str(h, buf);
		}
	}
	for (int i = 0; i < r->ntensors; i++) {
		const struct tensor *t = &r->tensors[i];
		int n = snprintf(buf, sizeof buf, "%s", dtype_name(t->dtype));
		for (int d = 0; d < t->ndim; d++)
			n += snprintf(buf + n, sizeof buf - n, " %u", t->shape[d]);
		h = mix_str(mix_str(h, t->name), buf);
		h = mix(h, t->data, t->nbytes);
	}
	return h;
}

void
digest_hex(uint64_t h, char out[17])
{
	char buf[24];

	snprintf(buf, sizeof buf, "%016llx", (unsigned long long)h);
	snprintf(out, 17, "%016llx", (unsigned long long)hash_str(0, buf));
}

const char *
params_fingerprint(struct record *r)
{
	char hex[17];

	digest_hex(rec_digest(0, r), hex);
	rec_meta_str(r, "fingerprint", hex);
	return rec_meta_s(r, "fingerprint");
}

void
params_save(const char *path, const struct record *r)
{
	char *tmp;
	FILE *fp = atomic_open(path, &tmp);
	struct rec_writer *w = rec_writer_new(fp, tmp);
	int st;

	rec_write(w, r);
	/* the writer flushes; atomic_commit fsyncs, closes and renames */
	if ((st = rec_writer_close(w)))
		quit(st);
	atomic_commit(fp, tmp, path);
}

void
params_load(const char *path, const char *kind, struct record *r)
{
	FILE *fp = fopen(path, "rb");
	struct rec_reader *rd;
	const struct metaval *k;

	if (!fp)
		die(EX_NOINPUT, "%s: cannot open:", path);
	rd = rec_reader_new(fp, path);
	if (!rec_read(rd, r))
		die(EX_DATAERR, "%s: empty; expected %s", path, kind);
	k = rec_meta(r, "kind");
	if (!k || k->type != MV_STR || strcmp(k->s, kind))
		die(EX_DATAERR, "%s: not %s", path, kind);
	rec_reader_free(rd);
	fclose(fp);
}

static const struct metaval *
need(const char *path, const struct record *r, const char *key, int ok)
{
	const struct metaval *m = rec_meta(r, key);

	if (!m || !(ok >> m->type & 1))
		die(EX_DATAERR, "%s: no '%s' of the right type", path, key);
	return m;
}

const char *
params_str(const char *path, const struct record *r, const char *key)
{
	return need(path, r, key, 1 << MV_STR)->s;
}

long long
params_int(const char *path, const struct record *r, const char *key)
{
	return need(path, r, key, 1 << MV_INT | 1 << MV_BOOL)->i;
}

double
params_float(const char *path, const struct record *r, const char *key)
{
	const struct metaval *m = need(path, r, key, 1 << MV_FLOAT | 1 << MV_INT);

	return m->type == MV_FLOAT ? m->f : (double)m->i;
}
