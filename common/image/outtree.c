/*
 * outtree.c - a directory or tar.gz written as one (outtree.h).
 */
#include "outtree.h"
#include "common/base/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void
mkdirs(const char *path)
{
	char buf[4096];

	if (strlen(path) >= sizeof buf)
		die(EX_CANTCREAT, "%s: path too long", path);
	strcpy(buf, path);
	for (char *s = buf + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			if (mkdir(buf, 0755) < 0 && errno != EEXIST)
				die(EX_CANTCREAT, "%s: cannot create directory:", buf);
			*s = '/';
		}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		die(EX_CANTCREAT, "%s: cannot create directory:", buf);
}

void
outtree_open(struct outtree *t, const char *path, int tar)
{
	struct stat st;

	memset(t, 0, sizeof *t);
	if (stat(path, &st) == 0)
		die(EX_CANTCREAT, "%s: exists; remove it or choose another name", path);
	t->path = estrdup(path);
	t->tmp = atomic_tmpname(path);
	if (!tar) {
		mkdirs(t->tmp);
		return;
	}
	t->ar = archive_write_new();
	archive_write_add_filter_gzip(t->ar);
	/* no time stamp in the gzip header: the same files give the same bytes */
	archive_write_set_filter_option(t->ar, "gzip", "timestamp", NULL);
	archive_write_set_format_pax_restricted(t->ar);
	if (archive_write_open_filename(t->ar, t->tmp) != ARCHIVE_OK)
		die(EX_CANTCREAT, "%s: %s", t->tmp, archive_error_string(t->ar));
}

void
outtree_file(struct outtree *t, const char *rel, const void *data, size_t len)
{
	if (t->ar) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, rel);
		archive_entry_set_size(e, (la_int64_t)len);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_mtime(e, 0, 0);
		if (archive_write_header(t->ar, e) != ARCHIVE_OK ||
		    archive_write_data(t->ar, data, len) != (la_ssize_t)len)
			die(EX_IOERR, "%s: %s", t->tmp, archive_error_string(t->ar));
		archive_entry_free(e);
		return;
	}
	char path[4096];
	if ((size_t)snprintf(path, sizeof path, "%s/%s", t->tmp, rel) >= sizeof path)
		die(EX_CANTCREAT, "%s/%s: path too long", t->tmp, rel);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	mkdirs(path);
	*slash = '/';
	FILE *fp = fopen(path, "wb");
	if (!fp)
		die(EX_CANTCREAT, "%s: cannot create:", path);
	if (fwrite(data, 1, len, fp) != len || fclose(fp) == EOF)
		die(EX_IOERR, "%s: write error:", path);
}

void
outtree_commit(struct outtree *t)
{
	if (t->ar) {
		if (archive_write_close(t->ar) != ARCHIVE_OK)
			die(EX_IOERR, "%s: %s", t->tmp, archive_error_string(t->ar));
		archive_write_free(t->ar);
		t->ar = NULL;
	}
	if (rename(t->tmp, t->path) < 0)
		die(EX_IOERR, "%s: cannot rename to %s:", t->tmp, t->path);
	cleanup_pop(t->tmp);
	free(t->tmp);
	free(t->path);
	t->tmp = t->path = NULL;
}
