#!/bin/sh
# make demo: the main job on the built-in synthetic cohort, end to end:
# synth -> decode -> split -> normalize -> augment -> fuse (pipelines/prep.mk)
# -> train -> infer -> baselines (SVM, random forest, boosted trees) ->
# metrics -> plots, with a report in $DEMO_DIR/report (default demo/report):
# each model per image and per patient against the ceiling (the
# Bayes-optimal class of each test patient's latent bone quality), the CNN
# against the SVM on the same patients, the CNN by subgroup, and where the
# CNN's heat maps lie against the bone masks.  Settable: DEMO_DIR,
# DEMO_N (patients), DEMO_SEED, DEMO_SIZE, DEMO_EPOCHS, DEMO_COPIES, DEMO_COLUMNS,
# DEMO_ARCH, DEMO_TRAIN (more osteo-train options), DEMO_FUSION (joint or
# late: osteo-train --fusion), DEMO_DEVICE (auto: the
# GPU when there is one); defaults in pipelines/defaults.sh.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top/bin:$PATH"
. "$top/pipelines/defaults.sh"
out=${DEMO_DIR:-demo}
n=$DEMO_N
seed=$DEMO_SEED
size=$DEMO_SIZE
epochs=$DEMO_EPOCHS
copies=$DEMO_COPIES
columns=$DEMO_COLUMNS
arch=$DEMO_ARCH
train=$DEMO_TRAIN
fusion=$DEMO_FUSION
device=${DEMO_DEVICE:-auto}
report=$out/report
rm -rf "$out"
mkdir -p "$report"
start=$(date +%s)
step() { echo "== [$(($(date +%s) - start))s] $*"; }

step "pipelines/prep.mk: synthesize $n patients (seed $seed), decode, split by patient, normalise to $size, augment, fuse"
make -s -f "$top/pipelines/prep.mk" BIN="$top/bin/" OUT="$out/prep" N="$n" SEED="$seed" SIZE="$size" COPIES="$copies" \
	COLUMNS="$columns" MASKS=1
for s in train val test; do
	printf '   %-5s ' "$s"
	osteo-dump --count "$out/prep/$s.fused.rec" | awk -F'\t' 'NR > 1 { printf "%s=%s ", $2 == "-" ? "all" : $2, $3 } END { print "" }'
done

step "osteo-train: $epochs epochs, $arch, $fusion fusion, device $device"
osteo-train -q --arch "$arch" --epochs "$epochs" --seed "$seed" --device "$device" $train --fusion "$fusion" --calibrate \
	--val "$out/prep/val.fused.rec" --log "$report/train-log.tsv" -o "$out/osteonet.model" "$out/prep/train.fused.rec"

# the baselines are one thread each: they run beside inference, whose
# occlusion maps keep both cores busy only in bursts
step "osteo-baseline: the paper's baselines on the same split (clinical data and image features): SVM, random forest, boosted trees"
pids=
for m in svm rf gbt; do
	{ osteo-baseline -q --model $m -o "$out/$m.model" --seed "$seed" "$out/prep/train.fused.rec" &&
		osteo-baseline -m "$out/$m.model" "$out/prep/test.fused.rec" >"$out/$m.pred.rec"; } &
	pids="$pids $!"
done
step "osteo-infer: test records, with heat maps (occlusion sensitivity: where hiding the image moves the answer)"
osteo-infer -m "$out/osteonet.model" --heatmap-mode occlusion --device "$device" --progress "$out/prep/test.fused.rec" >"$out/cnn.pred.rec"
for p in $pids; do
	wait "$p" || { echo "demo: a baseline failed" >&2; exit 1; }
done

step "osteo-metrics: every model, with 95% intervals over patients"
for m in cnn svm rf gbt; do
	osteo-metrics --seed "$seed" --roc "$report/$m-roc.tsv" "$out/$m.pred.rec" >"$report/$m-metrics.txt"
	osteo-metrics --seed "$seed" --json "$out/$m.pred.rec" >"$report/$m-metrics.json"
	osteo-metrics --seed "$seed" --json --per-patient "$out/$m.pred.rec" >"$report/$m-patient-metrics.json"
