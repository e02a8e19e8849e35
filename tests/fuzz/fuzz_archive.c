/*
 * fuzz_archive - archive listing through the library's decoder_archive(),
 * as osteo-decode reads archives: tar, zip and every compression filter
 * libarchive has, members read up to --max-member-bytes (lowered here),
 * their names used only as data.
 */
#include "decoder.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct archive *a;

	fuzz_init();
	decoder_init((size_t)4 << 20);
	/* the first byte picks stdin's reader (raw format allowed) or a file's */
	if (size < 1)
		return 0;
	a = decoder_archive_new(data[0] & 1);
	if (archive_read_open_memory(a, data + 1, size - 1) == ARCHIVE_OK)
		FUZZ_GUARD(decoder_archive(fd, a, "fuzz.tar"));
	archive_read_free(a);
	return 0;
}
