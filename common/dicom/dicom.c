/*
 * dicom.c - DICOM files read by GDCM (gdcm.cc) in a worker process, and a
 * decoded frame's stored values into the values they stand for (dicom.h
 * says which).
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "dicom.h"
#include "common/record/contract.h"
#include "common/base/util.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifdef UNDER_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

int
dcm_sniff(const unsigned char *p, size_t n)
{
	if (n >= 132 && !memcmp(p + 128, "DICM", 4))
		return 1;
	/* no preamble: a first element (little endian) of group 0002 or 0008
	 * with an explicit VR of two capitals or an implicit 4-byte length,
	 * or of another group a dataset may begin with (0010-0028: no SOP
	 * class), explicit only */
	if (n < 8 || p[1] != 0 || p[3] != 0)
		return 0;
	int vr = p[4] >= 'A' && p[4] <= 'Z' && p[5] >= 'A' && p[5] <= 'Z';
	if (p[0] == 0x02 || p[0] == 0x08)
		return vr || (p[6] == 0 && p[7] == 0);
	return vr && (p[0] == 0x10 || p[0] == 0x18 || p[0] == 0x20 || p[0] == 0x28);
}

/* ---------------------------------------------------------------- */
/* the worker */

/* a memory file mapped here; either process may grow it, the other maps
 * the new size when it next looks */
struct shm {
	int fd;
	unsigned char *p;
	size_t size;
};

/* what the two processes share besides the file and the pixels */
struct ctl {
	size_t len, max_pixels;  /* the request */
	int status;              /* the answer */
	char err[512];
	struct dcm_result res;
};

struct dcm_reader {
	struct ctl *ctl;         /* shared, anonymous: made before any worker */
	struct shm in, out, log; /* the file, the pixels, the worker's stderr */
	pid_t pid;               /* the worker; 0 when there is none */
	int sock;                /* our end of its socket pair */
};

/* map at least n bytes of m (growing the file when it is smaller, by
 * whole MiB so that it seldom grows); 0 or -1 */
static int
shm_fit(struct shm *m, size_t n)
{
	struct stat st;
	size_t want = (n + ((size_t)1 << 20) - 1) & ~(((size_t)1 << 20) - 1);

	if (fstat(m->fd, &st) < 0)
		return -1;
	size_t have = (size_t)st.st_size;
	if (have < n) {
		if (ftruncate(m->fd, (off_t)want) < 0)
			return -1;
		have = want;
	}
	if (m->size != have) {
		if (m->p)
			munmap(m->p, m->size);
		m->p = mmap(NULL, have, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
		if (m->p == MAP_FAILED) {
			m->p = NULL;
			m->size = 0;
			return -1;
		}
		m->size = have;
	}
	return 0;
}

static unsigned char *
grow_out(size_t n, void *ctx)
{
	struct shm *out = ctx;

	return shm_fit(out, n) < 0 ? NULL : out->p;
}


/*
 * GDCM allocates what a value's length field says before it reads the
 * value, so fourteen bytes can ask for 4 GiB and spend seconds touching it.
 * The worker may use what the file justifies: the file a few times over,
 * the pixels it can hold (compressed: up to 256 bytes of pixels a byte,
 * well past lossless codecs' ratios and most lossy ones'; never more than
 * --max-pixels allow), each in the forms a codec keeps, and 256 MiB to
 * run.  A file asking for more fails as that file's error, in the time it
 * takes to fail an allocation.  CPU time is held likewise: a minute, and a
 * second per MiB, for each file (the worker reads many, so the limit is set
 * from what it has used so far).  (The memory limit is not set under
 * AddressSanitizer, whose shadow memory is address space too.)
 */
static void
cap_worker(const struct ctl *k)
{
	struct rlimit rl;
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) == 0 && getrlimit(RLIMIT_CPU, &rl) == 0) {
		rlim_t want = (rlim_t)ru.ru_utime.tv_sec + (rlim_t)ru.ru_stime.tv_sec + 60 + (rlim_t)(k->len >> 20);
		if (rl.rlim_max == RLIM_INFINITY || want < rl.rlim_max) {
			rl.rlim_cur = want;
			setrlimit(RLIMIT_CPU, &rl);
		}
	}
