# pipelines/train.mk - from images and a clinical CSV to a trained model and
# its evaluation, one file per stage: prep.mk's decoded, split, normalised,
# augmented and fused streams, then the model, the test predictions (records
# and CSV) and the metrics, with the SVM baseline beside them.  Only what
# changed is redone; `make -j2` runs independent stages at once; every
# variable can be set on the command line:
#
#   make -f pipelines/train.mk OUT=run N=300 SIZE=64x64 EPOCHS=30
#   make -f pipelines/train.mk OUT=run IMAGES=/data/export.tar.gz \
#        MANIFEST=/data/manifest.csv CLINICAL=/data/clinical.csv
#
# Settings that are not files (ARCH, EPOCHS, ...) are kept in
# $(OUT)/train.settings: changing one retrains, as changing a file would.
# $(OUT) is what pipelines/nightly needs to apply the model to new exports.

include $(dir $(lastword $(MAKEFILE_LIST)))prep.mk

# make demo's network and recipe (pipelines/defaults.sh, measured by bench/models.sh)
ARCH      ?= conv:16,pool,conv:32,pool,conv:64,pool,conv:64,pool,dense:64,dropout:0.3
EPOCHS    ?= 10
BATCH     ?= 32
LR        ?= 0.001
DEVICE    ?= auto
TRAINOPTS ?= --weight-decay 0.02 --cosine --fusion late
BOOTSTRAP ?= 1000

MODEL = $(OUT)/osteonet.model

all: $(OUT)/metrics.txt $(OUT)/metrics.json $(OUT)/predictions.csv $(OUT)/svm.metrics.txt $(OUT)/apply.settings

# rewritten only when a setting changed, so its date says when that was
$(OUT)/train.settings: FORCE
	@mkdir -p $(OUT)
	@printf 'ARCH=%s\nEPOCHS=%s\nBATCH=%s\nLR=%s\nSEED=%s\nTRAINOPTS=%s\n' '$(ARCH)' '$(EPOCHS)' '$(BATCH)' \
		'$(LR)' '$(SEED)' '$(TRAINOPTS)' >$@.new
	@cmp -s $@.new $@ && rm $@.new || mv $@.new $@

# what applying the model to new images needs besides the model and the
# parameter files (pipelines/nightly reads it)
$(OUT)/apply.settings: FORCE
	@mkdir -p $(OUT)
	@printf 'SIZE=%s\nFIT=%s\nMISSING=%s\n' '$(SIZE)' '$(FIT)' '$(MISSING)' >$@.new
	@cmp -s $@.new $@ && rm $@.new || mv $@.new $@

$(MODEL): $(OUT)/train.fused.rec $(OUT)/val.fused.rec $(OUT)/train.settings
	$(BIN)osteo-train -q --arch $(ARCH) --epochs $(EPOCHS) --batch $(BATCH) --lr $(LR) --seed $(SEED) \
		--device $(DEVICE) $(TRAINOPTS) --val $(OUT)/val.fused.rec --log $(OUT)/train.log.tsv \
		--checkpoint $(OUT)/osteonet.ckpt -o $@ $(OUT)/train.fused.rec

$(OUT)/predictions.rec: $(MODEL) $(OUT)/test.fused.rec
	$(BIN)osteo-infer -m $(MODEL) --device $(DEVICE) $(OUT)/test.fused.rec > $@.tmp && mv $@.tmp $@

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

FORCE:
.PHONY: plots FORCE
