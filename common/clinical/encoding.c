/*
 * encoding.c - clinical columns as numbers, and the leakage check
 * (encoding.h).
 */
#include "encoding.h"
#include "common/record/params.h"
#include "common/base/strmap.h"
#include "common/base/util.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const coltypes[3] = { "number", "binary", "category" };

/* ---------------------------------------------------------------- */
/* values */

int
enc_missing(const char *s)
{
	return !*s || !strcasecmp(s, "na") || !strcasecmp(s, "nan") || !strcmp(s, "?");
}

int
enc_number(const char *s, double *v)
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
int
enc_bool(const char *s)
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

int
enc_level(const struct column *c, const char *s)
{
	for (int i = 0; i < c->nlevels; i++)
		if (!strcmp(c->levels[i], s))
			return i;
	return -1;
}

/* ---------------------------------------------------------------- */
/* the encoding */

const char *
enc_identifier(const char *column)
{
	/* the name folded: lower case, letters and digits only */
	char f[64];
	size_t n = 0;
	for (const char *p = column; *p && n < sizeof f - 1; p++)
		if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
			f[n++] = *p;
		else if (*p >= 'A' && *p <= 'Z')
			f[n++] = (char)(*p - 'A' + 'a');
	f[n] = '\0';
	static const struct { const char *word, *what; int whole; } id[] = {
		/* whole names only: these are parts of harmless words too */
		{ "id", "an identifier", 1 }, { "dob", "a birth date", 1 }, { "mrn", "a record number", 1 },
		{ "ssn", "an identifier", 1 }, { "nhs", "an identifier", 1 }, { "zip", "an address", 1 },
		{ "tel", "a phone number", 1 }, { "fax", "a phone number", 1 }, { "mobile", "a phone number", 1 },
		{ "city", "an address", 1 }, { "street", "an address", 1 }, { "initials", "a name", 1 },
		{ "mail", "an e-mail address", 1 }, { "birth", "a birth date", 1 }, { "born", "a birth date", 1 },
		/* anywhere in the name */
		{ "name", "a name", 0 }, { "surname", "a name", 0 }, { "birthdate", "a birth date", 0 },
		{ "dateofbirth", "a birth date", 0 }, { "birthday", "a birth date", 0 }, { "patientdob", "a birth date", 0 },
		{ "medicalrecord", "a record number", 0 }, { "subjectid", "an identifier", 0 },
		{ "patientid", "an identifier", 0 }, { "patientnumber", "an identifier", 0 },
		{ "hospitalnumber", "a record number", 0 }, { "nhsnumber", "an identifier", 0 },
		{ "socialsecurity", "an identifier", 0 }, { "insurancenumber", "an identifier", 0 },
		{ "accession", "an identifier", 0 }, { "address", "an address", 0 }, { "postcode", "an address", 0 },
		{ "postalcode", "an address", 0 }, { "zipcode", "an address", 0 }, { "phone", "a phone number", 0 },
		{ "telephone", "a phone number", 0 }, { "email", "an e-mail address", 0 },
	};
	for (size_t i = 0; i < sizeof id / sizeof *id; i++)
		if (id[i].whole ? !strcmp(f, id[i].word) : strstr(f, id[i].word) != NULL)
			return id[i].what;
	return NULL;
}

void
enc_name_features(struct encoding *e)
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
void
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

void
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
	enc_name_features(e);
	snprintf(e->fingerprint, sizeof e->fingerprint, "%s", params_str(path, &r, "fingerprint"));
	rec_free(&r);
}

/* the encoding's columns in the CSV; an unknown one is bad data */
void
enc_bind(struct encoding *e, const struct table *t, const char *path)
{
	for (int i = 0; i < e->ncols; i++)
		if ((e->col[i].csv = table_col(t, e->col[i].name)) < 0)
			die(EX_DATAERR, "%s: no column '%s'", path, e->col[i].name);
}

static int
by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* fit each column on the rows of the patients seen (rows[i] != 0) */
void
enc_fit(struct encoding *e, const struct table *t, const long *rows)
{
	for (int i = 0; i < e->ncols; i++) {
		struct column *c = &e->col[i];
		long n = 0, nnum = 0, nbool = 0;
		double s = 0, s2 = 0, v;
		for (size_t r = 0; r < t->nrows; r++) {
			const char *x = table_cell(t, r, c->csv);
			if (!rows[r] || enc_missing(x))
				continue;
			n++;
			nnum += enc_number(x, &v);
			nbool += enc_bool(x) >= 0;
		}
		c->type = n && nnum == n ? C_NUMBER : n && nbool == n ? C_BINARY : C_CATEGORY;
		c->nlevels = 0;
		for (size_t r = 0; r < t->nrows; r++) {
			const char *x = table_cell(t, r, c->csv);
			if (!rows[r] || enc_missing(x))
				continue;
			if (c->type == C_NUMBER) {
				enc_number(x, &v);
			} else if (c->type == C_BINARY) {
				v = enc_bool(x);
			} else {
				if (enc_level(c, x) < 0) {
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
				if (rows[r] && !enc_missing(x))
					c->freq[enc_level(c, x)] += 1.0 / n;
			}
		}
		c->mean = n ? s / n : 0;
		c->sd = n ? sqrt(fmax(s2 / n - c->mean * c->mean, 0)) : 0;
	}
	enc_name_features(e);
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
				if (labels[r] == k && enc_number(table_cell(t, r, c->csv), &v))
					vals[m++] = v;
			qsort(vals, m, sizeof *vals, by_double);
			med[k] = m ? vals[m / 2] : NAN;
		}
		for (size_t r = 0; r < t->nrows; r++) {
			if (labels[r] < 0 || !enc_number(table_cell(t, r, c->csv), &v))
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
			if (labels[r] < 0 || labels[r] >= 16 || enc_missing(x))
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

void
enc_check_leakage(const struct encoding *e, const struct table *t, const long *labels, long nl,
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
