/*
 * osteo-split - train, validation and test files, stratified by label and
 * grouped by patient: no patient's images land in two splits.
 *
 * Two passes: the first reads every record's patient, label and (with
 * --dedup) a perceptual hash; the second writes each record to its split.
 * Standard input is spooled to a temporary file for the second pass, so
 * memory holds keys, not images.  Patients are ordered by a hash of --seed
 * and their key, never by the stream's order, and assigned greedily, the
 * largest first, to the split furthest below its share of the class.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/image/imgops.h"
#include "common/record/contract.h"
#include "common/record/input.h"
#include "common/record/params.h"
#include "common/record/record.h"
#include "common/base/rng.h"
#include "common/base/strmap.h"
#include "common/base/util.h"
#include "common/record/cli.h"

static const char usage[] =
	"osteo-split [-q] [--ratios TRAIN,VAL,TEST] [--seed N] [--dedup]\n"
	"       [--dedup-distance BITS] [--dedup-tolerance RMS]\n"
	"       --train FILE --val FILE --test FILE [FILE|-]...";
static const char options[] =
	"  --train FILE           the training split\n"
	"  --val FILE             the validation split\n"
	"  --test FILE            the test split\n"
	"  --ratios T,V,T         the splits' shares of the patients (default 70,15,15)\n"
	"  --seed N               the assignment's generator (default 1)\n"
	"  --dedup                keep near-duplicate images in one split, and report them\n"
	"  --dedup-distance BITS  near: hashes at most this far apart (default 10; implies --dedup)\n"
	"  --dedup-tolerance RMS  and thumbnails this close (default 0.1; implies --dedup)\n";

static const char *const splitnames[3] = { "train", "val", "test" };

struct opts {
	double ratio[3];
	unsigned long long seed;
	int dedup;
	int distance;
	double tolerance;
	const char *out[3];
	char **inputs;
	int ninputs;
};

/* a group: a patient, or several joined by duplicate images */
struct group {
	char *key;
	long label;           /* the majority label, -1 for none */
	long n;               /* records */
	long *per;            /* records per label */
	uint64_t order;
	int split;
	long parent;          /* union-find over duplicates */
};

#define THUMB 16

struct item {
	long group;
	long label;           /* -1 without one */
	uint64_t hash;
	float *thumb;         /* THUMB x THUMB, zero mean, unit variance */
	char *id;
};

struct state {
	struct group *g;
	long ng, gcap;
	struct item *it;
	long nit, itcap;
	long nlabels;
	struct strmap patients;
	uint64_t digest;      /* the input's, record by record (rec_digest) */
	char of[17], id[17];  /* the input's fingerprint; the run's (input and settings) */
};

static void
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_RATIOS = 256, O_SEED, O_DEDUP, O_DIST, O_TOL, O_TRAIN, O_VAL, O_TEST };
	static const struct option longopts[] = {
		{ "ratios", required_argument, 0, O_RATIOS },
		{ "seed", required_argument, 0, O_SEED },
		{ "dedup", no_argument, 0, O_DEDUP },
		{ "dedup-distance", required_argument, 0, O_DIST },
		{ "dedup-tolerance", required_argument, 0, O_TOL },
		{ "train", required_argument, 0, O_TRAIN },
		{ "val", required_argument, 0, O_VAL },
		{ "test", required_argument, 0, O_TEST },
		CLI_COMMON_OPTIONS
	};
	int c;

	memset(o, 0, sizeof *o);
	o->ratio[0] = 70;
	o->ratio[1] = 15;
	o->ratio[2] = 15;
	o->seed = 1;
	o->distance = 10;
	o->tolerance = 0.1;
	cli_help(options);
	while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (c) {
		case O_RATIOS:
			eparse_numbers(optarg, o->ratio, 3, 3, 0, 1e6, "--ratios");
			if (o->ratio[0] + o->ratio[1] + o->ratio[2] <= 0)
				die(EX_USAGE, "--ratios: all zero");
			break;
		case O_SEED: o->seed = (unsigned long long)estrtonum(optarg, 0, INT64_MAX, "--seed"); break;
		case O_DEDUP: o->dedup = 1; break;
		case O_DIST: o->distance = (int)estrtonum(optarg, 0, 64, "--dedup-distance"); o->dedup = 1; break;
		case O_TOL: o->tolerance = estrtod(optarg, 0, 10, "--dedup-tolerance"); o->dedup = 1; break;
		case O_TRAIN: o->out[0] = optarg; break;
		case O_VAL: o->out[1] = optarg; break;
		case O_TEST: o->out[2] = optarg; break;
		default: cli_common(c, usage);
		}
	}
	if (!o->out[0] || !o->out[1] || !o->out[2])
		usage_error(usage, "--train, --val and --test name the three output files");
	double sum = o->ratio[0] + o->ratio[1] + o->ratio[2];
	for (int i = 0; i < 3; i++)
		o->ratio[i] /= sum;
	o->inputs = argv + optind;
	o->ninputs = argc - optind;
}