done
# where a model trained on a mixed cohort fails first: by modality, sex and age
for by in modality "sex --clinical $out/prep/cohort/clinical.csv" "age:10 --clinical $out/prep/cohort/clinical.csv"; do
	osteo-metrics --seed "$seed" --per-patient --by $by "$out/cnn.pred.rec" | sed -n '/^by /,$p'
	echo
done >"$report/cnn-subgroups.txt"
# calibration: the test records' ECE with the model's temperature and without
osteo-infer -m "$out/osteonet.model" --device "$device" --no-calibration "$out/prep/test.fused.rec" |
	osteo-metrics --seed "$seed" --json --bootstrap 0 >"$report/cnn-uncalibrated-metrics.json"
# a screening operating point: osteoporosis at 90% sensitivity, chosen on
# the validation patients, applied unchanged to the test patients
osteo-infer -m "$out/osteonet.model" --device "$device" "$out/prep/val.fused.rec" >"$out/cnn.val.pred.rec"
osteo-metrics --seed "$seed" --json --per-patient --threshold sens:0.9 --threshold-from "$out/cnn.val.pred.rec" \
	"$out/cnn.pred.rec" >"$report/cnn-screening.json"
# referral: the most uncertain test patients to a reader, the rest as the model calls them
osteo-metrics --seed "$seed" --json --per-patient --coverage 0.9,0.8 "$out/cnn.pred.rec" >"$report/cnn-referral.json"
# better than the baseline? the difference on the same patients
osteo-metrics --seed "$seed" --compare --per-patient --json "$out/cnn.pred.rec" "$out/svm.pred.rec" >"$report/cnn-vs-svm.json"

step "osteo-plot: curves, ROC, confusion, reliability, risk-coverage, clinical correlation, heatmaps"
osteo-plot curves -o "$report/training.png" "$report/train-log.tsv"
osteo-plot roc --title "OsteoNet: ROC on the test patients" -o "$report/roc.png" "$out/cnn.pred.rec"
osteo-plot roc --title "SVM baseline: ROC on the test patients" -o "$report/svm-roc.png" "$out/svm.pred.rec"
osteo-plot confusion -o "$report/confusion.png" "$out/cnn.pred.rec"
osteo-plot reliability -o "$report/reliability.png" "$out/cnn.pred.rec"
osteo-plot risk-coverage -o "$report/risk-coverage.png" "$out/cnn.pred.rec"
osteo-plot correlation --data "$report/correlation.tsv" -o "$report/correlation.png" "$out/prep/train.fused.rec"
osteo-plot heatmaps --per-class 4 --max 12 -o "$report/heatmaps.png" "$out/cnn.pred.rec"

