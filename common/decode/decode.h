/*
 * decode.h - files, directories and archives into records (decode.c):
 * osteo-decode is its command line, and the fuzz harnesses call it as the
 * program does.  A decoder writes records to one stream; a bad file is
 * reported naming it and, with keep_going, the next one is read (the
 * failure is decoder_close's status), else the program dies with its
 * status (65 bad data, 66 cannot open, 74 I/O).
 */
#ifndef OSTEO_DECODE_H
#define OSTEO_DECODE_H

#include <stddef.h>
#include <stdio.h>

#include "common/record/classes.h"

struct decode_opts {
	struct classes classes;
	const char *manifest;    /* labels, patients, meta and masks from a CSV, or NULL */
	const char *keyfile;     /* --pseudonymize's key, or NULL */
	int allow_burned_in;     /* pseudonymised, take DICOM images that say their pixels show text */
	FILE *link;              /* with keyfile: each DICOM file's pseudonym, original SOP
	                            instance UID and path, a tab-separated line each, or NULL */
	int strict;              /* an image without a label is an error */
	int keep_going;          /* report a bad file and go on */
	int patient_dir;         /* the directory above an image names its patient */
	const char *patient_from; /* a POSIX extended regex: its first group (else its match)
	                            in the path names the patient, or NULL */
	int progress;            /* count records on standard error */
	size_t max_member;       /* the largest file or archive member read */
};

struct decoder;
struct archive;

/* the options stay the caller's while the decoder is open */
struct decoder *decoder_open(const struct decode_opts *o, FILE *out, const char *outname);
/* a file, a directory (walked in byte order) or "-" (standard input) */
void decoder_input(struct decoder *d, const char *path);
/* each line of listpath ("-": standard input) as decoder_input's path */
void decoder_list(struct decoder *d, const char *listpath);
/* one file: sniffed, then an image, a DICOM file, an archive or skipped;
 * id names its records */
void decoder_file(struct decoder *d, const char *path, const char *id);
/* an open archive's members, name naming it in messages; raw: a reader
 * that also takes a bare compressed stream (standard input's) */
struct archive *decoder_archive_new(int raw);
void decoder_archive(struct decoder *d, struct archive *a, const char *name);
/* the summary (with progress), the stream closed; the exit status: 0, the
 * first kept-going failure, or the writer's */
int decoder_close(struct decoder *d);

#endif
