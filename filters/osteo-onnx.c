/*
 * osteo-onnx - a model of osteo-train's as an ONNX file (common/onnx/export.c),
 * for runtimes other than osteo-infer: the same probabilities from the same
 * prepared tensors.
 */
#include <getopt.h>
#include <string.h>

#include "common/base/util.h"
#include "common/model/model.h"
#include "common/onnx/onnx.h"
#include "common/record/cli.h"

static const char usage[] = "osteo-onnx [-q] --export MODEL -o FILE.onnx [--batch N]";
static const char options[] =
	"  --export MODEL         the model osteo-train wrote\n"
	"  -o, --output FILE      the ONNX file to write\n"
	"  --batch N              fix the batch dimension at N (default: free, named batch)\n";

int
main(int argc, char **argv)
{
	enum { O_EXPORT = 256, O_BATCH };
	static const struct option longopts[] = {
		{ "export", required_argument, 0, O_EXPORT },
		{ "output", required_argument, 0, 'o' },
		{ "batch", required_argument, 0, O_BATCH },
		CLI_COMMON_OPTIONS
	};
	const char *model = NULL, *outp = NULL, *err;
	int c, batch = 0;
	struct model m;
	struct record r;

	/* arguments */
	cli_init(argv[0]);
	cli_help(options);
	while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
		switch (c) {
		case O_EXPORT: model = optarg; break;
		case 'o': outp = optarg; break;
		case O_BATCH: batch = (int)estrtonum(optarg, 1, 65536, "--batch"); break;
		default: cli_common(c, usage);
		}
	}
	if (optind < argc)
		usage_error(usage, "unexpected argument '%s'", argv[optind]);
	if (!model)
		usage_error(usage, "--export names the model to write as ONNX");
	if (!outp)
		usage_error(usage, "-o names the ONNX file to write");

	/* process */
	rec_init(&r);
	if (model_load(model, &m, &r, &err) < 0)
		die(EX_DATAERR, "%s: %s", model, err);
	int nodes = onnx_export(&m, batch, outp);
	info("%s: %s as %d ONNX nodes (opset %d), inputs image%s, output probs", outp, model, nodes, ONNX_OPSET,
	     model_clinical(&m) ? " and clinical" : "");

	/* clean up */
	model_free(&m);
	rec_free(&r);
	return 0;
}