/* ---------------------------------------------------------------- */
/* pass 1 */

static long
group_of(struct state *s, const char *key, const struct opts *o)
{
	long g = strmap_get(&s->patients, key);

	if (g >= 0)
		return g;
	if (s->ng == s->gcap) {
		s->gcap = s->gcap ? 2 * s->gcap : 256;
		s->g = erealloc(s->g, s->gcap * sizeof *s->g);
	}
	g = s->ng++;
	memset(&s->g[g], 0, sizeof s->g[g]);
	s->g[g].key = estrdup(key);
	s->g[g].parent = g;
	s->g[g].order = hash_str(o->seed, key);
	strmap_put(&s->patients, key, g);
	return g;
}

static void
standardize(float *v, int n)
{
	double m = 0, s2 = 0;

	for (int i = 0; i < n; i++)
		m += v[i];
	m /= n;
	for (int i = 0; i < n; i++)
		s2 += (v[i] - m) * (v[i] - m);
	double sd = sqrt(s2 / n);
	for (int i = 0; i < n; i++)
		v[i] = sd > 0 ? (float)((v[i] - m) / sd) : 0;
}

/* root mean square difference of two thumbnails */
static double
rms(const float *a, const float *b, int n)
{
	double s = 0;

	for (int i = 0; i < n; i++)
		s += (a[i] - b[i]) * (a[i] - b[i]);
	return sqrt(s / n);
}

static void
scan(struct state *s, struct input *in, struct record *r, const struct opts *o, struct spool *spool)
{
	float *buf = NULL;
	size_t cap = 0;
	unsigned long long nopatient = 0;

	while (input_read(in, r)) {
		struct item *it;
		if (s->nit == s->itcap) {
			s->itcap = s->itcap ? 2 * s->itcap : 1024;
			s->it = erealloc(s->it, s->itcap * sizeof *s->it);
		}
		it = &s->it[s->nit++];
		input_hold(in, r, s->nit);
		memset(it, 0, sizeof *it);
		/* without a patient, a record is its own group */
		if (!r->has_patient)
			nopatient++;
		it->group = group_of(s, r->has_patient ? r->patient : r->id, o);
		it->label = r->has_label ? r->label : -1;
		if (it->label >= 100000)
			input_die(in, r, "label %ld is implausibly large", it->label);
		if (it->label + 1 > s->nlabels)
			s->nlabels = it->label + 1;
		if (o->dedup) {
			struct tensor *t = rec_tensor(r, TENSOR_IMAGE);
			if (!t || t->ndim != 3 || !t->shape[1] || !t->shape[2])
				input_die(in, r, "--dedup needs an 'image' tensor [C,H,W]");
			egrow((void **)&buf, &cap, tensor_elems(t) * sizeof(float));
			tensor_to_float(t, buf);
			it->hash = img_dhash(buf, (int)t->shape[1], (int)t->shape[2]);
			it->thumb = emalloc(THUMB * THUMB * sizeof(float));
			img_resize(buf, 1, (int)t->shape[1], (int)t->shape[2], it->thumb, THUMB, THUMB);
			standardize(it->thumb, THUMB * THUMB);
			it->id = estrdup(r->id);
		}
		s->digest = rec_digest(s->digest, r);
		if (spool)
			spool_add(spool, r);
	}
	if (spool)
		spool_end(spool);
	/* the run's identity: the same input split the same way is the same
	 * split, so an interrupted run done again matches its own files */
	char settings[256];
	snprintf(settings, sizeof settings, "%.17g,%.17g,%.17g seed %llu dedup %d %d %.17g", o->ratio[0], o->ratio[1],
	         o->ratio[2], o->seed, o->dedup, o->distance, o->tolerance);
	digest_hex(s->digest, s->of);
	digest_hex(hash_str(s->digest, settings), s->id);
	if (nopatient)
		warn("%llu records have no patient; each is split on its own", nopatient);
	free(buf);
}

