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
