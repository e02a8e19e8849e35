# osteo-train and osteo-infer: reproducible, resumable, strict about their input
. "$TOP/tests/lib.sh"
make -s -f "$TOP/pipelines/prep.mk" OUT=p N=24 SEED=2 SIZE=32x32 COPIES=0 COLUMNS=age,sex,bmd_tscore,fracture_history >/dev/null 2>&1
A="-q --arch conv:4,pool,conv:8,pool,dense:8,dropout:0.2 --epochs 3 --batch 8 --val p/val.fused.rec"
osteo-train $A -o a.model --log a.tsv p/train.fused.rec
osteo-train $A -o b.model p/train.fused.rec
cmp a.model b.model || fail "the same seed gave different models"
[ "$(wc -l <a.tsv)" = 4 ] || fail "--log: $(cat a.tsv)"
head -n 1 a.tsv | contains -x "$(printf 'epoch\ttrain_loss\ttrain_acc\tval_loss\tval_acc\tlr\tseconds\timages_per_s')" || fail "log header"
osteo-dump a.model | jq -e '.meta.kind == "osteonet-model" and .meta.classes == "healthy,osteopenia,osteoporosis"
	and .tensors.history.shape == [3,6]' >/dev/null || fail "osteo-dump of the model"
# killed after epoch 1 (SIGKILL), resumed: the same model as the run never killed
osteo-train $A --epochs 1 -o c.model --checkpoint c.ckpt p/train.fused.rec
osteo-train $A --resume c.ckpt -o c.model p/train.fused.rec
cmp a.model c.model || fail "a resumed run differs"
( osteo-train $A --patience 0 --epochs 100000 -o k.model --checkpoint k.ckpt p/train.fused.rec & pid=$!; sleep 2; kill -KILL $pid; wait $pid ) || true
[ ! -e k.model ] || fail "a killed run left a model"
# resumed after SIGKILL mid-epoch: the same model as a run never killed
k=$(( $(osteo-dump k.ckpt | jq -r '.meta["train.epoch"]') + 1 ))
osteo-train $A --patience 0 --epochs $k --resume k.ckpt -o k.model p/train.fused.rec
osteo-train $A --patience 0 --epochs $k -o nk.model p/train.fused.rec
cmp k.model nk.model || fail "resumed after SIGKILL: differs from the run never killed"
# SIGTERM: stops after the batch in hand with 143; resuming matches a run never stopped
( osteo-train $A --patience 0 --epochs 100000 -o t.model --checkpoint t.ckpt p/train.fused.rec 2>err & pid=$!
  sleep 2; kill -TERM $pid; st=0; wait $pid || st=$?; [ $st = 143 ] ) || fail "SIGTERM: exit status"
grep -q 'stopped by signal 15' err || fail "SIGTERM message: $(cat err)"
[ ! -e t.model ] || fail "a model after SIGTERM"
done_epochs=$(osteo-dump t.ckpt | jq -r '.meta["train.epoch"]')
want=$((done_epochs + 1))
osteo-train $A --patience 0 --epochs $want --resume t.ckpt -o t.model p/train.fused.rec
osteo-train $A --patience 0 --epochs $want -o u.model p/train.fused.rec
cmp t.model u.model || fail "resumed after SIGTERM at epoch $done_epochs: differs"
# inference: probabilities that sum to 1, the arg-max, the risk of osteoporosis
osteo-infer --device cpu -m a.model p/test.fused.rec >pred.rec
osteo-dump pred.rec | jq -s -e 'all(((.probs | add) - 1 | fabs) < 1e-5 and
	.pred == (.probs | to_entries | max_by(.value) | .key) and .risk == .probs[2])' >/dev/null || fail "probs, pred, risk"
[ "$(osteo-dump --count pred.rec | tail -n 1)" = "$(osteo-dump --count p/test.fused.rec | tail -n 1)" ] || fail "records lost"
# batches of any size give the same answers
osteo-infer --device cpu --batch 1 -m a.model p/test.fused.rec | cmp - pred.rec || fail "--batch changes results"
# transfer learning: --init copies matching layers, --freeze keeps the first ones fixed
osteo-train -q --arch conv:4,pool,conv:8,pool,dense:8,dropout:0.2 --epochs 2 --batch 8 --init a.model --freeze 1 \
	--seed 5 -o f.model p/train.fused.rec
