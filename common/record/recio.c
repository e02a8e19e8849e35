/*
 * recio.c - the msgpack codec of the record stream (osteo-record(5)), the
 * only file that speaks msgpack.
 *
 * Reading buffers one whole record (checked header by header first, see
 * skim()) and unpacks it with msgpack-c, so memory holds one record plus
 * a read buffer however long the stream.  Binary tensor data is copied out
 * of the buffer into the record's own reusable buffers; everything else is
 * small.  Keys the reader does not interpret are kept packed in the
 * record's extra, written back as they came, and shown as JSON by
 * rec_extra_json.
 */
#include "common/base/json.h"
#include "record.h"
#include "recpriv.h"
#include "common/base/util.h"

#include <errno.h>
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- */
/* reading */

/*
 * msgpack-c allocates a container's objects as soon as it reads the
 * container's header, so five bytes announcing 2^32 entries would ask for
 * 128 GiB.  The reader therefore skims each record's headers first
 * (skim(), allocating nothing) until the whole record is in its buffer,
 * and only then hands it to msgpack_unpack_next(): a complete record's
 * containers cannot announce more entries than it has bytes.
 */
#define SKIM_DEPTH 32

struct skim {
	size_t pos;                    /* next header, from the record's start */
	size_t want;                   /* bytes the record needs at least */
	int depth;
	uint64_t left[SKIM_DEPTH];     /* objects still to come, per open container */
};

struct rec_reader {
	FILE *fp;
	char *name;
	unsigned char *buf;
	size_t cap, len, off;          /* buf[off..len) is unparsed */
	size_t consumed;               /* stream bytes before buf[off] */
	struct skim sk;
	msgpack_unpacked res;
	unsigned long long nrec;   /* records returned so far */
	size_t start;              /* byte offset of the record being parsed */
	int eof;
	/* packs unknown keys back into bytes for the record's extra */
	msgpack_sbuffer xbuf;
	msgpack_packer xpk;
};

#define READ_CHUNK 65536

/* ready for the next record: one object to come, at the record's start */
static void
skim_reset(struct skim *sk)
{
	memset(sk, 0, sizeof *sk);
	sk->depth = 1;
	sk->left[0] = 1;
}

struct rec_reader *
rec_reader_new(FILE *fp, const char *name)
{
	struct rec_reader *rd = ecalloc(1, sizeof *rd);

	rd->fp = fp;
	rd->name = estrdup(name);
	skim_reset(&rd->sk);
	msgpack_unpacked_init(&rd->res);
	msgpack_sbuffer_init(&rd->xbuf);
	msgpack_packer_init(&rd->xpk, &rd->xbuf, msgpack_sbuffer_write);
	return rd;
}

void
rec_reader_free(struct rec_reader *rd)
{
	if (!rd)
		return;
	msgpack_unpacked_destroy(&rd->res);
	free(rd->buf);
	msgpack_sbuffer_destroy(&rd->xbuf);
	free(rd->name);
	free(rd);
}

unsigned long long
rec_reader_count(const struct rec_reader *rd)
{
	return rd->nrec;
}

const char *
rec_reader_name(const struct rec_reader *rd)
{
	return rd->name;
}

static void __attribute__((noreturn, format(printf, 2, 3)))
bad(const struct rec_reader *rd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: %s: record %llu (byte offset %zu): ", argv0, rd->name,
	        rd->nrec + 1, rd->start);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	quit(EX_DATAERR);
}

void
rec_die(const struct rec_reader *rd, const struct record *r, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: %s: record %llu", argv0, rd->name, rd->nrec);
	if (r && r->id && r->id[0])
		fprintf(stderr, " (id '%s')", r->id);
	fputs(": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	quit(EX_DATAERR);
}

static int
keyis(const msgpack_object *k, const char *s)
{
	size_t n = strlen(s);

	return k->via.str.size == n && !memcmp(k->via.str.ptr, s, n);
}

static int
get_int(const msgpack_object *o, long long *v)
{
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		if (o->via.u64 > INT64_MAX)
			return 0;
		*v = (long long)o->via.u64;
		return 1;
	}
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*v = o->via.i64;
		return 1;
	}
	return 0;
}

