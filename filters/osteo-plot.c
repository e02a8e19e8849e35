/*
 * osteo-plot - the pictures of an evaluation, drawn by gnuplot:
 *
 *   curves       loss and accuracy per epoch, from osteo-train --log
 *   roc          ROC curves per class with their AUC, from predictions
 *   confusion    the confusion matrix as a labelled heatmap
 *   correlation  each clinical feature's correlation with each class
 *   heatmaps     heat maps (Grad-CAM, occlusion) laid over their images, a grid
 *   reliability  a reliability diagram: accuracy against confidence, per bin
 *   risk-coverage  accuracy of the records kept against their share, the
 *                most uncertain (meta.infer.uncertainty) referred first
 *
 * The program computes (with common/eval/metrics.c, as osteo-metrics does) and
 * writes a gnuplot script with the data inline; gnuplot renders it to a
 * temporary PNG that is renamed into place only when gnuplot succeeded.
 * --script prints the script instead, for a user who wants to restyle.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/record/contract.h"
#include "common/record/classes.h"
#include "common/image/imgops.h"
#include "common/record/input.h"
#include "common/eval/metrics.h"
#include "common/record/record.h"
#include "common/base/util.h"
#include "common/record/cli.h"

static const char usage[] =
	"osteo-plot [-q] curves|roc|confusion|correlation|heatmaps|reliability|risk-coverage -o FILE.png [--title TEXT]\n"
	"       [--size WxH] [--classes LIST] [--data FILE] [--script] [--max N] [--cols N]\n"
	"       [--per-class N] [FILE|-]...";
static const char options[] =
	"  -o, --output FILE.png  the picture\n"
	"  --title TEXT           its title\n"
	"  --size WxH             its size in pixels (default: each kind its own)\n"
	"  --classes LIST         the class names (default: the records')\n"
	"  --data FILE            also write the numbers plotted there\n"
	"  --script               print the gnuplot script instead of running it\n"
	"  --max N                heat maps: at most N images (default 16)\n"
	"  --cols N               heat maps: images per row (default 4)\n"
	"  --per-class N          heat maps: up to N images of each class\n";

enum kind { K_CURVES, K_ROC, K_CONFUSION, K_CORRELATION, K_HEATMAPS, K_RELIABILITY, K_COVERAGE };
static const char *kinds[] = { "curves", "roc", "confusion", "correlation", "heatmaps", "reliability",
	                       "risk-coverage" };

struct opts {
	enum kind kind;
	const char *out, *title, *classes, *data;
	int script, width, height, max, cols, per_class;
	char **inputs;
	int ninputs;
};

static void
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_TITLE = 256, O_SIZE, O_CLASSES, O_DATA, O_SCRIPT, O_MAX, O_COLS, O_PERCLASS };
	static const struct option longopts[] = {
		{ "output", required_argument, 0, 'o' },
		{ "title", required_argument, 0, O_TITLE },
		{ "size", required_argument, 0, O_SIZE },
		{ "classes", required_argument, 0, O_CLASSES },
		{ "data", required_argument, 0, O_DATA },
		{ "script", no_argument, 0, O_SCRIPT },
		{ "max", required_argument, 0, O_MAX },
		{ "cols", required_argument, 0, O_COLS },
		{ "per-class", required_argument, 0, O_PERCLASS },
		CLI_COMMON_OPTIONS
	};
	int c;

	memset(o, 0, sizeof *o);
	o->max = 16;
	o->cols = 4;
	cli_help(options);
	while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': o->out = optarg; break;
		case O_TITLE: o->title = optarg; break;
		case O_SIZE: eparse_size(optarg, &o->width, &o->height, "--size"); break;
		case O_CLASSES: o->classes = optarg; break;
		case O_DATA: o->data = optarg; break;
		case O_SCRIPT: o->script = 1; break;
		case O_MAX: o->max = (int)estrtonum(optarg, 1, 400, "--max"); break;
		case O_COLS: o->cols = (int)estrtonum(optarg, 1, 40, "--cols"); break;
		case O_PERCLASS: o->per_class = (int)estrtonum(optarg, 1, 400, "--per-class"); break;
		default: cli_common(c, usage);
		}
	}
	if (optind >= argc)
		usage_error(usage, "name what to plot");
	for (c = 0; c < (int)(sizeof kinds / sizeof *kinds); c++)
		if (!strcmp(argv[optind], kinds[c]))
			break;
	if (c == (int)(sizeof kinds / sizeof *kinds))
		usage_error(usage, "'%s' is not curves, roc, confusion, correlation, heatmaps or reliability", argv[optind]);
	o->kind = (enum kind)c;
	if (!o->out && !o->script)
		usage_error(usage, "-o names the PNG to write");
	if (o->width > 10000 || o->height > 10000 || (o->width && o->width < 100) || (o->height && o->height < 100))
		usage_error(usage, "--size: 100x100 to 10000x10000");
	o->inputs = argv + optind + 1;
	o->ninputs = argc - optind - 1;
}

/* ---------------------------------------------------------------- */
/* gnuplot text */

