# --precision fp32|bf16|auto for osteo-train and osteo-infer: bfloat16 where
# the CPU has its instructions (refused with 69 elsewhere, auto then
# float32), reproducible within a precision, resumable only in the one it
# began in, and close to float32's answers.  ONEDNN_MAX_CPU_ISA=AVX512_CORE
# makes this CPU look like one without AVX512_BF16 or AMX.
. "$TOP/tests/lib.sh"
make -s -f "$TOP/pipelines/prep.mk" OUT=p N=24 SEED=4 SIZE=32x32 COPIES=0 >/dev/null 2>&1
A="-q --epochs 2 --batch 8 --val p/val.fused.rec"
osteo-train $A -o fp32.model --log fp32.tsv p/train.fused.rec

# a bad word: a usage error naming the option, nothing written
expect_status 64 osteo-train $A --precision fp16 -o bad.model p/train.fused.rec 2>bad.err
contains "\-\-precision: fp32, bf16 or auto, not 'fp16'" bad.err || fail "usage message: $(cat bad.err)"
expect_status 64 osteo-infer -q --precision half -m fp32.model p/test.fused.rec >/dev/null 2>bad.err
[ ! -e bad.model ] || fail "a model despite a bad --precision"

# no bfloat16 instructions: bf16 is 69 with a message and no model; auto is float32
export ONEDNN_MAX_CPU_ISA=AVX512_CORE
expect_status 69 osteo-train $A --precision bf16 -o bad.model p/train.fused.rec 2>bad.err
contains 'precision bf16: this CPU has neither AVX512_BF16 nor AMX' bad.err || fail "69 message: $(cat bad.err)"
[ ! -e bad.model ] || fail "a model after --precision bf16 was refused"
expect_status 69 osteo-infer -q --precision bf16 -m fp32.model p/test.fused.rec >out.rec 2>bad.err
[ ! -s out.rec ] || fail "osteo-infer wrote records after refusing bf16"
osteo-train $A --precision auto -o auto.model p/train.fused.rec
osteo-train $A -o fp32-here.model p/train.fused.rec
cmp auto.model fp32-here.model || fail "--precision auto without bfloat16 is not float32"
unset ONEDNN_MAX_CPU_ISA

# the reference layers are float32 only
expect_status 69 env OSTEO_CPU=reference osteo-train $A --precision bf16 -o bad.model p/train.fused.rec 2>bad.err
contains 'reference layers, which are float32 only' bad.err || fail "reference message: $(cat bad.err)"

if ! osteo-infer -q --precision bf16 -m fp32.model p/test.fused.rec >/dev/null 2>probe.err; then
	contains 'neither AVX512_BF16 nor AMX' probe.err || fail "bf16 probe: $(cat probe.err)"
	echo "this CPU has no bfloat16 instructions: the bf16 runs are left out"
	exit 0
fi
# reproducible run to run, another model than float32's, a loss near it
osteo-train $A --precision bf16 -o bf16.model --log bf16.tsv p/train.fused.rec
osteo-train $A --precision bf16 -o bf16b.model p/train.fused.rec
cmp bf16.model bf16b.model || fail "two bf16 runs from one seed differ"
! cmp -s bf16.model fp32.model || fail "bf16 gave float32's model: did it run?"
osteo-train $A --precision auto -o auto.model p/train.fused.rec 2>&1 | contains 'bf16' && fail "-q printed"
osteo-train --epochs 1 --batch 8 --precision auto -o auto.model p/train.fused.rec 2>auto.err
contains 'CPU kernels: .*bf16' auto.err || fail "auto did not say bf16: $(cat auto.err)"
# the first epoch's mean training loss within 5% of float32's (measured
# 0.9%): the first batch is within the unit tests' 2^-5 for one step, and
# the weights part a little more at each step after it
paste fp32.tsv bf16.tsv | awk -F '\t' 'NR == 2 { d = $2 - $10; if (d < 0) d = -d; exit !(d <= 0.05 * $2) }' ||
	fail "bf16's first loss is not float32's: $(paste fp32.tsv bf16.tsv | sed -n 2p)"
# resumable in bf16 to the same model, refused in fp32
osteo-train $A --precision bf16 --epochs 1 -o c.model --checkpoint c.ckpt p/train.fused.rec
osteo-dump c.ckpt | jq -e '.meta["train.precision"] == "bf16"' >/dev/null || fail "the checkpoint's precision"
expect_status 65 osteo-train $A --resume c.ckpt -o c.model p/train.fused.rec 2>bad.err
contains 'trained in bf16 so far; resume it with --precision bf16' bad.err || fail "resume message: $(cat bad.err)"
osteo-train $A --precision bf16 --resume c.ckpt -o c.model p/train.fused.rec
cmp c.model bf16.model || fail "a resumed bf16 run differs"
# inference: the same bits for any batch size, probabilities near float32's
osteo-infer -q --precision bf16 -m fp32.model p/test.fused.rec >bf16.rec
osteo-infer -q --precision bf16 --batch 1 -m fp32.model p/test.fused.rec | cmp - bf16.rec ||
	fail "--batch changes bf16's answers"
osteo-infer -q -m fp32.model p/test.fused.rec >fp32.rec
paste <(osteo-dump bf16.rec | jq -c .probs) <(osteo-dump fp32.rec | jq -c .probs) | jq -R -e -s '
	split("\n") | map(select(length > 0) | split("\t") | map(fromjson)) |
	all(.[0] as $a | .[1] as $b | [range(3)] | all(($a[.] - $b[.]) | fabs < 0.02))' >/dev/null ||
	fail "bf16's probabilities are not near float32's"   # measured 0.005 at most
exit 0
