# a newcomer's own data as the README has it: a folder of class folders with the patient in
# each file name and a clinical CSV whose key column is not "patient" -> a model and metrics
# with no manifest and no mkdir; settings that change redo what they shape; the model applied
# to new images; records prepared otherwise than the training records refused, naming the step
. "$TOP/tests/lib.sh"
MF=$TOP/examples/xray-folder/make-folder.sh
"$MF" mine 90 1
mk() { make -s -f "$TOP/pipelines/train.mk" OUT=runs/a IMAGES=mine/images PATIENT='(P[0-9]+)_' \
	CLINICAL=mine/clinical.csv KEY=subject_id EPOCHS=2 ARCH=conv:4,pool,conv:8,pool,dense:8 BOOTSTRAP=20 "$@"; }
mk SIZE=32x32 >log 2>&1 || { cat log; fail "train.mk on the folder"; }
for f in metrics.txt metrics.json predictions.csv svm.metrics.txt osteonet.model; do
	[ -s runs/a/$f ] || fail "no runs/a/$f"
done
[ ! -e runs/a/cohort ] || fail "IMAGES without MANIFEST made a synthetic cohort"
contains -E '^accuracy +0[.][0-9]+' runs/a/metrics.txt || fail "metrics: $(cat runs/a/metrics.txt)"
contains 'osteo-train: epoch 2/2' log || fail "training was silent: $(cat log)"
# every record's patient from its file name, labelled by its folder; no patient in two splits;
# the clinical vector is age and sex (no T-score in the default)
n=$(find mine/images -name '*.png' | wc -l)
[ "$(osteo-dump runs/a/decoded.rec | jq -r '"\(.patient) \(.meta.class) \(.id)"' |
	awk '{ split($3, a, "/"); p = a[2]; sub(/_.*/, "", p) } p == $1 && a[1] == $2' | wc -l)" = "$n" ] ||
	fail "patients or labels from the paths"
for s in train val test; do osteo-dump runs/a/$s.rec | jq -r .patient | sort -u >$s.p; done
[ -z "$(cat train.p val.p test.p | sort | uniq -d)" ] && [ -s val.p ] && [ -s test.p ] || fail "the split by patient"
osteo-dump runs/a/test.fused.rec | jq -s -e 'all(.tensors.clinical.shape == [3]) and
	all(.meta["fuse.features"] == "age,sex=F,sex=M")' >/dev/null || fail "the clinical columns"
# nothing to redo; a new SIZE redoes from the resize on (the model too), not the decode
[ -z "$(mk SIZE=32x32 -n | grep osteo-)" ] || fail "a second run would redo work"
before=$(stat -c %y runs/a/decoded.rec)
mk SIZE=24x24 >log 2>&1 || { cat log; fail "SIZE=24x24"; }
[ "$(osteo-dump runs/a/osteonet.model | jq -r .meta.input)" = 1x24x24 ] || fail "SIZE did not rebuild the model"
[ "$(stat -c %y runs/a/decoded.rec)" = "$before" ] || fail "SIZE redid the decode"
grep -q '^SIZE=24x24$' runs/a/apply.settings || fail "apply.settings"
# the model on new images: a flat folder without labels, their own clinical table
"$MF" new 20 2 --unlabelled
make -s -f "$TOP/pipelines/train.mk" OUT=runs/a apply NEW=new/images NEW_CLINICAL=new/clinical.csv >log 2>&1 ||
	{ cat log; fail "apply"; }
[ "$(($(wc -l <runs/a/new/predictions.csv) - 1))" = "$(find new/images -name '*.png' | wc -l)" ] || fail "apply: rows"
[ ! -e runs/a/new/metrics.txt ] || fail "apply: metrics without labels"
osteo-dump runs/a/new/predictions.rec | jq -r .patient | contains -x P20001 || fail "apply: patients from the names"
! make -s -f "$TOP/pipelines/train.mk" OUT=runs/a apply 2>err || fail "apply without NEW"
contains "name the new images with NEW=" err || fail "apply without NEW: $(cat err)"
# by hand: a normalisation step left out, or the percentile one skipped, is refused naming it
hand() {
	osteo-decode -q --patient-from '(P[0-9]+)_' new/images | osteo-normalize --size 24x24 "$@" |
		osteo-normalize --stats runs/a/stats.rec |
		osteo-fuse --clinical new/clinical.csv --key subject_id --encoding runs/a/encoding.rec |
		osteo-infer -m runs/a/osteonet.model
}
hand --method percentile | cmp - runs/a/new/predictions.rec || fail "by hand, as apply does it: other predictions"
expect_status 65 hand >/dev/null 2>err
contains "step 2 (normalize): method is minmax; the training records had percentile" err || fail "$(cat err)"
osteo-decode -q --patient-from '(P[0-9]+)_' new/images | osteo-normalize --stats runs/a/stats.rec |
	osteo-fuse --clinical new/clinical.csv --key subject_id --encoding runs/a/encoding.rec >skip.rec
