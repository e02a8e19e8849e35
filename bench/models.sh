#!/bin/bash
# make models: how good the demo's models are, over several cohorts.  For
# each seed it prepares make demo's cohort (pipelines/prep.mk), trains the
# fused CNN and the same CNN on images alone, fits the SVM baseline on the
# same split, and scores each on the test patients together with the
# ceiling: the Bayes-optimal class of each patient's latent bone quality
# (osteo-synth's truth.csv), which no model of the images and clinical data
# can beat on average, and where the CNN's occlusion maps lie against the
# bone masks (their mass inside bone over the bone's share of the image).
# Prints one row per seed and the mean and range.
#
# Settable (defaults: make demo's): SEEDS, N, SIZE, COPIES, COLUMNS (the
# clinical columns fused), ARCH, EPOCHS, TRAIN (more osteo-train options),
# FUSION (joint or late, the fused CNN's osteo-train --fusion),
# WORK (kept between runs: the prepared cohorts are reused when only the
# models change), ONLY (cnn,img,svm,bf16: the models to run; bf16 is the
# fused CNN again with osteo-train and osteo-infer --precision bf16, by
# default where the CPU has AVX512_BF16 or AMX), MAPS (0: no occlusion
# maps, for a quicker search of recipes).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$top/bin:$PATH"
. "$top/pipelines/defaults.sh"
seeds=${SEEDS:-1 2 3 4 5}
n=${N:-$DEMO_N}
size=${SIZE:-$DEMO_SIZE}
copies=${COPIES:-$DEMO_COPIES}
columns=${COLUMNS:-$DEMO_COLUMNS}
arch=${ARCH:-$DEMO_ARCH}
epochs=${EPOCHS:-$DEMO_EPOCHS}
train=${TRAIN:-$DEMO_TRAIN}
fusion=${FUSION:-$DEMO_FUSION}
bf=
grep -qwE 'avx512_bf16|amx_bf16' /proc/cpuinfo && bf=,bf16
only=${ONLY:-cnn,img,svm$bf}
maps=${MAPS:-1}
work=${WORK:-$(mktemp -d)}
[ -n "${WORK:-}" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"

score() { jq -r '[.accuracy, .macro.f1] | @tsv' "$1"; }

echo "osteo models, $(date -u +%Y-%m-%d), $(nproc) cores: $n patients, $size, copies $copies, columns $columns,"
echo "  $arch, $epochs epochs $train, $fusion fusion"
printf 'seed\tceiling acc\tceiling F1\tCNN acc\tCNN F1\timage-only acc\timage-only F1\tSVM acc\tSVM F1\tmaps in bone\ttest images\tCNN s\tCNN bf16 acc\tCNN bf16 F1\tbf16 s\n'
for s in $seeds; do
	d=$work/n$n-$size-c$copies-$(echo "$columns" | cksum | cut -c1-6)-m-s$s
	make -s -f "$top/pipelines/prep.mk" BIN="$top/bin/" OUT="$d" N="$n" SEED="$s" SIZE="$size" \
		COPIES="$copies" COLUMNS="$columns" MASKS=1 >/dev/null
	row=$(osteo-dump "$d/test.fused.rec" | jq -r '"\(.patient) \(.label)"' | ceiling "$d/cohort/truth.csv")
	t0=$(date +%s.%N) t1= ratio=- b16="-	-	-"
	for m in cnn img svm bf16; do
		case ",$only," in *",$m,"*) ;; *) [ $m = bf16 ] || row="$row	-	-"; continue ;; esac
		case $m in
		cnn) osteo-train -q --arch "$arch" --epochs "$epochs" --seed "$s" $train --fusion "$fusion" --val "$d/val.fused.rec" \
			-o "$d/$m.model" "$d/train.fused.rec"
		     t1=$(date +%s.%N)
		     osteo-infer -m "$d/$m.model" $([ "$maps" = 0 ] || echo --heatmap-mode occlusion) "$d/test.fused.rec" \
			>"$d/$m.pred.rec" ;;
		img) osteo-train -q --arch "$arch" --epochs "$epochs" --seed "$s" $train --val "$d/val.norm.rec" \
			-o "$d/$m.model" "$d/train.aug.rec"
		     osteo-infer -m "$d/$m.model" "$d/test.norm.rec" >"$d/$m.pred.rec" ;;
		svm) osteo-baseline -q --seed "$s" -o "$d/$m.model" "$d/train.fused.rec"
		     osteo-baseline -m "$d/$m.model" "$d/test.fused.rec" >"$d/$m.pred.rec" ;;
		bf16) b0=$(date +%s.%N)
		     osteo-train -q --precision bf16 --arch "$arch" --epochs "$epochs" --seed "$s" $train --fusion "$fusion" \
			--val "$d/val.fused.rec" -o "$d/$m.model" "$d/train.fused.rec"
		     b1=$(date +%s.%N)
		     osteo-infer -q --precision bf16 -m "$d/$m.model" "$d/test.fused.rec" >"$d/$m.pred.rec"
		     osteo-metrics --json "$d/$m.pred.rec" >"$d/$m.json"
		     b16="$(score "$d/$m.json")	$(echo "$b1 - $b0" | bc -l | xargs printf %.0f)"
		     continue ;;
		esac
		osteo-metrics --json "$d/$m.pred.rec" >"$d/$m.json"
		row="$row	$(score "$d/$m.json")"
		[ $m != cnn ] || [ "$maps" = 0 ] || ratio=$(jq -r '.maps.ratio' "$d/$m.json")
	done
	images=$(osteo-dump --count "$d/test.fused.rec" | awk -F'\t' '$1 == "all" { print $3 }')
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$row" "$ratio" "$images" "$(echo "${t1:-$t0} - $t0" | bc -l | xargs printf %.0f)" "$b16"
done | tee "$work/rows.tsv"
# mean and range of each column over the seeds
awk -F'\t' '{ for (i = 2; i <= 15; i++) if ($i != "-") { s[i] += $i; if (!(i in lo) || $i < lo[i]) lo[i] = $i
		if (!(i in hi) || $i > hi[i]) hi[i] = $i; n[i]++ } }
	END { printf "mean"; for (i = 2; i <= 15; i++) printf "\t%s", n[i] ? sprintf("%.3f", s[i] / n[i]) : "-"; print ""
	      printf "range"; for (i = 2; i <= 15; i++) printf "\t%s", n[i] ? sprintf("%.3f-%.3f", lo[i], hi[i]) : "-"; print ""
	      # bf16 against fp32: the fused CNN, accuracy and macro F1 in points
	      if (n[13]) printf "bf16 - fp32, mean over %d seeds: accuracy %+.2f points, macro F1 %+.2f points\n",
	             n[13], 100 * (s[13] / n[13] - s[4] / n[4]), 100 * (s[14] / n[14] - s[5] / n[5]) }' "$work/rows.tsv"
