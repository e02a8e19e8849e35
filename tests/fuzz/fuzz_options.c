/*
 * fuzz_options - option values: the parsers every program's options go
 * through (numbers, lists of numbers, WxH sizes, class lists, the --arch
 * spec), and osteo-train's whole command line, its main() renamed.  The
 * input is NUL-separated words; the first byte picks the parser.
 */
#define main osteo_train_main
#include "filters/osteo-train.c"
#undef main
#include "fuzz.h"

#define MAXWORDS 64

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *words[MAXWORDS + 2];
	struct opts o;
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
		FUZZ_GUARD(parse_args(n, words, &o));
		if (o.weights) {
			struct data d = { 0 };
			float cw[MAXCLASSES];
			FUZZ_GUARD(class_weights(&o, &d, 3, cw));
		}
	}
	return 0;
}