/* a gnuplot string literal: single quotes, a quote doubled */
static void
gp_str(FILE *fp, const char *s)
{
	putc('\'', fp);
	for (; *s; s++) {
		if (*s == '\'')
			putc('\'', fp);
		if (*s == '\n' || *s == '\r')
			putc(' ', fp);
		else
			putc(*s, fp);
	}
	putc('\'', fp);
}

/* gnuplot's enhanced text reads _ ^ @ & { } as markup: escape them */
static void
gp_label(FILE *fp, const char *s)
{
	char buf[512];
	size_t n = 0;

	for (; *s && n + 3 < sizeof buf; s++) {
		if (strchr("_^@&{}~", *s))
			buf[n++] = '\\';
		buf[n++] = *s;
	}
	buf[n] = '\0';
	gp_str(fp, buf);
}

static void
gp_head(FILE *fp, const struct opts *o, int w, int h, const char *output)
{
	fprintf(fp, "set terminal pngcairo enhanced size %d,%d font 'sans,10'\n", o->width ? o->width : w,
	        o->height ? o->height : h);
	fprintf(fp, "set output ");
	gp_str(fp, output);
	fprintf(fp, "\nset encoding utf8\nset datafile missing 'nan'\n");
}

static void
gp_title(FILE *fp, const struct opts *o, const char *fallback)
{
	fprintf(fp, "set title ");
	gp_label(fp, o->title ? o->title : fallback);
	fprintf(fp, " font 'sans,12'\n");
}

/* ---------------------------------------------------------------- */
/* each plot writes data blocks and commands to fp */

static void
plot_curves(FILE *fp, const struct opts *o, FILE *data)
{
	char line[4096];
	const char *path = o->ninputs ? o->inputs[0] : "-";
	FILE *in = strcmp(path, "-") ? fopen(path, "r") : stdin;
	int rows = 0;

	if (o->ninputs > 1)
		usage_error(usage, "curves reads one log");
	if (!in)
		die(EX_NOINPUT, "%s: cannot open:", path);
	static const char head[] = "epoch\ttrain_loss\ttrain_acc\tval_loss\tval_acc";
	if (!fgets(line, sizeof line, in) || strncmp(line, head, sizeof head - 1))
		die(EX_DATAERR, "%s: not a log of osteo-train --log (its header line is missing)", path);
	fprintf(fp, "$log << EOD\n");
	while (fgets(line, sizeof line, in)) {
		double v[5];
		char *e = line;
		for (int i = 0; i < 5; i++) {
			char *s = e;
			v[i] = strtod(s, &e);
			if (e == s)
				die(EX_DATAERR, "%s: line %d: not a number in column %d", path, rows + 2, i + 1);
		}
		fprintf(fp, "%g %g %g %g %g\n", v[0], v[1], v[2], v[3], v[4]);
		if (data)
			fprintf(data, "%g\t%g\t%g\t%g\t%g\n", v[0], v[1], v[2], v[3], v[4]);
		rows++;
	}
	if (in != stdin)
		fclose(in);
	if (!rows)
		die(EX_DATAERR, "%s: no epochs", path);
	fprintf(fp, "EOD\nset multiplot layout 1,2 title ");
	gp_label(fp, o->title ? o->title : "training");
	fprintf(fp, " font 'sans,12'\nset xlabel 'epoch'\nset grid\nset key top right\n"
	            "set ylabel 'loss'\nplot $log using 1:2 with linespoints pt 7 ps 0.5 lw 2 title 'train', "
	            "$log using 1:4 with linespoints pt 7 ps 0.5 lw 2 title 'validation'\n"
	            "set ylabel 'accuracy'\nset yrange [0:1]\nset key bottom right\n"
	            "plot $log using 1:3 with linespoints pt 7 ps 0.5 lw 2 title 'train', "
	            "$log using 1:5 with linespoints pt 7 ps 0.5 lw 2 title 'validation'\n"
	            "unset multiplot\n");
}

