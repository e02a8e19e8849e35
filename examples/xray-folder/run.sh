#!/bin/bash
# A folder of X-ray PNGs and a CSV of labels, as a research group keeps
# them, to a trained CNN and its figures on patients it never saw.
#   examples/xray-folder/run.sh [WORKDIR]
# Your own data: a folder of images and labels.csv with the columns
# path,label,patient (path relative to the folder); replace step 1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PATH="$here/../../bin:$PATH"
work=${1:-$(mktemp -d /tmp/osteo-xray.XXXXXX)}
mkdir -p "$work" && cd "$work"

# 1. the folder: the X-rays of 150 patients' X-rays (osteo-synth stands in for an export)
#    and labels.csv made from its manifest
rm -rf xrays && osteo-synth -q -n 150 --seed 7 --size 64x64 -o xrays
awk -F, 'NR == 1 { print "path,label,patient"; next } $4 == "xray" { print $1 "," $2 "," $3 }' \
	xrays/manifest.csv >labels.csv

# 2. records: only the images labels.csv names, labelled and grouped by patient
cut -d, -f1 labels.csv | tail -n +2 | sed 's|^|xrays/|' >list.txt
osteo-decode -q --manifest labels.csv --files-from list.txt >xrays.rec
osteo-dump --count xrays.rec

# 3. split by patient (no patient in two splits), normalise with the
#    training split's statistics only, train, and score the test split
osteo-normalize --size 32x32 --method percentile xrays.rec |
	osteo-split --seed 1 --train train.rec --val val.rec --test test.rec
osteo-normalize --method zscore --fit-stats stats.rec train.rec >train.norm.rec
for s in val test; do osteo-normalize --stats stats.rec $s.rec >$s.norm.rec; done
osteo-train -q --arch conv:8,pool,conv:16,pool,dense:16 --epochs 5 --val val.norm.rec -o model.rec train.norm.rec
osteo-infer -m model.rec test.norm.rec >pred.rec
osteo-metrics --per-patient --bootstrap 200 pred.rec
echo "outputs in $work"
