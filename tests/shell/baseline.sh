# osteo-baseline: fits and applies an SVM like osteo-infer's output; reproducible; strict on input
. "$TOP/tests/lib.sh"
make -s -f "$TOP/pipelines/prep.mk" OUT=p N=40 SEED=3 SIZE=32x32 COPIES=0 >/dev/null 2>&1
osteo-baseline -q -o a.model p/train.fused.rec
osteo-baseline -q -o b.model p/train.fused.rec
cmp a.model b.model || fail "the same seed gave different models"
osteo-dump a.model | jq -e '.meta.kind == "osteo-baseline" and .meta.input == "1x32x32" and .meta.clinical_count == 4
	and .tensors.svm.dtype == "u8" and .tensors["feat.mean"].shape == [34]' >/dev/null || fail "model record: $(osteo-dump a.model)"
osteo-baseline -m a.model p/test.fused.rec >pred.rec
osteo-dump pred.rec | jq -s -e 'length > 0 and all(((.probs | add) - 1 | fabs) < 1e-6 and
	.pred == (.probs | to_entries | max_by(.value) | .key) and .risk == .probs[2]
	and .meta["infer.classes"] == "healthy,osteopenia,osteoporosis" and .meta["infer.model"] == "osteo-baseline")' >/dev/null ||
	fail "probs, pred, risk"
[ "$(osteo-dump --count pred.rec | tail -n 1)" = "$(osteo-dump --count p/test.fused.rec | tail -n 1)" ] || fail "records lost"
osteo-metrics pred.rec >/dev/null
# image features only, clinical only, a linear kernel, class weights
for f in "--features image" "--features clinical" "--kernel linear -C 0.5" "--class-weights auto" "--class-weights 1,2,3"; do
	osteo-baseline -q $f -o f.model p/train.fused.rec
	osteo-baseline -m f.model p/test.fused.rec | osteo-metrics --bootstrap 0 >/dev/null || fail "$f"
done
# libsvm's model text passes through a private file in $TMPDIR, removed after
mkdir t
TMPDIR=$PWD/t osteo-baseline -q -o t.model p/train.fused.rec
TMPDIR=$PWD/t osteo-baseline -m t.model p/test.fused.rec >/dev/null
[ -z "$(ls t)" ] || fail "left in TMPDIR: $(ls t)"
# usage errors
expect_status 64 osteo-baseline p/train.fused.rec 2>/dev/null
expect_status 64 osteo-baseline -o x.model -m a.model 2>/dev/null
expect_status 64 osteo-baseline --kernel poly -o x.model p/train.fused.rec 2>/dev/null
expect_status 64 osteo-baseline -m a.model --risk-class nope p/test.fused.rec 2>/dev/null
# records it was not fitted for: refused with the record named, nothing half-written
make -s -f "$TOP/pipelines/prep.mk" OUT=q N=12 SEED=3 SIZE=16x16 COPIES=0 >/dev/null 2>&1
expect_status 65 osteo-baseline -m a.model q/test.fused.rec >/dev/null 2>err
contains "q/test.fused.rec: record 1 .*image is 1x16x16; the model takes 1x32x32" err || fail "shape message: $(cat err)"
cat p/train.fused.rec q/train.fused.rec >mixed.rec
expect_status 65 osteo-baseline -o m.model mixed.rec 2>err
contains "image is 1x16x16; the model takes 1x32x32" err || fail "mixed shapes: $(cat err)"
[ ! -e m.model ] && [ -z "$(ls m.model.* 2>/dev/null)" ] || fail "a model file after an error"
osteo-dump --count p/train.fused.rec >/dev/null
expect_status 65 osteo-baseline -o n.model /dev/null 2>err
contains "0 labelled records: too few" err || fail "empty input: $(cat err)"
# a damaged model
head -c 200 a.model >bad.model
expect_status 65 osteo-baseline -m bad.model p/test.fused.rec 2>/dev/null
osteo-synth -n 3 --records >synth.rec
expect_status 65 osteo-baseline -m synth.rec p/test.fused.rec 2>/dev/null
# the trees: a random forest and boosted trees through XGBoost (common/baseline/xgb.c, checked against
# python3-xgboost in the unit tests), reproducible, the same outputs, options, refusals
for m in rf gbt; do
	osteo-baseline -q --model $m -o $m.model p/train.fused.rec
	osteo-baseline -q --model $m -o $m.2.model p/train.fused.rec
	cmp $m.model $m.2.model || fail "--model $m: the same seed gave different models"
	osteo-dump $m.model | jq -e --arg m $m '.meta.model == $m and .tensors.xgb.dtype == "u8"
		and (.meta["xgb.params"] | test("seed=1"))' >/dev/null || fail "--model $m: $(osteo-dump $m.model | head -c 600)"
	osteo-baseline -m $m.model p/test.fused.rec >$m.pred.rec
	osteo-dump $m.pred.rec | jq -s -e --arg m "osteo-baseline $m" 'length > 0 and all(((.probs | add) - 1 | fabs) < 1e-5 and
		.pred == (.probs | to_entries | max_by(.value) | .key) and .meta["infer.model"] == $m)' >/dev/null ||
		fail "--model $m: predictions"
	osteo-baseline -q --model $m --seed 2 -o $m.3.model p/train.fused.rec
	! cmp -s $m.model $m.3.model || fail "--model $m: --seed ignored"
done
osteo-baseline -q --model gbt --trees 20 --max-depth 2 --eta 0.3 --class-weights auto -o g.model p/train.fused.rec
osteo-dump g.model | jq -e '.meta["xgb.params"] | test("max_depth=2") and test("eta=0.29") and test("rounds=20")' >/dev/null ||
	fail "gbt options: $(osteo-dump g.model | jq -r '.meta["xgb.params"]')"
expect_status 64 osteo-baseline -q --model forest -o x.model p/train.fused.rec
expect_status 64 osteo-baseline -q --trees 10 -o x.model p/train.fused.rec
