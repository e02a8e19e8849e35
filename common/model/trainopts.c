/*
 * trainopts.c - trainopts.h: osteo-train's command line, parsed here so
 * that the program and the options fuzzer (tests/fuzz/fuzz_options.c)
 * run the same parser.
 */
#include "trainopts.h"
#include "common/base/util.h"
#include "common/record/classes.h"
#include "common/record/cli.h"
#include "engine/spec/net.h"

#include <getopt.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

const char train_usage[] =
	"osteo-train [-q] -o MODEL [--val FILE] [--arch SPEC] [--classes LIST] [--epochs N]\n"
	"       [--batch N] [--lr X] [--beta1 X] [--beta2 X] [--adam-eps X] [--weight-decay X]\n"
	"       [--patience N] [--plateau N] [--plateau-factor X] [--cosine] [--class-weights auto|LIST]\n"
	"       [--seed N] [--log FILE] [--checkpoint FILE] [--resume FILE] [--init MODEL]\n"
	"       [--freeze N] [--clinical-dropout P] [--fusion joint|late] [--calibrate]\n"
	"       [--device auto|cpu|cuda[:N]] [--tf32] [--precision fp32|bf16|auto]\n"
	"       [--progress] [--auto [--budget MINUTES]] [--mpi] [--micro-batch N]\n"
	"       [FILE|-]...";
static const char options[] =
	"  -o, --output MODEL     the model file to write\n"
	"  --val FILE             validation records: early stopping, --fusion late, --calibrate\n"
	"  --arch SPEC            the network (default --init's, else the paper's OsteoNet)\n"
	"  --classes LIST         the class names (default: the records' names)\n"
	"  --epochs N             at most N epochs (default 50)\n"
	"  --batch N              records per step (default 32)\n"
	"  --lr X                 Adam's learning rate (default 0.001)\n"
	"  --beta1 X              Adam's beta1 (default 0.9)\n"
	"  --beta2 X              Adam's beta2 (default 0.999)\n"
	"  --adam-eps X           Adam's epsilon (default 1e-8)\n"
	"  --weight-decay X       decoupled weight decay (default 0)\n"
	"  --patience N           stop after N epochs without a better validation loss; 0 never (default 10)\n"
	"  --plateau N            halve the learning rate after N such epochs; 0 never (default 5)\n"
	"  --plateau-factor X     the factor instead of a half (default 0.5)\n"
	"  --cosine               the learning rate falls to 0 along half a cosine instead\n"
	"  --class-weights auto|LIST  weigh the loss by class: auto is n / (k n_c) (default: all 1)\n"
	"  --seed N               weights, order and dropout are drawn from it (default 1)\n"
	"  --log FILE             one TSV line per epoch\n"
	"  --checkpoint FILE      the checkpoint after each epoch (default MODEL.ckpt)\n"
	"  --resume FILE          go on from a checkpoint, to the same model as a run never stopped\n"
	"  --init MODEL           start from another model's matching layers\n"
	"  --freeze N             keep the first N layers fixed\n"
	"  --clinical-dropout P   hide a record's clinical values with probability P in training\n"
	"  --fusion joint|late    clinical values in the network, or joined to its answer (default joint)\n"
	"  --calibrate            fit a temperature on --val's records, kept in the model\n"
	"  --device DEV           auto, cpu or cuda[:N] (default auto: device 0 when there is one)\n"
	"  --tf32                 let cuBLAS use TF32 tensor cores\n"
	"  --precision P          fp32, bf16 (bfloat16 products on the CPU) or auto (default fp32)\n"
	"  --progress             a progress line per batch (default: when stderr is a terminal)\n"
	"  --no-check             take a --val prepared or split otherwise than the training records\n"
	"  --auto                 choose the network and recipe by cross-validation; an ensemble of its folds\n"
	"  --budget MINUTES       --auto's planned training time (default 10)\n"
	"  --mpi                  share each batch among the ranks mpirun or srun started (CPU)\n"
	"  --micro-batch N        each batch as micro-batches of N, summed exactly: the same model\n"
	"                         at any rank count, one process included (default with --mpi: 16)\n";


