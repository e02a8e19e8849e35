/*
 * input.h - the records of the files named on a command line, one after
 * another, or of standard input when there are none (or for "-").
 */
#ifndef OSTEO_INPUT_H
#define OSTEO_INPUT_H

#include "contract.h"
#include "record.h"
#include "common/base/strmap.h"

struct input {
	char **paths;
	int n, i;
	FILE *fp;
	struct rec_reader *rd;
	int unique;              /* input_unique_ids */
	struct strmap ids;       /* id -> file index << 40 | record number */
};

void input_open(struct input *in, char **paths, int n);
/* from now on a record whose id an earlier record had dies with 65,
 * naming both: ids are unique in a stream (osteo-record(5)), and a
 * program that groups or holds records (osteo-split, osteo-train) would
 * otherwise count one image twice, or put it in two splits */
void input_unique_ids(struct input *in);
/* 1 with the next record, 0 after the last; dies with 66 when a file
 * cannot be opened and 65 on a malformed stream */
int input_read(struct input *in, struct record *r);
/* die with 65 about the record just read, naming file, number and id */
#define input_die(in, r, ...) rec_die((in)->rd, (r), __VA_ARGS__)
void input_close(struct input *in);
/* the inputs' names for a message about all of them ("a.rec, b.rec",
 * "<stdin>"); valid after input_close too */
const char *input_names(const struct input *in);
/* a program that holds records in memory calls this with how many it holds
 * now (r the latest); past --max-records it dies with 65 */
void input_hold(struct input *in, const struct record *r, size_t held);

/*
 * Fit, then apply: a program that fits on its input before it writes
 * (osteo-normalize --fit-stats, osteo-fuse --fit-encoding, osteo-split on
 * standard input) keeps the records of its first pass in a spool, a
 * temporary file gone when the program ends, and reads them back for its
 * later passes as an input of their own, whose messages name the input
 * the records came from.
 */
struct spool {
	FILE *fp;
	struct rec_writer *w;
};
void spool_open(struct spool *s);             /* dies with 73 */
void spool_add(struct spool *s, const struct record *r);
void spool_end(struct spool *s);              /* the first pass is done (74 on a write error) */
/* the spool from its start, as in (input_close leaves the spool open) */
void spool_input(struct spool *s, struct input *in, const char *name);
void spool_close(struct spool *s);

/* what a trained model takes: the image's shape, the clinical features,
 * and how the training records were normalised and encoded */
struct expect {
	int c, h, w, nclin;
	struct prep prep;        /* the training records' (contract.h) */
};
/* refuse (65) a record the model was not trained for; strict also
 * compares normalisation and encoding */
void input_expect(struct input *in, const struct record *r, const struct expect *e, int strict);

#endif
