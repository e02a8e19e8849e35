/*
 * osteo-fuse - join clinical data onto records by patient, encoded as the
 * f32 tensor `clinical` that the network's fusion layer reads.
 *
 * Numbers are z-scored, yes/no columns become 0/1 and other columns
 * one-hot, with the encoding (means, deviations, levels) fitted on the
 * training split's patients (--fit-encoding) and applied elsewhere
 * (--encoding), so nothing of validation or test data shapes it.  Fitting
 * reads the whole stream first, spooling it to a temporary file.  While
 * fitting, a column that on its own predicts the label almost perfectly is
 * reported: a T-score that defines the class is label leakage.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "common/record/contract.h"
#include "common/clinical/encoding.h"
#include "common/record/input.h"
#include "common/dicom/pseudo.h"
#include "common/record/record.h"
#include "common/base/strmap.h"
#include "common/clinical/table.h"
#include "common/base/util.h"
#include "common/record/cli.h"

static const char usage[] =
	"osteo-fuse [-q] --clinical FILE.csv [--key COLUMN] [--columns A,B,...]\n"
	"       [--fit-encoding FILE | --encoding FILE] [--missing error|impute|skip]\n"
	"       [--leak-threshold F] [--pseudonymize KEYFILE] [FILE|-]...";
static const char options[] =
	"  --clinical FILE.csv    the clinical table, one row per patient\n"
	"  --key COLUMN           the column that names the patient (default patient)\n"
	"  --columns A,B,...      the columns to fuse (default: all but the key and the label)\n"
	"  --fit-encoding FILE    fit the encoding on these records (training) and save it\n"
	"  --encoding FILE        apply a saved encoding (validation, test, new data)\n"
	"  --missing error|impute|skip  a missing value: refuse, the training mean or mode, or drop (default error)\n"
	"  --leak-threshold F     warn of a column that predicts the label this well (default 0.95)\n"
	"  --pseudonymize KEYFILE join by the keyed hash of the key column, as osteo-decode writes it\n";

enum missing { MISS_ERROR, MISS_IMPUTE, MISS_SKIP };
static const char *const missings[] = { "error", "impute", "skip" };

struct opts {
	const char *clinical;
	const char *key;
	const char *columns;
	const char *fit_encoding;
	const char *encoding;
	const char *keyfile;
	enum missing missing;
	double leak;
	char **inputs;
	int ninputs;
};

struct counts {
	unsigned long long records, no_row, missing_values, skipped, unseen, from_meta;
};

static void
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_CLIN = 256, O_KEY, O_COLS, O_FIT, O_ENC, O_MISSING, O_LEAK, O_PSEUDO };
	static const struct option longopts[] = {
		{ "clinical", required_argument, 0, O_CLIN },
		{ "key", required_argument, 0, O_KEY },
		{ "columns", required_argument, 0, O_COLS },
		{ "fit-encoding", required_argument, 0, O_FIT },
		{ "encoding", required_argument, 0, O_ENC },
		{ "missing", required_argument, 0, O_MISSING },
		{ "leak-threshold", required_argument, 0, O_LEAK },
		{ "pseudonymize", required_argument, 0, O_PSEUDO },
		CLI_COMMON_OPTIONS
	};
	int c, found;

	memset(o, 0, sizeof *o);
	o->key = "patient";
	o->leak = 0.95;
	cli_help(options);
	while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (c) {
		case O_CLIN: o->clinical = optarg; break;
		case O_KEY: o->key = optarg; break;
		case O_COLS: o->columns = optarg; break;
		case O_FIT: o->fit_encoding = optarg; break;
		case O_ENC: o->encoding = optarg; break;
		case O_MISSING:
			found = 0;
			for (int i = 0; i < 3; i++)
				if (!strcmp(optarg, missings[i]))
					o->missing = (enum missing)i, found = 1;
			if (!found)
				die(EX_USAGE, "--missing: '%s' is not error, impute or skip", optarg);
			break;
		case O_LEAK: o->leak = estrtod(optarg, 0, 1, "--leak-threshold"); break;
		case O_PSEUDO: o->keyfile = optarg; break;
		default: cli_common(c, usage);
		}
	}
	if (!o->clinical)
		usage_error(usage, "--clinical names the CSV to join");
	if (o->fit_encoding && o->encoding)
		usage_error(usage, "--fit-encoding fits an encoding, --encoding applies one: give one");
	o->inputs = argv + optind;
	o->ninputs = argc - optind;
}

/* ---------------------------------------------------------------- */
/* the columns */

