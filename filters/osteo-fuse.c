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
#include <ctype.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/contract.h"
#include "../common/input.h"
#include "../common/params.h"
#include "../common/pseudo.h"
#include "../common/record.h"
#include "../common/strmap.h"
#include "../common/table.h"
#include "../common/util.h"

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

#define ENC_KIND "osteo-fuse encoding"
#define MAXCOLS 256
#define MAXLEVELS 64

enum coltype { C_NUMBER, C_BINARY, C_CATEGORY };
static const char *const coltypes[] = { "number", "binary", "category" };
enum missing { MISS_ERROR, MISS_IMPUTE, MISS_SKIP };
static const char *const missings[] = { "error", "impute", "skip" };

struct column {
	char *name;
	int csv;                  /* index in the CSV */
	enum coltype type;
	double mean, sd;          /* number: z-score; binary: mean is P(yes) */
	int nlevels;
	char *levels[MAXLEVELS];
	double freq[MAXLEVELS];   /* for imputing a category */
};

struct encoding {
	char key[256];
	int ncols;
	struct column col[MAXCOLS];
	int nfeatures;
	char *features;           /* comma-separated names */
	char fingerprint[24];
};

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
/* values */

static int
is_missing(const char *s)
{
	return !*s || !strcasecmp(s, "na") || !strcasecmp(s, "nan") || !strcmp(s, "?");
}

static int
as_number(const char *s, double *v)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	*v = strtod(s, &end);
	while (isspace((unsigned char)*end))
		end++;
	return end != s && !*end && isfinite(*v);
}

/* 1 yes, 0 no, -1 neither */
static int
as_bool(const char *s)
{
	static const char *const yes[] = { "yes", "y", "true", NULL };
	static const char *const no[] = { "no", "n", "false", NULL };

	for (int i = 0; yes[i]; i++)
		if (!strcasecmp(s, yes[i]))
			return 1;
	for (int i = 0; no[i]; i++)
		if (!strcasecmp(s, no[i]))
			return 0;
	return -1;
}

static int
level_of(const struct column *c, const char *s)
{
	for (int i = 0; i < c->nlevels; i++)
		if (!strcmp(c->levels[i], s))
			return i;
	return -1;
}

/* ---------------------------------------------------------------- */
/* the encoding */

static void
name_features(struct encoding *e)
{
	size_t len = 0, cap = 0;

	e->nfeatures = 0;
	free(e->features);
	e->features = NULL;
	egrow((void **)&e->features, &cap, 1);
	e->features[0] = '\0';
	for (int i = 0; i < e->ncols; i++) {
		struct column *c = &e->col[i];
		int n = c->type == C_CATEGORY ? c->nlevels : 1;
		for (int j = 0; j < n; j++) {
			size_t need = strlen(c->name) + (c->type == C_CATEGORY ? strlen(c->levels[j]) + 1 : 0) + 2;
			egrow((void **)&e->features, &cap, len + need + 1);
			len += (size_t)sprintf(e->features + len, "%s%s%s%s", len ? "," : "", c->name,
			                       c->type == C_CATEGORY ? "=" : "",
			                       c->type == C_CATEGORY ? c->levels[j] : "");
			e->nfeatures++;
		}
	}
}

/* the encoding as a parameter record (params.h), without its fingerprint */
static void
enc_record(const struct encoding *e, struct record *r)
{
	char k[64];

	rec_set_id(r, "encoding");
	rec_meta_str(r, "kind", ENC_KIND);
	rec_meta_str(r, "key", e->key);
	rec_meta_int(r, "columns", e->ncols);
	rec_meta_int(r, "features", e->nfeatures);
	rec_meta_str(r, "feature_names", e->features);
	for (int i = 0; i < e->ncols; i++) {
		const struct column *c = &e->col[i];
		snprintf(k, sizeof k, "col%d.name", i);
		rec_meta_str(r, k, c->name);
		snprintf(k, sizeof k, "col%d.type", i);
		rec_meta_str(r, k, coltypes[c->type]);
		snprintf(k, sizeof k, "col%d.mean", i);
		rec_meta_float(r, k, c->mean);
		snprintf(k, sizeof k, "col%d.sd", i);
		rec_meta_float(r, k, c->sd);
		snprintf(k, sizeof k, "col%d.levels", i);
		rec_meta_int(r, k, c->nlevels);
		for (int j = 0; j < c->nlevels; j++) {
			snprintf(k, sizeof k, "col%d.level%d", i, j);
			rec_meta_str(r, k, c->levels[j]);
			snprintf(k, sizeof k, "col%d.freq%d", i, j);
			rec_meta_float(r, k, c->freq[j]);
		}
	}
}

