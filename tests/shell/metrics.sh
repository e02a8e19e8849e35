# osteo-metrics: the hand-checked example of its man page, scikit-learn's
# values through the program, bootstrap intervals, the binary cut, bad input
. "$TOP/tests/lib.sh"
printf 'a\tP1\t0\t.7,.2,.1\nb\tP1\t0\t.4,.5,.1\nc\tP2\t1\t.2,.6,.2\nd\tP2\t1\t.3,.3,.4\ne\tP3\t2\t.1,.2,.7\nf\tP3\t2\t.2,.2,.6\ng\tP4\t-\t.2,.2,.6\n' |
	mkrec >hand.rec
osteo-metrics --json hand.rec >hand.json
jq -e '.n == 6 and .patients == 3 and .unlabelled == 1 and (.accuracy - 2/3 | fabs) < 1e-9
	and .confusion == [[1,1,0],[0,1,1],[0,0,2]]
	and ([.per_class[].auc] == [1, 0.875, 1]) and ([.per_class[].support] == [2,2,2])
	and (.per_class[1].specificity == 0.75) and (.macro.f1 - 0.655555556 | fabs) < 1e-9
	and (.auc_macro - 0.958333333 | fabs) < 1e-9 and (.brier - 0.353333333 | fabs) < 1e-9
	and (.ece - 0.383333333 | fabs) < 1e-9 and .ci.unit == "patient"
	and .ci.accuracy[0] <= .accuracy and .accuracy <= .ci.accuracy[1]' hand.json >/dev/null ||
	fail "hand example: $(cat hand.json)"
osteo-metrics hand.rec | contains -E '^osteopenia +0\.500 +0\.750 +0\.500 +0\.500 +0\.875 +2$' || fail "text table"
# per patient (the man page's example): means (.55,.35,.1), (.25,.45,.3), (.15,.2,.65), all right;
# with max, (.7,.5,.1)/1.3 for P1: healthy's AUC over three patients is 1, its Brier by hand
osteo-metrics --json --per-patient hand.rec | jq -e '.n == 3 and .patients == 3 and .per_patient == "mean"
	and .accuracy == 1 and .confusion == [[1,0,0],[0,1,0],[0,0,1]]
	and (.brier - ((.45*.45 + .35*.35 + .01) + (.0625 + .3025 + .09) + (.0225 + .04 + .1225)) / 3 | fabs) < 1e-9' >/dev/null ||
	fail "--per-patient: $(osteo-metrics --json --per-patient hand.rec)"
osteo-metrics --json --per-patient=max hand.rec | jq -e '.per_patient == "max" and .accuracy == 1
	and (.brier - (((1 - .7/1.3) * (1 - .7/1.3) + (.5/1.3) * (.5/1.3) + (.1/1.3) * (.1/1.3))
	+ ((.3/1.3) * (.3/1.3) + (1 - .6/1.3) * (1 - .6/1.3) + (.4/1.3) * (.4/1.3))
	+ ((.2/1.1) * (.2/1.1) + (.2/1.1) * (.2/1.1) + (1 - .7/1.1) * (1 - .7/1.1))) / 3 | fabs) < 1e-9' >/dev/null ||
	fail "--per-patient=max: $(osteo-metrics --json --per-patient=max hand.rec)"
printf 'a\tP1\t0\t.7,.2,.1\nb\tP1\t1\t.4,.5,.1\n' | mkrec >mixed.rec
expect_status 65 osteo-metrics --per-patient mixed.rec >/dev/null 2>err
contains "patient 'P1' has images of two labels" err || fail "--per-patient, two labels: $(cat err)"
expect_status 64 osteo-metrics --per-patient=median hand.rec >/dev/null 2>&1
# subgroups from a clinical CSV: site A (P1, P2) is the records a-d on their own, to the interval;
# bands of age; a patient the CSV lacks is "(none)"; small groups are flagged
printf 'patient,site,age\nP1,A,61\nP2,A,69.5\nP3,B,70\n' >sites.csv
osteo-metrics --json --seed 5 --by site --clinical sites.csv hand.rec >by.json
printf 'a\tP1\t0\t.7,.2,.1\nb\tP1\t0\t.4,.5,.1\nc\tP2\t1\t.2,.6,.2\nd\tP2\t1\t.3,.3,.4\n' | mkrec >siteA.rec
osteo-metrics --json --seed 5 siteA.rec >siteA.json
jq -e --slurpfile a siteA.json '.by.key == "site" and (.by.groups | map(.group)) == ["A", "B"]
	and .by.groups[0].n == 4 and .by.groups[0].patients == 2 and .by.groups[0].small
	and .by.groups[0].accuracy == $a[0].accuracy and .by.groups[0].f1_macro == $a[0].macro.f1
	and .by.groups[0].ci.accuracy == $a[0].ci.accuracy and .by.groups[0].ci.f1_macro == $a[0].ci.f1_macro
	and .by.groups[1].accuracy == 1 and .by.groups[1].n == 2' by.json >/dev/null || fail "--by site: $(cat by.json)"