static int
get_num(const msgpack_object *o, double *v)
{
	long long i;

	if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64) {
		*v = o->via.f64;
		return 1;
	}
	if (get_int(o, &i)) {
		*v = (double)i;
		return 1;
	}
	return 0;
}

/* an id, patient, key or string value past --max-string */
static void
check_str(const struct rec_reader *rd, const msgpack_object *o, const char *what)
{
	if (o->via.str.size > rec_limits.max_string)
		bad(rd, "%s is %u bytes long, more than the limit of %zu (--max-string)", what,
		    o->via.str.size, rec_limits.max_string);
}

static void
parse_meta(struct rec_reader *rd, struct record *r, const msgpack_object *o)
{
	if (o->type != MSGPACK_OBJECT_MAP)
		bad(rd, "'meta' is not a map");
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;
		const msgpack_object *v = &o->via.map.ptr[i].val;
		struct metaval *m;

		if (k->type != MSGPACK_OBJECT_STR)
			bad(rd, "a 'meta' key is not a string");
		check_str(rd, k, "a 'meta' key");
		if (v->type == MSGPACK_OBJECT_STR)
			check_str(rd, v, "a 'meta' value");
		m = meta_slot(r, k->via.str.ptr, k->via.str.size);
		switch (v->type) {
		case MSGPACK_OBJECT_STR:
			m->type = MV_STR;
			setstr(&m->s, &m->scap, v->via.str.ptr, v->via.str.size);
			break;
		case MSGPACK_OBJECT_BOOLEAN:
			m->type = MV_BOOL;
			m->i = v->via.boolean;
			break;
		case MSGPACK_OBJECT_FLOAT32:
		case MSGPACK_OBJECT_FLOAT64:
			m->type = MV_FLOAT;
			m->f = v->via.f64;
			break;
		default:
			if (!get_int(v, &m->i))
				bad(rd, "meta '%s' is not a string, number or boolean", m->key);
			m->type = MV_INT;
		}
	}
}

static void
parse_tensor(struct rec_reader *rd, struct record *r, const msgpack_object *k,
             const msgpack_object *o)
{
	const msgpack_object *dt = NULL, *sh = NULL, *data = NULL;
	uint32_t shape[TENSOR_MAXDIM];
	struct tensor *t;
	enum dtype dtype;
	const char *err;
	int tn = (int)k->via.str.size;
	const char *tname = k->via.str.ptr;

	check_str(rd, k, "a tensor name");
	if (o->type != MSGPACK_OBJECT_MAP)
		bad(rd, "tensor '%.*s' is not a map", tn, tname);
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object *kk = &o->via.map.ptr[i].key;
		if (kk->type != MSGPACK_OBJECT_STR)
			continue;
		if (keyis(kk, "dtype"))
			dt = &o->via.map.ptr[i].val;
		else if (keyis(kk, "shape"))
			sh = &o->via.map.ptr[i].val;
		else if (keyis(kk, "data"))
			data = &o->via.map.ptr[i].val;
	}
	if (!dt || dt->type != MSGPACK_OBJECT_STR ||
	    !dtype_parse(dt->via.str.ptr, dt->via.str.size, &dtype))
		bad(rd, "tensor '%.*s' has no dtype u8, u16 or f32", tn, tname);
	if (!sh || sh->type != MSGPACK_OBJECT_ARRAY)
		bad(rd, "tensor '%.*s' has no shape array", tn, tname);
	if (sh->via.array.size > TENSOR_MAXDIM)
		bad(rd, "tensor '%.*s' has %u dimensions, more than %d", tn, tname,
		    sh->via.array.size, TENSOR_MAXDIM);
	for (uint32_t i = 0; i < sh->via.array.size; i++) {
		long long d;
		if (!get_int(&sh->via.array.ptr[i], &d) || d < 0 || d > UINT32_MAX)
			bad(rd, "tensor '%.*s' has a bad dimension", tn, tname);
		shape[i] = (uint32_t)d;
	}
	if (!data || (data->type != MSGPACK_OBJECT_BIN && data->type != MSGPACK_OBJECT_STR))
		bad(rd, "tensor '%.*s' has no binary data", tn, tname);
	t = tensor_slot(r, tname, (size_t)tn);
	if ((err = tensor_shape(t, dtype, (int)sh->via.array.size, shape)))
		bad(rd, "tensor '%.*s': %s", tn, tname, err);
	if (data->via.bin.size != t->nbytes)
		bad(rd, "tensor '%.*s': data has %u bytes, its shape needs %zu", tn, tname,
		    data->via.bin.size, t->nbytes);
	/* a 0-element tensor has no buffer yet, and memcpy(NULL, ...) is undefined */
	if (t->nbytes)
		memcpy(t->data, data->via.bin.ptr, t->nbytes);
}

