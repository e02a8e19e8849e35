/*
 * osteo-metrics - how good are the predictions: records carrying `label`
 * and `probs` in, a report out (a table, JSON or TSV).
 *
 * Only the scores are kept in memory (AUC and the bootstrap need them
 * all).  Confidence intervals resample patients, not records, because
 * records of one patient are not independent: a patient with six images
 * would otherwise count six times.
 */
#include <getopt.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/record/classes.h"
#include "common/record/contract.h"
#include "common/record/input.h"
#include "common/eval/metrics.h"
#include "common/base/json.h"
#include "common/base/strmap.h"
#include "common/record/record.h"
#include "common/base/strmap.h"
#include "common/clinical/table.h"
#include "common/base/util.h"
#include "common/record/cli.h"

static const char usage[] =
	"osteo-metrics [-q] [--classes LIST] [--json|--tsv] [--bootstrap N] [--seed N]\n"
	"       [--level P] [--ece-bins N] [--roc FILE] [--risk-class CLASS]\n"
	"       [--threshold T|youden|sens:X|spec:X [--threshold-from VAL.rec]]\n"
	"       [--per-patient[=mean|max] [--patients-out FILE]]\n"
	"       [--by KEY[:WIDTH] [--clinical FILE.csv]] [FILE|-]...\n"
	"       osteo-metrics --compare [--json] [--bootstrap N] [--seed N] [--level P]\n"
	"       [--per-patient[=mean|max]] A.rec B.rec";
static const char options[] =
	"  --classes LIST         the class names (default: the records' meta.infer.classes)\n"
	"  --json                 JSON instead of the table\n"
	"  --tsv                  one TSV line of the headline figures\n"
	"  --bootstrap N          resamples of patients for the intervals; 0 for none (default 1000)\n"
	"  --seed N               the resampling's generator (default 1)\n"
	"  --level P              the intervals' confidence level (default 0.95)\n"
	"  --ece-bins N           bins of the expected calibration error (default 10)\n"
	"  --roc FILE             write the ROC points of each class there\n"
	"  --risk-class CLASS     the class of the binary figures (default osteoporosis; old name --positive)\n"
	"  --threshold T          a binary cut: a probability, youden, sens:X or spec:X\n"
	"  --threshold-from VAL   choose the cut on these records, apply it to the ones scored\n"
	"  --per-patient[=HOW]    one call per patient: mean or max of its images' probabilities (default mean)\n"
	"  --patients-out FILE    with --per-patient: write the patients' calls as records\n"
	"  --by KEY[:WIDTH]       every figure per group of a meta or clinical key (numbers in bands of WIDTH)\n"
	"  --clinical FILE.csv    with --by: the table a clinical KEY is read from\n"
	"  --compare              A.rec B.rec: the differences on the same records, paired bootstrap, DeLong\n"
	"  --coverage LIST        the figures when all but these shares of the records (or patients),\n"
	"                         the most uncertain, go to a reader: 0.9 refers the 10%% most uncertain\n";

enum format { F_TEXT, F_JSON, F_TSV };

struct opts {
	const char *classes, *roc, *positive, *threshold, *by, *clinical, *threshold_from, *patients_out;
	enum format format;
	int reps, bins;
	int per_patient;         /* 0 per record, 1 mean, 2 max */
	int rule;                /* --threshold youden, sens:X or spec:X, not a number */
	int compare;
	int ncov;                /* --coverage: the shares kept */
	double cov[16];
	unsigned long long seed;
	double level;
	char **inputs;
	int ninputs;
};

static void
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_CLASSES = 256, O_JSON, O_TSV, O_BOOT, O_SEED, O_LEVEL, O_BINS, O_ROC, O_POS, O_THR, O_PATIENT, O_BY, O_CLIN, O_COMPARE, O_THRFROM, O_PATOUT,
	       O_COVERAGE };
	static const struct option longopts[] = {
		{ "classes", required_argument, 0, O_CLASSES },
		{ "json", no_argument, 0, O_JSON },
		{ "tsv", no_argument, 0, O_TSV },
		{ "bootstrap", required_argument, 0, O_BOOT },
		{ "seed", required_argument, 0, O_SEED },
		{ "level", required_argument, 0, O_LEVEL },
		{ "ece-bins", required_argument, 0, O_BINS },
		{ "roc", required_argument, 0, O_ROC },
		{ "risk-class", required_argument, 0, O_POS },
		/* its name before osteo-infer's and osteo-baseline's was taken for all three */
		{ "positive", required_argument, 0, O_POS },
		{ "threshold", required_argument, 0, O_THR },
		{ "per-patient", optional_argument, 0, O_PATIENT },
		{ "by", required_argument, 0, O_BY },
		{ "compare", no_argument, 0, O_COMPARE },
		{ "threshold-from", required_argument, 0, O_THRFROM },
		{ "patients-out", required_argument, 0, O_PATOUT },
		{ "clinical", required_argument, 0, O_CLIN },
		{ "coverage", required_argument, 0, O_COVERAGE },
		CLI_COMMON_OPTIONS
	};
	int c;

	memset(o, 0, sizeof *o);
	o->reps = 1000;
	o->seed = 1;
	o->level = 0.95;
	o->bins = 10;
	cli_help(options);
	while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (c) {
		case O_CLASSES: o->classes = optarg; break;
		case O_JSON: o->format = F_JSON; break;
		case O_TSV: o->format = F_TSV; break;
		case O_BOOT: o->reps = (int)estrtonum(optarg, 0, 1000000, "--bootstrap"); break;
		case O_SEED: o->seed = (unsigned long long)estrtonum(optarg, 0, INT64_MAX, "--seed"); break;
		case O_LEVEL: o->level = estrtod(optarg, 0.5, 0.999, "--level"); break;
		case O_BINS: o->bins = (int)estrtonum(optarg, 1, 64, "--ece-bins"); break;
		case O_ROC: o->roc = optarg; break;
		case O_POS: o->positive = optarg; break;
		case O_THR: o->threshold = optarg; break;
		case O_BY: o->by = optarg; break;
		case O_COMPARE: o->compare = 1; break;
		case O_THRFROM: o->threshold_from = optarg; break;
		case O_PATOUT: o->patients_out = optarg; break;
		case O_CLIN: o->clinical = optarg; break;
		case O_COVERAGE:
			o->ncov = eparse_numbers(optarg, o->cov, 1, 16, 1e-9, 1, "--coverage");
			break;
		case O_PATIENT:
			if (!optarg || !strcmp(optarg, "mean"))
				o->per_patient = 1;
			else if (!strcmp(optarg, "max"))
				o->per_patient = 2;
			else
				die(EX_USAGE, "--per-patient: '%s' is not mean or max", optarg);
			break;
		default: cli_common(c, usage);
		}
	}
	o->rule = 1;
	if (o->threshold && (!strncmp(o->threshold, "sens:", 5) || !strncmp(o->threshold, "spec:", 5)))
		estrtod(o->threshold + 5, 1e-9, 1, "--threshold's target");
	else if (o->threshold && strcmp(o->threshold, "youden")) {
		estrtod(o->threshold, 0, 1, "--threshold");
		o->rule = 0;
	}
	o->rule = o->rule && o->threshold;
	if (o->threshold_from && !o->rule)
		usage_error(usage, "--threshold-from chooses the threshold of --threshold youden, sens:X or spec:X");
	if (o->clinical && !o->by)
		usage_error(usage, "--clinical is read for --by");
	if (o->patients_out && !o->per_patient)
		usage_error(usage, "--patients-out writes the calls of --per-patient");
	o->inputs = argv + optind;
	o->ninputs = argc - optind;
	if (o->compare && (o->ninputs != 2 || !strcmp(o->inputs[0], "-") || !strcmp(o->inputs[1], "-")))
		usage_error(usage, "--compare takes two prediction files, A and B");
	if (o->compare && o->ncov)
		usage_error(usage, "--coverage is for one model's predictions");
	if (o->compare && (o->by || o->roc || o->threshold || o->format == F_TSV))
		usage_error(usage, "--compare reports the difference of two models; --by, --roc, --threshold and "
		            "--tsv are for one");
}