/* under --pseudonymize no column that identifies a patient is taken, even
 * named: its values would be features' names in every record */
static void
check_identifiers(const struct encoding *e, const struct opts *o, const char *where)
{
	const char *what;

	if (!o->keyfile)
		return;
	for (int i = 0; i < e->ncols; i++)
		if ((what = enc_identifier(e->col[i].name)))
			die(EX_DATAERR, "%s: column '%s' looks like %s, which --pseudonymize keeps out of every record",
			    where, e->col[i].name, what);
}

static void
choose_columns(struct encoding *e, const struct opts *o, const struct table *t)
{
	snprintf(e->key, sizeof e->key, "%s", o->key);
	e->ncols = 0;
	if (o->columns) {
		const char *p = o->columns;
		for (;;) {
			size_t len = strcspn(p, ",");
			if (!len)
				die(EX_USAGE, "--columns: an empty name");
			if (e->ncols == MAXCOLS)
				die(EX_USAGE, "--columns: more than %d", MAXCOLS);
			char *name = emalloc(len + 1);
			memcpy(name, p, len);
			name[len] = '\0';
			if (!strcmp(name, o->key))
				die(EX_USAGE, "--columns: '%s' is the key", name);
			e->col[e->ncols++].name = name;
			if (!p[len])
				break;
			p += len + 1;
		}
	} else {
		/* everything but the key, the answer and what identifies a
		 * patient: one-hot encoded, a name would be a feature's name in
		 * every record and in the encoding file */
		struct text skipped = { 0 };
		for (int i = 0; i < t->ncols; i++) {
			const char *n = t->cells[i];   /* row 0: the header */
			const char *what = enc_identifier(n);
			if (!strcmp(n, o->key) || !strcmp(n, "label") || !strcmp(n, "class"))
				continue;
			if (what) {
				if (o->keyfile)
					die(EX_DATAERR, "%s: column '%s' looks like %s, which --pseudonymize keeps out of "
					    "every record; name the columns to use with --columns", o->clinical, n, what);
				text_add(&skipped, "%s'%s' (%s)", skipped.s ? ", " : "", n, what);
				continue;
			}
			if (e->ncols == MAXCOLS)
				die(EX_DATAERR, "%s: more than %d columns to encode, the limit; name the ones to use "
				    "with --columns", o->clinical, MAXCOLS);
			e->col[e->ncols++].name = estrdup(n);
		}
		if (skipped.s)
			warn("%s: skipped columns that look like they identify a patient: %s (name one in "
			     "--columns to use it)", o->clinical, skipped.s);
		free(skipped.s);
	}
	check_identifiers(e, o, o->clinical);
	enc_bind(e, t, o->clinical);
}

/* ---------------------------------------------------------------- */
/* joining */

/* the record's own value for a column, from its meta (a DICOM header's
 * age and sex, say: osteo-decode puts them there), as text; "" if none */
static const char *
meta_value(const struct record *r, const char *name, char *buf, size_t n)
{
	const struct metaval *m = rec_meta(r, name);

	if (!m)
		return "";
	switch (m->type) {
	case MV_STR: return m->s;
	case MV_INT: snprintf(buf, n, "%lld", m->i); return buf;
	case MV_BOOL: return m->i ? "yes" : "no";
	default: snprintf(buf, n, "%.17g", m->f); return buf;
	}
}

/* a column's value: the CSV row's, else the record's meta */
static const char *
value_of(const struct column *c, const struct table *t, long row, const struct record *r, char *buf, size_t n)
{
	const char *x = row >= 0 ? table_cell(t, row, c->csv) : "";

	return enc_missing(x) ? meta_value(r, c->name, buf, n) : x;
}

/* every column has a value in the record's meta */
static int
meta_has_all(const struct encoding *e, const struct record *r)
{
	char buf[64];

	for (int i = 0; i < e->ncols; i++)
		if (enc_missing(meta_value(r, e->col[i].name, buf, sizeof buf)))
			return 0;
	return 1;
}

