/*
 * osteo-sr - predictions of DICOM images back to the PACS as DICOM: a
 * Comprehensive SR per study, and each heat map as a Secondary Capture
 * image, in the source study (common/dicom/sr.cc, dcmtk).
 *
 *   osteo-infer -m model --heatmap pred.rec | osteo-sr --uid-root 1.2.3 -o out/
 *
 * A report copies its patient and study from a source image's file, so
 * a record must name that file (meta.source) or, pseudonymised, be found
 * in the link file osteo-decode --link wrote inside the hospital; one
 * whose identity cannot be traced back is refused (65), as is a stream
 * of pseudonyms given without --link.  The objects' UIDs are the site's
 * root and a hash of what they report (study, model, images), so sending
 * the same answers twice sends the same instances.  Nothing is written
 * unless everything could be: the objects are made in a temporary folder
 * inside the output and moved into it at the end.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/dicom/sr.h"
#include "common/record/classes.h"
#include "common/record/contract.h"
#include "common/record/input.h"
#include "common/record/record.h"
#include "common/base/rng.h"
#include "common/base/strmap.h"
#include "common/base/util.h"
#include "common/record/cli.h"

static const char usage[] = "osteo-sr [-q] --uid-root ROOT -o DIR [--link FILE] [--no-heatmaps] [FILE|-]...";
static const char options[] =
	"  -o, --output DIR       where the DICOM objects go (made if missing); their paths on stdout\n"
	"  --uid-root ROOT        the site's UID root the new objects' UIDs are made under\n"
	"  --link FILE            osteo-decode --link's file: pseudonymised records back to their sources\n"
	"  --no-heatmaps          the reports only (default: a Secondary Capture per heat map too)\n";

struct opts {
	const char *out, *root, *link;
	int heatmaps;
	char **inputs;
	int ninputs;
};

/* one prediction: what its study's objects need of it */
struct img {
	char *path;
	struct sr_source src;
	double *p;
	int pred;
	double risk, unc;
	float *heat;
	int hh, hw, heat_class;
	char *heat_mode;
	long study;
};

struct link {
	struct strmap at;        /* pseudonym -> row */
	char **orig, **path;
	long n;
};

/* a UID root: numeric components, no leading zeros, short enough for
 * the two components and twenty digits added below it */
static int
valid_root(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 40)
		return 0;
	for (const char *c = s; *c; c++) {
		if (*c == '.') {
			if (c == s || !c[1] || c[1] == '.')
				return 0;
		} else if (*c < '0' || *c > '9')
			return 0;
		if ((c == s || c[-1] == '.') && *c == '0' && c[1] && c[1] != '.')
			return 0;
	}
	return 1;
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_ROOT = 256, O_LINK, O_NOHEAT };
	static const struct option longopts[] = {
		{ "output", required_argument, 0, 'o' },
		{ "uid-root", required_argument, 0, O_ROOT },
		{ "link", required_argument, 0, O_LINK },
		{ "no-heatmaps", no_argument, 0, O_NOHEAT },
		CLI_COMMON_OPTIONS
	};
	int c;

	memset(o, 0, sizeof *o);
	o->heatmaps = 1;
	cli_help(options);
	while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': o->out = optarg; break;
		case O_ROOT: o->root = optarg; break;
		case O_LINK: o->link = optarg; break;
		case O_NOHEAT: o->heatmaps = 0; break;
		default: cli_common(c, usage);
		}
	}
	if (!o->out)
		usage_error(usage, "-o names the folder the DICOM objects go to");
	if (!o->root)
		usage_error(usage, "--uid-root: the site's UID root (its own, registered or 2.25-derived) is needed");
	if (!valid_root(o->root))
		usage_error(usage, "--uid-root: '%s' is not a UID root of at most 40 characters (digits and dots)",
		            o->root);
	o->inputs = argv + optind;
	o->ninputs = argc - optind;
}

/* the link file: pseudonym, original SOP instance UID and source path,
 * tab-separated, a line each */
