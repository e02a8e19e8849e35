/*
 * json.c - JSON strings and numbers, as osteo-dump and the record codec's
 * extra keys write them.
 */
#include "json.h"

#include <math.h>

void
json_str(FILE *fp, const char *s, size_t len)
{
	fputc('"', fp);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': fputs("\\\"", fp); break;
		case '\\': fputs("\\\\", fp); break;
		case '\n': fputs("\\n", fp); break;
		case '\r': fputs("\\r", fp); break;
		case '\t': fputs("\\t", fp); break;
		default:
			if (c < 0x20 || c == 0x7f)
				fprintf(fp, "\\u%04x", c);
			else
				fputc(c, fp);
		}
	}
	fputc('"', fp);
}

void
json_num(FILE *fp, double v, int digits)
{
	if (isfinite(v))
		fprintf(fp, "%.*g", digits, v);
	else
		fputs("null", fp);
}
