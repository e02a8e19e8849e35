/*
 * util.c - error reporting, checked allocation and arithmetic, option
 * numbers, output checks and atomic file writes for every osteo program.
 */
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

const char *argv0 = "osteo";
int quiet;

/*
 * The temporaries to remove if the program dies.  A signal handler reads
 * this list, so it lives in fixed storage: a slot's path is written before
 * its flag is raised, and the flag lowered before the slot is reused.
 */
#define MAXCLEANUP 16
static char cleanup_paths[MAXCLEANUP][PATH_MAX];
static volatile sig_atomic_t cleanup_used[MAXCLEANUP];
void (*quit_hook)(int status);

/*
 * Remove path, a file or a tree, with async-signal-safe calls only (no
 * opendir, no nftw: both allocate).  getdents64 is read again from the
 * start after each batch, since entries are removed under it.  Trees we
 * write are shallow (osteo-synth's class folders); deeper than 8 is left.
 */
struct linux_dirent64 {
	unsigned long long d_ino;
	long long d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int
remove_at(int dirfd, const char *name, int depth)
{
	if (unlinkat(dirfd, name, 0) == 0)
		return 0;
	if ((errno != EISDIR && errno != EPERM) || depth > 8)
		return -1;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char buf[4096];
	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
		int removed = 0;
		if (n <= 0)
			break;
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
			off += d->d_reclen;
			if (strcmp(d->d_name, ".") && strcmp(d->d_name, "..") && remove_at(fd, d->d_name, depth + 1) == 0)
				removed = 1;
		}
		/* a pass that removed nothing ends it: what is left stays */
		if (!removed || lseek(fd, 0, SEEK_SET) < 0)
			break;
	}
	close(fd);
	return unlinkat(dirfd, name, AT_REMOVEDIR);
}

static void
cleanup_all(void)
{
	for (int i = 0; i < MAXCLEANUP; i++)
		if (cleanup_used[i])
			remove_at(AT_FDCWD, cleanup_paths[i], 0);
}

/* SIGINT, SIGTERM, SIGHUP: the temporaries go, then the signal ends the
 * program as it would have, so a shell sees 130 for ^C */
static void
on_fatal_signal(int sig)
{
	int e = errno;

	cleanup_all();
	signal(sig, SIG_DFL);
	raise(sig);
	errno = e;
}

void
cli_init(const char *progname)
{
	const char *slash = strrchr(progname, '/');
	static const int fatal[] = { SIGINT, SIGTERM, SIGHUP };

	argv0 = slash ? slash + 1 : progname;
	/* EPIPE is handled where we write, so temporary files get removed */
	signal(SIGPIPE, SIG_IGN);
	/* a signal the caller ignores (nohup's SIGHUP, SIGINT for a shell's
	 * background job) stays ignored */
	for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++) {
		struct sigaction sa, old;
		if (sigaction(fatal[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_fatal_signal;
		sigfillset(&sa.sa_mask);
		sigaction(fatal[i], &sa, NULL);
	}
}

void
quit(int status)
{
	cleanup_all();
	if (quit_hook)
		quit_hook(status);
	exit(status);
}

static void
vmsg(const char *fmt, va_list ap)
{
	int saved = errno;
	size_t len = strlen(fmt);

	fprintf(stderr, "%s: ", argv0);
	vfprintf(stderr, fmt, ap);
	if (len && fmt[len - 1] == ':')
		fprintf(stderr, " %s", strerror(saved));
	fputc('\n', stderr);
}

void
die(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	quit(status);
}

void
warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void
info(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void
usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	fprintf(stderr, "usage: %s\n", usage);
	quit(EX_USAGE);
}

void
cleanup_push(const char *path)
{
	if (strlen(path) >= PATH_MAX)
		die(EX_CANTCREAT, "%s: path too long", path);
	for (int i = 0; i < MAXCLEANUP; i++)
		if (!cleanup_used[i]) {
			strcpy(cleanup_paths[i], path);
			__atomic_signal_fence(__ATOMIC_SEQ_CST);
			cleanup_used[i] = 1;
			return;
		}
	die(EX_SOFTWARE, "too many temporary files");
}

void
cleanup_pop(const char *path)
{
	for (int i = 0; i < MAXCLEANUP; i++)
		if (cleanup_used[i] && !strcmp(cleanup_paths[i], path))
			cleanup_used[i] = 0;
}

void *
emalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		die(EX_OSERR, "out of memory allocating %zu bytes", n);
	return p;
}

void *
ecalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		die(EX_OSERR, "out of memory allocating %zu x %zu bytes", n, size);
	return p;
}

void *
erealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die(EX_OSERR, "out of memory allocating %zu bytes", n);
	return p;
}

char *
estrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(emalloc(n), s, n);
}

void
egrow(void **p, size_t *cap, size_t n)
{
	size_t c;

	if (n <= *cap)
		return;
	c = *cap ? *cap : 64;
	while (c < n)
		c = c > SIZE_MAX / 2 ? n : c * 2;
	*p = erealloc(*p, c);
	*cap = c;
}

void
text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
		va_end(ap);
		if (t->s && (size_t)n < t->cap - t->len)
			break;
		egrow((void **)&t->s, &t->cap, t->len + (size_t)n + 1);
	}
	t->len += (size_t)n;
}

int
mul_ok(size_t a, size_t b, size_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}

int
add_ok(size_t a, size_t b, size_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}

long long
estrtonum(const char *s, long long min, long long max, const char *what)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (!*s || *end || errno == ERANGE)
		die(EX_USAGE, "%s: '%s' is not an integer", what, s);
	if (v < min || v > max)
		die(EX_USAGE, "%s: %lld is out of range [%lld, %lld]", what, v, min, max);
	return v;
}