for t in L1.w L1.gamma; do
	[ "$(osteo-dump --data a.model | jq -c ".tensors[\"$t\"].data")" = "$(osteo-dump --data f.model | jq -c ".tensors[\"$t\"].data")" ] ||
		fail "--freeze 1 changed $t"
done
[ "$(osteo-dump --data a.model | jq -c '.tensors["L3.w"].data')" != "$(osteo-dump --data f.model | jq -c '.tensors["L3.w"].data')" ] ||
	fail "layer 3 did not train"
# Grad-CAM heatmaps at the input's size in [0,1], and feature maps of a layer
osteo-infer -m a.model --heatmap --feature-maps 3 p/test.fused.rec | osteo-dump | jq -s -e 'all(
	.tensors.heatmap.shape == [1,32,32] and .tensors.heatmap.min >= 0 and .tensors.heatmap.max <= 1 and
	.tensors.features.shape == [8,16,16] and .meta["infer.heatmap_class"] == .pred)' >/dev/null || fail "--heatmap"
osteo-infer -m a.model --heatmap-class osteopenia p/test.fused.rec | osteo-dump | jq -s -e 'all(.meta["infer.heatmap_class"] == 1)' >/dev/null ||
	fail "--heatmap-class"
expect_status 64 osteo-infer -m a.model --feature-maps 5 p/test.fused.rec
# refusals: another normalisation, another encoding, another size
expect_status 65 osteo-infer -m a.model p/test.rec >/dev/null 2>err
grep -q 'clinical features' err || fail "missing clinical: $(cat err)"
osteo-normalize --size 32x32 --method minmax p/test.rec | osteo-fuse -q --clinical p/cohort/clinical.csv --encoding p/encoding.rec >other.rec
expect_status 65 osteo-infer -m a.model other.rec >/dev/null 2>err
grep -q 'normalised by method' err || fail "normalisation check: $(cat err)"
osteo-infer --no-check -m a.model other.rec | osteo-dump --count >/dev/null
# bad training input: each a clear error with status 65
osteo-dump p/train.fused.rec >/dev/null
printf '\x82\xa2id\xa1x\xa7tensors\x80' >noimg.rec
expect_status 65 osteo-train -q -o x.model noimg.rec 2>err
grep -q "no 'image'" err || fail "no image: $(cat err)"
osteo-decode -q "$FIX/img/gray8.png" | osteo-normalize --size 32x32 >nolabel.rec
expect_status 65 osteo-train -q -o x.model nolabel.rec 2>err
grep -q 'no label' err || fail "no label: $(cat err)"
# NaN pixels: {"id":"n","label":0,"tensors":{"image":{"dtype":"f32","shape":[1,1,1],"data":NaN}}}
printf '\x83\xa2id\xa1n\xa5label\x00\xa7tensors\x81\xa5image\x83\xa5dtype\xa3f32\xa5shape\x93\x01\x01\x01\xa4data\xc4\x04\x00\x00\xc0\x7f' >nan.rec
expect_status 65 osteo-train -q -o x.model nan.rec 2>err
grep -q 'NaN' err || fail "NaN: $(cat err)"
expect_status 65 osteo-train -q --classes a,b -o x.model p/train.fused.rec 2>err
grep -q 'out of range' err || fail "label out of range: $(cat err)"
mkdir -p mix/healthy && cp "$FIX/img/gray8.png" "$FIX/img/gray16.png" mix/healthy/ && cp "$FIX/img/g12.pgm" mix/healthy/
osteo-decode -q mix | osteo-normalize --method none >mixed.rec
expect_status 65 osteo-train -q -o x.model mixed.rec 2>err
grep -q 'differs from the first' err || fail "size mismatch: $(cat err)"
: >empty.rec
expect_status 65 osteo-train -q -o x.model empty.rec 2>err
grep -q 'no records' err || fail "empty: $(cat err)"
[ ! -e x.model ] || fail "a model after an error"
expect_status 64 osteo-train -q --arch conv:4,banana -o x.model p/train.fused.rec 2>/dev/null
# without a device, --device cuda is refused and auto is the CPU (gpu.sh tests a device)
if ! osteo-gpuinfo -q; then
	expect_status 69 osteo-train -q --device cuda -o x.model p/train.fused.rec 2>err
	grep -q 'no CUDA device' err || fail "--device cuda: $(cat err)"
	expect_status 69 osteo-infer -q --device cuda -m a.model p/test.fused.rec 2>/dev/null
	osteo-infer --device auto -m a.model p/test.fused.rec | cmp - pred.rec || fail "--device auto is not the CPU"
