/*
 * decode.c - decode.h: image files, directories and archives into
 * records, as osteo-decode runs it (and the fuzz harnesses do).
 *
 * Each image becomes one record with an `image` tensor [C,H,W] (u8, or
 * u16 for 16-bit files), a label from a path component that names a class
 * or from a manifest, and provenance in `meta`.  A manifest's `mask`
 * column names each image's mask (a segmentation, 0 outside), read from
 * the same tree into a `mask` tensor [1,H,W] of 0 and 1; the mask files
 * themselves are not images of the stream.  Directories are walked
 * recursively in byte order of their names, so a tree always gives the
 * same stream.  Archives are read with libarchive and never extracted: a
 * member's name is only data.  DICOM goes through common/dicom.
 */
#include "decode.h"
#include "common/record/contract.h"
#include "common/base/strmap.h"
#include "common/base/util.h"
#include "common/clinical/table.h"
#include "common/dicom/dicom.h"
#include "common/dicom/pseudo.h"
#include "common/image/image.h"
#include "common/image/imgops.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct manifest {
	struct table *t;
	struct strmap paths;   /* path -> row */
	struct strmap masks;   /* mask path -> row */
	int *labels;           /* per row */
	int cpatient, cmodality, cregion, cmask;
	dev_t dev;
	ino_t ino;
	size_t unmatched;
};

struct decoder {
	const struct decode_opts *o;
	struct manifest *m;
	struct rec_writer *w;
	struct record rec;
	unsigned char *buf, *mbuf;
	size_t cap, mcap;
	float *mfloat;         /* a mask's values, on their way to 0 and 1 */
	size_t mfcap;
	int status;            /* first failure, reported at exit */
	unsigned long long skipped;
	int mask_note;         /* told once that archives' masks are not read */
	struct dcm_reader *dcm;
	struct pseudo *pseudo; /* --pseudonymize */
	regex_t patient_re;    /* --patient-from */
	int masks_skipped;     /* FILE.mask.EXT members of archives */
	int link_note;         /* told once that a file has no way back */
};

/* ---------------------------------------------------------------- */
/* arguments */


/* a relative path without its leading "./"s, as manifests and archives
 * may write them */
static const char *
undot(const char *p)
{
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	return p;
}

static struct manifest *
manifest_load(const char *path, const struct classes *cl)
{
	struct manifest *m = ecalloc(1, sizeof *m);
	struct stat st;
	int cpath, clabel;

	m->t = table_load(path);
	if (stat(path, &st) == 0) {
		m->dev = st.st_dev;
		m->ino = st.st_ino;
	}
	cpath = table_col(m->t, "path");
	clabel = table_col(m->t, "label");
	/* a manifest of unlabelled images (patients, masks) has no label column */
	if (cpath < 0)
		die(EX_DATAERR, "%s: needs the column 'path'", path);
	m->cpatient = table_col(m->t, "patient");
	m->cmodality = table_col(m->t, "modality");
	m->cregion = table_col(m->t, "region");
	m->cmask = table_col(m->t, "mask");
	m->labels = ecalloc(m->t->nrows, sizeof *m->labels);
	strmap_init(&m->paths);
	strmap_init(&m->masks);
	for (size_t i = 0; i < m->t->nrows; i++) {
		const char *p = undot(table_cell(m->t, i, cpath));
		const char *l = clabel >= 0 ? table_cell(m->t, i, clabel) : "";
		if (!*l)
			m->labels[i] = -1;
		else if ((m->labels[i] = classes_label(cl, l)) < 0)
			die(EX_DATAERR, "%s: row %zu: label '%s' is not one of --classes", path, i + 2, l);
		if (strmap_put(&m->paths, p, (long)i))
			die(EX_DATAERR, "%s: row %zu: path '%s' listed twice", path, i + 2, p);
	}
	for (size_t i = 0; m->cmask >= 0 && i < m->t->nrows; i++) {
		const char *p = undot(table_cell(m->t, i, m->cmask));
		if (*p && (strmap_get(&m->paths, p) >= 0 || strmap_put(&m->masks, p, (long)i)))
			die(EX_DATAERR, "%s: row %zu: mask '%s' is listed as an image or as another mask", path, i + 2, p);
	}
	return m;
}

/* the row of a path in map, matching the longest suffix at a '/'; *at:
 * where the match begins in path */
static long
suffix_row(const struct strmap *map, const char *path, const char **at)
{
	for (const char *p = path; p; p = strchr(p, '/')) {
		while (*p == '/')
			p++;
		long row = strmap_get(map, p);
		if (row >= 0) {
			if (at)
				*at = p;
			return row;
		}
	}
	return -1;
}