osteo-metrics --json --by age:10 --clinical sites.csv hand.rec | jq -e '(.by.groups | map([.group, .n])) == [["60-70", 4], ["70-80", 2]]' >/dev/null ||
	fail "--by age:10: $(osteo-metrics --json --by age:10 --clinical sites.csv hand.rec)"
printf 'patient,site\nP1,A\n' >some.csv
osteo-metrics --by site --clinical some.csv --bootstrap 0 hand.rec | contains -E '^\(none\) +4 +2\* +0\.750 ' ||
	fail "--by: no row: $(osteo-metrics --by site --clinical some.csv --bootstrap 0 hand.rec)"
expect_status 64 osteo-metrics --clinical sites.csv hand.rec >/dev/null 2>&1
expect_status 65 osteo-metrics --by nothing --clinical sites.csv hand.rec >/dev/null 2>&1
# a key no record has (nor, with --clinical, its patient's row): 65 naming it, not a table of
# one "(none)" group
expect_status 65 osteo-metrics --by sitee hand.rec >out 2>err
contains -F -- '--by sitee: no record has it' err || fail "--by a missing key: $(cat err)"
[ ! -s out ] || fail "--by a missing key printed: $(cat out)"
printf 'patient,site
P9,A
' >none.csv
expect_status 65 osteo-metrics --by site --clinical none.csv hand.rec >/dev/null 2>err
contains 'nor its patient a value' err || fail "--by, no patient in the table: $(cat err)"
osteo-metrics --tsv hand.rec | contains -x "$(printf 'predicted:osteopenia\thealthy\t1')" || fail "--tsv confusion"
# the same seed, the same intervals; another seed, others; --bootstrap 0, none
osteo-metrics --json --seed 3 hand.rec | cmp - <(osteo-metrics --json --seed 3 hand.rec) || fail "--seed repeat"
[ "$(osteo-metrics --json --seed 3 hand.rec | jq -c .ci)" != "$(osteo-metrics --json --seed 4 hand.rec | jq -c .ci)" ] ||
	fail "--seed ignored"
osteo-metrics --json --bootstrap 0 hand.rec | jq -e 'has("ci") | not' >/dev/null || fail "--bootstrap 0"
# binary cut: osteoporosis vs rest, fixed and by Youden's J
osteo-metrics --json --threshold 0.3 hand.rec | jq -e '(.binary | del(.sensitivity_ci, .specificity_ci)) == {"positive":"osteoporosis","threshold":0.3,
	"tp":2,"fp":1,"tn":3,"fn":0,"sensitivity":1,"specificity":0.75,"ppv":0.666666667,"npv":1}' >/dev/null || fail "--threshold 0.3"
osteo-metrics --json --threshold youden --risk-class healthy hand.rec | jq -e '.binary.threshold == 0.4 and .binary.sensitivity == 1
	and .binary.specificity == 1' >/dev/null || fail "--threshold youden"
# ROC points: from (0,0) at inf to (1,1), with the AUC
osteo-metrics --roc roc.tsv hand.rec >/dev/null
[ "$(head -n 1 roc.tsv)" = "$(printf 'class\tthreshold\tfpr\ttpr\tauc')" ] || fail "--roc header"
[ "$(grep -c '^osteopenia' roc.tsv)" = 5 ] || fail "osteopenia's ROC points: $(cat roc.tsv)"
contains -x "$(printf 'osteopenia\t0.5\t0.25\t0.5\t0.875')" roc.tsv || fail "a ROC point"
# scikit-learn's values (tests/fixtures/metrics) through the program
for c in three four; do
	tail -n +2 "$FIX/metrics/$c.tsv" | awk -F'\t' '{ p = $2; for (i = 3; i <= NF; i++) p = p "," $i; print "r" NR "\t-\t" $1 "\t" p }' |
		mkrec >$c.rec
	osteo-metrics --json --bootstrap 0 --classes "$(seq -s, 0 $(($(head -n 1 "$FIX/metrics/$c.tsv" | awk '{ print NF - 2 }'))))" $c.rec >$c.json
	for k in accuracy auc_macro brier ece; do
		want=$(awk -v k=$k '$1 == k { print $2 }' "$FIX/metrics/$c.expected")
		jq -e --argjson w "$want" ".$k - \$w | fabs < 1e-6" $c.json >/dev/null || fail "$c: $k is $(jq .$k $c.json), sklearn $want"
	done