#ifndef UNDER_ASAN
	static double base = -1;
	if (base < 0) {
		FILE *fp = fopen("/proc/self/statm", "r");
		unsigned long pages = 0;
		if (!fp || fscanf(fp, "%lu", &pages) != 1)
			pages = 0;
		if (fp)
			fclose(fp);
		base = (double)pages * (double)sysconf(_SC_PAGESIZE);
	}
	double pixels = 256.0 * (double)k->len;
	if (pixels > 4.0 * (double)k->max_pixels)
		pixels = 4.0 * (double)k->max_pixels;   /* 4 bytes: RGB and more, or 32 bits */
	double cap = base + 8.0 * (double)k->len + 4.0 * pixels + (double)(256u << 20);
	if (base > 0 && getrlimit(RLIMIT_AS, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && (double)rl.rlim_max < cap ? rl.rlim_max : (rlim_t)cap;
		setrlimit(RLIMIT_AS, &rl);
	}
#endif
}

/*
 * GDCM is the worker's alone: it comes from libosteo-gdcm.so, beside the
 * programs in ../lib/osteo/, loaded when the first DICOM file arrives.
 * Linked into osteo-decode it made every run start 50 ms later (GDCM
 * builds its dictionaries as it loads), a fifth of the time of decoding
 * 1,000 PNGs.  A program that links gdcm.o itself (the fuzzers, the replay
 * tests) calls it as it is.
 */
#pragma weak gdcm_read
typedef int gdcm_read_fn(const unsigned char *, size_t, size_t, struct dcm_result *,
                         unsigned char *(*)(size_t, void *), void *, char *, size_t);

/* from the executable as the kernel names it, else as it was run (under
 * valgrind /proc/self/exe is valgrind's) */
static gdcm_read_fn *
gdcm_load(char *err, size_t errlen)
{
	char exe[PATH_MAX], path[PATH_MAX + 32];
	const char *run = (const char *)getauxval(AT_EXECFN);

	if (gdcm_read)
		return gdcm_read;
	snprintf(err, errlen, "DICOM support (libosteo-gdcm.so) was not found beside the program");
	for (int k = 0; k < 2; k++) {
		ssize_t n = k == 0 ? readlink("/proc/self/exe", exe, sizeof exe - 1) : -1;
		if (k == 0 && n <= 0)
			continue;
		if (k == 0)
			exe[n] = 0;
		else if (!run || !realpath(run, exe))
			continue;
		char *slash = strrchr(exe, '/');
		if (!slash)
			continue;
		*slash = 0;
		snprintf(path, sizeof path, "%s/../lib/osteo/libosteo-gdcm.so", exe);
		if (access(path, F_OK) != 0)
			continue;
		void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		gdcm_read_fn *fn = h ? (gdcm_read_fn *)dlsym(h, "gdcm_read") : NULL;
		if (fn)
			return fn;
		snprintf(err, errlen, "DICOM support cannot be loaded: %s", dlerror());
		return NULL;
	}
	return NULL;
}

/* the worker's life: a byte in, a file read, a byte out, until the
 * socket closes */
static void
serve(struct dcm_reader *rd, int sock)
{
	char c;

	/* a crash ends the worker and nothing else: no handler of the parent's
	 * (a sanitizer's, a fuzzer's, the one removing its temporaries) runs here */
	static const int deadly[] = { SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGINT, SIGTERM, SIGHUP };
	for (size_t i = 0; i < sizeof deadly / sizeof *deadly; i++)
		signal(deadly[i], SIG_DFL);
#ifdef UNDER_ASAN
	/* nor a fuzzer's death callback: the worker's end is not the harness's */
	__sanitizer_set_death_callback(NULL);
#endif
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	dup2(rd->log.fd, 2);
#ifdef UNDER_ASAN
	/* its reports where its stderr now goes, not to files a fuzzer's
	 * closed stderr would send them to */
	__sanitizer_set_report_fd((void *)(long)2);
#endif
	/* before any file's memory cap: GDCM's libraries map their own */
	char why[256];
	gdcm_read_fn *read_fn = gdcm_load(why, sizeof why);
	for (;;) {
		ssize_t n = recv(sock, &c, 1, 0);
		if (n == 0 || (n < 0 && errno != EINTR))
			_exit(0);
		if (n < 0)
			continue;
		struct ctl *k = rd->ctl;
		cap_worker(k);
		if (!read_fn) {
			snprintf(k->err, sizeof k->err, "%s", why);
			k->status = DCM_ERROR;
		} else if (shm_fit(&rd->in, k->len) < 0) {
			snprintf(k->err, sizeof k->err, "cannot map the file to read: %s", strerror(errno));
			k->status = DCM_ERROR;
		} else
			k->status = read_fn(rd->in.p, k->len, k->max_pixels, &k->res, grow_out, &rd->out, k->err,
			                    sizeof k->err);
		while (send(sock, "x", 1, MSG_NOSIGNAL) < 0 && errno == EINTR)
			;
	}
}