static void
link_load(struct link *l, const char *path)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	long cap_rows = 0;
	ssize_t len;

	memset(l, 0, sizeof *l);
	strmap_init(&l->at);
	if (!fp)
		die(EX_NOINPUT, "%s: cannot open:", path);
	for (long no = 1; (len = getline(&line, &cap, fp)) > 0; no++) {
		if (line[len - 1] == '\n')
			line[--len] = 0;
		char *a = line, *b = strchr(a, '\t'), *c = b ? strchr(b + 1, '\t') : NULL;
		if (!c || strchr(c + 1, '\t') || !c[1])
			die(EX_DATAERR, "%s: line %ld: not pseudonym, UID and path separated by tabs", path, no);
		*b++ = 0, *c++ = 0;
		if (l->n == cap_rows) {
			cap_rows = cap_rows ? 2 * cap_rows : 64;
			l->orig = erealloc(l->orig, cap_rows * sizeof *l->orig);
			l->path = erealloc(l->path, cap_rows * sizeof *l->path);
		}
		l->orig[l->n] = estrdup(b);
		l->path[l->n] = estrdup(c);
		strmap_put(&l->at, a, l->n++);
	}
	if (ferror(fp))
		die(EX_IOERR, "%s: read error:", path);
	free(line);
	fclose(fp);
}

static void
link_free(struct link *l)
{
	for (long i = 0; i < l->n; i++)
		free(l->orig[i]), free(l->path[i]);
	free(l->orig), free(l->path);
	strmap_free(&l->at);
}

/* the record's source file and the SOP instance it must hold */
static const char *
source_of(struct input *in, const struct record *r, const struct link *l, const char **sop)
{
	const struct metaval *ps = rec_meta(r, KEY_PROV_PSEUDONYMIZED);
	const char *uid = rec_meta_s(r, KEY_PROV_SOP_UID);

	if (!*uid || !*rec_meta_s(r, KEY_PROV_STUDY_UID))
		input_die(in, r, "no DICOM identity (meta.study_uid, meta.sop_uid): osteo-sr reports on images "
		          "osteo-decode read from DICOM files");
	if (ps && ps->i) {
		if (!l)
			input_die(in, r, "pseudonymised: its UIDs are pseudonyms, and what goes back to the PACS must "
			          "reference the originals; --link names the file osteo-decode --link kept inside the "
			          "hospital");
		long at = strmap_get(&l->at, uid);
		if (at < 0)
			input_die(in, r, "its pseudonym %s is not in the link file", uid);
		*sop = l->orig[at];
		return l->path[at];
	}
	const char *src = rec_meta_s(r, KEY_PROV_SOURCE);
	if (!*src)
		input_die(in, r, "no meta.source: osteo-sr copies the patient and study from the source file");
	if (*rec_meta_s(r, KEY_PROV_MEMBER))
		input_die(in, r, "its source is a member of %s: osteo-sr reads the patient and study from a file "
		          "of its own (unpack the archive and decode the files)", src);
	*sop = uid;
	return src;
}

/* a UID under the root: the kind of object, then a hash of what it
 * reports (a component of at most 19 digits, none leading zero) */
static void
make_uid(char *out, const char *root, int kind, uint64_t h)
{
	snprintf(out, SR_UID, "%s.%d.%llu", root, kind, (unsigned long long)(h >> 1) + 1);
}

static uint64_t
hash2(const char *a, const char *b)
{
	return hash_str(hash_str(0x6f737465, a), b);
}

static void
read_one(struct input *in, struct record *r, const struct link *l, int heatmaps, struct img *im)
{
	const char *sop, *path = source_of(in, r, l, &sop);
	char err[512];

	if (sr_read_source(path, &im->src, err, sizeof err) < 0) {
		if (access(path, R_OK) < 0)
			die(EX_NOINPUT, "%s: record %s's source: cannot open:", path, r->id);
		input_die(in, r, "its source %s: %s", path, err);
	}
	if (strcmp(im->src.sop, sop))
		input_die(in, r, "its source %s is SOP instance %s, not %s (the file changed since it was decoded?)",
		          path, im->src.sop, sop);
	im->path = estrdup(path);
	im->p = emalloc(r->nprobs * sizeof *im->p);
	memcpy(im->p, r->probs, r->nprobs * sizeof *im->p);
	im->pred = (int)r->pred;
	im->risk = r->risk;
	const struct metaval *u = rec_meta(r, KEY_INFER_UNCERTAINTY);
	im->unc = u ? (u->type == MV_FLOAT ? u->f : (double)u->i) : NAN;
	const struct tensor *h = heatmaps ? rec_tensor(r, TENSOR_HEATMAP) : NULL;
	if (h) {
		if (h->dtype != DT_F32 || h->ndim != 3 || h->shape[0] != 1 || !h->shape[1] || !h->shape[2] ||
		    h->shape[1] > 65535 || h->shape[2] > 65535)
			input_die(in, r, "heatmap: not f32 [1, h, w] with sides from 1 to 65535");
		im->hh = (int)h->shape[1], im->hw = (int)h->shape[2];
		im->heat = emalloc(h->nbytes);
		memcpy(im->heat, h->data, h->nbytes);
		const struct metaval *hc = rec_meta(r, KEY_INFER_HEATMAP_CLASS);
		const char *mode = rec_meta_s(r, KEY_INFER_HEATMAP_MODE);
		im->heat_class = hc && hc->type == MV_INT ? (int)hc->i : -1;
		im->heat_mode = *mode ? estrdup(mode) : NULL;
	}
}

