/*
 * osteo-decode - image files, directories and archives into records: the
 * command line of common/decode (decode.c says what a record gets).
 *
 * Each image becomes one record with an `image` tensor [C,H,W] (u8, or
 * u16 for 16-bit files), a label from a path component that names a class
 * or from a manifest, and provenance in `meta`.  A manifest's `mask`
 * column names each image's mask (a segmentation, 0 outside), read from
 * the same tree into a `mask` tensor [1,H,W] of 0 and 1; the mask files
 * themselves are not images of the stream.  Directories are walked
 * recursively in byte order of their names, so a tree always gives the
 * same stream.  Archives are read with libarchive and never extracted: a
 * member's name is only data.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/util.h"
#include "common/record/cli.h"
#include "common/decode/decode.h"
#include "common/image/image.h"
#include "common/record/classes.h"
#include "common/record/record.h"

static const char usage[] =
	"osteo-decode [-q] [--progress] [--classes LIST] [--manifest FILE.csv]\n"
	"       [--patient-dir | --patient-from REGEX] [--files-from FILE|-] [--strict]\n"
	"       [--keep-going] [--pseudonymize KEYFILE [--allow-burned-in] [--link FILE]]\n"
	"       [--max-pixels N] [--max-member-bytes N] [FILE|DIR|ARCHIVE|-]...";
static const char options[] =
	"  --classes LIST         the class names, comma-separated (default healthy,osteopenia,osteoporosis)\n"
	"  --manifest FILE.csv    labels, patients and meta from a CSV of paths (default: from the paths)\n"
	"  --patient-dir          the directory above each image names its patient\n"
	"  --patient-from REGEX   the patient from each path: the regex's first group, else its match\n"
	"  --files-from FILE|-    read the paths to decode from FILE, one per line\n"
	"  --strict               an image without a label is an error (default: written without one)\n"
	"  --keep-going           report a bad file and go on with the next (exit 65 at the end)\n"
	"  --pseudonymize KEYFILE replace patient ids and UIDs by keyed hashes (HMAC-SHA256)\n"
	"  --allow-burned-in      with --pseudonymize, take DICOM images whose pixels show text\n"
	"  --link FILE            with --pseudonymize, write each DICOM file's pseudonym, UID and path\n"
	"                         to FILE: the way back for osteo-sr, to keep inside the hospital\n"
	"  --max-pixels N         the largest image, all its frames, in pixels (default 268435456)\n"
	"  --max-member-bytes N   the largest file or archive member read (default 1073741824)\n"
	"  --progress             count records on standard error (default: when it is a terminal)\n";

struct opts {
	struct decode_opts d;
	const char *files_from, *link;
	char **inputs;
	int ninputs;
};

/* ---------------------------------------------------------------- */
/* arguments */

static void
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_CLASSES = 256, O_MANIFEST, O_FILES, O_STRICT, O_KEEP, O_PDIR, O_MAXPX,
	       O_MAXMEM, O_PROGRESS, O_PSEUDO, O_PFROM, O_BURNED, O_LINK };
	static const struct option longopts[] = {
		{ "classes", required_argument, 0, O_CLASSES },
		{ "manifest", required_argument, 0, O_MANIFEST },
		{ "files-from", required_argument, 0, O_FILES },
		{ "strict", no_argument, 0, O_STRICT },
		{ "keep-going", no_argument, 0, O_KEEP },
		{ "patient-dir", no_argument, 0, O_PDIR },
		{ "patient-from", required_argument, 0, O_PFROM },
		{ "max-pixels", required_argument, 0, O_MAXPX },
		{ "max-member-bytes", required_argument, 0, O_MAXMEM },
		{ "progress", no_argument, 0, O_PROGRESS },
		{ "pseudonymize", required_argument, 0, O_PSEUDO },
		{ "allow-burned-in", no_argument, 0, O_BURNED },
		{ "link", required_argument, 0, O_LINK },
		CLI_COMMON_OPTIONS
	};
	const char *classes = DEFAULT_CLASSES;
	int c;

	memset(o, 0, sizeof *o);
	o->d.max_member = (size_t)1 << 30;
	o->d.progress = isatty(2);
	cli_help(options);
	while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (c) {
		case O_CLASSES: classes = optarg; break;
		case O_MANIFEST: o->d.manifest = optarg; break;
		case O_FILES: o->files_from = optarg; break;
		case O_STRICT: o->d.strict = 1; break;
		case O_KEEP: o->d.keep_going = 1; break;
		case O_PDIR: o->d.patient_dir = 1; break;
		case O_PFROM: o->d.patient_from = optarg; break;
		case O_MAXPX:
			img_max_pixels = (size_t)estrtonum(optarg, 1, 1LL << 40, "--max-pixels");
			break;
		case O_MAXMEM:
			o->d.max_member = (size_t)estrtonum(optarg, 1, 1LL << 40, "--max-member-bytes");
			break;
		case O_PROGRESS: o->d.progress = 1; break;
		case O_PSEUDO: o->d.keyfile = optarg; break;
		case O_BURNED: o->d.allow_burned_in = 1; break;
		case O_LINK: o->link = optarg; break;
		case 'q': quiet = 1; o->d.progress = 0; break;
		default: cli_common(c, usage);
		}
	}
	classes_parse(&o->d.classes, classes, "--classes");
	if (o->d.allow_burned_in && !o->d.keyfile)
		usage_error(usage, "--allow-burned-in goes with --pseudonymize");
	if (o->link && !o->d.keyfile)
		usage_error(usage, "--link goes with --pseudonymize (without it the records keep their sources)");
	if (o->d.patient_dir && o->d.patient_from)
		usage_error(usage, "give --patient-dir or --patient-from, not both");
	o->inputs = argv + optind;
	o->ninputs = argc - optind;
	if (o->ninputs == 0 && !o->files_from && isatty(0))
		usage_error(usage, "no input: name files, directories or archives, or pipe one in");
}

/* ---------------------------------------------------------------- */
/* labels and patients */

int
main(int argc, char **argv)
{
	struct opts o;
	struct decoder *d;
	char *linktmp = NULL;
	int status;

	/* arguments */
	cli_init(argv[0]);
	parse_args(argc, argv, &o);

	/* prepare */
	if (o.link)
		o.d.link = atomic_open(o.link, &linktmp);
	d = decoder_open(&o.d, stdout, "<stdout>");

	/* process */
	if (o.files_from)
		decoder_list(d, o.files_from);
	for (int i = 0; i < o.ninputs; i++)
		decoder_input(d, o.inputs[i]);
	if (!o.files_from && o.ninputs == 0)
		decoder_input(d, "-");

	/* clean up: the link file holds the records written, so it is
	 * kept whenever they are */
	status = decoder_close(d);
	if (o.link)
		atomic_commit(o.d.link, linktmp, o.link);
	return status;
}
