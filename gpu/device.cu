/*
 * device.cu - device discovery for the CUDA backend: which GPUs there are,
 * and a cuBLAS handle made on one, so a build that links but cannot run
 * says so here rather than in the middle of training.
 */
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "gpu.h"

#include <stdio.h>
#include <string.h>

static char why_buf[512];

extern "C" int
gpu_compiled(void)
{
	return 1;
}

extern "C" int
gpu_count(const char **why)
{
	int n = 0;
	cudaError_t e = cudaGetDeviceCount(&n);

	if (e != cudaSuccess) {
		snprintf(why_buf, sizeof why_buf, "cudaGetDeviceCount: %s", cudaGetErrorString(e));
		*why = why_buf;
		return 0;
	}
	if (n == 0)
		*why = "cudaGetDeviceCount: no CUDA device";
	return n;
}

extern "C" int
gpu_query(int dev, struct gpu_info *info, const char **why)
{
	cudaDeviceProp p;
	cudaError_t e = cudaGetDeviceProperties(&p, dev);
	cublasHandle_t h;
	cublasStatus_t s;

	if (e != cudaSuccess) {
		snprintf(why_buf, sizeof why_buf, "cudaGetDeviceProperties(%d): %s", dev, cudaGetErrorString(e));
		*why = why_buf;
		return -1;
	}
	memset(info, 0, sizeof *info);
	snprintf(info->name, sizeof info->name, "%s", p.name);
	info->major = p.major;
	info->minor = p.minor;
	info->memory = p.totalGlobalMem;
	info->multiprocessors = p.multiProcessorCount;
	int clock = 0, bus = 0;  /* kHz, bits; two transfers a clock */
	if (cudaDeviceGetAttribute(&clock, cudaDevAttrMemoryClockRate, dev) == cudaSuccess &&
	    cudaDeviceGetAttribute(&bus, cudaDevAttrGlobalMemoryBusWidth, dev) == cudaSuccess)
		info->bandwidth = 2.0 * clock * 1000.0 * bus / 8;
	if ((e = cudaSetDevice(dev)) != cudaSuccess) {
		snprintf(why_buf, sizeof why_buf, "cudaSetDevice(%d): %s", dev, cudaGetErrorString(e));
		*why = why_buf;
		return -1;
	}
	if ((s = cublasCreate(&h)) != CUBLAS_STATUS_SUCCESS) {
		snprintf(why_buf, sizeof why_buf, "cublasCreate: %s", cublasGetStatusString(s));
		*why = why_buf;
		return -1;
	}
	s = cublasGetVersion(h, &info->cublas_version);
	cublasDestroy(h);
	if (s != CUBLAS_STATUS_SUCCESS) {
		snprintf(why_buf, sizeof why_buf, "cublasGetVersion: %s", cublasGetStatusString(s));
		*why = why_buf;
		return -1;
	}
	return 0;
}
