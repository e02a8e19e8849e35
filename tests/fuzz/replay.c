/*
 * replay.c - a harness without libFuzzer: each named file is one input,
 * run through LLVMFuzzerTestOneInput as libFuzzer would run it.  make
 * check builds every harness so with the ordinary compiler and replays
 * its committed corpus (tests/fuzz/replay.sh), so a harness that no
 * longer builds, or no longer runs its seeds, fails the suite, with or
 * without clang.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *fp = fopen(argv[i], "rb");
		uint8_t *buf = NULL;
		size_t len = 0, cap = 0, n;
		if (!fp) {
			perror(argv[i]);
			return 66;
		}
		do {
			if (len == cap && !(buf = realloc(buf, cap = cap ? 2 * cap : 4096)))
				return 71;
			n = fread(buf + len, 1, cap - len, fp);
			len += n;
		} while (n > 0);
		if (ferror(fp)) {
			perror(argv[i]);
			return 74;
		}
		fclose(fp);
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
	}
	return 0;
}
