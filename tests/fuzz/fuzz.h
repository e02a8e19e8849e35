/*
 * fuzz.h - what every libFuzzer harness shares.
 *
 * Our parsers report bad input by dying (die() -> quit() -> exit), which
 * libFuzzer would count as a crash.  FUZZ_GUARD runs a parser with
 * quit_hook set to longjmp back, so a documented exit status ends one input
 * and the next one runs.  A status of 70 (EX_SOFTWARE, "internal error")
 * is never a right answer to bad data: the hook aborts, and libFuzzer
 * saves the input.  Limits are lowered so that an input the program would
 * refuse at its real limit is refused here before libFuzzer's own memory
 * cap is reached; the code paths are the same.
 */
#ifndef OSTEO_FUZZ_H
#define OSTEO_FUZZ_H

#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../common/image.h"
#include "../../common/record.h"
#include "../../common/util.h"

static sigjmp_buf fuzz_jmp;
static int fuzz_status;

static void
fuzz_quit(int status)
{
	if (status == EX_SOFTWARE)
		abort();
	fuzz_status = status;
	siglongjmp(fuzz_jmp, 1);
}

/* run stmt; 0 when it returned, else the status it died with */
#define FUZZ_GUARD(stmt)                                  \
	(sigsetjmp(fuzz_jmp, 0) == 0 ? ((stmt), 0) : fuzz_status)

static void
fuzz_init(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	cli_init("fuzz");
	quiet = 1;
	quit_hook = fuzz_quit;
	rec_limits.max_tensor_bytes = (size_t)64 << 20;
	rec_limits.max_record_bytes = (size_t)128 << 20;
	img_max_pixels = (size_t)16 << 20;
}

/* the input as a file (in memory) for code that takes a path */
static inline const char *
fuzz_file(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];

	if (fd < 0) {
		fd = memfd_create("fuzz", 0);
		if (fd < 0)
			abort();
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	return path;
}

/* the input as a NUL-terminated string */
static inline char *
fuzz_string(const uint8_t *data, size_t size)
{
	static char *s;
	static size_t cap;

	egrow((void **)&s, &cap, size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

static inline FILE *
fuzz_devnull(void)
{
	static FILE *fp;

	if (!fp && !(fp = fopen("/dev/null", "w")))
		abort();
	return fp;
}

#endif
