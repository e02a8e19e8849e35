/*
 * osteo-baseline - the paper's comparisons: a support vector machine
 * (libsvm), a random forest or gradient-boosted trees (XGBoost, common/
 * xgb.c) on the clinical tensor and simple image features.
 *
 *   osteo-baseline -o MODEL [train.rec]    fit
 *   osteo-baseline -m MODEL [test.rec]     predict, as osteo-infer does
 *
 * Image features are per image: intensity moments and percentiles, a
 * 16-bin histogram and grey-level co-occurrence texture over the image's
 * own 1st-99th percentile range, and the mean gradient.  Each feature is
 * standardised with the training set's mean and deviation.  The model
 * file is one record (osteo-record(5)): the scaling as tensors, libsvm's
 * own model text as the u8 tensor "svm" or XGBoost's JSON model as "xgb",
 * and what the training records were (shape, clinical features,
 * normalisation) in meta.
 */
#include <getopt.h>
#include <libsvm/svm.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/record/classes.h"
#include "common/record/contract.h"
#include "common/baseline/features.h"
#include "common/image/imgops.h"
#include "common/record/input.h"
#include "common/record/params.h"
#include "common/record/record.h"
#include "common/base/util.h"
#include "common/record/cli.h"
#include "common/baseline/xgb.h"

#define KIND "osteo-baseline"

static const char usage[] =
	"osteo-baseline [-q] -o MODEL [--model svm|rf|gbt] [--classes LIST] [--kernel rbf|linear]\n"
	"       [-C X] [--gamma X] [--trees N] [--max-depth N] [--eta X]\n"
	"       [--class-weights auto|LIST] [--features both|image|clinical] [--seed N] [FILE|-]...\n"
	"osteo-baseline [-q] -m MODEL [--risk-class NAME] [--no-check] [FILE|-]...";
static const char options[] =
	"  -o, --output MODEL     fit on the records read and write the model there\n"
	"  -m, --model MODEL      predict with a model file (with -o: --model svm|rf|gbt is the kind)\n"
	"  --model svm|rf|gbt     with -o: SVM (libsvm), random forest or boosted trees (XGBoost) (default svm)\n"
	"  --classes LIST         the class names, comma-separated (default: the records' names)\n"
	"  --kernel rbf|linear    the SVM's kernel (default rbf)\n"
	"  -C X                   the SVM's cost (default 1)\n"
	"  --gamma X              the RBF width (default 1 / the number of features)\n"
	"  --trees N              trees (default: rf 200, gbt 150 rounds)\n"
	"  --max-depth N          depth of each tree (default: rf 8, gbt 4)\n"
	"  --eta X                gbt's learning rate (default 0.1)\n"
	"  --class-weights auto|LIST  weigh the classes: auto is n / (k n_c) (default: all 1)\n"
	"  --features both|image|clinical  what the model sees (default both)\n"
	"  --seed N               libsvm's and XGBoost's generator (default 1)\n"
	"  --risk-class NAME      the class whose probability is the risk (default osteoporosis)\n"
	"  --no-check             predict on records prepared otherwise than the training records\n";

struct opts {
	const char *out, *model, *classes, *weights, *risk_class;
	int kernel, use_image, use_clin, check;
	int trees, depth;        /* 0: the model's default */
	enum { M_SVM, M_RF, M_GBT } kind;
	double C, gamma, eta;
	unsigned long long seed;
	char **inputs;
	int ninputs;
};

