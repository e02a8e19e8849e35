/*
 * fuzz_dicom - a DICOM file through the library's decoder_file(), as
 * osteo-decode runs it: the input given the 128-byte preamble and "DICM",
 * so every input reaches GDCM (common/dicom/gdcm.cc) and the values' code
 * (common/dicom/dicom.c), and its records are written.  Seeds: tests/fuzz/corpus/dicom, datasets without the
 * preamble (made by tests/fuzz/make-dicom-corpus.sh).
 */
#include "decoder.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *buf;
	static size_t cap;

	fuzz_init();
	decoder_init((size_t)16 << 20);
	if (size + 132 > cap) {
		cap = size + 132;
		if (!(buf = realloc(buf, cap)))
			abort();
	}
	memset(buf, 0, 128);
	memcpy(buf + 128, "DICM", 4);
	if (size)
		memcpy(buf + 132, data, size);
	FUZZ_GUARD(decoder_file(fd, fuzz_file(buf, size + 132), "fuzz/osteoporosis/x.dcm"));
	return 0;
}