expect_status 65 osteo-infer -m runs/a/osteonet.model skip.rec >/dev/null 2>err
contains "prepared otherwise than the model's training records: step 2 (normalize)" err || fail "$(cat err)"
osteo-infer --no-check -m runs/a/osteonet.model skip.rec >/dev/null || fail "--no-check"
# pipelines/nightly on a run whose settings no longer match its model: exit 65, the step named,
# nothing marked done
cp -r runs/a runs/b
sed -i 's/^SIZE=.*/SIZE=32x32/' runs/b/apply.settings
mkdir inbox && tar -czf inbox/monday.tar.gz -C new images clinical.csv
expect_status 65 "$TOP/pipelines/nightly" -d runs/b -i inbox -o out 2>err
contains "step 2 (normalize): size is 32x32; the training records had 24x24" err || fail "nightly: $(cat err)"
[ ! -s out/done.list ] || fail "nightly marked a refused export done"
"$TOP/pipelines/nightly" -d runs/a -i inbox -o out || fail "nightly on the matching run"
# osteo-decode: a path --patient-from does not match is an error naming it (--keep-going goes on);
# a bad pattern is a usage error
mkdir -p odd/healthy && cp "$(find mine/images -name '*.png' | head -n 1)" odd/healthy/scan.png
cp "$(find mine/images -name '*.png' | head -n 1)" odd/healthy/P7_a.png
expect_status 65 osteo-decode -q --patient-from '(P[0-9]+)_' odd >/dev/null 2>err
contains "odd/healthy/scan.png: the path does not match --patient-from" err || fail "$(cat err)"
[ "$(osteo-decode -q --keep-going --patient-from '(P[0-9]+)_' odd 2>/dev/null | osteo-dump | jq -r .patient)" = P7 ] ||
	fail "--keep-going"
expect_status 64 osteo-decode --patient-from '(' odd 2>/dev/null
expect_status 64 osteo-decode --patient-dir --patient-from x odd 2>/dev/null
# masks by name: FILE.mask.png beside FILE.png is FILE's mask, never an image of its own
mkdir -p masked/osteopenia
osteo-synth -q -n 1 --seed 3 --images 1 --size 16x16 --masks -o syn
img=$(awk -F, 'NR == 2 { print $1 }' syn/manifest.csv)
cp "syn/$img" masked/osteopenia/P1_a.png
cp "syn/${img%.png}.mask.png" masked/osteopenia/P1_a.mask.png
osteo-decode -q masked | osteo-dump | jq -s -e 'length == 1 and .[0].tensors.mask.shape == [1,16,16]
	and .[0].label == 1' >/dev/null || fail "a mask by its name: $(osteo-decode -q masked | osteo-dump -c 2>&1 | head -c 300)"
tar -cf masked.tar -C masked .
[ "$(osteo-decode -q masked.tar | osteo-dump --count | tail -n 1 | cut -f 3)" = 1 ] || fail "an archive's mask decoded as an image"
# a --masks cohort decoded without its manifest: one record per image, each with its mask
osteo-synth -q -n 6 --seed 5 --images 2 --size 16x16 --masks -o msyn
n=$(awk -F, 'NR > 1' msyn/manifest.csv | wc -l)
osteo-decode -q msyn | osteo-dump | jq -s -e --argjson n "$n" 'length == $n and all(.tensors.mask.shape == [1,16,16])' \
	>/dev/null || fail "a --masks cohort without its manifest: $(osteo-decode -q msyn | osteo-dump --count)"
# a manifest of unlabelled images: path and patient, no label column
printf 'path,patient\n%s,X1\n' "$(cd new/images && ls | head -n 1)" >unlabelled.csv
osteo-decode -q --manifest unlabelled.csv new/images | osteo-dump | jq -s -e 'map(select(.patient == "X1")) |
	length == 1 and (.[0].label == null)' >/dev/null || fail "a manifest without labels"
