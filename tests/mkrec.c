/*
 * mkrec - records from TSV, for tests that need exact probabilities:
 *   id <TAB> patient <TAB> label <TAB> p0,p1,...
 * on stdin; "-" leaves a field out.  Records go to stdout.
 */
#include <stdlib.h>
#include <string.h>

#include "common/record/record.h"
#include "common/base/util.h"

int
main(int argc, char **argv)
{
	char line[4096];
	struct record r;
	struct rec_writer *w;

	cli_init("mkrec");
	rec_init(&r);
	w = rec_writer_new(stdout, "<stdout>");
	while (fgets(line, sizeof line, stdin)) {
		char *f[4], *save = NULL;
		double p[64];
		int n = 0;

		line[strcspn(line, "\n")] = '\0';
		for (int i = 0; i < 4; i++)
			if (!(f[i] = strtok_r(i ? NULL : line, "\t", &save)))
				die(EX_DATAERR, "mkrec: want 4 fields: %s", line);
		rec_clear(&r);
		rec_set_id(&r, f[0]);
		if (strcmp(f[1], "-"))
			rec_set_patient(&r, f[1]);
		if ((r.has_label = strcmp(f[2], "-") != 0))
			r.label = atoll(f[2]);
		if (strcmp(f[3], "-")) {
			for (char *t = strtok_r(f[3], ",", &save); t && n < 64; t = strtok_r(NULL, ",", &save))
				p[n++] = strtod(t, NULL);
			rec_set_probs(&r, p, n);
		}
		rec_write(w, &r);
	}
	rec_free(&r);
	return rec_writer_close(w);
}