/* a CSV row made of the record's meta, for a patient the CSV lacks */
static long
meta_row(const struct encoding *e, struct table *t, int key, const struct record *r, struct strmap *rows)
{
	char **cells = emalloc((size_t)t->ncols * sizeof *cells), buf[64];

	for (int j = 0; j < t->ncols; j++)
		cells[j] = estrdup(j == key ? r->patient : "");
	for (int i = 0; i < e->ncols; i++) {
		free(cells[e->col[i].csv]);
		cells[e->col[i].csv] = estrdup(meta_value(r, e->col[i].name, buf, sizeof buf));
	}
	table_add_row(t, cells);
	free(cells);
	strmap_put(rows, r->patient, (long)t->nrows - 1);
	return (long)t->nrows - 1;
}

/* 1 written into out, 0 to skip the record; dies per --missing */
static int
encode_row(const struct encoding *e, const struct table *t, long row, float *out,
           const struct opts *o, struct input *in, const struct record *r, struct counts *cn)
{
	int f = 0;
	double v;
	char buf[64];

	for (int i = 0; i < e->ncols; i++) {
		const struct column *c = &e->col[i];
		const char *x = value_of(c, t, row, r, buf, sizeof buf);
		int miss = enc_missing(x), ok = 1;
		if (c->type == C_NUMBER) {
			ok = miss || enc_number(x, &v);
			out[f++] = miss ? 0.0f : (float)(c->sd > 0 ? (v - c->mean) / c->sd : 0);
		} else if (c->type == C_BINARY) {
			int b = miss ? -1 : enc_bool(x);
			ok = miss || b >= 0;
			out[f++] = miss ? (float)c->mean : (float)b;
		} else {
			int l = miss ? -1 : enc_level(c, x);
			if (!miss && l < 0)
				cn->unseen++;   /* a level training never saw: all zeros */
			for (int j = 0; j < c->nlevels; j++)
				out[f + j] = miss ? (float)c->freq[j] : (float)(l == j);
			f += c->nlevels;
		}
		if (!ok)
			input_die(in, r, "%s: patient '%s', column '%s': '%s' is not a %s", o->clinical,
			          r->patient, c->name, x, c->type == C_NUMBER ? "number" : "yes/no value");
		if (miss && row >= 0) {
			cn->missing_values++;
			if (o->missing == MISS_ERROR)
				input_die(in, r, "%s: patient '%s' has no value in column '%s' (see --missing)",
				          o->clinical, r->patient, c->name);
			if (o->missing == MISS_SKIP)
				return 0;
		}
	}
	return 1;
}

static void
fuse_one(const struct encoding *e, const struct table *t, const struct strmap *rows,
         const struct opts *o, struct input *in, struct record *r, struct rec_writer *out,
         struct counts *cn)
{
	long row = r->has_patient ? strmap_get(rows, r->patient) : -1;
	uint32_t shape[1] = { (uint32_t)e->nfeatures };
	const char *err;
	struct tensor *c;

	cn->records++;
	/* no CSV row: the header's values, when the record has them all */
	if (row < 0 && meta_has_all(e, r))
		cn->from_meta++;
	else if (row < 0) {
		cn->no_row++;
		if (o->missing == MISS_ERROR) {
			if (!r->has_patient)
				input_die(in, r, "no 'patient' to join on");
			input_die(in, r, "%s: no row for patient '%s' (see --missing)", o->clinical, r->patient);
		}
		if (o->missing == MISS_SKIP) {
			cn->skipped++;
			return;
		}
	}
	if (!(c = rec_tensor_put(r, TENSOR_CLINICAL, DT_F32, 1, shape, &err)))
		input_die(in, r, "clinical: %s", err);
	if (!encode_row(e, t, row, c->data, o, in, r, cn)) {
		cn->skipped++;
		return;
	}
	prep_write_fuse(r, e->features, e->fingerprint);
	prep_step(r, "fuse", "features", e->features, "encoding", e->fingerprint, NULL);
	rec_write(out, r);
}

/* --pseudonymize: the table's keys as osteo-decode --pseudonymize writes
 * the records' patients, so the two join with neither holding the other's
 * identifiers */
static void
pseudonymize_keys(struct table *t, int key, const char *keyfile)
{
	struct pseudo *p = emalloc(sizeof *p);
	char out[80];

	pseudo_load(p, keyfile);
	for (size_t i = 0; i < t->nrows; i++) {
		char **cell = &t->cells[(i + 1) * (size_t)t->ncols + key];
		if (!**cell)
			continue;
		pseudo_make(p, "patient", *cell, out, sizeof out);
		free(*cell);
		*cell = estrdup(out);
	}
	free(p);
}