static void
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_CLASSES = 256, O_KERNEL, O_GAMMA, O_WEIGHTS, O_FEATURES, O_SEED, O_RISK, O_NOCHECK, O_MODEL,
	       O_TREES, O_DEPTH, O_ETA };
	static const struct option longopts[] = {
		{ "output", required_argument, 0, 'o' },
		{ "model", required_argument, 0, 'm' },
		{ "classes", required_argument, 0, O_CLASSES },
		{ "kernel", required_argument, 0, O_KERNEL },
		{ "gamma", required_argument, 0, O_GAMMA },
		{ "class-weights", required_argument, 0, O_WEIGHTS },
		{ "features", required_argument, 0, O_FEATURES },
		{ "seed", required_argument, 0, O_SEED },
		{ "risk-class", required_argument, 0, O_RISK },
		{ "no-check", no_argument, 0, O_NOCHECK },
		{ "trees", required_argument, 0, O_TREES },
		{ "max-depth", required_argument, 0, O_DEPTH },
		{ "eta", required_argument, 0, O_ETA },
		CLI_COMMON_OPTIONS
	};
	int c;

	memset(o, 0, sizeof *o);
	o->kernel = RBF;
	o->use_image = o->use_clin = 1;
	o->check = 1;
	o->C = 1;
	o->seed = 1;
	cli_help(options);
	while ((c = getopt_long(argc, argv, "o:m:C:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': o->out = optarg; break;
		case 'm': o->model = optarg; break;
		case 'C': o->C = estrtod(optarg, 1e-6, 1e6, "-C"); break;
		case O_CLASSES: o->classes = optarg; break;
		case O_KERNEL:
			if (!strcmp(optarg, "rbf"))
				o->kernel = RBF;
			else if (!strcmp(optarg, "linear"))
				o->kernel = LINEAR;
			else
				usage_error(usage, "--kernel: '%s' is not rbf or linear", optarg);
			break;
		case O_GAMMA: o->gamma = estrtod(optarg, 1e-9, 1e6, "--gamma"); break;
		case O_WEIGHTS: o->weights = optarg; break;
		case O_FEATURES:
			o->use_image = strcmp(optarg, "clinical") != 0;
			o->use_clin = strcmp(optarg, "image") != 0;
			if (strcmp(optarg, "both") && strcmp(optarg, "image") && strcmp(optarg, "clinical"))
				usage_error(usage, "--features: '%s' is not both, image or clinical", optarg);
			break;
		case O_SEED: o->seed = (unsigned long long)estrtonum(optarg, 0, INT32_MAX, "--seed"); break;
		case O_RISK: o->risk_class = optarg; break;
		case O_NOCHECK: o->check = 0; break;
		case O_TREES: o->trees = (int)estrtonum(optarg, 1, 100000, "--trees"); break;
		case O_DEPTH: o->depth = (int)estrtonum(optarg, 1, 32, "--max-depth"); break;
		case O_ETA: o->eta = estrtod(optarg, 1e-6, 1, "--eta"); break;
		default: cli_common(c, usage);
		}
	}
	/* with -o, --model names the kind of model to fit; else the file to apply */
	if (o->out && o->model) {
		static const char *const kinds[] = { "svm", "rf", "gbt" };
		int k = -1;
		for (int i = 0; i < 3; i++)
			if (!strcmp(o->model, kinds[i]))
				k = i;
		if (k < 0)
			usage_error(usage, "--model '%s': with -o it is svm, rf or gbt", o->model);
		o->kind = k;
		o->model = NULL;
	}
	if (!o->out == !o->model)
		usage_error(usage, "-o MODEL fits a model, -m MODEL applies one: give one of them");
	if (o->kind == M_SVM && (o->trees || o->depth || o->eta))
		usage_error(usage, "--trees, --max-depth and --eta are for --model rf or gbt");
	o->inputs = argv + optind;
	o->ninputs = argc - optind;
}

/* ---------------------------------------------------------------- */
/* libsvm glue */

static void
svm_silent(const char *s)
{
	(void)s;
}

static struct svm_node *
to_nodes(const double *f, const float *mean, const float *sd, int nf, struct svm_node *x)
{
	for (int i = 0; i < nf; i++) {
		x[i].index = i + 1;
		x[i].value = (f[i] - mean[i]) / sd[i];
	}
	x[nf].index = -1;
	return x;
}

