# The CPU engine as the programs run it: OsteoNet's default spec (oneDNN in
# nChw16c, Winograd, the first layer inside the passes) against the plain C
# reference layers (OSTEO_CPU=reference), direct convolutions only, and the
# AVX2 and baseline builds of the passes; bad values of the variables.
. "$TOP/tests/lib.sh"
make -s -f "$TOP/pipelines/prep.mk" OUT=p N=24 SEED=3 SIZE=32x32 COPIES=0 >/dev/null 2>&1
A="-q --epochs 1 --batch 8 --val p/val.fused.rec"
# two logs' training loss (the mean over the epoch's batches) agrees to
# 1e-4 and the validation loss after the epoch to 5e-3, relative: the
# engines round differently (FMA, Winograd, order of sums) and Adam's first
# steps move a weight by lr whatever its gradient's size, so a gradient near
# zero with the other sign moves it the other way.  Measured here: 2e-5 and
# 5e-4 at most (tests/unit/check_dnn.c holds one step to 1e-5).
close_logs() {
	paste "$1" "$2" | awk -F '\t' 'NR > 1 {
		for (c = 2; c <= 4; c += 2) { tol = c == 2 ? 1e-4 : 5e-3; d = $c - $(c + 8); if (d < 0) d = -d
			if (d > tol * ($(c + 8) < 0 ? -$(c + 8) : $(c + 8))) { print "epoch " $1 " column " c ": " $c " vs " $(c + 8); bad = 1 } }
	} END { exit bad }'
}
osteo-train $A -o fast.model --log fast.tsv p/train.fused.rec
OSTEO_CPU=reference osteo-train $A -o ref.model --log ref.tsv p/train.fused.rec
OSTEO_CPU=direct osteo-train $A -o direct.model --log direct.tsv p/train.fused.rec
close_logs fast.tsv ref.tsv || fail "oneDNN's training losses are not the reference's"
close_logs direct.tsv ref.tsv || fail "direct convolutions' training losses are not the reference's"
for k in base v3; do
	OSTEO_KERN=$k osteo-train $A -o $k.model --log $k.tsv p/train.fused.rec
	close_logs $k.tsv ref.tsv || fail "OSTEO_KERN=$k: losses are not the reference's"
done
# one model, both engines: the same probabilities to rounding
osteo-infer -q -m ref.model p/test.fused.rec >fast.rec
OSTEO_CPU=reference osteo-infer -q -m ref.model p/test.fused.rec >ref.rec
paste <(osteo-dump fast.rec | jq -c .probs) <(osteo-dump ref.rec | jq -c .probs) | jq -R -e -s '
	split("\n") | map(select(length > 0) | split("\t") | map(fromjson)) |
	all(.[0] as $a | .[1] as $b | [range(3)] | all(($a[.] - $b[.]) | fabs < 1e-4))' >/dev/null ||
	fail "oneDNN's probabilities are not the reference's"
# a record's answer does not depend on its batch, nor on the threads beside it
osteo-infer -q --batch 1 -m ref.model p/test.fused.rec | cmp - fast.rec || fail "--batch 1 changes oneDNN's answers"
OMP_NUM_THREADS=1 osteo-infer -q -m ref.model p/test.fused.rec | cmp - fast.rec || fail "one thread changes oneDNN's answers"
# bad values: a usage error naming the variable, and no model written
expect_status 64 env OSTEO_CPU=fast osteo-train $A -o bad.model p/train.fused.rec 2>bad.err
contains 'OSTEO_CPU=fast: not reference or direct' bad.err || fail "OSTEO_CPU message: $(cat bad.err)"
[ ! -e bad.model ] || fail "a model despite a bad OSTEO_CPU"
expect_status 64 env OSTEO_KERN=avx9 osteo-infer -q -m ref.model p/test.fused.rec >/dev/null 2>bad.err
contains 'OSTEO_KERN=avx9: not base or v3' bad.err || fail "OSTEO_KERN message: $(cat bad.err)"
exit 0
