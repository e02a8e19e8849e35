/*
 * dist.h - osteo-train's batches shared among processes (--mpi) or cut
 * into micro-batches in one (--micro-batch), with sums that come out the
 * same bits either way.
 *
 * Floating-point addition is not associative, and MPI_Allreduce adds in
 * an order of its own that changes with the number of ranks, so summing
 * the micro-batches' gradients as floats would give each rank count its
 * own model.  dist_sum adds them as 64-bit fixed point instead: a scale
 * per tensor from the largest magnitude over every micro-batch (an
 * MPI_MAX, exact), each value rounded once onto that grid, and integers
 * summed by MPI_Allreduce, which is exact in any order.  The grid puts
 * the largest value near 2^50 / (micro-batches): the rounding is about
 * 2^-50 of the tensor's largest value times their number, far below a
 * float32 sum's 2^-24 of the values summed.  The same code with one
 * process gives the same bits, so a run on one machine reproduces a
 * cluster's.
 *
 * Built on Open MPI where make finds it (OSTEO_MPI); without it,
 * dist_init dies with 69 and everything else works for one process.
 */
#ifndef OSTEO_DIST_H
#define OSTEO_DIST_H

#include <stddef.h>

struct dist {
	int rank, size;          /* 0 and 1 for one process */
};

/* MPI_Init, this process's rank and the world's size; dies with 69 when
 * osteo was built without MPI */
void dist_init(int *argc, char ***argv, struct dist *d);
/* MPI_Finalize, where dist_init ran */
void dist_end(void);
/* the number of ranks a launcher (mpirun, srun) started this process
 * among, from its environment; 1 when none did */
int dist_launched(void);

/*
 * out[0..n) = the sum over every rank's parts of parts[j][k] * factor[j],
 * computed exactly in fixed point as above, a scale for each segment
 * (seg[0] = 0 < seg[1] < ... < seg[nseg] = n: the tensors).  nparts parts
 * here, total over all ranks (for the scale's headroom); out may be one
 * of the parts.  flag (or NULL): *flag becomes its largest value over the
 * ranks, in the same exchange (the stop signal).  Returns -1, with out
 * untouched, when some value is not finite (on every rank alike).
 */
int dist_sum(float *out, const float *const *parts, const double *factor, int nparts, int total, size_t n,
             const size_t *seg, int nseg, int *flag);
/* v[0..n) summed over the ranks where each element is non-zero on at most
 * one rank (each rank fills its own slots): exact */
void dist_slots(double *v, size_t n);

#endif
