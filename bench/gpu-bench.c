/*
 * gpu-bench.c - make bench's GPU figures: OsteoNet (the default --arch, 8
 * clinical features, 3 classes) on cuda:0 through engine/engine.h as
 * osteo-train and osteo-infer run it, timed in steady state on one batch of
 * random images held on the device, as bench/torch_osteonet.py times
 * PyTorch.  A training step is forward, loss (read back), backward and
 * Adam; an inference step is forward and the probabilities read back.
 *   gpu-bench SIZE BATCH [TF32 [STEPS]]
 * prints "osteo train|infer IMAGES_PER_S GB_PER_S FRACTION_OF_PEAK", the
 * bandwidth being the bytes gpu/nn.cu's calls read and write (each operand
 * once) over the step's time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine/engine.h"
#include "bench.h"
#include "common/base/rng.h"
#include "common/base/util.h"
#include "gpu/gnn.h"
#include "gpu/gpu.h"


/* seconds per step, median of REPS timings of n steps, and bytes per step */
static void
timed(struct engine *e, int set, int b, int train, int n, double *secs, double *bytes)
{
	double t[REPS];
	unsigned long long b0 = 0;
	struct rng g;

	rng_seed(&g, 1, "bench");
	for (int r = -1; r < REPS; r++) {
		double t0 = now();
		if (r == 0)
			b0 = gnn_bytes();
		for (int i = 0; i < n; i++) {
			engine_stage(e, set, NULL, b);
			engine_forward(e, train, &g);
			if (train) {
				engine_loss(e, NULL);
				engine_backward(e, NULL);
				engine_adam(e, 1e-3f, 0.9f, 0.999f, 1e-8f, 0, 1 + i);
			}
			engine_probs(e);
		}
		if (r >= 0)        /* the first round warms up */
			t[r] = (now() - t0) / n;
	}
	qsort(t, REPS, sizeof *t, cmp_double);
	*secs = t[REPS / 2];
	*bytes = (double)(gnn_bytes() - b0) / ((double)REPS * n);
}

int
main(int argc, char **argv)
{
	struct gpu_info gi;
	struct engine *e;
	const char *why;
	int size, b, tf32;

	cli_init("gpu-bench");
	if (argc < 3)
		die(EX_USAGE, "usage: gpu-bench SIZE BATCH [TF32 [STEPS]]");
	size = (int)estrtonum(argv[1], 16, 4096, "SIZE");
	b = (int)estrtonum(argv[2], 1, 4096, "BATCH");
	tf32 = argc > 3 && atoi(argv[3]);
	if (gpu_count(&why) == 0 || gpu_query(0, &gi, &why) < 0)
		die(EX_UNAVAILABLE, "no CUDA device: %s", why);
	float *x, *clin;
	int32_t *y;
	struct net *n = osteonet_batch(size, b, &x, &clin, &y);
	quiet = 1;
	e = engine_open(n, 0, b, tf32 ? ENGINE_TF32 : 0);
	int set = engine_dataset(e, x, clin, y, b, 1);
	/* about a second of steps per timing */
	int steps = argc > 4 ? atoi(argv[4]) : 2048 * 128 * 128 / (size * size * b) + 1;
	for (int train = 1; train >= 0; train--) {
		double secs, bytes;
		timed(e, set, b, train, steps, &secs, &bytes);
		printf("osteo %s %.1f %.1f %.3f\n", train ? "train" : "infer", b / secs, bytes / secs / 1e9,
		       gi.bandwidth > 0 ? bytes / secs / gi.bandwidth : 0);
	}
	engine_close(e);
	return fshut(stdout, "<stdout>");
}