/* libsvm reads and writes models only as files: go through a private one */
static char *
svm_tmpname(void)
{
	const char *dir = getenv("TMPDIR");
	char *path = emalloc(strlen(dir && *dir ? dir : "/tmp") + 32);
	int fd;

	sprintf(path, "%s/osteo-svm.XXXXXX", dir && *dir ? dir : "/tmp");
	if ((fd = mkstemp(path)) < 0)
		die(EX_CANTCREAT, "%s: cannot create:", path);
	close(fd);
	cleanup_push(path);
	return path;
}

static void
svm_tmpdone(char *path)
{
	unlink(path);
	cleanup_pop(path);
	free(path);
}

/* ---------------------------------------------------------------- */
/* fit */

struct trainset {
	int n, nf, c, h, w, nclin;
	double *f;
	double *y;
	struct prep prep;        /* the first record's, with every record's chain (contract.h) */
	struct text chains;      /* the chains seen, one per line */
	struct text splits;      /* the osteo-split runs seen */
};

/* the training records; their labels held to cl, or with no --classes
 * noted in seen (their names become the classes: classes.h) */
static void
collect(const struct opts *o, const struct classes *cl, struct classes *seen, struct featurizer *fz,
        struct trainset *d)
{
	const char *err;
	struct input in;
	struct record r;
	size_t cap = 0, ycap = 0;
	long skipped = 0;

	memset(d, 0, sizeof *d);
	input_open(&in, o->inputs, o->ninputs);
	rec_init(&r);
	while (input_read(&in, &r)) {
		const struct tensor *t = rec_tensor(&r, TENSOR_IMAGE), *c = rec_tensor(&r, TENSOR_CLINICAL);
		int k = c ? (int)tensor_elems(c) : 0;

		if (!r.has_label) {
			skipped++;
			continue;
		}
		if (r.label < 0 || r.label >= (seen ? MAXCLASSES : cl->n))
			input_die(&in, &r, "label %lld is out of range: %d classes (--classes)", r.label,
			          seen ? MAXCLASSES : cl->n);
		if (seen && classes_see(seen, r.label, rec_meta_s(&r, KEY_PROV_CLASS), &err) < 0)
			input_die(&in, &r, "%s", err);
		if (!t || t->ndim != 3)
			input_die(&in, &r, "no 'image' tensor [C,H,W]");
		if (d->n == 0) {
			d->c = (int)t->shape[0];
			d->h = (int)t->shape[1];
			d->w = (int)t->shape[2];
			d->nclin = k;
			struct prep p;
			prep_read(&r, &p);
			prep_dup(&d->prep, &p);
			fz->nclin = k;
			fz->nfeat = (fz->use_image ? IMAGE_FEATURES : 0) + (fz->use_clin ? k : 0);
			if (!fz->nfeat)
				input_die(&in, &r, "--features clinical, but the records have no clinical tensor");
		} else {
			struct expect e = { d->c, d->h, d->w, d->nclin, d->prep };

			input_expect(&in, &r, &e, 0);
		}
		char why[1024];
		if (prep_chains_add(&d->chains, rec_meta_s(&r, KEY_PREP_CHAIN), why, sizeof why) < 0)
			input_die(&in, &r, "prepared otherwise than the first record: %s", why);
		splits_add(&d->splits, &r);
		input_hold(&in, &r, (size_t)d->n + 1);
		egrow((void **)&d->f, &cap, (size_t)(d->n + 1) * fz->nfeat * sizeof *d->f);
		egrow((void **)&d->y, &ycap, (size_t)(d->n + 1) * sizeof *d->y);
		if (featurize(fz, &r, d->f + (size_t)d->n * fz->nfeat) < 0)
			input_die(&in, &r, "the image or clinical features have NaN or infinite values");
		d->y[d->n++] = (double)r.label;
	}
	input_close(&in);
	rec_free(&r);
	free((char *)d->prep.chain);
	d->prep.chain = estrdup(d->chains.s ? d->chains.s : "");
	free(d->chains.s);
	d->chains = (struct text){ 0 };
	free((char *)d->prep.splits);
	d->prep.splits = estrdup(d->splits.s ? d->splits.s : "");
	free(d->splits.s);
	d->splits = (struct text){ 0 };
	d->nf = fz->nfeat;
	if (skipped)
		warn("skipped %ld records without a label", skipped);
	if (d->n < 2)
		die(EX_DATAERR, "%s: %d labelled records: too few to fit", input_names(&in), d->n);
}