static int
spawn(struct dcm_reader *rd)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		serve(rd, sv[1]);
	}
	close(sv[1]);
	rd->pid = pid;
	rd->sock = sv[0];
	return 0;
}

/* the worker is gone or stopped: why, from its status and the last line
 * it wrote (an assertion's, usually) */
static void
buried(struct dcm_reader *rd, int timed_out, char *err, size_t errlen)
{
	int st = 0;
	char line[300] = "";

	if (timed_out)
		kill(rd->pid, SIGKILL);
	while (waitpid(rd->pid, &st, 0) < 0 && errno == EINTR)
		;
	close(rd->sock);
	rd->pid = 0;
	struct stat sb;
	if (fstat(rd->log.fd, &sb) == 0 && sb.st_size > 0) {
		size_t n = (size_t)sb.st_size < 4096 ? (size_t)sb.st_size : 4096;
		char tail[4097];
		ssize_t got = pread(rd->log.fd, tail, n, sb.st_size - (off_t)n);
		if (got > 0) {
			tail[got] = 0;
			while (got > 0 && (tail[got - 1] == '\n' || tail[got - 1] == '\r'))
				tail[--got] = 0;
			char *last = strrchr(tail, '\n');
			const char *a = strstr(last ? last + 1 : tail, "Assertion");
			snprintf(line, sizeof line, "%.250s", a ? a : last ? last + 1 : tail);
		}
		if (ftruncate(rd->log.fd, 0) < 0)
			line[0] = 0;
	}
	if (timed_out)
		snprintf(err, errlen, "GDCM took more than %d s on it; stopped", DCM_TIMEOUT);
	else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGXCPU)
		snprintf(err, errlen, "GDCM spent more CPU time on it than its size justifies; stopped");
	else if (WIFSIGNALED(st))
		snprintf(err, errlen, "GDCM stopped on it (signal %d)%s%s", WTERMSIG(st), *line ? ": " : "", line);
	else
		snprintf(err, errlen, "GDCM's worker exited with status %d on it%s%s", WIFEXITED(st) ? WEXITSTATUS(st) : -1,
		         *line ? ": " : "", line);
}

static int
memfile(struct shm *m, const char *name)
{
	m->p = NULL;
	m->size = 0;
	m->fd = memfd_create(name, MFD_CLOEXEC);
	return m->fd;
}

struct dcm_reader *
dcm_reader_new(void)
{
	struct dcm_reader *rd = ecalloc(1, sizeof *rd);

	rd->ctl = mmap(NULL, sizeof *rd->ctl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rd->ctl == MAP_FAILED || memfile(&rd->in, "osteo-dicom-in") < 0 ||
	    memfile(&rd->out, "osteo-dicom-out") < 0 || memfile(&rd->log, "osteo-dicom-log") < 0)
		die(EX_OSERR, "cannot make the DICOM reader's shared memory:");
	/* appended to, so that the worker writes where we truncated */
	fcntl(rd->log.fd, F_SETFL, O_APPEND);
	return rd;
}

