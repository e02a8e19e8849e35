# osteo-split: grouped by patient, stratified, reproducible, duplicates kept together
. "$TOP/tests/lib.sh"
osteo-synth -q -n 80 --seed 3 -o c
osteo-decode -q --manifest c/manifest.csv c >all.rec
osteo-split --seed 3 --train tr.rec --val va.rec --test te.rec all.rec 2>err
for f in tr va te; do osteo-dump $f.rec | jq -r .patient | sort -u >$f.p; done
[ -z "$(cat tr.p va.p te.p | sort | uniq -d)" ] || fail "a patient in two splits"
[ "$(cat tr.p va.p te.p | wc -l)" = 80 ] || fail "patients lost"
# class proportions within one record of the ratio
total() { osteo-dump --count "$1" | awk -F'\t' -v k="$2" '$1 == k { print $3 }'; }
for k in 0 1 2; do
	n=$(total all.rec $k)
	for s in tr:0.70 va:0.15 te:0.15; do
		f=${s%%:*}; r=${s##*:}
		have=$(total $f.rec $k); have=${have:-0}
		awk -v h="$have" -v n="$n" -v r="$r" 'BEGIN { d = h - n * r; exit !(d <= 1 && d >= -1) }' ||
			fail "label $k in $f: $have of $n, ratio $r"
	done
done
grep -q 'train' err || fail "no class counts on stderr"
# the same seed: byte-identical files, from a file or from stdin
osteo-split -q --seed 3 --train tr2.rec --val va2.rec --test te2.rec <all.rec
cmp tr.rec tr2.rec && cmp va.rec va2.rec && cmp te.rec te2.rec || fail "not reproducible"
osteo-split -q --seed 4 --train tr3.rec --val va3.rec --test te3.rec all.rec
! cmp -s tr.rec tr3.rec || fail "another seed gave the same split"
# a duplicate planted across classes is reported and kept in one split
mkdir -p d/healthy/P1 d/osteoporosis/P2 d/osteopenia/P3
cp c/healthy/*/*_1.png d/healthy/P1/ 2>/dev/null || true
img=$(ls c/osteoporosis/*/*_1.png | head -n 1)
cp "$img" d/healthy/P1/dup.png
cp "$img" d/osteoporosis/P2/orig.png
cp "$(ls c/osteopenia/*/*_1.png | head -n 1)" d/osteopenia/P3/x.png
osteo-decode -q --patient-dir d | osteo-normalize --size 64x64 --method percentile >dd.rec
osteo-split --dedup --train a.rec --val b.rec --test t.rec dd.rec 2>err
grep -q "near-duplicate images with different labels: 'healthy/P1/dup.png' (label 0) and 'osteoporosis/P2/orig.png' (label 2)" err ||
	fail "duplicate not reported: $(cat err)"
for f in a b t; do
	n=$(osteo-dump $f.rec | jq -r .id | grep -c -e dup.png -e orig.png || true)
	[ "$n" = 0 ] || [ "$n" = 2 ] || fail "the duplicates went to different splits"
done
# bad input
expect_status 64 osteo-split --train x all.rec
expect_status 64 osteo-split --ratios 1,2 --train x --val y --test z all.rec
: >empty.rec
expect_status 65 osteo-split --train x --val y --test z empty.rec 2>/dev/null
[ ! -e x ] || fail "an output file after an error"
