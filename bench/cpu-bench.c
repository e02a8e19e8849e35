/*
 * cpu-bench.c - make bench's CPU figures: OsteoNet (the default --arch, 8
 * clinical features, 3 classes) through engine/engine.h on the CPU, as
 * osteo-train and osteo-infer run it, timed in steady state on one batch
 * of random images, as bench/torch_osteonet.py times PyTorch: the median
 * of 7 rounds of about 0.3 s each, after one round of warm-up.  A training
 * step is forward, loss, backward and Adam; inference is a forward and
 * its probabilities.  Threads: OMP_NUM_THREADS, as for the programs.
 *   cpu-bench train|infer|latency SIZE BATCH [random|ties [fp32|bf16 [ARCH]]]
 *   cpu-bench sgemm N
 *   cpu-bench records N SIZE random|ties > FILE.rec
 * (ties: the images tie-heavy, as prepared X-rays are, bench.h; records:
 * N labelled records of such images and 8 clinical features, for timing
 * osteo-train and osteo-infer on them)
 * prints "osteo engine MODE IMAGES_PER_S PEAK_RSS_MIB GFLOP_PER_S" (latency:
 * "osteo engine latency P50_MS P90_MS PEAK_RSS_MIB", single images), as
 * bench/torch_osteonet.py prints its lines, or "sgemm N GFLOP_PER_S"; and
 * the kernels oneDNN chose on stderr.  bf16: as --precision bf16 runs
 * (exit 69 where the CPU has no bfloat16 instructions).  ARCH: another
 * network (resnet18, or any spec) of 3-channel images, no clinical values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/record/record.h"
#include "engine/engine.h"
#include "engine/ref/ref.h"
#include "bench.h"
#include "common/base/rng.h"
#include "common/base/util.h"

static double
peak_mib(void)
{
	struct rusage u;

	getrusage(RUSAGE_SELF, &u);
	return u.ru_maxrss / 1024.0;
}

/* one step of a batch of b */
static void
step(struct engine *e, int set, int b, int train, int t, struct rng *g)
{
	engine_stage(e, set, NULL, b);
	engine_forward(e, train, g);
	if (train) {
		engine_loss(e, NULL);
		engine_backward(e, NULL);
		engine_adam(e, 1e-4f, 0.9f, 0.999f, 1e-8f, 0, t);
	}
	engine_probs(e);
}

/* multiply-adds of one image's forward: the convolutions and dense layers */
static double
flops(const struct net *n)
{
	double f = 0;

	for (int i = 0; i < n->nlayers; i++) {
		const struct layer *l = &n->l[i];
		if (l->type == L_CONV || l->type == L_CBN)
			f += 2.0 * l->oc * l->oh * l->ow * l->ic * l->k * l->k;
		else if (l->type == L_DENSE || l->type == L_CLASSIFIER)
			f += 2.0 * l->oc * l->ic;
	}
	return f;
}

static void
sgemm_peak(int N)
{
	float *a = emalloc((size_t)N * N * sizeof(float)), *b = emalloc((size_t)N * N * sizeof(float));
	float *c = emalloc((size_t)N * N * sizeof(float));
	double t[REPS];

	for (size_t i = 0; i < (size_t)N * N; i++)
		a[i] = b[i] = c[i] = (float)(i % 7) * 0.1f;
	for (int r = -1; r < REPS; r++) {
		double t0 = now();
		sgemm(0, 0, N, N, N, 1, a, N, b, N, 0, c, N);    /* oneDNN's, through ref.h */
		if (r >= 0)
			t[r] = now() - t0;
	}
	qsort(t, REPS, sizeof *t, cmp_double);
	printf("sgemm %d %.1f\n", N, 2.0 * N * N * N / t[REPS / 2] / 1e9);
}

/* n records of what osteonet_batch_of makes, prepared as osteo-normalize
 * and osteo-fuse would say */
