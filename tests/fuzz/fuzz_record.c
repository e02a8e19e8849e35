/* fuzz_record - the record stream reader, and writing back what it read */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct record r;
	static struct rec_writer *w;
	static int ready;
	FILE *in;
	struct rec_reader *rd;

	fuzz_init();
	if (!ready) {
		rec_init(&r);
		w = rec_writer_new(fuzz_devnull(), "/dev/null");
		ready = 1;
	}
	in = fmemopen((void *)data, size, "rb");
	if (!in)
		return 0;   /* fmemopen refuses size 0 */
	rd = rec_reader_new(in, "fuzz");
	if (FUZZ_GUARD(({
		while (rec_read(rd, &r)) {
			rec_write(w, &r);
			rec_extra_json(fuzz_devnull(), &r);
			for (int i = 0; i < r.ntensors; i++)
				(void)tensor_elems(&r.tensors[i]);
		}
	})) == 0)
		rec_reader_free(rd);    /* else released by FUZZ_GUARD */
	fclose(in);
	return 0;
}
