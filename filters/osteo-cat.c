/*
 * osteo-cat - concatenate record streams, checking each record, and
 * optionally keep one shard of them: the splitting half of scale-out.
 *
 *   osteo-cat --shard 2/4 all.rec | osteo-infer -m model > part2.rec
 *
 * Shard I of N holds the records whose number (counted over all inputs
 * from 0) is I modulo N, or with --by patient, whose patient's hash is,
 * so a patient's records stay together.  Every record lands in exactly
 * one shard, whatever N, and the union of the shards is the stream.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "common/record/input.h"
#include "common/record/record.h"
#include "common/base/rng.h"
#include "common/base/util.h"
#include "common/record/cli.h"

static const char usage[] = "osteo-cat [-q] [--shard I/N] [--by record|patient] [FILE|-]...";
static const char options[] =
	"  --shard I/N            only shard I (0 to N-1) of N, by a hash of the record or the patient\n"
	"  --by record|patient    what a shard keeps together (default record)\n";

struct opts {
	long long shard, nshards;
	int by_patient;
	char **inputs;
	int ninputs;
};

static void
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_SHARD = 256, O_BY };
	static const struct option longopts[] = {
		{ "shard", required_argument, 0, O_SHARD },
		{ "by", required_argument, 0, O_BY },
		CLI_COMMON_OPTIONS
	};
	int c;
	char *slash;

	memset(o, 0, sizeof *o);
	o->nshards = 1;
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
		default: cli_common(c, usage);
		}
	}
	o->inputs = argv + optind;
	o->ninputs = argc - optind;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct input in;
	struct record r;
	struct rec_writer *w;
	unsigned long long i = 0;

	cli_init(argv[0]);
	parse_args(argc, argv, &o);
	out_refuse_tty(stdout);
	rec_init(&r);
	w = rec_writer_new(stdout, "<stdout>");
	input_open(&in, o.inputs, o.ninputs);
	while (input_read(&in, &r)) {
		/* without a patient, a record is its own patient */
		unsigned long long key = o.by_patient ? hash_str(0, r.has_patient ? r.patient : r.id) : i;
		if ((long long)(key % (unsigned long long)o.nshards) == o.shard)
			rec_write(w, &r);
		i++;
	}
	input_close(&in);
	rec_free(&r);
	return rec_writer_close(w);
}
