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
 *
 * A program that dies leaves its open files and readers to exit(); a
 * harness that goes on must close them, or a million inputs exhaust file
 * descriptors and memory.  The harnesses are linked with --wrap for fopen,
 * fclose, rec_reader_new and rec_reader_free (see the Makefile), and
 * FUZZ_GUARD releases what a dying parser left open.
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

#include "common/image/image.h"
#include "common/record/record.h"
#include "common/base/util.h"

static sigjmp_buf fuzz_jmp;
static int fuzz_status;

#define FUZZ_MAXOPEN 64
static FILE *fuzz_files[FUZZ_MAXOPEN];
static struct rec_reader *fuzz_readers[FUZZ_MAXOPEN];

FILE *__real_fopen(const char *path, const char *mode);
int __real_fclose(FILE *fp);
struct rec_reader *__real_rec_reader_new(FILE *fp, const char *name);
void __real_rec_reader_free(struct rec_reader *rd);

static void
track(void **set, void *p, void *old)
{
	for (int i = 0; i < FUZZ_MAXOPEN; i++)
		if (set[i] == old) {
			set[i] = p;
			return;
		}
	if (p)
		abort();    /* more open at once than any parser needs */
}

FILE *
__wrap_fopen(const char *path, const char *mode)
{
	FILE *fp = __real_fopen(path, mode);

	if (fp)
		track((void **)fuzz_files, fp, NULL);
	return fp;
}

int
__wrap_fclose(FILE *fp)
{
	track((void **)fuzz_files, NULL, fp);
	return __real_fclose(fp);
}

struct rec_reader *
__wrap_rec_reader_new(FILE *fp, const char *name)
{
	struct rec_reader *rd = __real_rec_reader_new(fp, name);

	track((void **)fuzz_readers, rd, NULL);
	return rd;
}

void
__wrap_rec_reader_free(struct rec_reader *rd)
{
	if (rd)
		track((void **)fuzz_readers, NULL, rd);
	__real_rec_reader_free(rd);
}

/* what a dying parser left open */
static inline void
fuzz_release(void)
{
	for (int i = 0; i < FUZZ_MAXOPEN; i++) {
		if (fuzz_readers[i])
			__wrap_rec_reader_free(fuzz_readers[i]);
		if (fuzz_files[i])
			__wrap_fclose(fuzz_files[i]);
	}
}

static void
fuzz_quit(int status)
{
	if (status == EX_SOFTWARE)
		abort();
	fuzz_status = status;
	siglongjmp(fuzz_jmp, 1);
}

/* run stmt; 0 when it returned, else the status it died with (and what
 * it left open closed) */
#define FUZZ_GUARD(stmt)                                  \
	(sigsetjmp(fuzz_jmp, 0) == 0 ? ((stmt), 0) : (fuzz_release(), fuzz_status))

static inline void
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

/* the harness's own sink, opened unwrapped: fuzz_release() must not close it */
static inline FILE *
fuzz_devnull(void)
{
	static FILE *fp;

	if (!fp && !(fp = __real_fopen("/dev/null", "w")))
		abort();
	return fp;
}

#endif