struct report {
	const struct classes *cl;
	const struct opts *o;
	struct metrics m;
	struct bootstrap_ci ci;
	struct binary_cut bin;
	int has_bin;
	const char *chosen_on;   /* the records the threshold was chosen on, or NULL */
	long long unlabelled;
	size_t patients;
	const struct samples *s;
	struct group_report *groups;  /* --by: s->ngroups of them */
	size_t *order;                /* the order they are shown in */
	const struct by *by;
	struct coverage cov[16];      /* --coverage */
};

/* ---------------------------------------------------------------- */
/* subgroups */

/* a group with fewer patients than this is flagged: its interval is too
 * wide, and its figures too unstable, to read */
#define SMALL_GROUP 30

struct by {
	char key[128];
	double width;            /* bands of numbers; 0: values as they are */
	struct table *t;         /* --clinical */
	struct strmap rows;
	int col;
};

static void
by_parse(struct by *b, const char *spec, const char *clinical)
{
	const char *colon = strrchr(spec, ':');
	size_t len = colon ? (size_t)(colon - spec) : strlen(spec);

	memset(b, 0, sizeof *b);
	if (!len || len >= sizeof b->key)
		die(EX_USAGE, "--by: '%s' names no key", spec);
	memcpy(b->key, spec, len);
	if (colon)
		b->width = estrtod(colon + 1, 1e-9, 1e12, "--by's band width");
	if (!clinical)
		return;
	b->t = table_load(clinical);
	int key = table_col(b->t, "patient");
	if (key < 0)
		die(EX_DATAERR, "%s: no column 'patient' to find records' rows by", clinical);
	if ((b->col = table_col(b->t, b->key)) < 0)
		die(EX_DATAERR, "%s: no column '%s' (--by)", clinical, b->key);
	strmap_init(&b->rows);
	for (size_t i = 0; i < b->t->nrows; i++)
		strmap_put(&b->rows, table_cell(b->t, i, key), (long)i);
}

/* a record's group: its meta's value for the key, else its patient's CSV
 * cell; numbers in bands [lo, lo + width) when a width is given */
static const char *
group_of(const struct record *r, void *ctx, char *buf, size_t n)
{
	const struct by *b = ctx;
	const struct metaval *m = rec_meta(r, b->key);
	char *end;
	double v;

	buf[0] = 0;
	if (m && m->type == MV_STR)
		snprintf(buf, n, "%s", m->s);
	else if (m && (m->type == MV_INT || m->type == MV_BOOL))
		snprintf(buf, n, "%lld", m->i);
	else if (m)
		snprintf(buf, n, "%.17g", m->f);
	else if (b->t && r->has_patient) {
		long row = strmap_get(&b->rows, r->patient);
		if (row >= 0)
			snprintf(buf, n, "%s", table_cell(b->t, (size_t)row, b->col));
	}
	if (!buf[0])
		return "(none)";
	if (b->width > 0 && (v = strtod(buf, &end), end != buf && !*end) && isfinite(v)) {
		double lo = floor(v / b->width) * b->width;
		snprintf(buf, n, "%g-%g", lo, lo + b->width);
	}
	return buf;
}

/* groups shown by name, bands by their lower end, "(none)" last */
static const char *const *sort_names;
static int
by_group(const void *a, const void *b)
{
	const char *x = sort_names[*(const size_t *)a], *y = sort_names[*(const size_t *)b];
	int nx = !strcmp(x, "(none)"), ny = !strcmp(y, "(none)");
	char *ex, *ey;
	double vx = strtod(x, &ex), vy = strtod(y, &ey);

	if (nx != ny)
		return nx - ny;
	if (ex != x && ey != y && *ex == '-' && *ey == '-' && vx != vy)
		return vx < vy ? -1 : 1;
	return strcmp(x, y);
}

static size_t *
groups_order(const struct samples *s)
{
	size_t *o = emalloc((s->ngroups ? s->ngroups : 1) * sizeof *o);

	for (size_t i = 0; i < s->ngroups; i++)
		o[i] = i;
	sort_names = (const char *const *)s->gnames;
	qsort(o, s->ngroups, sizeof *o, by_group);
	return o;
}