static long
manifest_row(const struct manifest *m, const char *path, const char **at)
{
	return suffix_row(&m->paths, path, at);
}

/* a file the manifest names as a mask: read with its image, not on its own */
static int
is_mask(const struct manifest *m, const char *path)
{
	return m && m->cmask >= 0 && suffix_row(&m->masks, path, NULL) >= 0;
}

/* the deepest directory component of path that names a class, or -1 */
static int
label_from_path(const struct classes *cl, const char *path)
{
	const char *end = strrchr(path, '/');

	while (end && end > path) {
		const char *start = end;
		while (start > path && start[-1] != '/')
			start--;
		int k = classes_find(cl, start, (size_t)(end - start));
		if (k >= 0)
			return k;
		end = start > path ? start - 1 : NULL;
	}
	return -1;
}

static void
patient_from_dir(struct record *r, const char *path)
{
	const char *end = strrchr(path, '/');
	const char *start;
	char buf[1024];

	if (!end || end == path)
		return;
	for (start = end; start > path && start[-1] != '/'; start--)
		;
	if ((size_t)(end - start) >= sizeof buf || end == start)
		return;
	memcpy(buf, start, (size_t)(end - start));
	buf[end - start] = '\0';
	rec_set_patient(r, buf);
}

/* ---------------------------------------------------------------- */
/* one image */

static void
fail(struct decoder *d, int status)
{
	if (!d->status)
		d->status = status;
	if (!d->o->keep_going) {
		int st = rec_writer_close(d->w);
		quit(st ? st : status);
	}
}

/*
 * The mask at mpath into r's `mask`: 1 where the file is not 0.  Returns
 * -1 (reported, the record dropped) when the mask is unreadable or not the
 * image's size.
 */
static int
read_mask(struct decoder *d, struct record *r, const char *mpath, const char *source)
{
	struct imginfo mi;
	char err[512];
	size_t len = 0;

	FILE *fp = fopen(mpath, "rb");
	if (fp) {
		for (size_t got = 1; got > 0 && len <= d->o->max_member; len += got) {
			egrow((void **)&d->mbuf, &d->mcap, len + 65536);
			got = fread(d->mbuf + len, 1, d->mcap - len, fp);
		}
	}
	int bad = !fp || ferror(fp);
	if (fp)
		fclose(fp);
	const struct tensor *img = rec_tensor(r, TENSOR_IMAGE);
	if (bad)
		warn("%s: its mask %s cannot be read:", source, mpath);
	else if (len > d->o->max_member)
		warn("%s: its mask %s is larger than the limit of %zu bytes (--max-member-bytes)", source, mpath,
		     d->o->max_member);
	else if (img_decode(d->mbuf, len, r, "mask", &mi, err, sizeof err) < 0)
		warn("%s: its mask %s: %s", source, mpath, err);
	else {
		struct tensor *t = rec_tensor(r, TENSOR_MASK);
		if (t->shape[0] != 1 || t->shape[1] != img->shape[1] || t->shape[2] != img->shape[2])
			warn("%s: its mask %s is %ux%ux%u; the image is %ux%u with one channel", source, mpath,
			     t->shape[0], t->shape[2], t->shape[1], img->shape[2], img->shape[1]);
		else {
			/* 0 and 1, whatever depth the file had (its values are
			 * whole numbers, so "from one half up" is "not 0") */
			int h = (int)t->shape[1], w = (int)t->shape[2];
			egrow((void **)&d->mfloat, &d->mfcap, (size_t)h * w * sizeof(float));
			tensor_to_float(t, d->mfloat);
			mask_store(r, d->mfloat, h, w);
			return 0;
		}
	}
	fail(d, EX_DATAERR);
	return -1;
}

/* a mask by its name: FILE.mask.EXT, the mask of FILE.EXT beside it */
static int
mask_name(const char *path)
{
	const char *base = strrchr(path, '/'), *ext = strrchr(path, '.');

	base = base ? base + 1 : path;
	return ext && ext - base >= 6 && !strncmp(ext - 5, ".mask", 5);
}

/*
 * The image's mask, if it has one: the manifest row's (mrel, from the
 * same tree: the image's manifest path begins at `at`), else FILE.mask.png
 * beside FILE.EXT.  An archive's masks are not read (its members come in
 * the archive's order, a mask perhaps after its image).  Returns -1 when
 * the record is dropped (read_mask reported why).
 */
