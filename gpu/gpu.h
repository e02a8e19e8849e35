/*
 * gpu.h - what the CUDA backend offers the programs.  Built from the .cu files here
 * when nvcc is found; without it, common/nogpu.c gives the same functions
 * answering "no device", so no program needs an #ifdef.
 */
#ifndef OSTEO_GPU_H
#define OSTEO_GPU_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gpu_info {
	char name[256];
	int major, minor;       /* compute capability */
	size_t memory;          /* bytes */
	int multiprocessors;
	int cublas_version;
};

/* 1 when the backend was compiled in */
int gpu_compiled(void);
/* the number of usable devices; 0 with *why set when there are none */
int gpu_count(const char **why);
/* 0, or -1 with *why set */
int gpu_query(int dev, struct gpu_info *info, const char **why);
/* --device auto|cpu|cuda[:N] (common/device.c): 0 for the CPU */
int device_select(const char *spec, const char *usage);

#ifdef __cplusplus
}
#endif
#endif
