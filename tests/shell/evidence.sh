# what osteo-synth knows (truth.csv, masks) and what the CNN's maps show:
# masks decoded from the manifest and carried through normalize and
# augment, heat maps for every image, their mass against the masks in
# osteo-metrics, and osteo-train refusing a stream prepared two ways
. "$TOP/tests/lib.sh"
osteo-synth -q -n 12 --seed 3 --masks -o c
head -n 1 c/truth.csv | contains -x 'patient,quality,bayes_class,p_healthy,p_osteopenia,p_osteoporosis' || fail "truth header"
[ "$(tail -n +2 c/truth.csv | wc -l)" = 12 ] || fail "truth rows"
# the posteriors sum to 1, the Bayes class is their arg-max, and a high
# quality is healthy, a low one osteoporosis
awk -F, 'NR > 1 { s = $4 + $5 + $6; if (s < 0.999 || s > 1.001) exit 1
	m = $4 >= $5 && $4 >= $6 ? "healthy" : $5 >= $6 ? "osteopenia" : "osteoporosis"; if (m != $3) exit 1
	if ($2 > 0.8 && $3 != "healthy") exit 1; if ($2 < 0.2 && $3 != "osteoporosis") exit 1 }' c/truth.csv ||
	fail "truth.csv: $(head -n 4 c/truth.csv)"
head -n 1 c/manifest.csv | contains -x 'path,label,patient,modality,region,mask' || fail "manifest's mask column"
images=$(tail -n +2 c/manifest.csv | wc -l)
[ "$(find c -name '*.mask.png' | wc -l)" = "$images" ] || fail "a mask beside every image"
# decoded: one record per image (masks are not images), each with its mask,
# 0 and 1, the image's size, the same as --records gives
osteo-decode -q --manifest c/manifest.csv c >d.rec
[ "$(osteo-dump --count d.rec | tail -n 1 | cut -f 3)" = "$images" ] || fail "masks decoded as images"
osteo-dump d.rec | jq -s -e 'all(.tensors.mask.dtype == "u8" and .tensors.mask.max == 1 and .tensors.mask.min == 0
	and .tensors.mask.shape == .tensors.image.shape)' >/dev/null || fail "decoded masks"
osteo-synth -q -n 12 --seed 3 --masks --records --truth t.csv | osteo-dump | jq -c '[.id, .tensors.mask.mean]' | sort >want
osteo-dump d.rec | jq -c '[.id, .tensors.mask.mean]' | sort | cmp - want || fail "decoded masks differ from --records"
cmp t.csv c/truth.csv || fail "--truth differs from truth.csv"
# a mask that is not its image's size, or missing, is refused naming the image
cp -r c bad
m=$(tail -n +2 c/manifest.csv | head -n 1 | cut -d, -f6)
pngtopnm c/"$m" | pnmscale 0.5 | pnmtopng >bad/"$m"
expect_status 65 osteo-decode -q --manifest bad/manifest.csv bad >/dev/null 2>err
contains "mask" err && contains "${m%.mask.png}.png" err || fail "a mask of the wrong size: $(cat err)"
# masks move with their images: fitted by osteo-normalize (pad), warped by osteo-augment
osteo-normalize --size 32x32 --fit pad --method percentile d.rec >n.rec
osteo-dump n.rec | jq -s -e 'all(.tensors.mask.shape == [1,32,32] and .tensors.mask.mean > 0.02)' >/dev/null ||
	fail "normalised masks"
osteo-augment -q --seed 1 --copies 1 --hflip 1 n.rec | osteo-dump --data | jq -s -e '
	(map(select(.meta["aug.of"] == null)) | .[0].tensors.mask.data[0:32*32]) as $m |
	(map(select(.meta["aug.of"] != null)) | .[0].tensors.mask.data[0:32*32]) as $f |
	[range(32)] | all(. as $y | ($m[$y*32:$y*32+32] | reverse) == $f[$y*32:$y*32+32])' >/dev/null || fail "a flipped mask"
# every image gets a map: Grad-CAM, or its absolute value where Grad-CAM is empty
make -s -f "$TOP/pipelines/prep.mk" OUT=p N=30 SEED=2 SIZE=32x32 COPIES=0 MASKS=1 >/dev/null 2>&1
osteo-train -q --arch conv:4,pool,conv:8,pool,gap,clin:4,dense:8 --epochs 2 --batch 8 -o m.model p/train.fused.rec
# --clinical-dropout: reproducible, and it changes what is learnt
osteo-train -q --arch conv:4,pool,conv:8,pool,gap,clin:4,dense:8 --epochs 2 --batch 8 --clinical-dropout 0.5 \
	-o cd1.model p/train.fused.rec