/* labels, probabilities and class names of a prediction stream */
static void
read_predictions(const struct opts *o, struct samples *s, struct classes *cl)
{
	struct input in;

	input_open(&in, o->inputs, o->ninputs);
	samples_read(&in, o->classes, s, cl);
	input_close(&in);
	if (!s->n)
		die(EX_DATAERR, "%s: no record has both a label and probs", input_names(&in));
}

struct roc_block {
	FILE *fp, *data;
	const char *name;
};

static void
roc_point(void *ctx, double threshold, double fpr, double tpr)
{
	struct roc_block *b = ctx;

	fprintf(b->fp, "%.9g %.9g\n", fpr, tpr);
	if (b->data)
		fprintf(b->data, "%s\t%.9g\t%.9g\t%.9g\n", b->name, threshold, fpr, tpr);
}

static void
plot_roc(FILE *fp, const struct opts *o, FILE *data)
{
	struct samples s = { 0 };
	struct classes cl;
	struct metrics_work w = { 0 };
	int drawn = 0;

	read_predictions(o, &s, &cl);
	for (int c = 0; c < s.k; c++) {
		struct roc_block b = { fp, data, cl.names[c] };
		fprintf(fp, "$roc%d << EOD\n", c);
		metrics_roc(&s, c, &w, roc_point, &b);
		fprintf(fp, "EOD\n");
	}
	gp_title(fp, o, "ROC, one class against the rest");
	fprintf(fp, "set size square\nset xrange [0:1]\nset yrange [0:1]\nset grid\n"
	            "set xlabel 'false positive rate (1 - specificity)'\n"
	            "set ylabel 'true positive rate (sensitivity)'\nset key bottom right\nplot ");
	for (int c = 0; c < s.k; c++) {
		double auc = metrics_auc(&s, NULL, s.n, c, &w);
		char t[300];
		if (isnan(auc))
			continue;
		snprintf(t, sizeof t, "%s (AUC %.3f)", cl.names[c], auc);
		fprintf(fp, "%s$roc%d using 1:2 with lines lw 2 title ", drawn++ ? ", " : "", c);
		gp_label(fp, t);
	}
	fprintf(fp, "%sx with lines dt 2 lc 'gray' title 'chance'\n", drawn ? ", " : "");
	metrics_work_free(&w);
	samples_free(&s);
}

/* the predictions and their metrics, ECE in osteo-metrics' 10 bins */
static void
scored(const struct opts *o, struct samples *s, struct classes *cl, struct metrics *m, struct metrics_work *w)
{
	read_predictions(o, s, cl);
	metrics_init(m, s->k, 10);
	metrics_compute(s, NULL, s->n, m, w);
}

/* accuracy against confidence in osteo-metrics' ECE bins: on the diagonal
 * when the probabilities mean what they say */
