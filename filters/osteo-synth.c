/*
 * osteo-synth - a synthetic cohort that stands in for real exports.
 *
 * Each patient has a latent bone quality q in (0, 1).  The class comes
 * first (drawn by --prevalence), then q from a class-dependent normal with
 * overlap, so even a perfect reader of q cannot be always right.  Images
 * show bone with a cortical shell whose thickness follows q and a
 * trabecular network of struts whose spacing, thickness and length
 * (connectivity) fall with q; horizontal struts thin out first, as they do
 * in osteoporosis.  Clinical columns follow the class as in life: age and
 * fractures go up, the T-score goes down, with enough noise that no single
 * column gives the class away (unless --leak, for testing leakage checks).
 *
 * Everything is drawn from generators keyed by --seed and the patient's
 * key, so a cohort is the same bytes on every run.  The world itself is
 * common/cohort/cohort.c; this file is its options, its CSVs and where it goes
 * (a tree or tar.gz through common/image/outtree.c, or records).
 */
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cohort/cohort.h"
#include "common/record/contract.h"
#include "common/image/image.h"
#include "common/image/outtree.h"
#include "common/record/record.h"
#include "common/base/rng.h"
#include "common/base/util.h"
#include "common/record/cli.h"

static const char usage[] =
	"osteo-synth [-q] [-n PATIENTS] [--seed N] [--images MAX] [--size WxH]\n"
	"       [--prevalence H,P,O] [--leak] [--masks] (-o DIR | --tar -o FILE.tar.gz |\n"
	"       --records [--clinical FILE.csv] [--truth FILE.csv])";
static const char options[] =
	"  -n, --patients N      patients (default 60)\n"
	"  --seed N               the cohort's generator (default 1)\n"
	"  --images MAX           images per patient, 1 to MAX (default 3)\n"
	"  --size WxH             every image this size (default: by modality)\n"
	"  --prevalence H,P,O     the classes' relative frequencies (default 0.4,0.35,0.25)\n"
	"  --leak                 a T-score that gives the class away (to test leakage checks)\n"
	"  --masks                a bone mask beside each image\n"
	"  -o, --output DIR      write a tree of PNGs with clinical, manifest and truth CSVs\n"
	"  --tar                  with -o FILE.tar.gz: the same tree as an archive\n"
	"  --records              write records to standard output instead\n"
	"  --clinical FILE.csv    with --records: write the clinical table there\n"
	"  --truth FILE.csv       with --records: write each patient's latent quality and Bayes class there\n";

#define MAXIMAGES 100           /* --images: a patient's images at most */

struct opts {
	int n;
	struct cohort c;        /* what the patients and images are like */
	int tar;
	int records;
	const char *out;
	const char *clinical;
	const char *truth;
};


/* where images go: a directory tree or a tar.gz (outtree.h), or a record stream */
struct sink {
	const struct opts *o;
	struct outtree tree;
	struct rec_writer *w;    /* records */
	struct record rec;
	unsigned char *png;
	size_t pngcap;
};

/* ---------------------------------------------------------------- */
/* arguments */

static void
parse_prev(const char *s, double p[3])
{
	eparse_numbers(s, p, 3, 3, 0, 1e9, "--prevalence");
	double sum = p[0] + p[1] + p[2];
	if (sum <= 0)
		die(EX_USAGE, "--prevalence: the numbers must not all be 0");
	for (int i = 0; i < 3; i++)
		p[i] /= sum;
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_SEED = 256, O_IMAGES, O_SIZE, O_PREV, O_LEAK, O_MASKS, O_TAR, O_RECORDS, O_CLIN, O_TRUTH };
	static const struct option longopts[] = {
		{ "patients", required_argument, 0, 'n' },
		{ "seed", required_argument, 0, O_SEED },
		{ "images", required_argument, 0, O_IMAGES },
		{ "size", required_argument, 0, O_SIZE },
		{ "prevalence", required_argument, 0, O_PREV },
		{ "leak", no_argument, 0, O_LEAK },
		{ "masks", no_argument, 0, O_MASKS },
		{ "truth", required_argument, 0, O_TRUTH },
		{ "tar", no_argument, 0, O_TAR },
		{ "records", no_argument, 0, O_RECORDS },
		{ "clinical", required_argument, 0, O_CLIN },
		{ "output", required_argument, 0, 'o' },
		CLI_COMMON_OPTIONS
	};
	int c;

	memset(o, 0, sizeof *o);
	o->n = 60;
	o->c.seed = 1;
	o->c.maximages = 3;
	parse_prev("0.4,0.35,0.25", o->c.prev);
	cli_help(options);
	while ((c = getopt_long(argc, argv, "n:o:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': o->n = (int)estrtonum(optarg, 1, 1000000, "-n"); break;
		case O_SEED: o->c.seed = (unsigned long long)estrtonum(optarg, 0, INT64_MAX, "--seed"); break;
		case O_IMAGES: o->c.maximages = (int)estrtonum(optarg, 1, MAXIMAGES, "--images"); break;
		case O_SIZE: eparse_size(optarg, &o->c.w, &o->c.h, "--size"); break;
		case O_PREV: parse_prev(optarg, o->c.prev); break;
		case O_LEAK: o->c.leak = 1; break;
		case O_MASKS: o->c.masks = 1; break;
		case O_TRUTH: o->truth = optarg; break;
		case O_TAR: o->tar = 1; break;
		case O_RECORDS: o->records = 1; break;
		case O_CLIN: o->clinical = optarg; break;
		case 'o': o->out = optarg; break;
		default: cli_common(c, usage);
		}
	}
	if (optind < argc)
		usage_error(usage, "unexpected argument '%s'", argv[optind]);
	if (o->records == !!o->out)
		usage_error(usage, "give either -o (a directory, or a .tar.gz with --tar) or --records");
	if (o->clinical && !o->records)
		usage_error(usage, "--clinical goes with --records; -o writes clinical.csv itself");
	if (o->truth && !o->records)
		usage_error(usage, "--truth goes with --records; -o writes truth.csv itself");
}