/* mean and deviation of each feature, rounded to float as the model keeps them */
static void
scaling(const struct trainset *d, float *mean, float *sd)
{
	for (int j = 0; j < d->nf; j++) {
		double s = 0, ss = 0;
		for (int i = 0; i < d->n; i++)
			s += d->f[(size_t)i * d->nf + j];
		double m = s / d->n;
		for (int i = 0; i < d->n; i++) {
			double e = d->f[(size_t)i * d->nf + j] - m;
			ss += e * e;
		}
		mean[j] = (float)m;
		sd[j] = ss > 0 ? (float)sqrt(ss / d->n) : 1.0f;
	}
}

/* --class-weights: each class's weight into v; 0 without the option */
static int
weights_of(const struct opts *o, const struct trainset *d, int k, double *v)
{
	long cnt[MAXCLASSES] = { 0 };

	if (!o->weights)
		return 0;
	for (int i = 0; i < d->n; i++)
		cnt[(int)d->y[i]]++;
	class_weights(o->weights, cnt, k, v);
	return 1;
}

static void
svm_weights(const struct opts *o, const struct trainset *d, int k, struct svm_parameter *p)
{
	double v[MAXCLASSES];

	if (!weights_of(o, d, k, v))
		return;
	p->nr_weight = k;
	p->weight_label = emalloc(k * sizeof *p->weight_label);
	p->weight = emalloc(k * sizeof *p->weight);
	for (int c = 0; c < k; c++) {
		p->weight_label[c] = c;
		p->weight[c] = v[c];
	}
}

static void
put_floats(struct record *r, const char *name, const float *v, int n)
{
	uint32_t shape[1] = { (uint32_t)n };
	const char *err;
	struct tensor *t = rec_tensor_put(r, name, DT_F32, 1, shape, &err);

	if (!t)
		die(EX_SOFTWARE, "%s: %s", name, err);
	memcpy(t->data, v, n * sizeof *v);
}

/* the bytes of a file into r's u8 tensor name */
static void
put_file(struct record *r, const char *name, const char *path)
{
	FILE *fp = fopen(path, "rb");

	if (!fp)
		die(EX_IOERR, "%s: cannot read back:", path);
	fseek(fp, 0, SEEK_END);
	long len = ftell(fp);
	rewind(fp);
	uint32_t sh[1] = { (uint32_t)len };
	const char *err;
	struct tensor *t = rec_tensor_put(r, name, DT_U8, 1, sh, &err);
	if (!t)
		die(EX_SOFTWARE, "%s model: %s", name, err);
	if (len < 0 || fread(t->data, 1, len, fp) != (size_t)len)
		die(EX_IOERR, "%s: cannot read back:", path);
	fclose(fp);
}

static void
fit_svm(const struct opts *o, const struct trainset *d, const float *mean, const float *sd, int k,
        struct record *m)
{
	struct svm_problem prob = { d->n, d->y, emalloc(d->n * sizeof(struct svm_node *)) };
	struct svm_node *nodes = emalloc((size_t)d->n * (d->nf + 1) * sizeof *nodes);
	for (int i = 0; i < d->n; i++)
		prob.x[i] = to_nodes(d->f + (size_t)i * d->nf, mean, sd, d->nf, nodes + (size_t)i * (d->nf + 1));
	struct svm_parameter p = {
		.svm_type = C_SVC, .kernel_type = o->kernel, .gamma = o->gamma ? o->gamma : 1.0 / d->nf,
		.cache_size = 100, .eps = 1e-3, .C = o->C, .shrinking = 1, .probability = 1,
	};
	svm_weights(o, d, k, &p);
	const char *bad = svm_check_parameter(&prob, &p);
	if (bad)
		die(EX_DATAERR, "libsvm: %s", bad);
	svm_set_print_string_function(svm_silent);
	/* libsvm's probability calibration shuffles with rand() */
	srand((unsigned)o->seed);
	struct svm_model *sm = svm_train(&prob, &p);
	info("fitted on %d records of %d features: %d support vectors", d->n, d->nf, svm_get_nr_sv(sm));

