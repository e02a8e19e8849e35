/*
 * table.c - CSV files through libcsv in strict mode, checked to be
 * rectangular, so a ragged row is an error that names its row.
 */
#include "table.h"
#include "common/base/util.h"
#include "common/record/record.h"

#include <csv.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct loader {
	struct table *t;
	size_t cellcap;
	size_t ncells;
	int fields;          /* in the row being read */
	size_t rowbytes;     /* its fields' bytes, a cell's overhead each */
	size_t row;          /* rows finished */
	int ragged;
	int ragged_fields;
	size_t ragged_row;
	char *err;           /* the first error: the rest of the file is ignored */
	size_t errlen;
};

static void
on_field(void *s, size_t len, void *data)
{
	struct loader *l = data;
	char *cell;

	if (l->err[0])
		return;
	if (len > rec_limits.max_string) {
		snprintf(l->err, l->errlen, "%s: row %zu: a field of %zu bytes, more than the limit of %zu "
		         "(--max-string)", l->t->path, l->row + 1, len, rec_limits.max_string);
		return;
	}
	/* fields beyond the header's end the row now: held to its end, a
	 * ragged row of millions of short fields would cost gigabytes */
	if (l->row > 0 && l->fields == l->t->ncols) {
		snprintf(l->err, l->errlen, "%s: row %zu has more fields than the header's %d", l->t->path,
		         l->row + 1, l->t->ncols);
		return;
	}
	if (l->fields == TABLE_MAX_COLS) {
		snprintf(l->err, l->errlen, "%s: row %zu: more than %d fields, the limit", l->t->path, l->row + 1,
		         TABLE_MAX_COLS);
		return;
	}
	l->rowbytes += len + 1 + sizeof(char *) + 16;
	if (l->rowbytes > TABLE_MAX_ROW_BYTES) {
		snprintf(l->err, l->errlen, "%s: row %zu: more than %u MiB, the limit for a row", l->t->path,
		         l->row + 1, TABLE_MAX_ROW_BYTES >> 20);
		return;
	}
	cell = emalloc(len + 1);
	memcpy(cell, s ? s : "", len);
	cell[len] = '\0';
	egrow((void **)&l->t->cells, &l->cellcap, (l->ncells + 1) * sizeof(char *));
	l->t->cells[l->ncells++] = cell;
	l->fields++;
}

static void
on_row(int c, void *data)
{
	struct loader *l = data;

	(void)c;
	if (l->err[0])
		return;
	if (l->row > rec_limits.max_records) {
		snprintf(l->err, l->errlen, "%s: more than %zu rows (--max-records)", l->t->path,
		         rec_limits.max_records);
		return;
	}
	if (l->row == 0)
		l->t->ncols = l->fields;
	else if (l->fields != l->t->ncols && !l->ragged) {
		l->ragged = 1;
		l->ragged_fields = l->fields;
		l->ragged_row = l->row;
	}
	l->row++;
	l->fields = 0;
	l->rowbytes = 0;
}

struct table *
table_read(const char *path, int *status, char *err, size_t errlen)
{
	struct csv_parser p;
	struct loader l = { 0 };
	char buf[65536];
	size_t n;
	FILE *fp = fopen(path, "rb");
	int first = 1;

	err[0] = '\0';
	if (!fp) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		*status = EX_NOINPUT;
		return NULL;
	}
	if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
		die(EX_OSERR, "out of memory");
	l.t = ecalloc(1, sizeof *l.t);
	l.t->path = estrdup(path);
	l.err = err;
	l.errlen = errlen;
	*status = EX_DATAERR;
	while (!err[0] && (n = fread(buf, 1, sizeof buf, fp)) > 0) {
		char *s = buf;
		/* a byte-order mark is not part of the first column's name */
		if (first && n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3)) {
			s += 3;
			n -= 3;
		}
		first = 0;
		if (csv_parse(&p, s, n, on_field, on_row, &l) != n && !err[0])
			snprintf(err, errlen, "%s: row %zu: %s", path, l.row + 1, csv_strerror(csv_error(&p)));
		/* libcsv holds a field until it ends; stop a huge one early */
		else if (p.entry_pos > rec_limits.max_string && !err[0])
			snprintf(err, errlen, "%s: row %zu: a field longer than the limit of %zu bytes "
			         "(--max-string)", path, l.row + 1, rec_limits.max_string);
	}
	if (!err[0] && ferror(fp)) {
		snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
		*status = EX_IOERR;
	}
	if (!err[0] && csv_fini(&p, on_field, on_row, &l) != 0 && !err[0])
		snprintf(err, errlen, "%s: row %zu: %s", path, l.row + 1, csv_strerror(csv_error(&p)));
	fclose(fp);
	csv_free(&p);
	if (!err[0] && l.row == 0)
		snprintf(err, errlen, "%s: empty file; a header row is needed", path);
	if (!err[0] && l.ragged)
		snprintf(err, errlen, "%s: row %zu has %d fields, the header has %d", path,
		         l.ragged_row + 1, l.ragged_fields, l.t->ncols);
	if (err[0]) {
		for (size_t i = 0; i < l.ncells; i++)
			free(l.t->cells[i]);
		free(l.t->cells);
		free(l.t->path);
		free(l.t);
		return NULL;
	}
	l.t->nrows = l.row - 1;
	return l.t;
}

struct table *
table_load(const char *path)
{
	char err[512];
	int status;
	struct table *t = table_read(path, &status, err, sizeof err);

	if (!t)
		die(status, "%s", err);
	return t;
}

int
table_col(const struct table *t, const char *name)
{
	for (int i = 0; i < t->ncols; i++)
		if (!strcmp(t->cells[i], name))
			return i;
	return -1;
}

const char *
table_cell(const struct table *t, size_t row, int col)
{
	return t->cells[(row + 1) * (size_t)t->ncols + col];
}

void
table_add_row(struct table *t, char **cells)
{
	size_t at = (t->nrows + 1) * (size_t)t->ncols;

	t->cells = erealloc(t->cells, (at + (size_t)t->ncols) * sizeof *t->cells);
	memcpy(t->cells + at, cells, (size_t)t->ncols * sizeof *cells);
	t->nrows++;
}

void
table_free(struct table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < (t->nrows + 1) * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->path);
	free(t);
}