static void
plot_reliability(FILE *fp, const struct opts *o, FILE *data)
{
	struct samples s = { 0 };
	struct classes cl;
	struct metrics m;
	struct metrics_work w = { 0 };
	const int bins = 10;   /* osteo-metrics' ECE bins: scored() uses them */

	scored(o, &s, &cl, &m, &w);
	if (data)
		fprintf(data, "bin_lo\tbin_hi\tn\tconfidence\taccuracy\n");
	fprintf(fp, "$rel << EOD\n");
	for (int b = 0; b < bins; b++) {
		if (!m.bin_n[b])
			continue;
		double conf = m.bin_conf[b] / m.bin_n[b], acc = m.bin_right[b] / m.bin_n[b];
		fprintf(fp, "%.4f %.6f %.6f %lld\n", (b + 0.5) / bins, acc, conf, m.bin_n[b]);
		if (data)
			fprintf(data, "%.2f\t%.2f\t%lld\t%.6f\t%.6f\n", (double)b / bins, (double)(b + 1) / bins, m.bin_n[b],
			        conf, acc);
	}
	fprintf(fp, "EOD\n");
	char t[160];
	snprintf(t, sizeof t, "reliability (n = %zu, ECE %.3f, Brier %.3f)", s.n, m.ece, m.brier);
	gp_title(fp, o, t);
	fprintf(fp, "set size square\nset xrange [0:1]\nset yrange [0:1]\nset key top left\n"
	            "set xlabel 'confidence (the top probability)'\nset ylabel 'accuracy'\n"
	            "set style fill solid 0.4 border lc rgb '#08306b'\nset boxwidth %.3f\n"
	            "plot $rel using 1:2 with boxes lc rgb '#6baed6' title 'accuracy per bin', "
	            "$rel using 3:2:(sprintf('%%d', $4)) with labels offset 0,0.8 font ',8' notitle, "
	            "x with lines dt 2 lc rgb '#444444' title 'calibrated', "
	            "$rel using 3:2 with points pt 7 lc rgb '#08306b' title 'mean confidence'\n",
	        0.9 / bins);
	metrics_free(&m);
	metrics_work_free(&w);
	samples_free(&s);
}

static int
by_uncertainty(const void *a, const void *b, void *ctx)
{
	const double *u = ctx;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;

	if (u[i] != u[j])
		return u[i] < u[j] ? -1 : 1;
	return (i > j) - (i < j);
}

/* the accuracy of the records kept when the most uncertain go to a reader,
 * against the share kept (osteo-metrics --coverage at every share): it
 * rises to the left when the uncertainty finds the errors */
static void
plot_coverage(FILE *fp, const struct opts *o, FILE *data)
{
	struct samples s = { 0 };
	struct classes cl;
	size_t *idx, right = 0;

	read_predictions(o, &s, &cl);
	idx = emalloc(s.n * sizeof *idx);
	for (size_t i = 0; i < s.n; i++) {
		if (isnan(s.unc[i]))
			die(EX_DATAERR, "%s: labelled record %zu of %zu has no meta.infer.uncertainty (osteo-infer writes it)",
			    o->ninputs ? o->inputs[0] : "<stdin>", i + 1, s.n);
		idx[i] = i;
	}
	qsort_r(idx, s.n, sizeof *idx, by_uncertainty, s.unc);
	if (data)
		fprintf(data, "kept\tcoverage\tuncertainty\taccuracy\n");
	fprintf(fp, "$cov << EOD\n");
	for (size_t j = 0; j < s.n; j++) {
		size_t i = idx[j];
		right += class_argmax(s.p + i * s.k, s.k) == s.label[i];
		fprintf(fp, "%.6f %.6f\n", (double)(j + 1) / s.n, (double)right / (j + 1));
		if (data)
			fprintf(data, "%zu\t%.6f\t%.6f\t%.6f\n", j + 1, (double)(j + 1) / s.n, s.unc[i], (double)right / (j + 1));
	}
	fprintf(fp, "EOD\n");
	char t[160];
	snprintf(t, sizeof t, "risk-coverage (n = %zu, accuracy of all %.3f)", s.n, (double)right / s.n);
	gp_title(fp, o, t);
	fprintf(fp, "set xrange [0:1]\nset grid\nset key bottom left\n"
	            "set xlabel 'coverage (share kept; the most uncertain go to a reader)'\n"
	            "set ylabel 'accuracy of those kept'\n"
	            "plot $cov using 1:2 with lines lw 2 lc rgb '#08306b' title 'kept', "
	            "%.6f with lines dt 2 lc rgb '#444444' title 'all'\n", (double)right / s.n);
	free(idx);
	samples_free(&s);
}

