/*
 * trainstate.h - what osteo-train must keep beyond the weights to go on
 * exactly where it stopped: the epoch and step, the learning rate, the
 * early-stopping state and the best epoch's weights, saved with the model
 * (and the optimiser's moments) as a checkpoint.
 */
#ifndef OSTEO_TRAINSTATE_H
#define OSTEO_TRAINSTATE_H

#include "model.h"

struct trainstate {
	int epoch;               /* epochs finished */
	int step;                /* Adam steps taken */
	double lr;
	double best;             /* best validation (or training) loss */
	int best_epoch, bad, plateau_bad;
	unsigned long long seed;
	const char *precision;   /* "fp32" or "bf16", as engine_precision says */
	float *best_params, *best_stats;
};

/* a run about to start: learning rate lr, the network's weights as the best so far */
void trainstate_init(struct trainstate *st, const struct net *n, double lr, unsigned long long seed);
/* the network's weights now are the best; into the network: the best */
void trainstate_keep(struct trainstate *st, const struct net *n);
void trainstate_restore(const struct trainstate *st, struct net *n);

/* model m with its optimiser's moments and st, atomically */
void checkpoint_save(const char *path, const struct model *m, const struct trainstate *st);
/* weights, moments, history and state from a checkpoint of the same seed,
 * architecture and network (dies with 65 when it is not one) */
void checkpoint_resume(const char *path, struct model *m, struct trainstate *st);

/* --init: the weights of every layer of n that matches one of path's
 * model in type and in every tensor's name and shape; returns how many */
int model_init_from(const char *path, struct net *n);
/* the spec of the network in the model file at path (allocated); dies
 * with 65 naming it when it is not a model */
char *model_arch_of(const char *path);

#endif
