/*
 * osteo-gpuinfo - list the CUDA devices osteo-train and osteo-infer can
 * use.  Exit 69 when there are none, so scripts and tests can ask first.
 */
#include <getopt.h>
#include <string.h>

#include "common/base/util.h"
#include "common/record/cli.h"
#include "gpu/gpu.h"

static const char usage[] = "osteo-gpuinfo [-q]";
static const char options[] =
	"  (none but the common ones)\n";

int
main(int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_OPTIONS };
	const char *why = NULL;
	struct gpu_info gi;
	int c, n;

	/* arguments */
	cli_init(argv[0]);
	cli_help(options);
	while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1)
		cli_common(c, usage);
	if (optind < argc)
		usage_error(usage, "unexpected argument '%s'", argv[optind]);

	/* process */
	n = gpu_count(&why);
	if (n == 0) {
		if (!quiet)
			warn("no usable GPU: %s", why);
		return EX_UNAVAILABLE;
	}
	for (int i = 0; i < n; i++) {
		if (gpu_query(i, &gi, &why) < 0)
			die(EX_UNAVAILABLE, "device %d: %s", i, why);
		if (!quiet)
			printf("cuda:%d\t%s\tsm_%d%d\t%.1f GiB\t%d SMs\tcuBLAS %d\n", i, gi.name, gi.major,
			       gi.minor, gi.memory / 1073741824.0, gi.multiprocessors, gi.cublas_version);
	}

	/* clean up */
	return fshut(stdout, "<stdout>");
}
