/*
 * osteo-onnx - a model of osteo-train's as an ONNX file (common/onnx/export.c),
 * for runtimes other than osteo-infer: the same probabilities from the same
 * prepared tensors; and an ONNX file of a network osteo's engine runs as a
 * model (import.c), for osteo-infer or osteo-train --init.
 */
#include <getopt.h>
#include <string.h>

#include "common/base/util.h"
#include "common/model/model.h"
#include "common/onnx/onnx.h"
#include "common/record/cli.h"

static const char usage[] =
	"osteo-onnx [-q] --export MODEL -o FILE.onnx [--batch N]\n"
	"       osteo-onnx [-q] --import FILE.onnx -o MODEL [--classes LIST] [--gray]";
static const char options[] =
	"  --export MODEL         the model osteo-train wrote, as ONNX\n"
	"  --import FILE.onnx     an ONNX network, as an osteo model\n"
	"  -o, --output FILE      the file to write: ONNX (--export) or a model (--import)\n"
	"  --batch N              --export: fix the batch dimension at N (default: free, named batch)\n"
	"  --classes LIST         --import: the class names (default class0,class1,...); another\n"
	"                         number than the file's gives a new classifier\n"
	"  --gray                 --import: a network of 3 input channels takes gray images\n";

int
main(int argc, char **argv)
{
	enum { O_EXPORT = 256, O_IMPORT, O_BATCH, O_CLASSES, O_GRAY };
	static const struct option longopts[] = {
		{ "export", required_argument, 0, O_EXPORT },
		{ "import", required_argument, 0, O_IMPORT },
		{ "classes", required_argument, 0, O_CLASSES },
		{ "gray", no_argument, 0, O_GRAY },
		{ "output", required_argument, 0, 'o' },
		{ "batch", required_argument, 0, O_BATCH },
		CLI_COMMON_OPTIONS
	};
	const char *model = NULL, *onnx = NULL, *classes = NULL, *outp = NULL, *err;
	int c, batch = 0, gray = 0;
	struct model m;
	struct record r;

	/* arguments */
	cli_init(argv[0]);
	cli_help(options);
	while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
		switch (c) {
		case O_EXPORT: model = optarg; break;
		case O_IMPORT: onnx = optarg; break;
		case O_CLASSES: classes = optarg; break;
		case O_GRAY: gray = 1; break;
		case 'o': outp = optarg; break;
		case O_BATCH: batch = (int)estrtonum(optarg, 1, 65536, "--batch"); break;
		default: cli_common(c, usage);
		}
	}
	if (optind < argc)
		usage_error(usage, "unexpected argument '%s'", argv[optind]);
	if (!model == !onnx)
		usage_error(usage, "one of --export MODEL and --import FILE.onnx");
	if (!outp)
		usage_error(usage, "-o names the %s to write", model ? "ONNX file" : "model");
	if (model && (classes || gray))
		usage_error(usage, "--classes and --gray are --import's");
	if (onnx && batch)
		usage_error(usage, "--batch is --export's");

	/* process */
	if (onnx) {
		char why[640];
		if (onnx_import(onnx, classes, gray, &m, why, sizeof why) < 0)
			die(EX_DATAERR, "%s: %s", onnx, why);
		model_save(outp, &m, NULL, 0);
		info("%s: %s as %s, %d classes, %zu parameters", outp, onnx, m.arch, m.net->nclasses, m.net->nparams);
		model_free(&m);
		return 0;
	}
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
