# pipelines/train.mk - from images and a clinical CSV to a trained model and
# its evaluation, one file per stage: prep.mk's decoded, split, normalised,
# augmented and fused streams, then the model, the test predictions (records
# and CSV) and the metrics, with the SVM baseline beside them.  Only what
# changed is redone; `make -j2` runs independent stages at once; every
# variable can be set on the command line (prep.mk's too):
#
#   make -f pipelines/train.mk OUT=run N=300 SIZE=64x64 EPOCHS=30
#   make -f pipelines/train.mk OUT=run IMAGES=hips PATIENT='(P[0-9]+)_' \
#        CLINICAL=clinical.csv KEY=subject_id
#   make -f pipelines/train.mk OUT=run apply NEW=/data/new-images
#
# Settings that are not files (ARCH, EPOCHS, ...) are kept in
# $(OUT)/train.settings, what applying the model needs in
# $(OUT)/apply.settings: changing one redoes what it shapes, as changing a
# file would.  `apply` runs the model in $(OUT) on the images under NEW (a
# directory or an archive; their clinical values from NEW_CLINICAL) as
# pipelines/apply does, into $(NEWOUT) (default $(OUT)/new): predictions.rec,
# predictions.csv, and metrics.txt when the images have labels.  $(OUT) is
# also what pipelines/nightly needs to apply the model to new exports.

STAGES = train apply
include $(dir $(lastword $(MAKEFILE_LIST)))prep.mk

# make demo's network and recipe (pipelines/defaults.sh, measured by bench/models.sh)
ARCH      ?= conv:16,pool,conv:32,pool,conv:64,pool,conv:64,pool,dense:64,dropout:0.3
EPOCHS    ?= 10
BATCH     ?= 32
LR        ?= 0.001
DEVICE    ?= auto
# osteo-train --precision: bf16 trains faster where the CPU has AVX512_BF16
# or AMX (auto: there, else fp32); the predictions are made in fp32
PRECISION ?= fp32
# late fusion joins the clinical values to the image network's answer; with
# no clinical table there is nothing to join
TRAINOPTS ?= --weight-decay 0.02 --cosine $(if $(strip $(CLINICAL)),--fusion late)
BOOTSTRAP ?= 1000
# AUTO=MINUTES: osteo-train --auto within that budget chooses the network
# and recipe (ARCH, EPOCHS, LR and TRAINOPTS are then not used) and the
# model is the ensemble of its folds (it writes no training log, so
# `plots` has no curves to draw)
AUTO      ?=

MODEL = $(OUT)/osteonet.model

STAGE_train = ARCH EPOCHS BATCH LR SEED TRAINOPTS PRECISION AUTO
# pipelines/nightly reads it: the settings of decoding, normalising and
# fusing new images as the training images were
STAGE_apply = SIZE FIT MISSING KEY PATIENT CLASSES

all: $(OUT)/metrics.txt $(OUT)/metrics.json $(OUT)/predictions.csv $(OUT)/svm.metrics.txt $(OUT)/apply.settings

# one line per epoch on standard error: minutes of training are not silent
$(MODEL): $(OUT)/train.fused.rec $(OUT)/val.fused.rec $(OUT)/train.settings
	$(BIN)osteo-train $(if $(AUTO),--auto --budget $(AUTO),--arch $(ARCH) --epochs $(EPOCHS) --lr $(LR) $(TRAINOPTS) \
		--log $(OUT)/train.log.tsv --checkpoint $(OUT)/osteonet.ckpt) --batch $(BATCH) --seed $(SEED) \
		--device $(DEVICE) --precision $(PRECISION) --val $(OUT)/val.fused.rec -o $@ $(OUT)/train.fused.rec

$(OUT)/predictions.rec: $(MODEL) $(OUT)/test.fused.rec
	$(BIN)osteo-infer -m $(MODEL) --device $(DEVICE) --progress $(OUT)/test.fused.rec > $@.tmp && mv $@.tmp $@

$(OUT)/predictions.csv: $(OUT)/predictions.rec
	$(BIN)osteo-dump --csv $< > $@.tmp && mv $@.tmp $@

$(OUT)/metrics.txt $(OUT)/metrics.json $(OUT)/roc.tsv &: $(OUT)/predictions.rec
	$(BIN)osteo-metrics --seed $(SEED) --bootstrap $(BOOTSTRAP) --roc $(OUT)/roc.tsv $< > $(OUT)/metrics.txt.tmp
	$(BIN)osteo-metrics --seed $(SEED) --bootstrap $(BOOTSTRAP) --json $< > $(OUT)/metrics.json.tmp
	mv $(OUT)/metrics.txt.tmp $(OUT)/metrics.txt && mv $(OUT)/metrics.json.tmp $(OUT)/metrics.json

# the paper's comparison, on the same split
$(OUT)/svm.model: $(OUT)/train.fused.rec
	$(BIN)osteo-baseline -q --seed $(SEED) -o $@ $<

$(OUT)/svm.predictions.rec: $(OUT)/svm.model $(OUT)/test.fused.rec
	$(BIN)osteo-baseline -m $(OUT)/svm.model $(OUT)/test.fused.rec > $@.tmp && mv $@.tmp $@

$(OUT)/svm.metrics.txt: $(OUT)/svm.predictions.rec
	$(BIN)osteo-metrics --seed $(SEED) --bootstrap $(BOOTSTRAP) $< > $@.tmp && mv $@.tmp $@

# pictures: make -f pipelines/train.mk plots (needs gnuplot)
plots: $(OUT)/training.png $(OUT)/roc.png $(OUT)/confusion.png $(OUT)/correlation.png

$(OUT)/training.png: $(MODEL)
	$(BIN)osteo-plot curves -o $@ $(OUT)/train.log.tsv
$(OUT)/roc.png: $(OUT)/predictions.rec
	$(BIN)osteo-plot roc -o $@ $<
$(OUT)/confusion.png: $(OUT)/predictions.rec
	$(BIN)osteo-plot confusion -o $@ $<
$(OUT)/correlation.png: $(OUT)/train.fused.rec
	$(BIN)osteo-plot correlation -o $@ $<

# the model on new images, each step as the training images had it
# (pipelines/apply; the preparation chain osteo-infer checks says which
# step differs when one does).  It uses what $(OUT) holds and rebuilds
# nothing: IMAGES and the rest need not be given again.
NEW          ?=
NEWOUT       ?= $(OUT)/new
NEW_CLINICAL ?=
NEW_MANIFEST ?=
apply:
	@test -n '$(NEW)' || { echo 'apply: name the new images with NEW=DIR or NEW=ARCHIVE' >&2; exit 64; }
	$(PREP_DIR)apply -d $(OUT) -o $(NEWOUT) $(if $(NEW_CLINICAL),-c $(NEW_CLINICAL)) \
		$(if $(NEW_MANIFEST),-m $(NEW_MANIFEST)) '$(NEW)'

.PHONY: plots apply