	/* libsvm's text inside the model record */
	char *tmp = svm_tmpname();
	if (svm_save_model(tmp, sm))
		die(EX_IOERR, "%s: libsvm cannot write its model:", tmp);
	put_file(m, "svm", tmp);
	svm_tmpdone(tmp);
	rec_meta_str(m, "model", "svm");
	rec_meta_str(m, "kernel", o->kernel == RBF ? "rbf" : "linear");
	rec_meta_float(m, "C", p.C);
	rec_meta_float(m, "gamma", p.gamma);
	svm_free_and_destroy_model(&sm);
	svm_destroy_param(&p);
	free(nodes);
	free(prob.x);
}

/* the standardised features of n records, as XGBoost takes them */
static float *
scaled(const double *f, size_t n, int nf, const float *mean, const float *sd)
{
	float *x = emalloc((n ? n : 1) * (size_t)nf * sizeof *x);

	for (size_t i = 0; i < n; i++)
		for (int j = 0; j < nf; j++)
			x[i * nf + j] = (float)((f[i * nf + j] - mean[j]) / sd[j]);
	return x;
}

static void
fit_xgb(const struct opts *o, const struct trainset *d, const float *mean, const float *sd, int k,
        struct record *m)
{
	struct xgb_params p;
	double v[MAXCLASSES];
	char err[512], desc[512];

	xgb_defaults(&p, o->kind == M_RF ? XGB_RF : XGB_GBT);
	p.seed = o->seed;
	if (o->trees)
		p.trees = o->trees;
	if (o->depth)
		p.depth = o->depth;
	if (o->eta && o->kind == M_GBT)
		p.eta = o->eta;
	float *x = scaled(d->f, (size_t)d->n, d->nf, mean, sd);
	float *y = emalloc((size_t)d->n * sizeof *y), *w = NULL;
	int weighted = weights_of(o, d, k, v);
	if (weighted)
		w = emalloc((size_t)d->n * sizeof *w);
	for (int i = 0; i < d->n; i++) {
		y[i] = (float)d->y[i];
		if (w)
			w[i] = (float)v[(int)d->y[i]];
	}
	void *b = xgb_fit(x, y, w, (size_t)d->n, (size_t)d->nf, k, &p, err, sizeof err);
	if (!b)
		die(EX_SOFTWARE, "%s", err);
	const char *buf;
	size_t len;
	if (xgb_save(b, &buf, &len, err, sizeof err) < 0)
		die(EX_SOFTWARE, "%s", err);
	uint32_t sh[1] = { (uint32_t)len };
	const char *e;
	struct tensor *t = rec_tensor_put(m, "xgb", DT_U8, 1, sh, &e);
	if (!t)
		die(EX_SOFTWARE, "xgb model: %s", e);
	memcpy(t->data, buf, len);
	xgb_describe(&p, desc, sizeof desc);
	info("fitted %s on %d records of %d features (%s)", o->kind == M_RF ? "a random forest" : "boosted trees",
	     d->n, d->nf, desc);
	rec_meta_str(m, "model", o->kind == M_RF ? "rf" : "gbt");
	rec_meta_str(m, "xgb.params", desc);
	xgb_free(b);
	free(x);
	free(y);
	free(w);
}

