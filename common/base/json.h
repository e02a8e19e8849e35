/*
 * json.h - JSON strings and numbers for the programs that print JSON.
 */
#ifndef OSTEO_JSON_H
#define OSTEO_JSON_H

#include <stddef.h>
#include <stdio.h>

/* s[0..len) as a JSON string, escaped */
void json_str(FILE *fp, const char *s, size_t len);
/* a number with that many significant digits; NaN and infinities as null */
void json_num(FILE *fp, double v, int digits);

#endif