double
estrtod(const char *s, double min, double max, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (!*s || *end || errno == ERANGE || !isfinite(v))
		die(EX_USAGE, "%s: '%s' is not a number", what, s);
	if (v < min || v > max)
		die(EX_USAGE, "%s: %g is out of range [%g, %g]", what, v, min, max);
	return v;
}

int
eparse_numbers(const char *s, double *v, int min, int max, double lo, double hi,
               const char *what)
{
	char buf[256], *p = buf, *comma;
	int n = 0;

	if (strlen(s) >= sizeof buf)
		die(EX_USAGE, "%s: '%s' is too long", what, s);
	strcpy(buf, s);
	for (;;) {
		if (n == max)
			die(EX_USAGE, "%s: more than %d numbers in '%s'", what, max, s);
		if ((comma = strchr(p, ',')))
			*comma = '\0';
		v[n++] = estrtod(p, lo, hi, what);
		if (!comma)
			break;
		p = comma + 1;
	}
	if (n < min)
		die(EX_USAGE, "%s: expected %d numbers separated by commas, got '%s'", what, min, s);
	return n;
}

void
eparse_size(const char *s, int *w, int *h, const char *what)
{
	char buf[64];
	char *x;

	if (strlen(s) >= sizeof buf)
		die(EX_USAGE, "%s: '%s' is not WIDTHxHEIGHT", what, s);
	strcpy(buf, s);
	x = strchr(buf, 'x');
	if (!x)
		die(EX_USAGE, "%s: '%s' is not WIDTHxHEIGHT", what, s);
	*x = '\0';
	*w = (int)estrtonum(buf, 1, 65535, what);
	*h = (int)estrtonum(x + 1, 1, 65535, what);
}

void
out_refuse_tty(FILE *fp)
{
	if (isatty(fileno(fp)))
		die(EX_USAGE, "refusing to write records to a terminal; "
		    "redirect stdout to a file or a pipe");
}

void
write_failed(const char *name)
{
	if (errno == EPIPE)
		quit(EXIT_PIPE);
	die(EX_IOERR, "%s: write error:", name);
}

int
fshut(FILE *fp, const char *name)
{
	int bad = 0;

	if (fflush(fp) == EOF || ferror(fp))
		bad = 1;
	if (fclose(fp) == EOF)
		bad = 1;
	if (bad) {
		if (errno == EPIPE)
			return EXIT_PIPE;
		warn("%s: write error:", name);
		return EX_IOERR;
	}
	return 0;
}

/* the rename is durable once the directory is on disk too; a file system
 * that cannot fsync a directory (EINVAL) has nothing more to do */
static void
sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : estrdup(".");
	int fd;

	if (!dir)
		die(EX_OSERR, "out of memory");
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0) {
		if (fsync(fd) < 0 && errno != EINVAL && errno != EROFS)
			die(EX_IOERR, "%s: fsync:", dir);
		close(fd);
	}
	free(dir);
}

/*
 * A kill -9, a power cut or a crash leaves "NAME.tmp.PID" behind.  The
 * next run that writes NAME removes those whose process is gone (kill(pid,
 * 0) says ESRCH); one whose PID is alive, or on another machine sharing
 * the directory, is left: it may be a run in progress.
 */
void
remove_stale(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t blen = strlen(base);
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : estrdup(".");
	DIR *d;
	struct dirent *e;

	if (!dir)
		die(EX_OSERR, "out of memory");
	if (!(d = opendir(dir))) {
		free(dir);
		return;
	}
	while ((e = readdir(d))) {
		const char *s = e->d_name;
		char *end;
		if (strncmp(s, base, blen) || strncmp(s + blen, ".tmp.", 5))
			continue;
		s += blen + 5;
		if (*s < '1' || *s > '9')
			continue;
		errno = 0;
		long pid = strtol(s, &end, 10);
		if (*end || errno || pid <= 0 || pid > INT_MAX || pid == (long)getpid())
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if (remove_at(dirfd(d), e->d_name, 0) == 0)
			info("%s%s%s: removed, left by process %ld, which is gone", slash ? dir : "", slash ? "/" : "",
			     e->d_name, pid);
		else
			warn("%s%s%s: left by process %ld, which is gone, cannot be removed:", slash ? dir : "",
			     slash ? "/" : "", e->d_name, pid);
	}
	closedir(d);
	free(dir);
}

char *
atomic_tmpname(const char *path)
{
	size_t n = strlen(path) + 32;
	char *tmp = emalloc(n);

	remove_stale(path);
	snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
	cleanup_push(tmp);
	return tmp;
}

FILE *
atomic_open(const char *path, char **tmpname)
{
	FILE *fp;
	int fd;

	*tmpname = atomic_tmpname(path);
	fd = open(*tmpname, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die(EX_CANTCREAT, "%s: cannot create:", *tmpname);
	fp = fdopen(fd, "wb");
	if (!fp)
		die(EX_OSERR, "%s: fdopen:", *tmpname);
	return fp;
}

void
atomic_commit(FILE *fp, char *tmpname, const char *path)
{
	if (fflush(fp) == EOF || ferror(fp) || fsync(fileno(fp)) < 0) {
		int e = errno;
		fclose(fp);
		errno = e;
		die(EX_IOERR, "%s: write error:", tmpname);
	}
	if (fclose(fp) == EOF)
		die(EX_IOERR, "%s: write error:", tmpname);
	if (rename(tmpname, path) < 0)
		die(EX_IOERR, "%s: cannot rename to %s:", tmpname, path);
	cleanup_pop(tmpname);
	sync_dir(path);
	free(tmpname);
}
