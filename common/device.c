/*
 * device.c - --device auto|cpu|cuda[:N] for the programs that run the
 * network.  Linked with the GPU backend (or its stand-in), not into
 * libosteo, so programs without a network do not pull in CUDA.
 */
#include "../gpu/gpu.h"
#include "util.h"

#include <string.h>

/* 0 for the CPU; dies with 64 on a bad spec and 69 when CUDA is asked for
 * and cannot be had */
int
device_select(const char *spec, const char *usage)
{
	const char *why;

	if (!strcmp(spec, "auto") || !strcmp(spec, "cpu"))
		return 0;
	if (strncmp(spec, "cuda", 4) || (spec[4] && spec[4] != ':'))
		usage_error(usage, "--device: auto, cpu or cuda[:N], not '%s'", spec);
	if (gpu_count(&why) == 0)
		die(EX_UNAVAILABLE, "--device %s: no CUDA device: %s", spec, why);
	die(EX_UNAVAILABLE, "--device %s: the CUDA network backend is not built yet; use --device cpu", spec);
}
