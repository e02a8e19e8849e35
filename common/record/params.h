/*
 * params.h - parameters one program fits and a later run applies
 * (osteo-normalize's statistics, osteo-fuse's encoding, osteo-baseline's
 * and osteo-train's models): one record in a file of its own, written
 * atomically, read back with its "kind" checked.  Statistics and
 * encodings are named by a fingerprint of their contents, which every
 * record prepared with them carries (norm.stats, fuse.encoding) and a
 * model compares, so records prepared two ways are told apart.
 */
#ifndef OSTEO_PARAMS_H
#define OSTEO_PARAMS_H

#include <stdint.h>

#include "record.h"

/* h (0 to start) with what r holds mixed in: id, meta but "fingerprint",
 * tensors; a stream's records chained give the stream's digest */
uint64_t rec_digest(uint64_t h, const struct record *r);
/* a digest as 16 hex digits, mixed once more */
void digest_hex(uint64_t h, char out[17]);
/* r's digest into its meta "fingerprint"; returns that string, valid
 * while r is */
const char *params_fingerprint(struct record *r);
/* write r to path atomically (74 on failure, and nothing left behind) */
void params_save(const char *path, const struct record *r);
/* read it back; dies with 66 or 65, and when its meta "kind" is not kind */
void params_load(const char *path, const char *kind, struct record *r);
/* a meta value of a loaded file, or die with 65 naming the file and key;
 * an integer is read as a float too, and a bool as an integer */
const char *params_str(const char *path, const struct record *r, const char *key);
long long params_int(const char *path, const struct record *r, const char *key);
double params_float(const char *path, const struct record *r, const char *key);

#endif
