/*
 * classes.c - class name lists.
 */
#include "classes.h"
#include "common/base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
classes_read(struct classes *c, const char *list, const char **err)
{
	static char msg[160];
	const char *p = list;

	c->n = 0;
	for (;;) {
		size_t len = strcspn(p, ",");
		if (len == 0)
			snprintf(msg, sizeof msg, "empty class name in '%.64s'", list);
		else if (c->n == MAXCLASSES)
			snprintf(msg, sizeof msg, "more than %d classes", MAXCLASSES);
		else if (classes_find(c, p, len) >= 0)
			snprintf(msg, sizeof msg, "class '%.*s' named twice", len > 64 ? 64 : (int)len, p);
		else
			msg[0] = '\0';
		if (msg[0]) {
			classes_free(c);
			*err = msg;
			return -1;
		}
		c->names[c->n] = emalloc(len + 1);
		memcpy(c->names[c->n], p, len);
		c->names[c->n][len] = '\0';
		c->n++;
		if (!p[len])
			break;
		p += len + 1;
	}
	*err = NULL;
	return 0;
}

void
classes_parse(struct classes *c, const char *list, const char *what)
{
	const char *err;

	if (classes_read(c, list, &err) < 0)
		die(EX_USAGE, "%s: %s", what, err);
}

void
classes_free(struct classes *c)
{
	for (int i = 0; i < c->n; i++)
		free(c->names[i]);
	c->n = 0;
}

int
classes_find(const struct classes *c, const char *s, size_t len)
{
	for (int i = 0; i < c->n; i++)
		if (strlen(c->names[i]) == len && !memcmp(c->names[i], s, len))
			return i;
	return -1;
}

int
classes_label(const struct classes *c, const char *s)
{
	int i = classes_find(c, s, strlen(s));
	char *end;
	long v;

	if (i >= 0)
		return i;
	if (!*s)
		return -1;
	v = strtol(s, &end, 10);
	if (*end || v < 0 || v >= c->n)
		return -1;
	return (int)v;
}

char *
classes_join(const struct classes *c)
{
	size_t len = 1, at = 0;
	char *s;

	for (int i = 0; i < c->n; i++)
		len += strlen(c->names[i]) + 1;
	s = emalloc(len);
	s[0] = '\0';
	for (int i = 0; i < c->n; i++)
		at += sprintf(s + at, "%s%s", i ? "," : "", c->names[i]);
	return s;
}

int
class_argmax(const double *p, int k)
{
	int best = 0;

	for (int c = 1; c < k; c++)
		best = p[c] > p[best] ? c : best;
	return best;
}

void
class_weights(const char *spec, const long *count, int k, double *w)
{
	long n = 0;

	if (strcmp(spec, "auto")) {
		eparse_numbers(spec, w, k, k, 0, 1e6, "--class-weights");
		return;
	}
	for (int c = 0; c < k; c++)
		n += count[c];
	for (int c = 0; c < k; c++)
		w[c] = count[c] ? (double)n / (k * (double)count[c]) : 0;
}

int
classes_risk(const struct classes *c, const char *name)
{
	int i;

	if (name)
		return classes_label(c, name);
	i = classes_find(c, "osteoporosis", 12);
	return i < 0 ? c->n - 1 : i;
}
