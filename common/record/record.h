/*
 * record.h - the record stream that osteo-record(5) specifies (man/osteo-record.5,
 * the normative copy).
 *
 * A stream is msgpack maps back to back.  A struct record is reused from
 * one record to the next: rec_clear() forgets the contents but keeps every
 * buffer, so a filter touches fresh memory only when a record is larger
 * than any before it.  Only recio.c speaks msgpack; unknown keys are kept
 * as their packed bytes and written back untouched.
 */
#ifndef OSTEO_RECORD_H
#define OSTEO_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum dtype { DT_U8, DT_U16, DT_F32, DT_COUNT };

#define TENSOR_MAXDIM 8

struct tensor {
	char *name;
	size_t namecap;
	enum dtype dtype;
	int ndim;
	uint32_t shape[TENSOR_MAXDIM];
	void *data;        /* little-endian, row-major, nbytes long */
	size_t nbytes;
	size_t cap;
};

enum metatype { MV_STR, MV_INT, MV_FLOAT, MV_BOOL };

struct metaval {
	char *key;
	size_t keycap;
	enum metatype type;
	char *s;
	size_t scap;
	long long i;       /* MV_INT and MV_BOOL */
	double f;
};

struct record {
	char *id;
	size_t idcap;
	int has_patient;
	char *patient;
	size_t patcap;
	int has_label;
	long long label;
	int nmeta, metacap;
	struct metaval *meta;
	int ntensors, tensorcap;
	struct tensor *tensors;
	int has_probs;
	int nprobs;
	size_t probscap;
	double *probs;
	int has_pred;
	long long pred;
	int has_risk;
	double risk;
	unsigned char *extra;  /* packed key/value pairs we do not interpret */
	size_t extralen, extracap;
	int nextra;
};

/* guards against hostile streams; every program takes the options
 * --max-tensor-bytes, --max-record-bytes, --max-string and --max-records
 * (cli_common) to change them; osteo(7) LIMITS lists them */
struct rec_limits {
	size_t max_tensor_bytes;
	size_t max_record_bytes;
	size_t max_string;      /* an id, patient, key or string value; a CSV cell */
	size_t max_records;     /* records a program holds in memory at once */
};
extern struct rec_limits rec_limits;

size_t dtype_size(enum dtype t);
const char *dtype_name(enum dtype t);
int dtype_parse(const char *s, size_t len, enum dtype *t);
size_t tensor_elems(const struct tensor *t);

void rec_init(struct record *r);
void rec_clear(struct record *r);
void rec_free(struct record *r);
void rec_copy(struct record *dst, const struct record *src);
void rec_set_id(struct record *r, const char *id);
void rec_set_patient(struct record *r, const char *patient);

struct tensor *rec_tensor(const struct record *r, const char *name);
/* find or add the tensor and size its data for dtype and shape; the
 * contents are undefined.  NULL (and *err set) when the size overflows or
 * exceeds rec_limits.max_tensor_bytes */
struct tensor *rec_tensor_put(struct record *r, const char *name, enum dtype dtype,
                              int ndim, const uint32_t *shape, const char **err);
void rec_tensor_drop(struct record *r, const char *name);

const struct metaval *rec_meta(const struct record *r, const char *key);
/* a string meta value, or "" when absent or not a string */
const char *rec_meta_s(const struct record *r, const char *key);
void rec_meta_str(struct record *r, const char *key, const char *val);
void rec_meta_int(struct record *r, const char *key, long long val);
void rec_meta_float(struct record *r, const char *key, double val);
void rec_meta_bool(struct record *r, const char *key, int val);

void rec_set_probs(struct record *r, const double *p, int n);

/* reading: rec_read() returns 1 with a record, 0 at the end of the stream,
 * and dies (status 65) naming the stream, the record's number and byte
 * offset on a truncated or malformed one */
struct rec_reader;
struct rec_reader *rec_reader_new(FILE *fp, const char *name);
int rec_read(struct rec_reader *rd, struct record *r);
unsigned long long rec_reader_count(const struct rec_reader *rd);
const char *rec_reader_name(const struct rec_reader *rd);
void rec_reader_free(struct rec_reader *rd);
/* die with status 65 about the record just read, naming stream, number, id */
void rec_die(const struct rec_reader *rd, const struct record *r, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));

/* writing: records are buffered by stdio (a record may span writes); a
 * failed write dies with 74, a broken pipe exits quietly.  Closing the
 * writer flushes it and returns that status (0, 74 or EXIT_PIPE); the
 * writer of standard output closes stdout too, with a check */
struct rec_writer;
struct rec_writer *rec_writer_new(FILE *fp, const char *name);
void rec_write(struct rec_writer *w, const struct record *r);
unsigned long long rec_writer_count(const struct rec_writer *w);
int rec_writer_close(struct rec_writer *w);

/* JSON of the keys the reader does not interpret: ",\"key\":value" each */
void rec_extra_json(FILE *fp, const struct record *r);

#endif
