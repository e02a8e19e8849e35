/*
 * osteo-dump - look inside a record stream: JSON lines for jq, PNGs of the
 * image tensors for people, or the number of records per label.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/record/contract.h"
#include "common/image/image.h"
#include "common/base/json.h"
#include "common/record/record.h"
#include "common/base/util.h"
#include "common/record/cli.h"

static const char usage[] =
	"osteo-dump [-q] [--data] [--png DIR] [--png16] [--count] [--csv] [FILE|-]...";
static const char options[] =
	"  --data                 print every tensor's values too (default: shape and statistics)\n"
	"  --png DIR              write each image (and heat map, mask) as a PNG into DIR\n"
	"  --png16                16-bit PNGs with --png (default 8-bit)\n"
	"  --count                records per label instead of JSON\n"
	"  --csv                  predictions as CSV: id, patient, label, pred, risk, probabilities\n";

struct opts {
	int data;
	const char *pngdir;
	int png16;
	int count, csv;
	char **inputs;
	int ninputs;
};

/* per-label counts for --count */
struct counts {
	unsigned long long *n;
	char **names;
	long long nlabels;
	unsigned long long unlabelled, total;
};

static void
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_DATA = 256, O_PNG, O_PNG16, O_COUNT, O_CSV };
	static const struct option longopts[] = {
		{ "data", no_argument, 0, O_DATA },
		{ "png", required_argument, 0, O_PNG },
		{ "png16", no_argument, 0, O_PNG16 },
		{ "count", no_argument, 0, O_COUNT },
		{ "csv", no_argument, 0, O_CSV },
		CLI_COMMON_OPTIONS
	};
	int c;

	memset(o, 0, sizeof *o);
	cli_help(options);
	while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (c) {
		case O_DATA: o->data = 1; break;
		case O_PNG: o->pngdir = optarg; break;
		case O_PNG16: o->png16 = 1; break;
		case O_COUNT: o->count = 1; break;
		case O_CSV: o->csv = 1; break;
		default: cli_common(c, usage);
		}
	}
	if (o->csv && (o->count || o->pngdir || o->data))
		usage_error(usage, "--csv goes alone");
	o->inputs = argv + optind;
	o->ninputs = argc - optind;
}

/* ---------------------------------------------------------------- */
/* JSON */

static double
elem(const struct tensor *t, size_t i)
{
	switch (t->dtype) {
	case DT_U8: return ((const uint8_t *)t->data)[i];
	case DT_U16: return ((const uint16_t *)t->data)[i];
	default: return ((const float *)t->data)[i];
	}
}

/* f32 data needs 9 digits to print exactly; probabilities and meta 17 */
static void
num(FILE *fp, double v)
{
	json_num(fp, v, 9);
}

static void
dump_tensor(FILE *fp, const struct tensor *t, int data)
{
	size_t n = tensor_elems(t);
	double lo = INFINITY, hi = -INFINITY, sum = 0;
	size_t nonfinite = 0;

	for (size_t i = 0; i < n; i++) {
		double v = elem(t, i);
		if (!isfinite(v)) {
			nonfinite++;
			continue;
		}
		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
		sum += v;
	}
	json_str(fp, t->name, strlen(t->name));
	fprintf(fp, ":{\"dtype\":\"%s\",\"shape\":[", dtype_name(t->dtype));
	for (int i = 0; i < t->ndim; i++)
		fprintf(fp, "%s%u", i ? "," : "", t->shape[i]);
	fputs("],\"min\":", fp);
	num(fp, n > nonfinite ? lo : NAN);
	fputs(",\"max\":", fp);
	num(fp, n > nonfinite ? hi : NAN);
	fputs(",\"mean\":", fp);
	num(fp, n > nonfinite ? sum / (double)(n - nonfinite) : NAN);
	if (nonfinite)
		fprintf(fp, ",\"nonfinite\":%zu", nonfinite);
	if (data) {
		fputs(",\"data\":[", fp);
		for (size_t i = 0; i < n; i++) {
			if (i)
				fputc(',', fp);
			num(fp, elem(t, i));
		}
		fputc(']', fp);
	}
	fputc('}', fp);
}

