/*
 * table.h - a small CSV file (RFC 4180, through libcsv) loaded whole:
 * a header row and rows of string cells.  Manifests and clinical tables
 * are a few thousand rows, so holding them is cheap.
 */
#ifndef OSTEO_TABLE_H
#define OSTEO_TABLE_H

#include <stddef.h>

/* a row's bounds, checked field by field as it is read, so one row of a
 * hundred megabytes costs no more than these before it is refused */
#define TABLE_MAX_COLS 4096
#define TABLE_MAX_ROW_BYTES (16u << 20)

struct table {
	char *path;
	int ncols;
	size_t nrows;       /* data rows, the header not counted */
	char **cells;       /* (nrows + 1) x ncols, row 0 the header */
};

/* table_load dies (66 cannot open, 65 bad CSV, 74 read error) naming the
 * file and row: not a rectangular CSV with a header row, or a row over
 * the bounds above); table_read returns NULL with that status and message */
struct table *table_load(const char *path);
struct table *table_read(const char *path, int *status, char *err, size_t errlen);
int table_col(const struct table *t, const char *name);
const char *table_cell(const struct table *t, size_t row, int col);
/* a row more: ncols cells, which the table now owns */
void table_add_row(struct table *t, char **cells);
void table_free(struct table *t);

#endif
