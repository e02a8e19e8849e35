/*
 * nogpu.c - the CUDA backend's functions for a build without nvcc
 * (make GPU=0): every answer is "no device".
 */
#include "../gpu/gpu.h"

int
gpu_compiled(void)
{
	return 0;
}

int
gpu_count(const char **why)
{
	*why = "built without the CUDA backend (GPU=0, or no nvcc)";
	return 0;
}

int
gpu_query(int dev, struct gpu_info *info, const char **why)
{
	(void)dev;
	(void)info;
	*why = "built without the CUDA backend (GPU=0, or no nvcc)";
	return -1;
}