struct group_report {
	struct samples s;
	struct metrics m;
	struct bootstrap_ci ci;
};

static struct group_report *
groups_compute(const struct samples *s, const struct opts *o)
{
	struct group_report *g = ecalloc(s->ngroups ? s->ngroups : 1, sizeof *g);
	struct metrics_work w = { 0 };

	for (size_t i = 0; i < s->ngroups; i++) {
		samples_subset(s, i, &g[i].s);
		metrics_init(&g[i].m, s->k, o->bins);
		metrics_compute(&g[i].s, NULL, g[i].s.n, &g[i].m, &w);
		if (o->reps)
			metrics_bootstrap(&g[i].s, o->reps, o->seed, o->level, &g[i].ci);
	}
	metrics_work_free(&w);
	return g;
}

/* means over the maps that are not blank */
static double
map_mean(const struct samples *s, double sum)
{
	return s->nmaps > s->nblank ? sum / (double)(s->nmaps - s->nblank) : NAN;
}

static void
text_row(const char *name, const struct class_metrics *c)
{
	printf("%-14s %6.3f %6.3f %6.3f %6.3f ", name, c->sens, c->spec, c->prec, c->f1);
	if (isnan(c->auc))
		printf("%6s", "-");
	else
		printf("%6.3f", c->auc);
	printf(" %7lld\n", c->support);
}

/* an estimate and, with a bootstrap, its interval */
static void
text_ci(double v, const double *ci, int reps)
{
	if (isnan(v))
		printf(" %-20s", "-");
	else if (reps && !isnan(ci[0]))
		printf(" %.3f (%.3f-%.3f)  ", v, ci[0], ci[1]);
	else
		printf(" %-20.3f", v);
}

static void
text_groups(const struct report *rp)
{
	const struct samples *s = rp->s;

	char band[64] = "";
	if (rp->by->width > 0)
		snprintf(band, sizeof band, ", in bands of %g", rp->by->width);
	printf("\nby %s%s (%s; * fewer than %d patients: too few to read)\n", rp->by->key, band,
	       rp->o->reps ? "intervals over patients" : "no intervals", SMALL_GROUP);
	printf("%-16s %7s %8s  %-20s %-20s %-20s %6s\n", "group", "records", "patients", "accuracy", "macro F1",
	       "macro AUC", "Brier");
	for (size_t j = 0; j < s->ngroups; j++) {
		size_t i = rp->order[j];
		const struct group_report *g = &rp->groups[i];
		printf("%-16s %7zu %7zu%s", s->gnames[i], g->m.n, g->s.nunits, g->s.nunits < SMALL_GROUP ? "*" : " ");
		text_ci(g->m.accuracy, g->ci.acc, g->ci.reps);
		text_ci(g->m.macro.f1, g->ci.f1, g->ci.reps);
		text_ci(g->m.macro.auc, g->ci.auc, g->ci.reps);
		printf(" %6.3f\n", g->m.brier);
	}
}

/* --coverage: the figures of those kept, the most uncertain referred */
static void
text_coverage(const struct report *rp)
{
	const char *unit = rp->o->per_patient ? "patients" : "records";

	printf("\nreferral: the most uncertain %s to a reader, the rest as the model calls them\n", unit);
	printf("%6s %8s %11s %-22s%-22s%-22s%-22s\n", "kept", unit, "uncert. <=", " accuracy", " gain", " macro sens",
	       " macro spec");
	for (int i = 0; i < rp->o->ncov; i++) {
		const struct coverage *c = &rp->cov[i];
		printf("%5.1f%% %8zu %11.4f", 100 * c->keep, c->n, c->cut);
		text_ci(c->acc, c->acc_ci, rp->o->reps);
		text_ci(c->gain, c->gain_ci, rp->o->reps);
		text_ci(c->sens, c->sens_ci, rp->o->reps);
		text_ci(c->spec, c->spec_ci, rp->o->reps);
		putchar('\n');
	}
}

static void
print_text(const struct report *rp)
{
	const struct metrics *m = &rp->m;
	const struct bootstrap_ci *ci = &rp->ci;
	int k = m->k, pct = (int)lround(ci->level * 100);

	if (rp->o->per_patient)
		printf("patients %zu, one call each (the %s of its images' probabilities)", m->n,
		       rp->o->per_patient == 2 ? "largest" : "mean");
	else
		printf("records %zu, patients %zu", m->n, rp->patients);
	if (rp->unlabelled)
		printf("; skipped %lld without a label", rp->unlabelled);
	printf("\naccuracy  %.4f", m->accuracy);
	if (ci->reps)
		printf("   %d%% CI %.4f-%.4f", pct, ci->acc[0], ci->acc[1]);
	printf("\nmacro F1  %.4f", m->macro.f1);
	if (ci->reps)
		printf("   %d%% CI %.4f-%.4f", pct, ci->f1[0], ci->f1[1]);
	printf("\nmacro AUC %.4f", m->macro.auc);
	if (ci->reps)
		printf("   %d%% CI %.4f-%.4f", pct, ci->auc[0], ci->auc[1]);
	if (ci->reps)
		printf("\n(intervals: %d bootstrap resamples of patients, seed %llu)", ci->reps,
		       rp->o->seed);
	printf("\n\n%-14s %6s %6s %6s %6s %6s %7s\n", "class", "sens", "spec", "prec", "F1", "AUC",
	       "support");
	for (int c = 0; c < k; c++)
		text_row(rp->cl->names[c], &m->cls[c]);
	text_row("macro", &m->macro);
	text_row("weighted", &m->weighted);
	printf("\nconfusion (rows true, columns predicted)\n%-14s", "");
	for (int c = 0; c < k; c++)
		printf(" %12.12s", rp->cl->names[c]);
	for (int i = 0; i < k; i++) {
		printf("\n%-14s", rp->cl->names[i]);
		for (int j = 0; j < k; j++)
			printf(" %12lld", m->confusion[(size_t)i * k + j]);
	}
	printf("\n\nBrier %.4f   ECE %.4f (%d bins)\n", m->brier, m->ece, m->ece_bins);
	if (rp->has_bin) {
		const struct binary_cut *b = &rp->bin;

		printf("\n%s vs rest at p >= %.4g", rp->cl->names[b->c], b->threshold);
		if (rp->o->rule)
			printf(" (%s, chosen on %s)", rp->o->threshold, rp->chosen_on ? rp->chosen_on : "these records");
		printf(": sensitivity %.4f", b->sens);
		if (rp->ci.has_cut)
			printf(" (%.4f-%.4f)", rp->ci.sens[0], rp->ci.sens[1]);
		printf(", specificity %.4f", b->spec);
		if (rp->ci.has_cut)
			printf(" (%.4f-%.4f)", rp->ci.spec[0], rp->ci.spec[1]);
		printf(", PPV %.4f, NPV %.4f (TP %lld FP %lld TN %lld FN %lld)\n", b->ppv, b->npv, b->tp, b->fp,
		       b->tn, b->fn);
	}
	const struct samples *s = rp->s;
	if (s->nmaps) {
		double in = map_mean(s, s->in_mask), share = map_mean(s, s->mask_share);
		printf("\nheat maps against masks: %zu maps, %zu blank; mass inside the mask %.3f, "
		       "the mask's share of the image %.3f, ratio %.2f\n", s->nmaps, s->nblank, in, share, in / share);
	}
	if (rp->o->ncov)
		text_coverage(rp);
	if (rp->groups)
		text_groups(rp);
}