static void
fit(const struct opts *o)
{
	struct classes cl;
	struct featurizer fz = { .use_image = o->use_image, .use_clin = o->use_clin };
	struct trainset d;
	struct record m;

	struct classes seen = { 0 };
	const char *err;
	if (o->classes)
		classes_parse(&cl, o->classes, "--classes");
	collect(o, &cl, o->classes ? NULL : &seen, &fz, &d);
	if (!o->classes) {
		if (classes_settle(&cl, &seen, &err) < 0)
			die(EX_DATAERR, "%s: %s", o->ninputs ? o->inputs[0] : "standard input", err);
		for (int i = 0; i < d.n; i++)
			if (d.y[i] >= cl.n)
				die(EX_DATAERR, "%s: label %.0f is out of range: %d classes (%s; give --classes)",
				    o->ninputs ? o->inputs[0] : "standard input", d.y[i], cl.n,
				    seen.n ? "named by the records" : "the default");
		classes_free(&seen);
	}
	float *mean = emalloc(d.nf * sizeof *mean), *sd = emalloc(d.nf * sizeof *sd);
	scaling(&d, mean, sd);
	rec_init(&m);
	rec_set_id(&m, "osteo-baseline");
	if (o->kind == M_SVM)
		fit_svm(o, &d, mean, sd, cl.n, &m);
	else
		fit_xgb(o, &d, mean, sd, cl.n, &m);
	put_floats(&m, "feat.mean", mean, d.nf);
	put_floats(&m, "feat.sd", sd, d.nf);
	char *names = classes_join(&cl);
	model_header_write(&m, &(struct model_header){ .kind = KIND, .version = 1, .classes = names, .c = d.c,
	                                                .h = d.h, .w = d.w, .nclin = d.nclin });
	rec_meta_str(&m, "features", o->use_image && o->use_clin ? "both" : o->use_image ? "image" : "clinical");
	prep_write(&m, &d.prep);
	rec_meta_int(&m, "train.records", d.n);
	params_save(o->out, &m);
	free(names);
	free(mean);
	free(sd);
	rec_free(&m);
}

/* ---------------------------------------------------------------- */
/* predict */

struct loaded {
	struct classes cl;
	struct expect e;
	struct featurizer fz;
	struct svm_model *sm;
	void *xgb;               /* a forest or boosted trees, instead of sm */
	int k;                   /* the classes the model answers */
	const float *mean, *sd;
	int *labels;
};

static const struct tensor *
need_tensor(const char *path, const struct record *m, const char *name, int n)
{
	const struct tensor *t = rec_tensor(m, name);

	if (!t || (n >= 0 && (t->dtype != DT_F32 || tensor_elems(t) != (size_t)n)))
		die(EX_DATAERR, "%s: tensor '%s' is missing or of the wrong size", path, name);
	return t;
}

static void
load(const char *path, struct record *m, struct loaded *L)
{
	params_load(path, KIND, m);
	const char *use = rec_meta_s(m, "features"), *err;
	struct model_header hd;

	memset(L, 0, sizeof *L);
	if (model_header_read(m, &hd, &err) < 0)
		die(EX_DATAERR, "%s: %s", path, err);
	if (classes_read(&L->cl, hd.classes, &err) < 0)
		die(EX_DATAERR, "%s: its classes: %s", path, err);
	L->e.c = hd.c;
	L->e.h = hd.h;
	L->e.w = hd.w;
	L->e.nclin = hd.nclin;
	prep_read(m, &L->e.prep);
	/* models written before fuse.features named it so */
	if (!*L->e.prep.features)
		L->e.prep.features = rec_meta_s(m, "clinical_features");
	L->fz.use_image = strcmp(use, "clinical") != 0;
	L->fz.use_clin = strcmp(use, "image") != 0;
	L->fz.nclin = L->e.nclin;
	L->fz.nfeat = (L->fz.use_image ? IMAGE_FEATURES : 0) + (L->fz.use_clin ? L->e.nclin : 0);
	L->mean = need_tensor(path, m, "feat.mean", L->fz.nfeat)->data;
	L->sd = need_tensor(path, m, "feat.sd", L->fz.nfeat)->data;
	if (rec_tensor(m, "xgb")) {
		const struct tensor *t = rec_tensor(m, "xgb");
		char err[512];
		if (!(L->xgb = xgb_load(t->data, t->nbytes, err, sizeof err)))
			die(EX_DATAERR, "%s: the XGBoost model is damaged: %s", path, err);
		L->k = L->cl.n;
		L->labels = emalloc(L->k * sizeof *L->labels);
		for (int i = 0; i < L->k; i++)
			L->labels[i] = i;
		return;
	}
	const struct tensor *t = need_tensor(path, m, "svm", -1);
	char *tmp = svm_tmpname();
	FILE *fp = fopen(tmp, "wb");
	if (!fp || fwrite(t->data, 1, t->nbytes, fp) != t->nbytes || fclose(fp))
		die(EX_IOERR, "%s: cannot write:", tmp);
	svm_set_print_string_function(svm_silent);
	L->sm = svm_load_model(tmp);
	svm_tmpdone(tmp);
	if (!L->sm || svm_get_nr_class(L->sm) > L->cl.n || !svm_check_probability_model(L->sm))
		die(EX_DATAERR, "%s: the libsvm model is damaged", path);
	L->labels = emalloc(svm_get_nr_class(L->sm) * sizeof *L->labels);
	svm_get_labels(L->sm, L->labels);
	for (int i = 0; i < svm_get_nr_class(L->sm); i++)
		if (L->labels[i] < 0 || L->labels[i] >= L->cl.n)
			die(EX_DATAERR, "%s: the libsvm model has class %d", path, L->labels[i]);
	L->k = svm_get_nr_class(L->sm);
}