fi
expect_status 64 osteo-infer -q --device gpu -m a.model p/test.fused.rec 2>/dev/null
# --calibrate: a temperature fitted on --val's records, kept in the model, applied by osteo-infer
# (the same calls, other probabilities; --no-calibration the raw ones); the temperature is a
# minimum of the validation records' negative log-likelihood, checked here by awk at T/1.05 and T*1.05
osteo-train $A --calibrate -o cal.model p/train.fused.rec
t=$(osteo-dump cal.model | jq -r '.meta["calibration.temperature"]')
[ "$t" != null ] || fail "--calibrate: no temperature in the model"
osteo-infer -m cal.model --no-calibration p/val.fused.rec | osteo-dump | jq -r '"\(.label) \(.probs | map(tostring) | join(" "))"' >raw.txt
nll() { awk -v t="$1" '{ mx = -1e300; for (c = 2; c <= NF; c++) { l[c] = log($c > 1e-12 ? $c : 1e-12) / t; if (l[c] > mx) mx = l[c] }
	z = 0; for (c = 2; c <= NF; c++) z += exp(l[c] - mx); s += mx + log(z) - l[$1 + 2] } END { printf "%.12f\n", s / NR }' raw.txt; }
awk -v a="$(nll "$t")" -v lo="$(nll "$(echo "$t / 1.05" | bc -l)")" -v hi="$(nll "$(echo "$t * 1.05" | bc -l)")" \
	'BEGIN { exit !(a <= lo && a <= hi) }' || fail "--calibrate: T=$t is not the NLL's minimum ($(nll "$t") vs $(nll "$(echo "$t / 1.05" | bc -l)"), $(nll "$(echo "$t * 1.05" | bc -l)"))"
osteo-infer -m cal.model p/test.fused.rec >cal.rec
osteo-infer -m cal.model --no-calibration p/test.fused.rec >raw.rec
[ "$(osteo-dump cal.rec | jq -s -c 'map(.pred)')" = "$(osteo-dump raw.rec | jq -s -c 'map(.pred)')" ] || fail "calibration changed the calls"
[ "$(osteo-dump cal.rec | jq -s -c 'map(.probs)')" != "$(osteo-dump raw.rec | jq -s -c 'map(.probs)')" ] || fail "calibration changed nothing"
osteo-dump cal.rec | jq -s -e --argjson t "$t" 'all(.meta["infer.temperature"] == $t)' >/dev/null || fail "infer.temperature"
osteo-dump raw.rec | jq -s -e 'all(.meta | has("infer.temperature") | not)' >/dev/null || fail "--no-calibration"
expect_status 64 osteo-train -q --calibrate -o x.model p/train.fused.rec
# occlusion maps of a calibrated model measure its calibrated answer against itself: close to the
# raw model's maps, not offset by the gap between raw and tempered probabilities
osteo-infer -m cal.model --heatmap-mode occlusion p/test.fused.rec | osteo-dump --data | jq -c '.tensors.heatmap.data' >hc
osteo-infer -m cal.model --no-calibration --heatmap-mode occlusion p/test.fused.rec | osteo-dump --data | jq -c '.tensors.heatmap.data' >hr
d=$(jq -n --slurpfile a hc --slurpfile b hr '[range($a | length) as $i | [range($a[$i] | length) as $j |
	($a[$i][$j] - $b[$i][$j]) | fabs] | add / length] | add / length')