/* the per-class numbers, by name, for JSON and TSV */
static const struct {
	const char *name;
	size_t off;
} fields[] = {
	{ "sensitivity", offsetof(struct class_metrics, sens) },
	{ "specificity", offsetof(struct class_metrics, spec) },
	{ "precision", offsetof(struct class_metrics, prec) },
	{ "f1", offsetof(struct class_metrics, f1) },
	{ "auc", offsetof(struct class_metrics, auc) },
	{ "brier", offsetof(struct class_metrics, brier) },
};
#define NFIELDS (sizeof fields / sizeof fields[0])
#define FIELD(c, i) (*(const double *)((const char *)(c) + fields[i].off))

static void
json_fields(const struct class_metrics *c)
{
	for (size_t i = 0; i < NFIELDS; i++) {
		printf("%s\"%s\":", i ? "," : "", fields[i].name);
		json_num(stdout, FIELD(c, i), 9);
	}
	printf(",\"support\":%lld}", c->support);
}

static void
json_pair(const char *key, const double *v)
{
	printf(",\"%s\":[", key);
	json_num(stdout, v[0], 9);
	putchar(',');
	json_num(stdout, v[1], 9);
	putchar(']');
}

static void
json_groups(const struct report *rp)
{
	const struct samples *s = rp->s;

	printf(",\"by\":{\"key\":");
	json_str(stdout, rp->by->key, strlen(rp->by->key));
	printf(",\"width\":");
	if (rp->by->width > 0)
		json_num(stdout, rp->by->width, 9);
	else
		printf("null");
	printf(",\"small\":%d,\"groups\":[", SMALL_GROUP);
	for (size_t j = 0; j < s->ngroups; j++) {
		size_t i = rp->order[j];
		const struct group_report *g = &rp->groups[i];
		printf("%s{\"group\":", j ? "," : "");
		json_str(stdout, s->gnames[i], strlen(s->gnames[i]));
		printf(",\"n\":%zu,\"patients\":%zu,\"small\":%s,\"accuracy\":", g->m.n, g->s.nunits,
		       g->s.nunits < SMALL_GROUP ? "true" : "false");
		json_num(stdout, g->m.accuracy, 9);
		printf(",\"f1_macro\":");
		json_num(stdout, g->m.macro.f1, 9);
		printf(",\"auc_macro\":");
		json_num(stdout, g->m.macro.auc, 9);
		printf(",\"brier\":");
		json_num(stdout, g->m.brier, 9);
		printf(",\"sensitivity\":[");
		for (int c = 0; c < s->k; c++) {
			printf(c ? "," : "");
			json_num(stdout, g->m.cls[c].sens, 9);
		}
		putchar(']');
		if (g->ci.reps) {
			printf(",\"ci\":{\"bootstrap\":%d", g->ci.reps);
			json_pair("accuracy", g->ci.acc);
			json_pair("f1_macro", g->ci.f1);
			json_pair("auc_macro", g->ci.auc);
			putchar('}');
		}
		putchar('}');
	}
	printf("]}");
}