step "report"
# one row per model: each estimate with its 95% interval
row() {
	jq -r '[.accuracy, .ci.accuracy[], .macro.f1, .ci.f1_macro[], .auc_macro, .ci.auc_macro[], .brier, .ece] | @tsv' "$2" |
		awk -F'\t' -v name="$1" '{ printf "| %s | %.3f (%.3f-%.3f) | %.3f (%.3f-%.3f) | %.3f (%.3f-%.3f) | %.3f | %.3f |\n",
			name, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 }'
}
{
	echo "Test split of the synthetic cohort: $(jq .n "$report/cnn-metrics.json") images of $(jq .patients "$report/cnn-metrics.json") patients (osteo-synth -n $n --seed $seed, $size)."
	echo "95% intervals: $(jq .ci.bootstrap "$report/cnn-metrics.json") bootstrap resamples of patients."
	echo
	echo "| model | accuracy | macro F1 | macro AUC | Brier | ECE |"
	echo "|---|---|---|---|---|---|"
	row "OsteoNet CNN ($arch, $epochs epochs, $fusion fusion)" "$report/cnn-metrics.json"
	row "SVM baseline (RBF, clinical + image features)" "$report/svm-metrics.json"
	row "random forest baseline (XGBoost, the same features)" "$report/rf-metrics.json"
	row "boosted trees baseline (XGBoost, the same features)" "$report/gbt-metrics.json"
	row "OsteoNet CNN, per patient (the mean of its images)" "$report/cnn-patient-metrics.json"
	row "SVM baseline, per patient" "$report/svm-patient-metrics.json"
	osteo-dump "$out/prep/test.fused.rec" | jq -r '"\(.patient) \(.label)"' | ceiling "$out/prep/cohort/truth.csv" |
		awk -F'\t' '{ printf "| ceiling: each patient'"'"'s Bayes-optimal class, from osteo-synth'"'"'s truth.csv | %.3f | %.3f | - | - | - |\n", $1, $2 }'
	echo
	jq -r '.maps | "Heat maps: \(.n) test images, \(.blank) blank; \(.in_mask * 1000 | round / 10)% of their mass lies in bone, which covers \(.mask_share * 1000 | round / 10)% of the image: \(.ratio * 100 | round / 100) times its share."' "$report/cnn-metrics.json"
	jq -r '"CNN minus SVM on the same \(.n) patients (paired bootstrap, 95%): accuracy \(.accuracy.diff * 1000 | round / 1000) (\(.accuracy.ci[0] * 1000 | round / 1000) to \(.accuracy.ci[1] * 1000 | round / 1000)), macro AUC \(.auc_macro.diff * 1000 | round / 1000) (\(.auc_macro.ci[0] * 1000 | round / 1000) to \(.auc_macro.ci[1] * 1000 | round / 1000)); DeLong, osteoporosis vs rest: AUC \(.delong[-1].auc_a * 1000 | round / 1000) vs \(.delong[-1].auc_b * 1000 | round / 1000), p = \(.delong[-1].p * 1000 | round / 1000)."' "$report/cnn-vs-svm.json"
	echo "Calibration: temperature $(osteo-dump "$out/osteonet.model" | jq -r '.meta["calibration.temperature"] * 1000 | round / 1000') fitted on the validation records (osteo-train --calibrate, after $fusion fusion$([ "$fusion" = late ] && echo ", whose regression on the validation records calibrates already")); the CNN's test ECE $(jq -r '.ece * 1000 | round / 1000' "$report/cnn-uncalibrated-metrics.json") without it, $(jq -r '.ece * 1000 | round / 1000' "$report/cnn-metrics.json") with it (reliability.png)."
	jq -r '[.coverage[] | "keeping \(.keep * 100 | round)% (\(.n) patients) accuracy \(.accuracy * 1000 | round / 1000) (\(.accuracy_ci[0] * 1000 | round / 1000)-\(.accuracy_ci[1] * 1000 | round / 1000)), \(.gain * 1000 | round / 1000) more than all (\(.gain_ci[0] * 1000 | round / 1000) to \(.gain_ci[1] * 1000 | round / 1000))"] | "Referral, the most uncertain test patients to a reader (osteo-metrics --coverage, risk-coverage.png): " + join("; ") + "."' "$report/cnn-referral.json"
	jq -r '.binary | "Screening, \(.positive) against the rest, the threshold for 90% sensitivity chosen on the validation patients (p >= \(.threshold * 1000 | round / 1000)): on the test patients sensitivity \(.sensitivity * 1000 | round / 1000) (\(.sensitivity_ci[0] * 1000 | round / 1000)-\(.sensitivity_ci[1] * 1000 | round / 1000)), specificity \(.specificity * 1000 | round / 1000) (\(.specificity_ci[0] * 1000 | round / 1000)-\(.specificity_ci[1] * 1000 | round / 1000))."' "$report/cnn-screening.json"
	echo
	echo "The CNN per patient, by subgroup (osteo-metrics --per-patient --by; * too few patients to read):"
	echo
	echo '```'
	sed '$d' "$report/cnn-subgroups.txt"
	echo '```'
	echo
	echo "The whole job took $(($(date +%s) - start)) s on $(nproc) cores."
} >"$report/summary.md"
cat "$report/summary.md"
echo
cat "$report/cnn-metrics.txt"
step "done in $(($(date +%s) - start)) s: the report is in $report/ (summary.md, *-metrics.txt, *-metrics.json, *.png)"
