/*
 * device.c - --device auto|cpu|cuda[:N] for the programs that run the
 * network.  Linked with the GPU backend (or its stand-in), not into
 * libosteo, so programs without a network do not pull in CUDA.
 */
#include "engine.h"
#include "common/base/util.h"
#include "engine/cpu/dnn.h"
#include "gpu/gpu.h"

#include <stdlib.h>
#include <string.h>

/* --device auto chose a GPU: engine_open may take the CPU instead for a
 * network the CUDA engine cannot run */
static int chose_auto;

int
device_auto(void)
{
	return chose_auto;
}

/* -1 for the CPU, else the device's number; dies with 64 on a bad spec and
 * 69 when CUDA is asked for and cannot be had */
int
device_select(const char *spec, const char *usage)
{
	const char *why;
	struct gpu_info gi;
	int n, dev = 0;

	if (!strcmp(spec, "cpu"))
		return -1;
	if (!strcmp(spec, "auto")) {
		/* a card that is there but cannot be used is the CPU's turn, said once */
		if (gpu_count(&why) == 0)
			return -1;
		if (gpu_query(0, &gi, &why) < 0) {
			warn("--device auto: cuda:0 is not usable (%s); using the CPU", why);
			return -1;
		}
		info("--device auto: cuda:0, %s", gi.name);
		chose_auto = 1;
		return 0;
	}
	if (strncmp(spec, "cuda", 4) || (spec[4] && spec[4] != ':'))
		usage_error(usage, "--device: auto, cpu or cuda[:N], not '%s'", spec);
	if (spec[4] == ':')
		dev = (int)estrtonum(spec + 5, 0, 255, "--device cuda:N");
	if ((n = gpu_count(&why)) == 0)
		die(EX_UNAVAILABLE, "--device %s: no CUDA device: %s", spec, why);
	if (dev >= n)
		die(EX_UNAVAILABLE, "--device %s: there %s only %d CUDA device%s", spec, n == 1 ? "is" : "are", n,
		    n == 1 ? "" : "s");
	if (gpu_query(dev, &gi, &why) < 0)
		die(EX_UNAVAILABLE, "--device %s: %s", spec, why);
	return dev;
}

int
precision_select(const char *spec, int dev, const char *usage)
{
	const char *isa;
	int auto_ = !strcmp(spec, "auto");

	if (!strcmp(spec, "fp32"))
		return 0;
	if (!auto_ && strcmp(spec, "bf16"))
		usage_error(usage, "--precision: fp32, bf16 or auto, not '%s'", spec);
	if (dev >= 0) {
		if (auto_)
			return 0;
		die(EX_UNAVAILABLE, "--precision bf16: the CUDA engine runs float32 only");
	}
	if (!dnet_bf16_native(&isa)) {
		if (auto_)
			return 0;
		/* oneDNN would emulate bfloat16, slower than float32 */
		die(EX_UNAVAILABLE, "--precision bf16: this CPU has neither AVX512_BF16 nor AMX (oneDNN sees %s)", isa);
	}
	return ENGINE_BF16 | (auto_ ? ENGINE_BF16_AUTO : 0);
}
