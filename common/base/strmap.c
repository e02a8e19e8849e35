/*
 * strmap.c - a linear-probing hash table of strings.
 */
#include "strmap.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t
hashn(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	return h;
}

void
strmap_init(struct strmap *m)
{
	m->cap = 64;
	m->n = 0;
	m->keys = ecalloc(m->cap, sizeof *m->keys);
	m->vals = ecalloc(m->cap, sizeof *m->vals);
}

static void
grow(struct strmap *m)
{
	struct strmap big = { ecalloc(m->cap * 2, sizeof(char *)), ecalloc(m->cap * 2, sizeof(long)),
	                      m->cap * 2, 0 };

	for (size_t i = 0; i < m->cap; i++)
		if (m->keys[i]) {
			size_t j = hashn(m->keys[i], strlen(m->keys[i])) & (big.cap - 1);
			while (big.keys[j])
				j = (j + 1) & (big.cap - 1);
			big.keys[j] = m->keys[i];
			big.vals[j] = m->vals[i];
			big.n++;
		}
	free(m->keys);
	free(m->vals);
	*m = big;
}

int
strmap_put(struct strmap *m, const char *key, long val)
{
	size_t j;

	if (2 * (m->n + 1) > m->cap)
		grow(m);
	j = hashn(key, strlen(key)) & (m->cap - 1);
	while (m->keys[j]) {
		if (!strcmp(m->keys[j], key))
			return 1;
		j = (j + 1) & (m->cap - 1);
	}
	m->keys[j] = estrdup(key);
	m->vals[j] = val;
	m->n++;
	return 0;
}

long
strmap_getn(const struct strmap *m, const char *key, size_t len)
{
	size_t j = hashn(key, len) & (m->cap - 1);

	while (m->keys[j]) {
		if (strlen(m->keys[j]) == len && !memcmp(m->keys[j], key, len))
			return m->vals[j];
		j = (j + 1) & (m->cap - 1);
	}
	return -1;
}

long
strmap_get(const struct strmap *m, const char *key)
{
	return strmap_getn(m, key, strlen(key));
}

void
strmap_free(struct strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
	m->cap = m->n = 0;
}
