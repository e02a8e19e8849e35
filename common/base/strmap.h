/*
 * strmap.h - string keys to integer values, open addressing.  For the
 * manifest's paths and the clinical table's patients.
 */
#ifndef OSTEO_STRMAP_H
#define OSTEO_STRMAP_H

#include <stddef.h>

struct strmap {
	char **keys;
	long *vals;
	size_t cap, n;
};

void strmap_init(struct strmap *m);
/* 0 when added, 1 when the key was there (its value is left alone) */
int strmap_put(struct strmap *m, const char *key, long val);
/* the value, or -1 when absent */
long strmap_get(const struct strmap *m, const char *key);
long strmap_getn(const struct strmap *m, const char *key, size_t len);
void strmap_free(struct strmap *m);

#endif
