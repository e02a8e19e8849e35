#!/bin/sh
# make demo: the main job on the built-in synthetic cohort.
# For now: synthesize, decode, summarise, and prepare train/val/test
# streams; training and evaluation join as their programs land.  Everything goes under $DEMO_DIR (default demo/).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top/bin:$PATH"
out=${DEMO_DIR:-demo}
rm -rf "$out"
mkdir -p "$out"

echo "== osteo-synth: 60 patients, seed 1"
osteo-synth -n 60 --seed 1 -o "$out/cohort"

echo "== osteo-decode: images, labels and patients from the manifest"
osteo-decode -q --manifest "$out/cohort/manifest.csv" "$out/cohort" >"$out/cohort.rec"

echo "== osteo-dump --count"
osteo-dump --count "$out/cohort.rec" | tee "$out/counts.tsv"

echo "== osteo-dump: modalities and image sizes"
osteo-dump "$out/cohort.rec" >"$out/cohort.jsonl"
awk -F'"modality":"' 'NF > 1 { split($2, a, "\""); n[a[1]]++ } END { for (m in n) printf "%s\t%d\n", m, n[m] }' \
	"$out/cohort.jsonl" | sort

echo "== osteo-dump --png: the images as a person sees them"
osteo-dump --png "$out/png" "$out/cohort.rec"
echo "demo: $(ls "$out/png" | wc -l) PNGs in $out/png, records in $out/cohort.rec, JSON in $out/cohort.jsonl"

echo "== pipelines/prep.mk: normalise, split by patient, augment, fuse clinical data"
make -s -f "$top/pipelines/prep.mk" BIN="$top/bin/" OUT="$out/prep" N=60 SEED=1
for s in train val test; do
	printf '%s\t' "$s"
	osteo-dump --count "$out/prep/$s.fused.rec" | awk -F'\t' '$1 != "label" { printf "%s=%s ", $2 == "-" ? "all" : $2, $3 } END { print "" }'
done
echo "demo: prepared streams in $out/prep/{train,val,test}.fused.rec"