static void
dump_json(FILE *fp, const struct record *r, int data)
{
	fputs("{\"id\":", fp);
	json_str(fp, r->id, strlen(r->id));
	if (r->has_patient) {
		fputs(",\"patient\":", fp);
		json_str(fp, r->patient, strlen(r->patient));
	}
	if (r->has_label)
		fprintf(fp, ",\"label\":%lld", r->label);
	if (r->nmeta) {
		fputs(",\"meta\":{", fp);
		for (int i = 0; i < r->nmeta; i++) {
			const struct metaval *m = &r->meta[i];
			if (i)
				fputc(',', fp);
			json_str(fp, m->key, strlen(m->key));
			fputc(':', fp);
			switch (m->type) {
			case MV_STR: json_str(fp, m->s, strlen(m->s)); break;
			case MV_INT: fprintf(fp, "%lld", m->i); break;
			case MV_FLOAT: json_num(fp, m->f, 17); break;
			case MV_BOOL: fputs(m->i ? "true" : "false", fp); break;
			}
		}
		fputc('}', fp);
	}
	fputs(",\"tensors\":{", fp);
	for (int i = 0; i < r->ntensors; i++) {
		if (i)
			fputc(',', fp);
		dump_tensor(fp, &r->tensors[i], data);
	}
	fputc('}', fp);
	if (r->has_probs) {
		fputs(",\"probs\":[", fp);
		for (int i = 0; i < r->nprobs; i++) {
			if (i)
				fputc(',', fp);
			json_num(fp, r->probs[i], 17);
		}
		fputc(']', fp);
	}
	if (r->has_pred)
		fprintf(fp, ",\"pred\":%lld", r->pred);
	if (r->has_risk) {
		fputs(",\"risk\":", fp);
		json_num(fp, r->risk, 17);
	}
	rec_extra_json(fp, r);
	fputs("}\n", fp);
}

/* ---------------------------------------------------------------- */
/* PNG */

static int
is_image(const struct tensor *t)
{
	if (t->ndim == 2)
		return t->shape[0] && t->shape[1];
	return t->ndim == 3 && (t->shape[0] == 1 || t->shape[0] == 3) && t->shape[1] && t->shape[2];
}

/* f32 tensors are scaled from their own min..max to the full 8 or 16 bits */
static void
to_ints(const struct tensor *t, struct record *tmp, int bits, struct tensor **out)
{
	size_t n = tensor_elems(t);
	const float *s = t->data;
	float lo = INFINITY, hi = -INFINITY;
	const char *err;
	struct tensor *d = rec_tensor_put(tmp, "png", bits == 16 ? DT_U16 : DT_U8, t->ndim, t->shape, &err);
	double top = bits == 16 ? 65535 : 255;

	if (!d)
		die(EX_SOFTWARE, "%s", err);
	for (size_t i = 0; i < n; i++)
		if (isfinite(s[i])) {
			lo = s[i] < lo ? s[i] : lo;
			hi = s[i] > hi ? s[i] : hi;
		}
	double scale = hi > lo ? top / (hi - lo) : 0;
	for (size_t i = 0; i < n; i++) {
		double v = isfinite(s[i]) ? (s[i] - lo) * scale + 0.5 : 0;
		if (bits == 16)
			((uint16_t *)d->data)[i] = (uint16_t)(v > top ? top : v);
		else
			((uint8_t *)d->data)[i] = (uint8_t)(v > top ? top : v);
	}
	*out = d;
}

static void
write_pngs(const struct opts *o, const struct record *r, struct record *tmp,
           unsigned char **buf, size_t *cap)
{
	char path[4096], err[256], name[1024];
	size_t len;

	snprintf(name, sizeof name, "%s", r->id);
	/* an id is data, never a path: flatten it into one file name */
	for (char *p = name; *p; p++)
		if (*p == '/' || *p == '\\' || (p == name && *p == '.'))
			*p = '_';
	for (int i = 0; i < r->ntensors; i++) {
		const struct tensor *t = &r->tensors[i];
		struct tensor *img = (struct tensor *)t;
		if (!is_image(t))
			continue;
		if (t->dtype == DT_F32)
			to_ints(t, tmp, o->png16 ? 16 : 8, &img);
		if (img_png_encode(img, 3, buf, cap, &len, err, sizeof err) < 0)
			die(EX_DATAERR, "record '%s' tensor '%s': %s", r->id, t->name, err);
		snprintf(path, sizeof path, "%s/%s.%s.png", o->pngdir, name, t->name);
		FILE *fp = fopen(path, "wb");
		if (!fp)
			die(EX_CANTCREAT, "%s: cannot create:", path);
		if (fwrite(*buf, 1, len, fp) != len || fclose(fp) == EOF)
			die(EX_IOERR, "%s: write error:", path);
	}
}

/* ---------------------------------------------------------------- */

static void
count(struct counts *c, const struct record *r)
{
	const struct metaval *m;

	c->total++;
	if (!r->has_label) {
		c->unlabelled++;
		return;
	}
	if (r->label >= c->nlabels) {
		long long nn = r->label + 1;
		if (nn > 1 << 20)
			die(EX_DATAERR, "record '%s': label %lld is implausibly large", r->id, r->label);
		c->n = erealloc(c->n, nn * sizeof *c->n);
		c->names = erealloc(c->names, nn * sizeof *c->names);
		for (long long i = c->nlabels; i < nn; i++) {
			c->n[i] = 0;
			c->names[i] = NULL;
		}
		c->nlabels = nn;
	}
	c->n[r->label]++;
	if (!c->names[r->label] && (m = rec_meta(r, KEY_PROV_CLASS)) && m->type == MV_STR)
		c->names[r->label] = estrdup(m->s);
}

