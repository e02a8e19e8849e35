# decode | normalize | split | augment | fuse | train | infer learns: test accuracy well above chance
# and above the best single clinical column; the same seed gives the same model bytes twice
. "$TOP/tests/lib.sh"
make -s -f "$TOP/pipelines/prep.mk" OUT=p N=300 SEED=7 SIZE=64x64 COPIES=0 >/dev/null 2>&1
A="-q --arch conv:16,pool,conv:32,pool,conv:64,pool,dense:64,dropout:0.5 --epochs 25 --batch 32 --val p/val.fused.rec"
osteo-train $A -o a.model p/train.fused.rec
osteo-train $A -o b.model p/train.fused.rec
cmp a.model b.model || fail "the same seed gave different model bytes"
osteo-infer -m a.model p/test.fused.rec | osteo-dump | jq -r '[.label, .pred] | @tsv' >pred.tsv
acc=$(awk '{ n++; r += $1 == $2 } END { printf "%.4f", r / n }' pred.tsv)
osteo-dump p/train.rec | jq -r '[.patient, .label] | @tsv' | sort -u >train.tsv
osteo-dump p/test.rec | jq -r '[.patient, .label] | @tsv' >test.tsv
read -r col colacc < <(awk -f "$TOP/tests/best-column.awk" p/cohort/clinical.csv train.tsv test.tsv)
echo "test accuracy $acc; best single clinical column $col $colacc; chance 0.33"
awk -v a="$acc" -v c="$colacc" 'BEGIN { exit !(a >= 0.6 && a >= c + 0.05) }' ||
	fail "accuracy $acc is not well above chance and the best column ($col, $colacc)"
# the SVM baseline on the same split, scored by osteo-metrics: above the majority class,
# and osteo-metrics agrees with the accuracy counted here
osteo-infer -m a.model p/test.fused.rec | osteo-metrics --json --bootstrap 0 | jq -e --argjson a "$acc" '(.accuracy - $a | fabs) < 1e-4' >/dev/null ||
	fail "osteo-metrics disagrees with the counted accuracy $acc"
osteo-baseline -q -o svm.model p/train.fused.rec
osteo-baseline -m svm.model p/test.fused.rec | osteo-metrics --json --bootstrap 0 >svm.json
major=$(cut -f 1 pred.tsv | sort | uniq -c | sort -rn | awk 'NR == 1 { m = $1 } { n += $1 } END { printf "%.4f", m / n }')
echo "SVM baseline accuracy $(jq .accuracy svm.json), AUC $(jq .auc_macro svm.json); majority class $major"
jq -e --argjson m "$major" '.accuracy >= $m + 0.1 and .auc_macro >= 0.7' svm.json >/dev/null ||
	fail "the baseline does not learn: $(jq -c '[.accuracy, .auc_macro]' svm.json)"
