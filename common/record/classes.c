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

int
classes_see(struct classes *seen, long long label, const char *name, const char **err)
{
	static char msg[200];

	*err = NULL;
	if (!name || label < 0 || label >= MAXCLASSES)
		return 0;
	for (; seen->n <= label; seen->n++)
		seen->names[seen->n] = NULL;
	if (!seen->names[label])
		seen->names[label] = estrdup(name);
	else if (strcmp(seen->names[label], name)) {
		snprintf(msg, sizeof msg, "label %lld is class '%.64s' here and '%.64s' on an earlier record", label,
		         name, seen->names[label]);
		*err = msg;
		return -1;
	}
	return 0;
}

int
classes_settle(struct classes *c, const struct classes *seen, const char **err)
{
	static char msg[200];
	int named = 0;

	for (int i = 0; i < seen->n; i++)
		named += seen->names[i] != NULL;
	if (!named)
		return classes_read(c, DEFAULT_CLASSES, err);
	/* names that are the default's at their labels are a subset of the
	 * default's cohort (a small export without osteopenia, say): the
	 * model keeps all three classes rather than shrink to the ones seen */
	struct classes def;
	int fits = 1;
	if (classes_read(&def, DEFAULT_CLASSES, err) < 0)
		return -1;
	for (int i = 0; i < seen->n; i++)
		fits &= i < def.n && (!seen->names[i] || !strcmp(seen->names[i], def.names[i]));
	if (fits) {
		*c = def;
		return 0;
	}
	classes_free(&def);
	for (int i = 0; i < seen->n; i++) {
		if (!seen->names[i]) {
			snprintf(msg, sizeof msg, "no record names class %d (meta.class), though label %d is named: "
			         "give --classes", i, seen->n - 1);
			*err = msg;
			return -1;
		}
		for (int j = 0; j < i; j++)
			if (!strcmp(seen->names[i], seen->names[j])) {
				snprintf(msg, sizeof msg, "labels %d and %d are both class '%.64s'", j, i, seen->names[i]);
				*err = msg;
				return -1;
			}
	}
	c->n = seen->n;
	for (int i = 0; i < c->n; i++)
		c->names[i] = estrdup(seen->names[i]);
	*err = NULL;
	return 0;
}

int
classes_agree(const struct classes *c, long long label, const char *name, const char **err)
{
	static char msg[240];

	*err = NULL;
	if (label < 0 || label >= c->n)
		snprintf(msg, sizeof msg, "label %lld is out of range: %d classes", label, c->n);
	else if (name && strcmp(name, c->names[label]))
		snprintf(msg, sizeof msg, "label %lld is class '%.64s' here, '%.64s' for the model", label, name,
		         c->names[label]);
	else
		return 0;
	*err = msg;
	return -1;
}