static void
plot_confusion(FILE *fp, const struct opts *o, FILE *data)
{
	struct samples s = { 0 };
	struct classes cl;
	struct metrics m;
	struct metrics_work w = { 0 };
	int k;

	scored(o, &s, &cl, &m, &w);
	k = s.k;
	/* colour by the share of the true class's row, label with counts */
	fprintf(fp, "$cm << EOD\n");
	for (int i = 0; i < k; i++)
		for (int j = 0; j < k; j++) {
			long long v = m.confusion[(size_t)i * k + j];
			double share = m.cls[i].support ? (double)v / m.cls[i].support : 0;
			fprintf(fp, "%d %d %.6f %lld\n", j, i, share, v);
			if (data)
				fprintf(data, "%s\t%s\t%lld\n", cl.names[i], cl.names[j], v);
		}
	fprintf(fp, "EOD\n");
	char t[128];
	snprintf(t, sizeof t, "confusion matrix (n = %zu, accuracy %.3f)", s.n, m.accuracy);
	gp_title(fp, o, t);
	fprintf(fp, "set size square\nset xrange [-0.5:%d.5]\nset yrange [%d.5:-0.5]\n"
	            "set cbrange [0:1]\nset cblabel 'share of the true class'\n"
	            "set palette defined (0 '#f7fbff', 1 '#08306b')\n"
	            "set xlabel 'predicted'\nset ylabel 'true'\nset tics scale 0\nset xtics (",
	        k - 1, k - 1);
	for (int c = 0; c < k; c++) {
		fprintf(fp, "%s", c ? ", " : "");
		gp_label(fp, cl.names[c]);
		fprintf(fp, " %d", c);
	}
	fprintf(fp, ")\nset ytics (");
	for (int c = 0; c < k; c++) {
		fprintf(fp, "%s", c ? ", " : "");
		gp_label(fp, cl.names[c]);
		fprintf(fp, " %d", c);
	}
	fprintf(fp, ")\nplot $cm using 1:2:3 with image notitle, "
	            "$cm using 1:2:(sprintf('%%d', $4)):($3 > 0.5 ? 0xffffff : 0) "
	            "with labels tc rgb variable font 'sans,14' notitle\n");
	metrics_free(&m);
	metrics_work_free(&w);
	samples_free(&s);
}

/* Pearson correlation of each clinical feature with each class's
 * indicator and with the class number (healthy < osteopenia < osteoporosis) */
