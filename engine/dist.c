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

/*
 * The rounding onto the grid: a double below 2^51 in magnitude, added to
 * 1.5 x 2^52, rounds to an integer (to even, as the hardware does), which
 * then lies in the low bits of its representation.  Unlike llrint it
 * vectorises on every x86-64.
 */
#define MAGIC 6755399441055744.0            /* 1.5 x 2^52 */

static inline int64_t
grid(double x)
{
	double y = x + MAGIC;
	int64_t b, m;
	const double magic = MAGIC;

	memcpy(&b, &y, sizeof b);
	memcpy(&m, &magic, sizeof m);
	return b - m;
}

/* the largest |p[k]| of p[0..n), or infinity when one is NaN or infinite.
 * (As integers: a float's magnitude bits order as its magnitude does,
 * and an integer maximum vectorises where a float one may not, for NaN's
 * sake; NaN and infinity are the largest patterns) */
static double
largest(const float *p, size_t n)
{
	uint32_t m = 0;
	float f;

	for (size_t k = 0; k < n; k++) {
		uint32_t b;
		memcpy(&b, p + k, sizeof b);
		b &= 0x7fffffff;
		m = b > m ? b : m;
	}
	if (m >= 0x7f800000)
		return INFINITY;
	memcpy(&f, &m, sizeof f);
	return f;
}

int
dist_sum(float *out, const float *const *parts, const double *factor, int nparts, int total, size_t n,
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
		for (int j = 0; j < nparts; j++)
			m = fmax(m, largest(parts[j] + seg[s], seg[s + 1] - seg[s]) * factor[j]);
		top[s] = m;
	}
	top[nseg] = flag ? *flag : 0;
	allreduce_max(top, nseg + 1);
	if (flag)
		*flag = (int)top[nseg];
	/* 2^shift puts the segment's largest value just under 2^50 / total:
	 * each value rounds exactly (grid), and no sum of total of them
	 * overflows */
	int head = 0;
	while ((1 << head) < total)
		head++;
	for (int s = 0; s < nseg; s++) {
		if (!isfinite(top[s]))
			return -1;
		int e;
		frexp(top[s], &e);
		shift[s] = top[s] > 0 ? 50 - head - e : 0;
	}
	if (nparts == 0)
		memset(acc, 0, n * sizeof *acc);
	for (int j = 0; j < nparts; j++)
		for (int s = 0; s < nseg; s++) {
			const float *p = parts[j];
			double f = ldexp(factor[j], shift[s]);
			size_t lo = seg[s], hi = seg[s + 1];    /* (acc might alias seg) */
			if (j == 0)
				for (size_t k = lo; k < hi; k++)
					acc[k] = grid((double)p[k] * f);
			else
				for (size_t k = lo; k < hi; k++)
					acc[k] += grid((double)p[k] * f);
		}
	allreduce_sum_i64(acc, n);
	for (int s = 0; s < nseg; s++) {
		double back = ldexp(1, -shift[s]);      /* (a power of two: exact) */
		size_t lo = seg[s], hi = seg[s + 1];
		for (size_t k = lo; k < hi; k++)
			out[k] = (float)((double)acc[k] * back);
	}
	return 0;
}