static void
records(int n, int size, int ties)
{
	float *x, *clin;
	int32_t *y;
	struct net *net = osteonet_batch_of(size, n, ties, &x, &clin, &y);
	struct rec_writer *w = rec_writer_new(stdout, "<stdout>");
	struct record r;
	char id[32];
	uint32_t shape[3] = { 1, (uint32_t)size, (uint32_t)size }, cs[1] = { 8 };

	out_refuse_tty(stdout);
	rec_init(&r);
	for (int i = 0; i < n; i++) {
		rec_clear(&r);
		snprintf(id, sizeof id, "%s%06d", ties ? "ties" : "random", i);
		rec_set_id(&r, id);
		rec_set_patient(&r, id);
		r.has_label = 1;
		r.label = y[i];
		const char *err;
		struct tensor *t = rec_tensor_put(&r, "image", DT_F32, 3, shape, &err);
		if (!t)
			die(EX_USAGE, "%s", err);
		memcpy(t->data, x + (size_t)i * size * size, (size_t)size * size * sizeof(float));
		memcpy(rec_tensor_put(&r, "clinical", DT_F32, 1, cs, &err)->data, clin + (size_t)i * 8, 8 * sizeof(float));
		rec_write(w, &r);
	}
	int st = rec_writer_close(w);
	if (st)
		quit(st);
	rec_free(&r);
	net_free(net);
	free(x);
	free(clin);
	free(y);
}

int
main(int argc, char **argv)
{
	struct engine *e;
	int size, b;

	cli_init("cpu-bench");
	if (argc == 3 && !strcmp(argv[1], "sgemm")) {
		sgemm_peak((int)estrtonum(argv[2], 16, 8192, "N"));
		return fshut(stdout, "<stdout>");
	}
	if (argc == 5 && !strcmp(argv[1], "records")) {
		/* the record writer closes standard output */
		records((int)estrtonum(argv[2], 1, 1000000, "N"), (int)estrtonum(argv[3], 16, 4096, "SIZE"),
		        !strcmp(argv[4], "ties"));
		return 0;
	}
	if (argc < 4)
		die(EX_USAGE, "usage: cpu-bench train|infer|latency SIZE BATCH [random|ties [fp32|bf16 [ARCH]]] | cpu-bench sgemm N | "
		    "cpu-bench records N SIZE random|ties");
	const char *mode = argv[1];
	int train = !strcmp(mode, "train"), lat = !strcmp(mode, "latency");
	if (!train && !lat && strcmp(mode, "infer"))
		die(EX_USAGE, "%s: not train, infer, latency or sgemm", mode);
	size = (int)estrtonum(argv[2], 16, 4096, "SIZE");
	b = (int)estrtonum(argv[3], 1, 4096, "BATCH");
	float *x, *clin;
	int32_t *y;
	/* another network: a preset or spec, of 3-channel images without
	 * clinical values (an ImageNet backbone's input) */
	const char *arch = argc > 6 ? argv[6] : NULL;
	struct net *n = arch ? net_batch_of(arch, 3, size, 0, b, argc > 4 && !strcmp(argv[4], "ties"), &x, &clin, &y)
	                     : osteonet_batch_of(size, b, argc > 4 && !strcmp(argv[4], "ties"), &x, &clin, &y);
	struct rng g;

	rng_seed(&g, 1, "bench");
	e = engine_open(n, -1, b, argc > 5 ? precision_select(argv[5], -1, "cpu-bench") : 0);
	int set = engine_dataset(e, x, clin, y, b, 1), t = 0;
	if (lat) {
		/* single images, one after another, as a request server sees them */
		enum { N = 200 };
		double s[N];
		for (int i = -20; i < N; i++) {
			double t0 = now();
			step(e, set, 1, 0, 0, &g);
			if (i >= 0)
				s[i] = now() - t0;
		}
		qsort(s, N, sizeof *s, cmp_double);
		printf("osteo engine latency %.3f %.3f %.1f\n", s[N / 2] * 1e3, s[N * 9 / 10] * 1e3, peak_mib());
	} else {
		/* rounds of about 0.3 s, sized by a warm-up of two steps */
		double t0 = now(), s[REPS];
		for (int i = 0; i < 2; i++)
			step(e, set, b, train, ++t, &g);
		int steps = (int)(0.3 / ((now() - t0) / 2)) + 1;
		for (int r = -1; r < REPS; r++) {
			double t0 = now();
			for (int i = 0; i < steps; i++)
				step(e, set, b, train, ++t, &g);
			if (r >= 0)      /* the first round warms up */
				s[r] = (now() - t0) / steps;
		}
		qsort(s, REPS, sizeof *s, cmp_double);
		/* a training step is about three forwards' multiply-adds */
		printf("osteo engine %s %.1f %.1f %.1f\n", mode, b / s[REPS / 2], peak_mib(),
		       flops(n) * b * (train ? 3 : 1) / s[REPS / 2] / 1e9);
	}
	fprintf(stderr, "cpu-bench: %s\n", engine_kernels(e));
	engine_close(e);
	net_free(n);
	return fshut(stdout, "<stdout>");
}
