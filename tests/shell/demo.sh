# make demo's script, small and fast: every picture exists, decodes and is not blank;
# the report holds both models' metrics and the summary table
. "$TOP/tests/lib.sh"
command -v gnuplot >/dev/null || { echo "gnuplot is not installed (apt-get install gnuplot-nox)"; exit 77; }
DEMO_DIR=d DEMO_N=40 DEMO_SIZE=32x32 DEMO_EPOCHS=2 DEMO_COPIES=0 DEMO_ARCH=conv:4,pool,conv:8,pool,dense:8 \
	"$TOP/pipelines/demo.sh" >out.log 2>&1 || { cat out.log; fail "demo.sh failed"; }
contains "the report is in d/report/" out.log || fail "where the report is"
for p in training roc svm-roc confusion correlation heatmaps risk-coverage; do
	[ -s d/report/$p.png ] || fail "$p.png missing"
	pngtopnm d/report/$p.png >x.ppm 2>/dev/null || fail "$p.png does not decode"
	[ "$(ppmhist -noheader x.ppm | wc -l)" -ge 20 ] || fail "$p.png is (nearly) blank"
done
for m in cnn svm; do
	jq -e '.n > 0 and .ci.bootstrap == 1000 and (.per_class | length) == 3' d/report/$m-metrics.json >/dev/null ||
		fail "$m-metrics.json"
	contains '^accuracy' d/report/$m-metrics.txt || fail "$m-metrics.txt"
done
[ "$(grep -c '^| ' d/report/summary.md)" = 8 ] || fail "summary table: $(cat d/report/summary.md)"
contains -E '^\| ceiling: .* \| (0|1)\.[0-9]{3} \| (0|1)\.[0-9]{3} \|' d/report/summary.md || fail "ceiling row: $(cat d/report/summary.md)"
contains -E '^Heat maps: [0-9]+ test images, [0-9]+ blank; .* [0-9.]+ times its share' d/report/summary.md ||
	fail "heat maps against the bone: $(cat d/report/summary.md)"
contains -E '^The whole job took [0-9]+ s' d/report/summary.md || fail "how long it took"
contains -E '^\| SVM baseline .* \| [0-9.]+ \([0-9.]+-[0-9.]+\) \|' d/report/summary.md || fail "summary row: $(cat d/report/summary.md)"
contains -E '^\| OsteoNet CNN, per patient .* \| [0-9.]+ \([0-9.]+-[0-9.]+\) \|' d/report/summary.md || fail "per-patient row: $(cat d/report/summary.md)"
# the subgroup tables: by modality, sex and decade of age, in the summary too
contains -E '^(ct|dexa|xray) +[0-9]+ +[0-9]+' d/report/cnn-subgroups.txt || fail "subgroups: $(cat d/report/cnn-subgroups.txt)"
contains -E '^by age, in bands of 10' d/report/summary.md || fail "subgroups in the summary: $(cat d/report/summary.md)"
contains -E '^CNN minus SVM on the same [0-9]+ patients \(paired bootstrap, 95%\): accuracy -?[0-9.]+ \(' d/report/summary.md ||
	fail "paired comparison in the summary: $(cat d/report/summary.md)"
contains -E '^Screening, osteoporosis against the rest, the threshold for 90% sensitivity chosen on the validation patients' d/report/summary.md ||
	fail "screening line: $(cat d/report/summary.md)"
contains -E '^Referral, the most uncertain test patients to a reader .*: keeping 90% \([0-9]+ patients\) accuracy [0-9.]+ \([0-9.]+-[0-9.]+\), -?[0-9.]+ more than all' d/report/summary.md ||
	fail "referral: $(cat d/report/summary.md)"
contains -E '^Calibration: temperature [0-9.]+ fitted on the validation records' d/report/summary.md && [ -s d/report/reliability.png ] ||
	fail "calibration: $(cat d/report/summary.md)"