/* name a fitted encoding by its contents, and save it when path is given */
static void
enc_seal(struct encoding *e, const char *path)
{
	struct record r;

	rec_init(&r);
	enc_record(e, &r);
	snprintf(e->fingerprint, sizeof e->fingerprint, "%s", params_fingerprint(&r));
	if (path)
		params_save(path, &r);
	rec_free(&r);
}

static void
enc_load(const char *path, struct encoding *e)
{
	struct record r;
	char k[64];

	rec_init(&r);
	params_load(path, ENC_KIND, &r);
	snprintf(e->key, sizeof e->key, "%s", params_str(path, &r, "key"));
	e->ncols = (int)params_int(path, &r, "columns");
	if (e->ncols < 0 || e->ncols > MAXCOLS)
		die(EX_DATAERR, "%s: %d columns", path, e->ncols);
	for (int i = 0; i < e->ncols; i++) {
		struct column *c = &e->col[i];
		int t = -1;
		snprintf(k, sizeof k, "col%d.name", i);
		c->name = estrdup(params_str(path, &r, k));
		snprintf(k, sizeof k, "col%d.type", i);
		for (int j = 0; j < 3; j++)
			if (!strcmp(params_str(path, &r, k), coltypes[j]))
				t = j;
		if (t < 0)
			die(EX_DATAERR, "%s: '%s' is not a column type", path, k);
		c->type = (enum coltype)t;
		snprintf(k, sizeof k, "col%d.mean", i);
		c->mean = params_float(path, &r, k);
		snprintf(k, sizeof k, "col%d.sd", i);
		c->sd = params_float(path, &r, k);
		snprintf(k, sizeof k, "col%d.levels", i);
		c->nlevels = (int)params_int(path, &r, k);
		if (c->nlevels < 0 || c->nlevels > MAXLEVELS)
			die(EX_DATAERR, "%s: %d levels", path, c->nlevels);
		for (int j = 0; j < c->nlevels; j++) {
			snprintf(k, sizeof k, "col%d.level%d", i, j);
			c->levels[j] = estrdup(params_str(path, &r, k));
			snprintf(k, sizeof k, "col%d.freq%d", i, j);
			c->freq[j] = params_float(path, &r, k);
		}
	}
	name_features(e);
	snprintf(e->fingerprint, sizeof e->fingerprint, "%s", params_str(path, &r, "fingerprint"));
	rec_free(&r);
}

/* the encoding's columns in the CSV; an unknown one is bad data */
static void
bind_columns(struct encoding *e, const struct table *t, const char *path)
{
	for (int i = 0; i < e->ncols; i++)
		if ((e->col[i].csv = table_col(t, e->col[i].name)) < 0)
			die(EX_DATAERR, "%s: no column '%s'", path, e->col[i].name);
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
	} else
		/* everything but the key and the answer */
		for (int i = 0; i < t->ncols && e->ncols < MAXCOLS; i++) {
			const char *n = t->cells[i];   /* row 0: the header */
			if (strcmp(n, o->key) && strcmp(n, "label") && strcmp(n, "class"))
				e->col[e->ncols++].name = estrdup(n);
		}
	bind_columns(e, t, o->clinical);
}

static int
by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* fit each column on the rows of the patients seen (rows[i] != 0) */
static void
fit_columns(struct encoding *e, const struct table *t, const long *rows)
{
	for (int i = 0; i < e->ncols; i++) {
		struct column *c = &e->col[i];
		long n = 0, nnum = 0, nbool = 0;
		double s = 0, s2 = 0, v;
		for (size_t r = 0; r < t->nrows; r++) {
			const char *x = table_cell(t, r, c->csv);
			if (!rows[r] || is_missing(x))
				continue;
			n++;
			nnum += as_number(x, &v);
			nbool += as_bool(x) >= 0;
		}
		c->type = n && nnum == n ? C_NUMBER : n && nbool == n ? C_BINARY : C_CATEGORY;
		c->nlevels = 0;
		for (size_t r = 0; r < t->nrows; r++) {
			const char *x = table_cell(t, r, c->csv);
			if (!rows[r] || is_missing(x))
				continue;
			if (c->type == C_NUMBER) {
				as_number(x, &v);
			} else if (c->type == C_BINARY) {
				v = as_bool(x);
			} else {
				if (level_of(c, x) < 0) {
					if (c->nlevels == MAXLEVELS)
						die(EX_DATAERR, "%s: column '%s' has more than %d categories",
						    t->path, c->name, MAXLEVELS);
					c->levels[c->nlevels++] = estrdup(x);
				}
				continue;
			}
			s += v;
			s2 += v * v;
		}
		if (c->type == C_CATEGORY) {
			qsort(c->levels, c->nlevels, sizeof *c->levels, by_str);
			for (size_t r = 0; r < t->nrows; r++) {
				const char *x = table_cell(t, r, c->csv);
				if (rows[r] && !is_missing(x))
					c->freq[level_of(c, x)] += 1.0 / n;
			}
		}
		c->mean = n ? s / n : 0;
		c->sd = n ? sqrt(fmax(s2 / n - c->mean * c->mean, 0)) : 0;
	}
	name_features(e);
}