static int
attach_mask(struct decoder *d, struct record *r, const char *path, const char *at, const char *mrel,
            const char *source, const char *member)
{
	char *mpath;
	struct stat st;

	if (member) {
		if (mrel && !d->mask_note++)
			info("%s: masks are read from directories, not archives; its images go without", source);
		return 0;
	}
	if (mrel) {
		mrel = undot(mrel);
		mpath = emalloc((size_t)(at - path) + strlen(mrel) + 1);
		memcpy(mpath, path, (size_t)(at - path));
		strcpy(mpath + (at - path), mrel);
	} else {
		const char *base = strrchr(path, '/'), *ext = strrchr(path, '.');
		size_t stem = ext && ext > (base ? base : path) ? (size_t)(ext - path) : strlen(path);
		mpath = emalloc(stem + sizeof ".mask.png");
		memcpy(mpath, path, stem);
		strcpy(mpath + stem, ".mask.png");
		if (stat(mpath, &st) < 0) {
			free(mpath);
			return 0;
		}
	}
	int st_ = read_mask(d, r, mpath, source);
	free(mpath);
	return st_;
}

/* the patient from the path by --patient-from: the first group of the
 * pattern if it has one, else what it matched; -1 when it does not match */
static int
patient_from_pattern(struct decoder *d, struct record *r, const char *path)
{
	regmatch_t m[2];
	char buf[1024];

	if (regexec(&d->patient_re, path, 2, m, 0))
		return -1;
	int g = d->patient_re.re_nsub > 0 && m[1].rm_so >= 0;
	size_t len = (size_t)(m[g].rm_eo - m[g].rm_so);
	if (len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, path + m[g].rm_so, len);
	buf[len] = '\0';
	rec_set_patient(r, buf);
	return 0;
}

/* the id of frame N of a multi-frame file, FILE#N (0: a single image, FILE) */
static void
frame_id(char *buf, size_t n, const char *base, int frame)
{
	if (frame > 0)
		snprintf(buf, n, "%s#%d", base, frame);
	else
		snprintf(buf, n, "%s", base);
}

/* the way back from a pseudonym to its file, for osteo-sr: a line of
 * the link file, which stays in the hospital (osteo-sr(1)); a file in an
 * archive, or a path a line cannot hold, has none */
static void
link_line(struct decoder *d, const char *pseudonym, const char *uid, const char *source, const char *member)
{
	if (member || strpbrk(source, "\t\n") || !strcmp(source, "-")) {
		if (!d->link_note++)
			warn("--link: %s%s%s is not a file of its own, so the link file has no way back to it",
			     source, member ? ": member " : "", member ? member : "");
		return;
	}
	char *abs = realpath(source, NULL);
	fprintf(d->o->link, "%s\t%s\t%s\n", pseudonym, uid, abs ? abs : source);
	free(abs);
}

/*
 * The rest of a record whose pixels are in: the preparation chain's first
 * step (its channels and the file's bit depth), manifest row (mask,
 * patient, modality, region) or the label from the path, pseudonyms;
 * written.  `path` is where labels and manifest rows are looked for.
 */
static void
finish(struct decoder *d, const char *path, const char *source, const char *member, const char *uid,
       int frame, int depth)
{
	struct record *r = &d->rec;
	int label = -1;
	char ch[16], dp[16];

	snprintf(ch, sizeof ch, "%u", rec_tensor(r, TENSOR_IMAGE)->shape[0]);
	snprintf(dp, sizeof dp, "%d", depth);
	prep_step(r, "decode", "channels", ch, "depth", dp, NULL);

	if (d->o->patient_dir)
		patient_from_dir(r, path);
	if (d->o->patient_from && patient_from_pattern(d, r, path) < 0) {
		warn("%s%s%s: the path does not match --patient-from '%s'", source, member ? ": member " : "",
		     member ? member : "", d->o->patient_from);
		fail(d, EX_DATAERR);
		return;
	}
	const char *at = path, *mrel = NULL;
	long row = d->m ? manifest_row(d->m, path, &at) : -1;
	if (row >= 0 && d->m->cmask >= 0 && *table_cell(d->m->t, row, d->m->cmask))
		mrel = table_cell(d->m->t, row, d->m->cmask);
	if (attach_mask(d, r, path, at, mrel, source, member) < 0)
		return;
	if (d->m) {
		if (row >= 0) {
			const struct table *t = d->m->t;
			label = d->m->labels[row];
			if (d->m->cpatient >= 0 && *table_cell(t, row, d->m->cpatient))
				rec_set_patient(r, table_cell(t, row, d->m->cpatient));
			if (d->m->cmodality >= 0 && *table_cell(t, row, d->m->cmodality))
				rec_meta_str(r, KEY_PROV_MODALITY, table_cell(t, row, d->m->cmodality));
			if (d->m->cregion >= 0 && *table_cell(t, row, d->m->cregion))
				rec_meta_str(r, KEY_PROV_REGION, table_cell(t, row, d->m->cregion));
		} else {
			d->m->unmatched++;
			label = label_from_path(&d->o->classes, path);
		}
	} else
		label = label_from_path(&d->o->classes, path);
	if (label >= 0) {
		r->has_label = 1;
		r->label = label;
		rec_meta_str(r, KEY_PROV_CLASS, d->o->classes.names[label]);
	}
	if (d->pseudo) {
		/* the id from the image's UID, or the path's pseudonym: paths
		 * name patients as often as not */
		char p[80], id[96];
		if (r->has_patient) {
			pseudo_make(d->pseudo, "patient", r->patient, p, sizeof p);
			rec_set_patient(r, p);
		}
		pseudo_make(d->pseudo, uid && *uid ? "uid" : "id", uid && *uid ? uid : r->id, p, sizeof p);
		frame_id(id, sizeof id, p, frame);
		rec_set_id(r, id);
		rec_meta_bool(r, KEY_PROV_PSEUDONYMIZED, 1);
		if (d->o->link && uid && *uid && frame <= 1)
			link_line(d, p, uid, source, member);
	}
	rec_write(d->w, r);
	unsigned long long n = rec_writer_count(d->w);
	if (d->o->progress && n % 100 == 0)
		fprintf(stderr, "\r%s: %llu records", argv0, n);
}