done
jq -e '.per_class[2].auc == null and .per_class[2].support == 0' four.json >/dev/null || fail "a class never true: AUC null"
# a long stream: every record counted
seq 20000 | awk '{ printf "r%d\tP%d\t%d\t%.2f,%.2f\n", $1, $1 % 997, $1 % 2, ($1 % 7) / 7, 1 - ($1 % 7) / 7 }' | mkrec >long.rec
osteo-metrics --json --bootstrap 20 --classes no,yes long.rec | jq -e '.n == 20000 and .patients == 997' >/dev/null || fail "long stream"
# bad input: named, with status 65, and no ROC file left behind
printf 'x\tP\t0\t-\n' | mkrec >noprobs.rec
expect_status 65 osteo-metrics --roc bad.tsv noprobs.rec 2>err
contains "noprobs.rec: record 1 (id 'x'): has a label but no probs" err || fail "no probs message: $(cat err)"
[ ! -e bad.tsv ] || fail "a ROC file after an error"
printf 'x\tP\t0\t.5,.5,0\ny\tP\t0\t.5,.5\n' | mkrec >mixed.rec
expect_status 65 osteo-metrics mixed.rec 2>err
contains "record 2 (id 'y'): 2 probabilities, the records before had 3" err || fail "mixed: $(cat err)"
printf 'x\tP\t3\t.5,.5,0\n' | mkrec >label.rec
expect_status 65 osteo-metrics label.rec 2>err
contains "label 3 is not a class" err || fail "label out of range: $(cat err)"
printf 'x\tP\t0\tnan,.5,0\n' | mkrec >nan.rec
expect_status 65 osteo-metrics nan.rec 2>err
printf 'x\tP\t-\t.5,.5,0\n' | mkrec >unlabelled.rec
expect_status 65 osteo-metrics unlabelled.rec 2>err
contains "no record has both a label and probs (1 without a label)" err || fail "unlabelled: $(cat err)"
expect_status 64 osteo-metrics --risk-class nope hand.rec 2>/dev/null
# --positive, the old name, is still taken
osteo-metrics --json --threshold youden --positive healthy hand.rec | cmp - <(osteo-metrics --json --threshold youden --risk-class healthy hand.rec) ||
	fail "--positive as --risk-class"
expect_status 64 osteo-metrics --threshold 2 hand.rec 2>/dev/null
expect_status 65 osteo-metrics --classes a,b hand.rec 2>err
contains "3 probabilities but 2 classes" err || fail "--classes count: $(cat err)"
head -c 30 hand.rec >trunc.rec
expect_status 65 osteo-metrics trunc.rec 2>/dev/null
# --compare: DeLong against tests/fixtures/compare (numpy, pair by pair; make-fixture.py), the
# paired bootstrap's interval around the difference, a model against itself, mismatched records
mkrec <"$FIX/compare/a.tsv" >a.rec
mkrec <"$FIX/compare/b.tsv" >b.rec
osteo-metrics --compare --json a.rec b.rec >cmp.json
awk -F'\t' '{ printf "%s %s %s %s %s %s %s\n", $1, $2, $3, $4, $5, $6, $7 }' "$FIX/compare/delong.expected" >want
jq -r '.delong | to_entries[] | "\(.key) \(.value.auc_a) \(.value.auc_b) \(.value.diff) \(.value.se) \(.value.z) \(.value.p)"' cmp.json |
	paste -d' ' - want | awk '{ for (i = 2; i <= 7; i++) { d = $i - $(i + 7); if (d < 0) d = -d; if (d > 1e-7) bad++ } }
	END { exit !(NR == 3 && !bad) }' || fail "DeLong: $(jq -c .delong cmp.json), want $(cat want)"
jq -e '.n == 60 and .patients == 30 and .ci.paired and ([.accuracy, .f1_macro, .auc_macro] |
	all((.diff - (.a - .b) | fabs) < 1e-9 and .ci[0] <= .diff and .diff <= .ci[1]))' cmp.json >/dev/null ||
	fail "--compare: $(cat cmp.json)"
osteo-metrics --compare --json a.rec a.rec | jq -e '[.accuracy, .f1_macro, .auc_macro] | all(.diff == 0 and .ci == [0, 0])' >/dev/null ||
	fail "--compare: a model against itself"
