/*
 * outtree.h - a tree of files that appears whole or not at all: a
 * directory, or a tar.gz (libarchive) with no time stamps, so the same
 * files give the same bytes.  It is built under a temporary name beside
 * its path (atomic_tmpname: removed if the program dies) and renamed there
 * by outtree_commit.
 */
#ifndef OSTEO_OUTTREE_H
#define OSTEO_OUTTREE_H

#include <stddef.h>

struct outtree {
	char *path, *tmp;
	struct archive *ar;      /* tar.gz; NULL for a directory */
};

/* dies with 73 when path exists already or cannot be made */
void outtree_open(struct outtree *t, const char *path, int tar);
/* the file rel (a relative path; directories are made as needed); 73 or 74 */
void outtree_file(struct outtree *t, const char *rel, const void *data, size_t len);
/* finish the tree and rename it to its path (74 on failure) */
void outtree_commit(struct outtree *t);

#endif