static void
index_rows(const struct table *t, int key, struct strmap *rows)
{
	strmap_init(rows);
	for (size_t i = 0; i < t->nrows; i++) {
		const char *k = table_cell(t, i, key);
		if (!*k)
			die(EX_DATAERR, "%s: row %zu has no key", t->path, i + 2);
		if (strmap_put(rows, k, (long)i))
			die(EX_DATAERR, "%s: row %zu: patient '%s' appears twice", t->path, i + 2, k);
	}
}

/*
 * No --encoding: fit it on the patients of this stream (spooled for the
 * second pass), check the columns for leakage, save it (--fit-encoding),
 * then fuse the spooled records with it.
 */
static void
fit_then_fuse(struct encoding *e, struct table *t, int key, struct strmap *rows, const struct opts *o,
              struct input *in, struct record *r, struct rec_writer *out, struct counts *cn)
{
	struct spool spool;
	long *seen = ecalloc(t->nrows + 1, sizeof *seen), *labels = emalloc((t->nrows + 1) * sizeof *labels), nl = 0;

	spool_open(&spool);
	for (size_t i = 0; i < t->nrows; i++)
		labels[i] = -1;
	choose_columns(e, o, t);
	while (input_read(in, r)) {
		long row = r->has_patient ? strmap_get(rows, r->patient) : -1;
		if (row < 0 && r->has_patient && meta_has_all(e, r)) {
			/* a patient the CSV lacks, fitted on with its header's values */
			row = meta_row(e, t, key, r, rows);
			seen = erealloc(seen, (t->nrows + 1) * sizeof *seen);
			labels = erealloc(labels, (t->nrows + 1) * sizeof *labels);
			seen[row] = 0;
			labels[row] = -1;
		}
		if (row >= 0) {
			seen[row] = 1;
			if (r->has_label && r->label < 16) {
				labels[row] = r->label;
				nl = r->label + 1 > nl ? r->label + 1 : nl;
			}
		}
		spool_add(&spool, r);
	}
	spool_end(&spool);
	enc_fit(e, t, seen);
	enc_check_leakage(e, t, labels, nl, o->leak);
	enc_seal(e, o->fit_encoding);
	if (!o->fit_encoding)
		info("no --fit-encoding or --encoding: the encoding is fitted on this stream only");
	/* errors in the second pass name the input, not the spool */
	struct input sp;
	spool_input(&spool, &sp, o->ninputs == 1 ? o->inputs[0] : "<input>");
	while (input_read(&sp, r))
		fuse_one(e, t, rows, o, &sp, r, out, cn);
	input_close(&sp);
	spool_close(&spool);
	free(seen);
	free(labels);
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct encoding e = { 0 };
	struct table *t;
	struct strmap rows;
	struct input in;
	struct record r;
	struct counts cn = { 0 };
	struct rec_writer *out;
	int key, st;

	/* arguments */
	cli_init(argv[0]);
	parse_args(argc, argv, &o);

	/* prepare */
	t = table_load(o.clinical);
	if ((key = table_col(t, o.key)) < 0)
		die(EX_DATAERR, "%s: no key column '%s' (--key)", o.clinical, o.key);
	if (o.keyfile)
		pseudonymize_keys(t, key, o.keyfile);
	index_rows(t, key, &rows);
	out = rec_writer_new(stdout, "<stdout>");
	input_open(&in, o.inputs, o.ninputs);
	rec_init(&r);

	/* process */
	if (o.encoding) {
		enc_load(o.encoding, &e);
		check_identifiers(&e, &o, o.encoding);
		enc_bind(&e, t, o.clinical);
		while (input_read(&in, &r))
			fuse_one(&e, t, &rows, &o, &in, &r, out, &cn);
	} else
		fit_then_fuse(&e, t, key, &rows, &o, &in, &r, out, &cn);

	/* clean up */
	if (cn.from_meta)
		info("%llu records without a clinical row fused from their own header values (meta)", cn.from_meta);
	if (cn.no_row || cn.missing_values || cn.unseen)
		info("%llu records: %llu without a clinical row, %llu missing values (%s), "
		     "%llu unseen categories, %llu skipped", cn.records, cn.no_row, cn.missing_values,
		     missings[o.missing], cn.unseen, cn.skipped);
	input_close(&in);
	st = rec_writer_close(out);
	rec_free(&r);
	table_free(t);
	strmap_free(&rows);
	return st;
}
