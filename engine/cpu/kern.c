/*
 * kern.c - kern.h: kern.inc compiled three times, for x86-64-v4 (AVX-512
 * F, BW, DQ, VL), x86-64-v3 (AVX2, FMA) and the baseline, with a target
 * pragma each (not target_clones, whose clones keep the baseline's code
 * for vector comparisons), and the choice between them by the CPU.
 * Elsewhere (another compiler or CPU, a sanitizer build) the baseline
 * only.
 */
#include "kern.h"
#include "engine/spec/nnrow.h"
#include "common/base/util.h"
#include "vec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define KERN_X86 1
#pragma GCC push_options
#pragma GCC target("arch=x86-64-v4")
#define KN(x) x##_v4
#define KNAME "x86-64-v4 (AVX-512)"
#include "kern.inc"
#undef KN
#undef KNAME
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("arch=x86-64-v3")
#define KN(x) x##_v3
#define KNAME "x86-64-v3 (AVX2)"
#include "kern.inc"
#undef KN
#undef KNAME
#pragma GCC pop_options
#endif

#define KN(x) x##_base
#define KNAME "baseline"
#include "kern.inc"
#undef KN
#undef KNAME

static const struct kern *
choose(void)
{
	const char *want = getenv("OSTEO_KERN");

	if (want && *want && strcmp(want, "base") && strcmp(want, "v3"))
		die(EX_USAGE, "OSTEO_KERN=%s: not base or v3 (or unset)", want);
	if (want && !strcmp(want, "base"))
		return &kern_base;
#ifdef KERN_X86
	__builtin_cpu_init();
	int v4 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
	int v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	if (want && !strcmp(want, "v3") && v3)
		return &kern_v3;
	if (v4 && !(want && !strcmp(want, "v3")))
		return &kern_v4;
	if (v3)
		return &kern_v3;
#endif
	return &kern_base;
}

const struct kern *
kern_get(void)
{
	/* set once; a race between threads sets the same value */
	static const struct kern *k;

	if (!k)
		k = choose();
	return k;
}
