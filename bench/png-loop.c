/*
 * png-loop - the reference for osteo-decode's benchmark: a bare libpng
 * decode loop over the files named, with the same reading (whole file into
 * a reused buffer) and the same transforms for 16-bit data, and no record
 * stream.  Prints the number of images and the sum of their bytes.
 */
#include <fcntl.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct src {
	const unsigned char *p;
	size_t n, off;
};

static void
memread(png_structp png, png_bytep out, size_t n)
{
	struct src *s = png_get_io_ptr(png);

	if (n > s->n - s->off)
		png_error(png, "truncated");
	memcpy(out, s->p + s->off, n);
	s->off += n;
}

/* file scope, so setjmp cannot clobber them */
static unsigned char *file, *pix;
static png_bytep *rows;
static size_t filecap, pixcap, rowcap, total;
static int images;

int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		int fd = open(argv[i], O_RDONLY);
		size_t n = 0;
		ssize_t r;

		if (fd < 0) {
			perror(argv[i]);
			return 66;
		}
		for (;;) {
			if (filecap - n < 65536) {
				filecap = filecap ? 2 * filecap : 1 << 20;
				file = realloc(file, filecap);
			}
			r = read(fd, file + n, filecap - n);
			if (r <= 0)
				break;
			n += (size_t)r;
		}
		close(fd);
		struct src s = { file, n, 0 };
		png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
		png_infop info = png_create_info_struct(png);
		if (setjmp(png_jmpbuf(png))) {
			fprintf(stderr, "%s: bad PNG\n", argv[i]);
			return 65;
		}
		png_set_read_fn(png, &s, memread);
		png_read_info(png, info);
		png_uint_32 w, h;
		int depth, ct;
		png_get_IHDR(png, info, &w, &h, &depth, &ct, NULL, NULL, NULL);
		if (depth == 16)
			png_set_swap(png);
		png_set_interlace_handling(png);
		png_read_update_info(png, info);
		size_t rb = png_get_rowbytes(png, info);
		if (rb * h > pixcap) {
			pixcap = rb * h;
			pix = realloc(pix, pixcap);
		}
		if (h > rowcap) {
			rowcap = h;
			rows = realloc(rows, rowcap * sizeof *rows);
		}
		for (png_uint_32 y = 0; y < h; y++)
			rows[y] = pix + y * rb;
		png_read_image(png, rows);
		png_read_end(png, NULL);
		png_destroy_read_struct(&png, &info, NULL);
		total += rb * h;
		images++;
	}
	printf("%d images, %zu bytes\n", images, total);
	free(file);
	free(pix);
	free(rows);
	return 0;
}