static void
predict(const struct opts *o)
{
	struct record m, r;
	struct loaded L;
	struct input in;
	struct rec_writer *out;
	int risk;

	rec_init(&m);
	load(o->model, &m, &L);
	if ((risk = classes_risk(&L.cl, o->risk_class)) < 0)
		die(EX_USAGE, "--risk-class: '%s' is not one of the model's classes", o->risk_class);
	int nf = L.fz.nfeat, k = L.k;
	double *f = emalloc(nf * sizeof *f), *pk = emalloc(k * sizeof *pk);
	float *xf = emalloc(nf * sizeof *xf), *pf = emalloc(k * sizeof *pf);
	double *p = emalloc(L.cl.n * sizeof *p);
	struct svm_node *x = emalloc((nf + 1) * sizeof *x);
	char *names = classes_join(&L.cl);

	const char *model_name = !L.xgb ? KIND : !strcmp(rec_meta_s(&m, "model"), "rf") ? KIND " rf" : KIND " gbt";
	out = rec_writer_new(stdout, "<stdout>");
	input_open(&in, o->inputs, o->ninputs);
	rec_init(&r);
	while (input_read(&in, &r)) {
		input_expect(&in, &r, &L.e, o->check);
		if (featurize(&L.fz, &r, f) < 0)
			input_die(&in, &r, "the image or clinical features have NaN or infinite values");
		if (L.xgb) {
			char err[512];
			for (int j = 0; j < nf; j++)
				xf[j] = (float)((f[j] - L.mean[j]) / L.sd[j]);
			if (xgb_predict(L.xgb, xf, 1, (size_t)nf, k, pf, err, sizeof err) < 0)
				input_die(&in, &r, "%s", err);
			for (int c = 0; c < k; c++)
				pk[c] = pf[c];
		} else
			svm_predict_probability(L.sm, to_nodes(f, L.mean, L.sd, nf, x), pk);
		memset(p, 0, L.cl.n * sizeof *p);
		for (int i = 0; i < k; i++)
			p[L.labels[i]] = pk[i];
		rec_set_prediction(&r, p, &L.cl, risk, names);
		rec_meta_str(&r, KEY_INFER_MODEL, model_name);
		rec_write(out, &r);
	}
	input_close(&in);
	int st = rec_writer_close(out);
	if (L.sm)
		svm_free_and_destroy_model(&L.sm);
	xgb_free(L.xgb);
	free(xf);
	free(pf);
	free(names);
	free(f);
	free(pk);
	free(p);
	free(x);
	free(L.labels);
	rec_free(&r);
	rec_free(&m);
	if (st)
		quit(st);
}

int
main(int argc, char **argv)
{
	struct opts o;

	cli_init(argv[0]);
	parse_args(argc, argv, &o);
	if (o.out)
		fit(&o);
	else
		predict(&o);
	return 0;
}