osteo-train -q --arch conv:4,pool,conv:8,pool,gap,clin:4,dense:8 --epochs 2 --batch 8 --clinical-dropout 0.5 \
	-o cd2.model p/train.fused.rec
cmp cd1.model cd2.model || fail "--clinical-dropout: the same seed gave different models"
! cmp -s cd1.model m.model || fail "--clinical-dropout 0.5 trained the same model as none"
expect_status 64 osteo-train -q --clinical-dropout 1 -o x.model p/train.fused.rec 2>/dev/null
osteo-infer -m m.model --heatmap p/test.fused.rec >auto.rec
osteo-dump auto.rec | jq -s -e 'all(.tensors.heatmap.max == 1 and .tensors.mask != null and
	(.meta["infer.heatmap_mode"] == (if .meta["infer.gradcam_empty"] then "absolute" else "gradcam" end)))' >/dev/null ||
	fail "--heatmap-mode auto"
osteo-infer -m m.model --heatmap-mode gradcam p/test.fused.rec >g.rec
osteo-infer -m m.model --heatmap-mode absolute p/test.fused.rec >a.rec
osteo-dump a.rec | jq -s -e 'all(.meta["infer.heatmap_mode"] == "absolute" and .tensors.heatmap.max == 1)' >/dev/null ||
	fail "--heatmap-mode absolute"
blank=$(osteo-dump g.rec | jq -s 'map(select(.tensors.heatmap.max == 0)) | length')
flagged=$(osteo-dump g.rec | jq -s 'map(select(.meta["infer.gradcam_empty"])) | length')
[ "$blank" = "$flagged" ] || fail "empty Grad-CAM maps: $blank blank, $flagged said so"
expect_status 64 osteo-infer -m m.model --heatmap-mode banana p/test.fused.rec 2>/dev/null
# occlusion: a map at the input's size for every image, whatever the batch
osteo-infer -m m.model --heatmap-mode occlusion p/test.fused.rec >o.rec
osteo-dump o.rec | jq -s -e 'all(.meta["infer.heatmap_mode"] == "occlusion" and .tensors.heatmap.shape == [1,32,32] and
	.tensors.heatmap.min >= 0 and .tensors.heatmap.max <= 1)' >/dev/null || fail "--heatmap-mode occlusion"
osteo-infer -m m.model --heatmap-mode occlusion --batch 3 p/test.fused.rec | cmp - o.rec || fail "occlusion maps depend on --batch"
# osteo-metrics: the maps' mass inside the masks against the masks' share
# of the image, by hand for the records of a.rec
osteo-metrics --json a.rec >a.json
osteo-dump --data a.rec | jq -s '[.[] | .tensors.heatmap.data as $h | .tensors.mask.data as $m |
	{ in: (([range($h | length)] | map($h[.] * $m[.]) | add) / ($h | add)), share: (($m | add) / ($m | length)) }] |
	[(map(.in) | add / length), (map(.share) | add / length)]' >hand
jq -e --slurpfile h hand '.maps.n == (.n) and .maps.blank == 0 and (.maps.in_mask - $h[0][0] | fabs) < 1e-6 and
	(.maps.mask_share - $h[0][1] | fabs) < 1e-6 and (.maps.ratio - $h[0][0] / $h[0][1] | fabs) < 1e-5' a.json >/dev/null ||
	fail "maps against masks: $(jq -c .maps a.json), by hand $(cat hand)"
osteo-metrics a.rec | contains "heat maps against masks" || fail "maps in the text report"
# osteo-train: a stream prepared two ways is refused, naming the record
osteo-normalize --size 32x32 --method minmax p/test.rec | osteo-fuse --clinical p/cohort/clinical.csv \
	--encoding p/encoding.rec --missing error >other.rec
expect_status 65 osteo-train -q --epochs 1 -o x.model p/train.fused.rec other.rec 2>err
contains "other.rec" err && contains "norm.method" err || fail "a stream prepared two ways: $(cat err)"
[ ! -e x.model ] || fail "a model from a refused stream"
