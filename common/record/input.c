/*
 * input.c - reading the records of several files as one stream, the spool
 * of a program that fits before it applies, and what a model expects.
 */
#include "input.h"
#include "common/record/contract.h"
#include "common/base/util.h"

#include <string.h>

void
input_open(struct input *in, char **paths, int n)
{
	static char *dash[] = { "-" };

	memset(in, 0, sizeof *in);
	in->paths = n ? paths : dash;
	in->n = n ? n : 1;
}

static void
next_file(struct input *in)
{
	const char *p = in->paths[in->i];

	if (!strcmp(p, "-")) {
		in->fp = stdin;
		in->rd = rec_reader_new(stdin, "<stdin>");
		return;
	}
	in->fp = fopen(p, "rb");
	if (!in->fp)
		die(EX_NOINPUT, "%s: cannot open:", p);
	in->rd = rec_reader_new(in->fp, p);
}

static void
end_file(struct input *in)
{
	rec_reader_free(in->rd);
	if (in->fp && in->fp != stdin)
		fclose(in->fp);
	in->fp = NULL;
	in->rd = NULL;
}

void
input_unique_ids(struct input *in)
{
	in->unique = 1;
	strmap_init(&in->ids);
}

static void
check_unique(struct input *in, const struct record *r)
{
	long here = (long)in->i << 40 | (long)rec_reader_count(in->rd);

	if (!r->id || !strmap_put(&in->ids, r->id, here))
		return;
	long there = strmap_get(&in->ids, r->id);
	const char *file = in->paths[there >> 40];
	input_die(in, r, "the same id as record %ld of %s: ids are unique in a stream", there & ((1L << 40) - 1),
	          strcmp(file, "-") ? file : "<stdin>");
}

int
input_read(struct input *in, struct record *r)
{
	while (in->i < in->n) {
		if (!in->rd)
			next_file(in);
		if (rec_read(in->rd, r)) {
			if (in->unique)
				check_unique(in, r);
			return 1;
		}
		end_file(in);
		in->i++;
	}
	return 0;
}

void
input_close(struct input *in)
{
	end_file(in);
	if (in->unique)
		strmap_free(&in->ids);
	in->unique = 0;
}

void
spool_open(struct spool *s)
{
	if (!(s->fp = tmpfile()))
		die(EX_CANTCREAT, "cannot create a temporary file:");
	s->w = rec_writer_new(s->fp, "<spool>");
}

void
spool_add(struct spool *s, const struct record *r)
{
	rec_write(s->w, r);
}

void
spool_end(struct spool *s)
{
	if (rec_writer_close(s->w))
		die(EX_IOERR, "temporary file: write error:");
	s->w = NULL;
}

void
spool_input(struct spool *s, struct input *in, const char *name)
{
	static char *paths[] = { "<spool>" };

	rewind(s->fp);
	/* no fp of its own: input_close frees the reader, the spool stays */
	*in = (struct input){ .paths = paths, .n = 1, .rd = rec_reader_new(s->fp, name) };
}

void
spool_close(struct spool *s)
{
	if (s->w)
		spool_end(s);
	fclose(s->fp);
	s->fp = NULL;
}

void
input_expect(struct input *in, const struct record *r, const struct expect *e, int strict)
{
	const struct tensor *t = rec_tensor(r, TENSOR_IMAGE), *c = rec_tensor(r, TENSOR_CLINICAL);
	int k = c ? (int)tensor_elems(c) : 0;

	if (!t || t->ndim != 3)
		input_die(in, r, "no 'image' tensor [C,H,W]");
	if ((int)t->shape[0] != e->c || (int)t->shape[1] != e->h || (int)t->shape[2] != e->w)
		input_die(in, r, "image is %ux%ux%u; the model takes %dx%dx%d (normalise with the training settings)",
		          t->shape[0], t->shape[1], t->shape[2], e->c, e->h, e->w);
	if (k != e->nclin)
		input_die(in, r, "%d clinical features; the model was trained with %d (%s)", k, e->nclin,
		          *e->prep.features ? e->prep.features : "none");
	if (!strict)
		return;
	struct prep p;
	const char *mine, *theirs, *key;
	prep_read(r, &p);
	if ((key = prep_differs(&p, &e->prep, e->nclin > 0, &mine, &theirs)))
		input_die(in, r, "%s '%s'; the model was trained on '%s' (%s; or --no-check)",
		          !strncmp(key, "norm.", 5) ? "normalised by method or statistics" : "clinical features or encoding",
		          mine, theirs, key);
	char why[1024];
	if (*e->prep.chain && prep_chain_check(p.chain, e->prep.chain, why, sizeof why) < 0)
		input_die(in, r, "prepared otherwise than the model's training records: %s (or --no-check)", why);
	if (split_check(r, e->prep.splits, 0, why, sizeof why) < 0)
		input_die(in, r, "%s (or --no-check)", why);
}

void
input_hold(struct input *in, const struct record *r, size_t held)
{
	if (held > rec_limits.max_records)
		input_die(in, r, "more than %zu records to hold in memory (--max-records)",
		          rec_limits.max_records);
}

const char *
input_names(const struct input *in)
{
	static char buf[512];
	size_t len = 0;

	buf[0] = '\0';
	for (int i = 0; i < in->n && len < sizeof buf - 1; i++) {
		const char *p = strcmp(in->paths[i], "-") ? in->paths[i] : "<stdin>";
		int k = snprintf(buf + len, sizeof buf - len, "%s%s", i ? ", " : "", p);
		len = k < 0 ? len : len + (size_t)k;
	}
	return buf;
}
