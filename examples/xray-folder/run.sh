#!/bin/bash
# A folder of X-ray PNGs in class folders, the patient in each file name,
# and a clinical CSV keyed by subject_id, as a research group keeps them,
# to a trained CNN, its test metrics beside the SVM's, and the model
# applied to new, unlabelled images.
#   examples/xray-folder/run.sh [WORKDIR]
# Your own data: replace step 1 by your folder and CSV, and PATIENT, KEY
# by your file names' pattern and your CSV's patient column.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
PATH="$top/bin:$PATH"
work=${1:-$(mktemp -d /tmp/osteo-xray.XXXXXX)}
mkdir -p "$work" && cd "$work"

# 1. the folder: mine/images/<class>/P10008_xray_pelvis_1.png, the X-rays of
#    300 synthetic patients (about 100 have X-rays), and mine/clinical.csv
#    (subject_id,age,sex); new/: 30 more patients' images, flat, no labels
"$here/make-folder.sh" mine 300 1
"$here/make-folder.sh" new 30 2 --unlabelled

# 2. decoded (labels from the class folders, patients from the file names),
#    split by patient, normalised with the training split's statistics,
#    augmented, fused with age and sex, trained, scored on the test split,
#    with the SVM on the same split: one file per stage in run/
make -s -f "$top/pipelines/train.mk" OUT=run IMAGES=mine/images PATIENT='(P[0-9]+)_' \
	CLINICAL=mine/clinical.csv KEY=subject_id SIZE=64x64 -j2
echo "== the CNN on the test patients"
cat run/metrics.txt
echo "== the SVM on the same patients"
head -n 4 run/svm.metrics.txt

# 3. the model on the new images, prepared as the training images were
make -s -f "$top/pipelines/train.mk" OUT=run apply NEW=new/images NEW_CLINICAL=new/clinical.csv
cp run/new/predictions.rec pred.rec
echo "== the five highest risks among the new images"
osteo-cat --sort risk --reverse --head 5 pred.rec | osteo-dump --csv | cut -d, -f1,2,6,7
echo "outputs in $work"
