/*
 * vec.h - sixteen floats as one value, in GCC's vector types: one AVX-512
 * register, two AVX2 ones or four SSE ones, whichever clone of a VEC
 * function the CPU runs (the loader picks by its features).  For the
 * memory-bound passes of dnn.c and the batched dense rows of nn.c.
 */
#ifndef OSTEO_VEC_H
#define OSTEO_VEC_H

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define VEC __attribute__((target_clones("avx512f", "avx2", "default")))
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

/* m ? a : b, lane by lane (m: all ones or zero) */
static inline vf
sel(vi m, vf a, vf b)
{
	return (vf)((m & (vi)a) | (~m & (vi)b));
}

static inline vf
vrelu(vf x)
{
	return (vf)((vi)(x > 0) & (vi)x);
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
