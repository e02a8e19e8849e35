/*
 * rng.h - xoshiro256** seeded from (--seed, a string key).
 *
 * Every random choice in osteo comes from a generator keyed by the user's
 * seed and a record's id (or a patient's key), never by the position in
 * the stream, so shards of a stream give the same records as one process.
 */
#ifndef OSTEO_RNG_H
#define OSTEO_RNG_H

#include <stdint.h>

struct rng {
	uint64_t s[4];
};

uint64_t hash_str(uint64_t seed, const char *s);
void rng_seed(struct rng *g, uint64_t seed, const char *key);
uint64_t rng_u64(struct rng *g);
double rng_uniform(struct rng *g);          /* [0, 1) */
double rng_normal(struct rng *g);           /* mean 0, sd 1 */
int rng_int(struct rng *g, int n);          /* [0, n) */

#endif