m=$(jq -s 'map(add / length) | add / length' hr)
awk -v d="$d" -v m="$m" 'BEGIN { exit !(d < 0.25 * m) }' || fail "occlusion maps of a calibrated model: mean difference $d, mean $m"
# --fusion late: the network is the image-only network (the same weights as a run on the records
# without their clinical vectors), the regression on its answers and the clinical values is kept
# in the model and applied by osteo-infer: its probabilities are softmax([log p, clinical, 1] W)
# of the image-only model's p, computed here by jq
osteo-train $A --fusion late -o late.model p/train.fused.rec
osteo-train ${A% --val *} --val p/val.norm.rec -o img.model p/train.aug.rec
weights() { osteo-dump --data "$1" | jq -c '.tensors | with_entries(select(.key | test("^L"))) | map_values(.data)'; }
[ "$(weights late.model)" = "$(weights img.model)" ] || fail "--fusion late: the network differs from the image-only one"
osteo-dump --data late.model | jq -e '.meta.fusion == "late" and .tensors["fusion.late"].shape == [3 + 5 + 1, 3]' \
	>/dev/null || fail "--fusion late: the model's fusion.late ($(osteo-dump late.model | jq -c '.tensors["fusion.late"]'))"
osteo-infer -m late.model p/test.fused.rec >late.rec
osteo-infer -m img.model p/test.norm.rec >img.rec
osteo-dump --data late.model | jq -c '.tensors["fusion.late"].data' >w.json
osteo-dump --data p/test.fused.rec | jq -c '.tensors.clinical.data' >c.json
osteo-dump img.rec | jq -c '.probs' >p.json
osteo-dump late.rec | jq -c '.probs' >got.json
jq -n --slurpfile w w.json --slurpfile c c.json --slurpfile p p.json --slurpfile g got.json '
	$w[0] as $W | [range($p | length) as $i |
		([($p[$i][] | if . > 1e-12 then log else (1e-12 | log) end)] + $c[$i] + [1]) as $x |
		[range(3) as $k | [range($x | length) as $j | $x[$j] * $W[$j * 3 + $k]] | add] as $z |
		($z | max) as $m | [$z[] | . - $m | exp] as $e | ($e | add) as $s |
		[range(3) as $k | ($e[$k] / $s - $g[$i][$k]) | fabs] | max] | max < 1e-5' | contains -x true ||
	fail "--fusion late: osteo-infer's probabilities are not the regression's"
# a late model's checkpoint resumes (its network takes no clinical values; the records do)
osteo-train $A --fusion late --epochs 1 -o l1.model --checkpoint l.ckpt p/train.fused.rec
osteo-train $A --fusion late --resume l.ckpt -o l1.model p/train.fused.rec
cmp late.model l1.model || fail "--fusion late: a resumed run differs"
expect_status 64 osteo-train -q --fusion late -o x.model p/train.fused.rec
expect_status 64 osteo-train $A --fusion late --clinical-dropout 0.5 -o x.model p/train.fused.rec
expect_status 64 osteo-train $A --fusion both -o x.model p/train.fused.rec
expect_status 65 osteo-train ${A% --val *} --val p/val.norm.rec --fusion late -o x.model p/train.aug.rec
expect_status 65 osteo-infer -q -m late.model p/test.norm.rec >/dev/null 2>&1
# --cosine: the learning rate falls along half a cosine to 0 over all the epochs' steps (each
# epoch logs its last step's), and a resumed run still ends with the same model
osteo-train $A --cosine --log cos.tsv -o cos.model p/train.fused.rec
steps=$(( ($(osteo-dump --count p/train.fused.rec | awk -F'\t' '$1 == "all" { print $3 }') + 7) / 8 ))
awk -F'\t' -v T=$((3 * steps)) -v per=$steps 'NR > 1 { t = $1 * per - 1; want = 0.001 * (1 + cos(3.141592653589793 * t / T)) / 2
	if ((($6 - want) ^ 2) ^ 0.5 > 1e-6 * 0.001 + 1e-9) { print "epoch " $1 ": lr " $6 ", want " want; bad = 1 } } END { exit bad }' cos.tsv ||
	fail "--cosine: the learning rates ($(cut -f1,6 cos.tsv | tr '\n' ' '))"
# (the schedule is a function of the step and --epochs, so the resumed run gives the same --epochs)
C="$A --cosine --patience 0 --epochs 40"
( osteo-train $C -o cs.model --checkpoint cs.ckpt p/train.fused.rec & pid=$!; sleep 1; kill -TERM $pid; wait $pid ) || true
[ -e cs.model ] || osteo-train $C --resume cs.ckpt -o cs.model p/train.fused.rec
osteo-train $C -o cn.model p/train.fused.rec
cmp cs.model cn.model || fail "--cosine: a resumed run differs from the run never stopped"