static void
bad_file(struct decoder *d, const char *source, const char *member, const char *err)
{
	if (member)
		warn("%s: member %s: %s", source, member, err);
	else
		warn("%s: %s", source, err);
	fail(d, EX_DATAERR);
}

/* where a record came from: not kept when pseudonymised */
static void
provenance(struct decoder *d, const char *source, const char *member)
{
	if (d->pseudo)
		return;
	rec_meta_str(&d->rec, KEY_PROV_SOURCE, source);
	if (member)
		rec_meta_str(&d->rec, KEY_PROV_MEMBER, member);
}

/* Decode the image in d->buf and write its record */
static void
emit_image(struct decoder *d, size_t len, const char *id, const char *path,
           const char *source, const char *member)
{
	struct record *r = &d->rec;
	struct imginfo info;
	char err[512];

	rec_clear(r);
	rec_set_id(r, id);
	if (img_decode(d->buf, len, r, "image", &info, err, sizeof err) < 0) {
		bad_file(d, source, member, err);
		return;
	}
	provenance(d, source, member);
	rec_meta_str(r, KEY_PROV_FORMAT, img_fmt_name(info.fmt));
	rec_meta_str(r, KEY_PROV_COLOR, info.color);
	rec_meta_int(r, KEY_PROV_BIT_DEPTH, info.bit_depth);
	if (info.maxval)
		rec_meta_int(r, KEY_PROV_MAXVAL, info.maxval);
	rec_meta_int(r, KEY_PROV_WIDTH, info.width);
	rec_meta_int(r, KEY_PROV_HEIGHT, info.height);
	finish(d, path, source, member, NULL, 0, info.bit_depth);
}

