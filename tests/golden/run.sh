#!/bin/bash
# tests/golden/run.sh DIR: the golden pipeline on fixed inputs, in the
# manner of netpbm's tests: a small synthetic cohort (fixed seed and size)
# through decode, normalize, augment, fuse, a 2-epoch train and infer, each
# output's SHA-256 printed as "sum  name".  osteo-synth's tree is one sum
# over its files' sums.  The model and the predictions also depend on the
# CPU's kernels (oneDNN's and osteo's passes, which round differently per
# instruction set and CPU): their names carry "@" and a key made of the
# kernels osteo-train reports and the CPU's model name.
set -euo pipefail
out=$1
mkdir -p "$out"
cd "$out"
rm -rf cohort
osteo-synth -q -n 12 --seed 5 --images 2 --size 40x32 --masks -o cohort
osteo-decode -q --manifest cohort/manifest.csv cohort >decoded.rec
osteo-normalize --size 32x32 --method percentile decoded.rec >resized.rec
osteo-normalize --method zscore --fit-stats stats.rec resized.rec >norm.rec
osteo-augment -q --seed 2 --copies 1 --rotate 10 --scale 0.1 --translate 0.05 --hflip 0.5 --noise 0.02 \
	--contrast 0.1 norm.rec >aug.rec
osteo-fuse -q --clinical cohort/clinical.csv --columns age,sex,bmd_tscore,fracture_history,modality \
	--fit-encoding encoding.rec aug.rec >fused.rec
kernels=$(osteo-train --arch conv:4,pool,conv:8,pool,dense:8,dropout:0.2 --epochs 2 --batch 8 --seed 3 \
	--device cpu -o model.rec fused.rec 2>&1 | sed -n 's/^osteo-train: CPU kernels: //p')
osteo-infer -q --device cpu -m model.rec --heatmap fused.rec >pred.rec
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
key=$(printf '%s; %s' "$kernels" "$cpu" | sha256sum | cut -c1-12)
echo "$(cd cohort && find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)  cohort"
for f in decoded resized stats norm aug encoding fused; do
	echo "$(sha256sum <$f.rec | cut -d' ' -f1)  $f.rec"
done
for f in model pred; do
	echo "$(sha256sum <$f.rec | cut -d' ' -f1)  $f.rec@$key"
done
echo "# @$key: $kernels; $cpu"
