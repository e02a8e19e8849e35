/*
 * osteo-cat - concatenate record streams, checking each record, and
 * optionally keep one shard of them (the splitting half of scale-out),
 * the records an id list names, or the first N by a key.
 *
 *   osteo-cat --shard 2/4 all.rec | osteo-infer -m model > part2.rec
 *   osteo-cat --sort risk --reverse --head 10 pred.rec | osteo-dump --png top/
 *
 * Shard I of N holds the records whose number (counted over all inputs
 * from 0) is I modulo N, or with --by patient, whose patient's hash is,
 * so a patient's records stay together.  Every record lands in exactly
 * one shard, whatever N, and the union of the shards is the stream.
 * --sort holds the records it orders in memory (--max-records); without
 * it the stream passes through.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/record/input.h"
#include "common/record/record.h"
#include "common/base/rng.h"
#include "common/base/strmap.h"
#include "common/base/util.h"
#include "common/record/cli.h"

static const char usage[] =
	"osteo-cat [-q] [--shard I/N] [--by record|patient] [--ids FILE] [--sort KEY] [--reverse]\n"
	"       [--head N] [FILE|-]...";
static const char options[] =
	"  --shard I/N            only shard I (0 to N-1) of N, by a hash of the record or the patient\n"
	"  --by record|patient    what a shard keeps together (default record)\n"
	"  --ids FILE             only the records whose id is a line of FILE\n"
	"  --sort KEY             order by risk, label, pred, id, patient or meta.NAME (smallest first)\n"
	"  --reverse              largest first\n"
	"  --head N               only the first N records (after --sort)\n";

struct opts {
	long long shard, nshards, head;
	int by_patient, reverse;
	const char *ids, *sort;
	char **inputs;
	int ninputs;
};

static void
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_SHARD = 256, O_BY, O_IDS, O_SORT, O_REVERSE, O_HEAD };
	static const struct option longopts[] = {
		{ "shard", required_argument, 0, O_SHARD },
		{ "by", required_argument, 0, O_BY },
		{ "ids", required_argument, 0, O_IDS },
		{ "sort", required_argument, 0, O_SORT },
		{ "reverse", no_argument, 0, O_REVERSE },
		{ "head", required_argument, 0, O_HEAD },
		CLI_COMMON_OPTIONS
	};
	int c;
	char *slash;

	memset(o, 0, sizeof *o);
	o->nshards = 1;
	o->head = -1;
	cli_help(options);
	while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (c) {
		case O_SHARD:
			if (!(slash = strchr(optarg, '/')))
				usage_error(usage, "--shard: '%s' is not I/N", optarg);
			*slash = '\0';
			o->nshards = estrtonum(slash + 1, 1, 1 << 20, "--shard N");
			o->shard = estrtonum(optarg, 0, o->nshards - 1, "--shard I (0 to N-1)");
			break;
		case O_BY:
			if (strcmp(optarg, "record") && strcmp(optarg, "patient"))
				usage_error(usage, "--by: '%s' is not record or patient", optarg);
			o->by_patient = !strcmp(optarg, "patient");
			break;
		case O_IDS: o->ids = optarg; break;
		case O_SORT:
			if (strcmp(optarg, "risk") && strcmp(optarg, "label") && strcmp(optarg, "pred") &&
			    strcmp(optarg, "id") && strcmp(optarg, "patient") && (strncmp(optarg, "meta.", 5) || !optarg[5]))
				usage_error(usage, "--sort: '%s' is not risk, label, pred, id, patient or meta.NAME", optarg);
			o->sort = optarg;
			break;
		case O_REVERSE: o->reverse = 1; break;
		case O_HEAD: o->head = estrtonum(optarg, 0, 1LL << 62, "--head"); break;
		default: cli_common(c, usage);
		}
	}
	if (o->reverse && !o->sort)
		usage_error(usage, "--reverse goes with --sort");
	o->inputs = argv + optind;
	o->ninputs = argc - optind;
}

/* --ids: the lines of path, each an id */
static void
ids_load(struct strmap *ids, const char *path)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!fp)
		die(EX_NOINPUT, "%s: cannot open:", path);
	strmap_init(ids);
	while ((n = getline(&line, &cap, fp)) > 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n > 0)
			strmap_put(ids, line, 0);
	}
	if (ferror(fp))
		die(EX_IOERR, "%s: read error:", path);
	free(line);
	fclose(fp);
}

