/*
 * cublas_v2.h - the few cuBLAS calls gpu/ makes, on oneDNN's sgemm, for the CPU
 * stand-in of cuda_runtime.h (see there).
 */
#ifndef EMU_CUBLAS_V2_H
#define EMU_CUBLAS_V2_H

#include <oneapi/dnnl/dnnl.h>

#include "cuda_runtime.h"

typedef struct emu_cublas *cublasHandle_t;
enum cublasStatus_t { CUBLAS_STATUS_SUCCESS = 0, CUBLAS_STATUS_ALLOC_FAILED = 3 };
enum cublasOperation_t { CUBLAS_OP_N, CUBLAS_OP_T };
enum cublasMath_t { CUBLAS_DEFAULT_MATH, CUBLAS_TF32_TENSOR_OP_MATH };

inline const char *cublasGetStatusString(cublasStatus_t) { return "success"; }
inline cublasStatus_t cublasCreate(cublasHandle_t *h) { *h = nullptr; return CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasDestroy(cublasHandle_t) { return CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasSetStream(cublasHandle_t, cudaStream_t) { return CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasGetVersion(cublasHandle_t, int *v) { *v = 0; return CUBLAS_STATUS_SUCCESS; }

/* column-major, as cuBLAS: C^T = op(B)^T op(A)^T row-major */
inline cublasStatus_t
cublasSgemm(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
            const float *alpha, const float *A, int lda, const float *B, int ldb, const float *beta,
            float *C, int ldc)
{
	if (m == 0 || n == 0)
		return CUBLAS_STATUS_SUCCESS;
	return dnnl_sgemm(tb == CUBLAS_OP_T ? 'T' : 'N', ta == CUBLAS_OP_T ? 'T' : 'N', n, m, k, *alpha, B, ldb, A,
	                  lda, *beta, C, ldc) == dnnl_success ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_ALLOC_FAILED;
}

#endif
