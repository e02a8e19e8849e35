/*
 * dist.c - dist.h: exact sums of micro-batches' gradients, over MPI ranks
 * where osteo was built with Open MPI (OSTEO_MPI).
 */
#include "dist.h"
#include "common/base/util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef OSTEO_MPI
#include <mpi.h>
#endif

static int started;

int
dist_built(void)
{
#ifdef OSTEO_MPI
	return 1;
#else
	return 0;
#endif
}

int
dist_launched(void)
{
	/* mpirun's, srun's, and the PMI's that others set */
	static const char *const vars[] = { "OMPI_COMM_WORLD_SIZE", "SLURM_STEP_NUM_TASKS", "PMI_SIZE" };

	for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
		const char *v = getenv(vars[i]);
		long n = v ? strtol(v, NULL, 10) : 0;
		if (n > 1)
			return n > 1 << 20 ? 1 << 20 : (int)n;
	}
	return 1;
}

void
dist_init(int *argc, char ***argv, struct dist *d)
{
	d->rank = 0;
	d->size = 1;
#ifdef OSTEO_MPI
	MPI_Init(argc, argv);
	started = 1;
	MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
	MPI_Comm_size(MPI_COMM_WORLD, &d->size);
#else
	die(EX_UNAVAILABLE, "--mpi: this osteo-train was built without MPI (install Debian's libopenmpi-dev and "
	    "rebuild)");
#endif
}

void
dist_end(void)
{
#ifdef OSTEO_MPI
	if (started)
		MPI_Finalize();
	started = 0;
#endif
}

static void
allreduce_max(double *v, int n)
{
#ifdef OSTEO_MPI
	if (started)
		MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
#endif
}

static void
allreduce_sum_i64(int64_t *v, size_t n)
{
#ifdef OSTEO_MPI
	/* (MPI counts are ints: a network past 2^31 parameters goes in pieces) */
	for (size_t o = 0; started && o < n; o += (size_t)1 << 30) {
		size_t k = n - o < (size_t)1 << 30 ? n - o : (size_t)1 << 30;
		MPI_Allreduce(MPI_IN_PLACE, v + o, (int)k, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
	}
#endif
}

void
dist_slots(double *v, size_t n)
{
#ifdef OSTEO_MPI
	if (started)
		MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
#endif
}

int
dist_sum(float *out, const float *parts, const double *factor, int nparts, int total, size_t n,
         const size_t *seg, int nseg, int *flag)
{
	static int64_t *acc;
	static size_t acccap;
	static double *top;
	static size_t topcap;
	static int *shift;
	static size_t shiftcap;

	egrow((void **)&acc, &acccap, n * sizeof *acc);
	egrow((void **)&top, &topcap, ((size_t)nseg + 1) * sizeof *top);
	egrow((void **)&shift, &shiftcap, (size_t)nseg * sizeof *shift);
	/* each segment's largest |value x factor|, and the flag, over the ranks */
	for (int s = 0; s < nseg; s++) {
		double m = 0;
		for (int j = 0; j < nparts; j++) {
			const float *p = parts + (size_t)j * n;
			float pm = 0;
			int nan = 0;     /* (fmaxf passes a NaN over) */
			for (size_t k = seg[s]; k < seg[s + 1]; k++) {
				float a = fabsf(p[k]);
				pm = fmaxf(pm, a);
				nan |= a != a;
			}
			m = fmax(m, nan ? INFINITY : pm * factor[(size_t)j * nseg + s]);
		}
		top[s] = m;
	}
	top[nseg] = *flag;
	allreduce_max(top, nseg + 1);
	*flag = (int)top[nseg];
	/* 2^shift puts the segment's largest value just under 2^62 / total,
	 * so no sum of total of them can overflow */
	int head = 0;
	while ((1 << head) < total)
		head++;
	for (int s = 0; s < nseg; s++) {
		if (!isfinite(top[s]))
			return -1;
		int e;
		frexp(top[s], &e);
		shift[s] = top[s] > 0 ? 62 - head - e : 0;
	}
	memset(acc, 0, n * sizeof *acc);
	for (int j = 0; j < nparts; j++) {
		const float *p = parts + (size_t)j * n;
		for (int s = 0; s < nseg; s++) {
			double f = ldexp(factor[(size_t)j * nseg + s], shift[s]);
			for (size_t k = seg[s]; k < seg[s + 1]; k++)
				acc[k] += llrint((double)p[k] * f);
		}
	}
	allreduce_sum_i64(acc, n);
	for (int s = 0; s < nseg; s++)
		for (size_t k = seg[s]; k < seg[s + 1]; k++)
			out[k] = (float)ldexp((double)acc[k], -shift[s]);
	return 0;
}
