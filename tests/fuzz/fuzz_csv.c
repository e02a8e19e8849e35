/* fuzz_csv - the clinical CSV reader (libcsv, strict, rectangular) */
#include "fuzz.h"
#include "../../common/table.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct table *t = NULL;

	fuzz_init();
	if (FUZZ_GUARD(t = table_load(fuzz_file(data, size))) == 0) {
		for (size_t i = 0; i < t->nrows; i++)
			for (int j = 0; j < t->ncols; j++)
				(void)strlen(table_cell(t, i, j));
		(void)table_col(t, "patient");
		table_free(t);
	}
	return 0;
}