static long
root(struct state *s, long g)
{
	while (s->g[g].parent != g)
		g = s->g[g].parent = s->g[s->g[g].parent].parent;
	return g;
}

/*
 * Join the groups of near-duplicate images; report those across labels.
 * The 64-bit hash is a cheap first filter; a pair is a duplicate when
 * their standardised 16x16 thumbnails also agree (re-exports, re-encodings,
 * small shifts), not merely because two radiographs of one region look
 * alike at 9x8 pixels.
 */
static void
dedup(struct state *s, const struct opts *o)
{
	unsigned long long pairs = 0, conflicts = 0;

	for (long i = 0; i < s->nit; i++)
		for (long j = i + 1; j < s->nit; j++) {
			if (__builtin_popcountll(s->it[i].hash ^ s->it[j].hash) > o->distance ||
			    rms(s->it[i].thumb, s->it[j].thumb, THUMB * THUMB) > o->tolerance)
				continue;
			pairs++;
			if (s->it[i].label != s->it[j].label) {
				conflicts++;
				warn("near-duplicate images with different labels: '%s' (label %ld) and '%s' (label %ld)",
				     s->it[i].id, s->it[i].label, s->it[j].id, s->it[j].label);
			}
			long a = root(s, s->it[i].group), b = root(s, s->it[j].group);
			if (a != b)
				s->g[a > b ? a : b].parent = a < b ? a : b;
		}
	info("--dedup: %llu near-duplicate pairs, %llu with different labels", pairs, conflicts);
}

/* ---------------------------------------------------------------- */
/* assignment */