static void
parse_record(struct rec_reader *rd, struct record *r, const msgpack_object *o)
{
	int have_id = 0, have_tensors = 0;

	if (o->type != MSGPACK_OBJECT_MAP)
		bad(rd, "not a map");
	rec_clear(r);
	msgpack_sbuffer_clear(&rd->xbuf);
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;
		const msgpack_object *v = &o->via.map.ptr[i].val;

		if (k->type != MSGPACK_OBJECT_STR)
			bad(rd, "a key is not a string");
		if (keyis(k, "id")) {
			if (v->type != MSGPACK_OBJECT_STR)
				bad(rd, "'id' is not a string");
			check_str(rd, v, "'id'");
			setstr(&r->id, &r->idcap, v->via.str.ptr, v->via.str.size);
			have_id = 1;
		} else if (keyis(k, "patient")) {
			if (v->type == MSGPACK_OBJECT_NIL)
				continue;
			if (v->type != MSGPACK_OBJECT_STR)
				bad(rd, "'patient' is not a string");
			check_str(rd, v, "'patient'");
			setstr(&r->patient, &r->patcap, v->via.str.ptr, v->via.str.size);
			r->has_patient = 1;
		} else if (keyis(k, "label")) {
			if (v->type == MSGPACK_OBJECT_NIL)
				continue;
			if (!get_int(v, &r->label) || r->label < 0 || r->label > INT32_MAX)
				bad(rd, "'label' is not a class index (a non-negative integer)");
			r->has_label = 1;
		} else if (keyis(k, "meta")) {
			parse_meta(rd, r, v);
		} else if (keyis(k, "tensors")) {
			if (v->type != MSGPACK_OBJECT_MAP)
				bad(rd, "'tensors' is not a map");
			for (uint32_t j = 0; j < v->via.map.size; j++) {
				if (v->via.map.ptr[j].key.type != MSGPACK_OBJECT_STR)
					bad(rd, "a tensor name is not a string");
				parse_tensor(rd, r, &v->via.map.ptr[j].key, &v->via.map.ptr[j].val);
			}
			have_tensors = 1;
		} else if (keyis(k, "probs")) {
			if (v->type != MSGPACK_OBJECT_ARRAY)
				bad(rd, "'probs' is not an array");
			egrow((void **)&r->probs, &r->probscap,
			      (size_t)v->via.array.size * sizeof *r->probs);
			for (uint32_t j = 0; j < v->via.array.size; j++)
				if (!get_num(&v->via.array.ptr[j], &r->probs[j]))
					bad(rd, "'probs' holds something that is not a number");
			r->nprobs = (int)v->via.array.size;
			r->has_probs = 1;
		} else if (keyis(k, "pred")) {
			if (!get_int(v, &r->pred))
				bad(rd, "'pred' is not an integer");
			r->has_pred = 1;
		} else if (keyis(k, "risk")) {
			if (!get_num(v, &r->risk))
				bad(rd, "'risk' is not a number");
			r->has_risk = 1;
		} else {
			msgpack_pack_object(&rd->xpk, *k);
			msgpack_pack_object(&rd->xpk, *v);
			r->nextra++;
		}
	}
	if (!have_id)
		bad(rd, "no 'id'");
	if (!have_tensors)
		bad(rd, "no 'tensors' (id '%s')", r->id);
	egrow((void **)&r->extra, &r->extracap, rd->xbuf.size);
	if (rd->xbuf.size)
		memcpy(r->extra, rd->xbuf.data, rd->xbuf.size);
	r->extralen = rd->xbuf.size;
}