/* a header value into meta when the file has it; lower case for codes */
static void
meta_field(struct decoder *d, const char *key, enum dcm_field f, int lower)
{
	char buf[256];
	const char *v = dcm_field(d->dcm, f);

	if (!*v)
		return;
	snprintf(buf, sizeof buf, "%s", v);
	for (char *p = buf; lower && *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	rec_meta_str(&d->rec, key, buf);
}

/* the first (or second) of a multi-valued decimal string, as a number */
static int
ds_value(const char *s, int which, double *v)
{
	char *end;

	for (; which > 0; which--)
		if (!(s = strchr(s, '\\')))
			return 0;
		else
			s++;
	*v = strtod(s, &end);
	return end != s;
}

/* what the header says of the image and the patient (no names, no dates:
 * dicom.h's fields are all osteo reads) */
static void
dicom_meta(struct decoder *d, const struct dcm_image *m)
{
	struct record *r = &d->rec;
	const char *mod = dcm_field(d->dcm, DCM_MODALITY), *v;
	double x, y;

	rec_meta_str(r, KEY_PROV_TRANSFER_SYNTAX, m->ts_uid);
	rec_meta_str(r, KEY_PROV_TRANSFER_SYNTAX_NAME, m->ts_name);
	/* osteo's own names for the modalities its cohorts mix */
	static const char *const xray[] = { "CR", "DX", "DR", "RG", "RF", "PX", NULL };
	const char *ours = NULL;
	for (int i = 0; xray[i]; i++)
		if (!strcmp(mod, xray[i]))
			ours = "xray";
	if (!strcmp(mod, "CT"))
		ours = "ct";
	else if (!strcmp(mod, "BMD"))
		ours = "dexa";
	if (ours)
		rec_meta_str(r, KEY_PROV_MODALITY, ours);
	else
		meta_field(d, KEY_PROV_MODALITY, DCM_MODALITY, 1);
	meta_field(d, KEY_PROV_DICOM_MODALITY, DCM_MODALITY, 0);
	meta_field(d, KEY_PROV_REGION, DCM_BODY_PART, 1);
	meta_field(d, KEY_PROV_VIEW_POSITION, DCM_VIEW_POSITION, 0);
	if (*dcm_field(d->dcm, DCM_IMAGE_LATERALITY))
		meta_field(d, KEY_PROV_LATERALITY, DCM_IMAGE_LATERALITY, 0);
	else
		meta_field(d, KEY_PROV_LATERALITY, DCM_LATERALITY, 0);
	meta_field(d, KEY_PROV_SEX, DCM_PATIENT_SEX, 0);
	meta_field(d, KEY_PROV_BURNED_IN, DCM_BURNED_IN, 0);
	/* PatientAge: nnnD, nnnW, nnnM or nnnY; meta.age in years */
	v = dcm_field(d->dcm, DCM_PATIENT_AGE);
	if (strlen(v) == 4 && v[0] >= '0' && v[0] <= '9' && strchr("YMWD", v[3])) {
		double a = atof(v), per = v[3] == 'Y' ? 1 : v[3] == 'M' ? 12 : v[3] == 'W' ? 52.1775 : 365.25;
		/* pseudonymised, ages over 89 are 90: few enough to identify */
		rec_meta_float(r, KEY_PROV_AGE, d->pseudo && a / per > 89 ? 90 : a / per);
	}
	v = *dcm_field(d->dcm, DCM_PIXEL_SPACING) ? dcm_field(d->dcm, DCM_PIXEL_SPACING) :
	    dcm_field(d->dcm, DCM_IMAGER_SPACING);
	if (ds_value(v, 0, &y) && ds_value(v, 1, &x)) {
		rec_meta_float(r, KEY_PROV_SPACING_Y, y);
		rec_meta_float(r, KEY_PROV_SPACING_X, x);
	}
	if (ds_value(dcm_field(d->dcm, DCM_WINDOW_CENTER), 0, &x) && ds_value(dcm_field(d->dcm, DCM_WINDOW_WIDTH), 0, &y)) {
		rec_meta_float(r, KEY_PROV_WINDOW_CENTER, x);
		rec_meta_float(r, KEY_PROV_WINDOW_WIDTH, y);
	}
	if (!d->pseudo) {
		meta_field(d, KEY_PROV_STUDY_UID, DCM_STUDY_UID, 0);
		meta_field(d, KEY_PROV_SERIES_UID, DCM_SERIES_UID, 0);
		meta_field(d, KEY_PROV_SOP_UID, DCM_SOP_UID, 0);
		return;
	}
	static const struct { const char *key; enum dcm_field f; } uids[] = {
		{ KEY_PROV_STUDY_UID, DCM_STUDY_UID }, { KEY_PROV_SERIES_UID, DCM_SERIES_UID }, { KEY_PROV_SOP_UID, DCM_SOP_UID },
	};
	for (size_t i = 0; i < sizeof uids / sizeof *uids; i++) {
		char p[80];
		if (!*dcm_field(d->dcm, uids[i].f))
			continue;
		pseudo_make(d->pseudo, "uid", dcm_field(d->dcm, uids[i].f), p, sizeof p);
		rec_meta_str(r, uids[i].key, p);
	}
}

/* Decode the DICOM file in d->buf: a record per frame (id FILE#N when
 * there are several) */
static void
emit_dicom(struct decoder *d, size_t len, const char *id, const char *path,
           const char *source, const char *member)
{
	struct record *r = &d->rec;
	struct dcm_image m;
	char err[512];

	if (!d->dcm)
		d->dcm = dcm_reader_new();
	int st = dcm_read(d->dcm, d->buf, len, img_max_pixels, &m, err, sizeof err);
	if (st == DCM_NOPIXELS) {
		d->skipped++;
		info("%s%s%s: a DICOM object without pixel data, skipped", source, member ? ": member " : "",
		     member ? member : "");
		return;
	}
	if (st != DCM_OK) {
		bad_file(d, source, member, err);
		return;
	}
	/* text in the pixels (a name, a date) is beyond a header's
	 * pseudonymisation: such an image is refused unless allowed */
	const char *burned = dcm_field(d->dcm, DCM_BURNED_IN);
	if (d->pseudo && !d->o->allow_burned_in && !strcasecmp(burned, "YES")) {
		bad_file(d, source, member, "BurnedInAnnotation is YES: its pixels may show who the patient is, "
		         "which --pseudonymize cannot remove (--allow-burned-in takes it)");
		return;
	}
	for (int i = 0; i < m.frames; i++) {
		char fid[4096];
		rec_clear(r);
		frame_id(fid, sizeof fid, id, m.frames > 1 ? i + 1 : 0);
		rec_set_id(r, fid);
		provenance(d, source, member);
		rec_meta_str(r, KEY_PROV_FORMAT, "dicom");
		rec_meta_str(r, KEY_PROV_COLOR, m.samples == 3 ? "rgb" : "gray");
		rec_meta_int(r, KEY_PROV_WIDTH, m.cols);
		rec_meta_int(r, KEY_PROV_HEIGHT, m.rows);
		if (m.frames > 1) {
			rec_meta_int(r, KEY_PROV_FRAME, i + 1);
			rec_meta_int(r, KEY_PROV_FRAMES, m.frames);
		}
		if (dcm_frame(&m, i, r, "image", err, sizeof err) < 0) {
			bad_file(d, source, member, err);
			return;
		}
		dicom_meta(d, &m);
		if (*dcm_field(d->dcm, DCM_PATIENT_ID))
			rec_set_patient(r, dcm_field(d->dcm, DCM_PATIENT_ID));
		finish(d, path, source, member, dcm_field(d->dcm, DCM_SOP_UID), m.frames > 1 ? i + 1 : 0,
		       m.bits_stored);
	}
}

/* a file's kind from its first bytes: 1 an image, 2 DICOM, 0 neither */
static int
sniff(const unsigned char *p, size_t n)
{
	return img_sniff(p, n) != IMG_UNKNOWN ? 1 : dcm_sniff(p, n) ? 2 : 0;
}

static void
emit(struct decoder *d, size_t len, const char *id, const char *path, const char *source, const char *member)
{
	if (sniff(d->buf, len) == 2)
		emit_dicom(d, len, id, path, source, member);
	else
		emit_image(d, len, id, path, source, member);
}

static void
not_image(struct decoder *d, const char *source, const char *member)
{
	d->skipped++;
	if (d->o->strict) {
		warn("%s%s%s: not a PNG, JPEG, PNM or DICOM image (--strict)", source,
		     member ? ": member " : "", member ? member : "");
		fail(d, EX_DATAERR);
	} else
		info("%s%s%s: not an image, skipped", source, member ? ": member " : "",
		     member ? member : "");
}

/* ---------------------------------------------------------------- */
/* archives */

static int
archive_magic(const unsigned char *h, size_t n, const char *path)
{
	static const char *const exts[] = { ".tar", ".tgz", ".tar.gz", ".tar.zst", ".tzst",
	                                    ".tar.xz", ".txz", ".tar.bz2", ".zip", NULL };
	size_t pl = strlen(path);

	if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b)                  /* gzip */
		return 1;
	if (n >= 4 && !memcmp(h, "\x28\xb5\x2f\xfd", 4))              /* zstd */
		return 1;
	if (n >= 4 && !memcmp(h, "PK\x03\x04", 4))                    /* zip */
		return 1;
	if (n >= 6 && !memcmp(h, "\xfd" "7zXZ", 5))                   /* xz */
		return 1;
	if (n >= 3 && !memcmp(h, "BZh", 3))                           /* bzip2 */
		return 1;
	if (n >= 262 && !memcmp(h + 257, "ustar", 5))                 /* tar */
		return 1;
	for (int i = 0; exts[i]; i++) {
		size_t el = strlen(exts[i]);
		if (pl >= el && !strcmp(path + pl - el, exts[i]))
			return 1;
	}
	return 0;
}

