/*
 * rng.c - xoshiro256** (Blackman and Vigna) with splitmix64 seeding.
 */
#include "rng.h"

#include <math.h>
#include <string.h>

static uint64_t
splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t
hash_str(uint64_t seed, const char *s)
{
	/* FNV-1a over the key, then mixed with the seed */
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	h ^= seed * 0x9e3779b97f4a7c15ULL;
	return splitmix(&h);
}

void
rng_seed(struct rng *g, uint64_t seed, const char *key)
{
	uint64_t x = hash_str(seed, key ? key : "");

	for (int i = 0; i < 4; i++)
		g->s[i] = splitmix(&x);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t
rng_u64(struct rng *g)
{
	uint64_t *s = g->s;
	uint64_t r = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

double
rng_uniform(struct rng *g)
{
	return (double)(rng_u64(g) >> 11) * 0x1.0p-53;
}

double
rng_normal(struct rng *g)
{
	/* Box-Muller; one value per call keeps the stream simple to replay */
	double u = rng_uniform(g), v = rng_uniform(g);

	return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * M_PI * v);
}

int
rng_int(struct rng *g, int n)
{
	return (int)(rng_uniform(g) * n);
}