static int
by_size_then_order(const void *a, const void *b)
{
	const struct group *x = *(const struct group *const *)a, *y = *(const struct group *const *)b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static void
assign(struct state *s, const struct opts *o)
{
	long nl = s->nlabels + 1;   /* the last slot: no label */
	struct group **order = emalloc(s->ng * sizeof *order);
	long n = 0;

	for (long g = 0; g < s->ng; g++)
		s->g[g].per = ecalloc(nl, sizeof(long));
	for (long i = 0; i < s->nit; i++) {
		struct group *g = &s->g[root(s, s->it[i].group)];
		g->n++;
		g->per[s->it[i].label < 0 ? nl - 1 : s->it[i].label]++;
	}
	for (long g = 0; g < s->ng; g++) {
		if (root(s, g) != g)
			continue;
		long best = 0;
		for (long k = 1; k < nl; k++)
			if (s->g[g].per[k] > s->g[g].per[best])
				best = k;
		s->g[g].label = best;
		order[n++] = &s->g[g];
	}
	qsort(order, n, sizeof *order, by_size_then_order);
	/* per label: records in each split so far, and the class's total */
	double (*have)[3] = ecalloc(nl, sizeof *have);
	long *total = ecalloc(nl, sizeof *total);
	for (long i = 0; i < n; i++)
		total[order[i]->label] += order[i]->n;
	for (long i = 0; i < n; i++) {
		struct group *g = order[i];
		long k = g->label;
		int best = 0;
		double bestgap = -INFINITY;
		for (int sp = 0; sp < 3; sp++) {
			if (o->ratio[sp] <= 0)
				continue;
			double gap = o->ratio[sp] * total[k] - have[k][sp];
			if (gap > bestgap + 1e-9) {
				bestgap = gap;
				best = sp;
			}
		}
		g->split = best;
		have[k][best] += g->n;
	}
	for (long g = 0; g < s->ng; g++)
		s->g[g].split = s->g[root(s, g)].split;
	free(have);
	free(total);
	free(order);
}

/* ---------------------------------------------------------------- */
/* pass 2 */

static void
write_splits(struct state *s, const struct opts *o, struct input *in, struct record *r)
{
	FILE *fp[3];
	char *tmp[3];
	struct rec_writer *w[3];
	long count[3][64] = { { 0 } };
	long i = 0;
	uint64_t digest = 0;

	for (int sp = 0; sp < 3; sp++) {
		fp[sp] = atomic_open(o->out[sp], &tmp[sp]);
		w[sp] = rec_writer_new(fp[sp], tmp[sp]);
	}
	while (input_read(in, r)) {
		if (i >= s->nit)
			die(EX_SOFTWARE, "the input changed between the two passes");
		digest = rec_digest(digest, r);
		int sp = s->g[s->it[i].group].split;
		rec_meta_str(r, KEY_SPLIT_ID, s->id);
		rec_meta_str(r, KEY_SPLIT_PART, splitnames[sp]);
		rec_meta_str(r, KEY_SPLIT_OF, s->of);
		rec_write(w[sp], r);
		long k = s->it[i].label < 0 ? 63 : s->it[i].label < 63 ? s->it[i].label : 62;
		count[sp][k]++;
		i++;
	}
	if (i != s->nit || digest != s->digest)
		die(EX_SOFTWARE, "the input changed between the two passes");
	/* three renames, one after the other: a kill between them leaves
	 * files of two runs, which their split.id tells apart (osteo-train
	 * refuses such a --val, osteo-infer such a test set) */
	for (int sp = 0; sp < 3; sp++) {
		int st = rec_writer_close(w[sp]);
		if (st)
			quit(st);
		atomic_commit(fp[sp], tmp[sp], o->out[sp]);
	}
	if (quiet)
		return;
	fprintf(stderr, "%s: split\trecords", argv0);
	for (long k = 0; k < s->nlabels && k < 63; k++)
		fprintf(stderr, "\tlabel %ld", k);
	fprintf(stderr, "\tunlabelled\n");
	for (int sp = 0; sp < 3; sp++) {
		long tot = 0;
		for (int k = 0; k < 64; k++)
			tot += count[sp][k];
		fprintf(stderr, "%s: %s\t%ld", argv0, splitnames[sp], tot);
		for (long k = 0; k < s->nlabels && k < 63; k++)
			fprintf(stderr, "\t%ld", count[sp][k]);
		fprintf(stderr, "\t%ld\n", count[sp][63]);
	}
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct state s = { 0 };
	struct input in;
	struct record r;
	struct spool spool = { 0 };
	int from_stdin;

	/* arguments */
	cli_init(argv[0]);
	parse_args(argc, argv, &o);

	/* prepare */
	strmap_init(&s.patients);
	rec_init(&r);
	from_stdin = o.ninputs == 0;
	for (int i = 0; i < o.ninputs; i++)
		from_stdin |= !strcmp(o.inputs[i], "-");
	if (from_stdin && o.ninputs > 1)
		usage_error(usage, "standard input can only be the one input");
	if (from_stdin)
		spool_open(&spool);

	/* process */
	input_open(&in, o.inputs, o.ninputs);
	input_unique_ids(&in);
	scan(&s, &in, &r, &o, from_stdin ? &spool : NULL);
	input_close(&in);
	if (s.nit == 0)
		die(EX_DATAERR, "%s: no records to split", input_names(&in));
	if (o.dedup)
		dedup(&s, &o);
	assign(&s, &o);
	if (from_stdin)
		/* the spool stands in for stdin in the second pass */
		spool_input(&spool, &in, "<stdin>");
	else
		input_open(&in, o.inputs, o.ninputs);
	write_splits(&s, &o, &in, &r);

	/* clean up */
	input_close(&in);
	if (from_stdin)
		spool_close(&spool);
	rec_free(&r);
	return 0;
}