/* ---------------------------------------------------------------- */
/* output */

static void
sink_open(struct sink *s, const struct opts *o)
{
	memset(s, 0, sizeof *s);
	s->o = o;
	rec_init(&s->rec);
	if (o->records)
		s->w = rec_writer_new(stdout, "<stdout>");
	else
		outtree_open(&s->tree, o->out, o->tar);
}

/* a growing text buffer for the CSVs */
/* write a text to path atomically (beside a record stream) */
static void
write_text(const char *path, const struct text *t)
{
	char *tmp;
	FILE *fp = atomic_open(path, &tmp);

	if (fwrite(t->s, 1, t->len, fp) != t->len)
		die(EX_IOERR, "%s: write error:", tmp);
	atomic_commit(fp, tmp, path);
}

static void
sink_close(struct sink *s, const struct text *clinical, const struct text *manifest, const struct text *truth)
{
	if (s->w) {
		int st = rec_writer_close(s->w);
		if (st)
			quit(st);
		if (s->o->clinical)
			write_text(s->o->clinical, clinical);
		if (s->o->truth)
			write_text(s->o->truth, truth);
		return;
	}
	outtree_file(&s->tree, "clinical.csv", clinical->s, clinical->len);
	outtree_file(&s->tree, "manifest.csv", manifest->s, manifest->len);
	outtree_file(&s->tree, "truth.csv", truth->s, truth->len);
	outtree_commit(&s->tree);
}

/* a patient's images (and masks) as PNG bytes, drawn by one thread and
 * written, in order, by the main one */
struct drawn {
	unsigned char *png[2 * MAXIMAGES];   /* image k-1 at 2(k-1), its mask after it */
	size_t len[2 * MAXIMAGES], cap[2 * MAXIMAGES];
};

static void
image_path(const struct patient *p, int k, char *rel, size_t n)
{
	snprintf(rel, n, "%s/%.64s/%s_%s_%d.png", cohort_classes[p->label], p->key, cohort_modalities[p->modality],
	         cohort_regions[p->region], k);
}

static void
draw_patient(const struct opts *o, const struct patient *p, struct record *r, struct drawn *d)
{
	char rel[256], err[256];

	for (int k = 1; k <= p->nimages; k++) {
		rec_clear(r);
		render(&o->c, p, k, r);
		if (img_png_encode(rec_tensor(r, TENSOR_IMAGE), 1, &d->png[2 * k - 2], &d->cap[2 * k - 2], &d->len[2 * k - 2],
		                   err, sizeof err) < 0) {
			image_path(p, k, rel, sizeof rel);
			die(EX_SOFTWARE, "%s: %s", rel, err);
		}
		if (o->c.masks) {
			/* beside the image, 0 and 255 so that it can be looked at */
			struct tensor *m = rec_tensor(r, TENSOR_MASK);
			for (size_t i = 0; i < tensor_elems(m); i++)
				((uint8_t *)m->data)[i] *= 255;
			if (img_png_encode(m, 1, &d->png[2 * k - 1], &d->cap[2 * k - 1], &d->len[2 * k - 1], err,
			                   sizeof err) < 0) {
				image_path(p, k, rel, sizeof rel);
				die(EX_SOFTWARE, "%s's mask: %s", rel, err);
			}
		}
	}
}