void
dcm_reader_free(struct dcm_reader *rd)
{
	if (!rd)
		return;
	if (rd->pid) {
		close(rd->sock);
		while (waitpid(rd->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	munmap(rd->ctl, sizeof *rd->ctl);
	struct shm *m[3] = { &rd->in, &rd->out, &rd->log };
	for (int i = 0; i < 3; i++) {
		if (m[i]->p)
			munmap(m[i]->p, m[i]->size);
		close(m[i]->fd);
	}
	free(rd);
}

const char *
dcm_field(const struct dcm_reader *rd, enum dcm_field f)
{
	return rd->ctl->res.fields[f];
}

int
dcm_read(struct dcm_reader *rd, const unsigned char *buf, size_t len, size_t max_pixels,
         struct dcm_image *img, char *err, size_t errlen)
{
	struct ctl *k = rd->ctl;
	char c;

	memset(img, 0, sizeof *img);
	for (int f = 0; f < DCM_FIELDS; f++)
		k->res.fields[f][0] = 0;
	if (shm_fit(&rd->in, len) < 0)
		die(EX_OSERR, "out of memory for a DICOM file of %zu bytes:", len);
	memcpy(rd->in.p, buf, len);
	k->len = len;
	k->max_pixels = max_pixels;
	if (!rd->pid && spawn(rd) < 0)
		die(EX_OSERR, "cannot start the DICOM reader's worker:");
	if (send(rd->sock, "x", 1, MSG_NOSIGNAL) != 1) {
		buried(rd, 0, err, errlen);
		return DCM_ERROR;
	}
	struct pollfd p = { rd->sock, POLLIN, 0 };
	int r;
	while ((r = poll(&p, 1, DCM_TIMEOUT * 1000)) < 0 && errno == EINTR)
		;
	ssize_t n = r > 0 ? recv(rd->sock, &c, 1, 0) : 0;
	if (n != 1) {
		buried(rd, r == 0, err, errlen);
		return DCM_ERROR;
	}
	if (k->status == DCM_ERROR) {
		snprintf(err, errlen, "%s", k->err);
		return DCM_ERROR;
	}
	if (k->status != DCM_OK)
		return k->status;
	*img = k->res.img;
	img->ts_name = k->res.ts_name;
	if (shm_fit(&rd->out, img->nbytes) < 0)
		die(EX_OSERR, "cannot map the decoded pixels:");
	img->pixels = rd->out.p;
	return DCM_OK;
}

/* ---------------------------------------------------------------- */
/* values */

/*
 * One channel of one frame into dst: each sample's Bits Stored bits ending
 * at High Bit (what lies above is overlay or noise), sign-extended for
 * signed pixels, turned round for MONOCHROME1, then y = v * slope +
 * intercept.  A loop for each width and dtype, so each vectorises.
 */
#define CONVERT(SRC_T, INT_T, DST_T, EXPR)                                                 \
	do {                                                                               \
		const SRC_T *src = (const SRC_T *)m->pixels + first;                       \
		DST_T *out = dst;                                                          \
		INT_T sh = (INT_T)shift, mk = (INT_T)mask, sg = (INT_T)sb, sm = (INT_T)sum;  \
		INT_T slo = (INT_T)is, ico = (INT_T)ic;                                    \
		(void)slo, (void)ico;                                                      \
		for (size_t p = 0; p < n; p++) {                                           \
			INT_T v = ((INT_T)src[p * step] >> sh) & mk;                       \
			v = (v ^ sg) - sg;                                                 \
			v = invert ? sm - v : v;                                           \
			out[p] = (DST_T)(EXPR);                                            \
		}                                                                          \
	} while (0)

static void
convert(const struct dcm_image *m, size_t first, size_t step, size_t n, int invert, int64_t sum, double slope,
        double icpt, enum dtype dt, void *dst)
{
	int shift = m->high_bit - m->bits_stored + 1;
	uint64_t mask = (UINT64_C(1) << m->bits_stored) - 1;
	int64_t sb = m->is_signed ? (int64_t)1 << (m->bits_stored - 1) : 0;
	int64_t is = (int64_t)slope, ic = (int64_t)icpt;
	/* 16 bits or fewer, whole slope and intercept, |y| < 2^24: int32
	 * arithmetic, exact in a float too */
	int small = m->bits_allocated <= 16 && slope == (double)is && icpt == (double)ic &&
	            fabs(slope) * 65536 + fabs(icpt) < 16777216.0;

	switch (m->bits_allocated * 8 + (int)dt * 2 + small) {
	case 8 * 8 + DT_U8 * 2 + 1: CONVERT(uint8_t, int32_t, uint8_t, v * slo + ico); break;
	case 8 * 8 + DT_U16 * 2 + 1: CONVERT(uint8_t, int32_t, uint16_t, v * slo + ico); break;
	case 8 * 8 + DT_F32 * 2 + 1: CONVERT(uint8_t, int32_t, float, v * slo + ico); break;
	case 8 * 8 + DT_F32 * 2: CONVERT(uint8_t, int64_t, float, (double)v * slope + icpt); break;
	case 16 * 8 + DT_U8 * 2 + 1: CONVERT(uint16_t, int32_t, uint8_t, v * slo + ico); break;
	case 16 * 8 + DT_U16 * 2 + 1: CONVERT(uint16_t, int32_t, uint16_t, v * slo + ico); break;
	case 16 * 8 + DT_F32 * 2 + 1: CONVERT(uint16_t, int32_t, float, v * slo + ico); break;
	case 16 * 8 + DT_F32 * 2: CONVERT(uint16_t, int64_t, float, (double)v * slope + icpt); break;
	case 32 * 8 + DT_U8 * 2: CONVERT(uint32_t, int64_t, uint8_t, v * is + ic); break;
	case 32 * 8 + DT_U16 * 2: CONVERT(uint32_t, int64_t, uint16_t, v * is + ic); break;
	default: CONVERT(uint32_t, int64_t, float, (double)v * slope + icpt); break;
	}
}

int
dcm_frame(const struct dcm_image *m, int i, struct record *r, const char *name, char *err, size_t errlen)
{
	int64_t smin = m->is_signed ? -((int64_t)1 << (m->bits_stored - 1)) : 0;
	int64_t smax = m->is_signed ? ((int64_t)1 << (m->bits_stored - 1)) - 1 : ((int64_t)1 << m->bits_stored) - 1;
	/* MONOCHROME1: the lowest value is white; turned round so that, as in
	 * MONOCHROME2 and every other image osteo reads, brighter is denser */
	int invert = m->samples == 1 && !strcmp(m->photometric, "MONOCHROME1");
	int lut = m->samples == 1 && (m->slope != 1 || m->intercept != 0);
	double slope = lut ? m->slope : 1, icpt = lut ? m->intercept : 0;
	/* the dtype that holds every value the stored range maps to, exactly */
	double lo = fmin(smin * slope + icpt, smax * slope + icpt);
	double hi = fmax(smin * slope + icpt, smax * slope + icpt);
	int whole = slope == floor(slope) && icpt == floor(icpt);
	enum dtype dt = whole && lo >= 0 && hi <= 255 ? DT_U8 : whole && lo >= 0 && hi <= 65535 ? DT_U16 : DT_F32;
	uint32_t shape[3] = { (uint32_t)m->samples, (uint32_t)m->rows, (uint32_t)m->cols };
	size_t plane = (size_t)m->rows * m->cols, frame = plane * m->samples;
	const char *e;
	struct tensor *t = rec_tensor_put(r, name, dt, 3, shape, &e);

	if (!t) {
		snprintf(err, errlen, "%s", e);
		return -1;
	}
	/* interleaved colour is RGBRGB..., planar RR..GG..BB.. */
	for (int c = 0; c < m->samples; c++)
		convert(m, (size_t)i * frame + (m->planar ? c * plane : (size_t)c), m->planar ? 1 : (size_t)m->samples,
		        plane, invert, smin + smax, slope, icpt, dt, (uint8_t *)t->data + c * plane * dtype_size(dt));
	rec_meta_str(r, KEY_PROV_PHOTOMETRIC, m->photometric_file);
	if (invert)
		rec_meta_bool(r, KEY_PROV_INVERTED, 1);
	if (lut) {
		rec_meta_float(r, KEY_PROV_RESCALE_SLOPE, m->slope);
		rec_meta_float(r, KEY_PROV_RESCALE_INTERCEPT, m->intercept);
	}
	rec_meta_int(r, KEY_PROV_BIT_DEPTH, m->bits_stored);
	return 0;
}
