/*
 * util.h - the small error vocabulary every osteo program shares.
 *
 * die() and warn() prefix the program name; a format that ends in ':'
 * gets strerror(errno) appended.  The e-prefixed helpers die on failure so
 * call sites stay flat.  Exit statuses are those of sysexits.h, as
 * osteo(7), "Exit status", lists them.
 */
#ifndef OSTEO_UTIL_H
#define OSTEO_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sysexits.h>

#define OSTEO_VERSION "0.1.0"

/* a broken pipe ends a program quietly, with the status a shell shows for
 * SIGPIPE, so `set -o pipefail` reads it as it reads `yes | head` */
#define EXIT_PIPE 141

extern const char *argv0;
extern int quiet;

void cli_init(const char *progname);
void die(int status, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void usage_error(const char *usage, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));

/* paths removed if the program dies (die, quit, or SIGINT, SIGTERM or
 * SIGHUP, which cli_init catches and raises again once they are gone):
 * the temporary half of an atomic write (a directory goes with what it
 * holds) */
void cleanup_push(const char *path);
void cleanup_pop(const char *path);
void quit(int status) __attribute__((noreturn));
/* called by quit() before exit(); a fuzz harness longjmps out of it so a
 * parser that dies on bad input hands control back for the next input */
extern void (*quit_hook)(int status);

void *emalloc(size_t n);
void *ecalloc(size_t n, size_t size);
void *erealloc(void *p, size_t n);
char *estrdup(const char *s);
/* grow *p to hold at least n bytes; *cap remembers what was allocated */
void egrow(void **p, size_t *cap, size_t n);

/* a string that grows: text_add appends as printf does (t->s stays NULL
 * until the first add) */
struct text {
	char *s;
	size_t len, cap;
};
void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* checked size arithmetic: 0 on overflow */
int mul_ok(size_t a, size_t b, size_t *out);
int add_ok(size_t a, size_t b, size_t *out);

/* numbers from option values: die with status 64 naming the option */
long long estrtonum(const char *s, long long min, long long max, const char *what);
double estrtod(const char *s, double min, double max, const char *what);
/* "A,B,..." with min to max numbers in [lo, hi]; returns how many */
int eparse_numbers(const char *s, double *v, int min, int max, double lo, double hi,
                   const char *what);
/* "WxH" */
void eparse_size(const char *s, int *w, int *h, const char *what);

/* output checks */
void out_refuse_tty(FILE *fp);
void write_failed(const char *name) __attribute__((noreturn));
int fshut(FILE *fp, const char *name);

/* remove path's temporaries ("path.tmp.PID") whose process is gone */
void remove_stale(const char *path);
/* the temporary name of path while it is being written, "path.tmp.PID",
 * allocated and on the cleanup list until cleanup_pop; stale ones of
 * earlier runs are removed first */
char *atomic_tmpname(const char *path);
/* write to path atomically: returns a FILE on atomic_tmpname(path), which
 * atomic_commit() flushes, fsyncs and renames into place */
FILE *atomic_open(const char *path, char **tmpname);
void atomic_commit(FILE *fp, char *tmpname, const char *path);

#endif
