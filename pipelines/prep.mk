# pipelines/prep.mk - data preparation, one file per stage, from a synthetic
# cohort (or your own images and clinical CSV) to fused train/val/test
# streams.  Only what changed is redone; `make -j2` runs independent stages
# at once.  Every variable can be set on the command line:
#
#   make -f pipelines/prep.mk OUT=prep N=60 SEED=1 SIZE=128x128
#   make -f pipelines/prep.mk IMAGES=/data/export.tar.gz MANIFEST=/data/manifest.csv \
#        CLINICAL=/data/clinical.csv
#
# Statistics and encodings are fitted on the training split only and
# applied to validation and test.

# the programs beside this file's ../bin (a build tree), else from PATH
PREP_DIR := $(dir $(lastword $(MAKEFILE_LIST)))
BIN      ?= $(dir $(wildcard $(abspath $(PREP_DIR)../bin)/osteo-decode))
OUT      ?= prep
N        ?= 60
SEED     ?= 1
SIZE     ?= 128x128
FIT      ?= pad
RATIOS   ?= 70,15,15
COPIES   ?= 1
AUGMENT  ?= --rotate 10 --scale 0.1 --translate 0.05 --hflip 0.5 --noise 0.02 --contrast 0.1
COLUMNS  ?= age,sex,bmd_tscore,fracture_history
MISSING  ?= error
# your own data: IMAGES (a directory or archive), MANIFEST and CLINICAL
IMAGES   ?= $(OUT)/cohort
MANIFEST ?= $(OUT)/cohort/manifest.csv
CLINICAL ?= $(OUT)/cohort/clinical.csv

SPLITS = train val test

all: $(SPLITS:%=$(OUT)/%.fused.rec)

# the synthetic cohort, when IMAGES is left at its default
$(OUT)/cohort/manifest.csv $(OUT)/cohort/clinical.csv &:
	@mkdir -p $(OUT)
	rm -rf $(OUT)/cohort
	$(BIN)osteo-synth -q -n $(N) --seed $(SEED) $(if $(MASKS),--masks) -o $(OUT)/cohort

$(OUT)/decoded.rec: $(MANIFEST)
	$(BIN)osteo-decode -q --manifest $(MANIFEST) $(IMAGES) > $@.tmp && mv $@.tmp $@

# per-image intensities and one size: no statistics, so nothing leaks
$(OUT)/resized.rec: $(OUT)/decoded.rec
	$(BIN)osteo-normalize --size $(SIZE) --fit $(FIT) --method percentile $< > $@.tmp && mv $@.tmp $@

$(OUT)/train.rec $(OUT)/val.rec $(OUT)/test.rec &: $(OUT)/resized.rec
	$(BIN)osteo-split --seed $(SEED) --ratios $(RATIOS) --dedup \
		--train $(OUT)/train.rec --val $(OUT)/val.rec --test $(OUT)/test.rec $<

# dataset statistics from the training split, applied to all three
$(OUT)/train.norm.rec $(OUT)/stats.rec &: $(OUT)/train.rec
	$(BIN)osteo-normalize --method zscore --fit-stats $(OUT)/stats.rec $< > $(OUT)/train.norm.rec.tmp
	mv $(OUT)/train.norm.rec.tmp $(OUT)/train.norm.rec

$(OUT)/val.norm.rec $(OUT)/test.norm.rec: $(OUT)/%.norm.rec: $(OUT)/%.rec $(OUT)/stats.rec
	$(BIN)osteo-normalize --stats $(OUT)/stats.rec $< > $@.tmp && mv $@.tmp $@

# augmented copies and class balance for training only
$(OUT)/train.aug.rec: $(OUT)/train.norm.rec
	$(BIN)osteo-augment -q --seed $(SEED) --copies $(COPIES) --balance $(AUGMENT) $< > $@.tmp && mv $@.tmp $@

# clinical features: the encoding fitted on the training patients
$(OUT)/train.fused.rec $(OUT)/encoding.rec &: $(OUT)/train.aug.rec $(CLINICAL)
	$(BIN)osteo-fuse --clinical $(CLINICAL) --columns $(COLUMNS) --missing $(MISSING) \
		--fit-encoding $(OUT)/encoding.rec $< > $(OUT)/train.fused.rec.tmp
	mv $(OUT)/train.fused.rec.tmp $(OUT)/train.fused.rec

$(OUT)/val.fused.rec $(OUT)/test.fused.rec: $(OUT)/%.fused.rec: $(OUT)/%.norm.rec $(OUT)/encoding.rec $(CLINICAL)
	$(BIN)osteo-fuse --clinical $(CLINICAL) --missing $(MISSING) --encoding $(OUT)/encoding.rec $< > $@.tmp && mv $@.tmp $@

clean:
	rm -rf $(OUT)

.PHONY: all clean
.DELETE_ON_ERROR:
