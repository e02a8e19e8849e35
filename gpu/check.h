/*
 * check.h - every CUDA and cuBLAS call of the backend goes through these,
 * so a failure names the call and where it was made, and running out of
 * device memory is an error a person can act on rather than a crash later.
 */
#ifndef OSTEO_GPU_CHECK_H
#define OSTEO_GPU_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime.h>

extern "C" {
#include "common/base/util.h"
}

#define CUDA(call) cuda_check((call), #call, __FILE__, __LINE__)
#define CUBLAS(call) cublas_check((call), #call, __FILE__, __LINE__)
/* after a kernel launch: a bad configuration shows here, a fault at the
 * next synchronising call (which is checked too) */
#define LAUNCHED(name) cuda_check(cudaGetLastError(), name, __FILE__, __LINE__)

static inline void
cuda_check(cudaError_t e, const char *call, const char *file, int line)
{
	if (e != cudaSuccess)
		die(EX_SOFTWARE, "CUDA: %s: %s (%s:%d)", call, cudaGetErrorString(e), file, line);
}

static inline void
cublas_check(cublasStatus_t s, const char *call, const char *file, int line)
{
	if (s == CUBLAS_STATUS_ALLOC_FAILED)
		die(EX_OSERR, "cuBLAS: %s: out of device memory (%s:%d); try a smaller --batch", call, file, line);
	if (s != CUBLAS_STATUS_SUCCESS)
		die(EX_SOFTWARE, "cuBLAS: %s: %s (%s:%d)", call, cublasGetStatusString(s), file, line);
}

#endif