static void
plot_correlation(FILE *fp, const struct opts *o, FILE *data)
{
	struct input in;
	struct record r;
	struct classes cl;
	char *names = NULL;
	int nf = -1, k;
	size_t n = 0;
	double *sx = NULL, *sxx = NULL, *sxy = NULL, sy[MAXCLASSES + 1] = { 0 }, syy[MAXCLASSES + 1] = { 0 };
	float *v = NULL;

	classes_parse(&cl, o->classes ? o->classes : DEFAULT_CLASSES, "--classes");
	k = cl.n;
	rec_init(&r);
	input_open(&in, o->inputs, o->ninputs);
	while (input_read(&in, &r)) {
		const struct tensor *t = rec_tensor(&r, TENSOR_CLINICAL);
		if (!r.has_label)
			continue;
		if (!t)
			input_die(&in, &r, "no 'clinical' tensor (run osteo-fuse first)");
		if (r.label < 0 || r.label >= k)
			input_die(&in, &r, "label %lld is not one of %d classes (--classes)", r.label, k);
		if (nf < 0) {
			nf = (int)tensor_elems(t);
			names = estrdup(rec_meta_s(&r, KEY_FUSE_FEATURES));
			sx = ecalloc(nf, sizeof *sx);
			sxx = ecalloc(nf, sizeof *sxx);
			sxy = ecalloc((size_t)nf * (k + 1), sizeof *sxy);
			v = emalloc((nf ? nf : 1) * sizeof *v);
		}
		if ((int)tensor_elems(t) != nf)
			input_die(&in, &r, "%zu clinical features; the first record had %d", tensor_elems(t), nf);
		tensor_to_float(t, v);
		for (int c = 0; c <= k; c++) {
			double y = c < k ? r.label == c : (double)r.label;
			sy[c] += y;
			syy[c] += y * y;
			for (int j = 0; j < nf; j++)
				sxy[(size_t)j * (k + 1) + c] += v[j] * y;
		}
		for (int j = 0; j < nf; j++) {
			if (!isfinite(v[j]))
				input_die(&in, &r, "clinical feature %d is not finite", j + 1);
			sx[j] += v[j];
			sxx[j] += (double)v[j] * v[j];
		}
		n++;
	}
	input_close(&in);
	if (nf <= 0 || n < 2)
		die(EX_DATAERR, "%zu labelled records with clinical features: too few to correlate", n);
	/* feature names: osteo-fuse's, else numbers */
	char **fname = emalloc(nf * sizeof *fname), *save = NULL, *tok = strtok_r(names, ",", &save);
	for (int j = 0; j < nf; j++, tok = tok ? strtok_r(NULL, ",", &save) : NULL) {
		fname[j] = emalloc(32 + (tok ? strlen(tok) : 0));
		tok ? strcpy(fname[j], tok) : (void)sprintf(fname[j], "feature %d", j + 1);
	}
	fprintf(fp, "$r << EOD\n");
	if (data) {
		fprintf(data, "feature");
		for (int c = 0; c < k; c++)
			fprintf(data, "\t%s", cl.names[c]);
		fprintf(data, "\tclass\n");
	}
	for (int j = 0; j < nf; j++) {
		if (data)
			fprintf(data, "%s", fname[j]);
		for (int c = 0; c <= k; c++) {
			double cov = sxy[(size_t)j * (k + 1) + c] - sx[j] * sy[c] / n;
			double vx = sxx[j] - sx[j] * sx[j] / n, vy = syy[c] - sy[c] * sy[c] / n;
			double rho = vx > 0 && vy > 0 ? cov / sqrt(vx * vy) : NAN;
			fprintf(fp, "%d %d %.6f\n", c, j, isnan(rho) ? 0 : rho);
			if (data)
				fprintf(data, "\t%.6f", rho);
		}
		if (data)
			fputc('\n', data);
	}
	fprintf(fp, "EOD\n");
	gp_title(fp, o, "clinical features against the class (Pearson r)");
	fprintf(fp, "set xrange [-0.5:%d.5]\nset yrange [%d.5:-0.5]\nset cbrange [-1:1]\n"
	            "set palette defined (-1 '#2166ac', 0 '#f7f7f7', 1 '#b2182b')\n"
	            "set tics scale 0\nset xtics (", k, nf - 1);
	for (int c = 0; c <= k; c++) {
		fprintf(fp, "%s", c ? ", " : "");
		gp_label(fp, c < k ? cl.names[c] : "class number");
		fprintf(fp, " %d", c);
	}
	fprintf(fp, ")\nset ytics (");
	for (int j = 0; j < nf; j++) {
		fprintf(fp, "%s", j ? ", " : "");
		gp_label(fp, fname[j]);
		fprintf(fp, " %d", j);
		free(fname[j]);
	}
	fprintf(fp, ")\nplot $r using 1:2:3 with image notitle, "
	            "$r using 1:2:(sprintf('%%.2f', $3)) with labels font 'sans,11' notitle\n");
	free(fname);
	free(names);
	free(sx);
	free(sxx);
	free(sxy);
	free(v);
	rec_free(&r);
}

/* jet-like colour of t in [0,1] */
static void
colormap(double t, double rgb[3])
{
	rgb[0] = fmin(fmax(1.5 - fabs(4 * t - 3), 0), 1);
	rgb[1] = fmin(fmax(1.5 - fabs(4 * t - 2), 0), 1);
	rgb[2] = fmin(fmax(1.5 - fabs(4 * t - 1), 0), 1);
}

/* one tile: the image in grey over its 1st-99th percentile, the map in
 * colour where it is high, as "x y r g b" rows */
