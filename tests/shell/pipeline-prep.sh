# pipelines/prep.mk end to end on a small cohort, then only what changed reruns
. "$TOP/tests/lib.sh"
mk() { make -f "$TOP/pipelines/prep.mk" OUT=p N=24 SEED=3 SIZE=48x48 "$@"; }
mk -s -j2 >log 2>&1 || { cat log; fail "prep.mk failed"; }
for s in train val test; do
	[ -s p/$s.fused.rec ] || fail "no p/$s.fused.rec"
	osteo-dump p/$s.fused.rec | jq -s -e 'all(.tensors.clinical.shape == [4] and .tensors.image.shape == [1,48,48])' >/dev/null ||
		fail "$s: tensors"
done
for s in train val test; do osteo-dump p/$s.fused.rec | jq -r .patient | sort -u >$s.p; done
[ -z "$(cat train.p val.p test.p | sort | uniq -d)" ] || fail "a patient in two splits"
# balanced training classes
osteo-dump --count p/train.fused.rec | awk -F'\t' '$1 ~ /^[0-9]+$/ { c[$3]++ } END { exit length(c) == 1 ? 0 : 1 }' ||
	fail "training classes are not balanced"
# nothing to do the second time; touching the clinical CSV redoes only fusion
[ "$(mk -n | grep -c osteo-)" = 0 ] || fail "a second run would redo work"
sleep 1
touch p/cohort/clinical.csv
mk -n >plan
grep -q osteo-fuse plan || fail "fusion not redone"
! grep -q -e osteo-decode -e osteo-split -e osteo-normalize -e osteo-augment plan || fail "more than fusion redone: $(cat plan)"
