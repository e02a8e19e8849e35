/*
 * trainopts.h - osteo-train's options (trainopts.c): parsed into one
 * struct by train_opts_parse, which dies with 64 and the synopsis on a
 * usage error, as every program does.
 */
#ifndef OSTEO_TRAINOPTS_H
#define OSTEO_TRAINOPTS_H

struct train_opts {
	const char *out, *val, *arch, *classes, *weights, *log, *checkpoint, *resume, *init, *device, *precision;
	int epochs, batch, patience, plateau, freeze, progress, tf32, calibrate, cosine, late, no_check;
	double lr, beta1, beta2, eps, wd, factor, clin_drop;
	int autotune;            /* --auto */
	double budget;           /* --budget, minutes */
	int mpi;                 /* --mpi */
	int micro;               /* --micro-batch (0: whole batches) */
	unsigned long long seed;
	char **inputs;
	int ninputs;
};

/* the synopsis, for usage errors found after parsing */
extern const char train_usage[];

/* argv's options into o (the inputs are o->inputs[0..ninputs)) */
void train_opts_parse(int argc, char **argv, struct train_opts *o);

#endif