static void
print_json(const struct report *rp)
{
	const struct metrics *m = &rp->m;
	int k = m->k;

	printf("{\"n\":%zu,\"patients\":%zu,\"unlabelled\":%lld,\"per_patient\":%s,\"classes\":[", m->n,
	       rp->patients, rp->unlabelled,
	       rp->o->per_patient == 2 ? "\"max\"" : rp->o->per_patient ? "\"mean\"" : "null");
	for (int c = 0; c < k; c++) {
		printf(c ? "," : "");
		json_str(stdout, rp->cl->names[c], strlen(rp->cl->names[c]));
	}
	printf("],\"accuracy\":");
	json_num(stdout, m->accuracy, 9);
	printf(",\"per_class\":[");
	for (int c = 0; c < k; c++) {
		printf(c ? ",{\"name\":" : "{\"name\":");
		json_str(stdout, rp->cl->names[c], strlen(rp->cl->names[c]));
		putchar(',');
		json_fields(&m->cls[c]);
	}
	printf("],\"macro\":{");
	json_fields(&m->macro);
	printf(",\"weighted\":{");
	json_fields(&m->weighted);
	printf(",\"auc_macro\":");
	json_num(stdout, m->macro.auc, 9);
	printf(",\"confusion\":[");
	for (int i = 0; i < k; i++) {
		printf(i ? ",[" : "[");
		for (int j = 0; j < k; j++)
			printf(j ? ",%lld" : "%lld", m->confusion[(size_t)i * k + j]);
		putchar(']');
	}
	printf("],\"brier\":");
	json_num(stdout, m->brier, 9);
	printf(",\"ece\":");
	json_num(stdout, m->ece, 9);
	printf(",\"ece_bins\":%d", m->ece_bins);
	if (rp->s->nmaps) {
		const struct samples *s = rp->s;
		double in = map_mean(s, s->in_mask), share = map_mean(s, s->mask_share);
		printf(",\"maps\":{\"n\":%zu,\"blank\":%zu,\"in_mask\":", s->nmaps, s->nblank);
		json_num(stdout, in, 9);
		printf(",\"mask_share\":");
		json_num(stdout, share, 9);
		printf(",\"ratio\":");
		json_num(stdout, in / share, 9);
		putchar('}');
	}
	if (rp->ci.reps) {
		printf(",\"ci\":{\"level\":%g,\"bootstrap\":%d,\"seed\":%llu,\"unit\":\"patient\"",
		       rp->ci.level, rp->ci.reps, rp->o->seed);
		json_pair("accuracy", rp->ci.acc);
		json_pair("f1_macro", rp->ci.f1);
		json_pair("auc_macro", rp->ci.auc);
		putchar('}');
	}
	if (rp->has_bin) {
		const struct binary_cut *b = &rp->bin;

		printf(",\"binary\":{\"positive\":");
		json_str(stdout, rp->cl->names[b->c], strlen(rp->cl->names[b->c]));
		printf(",\"threshold\":");
		json_num(stdout, b->threshold, 9);
		printf(",\"tp\":%lld,\"fp\":%lld,\"tn\":%lld,\"fn\":%lld,\"sensitivity\":", b->tp, b->fp,
		       b->tn, b->fn);
		json_num(stdout, b->sens, 9);
		printf(",\"specificity\":");
		json_num(stdout, b->spec, 9);
		printf(",\"ppv\":");
		json_num(stdout, b->ppv, 9);
		printf(",\"npv\":");
		json_num(stdout, b->npv, 9);
		if (rp->o->rule) {
			printf(",\"rule\":");
			json_str(stdout, rp->o->threshold, strlen(rp->o->threshold));
			printf(",\"chosen_on\":");
			if (rp->chosen_on)
				json_str(stdout, rp->chosen_on, strlen(rp->chosen_on));
			else
				printf("null");
		}
		if (rp->ci.has_cut) {
			json_pair("sensitivity_ci", rp->ci.sens);
			json_pair("specificity_ci", rp->ci.spec);
		}
		putchar('}');
	}
	if (rp->o->ncov) {
		printf(",\"coverage\":[");
		for (int i = 0; i < rp->o->ncov; i++) {
			const struct coverage *c = &rp->cov[i];
			printf("%s{\"keep\":", i ? "," : "");
			json_num(stdout, c->keep, 9);
			printf(",\"n\":%zu,\"uncertainty_max\":", c->n);
			json_num(stdout, c->cut, 9);
			printf(",\"accuracy\":");
			json_num(stdout, c->acc, 9);
			printf(",\"gain\":");
			json_num(stdout, c->gain, 9);
			printf(",\"sensitivity\":");
			json_num(stdout, c->sens, 9);
			printf(",\"specificity\":");
			json_num(stdout, c->spec, 9);
			if (rp->o->reps) {
				json_pair("accuracy_ci", c->acc_ci);
				json_pair("gain_ci", c->gain_ci);
				json_pair("sensitivity_ci", c->sens_ci);
				json_pair("specificity_ci", c->spec_ci);
			}
			putchar('}');
		}
		putchar(']');
	}
	if (rp->groups)
		json_groups(rp);
	printf("}\n");
}

static void
tsv(const char *metric, const char *cls, double v)
{
	if (isnan(v))
		printf("%s\t%s\tnull\n", metric, cls);
	else
		printf("%s\t%s\t%.9g\n", metric, cls, v);
}

static void
tsv_class(const char *cls, const struct class_metrics *c)
{
	for (size_t i = 0; i < NFIELDS; i++)
		tsv(fields[i].name, cls, FIELD(c, i));
	tsv("support", cls, (double)c->support);
}

static void
print_tsv(const struct report *rp)
{
	const struct metrics *m = &rp->m;
	char key[300];

	printf("metric\tclass\tvalue\n");
	tsv("n", "-", (double)m->n);
	tsv("patients", "-", (double)rp->patients);
	tsv("unlabelled", "-", (double)rp->unlabelled);
	tsv("accuracy", "-", m->accuracy);
	for (int c = 0; c < m->k; c++)
		tsv_class(rp->cl->names[c], &m->cls[c]);
	tsv_class("macro", &m->macro);
	tsv_class("weighted", &m->weighted);
	for (int i = 0; i < m->k; i++)
		for (int j = 0; j < m->k; j++) {
			snprintf(key, sizeof key, "predicted:%s", rp->cl->names[j]);
			tsv(key, rp->cl->names[i], (double)m->confusion[(size_t)i * m->k + j]);
		}
	tsv("brier", "-", m->brier);
	tsv("ece", "-", m->ece);
	if (rp->ci.reps) {
		tsv("accuracy_lo", "-", rp->ci.acc[0]);
		tsv("accuracy_hi", "-", rp->ci.acc[1]);
		tsv("f1_macro_lo", "-", rp->ci.f1[0]);
		tsv("f1_macro_hi", "-", rp->ci.f1[1]);
		tsv("auc_macro_lo", "-", rp->ci.auc[0]);
		tsv("auc_macro_hi", "-", rp->ci.auc[1]);
	}
	if (rp->has_bin) {
		const char *pos = rp->cl->names[rp->bin.c];

		tsv("threshold", pos, rp->bin.threshold);
		tsv("binary_sensitivity", pos, rp->bin.sens);
		tsv("binary_specificity", pos, rp->bin.spec);
		tsv("binary_ppv", pos, rp->bin.ppv);
		tsv("binary_npv", pos, rp->bin.npv);
		if (rp->ci.has_cut) {
			tsv("binary_sensitivity_lo", pos, rp->ci.sens[0]);
			tsv("binary_sensitivity_hi", pos, rp->ci.sens[1]);
			tsv("binary_specificity_lo", pos, rp->ci.spec[0]);
			tsv("binary_specificity_hi", pos, rp->ci.spec[1]);
		}
	}
	for (int i = 0; i < rp->o->ncov; i++) {
		const struct coverage *c = &rp->cov[i];
		char at[32];
		snprintf(at, sizeof at, "%.9g", c->keep);
		tsv("coverage_n", at, (double)c->n);
		tsv("coverage_accuracy", at, c->acc);
		tsv("coverage_gain", at, c->gain);
		tsv("coverage_sensitivity", at, c->sens);
		tsv("coverage_specificity", at, c->spec);
		if (rp->o->reps) {
			tsv("coverage_accuracy_lo", at, c->acc_ci[0]);
			tsv("coverage_accuracy_hi", at, c->acc_ci[1]);
			tsv("coverage_gain_lo", at, c->gain_ci[0]);
			tsv("coverage_gain_hi", at, c->gain_ci[1]);
		}
	}
}

