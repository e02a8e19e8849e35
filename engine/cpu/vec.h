/*
 * vec.h - sixteen floats as one value, in GCC's vector types: one AVX-512
 * register, two AVX2 ones or four SSE ones, as kern.c compiles kern.inc
 * for each.  Nothing here compares: GCC 12 lowers a comparison of these
 * types for the instruction set of the function it is written in, so a
 * helper that compares belongs in kern.inc.  VEC marks the plain loops
 * of dnn.c, which GCC vectorises itself, for cloning by instruction set.
 */
#ifndef OSTEO_VEC_H
#define OSTEO_VEC_H

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define VEC __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define VEC
#endif

typedef float vf __attribute__((vector_size(64)));
typedef int vi __attribute__((vector_size(64)));
typedef unsigned char vb __attribute__((vector_size(16)));

static inline vf
ld(const float *p)
{
	vf v;
	memcpy(&v, p, sizeof v);
	return v;
}

static inline void
st(float *p, vf v)
{
	memcpy(p, &v, sizeof v);
}

/* m ? a : b, lane by lane (m: all ones or zero, from a comparison) */
static inline vf
sel(vi m, vf a, vf b)
{
	return (vf)((m & (vi)a) | (~m & (vi)b));
}


/* the sum of the lanes, always in the same order: a tree of halves */
static inline float
hsum(vf v)
{
	float s8[8], s4[4], s2[2];

	for (int k = 0; k < 8; k++)
		s8[k] = v[k] + v[k + 8];
	for (int k = 0; k < 4; k++)
		s4[k] = s8[k] + s8[k + 4];
	for (int k = 0; k < 2; k++)
		s2[k] = s4[k] + s4[k + 2];
	return s2[0] + s2[1];
}

#endif
