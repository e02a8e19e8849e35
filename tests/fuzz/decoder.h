/*
 * decoder.h - the library's decoder (common/decode) as osteo-decode runs
 * it with --keep-going, writing to /dev/null, one for the harness's life.
 */
#include <archive.h>

#include "fuzz.h"
#include "common/decode/decode.h"

static struct decode_opts fo;
static struct decoder *fd;

static void
decoder_init(size_t max_member)
{
	if (fd)
		return;
	classes_parse(&fo.classes, DEFAULT_CLASSES, "classes");
	fo.keep_going = 1;        /* a bad image is reported, the next one read */
	fo.max_member = max_member;
	fd = decoder_open(&fo, fuzz_devnull(), "/dev/null");
}