static void
tile(FILE *fp, const struct record *r, float *img, float *tmp, float *heat)
{
	const struct tensor *t = rec_tensor(r, TENSOR_IMAGE), *hm = rec_tensor(r, TENSOR_HEATMAP);
	int c = (int)t->shape[0], h = (int)t->shape[1], w = (int)t->shape[2];
	size_t n = (size_t)h * w;

	tensor_to_float(t, img);
	tensor_to_float(hm, heat);
	if (c == 3)
		img_gray(img, img, n);
	memcpy(tmp, img, n * sizeof *tmp);
	float lo = select_rank(tmp, n, 0.01), hi = select_rank(tmp, n, 0.99);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			double g = hi > lo ? (img[(size_t)y * w + x] - lo) / (hi - lo) : 0.5, rgb[3];
			double a = heat[(size_t)y * w + x];
			g = fmin(fmax(g, 0), 1);
			a = isfinite(a) ? fmin(fmax(a, 0), 1) : 0;
			colormap(a, rgb);
			a *= 0.6;
			fprintf(fp, "%d %d %d %d %d\n", x, y, (int)(255 * ((1 - a) * g + a * rgb[0]) + 0.5),
			        (int)(255 * ((1 - a) * g + a * rgb[1]) + 0.5), (int)(255 * ((1 - a) * g + a * rgb[2]) + 0.5));
		}
}

static void
plot_heatmaps(FILE *fp, const struct opts *o, FILE *data)
{
	struct input in;
	struct record r;
	int shown = 0, h = 0, w = 0;
	const char *how = "Grad-CAM";
	float *img = NULL, *tmp = NULL, *heat = NULL;
	char **titles = emalloc(o->max * sizeof *titles);
	int taken[MAXCLASSES] = { 0 };

	rec_init(&r);
	input_open(&in, o->inputs, o->ninputs);
	while (shown < o->max && input_read(&in, &r)) {
		const struct tensor *t = rec_tensor(&r, TENSOR_IMAGE), *hm = rec_tensor(&r, TENSOR_HEATMAP);
		if (!t || t->ndim != 3 || (t->shape[0] != 1 && t->shape[0] != 3))
			input_die(&in, &r, "no 'image' tensor [1 or 3,H,W]");
		if (!hm)
			input_die(&in, &r, "no 'heatmap' tensor (run osteo-infer --heatmap)");
		if (tensor_elems(hm) != (size_t)t->shape[1] * t->shape[2])
			input_die(&in, &r, "the heatmap is not the image's size");
		/* --per-class: a few of each true class rather than the first few */
		if (o->per_class && r.has_label && r.label >= 0 && r.label < MAXCLASSES &&
		    taken[r.label]++ >= o->per_class)
			continue;
		if (!shown) {
			h = (int)t->shape[1];
			w = (int)t->shape[2];
			img = emalloc((size_t)3 * h * w * sizeof *img);
			tmp = emalloc((size_t)h * w * sizeof *tmp);
			heat = emalloc((size_t)h * w * sizeof *heat);
		} else if ((int)t->shape[1] != h || (int)t->shape[2] != w)
			input_die(&in, &r, "image is %ux%u, the first was %dx%d", t->shape[2], t->shape[1], w, h);
		fprintf(fp, "$t%d << EOD\n", shown);
		tile(fp, &r, img, tmp, heat);
		fprintf(fp, "EOD\n");
		/* "patient name / true -> predicted", the id's last part as its name */
		const char *pred = rec_meta_s(&r, KEY_INFER_CLASS), *cls = rec_meta_s(&r, KEY_PROV_CLASS);
		const char *base = strrchr(r.id, '/') ? strrchr(r.id, '/') + 1 : r.id;
		int blen = strrchr(base, '.') ? (int)(strrchr(base, '.') - base) : (int)strlen(base);
		size_t tl = strlen(r.id) + strlen(cls) + strlen(pred) + 64;
		titles[shown] = emalloc(tl);
		snprintf(titles[shown], tl, "%s%s%.*s\n%s%s%s", r.has_patient ? r.patient : "",
		         r.has_patient ? " " : "", blen > 40 ? 40 : blen, base, cls, *pred ? " -> " : "", pred);
		if (data)
			fprintf(data, "%s\t%s\n", r.id, pred);
		if (!shown) {
			/* what the maps are, as osteo-infer says, for the title */
			const char *m = rec_meta_s(&r, KEY_INFER_HEATMAP_MODE);
			how = !strcmp(m, "occlusion") ? "occlusion sensitivity" : !strcmp(m, "absolute") ? "|Grad-CAM|" : "Grad-CAM";
		}
		shown++;
	}
	input_close(&in);
	rec_free(&r);
	if (!shown)
		die(EX_DATAERR, "no records to show");
	int cols = shown < o->cols ? shown : o->cols, rows = (shown + cols - 1) / cols;
	if (!o->width)
		fprintf(fp, "set terminal pngcairo enhanced size %d,%d font 'sans,9'\n", 40 + cols * 220,
		        60 + rows * 240);
	fprintf(fp, "set multiplot layout %d,%d title ", rows, cols);
	char deftitle[64];
	snprintf(deftitle, sizeof deftitle, "where the model looked (%s)", how);
	gp_label(fp, o->title ? o->title : deftitle);
	fprintf(fp, " font 'sans,12'\nunset key\nunset tics\nunset border\nset size ratio -1\n"
	            "set xrange [-0.5:%d.5]\nset yrange [%d.5:-0.5]\n", w - 1, h - 1);
	for (int i = 0; i < shown; i++) {
		fprintf(fp, "set title ");
		/* two lines: gnuplot's \n inside double quotes */
		putc('"', fp);
		for (const char *s = titles[i]; *s; s++) {
			if (*s == '\n')
				fputs("\\n", fp);
			else if (strchr("\"\\_^@&{}~", *s))
				fprintf(fp, "\\\\%c", *s);
			else
				putc(*s, fp);
		}
		fprintf(fp, "\" font 'sans,9'\nplot $t%d using 1:2:3:4:5 with rgbimage\n", i);
		free(titles[i]);
	}
	fprintf(fp, "unset multiplot\n");
	free(titles);
	free(img);
	free(tmp);
	free(heat);
}