/*
 * Room for need bytes, never more than limit: doubling past the
 * --max-member-bytes limit would touch up to twice it before a bomb is
 * stopped.
 */
static void
grow_buf(struct decoder *d, size_t need, size_t limit)
{
	if (need > limit)
		need = limit;
	if (need <= d->cap)
		return;
	size_t c = d->cap > limit / 2 ? limit : d->cap * 2;
	if (c < need)
		c = need;
	d->buf = erealloc(d->buf, c);
	d->cap = c;
}

/* read the archive's members; `name` is the archive's path or "-" */
void
decoder_archive(struct decoder *d, struct archive *a, const char *name)
{
	struct archive_entry *e;
	int r;
	/* one byte past the limit tells a member over it */
	size_t limit = d->o->max_member < SIZE_MAX - 1 ? d->o->max_member + 1 : SIZE_MAX;

	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *member = archive_entry_pathname(e);
		size_t len = 0;
		ssize_t got = 0;
		int raw = archive_format(a) == ARCHIVE_FORMAT_RAW;

		if (archive_entry_filetype(e) != AE_IFREG || !member)
			continue;
		member = undot(member);
		if (archive_entry_size_is_set(e) && archive_entry_size(e) > (la_int64_t)d->o->max_member) {
			warn("%s: member %s: %lld bytes, larger than the limit of %zu (--max-member-bytes)",
			     name, member, (long long)archive_entry_size(e), d->o->max_member);
			fail(d, EX_DATAERR);
			continue;
		}
		/* what the name says is skipped is never inflated */
		if (!raw && is_mask(d->m, member))
			continue;
		if (!raw && mask_name(member)) {
			if (!d->masks_skipped++)
				info("%s: masks (%s) are read from directories, not archives: skipped", name, member);
			continue;
		}
		/* the first 64 KiB tell an image (or a DICOM file) from anything
		 * else, which is skipped without inflating the rest */
		int sniffed = 0;
		for (;;) {
			grow_buf(d, len + 65536, limit);
			if (len == d->cap)
				break;
			got = archive_read_data(a, d->buf + len, d->cap - len);
			if (got <= 0)
				break;
			len += (size_t)got;
			if (!sniffed && len >= 65536) {
				sniffed = 1;
				if (!sniff(d->buf, len))
					break;
			}
		}
		if (got < 0) {
			warn("%s: member %s: %s", name, member, archive_error_string(a));
			fail(d, EX_DATAERR);
			if (got == ARCHIVE_FATAL)
				return;
			continue;
		}
		if (!sniff(d->buf, len)) {
			not_image(d, name, raw ? NULL : member);
			continue;
		}
		if (len > d->o->max_member) {
			/* a decompression bomb stops here, not when memory runs out */
			warn("%s: member %s: larger than the limit of %zu bytes (--max-member-bytes)",
			     name, member, d->o->max_member);
			fail(d, EX_DATAERR);
			continue;
		}
		if (raw)
			emit(d, len, "-", "-", "-", NULL);
		else
			emit(d, len, member, member, name, member);
	}
	if (r != ARCHIVE_EOF) {
		warn("%s: %s", name, archive_error_string(a));
		fail(d, EX_DATAERR);
	}
}

