/*
 * cli.c - what every program's command line has in common: -q, --help,
 * --version and the record limits (cli.h).
 */
#include "cli.h"
#include "record.h"
#include "common/base/util.h"

#include <getopt.h>
#include <stdio.h>

void
print_version(void)
{
	printf("%s (osteo) %s\n", argv0, OSTEO_VERSION);
	quit(fshut(stdout, "<stdout>"));
}

static const char *help_options;

void
cli_help(const char *options)
{
	help_options = options;
}

void
cli_common(int c, const char *usage)
{
	switch (c) {
	case 'q':
		quiet = 1;
		return;
	case 'h':
		printf("usage: %s\n", usage);
		printf("limits: [--max-tensor-bytes N] [--max-record-bytes N] [--max-string N] [--max-records N]\n");
		if (help_options)
			printf("\noptions:\n%s", help_options);
		printf("\ncommon to every program:\n"
		       "  -q, --quiet            errors and warnings only\n"
		       "  -h, --help             this text, on standard output\n"
		       "  --version              the program's name and osteo's version\n"
		       "  --max-tensor-bytes N   the largest tensor read (default 1073741824)\n"
		       "  --max-record-bytes N   the largest record read (default 2147483648)\n"
		       "  --max-string N         the longest string read (default 65536)\n"
		       "  --max-records N        the most records one program holds (default 1000000)\n"
		       "\n%s(1) says more; osteo(7) gives the conventions and exit statuses.\n", argv0);
		quit(fshut(stdout, "<stdout>"));
	case CLI_OPT_VERSION:
		print_version();
	case CLI_OPT_LIMIT:
		rec_limits.max_tensor_bytes = (size_t)estrtonum(optarg, 1, 1LL << 40, "--max-tensor-bytes");
		return;
	case CLI_OPT_LIMIT + 1:
		rec_limits.max_record_bytes = (size_t)estrtonum(optarg, 1, 1LL << 40, "--max-record-bytes");
		return;
	case CLI_OPT_LIMIT + 2:
		rec_limits.max_string = (size_t)estrtonum(optarg, 1, 1LL << 30, "--max-string");
		return;
	case CLI_OPT_LIMIT + 3:
		rec_limits.max_records = (size_t)estrtonum(optarg, 1, 1LL << 40, "--max-records");
		return;
	default:
		usage_error(usage, "unknown option");
	}
}
