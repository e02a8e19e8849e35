/*
 * fuzz_decode - an image file through osteo-decode's own path: the first
 * block sniffed, an image (PNG, JPEG, PNM) decoded into a record and
 * written, anything else handed to libarchive or skipped.  osteo-decode.c
 * is compiled in, its main() renamed, so its static functions are the ones
 * the program runs.
 */
#define main osteo_decode_main
#include "../../filters/osteo-decode.c"
#undef main
#include "fuzz.h"

static struct opts fo;
static struct decoder fd;

static void
decoder_init(void)
{
	if (fd.w)
		return;
	classes_parse(&fo.classes, DEFAULT_CLASSES, "classes");
	fo.keep_going = 1;        /* a bad image is reported, the next one read */
	fo.max_member = (size_t)16 << 20;
	fd.o = &fo;
	fd.w = rec_writer_new(fuzz_devnull(), "/dev/null");
	rec_init(&fd.rec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_init();
	decoder_init();
	FUZZ_GUARD(decode_file(&fd, fuzz_file(data, size), "fuzz/osteoporosis/x.png"));
	return 0;
}
