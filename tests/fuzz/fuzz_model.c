/* fuzz_model - the model loader: one record, its meta checked, the
 * network built from its arch and input shape, weights matched to it */
#include "fuzz.h"
#include "common/model/model.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct record r;
	static int ready;
	struct model m;
	const char *path, *err = NULL;

	fuzz_init();
	if (!ready) {
		rec_init(&r);
		ready = 1;
	}
	path = fuzz_file(data, size);
	memset(&m, 0, sizeof m);
	if (FUZZ_GUARD(model_load(path, &m, &r, &err)) == 0 && !err)
		model_to_record(&m, &r, 0);
	model_free(&m);
	return 0;
}