static uint64_t
be(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * Walk the headers of the record in p[0..n) from where the last call
 * stopped.  1: the record is complete, sk->pos bytes long; 0: more bytes
 * are needed (at least sk->want in all); -1: not msgpack, or nested
 * deeper than SKIM_DEPTH.
 */
static int
skim(struct skim *sk, const unsigned char *p, size_t n)
{
	while (sk->depth > 0) {
		size_t at = sk->pos, hdr, body = 0;
		uint64_t items = 0;
		unsigned c;

		if (at >= n) {
			sk->want = at + 1;
			return 0;
		}
		c = p[at];
		if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
			hdr = 1;
		else if (c >= 0x80 && c <= 0x8f)
			hdr = 1, items = 2 * (uint64_t)(c & 0x0f);
		else if (c >= 0x90 && c <= 0x9f)
			hdr = 1, items = c & 0x0f;
		else if (c >= 0xa0 && c <= 0xbf)
			hdr = 1, body = c & 0x1f;
		else if (c == 0xc1)
			return -1;
		else {
			/* header lengths of 0xc4..0xdf: bin, ext, float, uint, int, fixext, str, array, map */
			static const unsigned char hl[] = { 2, 3, 5, 3, 4, 6, 5, 9, 2, 3, 5, 9, 2, 3, 5, 9,
			                                    3, 4, 6, 10, 18, 2, 3, 5, 3, 5, 3, 5 };
			hdr = hl[c - 0xc4];
			if (at + hdr > n) {
				sk->want = at + hdr;
				return 0;
			}
			const unsigned char *h = p + at + 1;
			switch (c) {
			case 0xc4: case 0xd9: body = h[0]; break;
			case 0xc5: case 0xda: body = be(h, 2); break;
			case 0xc6: case 0xdb: body = be(h, 4); break;
			case 0xc7: body = h[0]; break;
			case 0xc8: body = be(h, 2); break;
			case 0xc9: body = be(h, 4); break;
			case 0xdc: items = be(h, 2); break;
			case 0xdd: items = be(h, 4); break;
			case 0xde: items = 2 * be(h, 2); break;
			case 0xdf: items = 2 * be(h, 4); break;
			}
		}
		if (at + hdr + body > n) {
			sk->want = at + hdr + body;
			return 0;
		}
		sk->pos = at + hdr + body;
		sk->left[sk->depth - 1]--;
		if (items) {
			if (sk->depth == SKIM_DEPTH)
				return -1;
			sk->left[sk->depth++] = items;
		}
		while (sk->depth > 0 && sk->left[sk->depth - 1] == 0)
			sk->depth--;
	}
	return 1;
}

int
rec_read(struct rec_reader *rd, struct record *r)
{
	for (;;) {
		const unsigned char *p = rd->buf ? rd->buf + rd->off : NULL;
		size_t have = rd->len - rd->off;
		int k;

		rd->start = rd->consumed;
		if (have > 0 && (k = skim(&rd->sk, p, have)) != 0) {
			size_t len = rd->sk.pos, used = 0;
			if (k < 0)
				bad(rd, "malformed msgpack; this is not a record stream");
			if (len > rec_limits.max_record_bytes)
				bad(rd, "%zu bytes, more than the record limit of %zu (--max-record-bytes)", len,
				    rec_limits.max_record_bytes);
			switch (msgpack_unpack_next(&rd->res, (const char *)p, len, &used)) {
			case MSGPACK_UNPACK_SUCCESS:
				break;
			case MSGPACK_UNPACK_NOMEM_ERROR:
				die(EX_OSERR, "%s: out of memory reading record %llu", rd->name, rd->nrec + 1);
			default:
				bad(rd, "malformed msgpack; this is not a record stream");
			}
			rd->off += len;
			rd->consumed += len;
			skim_reset(&rd->sk);
			parse_record(rd, r, &rd->res.data);
			rd->nrec++;
			return 1;
		}
		if (have > 0 && rd->sk.want > rec_limits.max_record_bytes)
			bad(rd, "more than the record limit of %zu bytes (--max-record-bytes)",
			    rec_limits.max_record_bytes);
		if (rd->eof) {
			if (have > 0)
				bad(rd, "truncated: the stream ends inside it");
			return 0;
		}
		/* keep the record's bytes at the buffer's start, then read at least
		 * what the record is known to need */
		if (rd->off) {
			memmove(rd->buf, rd->buf + rd->off, have);
			rd->len = have;
			rd->off = 0;
		}
		size_t need = have ? rd->sk.want - have : 0;
		if (need < READ_CHUNK)
			need = READ_CHUNK;
		egrow((void **)&rd->buf, &rd->cap, have + need);
		size_t n = fread(rd->buf + rd->len, 1, need, rd->fp);
		if (n == 0) {
			if (ferror(rd->fp))
				die(EX_IOERR, "%s: read error:", rd->name);
			rd->eof = 1;
		}
		rd->len += n;
	}
}

/* ---------------------------------------------------------------- */
/* writing */

struct rec_writer {
	FILE *fp;
	char *name;
	msgpack_sbuffer buf;
	msgpack_packer pk;
	unsigned long long n;
};

struct rec_writer *
rec_writer_new(FILE *fp, const char *name)
{
	struct rec_writer *w = ecalloc(1, sizeof *w);

	out_refuse_tty(fp);
	w->fp = fp;
	w->name = estrdup(name);
	msgpack_sbuffer_init(&w->buf);
	msgpack_packer_init(&w->pk, &w->buf, msgpack_sbuffer_write);
	return w;
}

unsigned long long
rec_writer_count(const struct rec_writer *w)
{
	return w->n;
}

static void
pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static void
pack_tensor(msgpack_packer *pk, const struct tensor *t)
{
	pack_str(pk, t->name);
	msgpack_pack_map(pk, 3);
	pack_str(pk, "dtype");
	pack_str(pk, dtype_name(t->dtype));
	pack_str(pk, "shape");
	msgpack_pack_array(pk, t->ndim);
	for (int i = 0; i < t->ndim; i++)
		msgpack_pack_uint32(pk, t->shape[i]);
	pack_str(pk, "data");
	msgpack_pack_bin(pk, t->nbytes);
	msgpack_pack_bin_body(pk, t->data, t->nbytes);
}

static void
pack_record(msgpack_packer *pk, const struct record *r)
{
	size_t nkeys = 2 + !!r->has_patient + !!r->has_label + (r->nmeta > 0) +
	               !!r->has_probs + !!r->has_pred + !!r->has_risk + r->nextra;

	msgpack_pack_map(pk, nkeys);
	pack_str(pk, "id");
	pack_str(pk, r->id);
	if (r->has_patient) {
		pack_str(pk, "patient");
		pack_str(pk, r->patient);
	}
	if (r->has_label) {
		pack_str(pk, "label");
		msgpack_pack_int64(pk, r->label);
	}
	if (r->nmeta > 0) {
		pack_str(pk, "meta");
		msgpack_pack_map(pk, r->nmeta);
		for (int i = 0; i < r->nmeta; i++) {
			const struct metaval *m = &r->meta[i];
			pack_str(pk, m->key);
			switch (m->type) {
			case MV_STR: pack_str(pk, m->s); break;
			case MV_INT: msgpack_pack_int64(pk, m->i); break;
			case MV_FLOAT: msgpack_pack_double(pk, m->f); break;
			case MV_BOOL:
				if (m->i)
					msgpack_pack_true(pk);
				else
					msgpack_pack_false(pk);
				break;
			}
		}
	}
	pack_str(pk, "tensors");
	msgpack_pack_map(pk, r->ntensors);
	for (int i = 0; i < r->ntensors; i++)
		pack_tensor(pk, &r->tensors[i]);
	if (r->has_probs) {
		pack_str(pk, "probs");
		msgpack_pack_array(pk, r->nprobs);
		for (int i = 0; i < r->nprobs; i++)
			msgpack_pack_double(pk, r->probs[i]);
	}
	if (r->has_pred) {
		pack_str(pk, "pred");
		msgpack_pack_int64(pk, r->pred);
	}
	if (r->has_risk) {
		pack_str(pk, "risk");
		msgpack_pack_double(pk, r->risk);
	}
}

void
rec_write(struct rec_writer *w, const struct record *r)
{
	msgpack_sbuffer_clear(&w->buf);
	pack_record(&w->pk, r);
	if (r->extralen)
		msgpack_sbuffer_write(&w->buf, (const char *)r->extra, r->extralen);
	if (fwrite(w->buf.data, 1, w->buf.size, w->fp) != w->buf.size)
		write_failed(w->name);
	w->n++;
}

int
rec_writer_close(struct rec_writer *w)
{
	int st = 0;

	if (!w)
		return 0;
	/* standard output is closed here, with a check: close(2) is where a
	 * file system that writes behind (NFS) reports a failed write */
	if (w->fp == stdout)
		st = fshut(w->fp, w->name);
	else if (fflush(w->fp) == EOF || ferror(w->fp)) {
		if (errno == EPIPE)
			st = EXIT_PIPE;
		else {
			warn("%s: write error:", w->name);
			st = EX_IOERR;
		}
	}
	msgpack_sbuffer_destroy(&w->buf);
	free(w->name);
	free(w);
	return st;
}

/* ---------------------------------------------------------------- */
/* the extra keys as JSON, for osteo-dump */

static void
json_obj(FILE *fp, const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL: fputs("null", fp); break;
	case MSGPACK_OBJECT_BOOLEAN: fputs(o->via.boolean ? "true" : "false", fp); break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER: fprintf(fp, "%llu", (unsigned long long)o->via.u64); break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: fprintf(fp, "%lld", (long long)o->via.i64); break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: json_num(fp, o->via.f64, 17); break;
	case MSGPACK_OBJECT_STR: json_str(fp, o->via.str.ptr, o->via.str.size); break;
	case MSGPACK_OBJECT_BIN: fprintf(fp, "{\"bin\":%u}", o->via.bin.size); break;
	case MSGPACK_OBJECT_EXT: fprintf(fp, "{\"ext\":%d,\"size\":%u}", o->via.ext.type, o->via.ext.size); break;
	case MSGPACK_OBJECT_ARRAY:
		fputc('[', fp);
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			if (i)
				fputc(',', fp);
			json_obj(fp, &o->via.array.ptr[i]);
		}
		fputc(']', fp);
		break;
	case MSGPACK_OBJECT_MAP:
		fputc('{', fp);
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object *k = &o->via.map.ptr[i].key;
			if (i)
				fputc(',', fp);
			if (k->type == MSGPACK_OBJECT_STR)
				json_obj(fp, k);
			else {
				/* JSON keys are strings: render the key, then quote it */
				fputc('"', fp);
				if (k->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
					fprintf(fp, "%llu", (unsigned long long)k->via.u64);
				else
					fputs("?", fp);
				fputc('"', fp);
			}
			fputc(':', fp);
			json_obj(fp, &o->via.map.ptr[i].val);
		}
		fputc('}', fp);
		break;
	}
}

void
rec_extra_json(FILE *fp, const struct record *r)
{
	msgpack_unpacked u;
	size_t off = 0;

	msgpack_unpacked_init(&u);
	for (int i = 0; i < r->nextra; i++) {
		if (msgpack_unpack_next(&u, (const char *)r->extra, r->extralen, &off) !=
		    MSGPACK_UNPACK_SUCCESS)
			break;
		fputc(',', fp);
		json_obj(fp, &u.data);
		fputc(':', fp);
		if (msgpack_unpack_next(&u, (const char *)r->extra, r->extralen, &off) !=
		    MSGPACK_UNPACK_SUCCESS)
			break;
		json_obj(fp, &u.data);
	}
	msgpack_unpacked_destroy(&u);
}