/* an object's bytes into path, synced (atomic_commit: any write error is
 * 74, naming it) */
static void
write_file(const char *path, const unsigned char *buf, size_t len)
{
	char *tmp;
	FILE *fp = atomic_open(path, &tmp);

	fwrite(buf, 1, len, fp);
	atomic_commit(fp, tmp, path);
}

/* the model and classes every record must share */
struct made_by {
	char *file, *sha, *version, *classes;
	struct classes cl;       /* classes, parsed */
};

static void
same_model(struct input *in, const struct record *r, struct made_by *m)
{
	const char *keys[4] = { KEY_INFER_MODEL_FILE, KEY_INFER_MODEL_SHA256, KEY_INFER_VERSION, KEY_INFER_CLASSES };
	char **have[4] = { &m->file, &m->sha, &m->version, &m->classes };
	const char *err;

	for (int i = 0; i < 4; i++) {
		const char *v = rec_meta_s(r, keys[i]);
		if (!*v)
			input_die(in, r, "no meta.%s: the report names the model, which osteo-infer writes there", keys[i]);
		if (!*have[i])
			*have[i] = estrdup(v);
		else if (strcmp(*have[i], v))
			input_die(in, r, "meta.%s is %s where earlier records had %s: one model's predictions a run",
			          keys[i], v, *have[i]);
	}
	if (!m->cl.n && classes_read(&m->cl, m->classes, &err) < 0)
		input_die(in, r, "meta.%s: %s", KEY_INFER_CLASSES, err);
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct input in;
	struct record r;
	struct link lk, *l = NULL;
	struct made_by m = { 0 };
	struct strmap studies;
	struct img *im = NULL;
	size_t n = 0, cap = 0;
	long nstudies = 0;
	char err[512];

	cli_init(argv[0]);
	parse_args(argc, argv, &o);
	if (o.link)
		link_load(l = &lk, o.link);

	/* the predictions, each traced to its source file */
	strmap_init(&studies);
	rec_init(&r);
	input_open(&in, o.inputs, o.ninputs);
	input_unique_ids(&in);
	while (input_read(&in, &r)) {
		if (!r.has_probs || !r.has_pred || !r.has_risk)
			input_die(&in, &r, "no prediction (probs, pred, risk): osteo-infer's output is osteo-sr's input");
		same_model(&in, &r, &m);
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			im = erealloc(im, cap * sizeof *im);
		}
		memset(&im[n], 0, sizeof im[n]);
		read_one(&in, &r, l, o.heatmaps, &im[n]);
		if (r.nprobs != m.cl.n)
			input_die(&in, &r, "%d probabilities for the %d classes of meta.infer.classes", r.nprobs, m.cl.n);
		if (r.pred < 0 || r.pred >= r.nprobs)
			input_die(&in, &r, "pred %lld is not a class of the %d", r.pred, r.nprobs);
		long s = strmap_get(&studies, im[n].src.study);
		if (s < 0)
			strmap_put(&studies, im[n].src.study, s = nstudies++);
		im[n].study = s;
		input_hold(&in, &r, ++n);
	}
	input_close(&in);
	if (!n) {
		info("no records: nothing to send");
		return 0;
	}

	int k = m.cl.n;
	/* the objects, into a temporary folder inside the output */
	if (mkdir(o.out, 0755) < 0 && errno != EEXIST)
		die(EX_CANTCREAT, "%s: cannot make:", o.out);
	char *tmpdir = emalloc(strlen(o.out) + 64);
	snprintf(tmpdir, strlen(o.out) + 64, "%s/.osteo-sr.%ld", o.out, (long)getpid());
	cleanup_push(tmpdir);
	if (mkdir(tmpdir, 0700) < 0)
		die(EX_CANTCREAT, "%s: cannot make:", tmpdir);
	size_t cap_names = 64, nnames = 0;
	char **names = emalloc(cap_names * sizeof *names);
	struct sr_image *si = emalloc(n * sizeof *si);
	double *mean = emalloc(k * sizeof *mean);
	for (long s = 0; s < nstudies; s++) {
		struct sr_study st = { m.file, m.sha, m.version, k, m.cl.names, si, 0, { mean, 0, 0, 0 } };
		char series[SR_UID], sop[SR_UID], hseries[SR_UID];
		int all_unc = 1;
		for (int c = 0; c < k; c++)
			mean[c] = 0;
		st.all.risk = 0;
		for (size_t i = 0; i < n; i++) {
			if (im[i].study != s)
				continue;
			struct sr_image *x = &si[st.n++];
			x->path = im[i].path;
			x->src = im[i].src;
			x->a = (struct sr_answer){ im[i].p, im[i].pred, im[i].risk, im[i].unc };
			x->heat = im[i].heat, x->hh = im[i].hh, x->hw = im[i].hw;
			x->heat_class = im[i].heat_class, x->heat_mode = im[i].heat_mode;
			for (int c = 0; c < k; c++)
				mean[c] += im[i].p[c];
			st.all.risk += im[i].risk;
			all_unc &= !isnan(im[i].unc);
		}
		/* the study's answer: its images' mean, as osteo-metrics
		 * --per-patient takes a patient's */
		for (int c = 0; c < k; c++)
			mean[c] /= st.n;
		st.all.pred = class_argmax(mean, k);
		st.all.risk /= st.n;
		st.all.unc = all_unc ? 1 - mean[st.all.pred] : NAN;

		/* the same study, model and images: the same UIDs */
		uint64_t h = hash2(si[0].src.study, m.sha);
		make_uid(series, o.root, 1, h);
		make_uid(hseries, o.root, 3, h);
		for (int i = 0; i < st.n; i++)
			h = hash_str(h, si[i].src.sop);
		make_uid(sop, o.root, 2, h);
		for (int i = -1; i < st.n; i++) {
			char path[4096], name[SR_UID + 8], hsop[SR_UID];
			unsigned char *buf;
			size_t len;
			int rc;
			if (i >= 0 && !si[i].heat)
				continue;
			if (i < 0) {
				snprintf(name, sizeof name, "%s.dcm", sop);
				rc = sr_make_report(&st, series, sop, &buf, &len, err, sizeof err);
			} else {
				make_uid(hsop, o.root, 4, hash2(si[i].src.sop, m.sha));
				snprintf(name, sizeof name, "%s.dcm", hsop);
				rc = sr_make_heatmap(&st, i, hseries, hsop, &buf, &len, err, sizeof err);
			}
			if (rc < 0)
				die(EX_SOFTWARE, "study %s: %s", si[0].src.study, err);
			snprintf(path, sizeof path, "%s/%s", tmpdir, name);
			write_file(path, buf, len);
			free(buf);
			if (nnames == cap_names)
				names = erealloc(names, (cap_names *= 2) * sizeof *names);
			names[nnames++] = estrdup(name);
		}
	}

	/* every object made: into place, and named on stdout */
	for (size_t i = 0; i < nnames; i++) {
		char from[4096], to[4096];
		snprintf(from, sizeof from, "%s/%s", tmpdir, names[i]);
		snprintf(to, sizeof to, "%s/%s", o.out, names[i]);
		if (rename(from, to) < 0)
			die(EX_IOERR, "%s: cannot rename to %s:", from, to);
	}
	if (rmdir(tmpdir) < 0)
		die(EX_IOERR, "%s: cannot remove:", tmpdir);
	cleanup_pop(tmpdir);
	for (size_t i = 0; i < nnames; i++)
		printf("%s/%s\n", o.out, names[i]);
	if (fflush(stdout) == EOF || ferror(stdout))
		die(EX_IOERR, "standard output: write error:");
	info("%zu records of %ld studies: %zu objects in %s", n, nstudies, nnames, o.out);

	/* clean up */
	for (size_t i = 0; i < n; i++)
		free(im[i].path), free(im[i].p), free(im[i].heat), free(im[i].heat_mode);
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names), free(im), free(si), free(mean), free(tmpdir);
	free(m.file), free(m.sha), free(m.version), free(m.classes);
	classes_free(&m.cl);
	if (l)
		link_free(l);
	strmap_free(&studies);
	rec_free(&r);
	return 0;
}