struct archive *
decoder_archive_new(int raw)
{
	struct archive *a = archive_read_new();

	if (!a)
		die(EX_OSERR, "out of memory");
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_format_zip(a);
	if (raw)
		archive_read_support_format_raw(a);
	return a;
}

static void
decode_archive_path(struct decoder *d, const char *path)
{
	struct archive *a = decoder_archive_new(0);

	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
		warn("%s: %s", path, archive_error_string(a));
		fail(d, EX_DATAERR);
	} else
		decoder_archive(d, a, path);
	archive_read_free(a);
}

/* stdin: an archive, or one image (libarchive's raw format passes it on) */
static void
decode_stdin(struct decoder *d)
{
	struct archive *a = decoder_archive_new(1);

	if (archive_read_open_fd(a, 0, 65536) != ARCHIVE_OK) {
		warn("<stdin>: %s", archive_error_string(a));
		fail(d, EX_DATAERR);
	} else
		decoder_archive(d, a, "-");
	archive_read_free(a);
}

/* ---------------------------------------------------------------- */
/* files and directories */

void
decoder_file(struct decoder *d, const char *path, const char *id)
{
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		warn("%s: cannot open:", path);
		fail(d, EX_NOINPUT);
		return;
	}
	/* the first block tells an image from an archive; an image is read on
	 * into the same buffer, an archive is handed to libarchive by path */
	egrow((void **)&d->buf, &d->cap, 65536);
	do
		n = read(fd, d->buf, 65536);
	while (n < 0 && errno == EINTR);
	if (n >= 0 && !sniff(d->buf, (size_t)n)) {
		close(fd);
		if (archive_magic(d->buf, (size_t)n, path))
			decode_archive_path(d, path);
		else
			not_image(d, path, NULL);
		return;
	}
	size_t limit = d->o->max_member < SIZE_MAX - 1 ? d->o->max_member + 1 : SIZE_MAX;
	while (n > 0) {
		len += (size_t)n;
		if (len > d->o->max_member)
			break;
		grow_buf(d, len + 65536, limit);
		do
			n = read(fd, d->buf + len, d->cap - len);
		while (n < 0 && errno == EINTR);
	}
	if (n < 0) {
		warn("%s: read error:", path);
		close(fd);
		fail(d, EX_IOERR);
		return;
	}
	close(fd);
	if (len > d->o->max_member) {
		warn("%s: larger than the limit of %zu bytes (--max-member-bytes)", path, d->o->max_member);
		fail(d, EX_DATAERR);
		return;
	}
	emit(d, len, id, path, path, NULL);
}