static void
write_patient(struct sink *s, const struct patient *p, const struct drawn *d, struct text *manifest)
{
	char rel[256], mrel[256];

	for (int k = 1; k <= p->nimages; k++) {
		image_path(p, k, rel, sizeof rel);
		outtree_file(&s->tree, rel, d->png[2 * k - 2], d->len[2 * k - 2]);
		text_add(manifest, "%s,%s,%s,%s,%s", rel, cohort_classes[p->label], p->key,
		         cohort_modalities[p->modality], cohort_regions[p->region]);
		if (s->o->c.masks) {
			snprintf(mrel, sizeof mrel, "%.*s.mask.png", (int)strlen(rel) - 4, rel);
			outtree_file(&s->tree, mrel, d->png[2 * k - 1], d->len[2 * k - 1]);
			text_add(manifest, ",%s", mrel);
		}
		text_add(manifest, "\n");
	}
}

/* --records: each image as a record, in order */
static void
emit_records(struct sink *s, const struct patient *p)
{
	char rel[256];

	for (int k = 1; k <= p->nimages; k++) {
		struct record *r = &s->rec;
		image_path(p, k, rel, sizeof rel);
		rec_clear(r);
		render(&s->o->c, p, k, r);
		rec_set_id(r, rel);
		rec_set_patient(r, p->key);
		r->has_label = 1;
		r->label = p->label;
		rec_meta_str(r, KEY_PROV_CLASS, cohort_classes[p->label]);
		/* the step osteo-decode would write for its PNG files */
		prep_step(r, "decode", "channels", "1", "depth", "8", NULL);
		rec_write(s->w, r);
	}
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct sink s;
	struct text clinical = { 0 }, manifest = { 0 }, truth = { 0 };
	double post[3];
	unsigned long long nimages = 0, per[3] = { 0 };

	/* arguments */
	cli_init(argv[0]);
	parse_args(argc, argv, &o);

	/* prepare */
	sink_open(&s, &o);
	text_add(&clinical, "patient,age,sex,bmd_tscore,fracture_history,modality,region,label\n");
	text_add(&manifest, "path,label,patient,modality,region%s\n", o.c.masks ? ",mask" : "");
	text_add(&truth, "patient,quality,bayes_class,p_healthy,p_osteopenia,p_osteoporosis\n");

	/* process: patients in chunks, drawn and encoded on every core, written
	 * in order, so the files are the same bytes however many threads */
	enum { CHUNK = 64 };
	static struct patient pp[CHUNK];
	static struct drawn drawn[CHUNK];
	for (int i0 = 0; i0 < o.n; i0 += CHUNK) {
		int nc = o.n - i0 < CHUNK ? o.n - i0 : CHUNK;
		for (int j = 0; j < nc; j++)
			make_patient(&o.c, i0 + j, &pp[j]);
		if (!s.w) {
#pragma omp parallel
			{
				struct record r;
				rec_init(&r);
#pragma omp for schedule(dynamic)
				for (int j = 0; j < nc; j++)
					draw_patient(&o, &pp[j], &r, &drawn[j]);
				rec_free(&r);
			}
		}
		for (int j = 0; j < nc; j++) {
			const struct patient *p = &pp[j];
			text_add(&clinical, "%s,%d,%c,%.1f,%s,%s,%s,%s\n", p->key, p->age, p->sex, p->tscore,
			         p->fracture ? "yes" : "no", cohort_modalities[p->modality], cohort_regions[p->region],
			         cohort_classes[p->label]);
			int best = bayes_class(&o.c, p->q, post);
			text_add(&truth, "%s,%.4f,%s,%.4f,%.4f,%.4f\n", p->key, p->q, cohort_classes[best], post[0],
			         post[1], post[2]);
			if (s.w)
				emit_records(&s, p);
			else
				write_patient(&s, p, &drawn[j], &manifest);
			nimages += p->nimages;
			per[p->label]++;
		}
	}
	for (int j = 0; j < CHUNK; j++)
		for (int k = 0; k < 2 * MAXIMAGES; k++)
			free(drawn[j].png[k]);

	/* clean up */
	sink_close(&s, &clinical, &manifest, &truth);
	info("%d patients (%llu healthy, %llu osteopenia, %llu osteoporosis), %llu images%s%s",
	     o.n, per[0], per[1], per[2], nimages, o.out ? " in " : "", o.out ? o.out : "");
	free(clinical.s);
	free(manifest.s);
	free(truth.s);
	rec_free(&s.rec);
	return 0;
}
