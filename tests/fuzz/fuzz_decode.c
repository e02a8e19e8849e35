/*
 * fuzz_decode - an image file through the library's decoder_file(), as
 * osteo-decode runs it: the first block sniffed, an image (PNG, JPEG,
 * PNM) decoded into a record and written, anything else handed to
 * libarchive or skipped.
 */
#include "decoder.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_init();
	decoder_init((size_t)16 << 20);
	FUZZ_GUARD(decoder_file(fd, fuzz_file(data, size), "fuzz/osteoporosis/x.png"));
	return 0;
}