void
train_opts_parse(int argc, char **argv, struct train_opts *o)
{
	enum { O_VAL = 256, O_ARCH, O_CLASSES, O_EPOCHS, O_BATCH, O_LR, O_B1, O_B2, O_EPS, O_WD,
	       O_PATIENCE, O_PLATEAU, O_FACTOR, O_WEIGHTS, O_SEED, O_LOG, O_CKPT, O_RESUME, O_INIT,
	       O_FREEZE, O_CLINDROP, O_DEVICE, O_TF32, O_PROGRESS, O_CALIBRATE, O_COSINE, O_FUSION, O_NOCHECK, O_PRECISION,
	       O_AUTO, O_BUDGET, O_MPI, O_MICRO };
	static const struct option longopts[] = {
		{ "output", required_argument, 0, 'o' },
		{ "val", required_argument, 0, O_VAL },
		{ "arch", required_argument, 0, O_ARCH },
		{ "classes", required_argument, 0, O_CLASSES },
		{ "epochs", required_argument, 0, O_EPOCHS },
		{ "batch", required_argument, 0, O_BATCH },
		{ "lr", required_argument, 0, O_LR },
		{ "beta1", required_argument, 0, O_B1 },
		{ "beta2", required_argument, 0, O_B2 },
		{ "adam-eps", required_argument, 0, O_EPS },
		{ "weight-decay", required_argument, 0, O_WD },
		{ "patience", required_argument, 0, O_PATIENCE },
		{ "plateau", required_argument, 0, O_PLATEAU },
		{ "plateau-factor", required_argument, 0, O_FACTOR },
		{ "cosine", no_argument, 0, O_COSINE },
		{ "class-weights", required_argument, 0, O_WEIGHTS },
		{ "seed", required_argument, 0, O_SEED },
		{ "log", required_argument, 0, O_LOG },
		{ "checkpoint", required_argument, 0, O_CKPT },
		{ "resume", required_argument, 0, O_RESUME },
		{ "init", required_argument, 0, O_INIT },
		{ "freeze", required_argument, 0, O_FREEZE },
		{ "clinical-dropout", required_argument, 0, O_CLINDROP },
		{ "calibrate", no_argument, 0, O_CALIBRATE },
		{ "fusion", required_argument, 0, O_FUSION },
		{ "device", required_argument, 0, O_DEVICE },
		{ "tf32", no_argument, 0, O_TF32 },
		{ "precision", required_argument, 0, O_PRECISION },
		{ "progress", no_argument, 0, O_PROGRESS },
		{ "no-check", no_argument, 0, O_NOCHECK },
		{ "auto", no_argument, 0, O_AUTO },
		{ "budget", required_argument, 0, O_BUDGET },
		{ "mpi", no_argument, 0, O_MPI },
		{ "micro-batch", required_argument, 0, O_MICRO },
		CLI_COMMON_OPTIONS
	};
	int c, budget = 0;
	/* the options --auto chooses for itself: the last one given */
	const char *chosen = NULL;

	memset(o, 0, sizeof *o);
	o->arch = NULL;          /* osteo-train: the --init model's network, else DEFAULT_ARCH */
	o->epochs = 50;
	o->batch = 32;
	o->lr = 1e-3;
	o->beta1 = 0.9;
	o->beta2 = 0.999;
	o->eps = 1e-8;
	o->patience = 10;
	o->plateau = 5;
	o->factor = 0.5;
	o->seed = 1;
	o->device = "auto";
	o->precision = "fp32";
	o->progress = isatty(2);
	o->budget = 10;
	cli_help(options);
	while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': o->out = optarg; break;
		case O_VAL: o->val = optarg; break;
		case O_NOCHECK: o->no_check = 1; break;
		case O_ARCH: o->arch = optarg; break;
		case O_CLASSES: o->classes = optarg; break;
		case O_EPOCHS: o->epochs = (int)estrtonum(optarg, 1, 100000, "--epochs"); break;
		case O_BATCH: o->batch = (int)estrtonum(optarg, 1, 65536, "--batch"); break;
		case O_LR: o->lr = estrtod(optarg, 1e-12, 10, "--lr"); break;
		case O_B1: o->beta1 = estrtod(optarg, 0, 0.999999, "--beta1"); break;
		case O_B2: o->beta2 = estrtod(optarg, 0, 0.999999999, "--beta2"); break;
		case O_EPS: o->eps = estrtod(optarg, 1e-30, 1, "--adam-eps"); break;
		case O_WD: o->wd = estrtod(optarg, 0, 1, "--weight-decay"); break;
		case O_PATIENCE: o->patience = (int)estrtonum(optarg, 0, 100000, "--patience"); break;
		case O_PLATEAU: o->plateau = (int)estrtonum(optarg, 0, 100000, "--plateau"); break;
		case O_FACTOR: o->factor = estrtod(optarg, 1e-6, 1, "--plateau-factor"); break;
		case O_COSINE: o->cosine = 1; break;
		case O_WEIGHTS: o->weights = optarg; break;
		case O_SEED: o->seed = (unsigned long long)estrtonum(optarg, 0, INT64_MAX, "--seed"); break;
		case O_LOG: o->log = optarg; break;
		case O_CKPT: o->checkpoint = optarg; break;
		case O_RESUME: o->resume = optarg; break;
		case O_INIT: o->init = optarg; break;
		case O_FREEZE: o->freeze = (int)estrtonum(optarg, 0, NET_MAXLAYERS, "--freeze"); break;
		case O_CLINDROP: o->clin_drop = estrtod(optarg, 0, 0.999, "--clinical-dropout"); break;
		case O_CALIBRATE: o->calibrate = 1; break;
		case O_FUSION:
			if (strcmp(optarg, "joint") && strcmp(optarg, "late"))
				usage_error(train_usage, "--fusion: joint or late, not '%s'", optarg);
			o->late = !strcmp(optarg, "late");
			break;
		case O_DEVICE: o->device = optarg; break;
		case O_TF32: o->tf32 = 1; break;
		case O_PRECISION:
			if (strcmp(optarg, "fp32") && strcmp(optarg, "bf16") && strcmp(optarg, "auto"))
				usage_error(train_usage, "--precision: fp32, bf16 or auto, not '%s'", optarg);
			o->precision = optarg;
			break;
		case O_PROGRESS: o->progress = 1; break;
		case O_AUTO: o->autotune = 1; break;
		case O_BUDGET: o->budget = estrtod(optarg, 0, 1e6, "--budget"); budget = 1; break;
		case O_MPI: o->mpi = 1; break;
		case O_MICRO: o->micro = (int)estrtonum(optarg, 1, 65536, "--micro-batch"); break;
		case 'q': quiet = 1; o->progress = 0; break;
		default: cli_common(c, train_usage);
		}
		switch (c) {
		case O_ARCH: case O_EPOCHS: case O_LR: case O_WD: case O_COSINE: case O_WEIGHTS: case O_RESUME:
		case O_INIT: case O_FREEZE: case O_FUSION: case O_CLINDROP: case O_PLATEAU: case O_FACTOR:
		case O_PATIENCE:
			for (const struct option *l = longopts; l->name; l++)
				if (l->val == c)
					chosen = l->name;
		}
	}
	if (!o->out)
		usage_error(train_usage, "-o names the model file to write");
	if (o->autotune && chosen)
		usage_error(train_usage, "--auto chooses the network and its recipe: leave out --%s", chosen);
	if (budget && !o->autotune)
		usage_error(train_usage, "--budget is --auto's");
	if (o->autotune && (o->mpi || o->micro))
		usage_error(train_usage, "--auto trains in one process, in whole batches: leave out --%s",
		            o->mpi ? "mpi" : "micro-batch");
	/* the micro-batch that --mpi's results are the same for at any rank count */
	if (o->mpi && !o->micro)
		o->micro = o->batch < 16 ? o->batch : 16;
	if (o->micro > o->batch)
		usage_error(train_usage, "--micro-batch %d is larger than --batch %d", o->micro, o->batch);
	if (o->calibrate && !o->val && !o->autotune)
		usage_error(train_usage, "--calibrate fits the temperature on --val's records");
	if (o->late && !o->val)
		usage_error(train_usage, "--fusion late fits the clinical values' share on --val's records");
	if (o->late && o->clin_drop > 0)
		usage_error(train_usage, "--clinical-dropout: with --fusion late the network sees no clinical values");
	o->inputs = argv + optind;
	o->ninputs = argc - optind;
}
