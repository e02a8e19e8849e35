/*
 * decoder.h - osteo-decode compiled into a harness, its main() renamed so
 * that its static functions are the ones the program runs, and one
 * decoder set up as `osteo-decode --keep-going` writing to /dev/null.
 */
#define main osteo_decode_main
#include "filters/osteo-decode.c"
#undef main
#include "fuzz.h"

static struct opts fo;
static struct decoder fd;

static void
decoder_init(size_t max_member)
{
	if (fd.w)
		return;
	classes_parse(&fo.classes, DEFAULT_CLASSES, "classes");
	fo.keep_going = 1;        /* a bad image is reported, the next one read */
	fo.max_member = max_member;
	fd.o = &fo;
	fd.w = rec_writer_new(fuzz_devnull(), "/dev/null");
	rec_init(&fd.rec);
}
