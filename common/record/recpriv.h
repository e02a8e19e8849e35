/*
 * recpriv.h - record.c's helpers that the codec (recio.c) fills records
 * with; for those two files only.
 */
#ifndef OSTEO_RECPRIV_H
#define OSTEO_RECPRIV_H

#include "record.h"

/* s[0..len) into *dst (capacity *cap), grown as needed */
void setstr(char **dst, size_t *cap, const char *s, size_t len);
/* the record's tensor named name[0..len), added when absent */
struct tensor *tensor_slot(struct record *r, const char *name, size_t len);
/* size t for dtype and shape: NULL, or what is wrong (overflow, limits) */
const char *tensor_shape(struct tensor *t, enum dtype dtype, int ndim, const uint32_t *shape);
/* the meta value of key[0..len), added when absent */
struct metaval *meta_slot(struct record *r, const char *key, size_t len);

#endif