osteo-metrics --compare --json --seed 9 a.rec b.rec | cmp - <(osteo-metrics --compare --json --seed 9 a.rec b.rec) || fail "--compare --seed"
osteo-metrics --compare a.rec b.rec | contains -E '^osteoporosis +0\.7568 +0\.7949 +-0\.0382 ' || fail "--compare text"
# records matched by id whatever their order (sharded predictions come back reordered): B
# reversed gives the same report, its paired bootstrap over patients too; another record is refused
tac "$FIX/compare/b.tsv" | mkrec >b.rev.rec
same() { [ "$(jq -c 'del(.b)' "$1")" = "$(jq -c 'del(.b)' "$2")" ]; }
osteo-metrics --compare --json a.rec b.rev.rec >rev.json
same rev.json cmp.json || fail "--compare: B reordered: $(cat rev.json)"
sed '1s/^[^	]*/nobody/' "$FIX/compare/b.tsv" | mkrec >other.rec
expect_status 65 osteo-metrics --compare a.rec other.rec >/dev/null 2>err
contains "record 'nobody' of other.rec is not in a.rec" err || fail "--compare: another record: $(cat err)"
head -n 59 "$FIX/compare/b.tsv" | mkrec >short.rec
expect_status 65 osteo-metrics --compare a.rec short.rec >/dev/null 2>&1
expect_status 64 osteo-metrics --compare a.rec >/dev/null 2>&1
expect_status 64 osteo-metrics --compare --by site a.rec b.rec >/dev/null 2>&1
# operating points (hand-worked): osteoporosis scores e .7, f .6 against .1 .1 .2 .4; 90% sensitivity
# needs both positives (threshold .6), 75% specificity allows one negative above (threshold .4);
# chosen on one stream, applied unchanged on another, as a number would be; its intervals
osteo-metrics --json --threshold sens:0.9 hand.rec | jq -e '.binary.threshold == 0.6 and .binary.tp == 2 and .binary.fp == 0
	and .binary.rule == "sens:0.9" and .binary.chosen_on == null and (.binary.sensitivity_ci | length) == 2' >/dev/null ||
	fail "--threshold sens:0.9: $(osteo-metrics --json --threshold sens:0.9 hand.rec | jq -c .binary)"
osteo-metrics --json --threshold spec:0.75 hand.rec | jq -e '.binary.threshold == 0.4 and .binary.fp == 1 and .binary.specificity == 0.75' >/dev/null ||
	fail "--threshold spec:0.75: $(osteo-metrics --json --threshold spec:0.75 hand.rec | jq -c .binary)"
osteo-metrics --json --threshold sens:0.9 --threshold-from hand.rec a.rec >from.json
osteo-metrics --json --threshold 0.6 a.rec >fixed.json
jq -e --slurpfile f fixed.json '.binary.threshold == 0.6 and .binary.chosen_on == "hand.rec"
	and ([.binary.tp, .binary.fp, .binary.tn, .binary.fn] == ($f[0].binary | [.tp, .fp, .tn, .fn]))
	and .binary.sensitivity_ci[0] <= .binary.sensitivity and .binary.sensitivity <= .binary.sensitivity_ci[1]' from.json >/dev/null ||
	fail "--threshold-from: $(jq -c .binary from.json)"
osteo-metrics --threshold sens:0.9 --threshold-from hand.rec a.rec | contains -E '^osteoporosis vs rest at p >= 0\.6 \(sens:0\.9, chosen on hand\.rec\): sensitivity [0-9.]+ \(' ||
	fail "--threshold-from, text"
expect_status 65 osteo-metrics --threshold sens:0.9 --threshold-from siteA.rec a.rec >/dev/null 2>&1
expect_status 64 osteo-metrics --threshold 0.5 --threshold-from hand.rec a.rec >/dev/null 2>&1
expect_status 64 osteo-metrics --threshold sens:1.5 hand.rec >/dev/null 2>&1
# --patients-out: the per-patient calls as records (P1's mean .55 .35 .1 ...), which score alone as
# --per-patient does
osteo-metrics --per-patient --patients-out pp.rec --json hand.rec >pp.json
osteo-dump pp.rec | jq -s -c 'map([.id, .patient, .label, .pred, (.probs | map(. * 1000 | round / 1000)), .meta["infer.per_patient"]])' >got
[ "$(cat got)" = '[["P1","P1",0,0,[0.55,0.35,0.1],"mean"],["P2","P2",1,1,[0.25,0.45,0.3],"mean"],["P3","P3",2,2,[0.15,0.2,0.65],"mean"]]' ] ||
	fail "--patients-out: $(cat got)"
[ "$(osteo-metrics --json pp.rec | jq -c '[.accuracy, .brier, .ci]')" = "$(jq -c '[.accuracy, .brier, .ci]' pp.json)" ] ||
	fail "--patients-out scores otherwise"
expect_status 64 osteo-metrics --patients-out x.rec hand.rec >/dev/null 2>&1
