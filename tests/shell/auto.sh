# osteo-train --auto on a small cohort: the budget too small for any candidate runs the
# cheapest and says so; the table is on stderr and in the model; the same seed gives the same
# bytes; usage errors.  The ensemble's answer is its members' mean (osteo-infer --member), its
# uncertainty one less the mean's largest probability, its entropy and the members' disagreement
# as computed here; --tta is the mean over the image and its mirror image (osteo-augment
# --hflip 1).  osteo-metrics --coverage against numpy; osteo-plot risk-coverage.  A tree of two
# classes trains a model of those two (their names from the records), and a --val of the
# classes the other way round is refused.
. "$TOP/tests/lib.sh"
osteo-synth -q -n 36 --images 2 --size 16x16 --records --clinical clin.csv >syn.rec
osteo-normalize --size 8x8 --method zscore syn.rec >norm.rec
osteo-fuse -q --clinical clin.csv --columns age,bmd_tscore --missing impute --fit-encoding enc.rec norm.rec >fused.rec

osteo-train --auto --budget 0.001 --seed 3 -o a.model fused.rec 2>log || { cat log; fail "--auto"; }
contains 'too small for any candidate' log || fail "no word of the budget: $(cat log)"
contains -E '^osteonet +[0-9]+ .* chosen$' log || fail "the cheapest is not the one run: $(cat log)"
rows=$(awk '/^candidate/ { t = 1; next } /^osteo-train:/ { t = 0 } t' log | wc -l)
[ "$rows" -ge 3 ] && [ "$(grep -c 'over the budget$' log)" = $((rows - 1)) ] ||
	fail "the others are not over the budget: $(cat log)"
osteo-dump a.model | jq -e '.meta.ensemble == 3 and .meta["auto.folds"] == 3 and
	(.meta["auto.candidates"] | test("chosen")) and (.meta["auto.chosen"] | startswith("osteonet"))' >/dev/null ||
	fail "the model's ensemble and table: $(osteo-dump a.model | jq -c .meta)"
osteo-train -q --auto --budget 0.001 --seed 3 -o b.model fused.rec 2>/dev/null
cmp -s a.model b.model || fail "the same seed gave other bytes"
expect_status 64 osteo-train -q --auto --arch dense:4 -o x.model fused.rec
expect_status 64 osteo-train -q --auto --epochs 3 -o x.model fused.rec
expect_status 64 osteo-train -q --budget 2 -o x.model fused.rec
osteo-dump syn.rec | jq -r .patient | sort -u | head -1 >one
[ ! -e x.model ] || fail "a usage error wrote a model"

# the ensemble's answer and uncertainty, recomputed from its members'
osteo-infer -q -m a.model fused.rec >pred.rec
for i in 1 2 3; do osteo-infer -q --member $i -m a.model fused.rec | osteo-dump | jq -c .probs >m$i; done
expect_status 64 osteo-infer -q --member 4 -m a.model fused.rec
osteo-dump pred.rec | jq -c '[.probs, .meta["infer.entropy"], .meta["infer.disagreement"], .meta["infer.views"], .meta["infer.uncertainty"]]' |
	paste -d' ' - m1 m2 m3 | awk '
	function h(p, k,   s, c) { s = 0; for (c = 1; c <= k; c++) if (p[c] > 0) s -= p[c] * log(p[c]); return s / log(k) }
	{
		gsub(/[\[\],]/, " "); n = split($0, v, " ")
		# v: p1 p2 p3 entropy dis views unc, then the three of each member
		k = 3; hm = 0; top = 0
		for (c = 1; c <= k; c++) { mean[c] = (v[7 + c] + v[10 + c] + v[13 + c]) / 3; p[c] = v[c] }
		for (m = 0; m < 3; m++) { for (c = 1; c <= k; c++) q[c] = v[7 + 3 * m + c]; hm += h(q, k) / 3 }
		for (c = 1; c <= k; c++) if (mean[c] > top) top = mean[c]
		if ((d = v[7] - (1 - top)) > 1e-9 || d < -1e-9) bad = bad " uncertainty"
		for (c = 1; c <= k; c++) if ((d = p[c] - mean[c]) > 1e-12 || d < -1e-12) bad = bad " mean"
		if ((d = v[4] - h(mean, k)) > 1e-9 || d < -1e-9) bad = bad " entropy"
		if ((d = v[5] - (h(mean, k) - hm)) > 1e-9 || d < -1e-9) bad = bad " disagreement"
		if (v[6] != 3) bad = bad " views"
	}
	END { if (bad != "" || NR == 0) { print "ensemble:" bad; exit 1 } }' || fail "the ensemble's answers"

# --tta: the mean of the answers to the image and to its mirror image
osteo-augment -q --copies 1 --no-original --hflip 1 fused.rec >mirror.rec
osteo-infer -q --no-check -m a.model mirror.rec | osteo-dump | jq -c .probs >mirror.p
osteo-dump pred.rec | jq -c .probs >plain.p
osteo-infer -q --tta -m a.model fused.rec | osteo-dump | jq -c '[.probs, .meta["infer.views"]]' |
	paste -d' ' - plain.p mirror.p | awk '
	{ gsub(/[\[\],]/, " "); split($0, v, " ")
	  for (c = 1; c <= 3; c++) if ((d = v[c] - (v[4 + c] + v[7 + c]) / 2) > 1e-9 || d < -1e-9) bad = 1
	  if (v[4] != 6) bad = 1 }
	END { exit bad || NR == 0 }' || fail "--tta is not the mean over the image and its mirror image"