/* --sort: a record's key, a number or a string; missing sorts last */
struct keyed {
	struct record r;
	size_t pos;              /* in the stream: ties keep its order */
	int missing, is_num;
	double num;
	const char *str;
};

static void
key_of(struct keyed *k, const char *key)
{
	const struct record *r = &k->r;

	k->missing = 0;
	k->is_num = 1;
	if (!strcmp(key, "risk"))
		k->missing = !r->has_risk, k->num = r->risk;
	else if (!strcmp(key, "label"))
		k->missing = !r->has_label, k->num = (double)r->label;
	else if (!strcmp(key, "pred"))
		k->missing = !r->has_pred, k->num = (double)r->pred;
	else if (!strcmp(key, "id"))
		k->is_num = 0, k->str = r->id;
	else if (!strcmp(key, "patient"))
		k->is_num = 0, k->missing = !r->has_patient, k->str = r->patient;
	else {
		const struct metaval *v = rec_meta(r, key + 5);
		k->missing = !v;
		if (v && (v->type == MV_INT || v->type == MV_BOOL))
			k->num = (double)v->i;
		else if (v && v->type == MV_FLOAT)
			k->num = v->f;
		else if (v)
			k->is_num = 0, k->str = v->s;
	}
	if (k->is_num && k->num != k->num)
		k->missing = 1;
}

static int reverse;

static int
by_key(const void *pa, const void *pb)
{
	const struct keyed *a = pa, *b = pb;
	int c = 0;

	if (a->missing != b->missing)
		return a->missing - b->missing;
	if (!a->missing) {
		if (a->is_num != b->is_num)      /* numbers before strings */
			c = b->is_num - a->is_num;
		else if (a->is_num)
			c = (a->num > b->num) - (a->num < b->num);
		else
			c = strcmp(a->str, b->str);
		c = reverse ? -c : c;
	}
	return c ? c : (a->pos > b->pos) - (a->pos < b->pos);
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct input in;
	struct record r;
	struct rec_writer *w;
	struct strmap ids;
	struct keyed *held = NULL;
	size_t nheld = 0, cap = 0;
	unsigned long long i = 0, kept = 0;

	cli_init(argv[0]);
	parse_args(argc, argv, &o);
	out_refuse_tty(stdout);
	if (o.ids)
		ids_load(&ids, o.ids);
	rec_init(&r);
	w = rec_writer_new(stdout, "<stdout>");
	input_open(&in, o.inputs, o.ninputs);
	while ((o.sort || o.head < 0 || kept < (unsigned long long)o.head) && input_read(&in, &r)) {
		/* without a patient, a record is its own patient */
		unsigned long long key = o.by_patient ? hash_str(0, r.has_patient ? r.patient : r.id) : i++;
		if ((long long)(key % (unsigned long long)o.nshards) != o.shard || (o.ids && strmap_get(&ids, r.id) < 0))
			continue;
		kept++;
		if (!o.sort) {
			rec_write(w, &r);
			continue;
		}
		input_hold(&in, &r, nheld + 1);
		egrow((void **)&held, &cap, (nheld + 1) * sizeof *held);
		rec_init(&held[nheld].r);
		rec_copy(&held[nheld].r, &r);
		held[nheld].pos = nheld;
		key_of(&held[nheld], o.sort);
		nheld++;
	}
	if (o.sort) {
		reverse = o.reverse;
		qsort(held, nheld, sizeof *held, by_key);
		for (size_t j = 0; j < nheld && (o.head < 0 || (long long)j < o.head); j++)
			rec_write(w, &held[j].r);
		for (size_t j = 0; j < nheld; j++)
			rec_free(&held[j].r);
		free(held);
	}
	if (o.ids && kept < ids.n)
		warn("%llu of the %zu ids in %s were not in the stream", (unsigned long long)(ids.n - kept), ids.n,
		     o.ids);
	input_close(&in);
	rec_free(&r);
	return rec_writer_close(w);
}
