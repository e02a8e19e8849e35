/*
 * fuzz_archive - archive listing through osteo-decode's read_archive():
 * tar, zip and every compression filter libarchive has, members read up
 * to --max-member-bytes (lowered here), their names used only as data.
 */
#define main osteo_decode_main
#include "../../filters/osteo-decode.c"
#undef main
#include "fuzz.h"

static struct opts fo;
static struct decoder fd;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct archive *a;

	fuzz_init();
	if (!fd.w) {
		classes_parse(&fo.classes, DEFAULT_CLASSES, "classes");
		fo.keep_going = 1;
		fo.max_member = (size_t)4 << 20;
		fd.o = &fo;
		fd.w = rec_writer_new(fuzz_devnull(), "/dev/null");
		rec_init(&fd.rec);
	}
	/* the first byte picks stdin's reader (raw format allowed) or a file's */
	if (size < 1)
		return 0;
	a = archive_new(data[0] & 1);
	if (archive_read_open_memory(a, data + 1, size - 1) == ARCHIVE_OK)
		FUZZ_GUARD(read_archive(&fd, a, "fuzz.tar"));
	archive_read_free(a);
	return 0;
}