struct roc_out {
	FILE *fp;
	const char *cls;
	double auc;
};

static void
roc_line(void *ctx, double threshold, double fpr, double tpr)
{
	struct roc_out *r = ctx;

	fprintf(r->fp, "%s\t%.9g\t%.9g\t%.9g\t%.9g\n", r->cls, threshold, fpr, tpr, r->auc);
}

static void
write_roc(const char *path, const struct samples *s, const struct report *rp)
{
	char *tmp;
	FILE *fp = atomic_open(path, &tmp);
	struct metrics_work w = { 0 };

	fprintf(fp, "class\tthreshold\tfpr\ttpr\tauc\n");
	for (int c = 0; c < s->k; c++) {
		struct roc_out r = { fp, rp->cl->names[c], rp->m.cls[c].auc };

		metrics_roc(s, c, &w, roc_line, &r);
	}
	metrics_work_free(&w);
	atomic_commit(fp, tmp, path);
}

static int
positive_class(const struct opts *o, const struct classes *cl)
{
	int c = classes_risk(cl, o->positive);

	if (c < 0)
		die(EX_USAGE, "--risk-class: '%s' is not one of the classes", o->positive);
	return c;
}

/* --patients-out: one record per patient, as osteo-infer writes them, for
 * what comes downstream (a patient's call, not an image's) */
static void
write_patients(const struct opts *o, const struct samples *s, const struct classes *cl)
{
	char *tmp;
	FILE *fp = atomic_open(o->patients_out, &tmp);
	struct rec_writer *w = rec_writer_new(fp, o->patients_out);
	struct record r;
	char *names = classes_join(cl);
	int risk = positive_class(o, cl);
	double *p = emalloc((size_t)s->k * sizeof *p);

	rec_init(&r);
	for (size_t i = 0; i < s->n; i++) {
		const char *who = s->names[s->unit[i]];
		char anon[32];
		if (!who) {
			snprintf(anon, sizeof anon, "record-%zu", s->unit[i] + 1);
			who = anon;
		}
		rec_clear(&r);
		rec_set_id(&r, who);
		if (s->names[s->unit[i]])
			rec_set_patient(&r, who);
		r.has_label = 1;
		r.label = s->label[i];
		for (int c = 0; c < s->k; c++)
			p[c] = s->p[i * (size_t)s->k + c];
		rec_set_prediction(&r, p, cl, risk, names);
		rec_meta_str(&r, "class", cl->names[r.label]);
		rec_meta_str(&r, KEY_INFER_PER_PATIENT, o->per_patient == 2 ? "max" : "mean");
		rec_write(w, &r);
	}
	if (rec_writer_close(w))
		quit(EX_IOERR);
	atomic_commit(fp, tmp, o->patients_out);
	rec_free(&r);
	free(names);
	free(p);
}

/* --per-patient: one call per patient; dies naming the stream and a
 * patient whose images disagree on the label */
static void
to_patients(const struct opts *o, struct samples *s, const char *name)
{
	size_t bad;

	if (o->per_patient && samples_per_patient(s, o->per_patient == 2, &bad) < 0)
		die(EX_DATAERR, "%s: --per-patient: patient '%s' has images of two labels", name,
		    s->names[bad] ? s->names[bad] : "?");
}

/* the samples of one more prediction file (validation, a model compared),
 * as --per-patient has them */
static void
read_file(const char *path, const struct opts *o, struct samples *s, struct classes *cl, samples_groupof groupof,
          void *ctx)
{
	struct input in;
	char *paths[1] = { (char *)path };

	input_open(&in, paths, 1);
	samples_read_by(&in, o->classes, s, cl, groupof, ctx);
	input_close(&in);
	if (!s->n)
		die(EX_DATAERR, "%s: no record has both a label and probs", path);
	if (!groupof)
		to_patients(o, s, path);
}

/* ---------------------------------------------------------------- */
/* the binary cut's threshold */

/* --threshold: a number; or youden, sens:X, spec:X chosen on these records
 * or, with --threshold-from, on another stream's (validation), to be
 * applied unchanged to these */
static double
choose_threshold(const struct opts *o, const struct samples *s, const struct classes *cl, int c,
                 struct metrics_work *w)
{
	const char *how = o->threshold;
	struct samples v = { 0 };
	struct classes vc = { 0 };
	const struct samples *on = s;
	double t;

	if (!o->rule)
		return strtod(how, NULL);
	if (o->threshold_from) {
		read_file(o->threshold_from, o, &v, &vc, NULL, NULL);
		if (v.k != s->k)
			die(EX_DATAERR, "%s: %d classes; the records scored have %d", o->threshold_from, v.k, s->k);
		on = &v;
	}
	if (!strcmp(how, "youden"))
		t = metrics_youden(on, c, w);
	else
		t = metrics_threshold_for(on, c, how[1] == 'p' && how[2] == 'e', strtod(how + 5, NULL), w);
	if (isnan(t))
		die(EX_DATAERR, "--threshold %s: class %s needs positives and negatives in %s", how, cl->names[c],
		    o->threshold_from ? o->threshold_from : "the records");
	samples_free(&v);
	return t;
}