/* ---------------------------------------------------------------- */
/* leakage: how well one column alone predicts the label */

static int
by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * Accuracy over the fitted patients of the simplest one-column rule:
 * nearest class median for numbers, the majority class per level for the
 * rest.  labels[r] is the row's label, -1 when unknown.
 */
static double
column_accuracy(const struct column *c, const struct table *t, const long *labels, long nl, long *n)
{
	long right = 0;
	double v;

	*n = 0;
	if (c->type == C_NUMBER) {
		double *med = ecalloc(nl, sizeof *med), *vals = emalloc(t->nrows * sizeof *vals);
		for (long k = 0; k < nl; k++) {
			long m = 0;
			for (size_t r = 0; r < t->nrows; r++)
				if (labels[r] == k && as_number(table_cell(t, r, c->csv), &v))
					vals[m++] = v;
			qsort(vals, m, sizeof *vals, by_double);
			med[k] = m ? vals[m / 2] : NAN;
		}
		for (size_t r = 0; r < t->nrows; r++) {
			if (labels[r] < 0 || !as_number(table_cell(t, r, c->csv), &v))
				continue;
			long best = -1;
			for (long k = 0; k < nl; k++)
				if (!isnan(med[k]) && (best < 0 || fabs(v - med[k]) < fabs(v - med[best])))
					best = k;
			right += best == labels[r];
			(*n)++;
		}
		free(med);
		free(vals);
	} else {
		/* per distinct value, the most common label */
		struct strmap seen;
		long (*cnt)[16] = ecalloc(t->nrows, sizeof *cnt);
		strmap_init(&seen);
		for (size_t r = 0; r < t->nrows; r++) {
			const char *x = table_cell(t, r, c->csv);
			if (labels[r] < 0 || labels[r] >= 16 || is_missing(x))
				continue;
			long id = strmap_get(&seen, x);
			if (id < 0) {
				id = (long)seen.n;
				strmap_put(&seen, x, id);
			}
			cnt[id][labels[r]]++;
		}
		for (size_t id = 0; id < seen.n; id++) {
			long best = 0, tot = 0;
			for (int k = 0; k < 16; k++) {
				tot += cnt[id][k];
				best = cnt[id][k] > best ? cnt[id][k] : best;
			}
			right += best;
			*n += tot;
		}
		strmap_free(&seen);
		free(cnt);
	}
	return *n ? (double)right / *n : 0;
}

static void
check_leakage(const struct encoding *e, const struct table *t, const long *labels, long nl,
              double threshold)
{
	if (nl < 2)
		return;
	for (int i = 0; i < e->ncols; i++) {
		long n;
		double acc = column_accuracy(&e->col[i], t, labels, nl, &n);
		if (n >= 10 && acc >= threshold)
			warn("column '%s' alone predicts the label of %.1f%% of the %ld training patients: "
			     "label leakage? (a bone-density T-score defines the classes)",
			     e->col[i].name, 100 * acc, n);
	}
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

	return is_missing(x) ? meta_value(r, c->name, buf, n) : x;
}

/* every column has a value in the record's meta */
static int
meta_has_all(const struct encoding *e, const struct record *r)
{
	char buf[64];

	for (int i = 0; i < e->ncols; i++)
		if (is_missing(meta_value(r, e->col[i].name, buf, sizeof buf)))
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
		int miss = is_missing(x), ok = 1;
		if (c->type == C_NUMBER) {
			ok = miss || as_number(x, &v);
			out[f++] = miss ? 0.0f : (float)(c->sd > 0 ? (v - c->mean) / c->sd : 0);
		} else if (c->type == C_BINARY) {
			int b = miss ? -1 : as_bool(x);
			ok = miss || b >= 0;
			out[f++] = miss ? (float)c->mean : (float)b;
		} else {
			int l = miss ? -1 : level_of(c, x);
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
	if (!(c = rec_tensor_put(r, "clinical", DT_F32, 1, shape, &err)))
		input_die(in, r, "clinical: %s", err);
	if (!encode_row(e, t, row, c->data, o, in, r, cn)) {
		cn->skipped++;
		return;
	}
	prep_write_fuse(r, e->features, e->fingerprint);
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
	fit_columns(e, t, seen);
	check_leakage(e, t, labels, nl, o->leak);
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
		bind_columns(&e, t, o.clinical);
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
