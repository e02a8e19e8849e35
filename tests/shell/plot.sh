# osteo-plot: each picture is a PNG that decodes and is not blank; the numbers behind them
# are right; failures leave no file
. "$TOP/tests/lib.sh"
command -v gnuplot >/dev/null || { echo "gnuplot is not installed (apt-get install gnuplot-nox)"; exit 77; }
make -s -f "$TOP/pipelines/prep.mk" OUT=p N=40 SEED=3 SIZE=32x32 COPIES=0 >/dev/null 2>&1
osteo-train -q --arch conv:4,pool,conv:8,pool,dense:8 --epochs 3 --batch 8 --val p/val.fused.rec --log log.tsv \
	-o m.model p/train.fused.rec
osteo-infer -m m.model --heatmap p/test.fused.rec >pred.rec
# a picture: decodes, its size, and more than a handful of colours
picture() {
	pngtopnm "$1" >x.ppm 2>/dev/null || fail "$1 does not decode"
	[ "$(ppmhist -noheader x.ppm | wc -l)" -ge "${2:-20}" ] || fail "$1 is (nearly) blank"
}
osteo-plot curves -o curves.png log.tsv && picture curves.png
osteo-plot roc -o roc.png pred.rec && picture roc.png
osteo-plot confusion -o cm.png pred.rec && picture cm.png
osteo-plot correlation -o corr.png p/train.fused.rec && picture corr.png
osteo-plot heatmaps --per-class 2 --cols 3 -o heat.png pred.rec && picture heat.png 200
[ "$(pngtopnm heat.png | head -c 20 | sed -n 2p)" = "700 540" ] || fail "heatmap grid size: $(pngtopnm heat.png | head -c 20 | sed -n 2p)"
osteo-plot roc --size 300x200 -o small.png pred.rec
[ "$(pngtopnm small.png | head -c 20 | sed -n 2p)" = "300 200" ] || fail "--size"
# the numbers: the confusion counts are osteo-metrics's, the ROC points its --roc file's, and
# each correlation is Pearson's r, computed here with awk from the records
osteo-plot confusion --data cm.tsv -o cm.png pred.rec
osteo-metrics --json --bootstrap 0 pred.rec | jq -r '.classes as $c | .confusion | to_entries[] | .key as $i |
	.value | to_entries[] | [$c[$i], $c[.key], .value] | @tsv' | cmp - cm.tsv || fail "confusion counts"
osteo-plot roc --data roc.tsv -o roc.png pred.rec
osteo-metrics --roc mroc.tsv pred.rec >/dev/null
tail -n +2 mroc.tsv | cut -f 1-4 | cmp - roc.tsv || fail "ROC points differ from osteo-metrics --roc"
osteo-plot correlation --data corr.tsv -o corr.png p/train.fused.rec
head -n 1 corr.tsv | contains -x "$(printf 'feature\thealthy\tosteopenia\tosteoporosis\tclass')" || fail "correlation header"
osteo-dump --data p/train.fused.rec | jq -r '[.label, .tensors.clinical.data[0]] | @tsv' | awk '
	{ n++; sx += $2; sy += $1; sxx += $2 * $2; syy += $1 * $1; sxy += $1 * $2 }
	END { printf "%.4f\n", (sxy - sx * sy / n) / sqrt((sxx - sx * sx / n) * (syy - sy * sy / n)) }' >want
awk -F'\t' '$1 == "age" { printf "%.4f\n", $5 }' corr.tsv | cmp - want || fail "r(age, class): $(cat want) by awk, $(grep age corr.tsv)"
# --script: the gnuplot text, nothing drawn
osteo-plot roc --script pred.rec | contains "^plot " || fail "--script"
# failures: usage (64), bad input (65), no gnuplot (69); never a file left behind
expect_status 64 osteo-plot pie -o x.png pred.rec 2>/dev/null
expect_status 64 osteo-plot roc pred.rec 2>/dev/null
expect_status 64 osteo-plot 2>/dev/null
expect_status 65 osteo-plot curves -o x.png pred.rec 2>err
contains "not a log of osteo-train" err || fail "curves on records: $(cat err)"
expect_status 65 osteo-plot heatmaps -o x.png p/test.fused.rec 2>err
contains "no 'heatmap' tensor" err || fail "heatmaps without maps: $(cat err)"
expect_status 65 osteo-plot roc -o x.png p/test.fused.rec 2>err
contains "has a label but no probs" err || fail "roc without probs: $(cat err)"
expect_status 65 osteo-plot correlation -o x.png pred.rec --classes a,b 2>/dev/null
mkdir nognuplot && ln -s "$(command -v sh)" nognuplot/sh
PATH=$PWD/nognuplot expect_status 69 "$TOP/bin/osteo-plot" roc -o x.png pred.rec 2>err
contains "gnuplot not found" err || fail "no gnuplot: $(cat err)"
printf '#!/bin/sh\ncat >/dev/null; exit 1\n' >nognuplot/gnuplot && chmod +x nognuplot/gnuplot
PATH=$PWD/nognuplot expect_status 70 "$TOP/bin/osteo-plot" roc -o x.png pred.rec 2>/dev/null
[ -z "$(ls x.png* 2>/dev/null)" ] || fail "a picture after a failure: $(ls x.png*)"
# the reliability diagram: osteo-metrics' ECE bins (hand-worked on its man page's records: top
# probabilities .4 wrong, .5 wrong, .6 .6 right, .7 .7 right), a picture
printf 'a\tP1\t0\t.7,.2,.1\nb\tP1\t0\t.4,.5,.1\nc\tP2\t1\t.2,.6,.2\nd\tP2\t1\t.3,.3,.4\ne\tP3\t2\t.1,.2,.7\nf\tP3\t2\t.2,.2,.6\n' |
	mkrec >hand.rec
osteo-plot reliability --data rel.tsv -o rel.png hand.rec && picture rel.png
[ "$(tail -n +2 rel.tsv | awk -F'\t' '{ printf "%s:%s:%s:%.2f:%.2f ", $1, $2, $3, $4, $5 }')" = \
	"0.30:0.40:1:0.40:0.00 0.40:0.50:1:0.50:0.00 0.50:0.60:2:0.60:1.00 0.60:0.70:2:0.70:1.00 " ] || fail "reliability bins: $(cat rel.tsv)"