/* ---------------------------------------------------------------- */
/* two models on the same records */

struct ids {
	char **v;
	size_t n;
};

/* samples_read_by's hook, kept for the ids of the labelled records */
static const char *
keep_id(const struct record *r, void *ctx, char *buf, size_t n)
{
	struct ids *ids = ctx;

	ids->v = erealloc(ids->v, (ids->n + 1) * sizeof *ids->v);
	ids->v[ids->n++] = estrdup(r->id ? r->id : "");
	(void)buf, (void)n;
	return "all";
}

/*
 * b's samples put in a's order by their records' ids: each id once in
 * each, with the same label and the same patient; b then numbers its
 * patients as a does.
 */
static void
match_by_id(const struct samples *a, const struct ids *ia, struct samples *b, const struct ids *ib, const char *A,
            const char *B)
{
	struct strmap at;
	size_t n = a->n, k = (size_t)a->k;
	int *label = emalloc(n * sizeof *label);
	double *p = emalloc(n * k * sizeof *p);
	size_t *unit = emalloc(n * sizeof *unit);

	strmap_init(&at);
	for (size_t i = 0; i < n; i++)
		if (strmap_put(&at, ia->v[i], (long)i))
			die(EX_DATAERR, "--compare: %s: record '%s' twice", A, ia->v[i]);
	char *seen = ecalloc(n, 1);
	for (size_t j = 0; j < n; j++) {
		long i = strmap_get(&at, ib->v[j]);
		if (i < 0)
			die(EX_DATAERR, "--compare: record '%s' of %s is not in %s: not the same records", ib->v[j], B, A);
		if (seen[i]++)
			die(EX_DATAERR, "--compare: %s: record '%s' twice", B, ib->v[j]);
		const char *pa = a->names[a->unit[i]], *pb = b->names[b->unit[j]];
		if (a->label[i] != b->label[j] || !pa != !pb || (pa && strcmp(pa, pb)))
			die(EX_DATAERR, "--compare: record '%s' has another label or patient in %s than in %s",
			    ib->v[j], B, A);
		label[i] = b->label[j];
		memcpy(p + (size_t)i * k, b->p + j * k, k * sizeof *p);
		unit[i] = a->unit[i];
	}
	free(seen);
	strmap_free(&at);
	free(b->label);
	free(b->p);
	free(b->unit);
	b->label = label;
	b->p = p;
	b->unit = unit;
	/* a's patients, a's numbering (b's names are the same strings) */
	for (size_t u = 0; u < b->nunits; u++)
		free(b->names[u]);
	b->names = erealloc(b->names, a->nunits * sizeof *b->names);
	for (size_t u = 0; u < a->nunits; u++)
		b->names[u] = a->names[u] ? estrdup(a->names[u]) : NULL;
	b->nunits = a->nunits;
}

static void
compare(const struct opts *o)
{
	struct samples a = { 0 }, b = { 0 };
	struct classes ca = { 0 }, cb = { 0 };
	struct ids ia = { 0 }, ib = { 0 };
	struct metrics ma, mb;
	struct metrics_work w = { 0 };
	struct bootstrap_ci ci = { 0 };
	const char *A = o->inputs[0], *B = o->inputs[1];

	read_file(A, o, &a, &ca, keep_id, &ia);
	read_file(B, o, &b, &cb, keep_id, &ib);
	/* the same records, matched by id whatever their order (sharded
	 * predictions come back reordered), with the same labels */
	if (ia.n != ib.n)
		die(EX_DATAERR, "--compare: %s has %zu labelled records, %s %zu: not the same records", A, ia.n, B,
		    ib.n);
	if (a.k != b.k)
		die(EX_DATAERR, "--compare: %d classes in %s, %d in %s", a.k, A, b.k, B);
	match_by_id(&a, &ia, &b, &ib, A, B);
	to_patients(o, &a, A);
	to_patients(o, &b, B);
	metrics_init(&ma, a.k, o->bins);
	metrics_init(&mb, b.k, o->bins);
	metrics_compute(&a, NULL, a.n, &ma, &w);
	metrics_compute(&b, NULL, b.n, &mb, &w);
	if (o->reps)
		metrics_bootstrap_paired(&a, &b, o->reps, o->seed, o->level, &ci);
	struct delong *dl = ecalloc((size_t)a.k, sizeof *dl);
	int *ok = ecalloc((size_t)a.k, sizeof *ok);
	for (int c = 0; c < a.k; c++)
		ok[c] = metrics_delong(&a, &b, c, &dl[c]) == 0;

	const char *names[3] = { "accuracy", "f1_macro", "auc_macro" };
	double va[3] = { ma.accuracy, ma.macro.f1, ma.macro.auc }, vb[3] = { mb.accuracy, mb.macro.f1, mb.macro.auc };
	const double *cis[3] = { ci.acc, ci.f1, ci.auc };
	if (o->format == F_JSON) {
		printf("{\"a\":");
		json_str(stdout, A, strlen(A));
		printf(",\"b\":");
		json_str(stdout, B, strlen(B));
		printf(",\"n\":%zu,\"patients\":%zu,\"per_patient\":%s", a.n, a.nunits,
		       o->per_patient == 2 ? "\"max\"" : o->per_patient ? "\"mean\"" : "null");
		for (int j = 0; j < 3; j++) {
			printf(",\"%s\":{\"a\":", names[j]);
			json_num(stdout, va[j], 9);
			printf(",\"b\":");
			json_num(stdout, vb[j], 9);
			printf(",\"diff\":");
			json_num(stdout, va[j] - vb[j], 9);
			if (ci.reps)
				json_pair("ci", cis[j]);
			putchar('}');
		}
		if (ci.reps)
			printf(",\"ci\":{\"level\":%g,\"bootstrap\":%d,\"seed\":%llu,\"unit\":\"patient\",\"paired\":true}",
			       ci.level, ci.reps, o->seed);
		printf(",\"delong\":[");
		for (int c = 0; c < a.k; c++) {
			printf("%s{\"class\":", c ? "," : "");
			json_str(stdout, ca.names[c], strlen(ca.names[c]));
			if (ok[c]) {
				double v[6] = { dl[c].auc_a, dl[c].auc_b, dl[c].diff, dl[c].se, dl[c].z, dl[c].p };
				const char *k[6] = { "auc_a", "auc_b", "diff", "se", "z", "p" };
				for (int j = 0; j < 6; j++) {
					printf(",\"%s\":", k[j]);
					json_num(stdout, v[j], 9);
				}
			}
			putchar('}');
		}
		printf("]}\n");
	} else {
		int pct = (int)lround(o->level * 100);
		if (o->per_patient)
			printf("A %s, B %s: %zu patients in both, one call each\n", A, B, a.n);
		else
			printf("A %s, B %s: %zu records of %zu patients in both\n", A, B, a.n, a.nunits);
		printf("%-10s %8s %8s %8s", "", "A", "B", "A - B");
		if (ci.reps)
			printf("   %d%% CI (paired bootstrap of patients)", pct);
		putchar('\n');
		const char *label[3] = { "accuracy", "macro F1", "macro AUC" };
		for (int j = 0; j < 3; j++) {
			printf("%-10s %8.4f %8.4f %+8.4f", label[j], va[j], vb[j], va[j] - vb[j]);
			if (ci.reps)
				printf("   %+.4f to %+.4f", cis[j][0], cis[j][1]);
			putchar('\n');
		}
		printf("\nDeLong's test, one-vs-rest AUC of each class (paired):\n");
		printf("%-14s %7s %7s %8s %7s %7s %8s\n", "class", "AUC A", "AUC B", "A - B", "SE", "z", "p");
		for (int c = 0; c < a.k; c++) {
			if (!ok[c]) {
				printf("%-14s (needs positives and negatives)\n", ca.names[c]);
				continue;
			}
			printf("%-14s %7.4f %7.4f %+8.4f %7.4f %7.3f %8.4g\n", ca.names[c], dl[c].auc_a, dl[c].auc_b,
			       dl[c].diff, dl[c].se, dl[c].z, dl[c].p);
		}
	}
	for (size_t i = 0; i < ia.n; i++)
		free(ia.v[i]), free(ib.v[i]);
	free(ia.v), free(ib.v), free(dl), free(ok);
	metrics_free(&ma), metrics_free(&mb), metrics_work_free(&w);
	samples_free(&a), samples_free(&b);
}

