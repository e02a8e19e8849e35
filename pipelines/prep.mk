# pipelines/prep.mk - data preparation, one file per stage, from a synthetic
# cohort (or your own images and clinical CSV) to fused train/val/test
# streams.  Only what changed is redone; `make -j2` runs independent stages
# at once.  Every variable can be set on the command line:
#
#   make -f pipelines/prep.mk OUT=prep N=60 SEED=1 SIZE=128x128
#   make -f pipelines/prep.mk OUT=prep IMAGES=hips PATIENT='(P[0-9]+)_' \
#        CLINICAL=clinical.csv KEY=subject_id
#   make -f pipelines/prep.mk OUT=prep IMAGES=/data/export.tar.gz \
#        MANIFEST=/data/manifest.csv CLINICAL=/data/clinical.csv
#
# Your own images (IMAGES: a directory or an archive) are labelled by their
# class folders (healthy/, osteopenia/, osteoporosis/) or by a MANIFEST;
# PATIENT takes each patient from the path (osteo-decode --patient-from:
# the regex's first group, else its match; PATIENT=dir: the folder above
# the image), KEY names the CLINICAL table's patient column.  Without
# CLINICAL the streams carry images alone.  Without IMAGES a synthetic
# cohort of N patients is made in $(OUT)/cohort.
#
# Each stage's settings are kept in $(OUT)/STAGE.settings, rewritten only
# when one changes, so a changed SIZE redoes what SIZE shapes and nothing
# else; $(OUT)/images.list does the same for the files under IMAGES.
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
MISSING  ?= error
KEY      ?= patient
PATIENT  ?=
CLASSES  ?=

ifeq ($(strip $(IMAGES)),)
ifneq ($(strip $(MANIFEST)$(CLINICAL)),)
$(error MANIFEST and CLINICAL describe your own images: name them with IMAGES=DIR or IMAGES=ARCHIVE)
endif
# the synthetic cohort; its bmd_tscore defines the classes, so it is not fused
SYNTHETIC := 1
override IMAGES   := $(OUT)/cohort
override MANIFEST := $(OUT)/cohort/manifest.csv
override CLINICAL := $(OUT)/cohort/clinical.csv
COLUMNS  ?= age,sex,fracture_history
else
COLUMNS  ?= age,sex
endif

SPLITS = train val test

all: $(SPLITS:%=$(OUT)/%.fused.rec)

# what each stage's settings are: $(OUT)/STAGE.settings is rewritten only
# when one of them changes (a file's date is what make compares)
STAGE_cohort  = N SEED MASKS
STAGE_decode  = IMAGES MANIFEST PATIENT CLASSES
STAGE_resize  = SIZE FIT
STAGE_split   = SEED RATIOS
STAGE_augment = SEED COPIES AUGMENT
STAGE_fuse    = CLINICAL KEY COLUMNS MISSING
STAGES += cohort decode resize split augment fuse
# ('+': make -n runs them too, so it shows what a changed setting redoes;
# rewritten, a stamp is newer than what it shapes, which the real run then
# redoes too)
$(STAGES:%=$(OUT)/%.settings): $(OUT)/%.settings: FORCE
	+@mkdir -p $(@D)
	+@printf '%s\n' $(foreach v,$(STAGE_$*),'$(v)=$($(v))') >$@.new
	+@cmp -s $@.new $@ && rm $@.new || mv $@.new $@

ifdef SYNTHETIC
$(OUT)/cohort/manifest.csv $(OUT)/cohort/clinical.csv &: $(OUT)/cohort.settings
	rm -rf $(OUT)/cohort
	$(BIN)osteo-synth -q -n $(N) --seed $(SEED) $(if $(MASKS),--masks) -o $(OUT)/cohort
IMAGE_FILES = $(MANIFEST)
else
# every file under IMAGES with its size and date: rewritten only when one
# is added, removed or changed
$(OUT)/images.list: FORCE
	+@mkdir -p $(@D)
	+@test -e '$(IMAGES)' || { echo 'IMAGES=$(IMAGES): no such file or directory' >&2; exit 66; }
	+@find -L '$(IMAGES)' -type f -printf '%p %s %T@\n' | LC_ALL=C sort >$@.new
	+@cmp -s $@.new $@ && rm $@.new || mv $@.new $@