# --coverage against numpy: the 90% and 50% least uncertain records, and per patient
osteo-dump pred.rec | jq -r '[.patient, .label, .pred, .meta["infer.uncertainty"]] | @tsv' >unc.tsv
osteo-metrics --bootstrap 0 --coverage 0.9,0.5 --json pred.rec >cov.json
osteo-metrics --bootstrap 0 --per-patient --coverage 0.9 --json pred.rec >covp.json
/usr/bin/python3 - unc.tsv cov.json covp.json <<'EOF' || fail "--coverage against numpy"
import json, sys
import numpy as np
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
lab = np.array([int(r[1]) for r in rows]); pred = np.array([int(r[2]) for r in rows])
unc = np.array([float(r[3]) for r in rows])
def figures(lab, pred, unc, keep):
    order = np.lexsort((np.arange(len(unc)), unc))
    n = max(int(np.floor(keep * len(unc) + 0.5)), 1); k = order[:n]
    sens = [np.mean(pred[k][lab[k] == c] == c) for c in range(3) if np.any(lab[k] == c)]
    spec = [np.mean(pred[k][lab[k] != c] != c) for c in range(3) if np.any(lab[k] != c)]
    return n, np.mean(lab[k] == pred[k]), np.mean(lab[k] == pred[k]) - np.mean(lab == pred)
for c in json.load(open(sys.argv[2]))["coverage"]:
    n, acc, gain = figures(lab, pred, unc, c["keep"])
    assert c["n"] == n and abs(c["accuracy"] - acc) < 1e-9 and abs(c["gain"] - gain) < 1e-9, (c, n, acc, gain)
# per patient: the patients' mean probabilities and mean uncertainty
pats = {}
probs = [json.loads(l) for l in open("plain.p")]
for r, p in zip(rows, probs):
    e = pats.setdefault(r[0], [int(r[1]), [], []]); e[1].append(p); e[2].append(float(r[3]))
plab = np.array([e[0] for e in pats.values()])
ppred = np.array([int(np.argmax(np.mean(e[1], 0))) for e in pats.values()])
punc = np.array([np.mean(e[2]) for e in pats.values()])
c = json.load(open(sys.argv[3]))["coverage"][0]
n, acc, gain = figures(plab, ppred, punc, 0.9)
assert c["n"] == n and abs(c["accuracy"] - acc) < 1e-9, (c, n, acc)
EOF
# predictions without an uncertainty (osteo-baseline's) have nothing to refer by
osteo-baseline -q -o svm.model fused.rec
osteo-baseline -m svm.model fused.rec >svm.rec
expect_status 65 osteo-metrics --coverage 0.9 svm.rec
if command -v gnuplot >/dev/null; then
	osteo-plot risk-coverage --data rc.tsv -o rc.png pred.rec
	[ -s rc.png ] && [ "$(($(wc -l <rc.tsv) - 1))" = "$(wc -l <unc.tsv)" ] || fail "osteo-plot risk-coverage"
fi

# classes from the records: two folders, named as the user named them
osteo-synth -q -n 24 --images 1 --size 16x16 -o tree
mv tree/healthy tree/alpha && mv tree/osteopenia tree/beta && rm -rf tree/osteoporosis
osteo-decode -q --classes alpha,beta tree | osteo-normalize --size 8x8 >ab.rec
osteo-train -q --arch dense:4 --epochs 1 -o ab.model ab.rec
[ "$(osteo-dump ab.model | jq -r .meta.classes)" = alpha,beta ] || fail "classes: $(osteo-dump ab.model | jq -c .meta)"
osteo-infer -q -m ab.model ab.rec | osteo-dump | jq -e -s 'all(.meta["infer.classes"] == "alpha,beta" and (.probs | length) == 2)' \
	>/dev/null || fail "the predictions' classes"
osteo-baseline -q -o ab.svm ab.rec
osteo-baseline -m ab.svm ab.rec | osteo-dump | jq -e -s 'all((.probs | length) == 2)' >/dev/null || fail "baseline classes"
osteo-decode -q --classes beta,alpha tree | osteo-normalize --size 8x8 >ba.rec
osteo-train -q --arch dense:4 --epochs 1 --no-check --val ba.rec -o x.model ab.rec 2>err && fail "a --val of swapped classes"
contains "is class 'alpha' here, 'beta' for the model" err || fail "the message: $(cat err)"

# the default's names with osteopenia unseen: still the default's three classes
rm -rf tree && osteo-synth -q -n 24 --images 1 --size 16x16 -o tree && rm -rf tree/osteopenia
osteo-decode -q tree | osteo-normalize --size 8x8 >hp.rec
osteo-train -q --arch dense:4 --epochs 1 -o hp.model hp.rec
[ "$(osteo-dump hp.model | jq -r .meta.classes)" = healthy,osteopenia,osteoporosis ] ||
	fail "classes with one unseen: $(osteo-dump hp.model | jq -c .meta.classes)"

# the README's own-data path with AUTO: train.mk's model is --auto's ensemble
"$TOP/examples/xray-folder/make-folder.sh" mine 40 1
make -s -f "$TOP/pipelines/train.mk" OUT=run IMAGES=mine/images PATIENT='(P[0-9]+)_' CLINICAL=mine/clinical.csv \
	KEY=subject_id SIZE=16x16 AUTO=0.001 BOOTSTRAP=20 >log 2>&1 || { cat log; fail "train.mk AUTO"; }
osteo-dump run/osteonet.model | jq -e '.meta.ensemble == 3' >/dev/null || fail "train.mk AUTO: not an ensemble"
contains -E '^accuracy +[01][.][0-9]+' run/metrics.txt || fail "train.mk AUTO: metrics"