/* every figure of s, the binary cut's with --threshold, and their intervals */
static void
figures(const struct opts *o, struct samples *s, const struct classes *cl, struct metrics_work *w,
        struct report *rp)
{
	int c = positive_class(o, cl);
	double t = NAN;

	metrics_init(&rp->m, s->k, o->bins);
	metrics_compute(s, NULL, s->n, &rp->m, w);
	if (o->threshold) {
		t = choose_threshold(o, s, cl, c, w);
		metrics_binary(s, c, t, &rp->bin);
		rp->has_bin = 1;
		rp->chosen_on = o->threshold_from;
	}
	if (o->reps && o->threshold)
		metrics_bootstrap_cut(s, c, t, o->reps, o->seed, o->level, &rp->ci);
	else if (o->reps)
		metrics_bootstrap(s, o->reps, o->seed, o->level, &rp->ci);
	for (int i = 0; i < o->ncov; i++)
		metrics_coverage(s, o->cov[i], o->reps, o->seed, o->level, &rp->cov[i]);
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct input in;
	struct samples s = { 0 };
	struct classes cl = { 0 };
	struct metrics_work w = { 0 };
	struct report rp = { 0 };

	/* arguments */
	cli_init(argv[0]);
	parse_args(argc, argv, &o);

	if (o.compare) {
		compare(&o);
		return fshut(stdout, "<stdout>");
	}

	/* read */
	struct by by;
	if (o.by)
		by_parse(&by, o.by, o.clinical);
	input_open(&in, o.inputs, o.ninputs);
	rp.unlabelled = samples_read_by(&in, o.classes, &s, &cl, o.by ? group_of : NULL, &by);
	input_close(&in);
	if (!s.n)
		die(EX_DATAERR, "%s: no record has both a label and probs (%lld without a label)",
		    input_names(&in), rp.unlabelled);
	/* one group, "(none)": a key misspelt, or one these records lack; a
	 * table of it would say nothing and look like an answer */
	if (o.by && s.ngroups == 1 && !strcmp(s.gnames[0], "(none)"))
		die(EX_DATAERR, "%s: --by %s: no record has it in its meta%s", input_names(&in), by.key,
		    by.t ? ", nor its patient a value in that column" : "");

	/* compute */
	to_patients(&o, &s, input_names(&in));
	for (size_t i = 0; o.ncov && i < s.n; i++)
		if (isnan(s.unc[i]))
			die(EX_DATAERR, "%s: --coverage: %s %zu of %zu has no meta.infer.uncertainty (osteo-infer writes it)",
			    input_names(&in), o.per_patient ? "patient" : "labelled record", i + 1, s.n);
	rp.cl = &cl;
	rp.o = &o;
	rp.patients = s.nunits;
	rp.s = &s;
	figures(&o, &s, &cl, &w, &rp);

	if (o.patients_out)
		write_patients(&o, &s, &cl);
	if (o.by) {
		rp.groups = groups_compute(&s, &o);
		rp.order = groups_order(&s);
		rp.by = &by;
	}

	/* report */
	if (o.roc)
		write_roc(o.roc, &s, &rp);
	if (o.format == F_JSON)
		print_json(&rp);
	else if (o.format == F_TSV)
		print_tsv(&rp);
	else
		print_text(&rp);
	for (size_t i = 0; rp.groups && i < s.ngroups; i++) {
		metrics_free(&rp.groups[i].m);
		samples_free(&rp.groups[i].s);
	}
	free(rp.groups);
	free(rp.order);
	if (o.by && by.t) {
		strmap_free(&by.rows);
		table_free(by.t);
	}
	metrics_free(&rp.m);
	metrics_work_free(&w);
	samples_free(&s);
	return fshut(stdout, "<stdout>");
}