/* ---------------------------------------------------------------- */

static void
render(const struct opts *o, const char *script, size_t len, const char *tmp)
{
	FILE *gp = popen("exec gnuplot 2>&1", "w");
	int st;

	if (!gp)
		die(EX_OSERR, "cannot run gnuplot:");
	fwrite(script, 1, len, gp);
	st = pclose(gp);
	if (st == -1)
		die(EX_OSERR, "gnuplot:");
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		die(EX_UNAVAILABLE, "gnuplot not found (Debian: apt-get install gnuplot-nox)");
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		die(EX_SOFTWARE, "gnuplot failed drawing %s (status %d); --script shows what it was given",
		    kinds[o->kind], WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	struct stat sb;
	if (stat(tmp, &sb) || sb.st_size == 0)
		die(EX_SOFTWARE, "gnuplot wrote no picture for %s", kinds[o->kind]);
}

int
main(int argc, char **argv)
{
	static void (*const plot[])(FILE *, const struct opts *, FILE *) = {
		plot_curves, plot_roc, plot_confusion, plot_correlation, plot_heatmaps, plot_reliability, plot_coverage,
	};
	static const int size[][2] = { { 1000, 420 }, { 600, 600 }, { 600, 560 }, { 620, 560 }, { 0, 0 }, { 600, 600 },
	                                   { 700, 500 } };
	struct opts o;
	char *script = NULL, *tmp = NULL, *dtmp = NULL;
	size_t len = 0;
	FILE *fp, *data = NULL;

	/* arguments */
	cli_init(argv[0]);
	parse_args(argc, argv, &o);
	if (o.out && !o.script)
		tmp = atomic_tmpname(o.out);

	/* the script, data inline */
	if (!(fp = open_memstream(&script, &len)))
		die(EX_OSERR, "open_memstream:");
	/* --script names the picture itself; gnuplot run here writes the temporary */
	gp_head(fp, &o, size[o.kind][0] ? size[o.kind][0] : 800, size[o.kind][1] ? size[o.kind][1] : 600,
	        o.script ? (o.out ? o.out : "plot.png") : tmp);
	if (o.data)
		data = atomic_open(o.data, &dtmp);
	plot[o.kind](fp, &o, data);
	if (fclose(fp))
		die(EX_OSERR, "open_memstream:");

	/* render, then put the picture (and data) in place */
	if (o.script) {
		fwrite(script, 1, len, stdout);
	} else {
		render(&o, script, len, tmp);
		if (rename(tmp, o.out))
			die(EX_CANTCREAT, "%s: cannot rename into place:", o.out);
		cleanup_pop(tmp);
	}
	if (data)
		atomic_commit(data, dtmp, o.data);
	free(script);
	free(tmp);
	return fshut(stdout, "<stdout>");
}