static int
byname(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int
notdots(const struct dirent *e)
{
	return strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
}

static char *
join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = emalloc(la + lb + 2);

	memcpy(s, a, la);
	if (la && a[la - 1] != '/')
		s[la++] = '/';
	memcpy(s + la, b, lb + 1);
	return s;
}

/* dir is the path to open; rel the id prefix below the walked root */
static void
walk(struct decoder *d, const char *dir, const char *rel)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, notdots, byname);

	if (n < 0) {
		warn("%s: cannot read directory:", dir);
		fail(d, EX_NOINPUT);
		return;
	}
	for (int i = 0; i < n; i++) {
		char *full = join(dir, ents[i]->d_name);
		char *id = rel ? join(rel, ents[i]->d_name) : estrdup(ents[i]->d_name);
		struct stat st;
		unsigned char type = ents[i]->d_type;

		/* d_type saves a stat per file; links and odd file systems need one */
		if (type == DT_UNKNOWN || type == DT_LNK || (d->m && type == DT_REG)) {
			struct stat lst;
			if (lstat(full, &lst) < 0 || stat(full, &st) < 0) {
				warn("%s: cannot stat:", full);
				type = DT_UNKNOWN;
			} else if (S_ISDIR(st.st_mode))
				type = S_ISLNK(lst.st_mode) ? DT_LNK : DT_DIR;
			else if (S_ISREG(st.st_mode))
				type = d->m && st.st_dev == d->m->dev && st.st_ino == d->m->ino ? DT_UNKNOWN : DT_REG;
			else
				type = DT_UNKNOWN;
		}
		if (type == DT_DIR)
			walk(d, full, id);
		else if (type == DT_REG && !is_mask(d->m, full) && !mask_name(full))
			decoder_file(d, full, id);
		free(full);
		free(id);
		free(ents[i]);
	}
	free(ents);
}

void
decoder_input(struct decoder *d, const char *path)
{
	struct stat st;

	if (!strcmp(path, "-")) {
		decode_stdin(d);
		return;
	}
	if (stat(path, &st) < 0) {
		warn("%s: cannot open:", path);
		fail(d, EX_NOINPUT);
		return;
	}
	if (S_ISDIR(st.st_mode))
		walk(d, path, NULL);
	else
		decoder_file(d, path, path);
}

void
decoder_list(struct decoder *d, const char *listpath)
{
	FILE *fp = strcmp(listpath, "-") ? fopen(listpath, "r") : stdin;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!fp)
		die(EX_NOINPUT, "%s: cannot open:", listpath);
	while ((n = getline(&line, &cap, fp)) > 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n > 0)
			decoder_input(d, line);
	}
	if (ferror(fp))
		die(EX_IOERR, "%s: read error:", listpath);
	free(line);
	if (fp != stdin)
		fclose(fp);
}


struct decoder *
decoder_open(const struct decode_opts *o, FILE *out, const char *outname)
{
	struct decoder *d = ecalloc(1, sizeof *d);

	d->o = o;
	if (o->patient_from) {
		int e = regcomp(&d->patient_re, o->patient_from, REG_EXTENDED);
		if (e) {
			char msg[256];
			regerror(e, &d->patient_re, msg, sizeof msg);
			die(EX_USAGE, "--patient-from '%s': %s", o->patient_from, msg);
		}
	}
	if (o->manifest)
		d->m = manifest_load(o->manifest, &o->classes);
	if (o->keyfile) {
		d->pseudo = emalloc(sizeof *d->pseudo);
		pseudo_load(d->pseudo, o->keyfile);
	}
	d->w = rec_writer_new(out, outname);
	rec_init(&d->rec);
	return d;
}

int
decoder_close(struct decoder *d)
{
	int st, status = d->status;

	if (d->o->progress)
		fputc('\n', stderr);
	if (d->m && d->m->unmatched)
		warn("%zu images not in the manifest %s; labelled from their paths",
		     d->m->unmatched, d->o->manifest);
	if (d->o->progress)
		info("%llu records, %llu files skipped", rec_writer_count(d->w), d->skipped);
	st = rec_writer_close(d->w);
	rec_free(&d->rec);
	dcm_reader_free(d->dcm);
	if (d->o->patient_from)
		regfree(&d->patient_re);
	free(d->pseudo);
	free(d);
	return st ? st : status;
}