IMAGE_FILES = $(OUT)/images.list $(MANIFEST)
endif

DECODE = $(if $(MANIFEST),--manifest $(MANIFEST)) $(if $(CLASSES),--classes $(CLASSES)) \
	$(if $(filter dir,$(PATIENT)),--patient-dir,$(if $(PATIENT),--patient-from '$(PATIENT)'))

$(OUT)/decoded.rec: $(IMAGE_FILES) $(OUT)/decode.settings
	$(BIN)osteo-decode -q $(DECODE) $(IMAGES) > $@.tmp && mv $@.tmp $@

# per-image intensities and one size: no statistics, so nothing leaks
$(OUT)/resized.rec: $(OUT)/decoded.rec $(OUT)/resize.settings
	$(BIN)osteo-normalize --size $(SIZE) --fit $(FIT) --method percentile $< > $@.tmp && mv $@.tmp $@

$(OUT)/train.rec $(OUT)/val.rec $(OUT)/test.rec &: $(OUT)/resized.rec $(OUT)/split.settings
	$(BIN)osteo-split --seed $(SEED) --ratios $(RATIOS) --dedup \
		--train $(OUT)/train.rec --val $(OUT)/val.rec --test $(OUT)/test.rec $<

# dataset statistics from the training split, applied to all three
$(OUT)/train.norm.rec $(OUT)/stats.rec &: $(OUT)/train.rec
	$(BIN)osteo-normalize --method zscore --fit-stats $(OUT)/stats.rec $< > $(OUT)/train.norm.rec.tmp
	mv $(OUT)/train.norm.rec.tmp $(OUT)/train.norm.rec

$(OUT)/val.norm.rec $(OUT)/test.norm.rec: $(OUT)/%.norm.rec: $(OUT)/%.rec $(OUT)/stats.rec
	$(BIN)osteo-normalize --stats $(OUT)/stats.rec $< > $@.tmp && mv $@.tmp $@

# augmented copies and class balance for training only
$(OUT)/train.aug.rec: $(OUT)/train.norm.rec $(OUT)/augment.settings
	$(BIN)osteo-augment -q --seed $(SEED) --copies $(COPIES) --balance $(AUGMENT) $< > $@.tmp && mv $@.tmp $@

ifneq ($(strip $(CLINICAL)),)
# clinical features: the encoding fitted on the training patients
$(OUT)/train.fused.rec $(OUT)/encoding.rec &: $(OUT)/train.aug.rec $(CLINICAL) $(OUT)/fuse.settings
	$(BIN)osteo-fuse --clinical $(CLINICAL) --key $(KEY) --columns $(COLUMNS) --missing $(MISSING) \
		--fit-encoding $(OUT)/encoding.rec $< > $(OUT)/train.fused.rec.tmp
	mv $(OUT)/train.fused.rec.tmp $(OUT)/train.fused.rec

$(OUT)/val.fused.rec $(OUT)/test.fused.rec: $(OUT)/%.fused.rec: $(OUT)/%.norm.rec $(OUT)/encoding.rec $(CLINICAL)
	$(BIN)osteo-fuse --clinical $(CLINICAL) --key $(KEY) --missing $(MISSING) --encoding $(OUT)/encoding.rec \
		$< > $@.tmp && mv $@.tmp $@
else
# no clinical table: the images alone go on
$(OUT)/train.fused.rec: $(OUT)/train.aug.rec $(OUT)/fuse.settings
	rm -f $(OUT)/encoding.rec
	cp $< $@.tmp && mv $@.tmp $@
$(OUT)/val.fused.rec $(OUT)/test.fused.rec: $(OUT)/%.fused.rec: $(OUT)/%.norm.rec $(OUT)/fuse.settings
	cp $< $@.tmp && mv $@.tmp $@
endif

clean:
	rm -rf $(OUT)

FORCE:
.PHONY: all clean FORCE
.DELETE_ON_ERROR:
