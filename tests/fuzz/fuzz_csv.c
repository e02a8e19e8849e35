/* fuzz_csv - the clinical CSV reader (libcsv, strict, rectangular) */
#include "fuzz.h"
#include "common/clinical/table.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct table *t;
	char err[512];
	int status;

	fuzz_init();
	/* table_read, not table_load: the same parser, which must free
	 * everything on the way out of a bad file */
	if ((t = table_read(fuzz_file(data, size), &status, err, sizeof err))) {
		for (size_t i = 0; i < t->nrows; i++)
			for (int j = 0; j < t->ncols; j++)
				(void)strlen(table_cell(t, i, j));
		(void)table_col(t, "patient");
		table_free(t);
	}
	return 0;
}
