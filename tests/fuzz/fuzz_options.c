/*
 * fuzz_options - option values: the parsers every program's options go
 * through (numbers, lists of numbers, WxH sizes, class lists), and
 * osteo-train's whole command line through the library's
 * train_opts_parse, then its --class-weights through class_weights as the
 * program applies them.  The input is NUL-separated words; the first byte
 * picks the parser.
 *
 * With OSTEO_FUZZ_TRACE set, each input whose class weights were computed
 * says so on stderr: tests/fuzz/replay.sh holds the seed corpus to
 * reaching class_weights, so a harness that stops reaching it fails.
 */
#include <getopt.h>

#include "fuzz.h"
#include "common/model/trainopts.h"
#include "common/record/classes.h"

#define MAXWORDS 64

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *words[MAXWORDS + 2];
	struct train_opts o;
	struct classes cl;
	double v[16];
	int n = 0, w, h;
	char *s;
	size_t len;

	fuzz_init();
	if (size < 1)
		return 0;
	s = fuzz_string(data + 1, size - 1);
	len = size - 1;
	words[n++] = "osteo-train";
	for (size_t i = 0; i <= len && n < MAXWORDS; ) {
		words[n++] = s + i;
		i += strlen(s + i) + 1;
	}
	words[n] = NULL;
	switch (data[0] % 6) {
	case 0:
		FUZZ_GUARD(estrtonum(s, -1000, 1LL << 40, "--n"));
		break;
	case 1:
		FUZZ_GUARD(estrtod(s, -1e9, 1e9, "--x"));
		break;
	case 2:
		FUZZ_GUARD(eparse_numbers(s, v, 1, 16, -1e9, 1e9, "--list"));
		break;
	case 3:
		FUZZ_GUARD(eparse_size(s, &w, &h, "--size"));
		break;
	case 4:
		memset(&cl, 0, sizeof cl);
		FUZZ_GUARD(classes_parse(&cl, s, "--classes"));
		classes_free(&cl);
		break;
	default:
		optind = 0;    /* GNU getopt: start afresh */
		if (FUZZ_GUARD(train_opts_parse(n, words, &o)) == 0 && o.weights) {
			/* a training set of three classes, one of them empty */
			const long count[3] = { 50, 30, 0 };
			double cw[3];
			if (FUZZ_GUARD(class_weights(o.weights, count, 3, cw)) == 0 && getenv("OSTEO_FUZZ_TRACE"))
				fprintf(stderr, "fuzz_options: class_weights(%s) = %g,%g,%g\n", o.weights, cw[0], cw[1],
				        cw[2]);
		}
	}
	return 0;
}