static void
print_counts(const struct counts *c)
{
	printf("label\tclass\trecords\n");
	for (long long i = 0; i < c->nlabels; i++)
		printf("%lld\t%s\t%llu\n", i, c->names[i] ? c->names[i] : "-", c->n[i]);
	if (c->unlabelled)
		printf("-\tunlabelled\t%llu\n", c->unlabelled);
	printf("all\t-\t%llu\n", c->total);
}

/* ---------------------------------------------------------------- */
/* CSV of predictions: one row per record, probabilities by class name */

static void
csv_field(const char *s)
{
	if (!s[strcspn(s, ",\"\r\n")]) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

static struct csv_state {
	int started, nprobs;
} csv;

static void
csv_row(struct csv_state *st, const struct rec_reader *rd, const struct record *r)
{
	int k = r->has_probs ? r->nprobs : 0;

	if (!st->started) {
		const char *names = rec_meta_s(r, KEY_INFER_CLASSES);
		char buf[32];

		printf("id,patient,label,class,pred,pred_class,risk");
		for (int c = 0; c < k; c++) {
			size_t len = strcspn(names, ",");
			if (*names) {
				char *col = emalloc(len + 3);
				sprintf(col, "p_%.*s", (int)len, names);
				putchar(',');
				csv_field(col);
				free(col);
				names += len + (names[len] == ',');
			} else {
				snprintf(buf, sizeof buf, ",p_%d", c);
				fputs(buf, stdout);
			}
		}
		putchar('\n');
		st->started = 1;
		st->nprobs = k;
	}
	if (k != st->nprobs)
		rec_die(rd, r, "%d probabilities; the first record had %d (one CSV holds one model's output)", k,
		        st->nprobs);
	csv_field(r->id);
	putchar(',');
	csv_field(r->has_patient ? r->patient : "");
	if (r->has_label)
		printf(",%lld,", r->label);
	else
		printf(",,");
	csv_field(rec_meta_s(r, KEY_PROV_CLASS));
	if (r->has_pred)
		printf(",%lld,", r->pred);
	else
		printf(",,");
	csv_field(rec_meta_s(r, KEY_INFER_CLASS));
	if (r->has_risk)
		printf(",%.9g", r->risk);
	else
		putchar(',');
	for (int c = 0; c < k; c++)
		printf(",%.9g", r->probs[c]);
	putchar('\n');
}

static void
dump_stream(const struct opts *o, FILE *in, const char *name, struct counts *c)
{
	struct rec_reader *rd = rec_reader_new(in, name);
	struct record r, tmp;
	unsigned char *buf = NULL;
	size_t cap = 0;

	rec_init(&r);
	rec_init(&tmp);
	while (rec_read(rd, &r)) {
		if (o->count)
			count(c, &r);
		else if (o->csv)
			csv_row(&csv, rd, &r);
		else if (!o->pngdir)
			dump_json(stdout, &r, o->data);
		if (o->pngdir)
			write_pngs(o, &r, &tmp, &buf, &cap);
		if (ferror(stdout))
			write_failed("<stdout>");
	}
	rec_reader_free(rd);
	rec_free(&r);
	rec_free(&tmp);
	free(buf);
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct counts c = { 0 };

	/* arguments */
	cli_init(argv[0]);
	parse_args(argc, argv, &o);

	/* prepare */
	if (o.pngdir && mkdir(o.pngdir, 0755) < 0 && errno != EEXIST)
		die(EX_CANTCREAT, "%s: cannot create directory:", o.pngdir);

	/* process */
	if (o.ninputs == 0)
		dump_stream(&o, stdin, "<stdin>", &c);
	for (int i = 0; i < o.ninputs; i++) {
		FILE *fp = strcmp(o.inputs[i], "-") ? fopen(o.inputs[i], "rb") : stdin;
		if (!fp)
			die(EX_NOINPUT, "%s: cannot open:", o.inputs[i]);
		dump_stream(&o, fp, fp == stdin ? "<stdin>" : o.inputs[i], &c);
		if (fp != stdin)
			fclose(fp);
	}
	if (o.count)
		print_counts(&c);
	if (o.csv && !csv.started)
		printf("id,patient,label,class,pred,pred_class,risk\n");

	/* clean up */
	return fshut(stdout, "<stdout>");
}
