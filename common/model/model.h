/*
 * model.h - model and checkpoint files: one record (osteo-record(5)) whose
 * meta describes the model and whose tensors are the weights, layer by
 * layer ("L3.w", "L3.gamma", "L3.mean", ...), so osteo-dump shows it.  A
 * checkpoint adds the optimiser's moments and the training state.
 */
#ifndef OSTEO_MODEL_H
#define OSTEO_MODEL_H

#include "common/record/classes.h"
#include "common/record/contract.h"
#include "fusion.h"
#include "engine/spec/net.h"
#include "common/record/record.h"

#define MODEL_FORMAT "osteonet-model"
#define MODEL_VERSION 1
/* an ensemble's members, all of them (osteo-train --auto makes one of its folds) */
#define MODEL_MAXMEMBERS 16

struct model {
	struct net *net;
	char *arch;
	struct classes classes;
	struct prep prep;        /* how the training records were prepared (contract.h) */
	/* training history: epochs x (epoch, train loss, train acc, val loss, val acc, lr) */
	int nhist;
	float *hist;
	int best_epoch;
	double temperature;      /* calibration (osteo-train --calibrate): 0 or 1, none */
	struct fusion fusion;    /* late fusion (osteo-train --fusion late), or k = 0 */
	/* an ensemble (osteo-train --auto): the other members, of the same
	 * network, classes and preparation, each with its own weights, fusion
	 * and temperature; in the file their tensors and meta are named with
	 * "E2.", "E3.", ... before the first member's names, and meta
	 * "ensemble" counts all of them */
	int nmembers;
	struct model *members;
};

/* the clinical values a record must carry for the model: the network's,
 * or late fusion's when the network sees the images alone */
int model_clinical(const struct model *m);
/* the model's answer for a record from the network's probabilities p:
 * late fusion with the record's clinical values (when the model has it),
 * then the temperature (when temper) */
void model_answer(const struct model *m, double *p, const float *clin, int temper);

/* the members of m's ensemble, m itself first: 1 + m->nmembers */
struct model *model_member(struct model *m, int i);

/* the record of a model (checkpoint: with optimiser state; extra meta the caller adds) */
void model_to_record(const struct model *m, struct record *r, int checkpoint);
/* 0, or -1 with *err set; dies with 66 when the file cannot be opened */
int model_load(const char *path, struct model *m, struct record *r, const char **err);
/* frees what model_load allocated; a zeroed model is fine too */
void model_free(struct model *m);
void model_save(const char *path, const struct model *m, const struct record *extra_meta, int checkpoint);

#endif
