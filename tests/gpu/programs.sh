# osteo-train and osteo-infer on the CUDA backend against the CPU backend.
# Sourced by tests/shell/gpu.sh (the device) and gpu-emu.sh (the CPU
# stand-in) with GPU_BIN naming the directory of the programs to test.
make -s -f "$TOP/pipelines/prep.mk" OUT=p N=24 SEED=2 SIZE=32x32 COPIES=0 >/dev/null 2>&1
A="-q --arch conv:4,pool,conv:8,pool,dense:8,dropout:0.2 --epochs 3 --batch 8 --val p/val.fused.rec"
osteo-train $A --device cpu -o cpu.model --log cpu.tsv p/train.fused.rec
"$GPU_BIN/osteo-train" $A --device cuda -o gpu.model --log gpu.tsv p/train.fused.rec
# the losses of 3 epochs agree within 1e-4 relative, epoch by epoch
paste cpu.tsv gpu.tsv | awk -F'\t' 'NR > 1 { for (c = 2; c <= 4; c += 2) {
	d = $c - $(c + 8); d = d < 0 ? -d : d
	if (d > 1e-4 * ($c < 0 ? -$c : $c)) { printf "epoch %d column %d: CPU %s, GPU %s\n", $1, c, $c, $(c + 8); bad = 1 } } }
	END { exit bad }' || fail "the GPU's losses differ from the CPU's"
# run to run, and resumed from a checkpoint, the device gives the same model
"$GPU_BIN/osteo-train" $A --device cuda -o again.model p/train.fused.rec
cmp gpu.model again.model || fail "the same seed gave different models on the GPU"
"$GPU_BIN/osteo-train" $A --device cuda --epochs 1 -o r.model --checkpoint r.ckpt p/train.fused.rec
"$GPU_BIN/osteo-train" $A --device cuda --resume r.ckpt -o r.model p/train.fused.rec
cmp gpu.model r.model || fail "a resumed GPU run differs"
# the GPU's model on the CPU: the classes the GPU infers, probabilities to rounding
osteo-infer --device cpu -m gpu.model p/test.fused.rec >on-cpu.rec
"$GPU_BIN/osteo-infer" --device cuda -m gpu.model p/test.fused.rec >on-gpu.rec
"$GPU_BIN/osteo-infer" --device cuda --batch 5 -m gpu.model p/test.fused.rec >on-gpu5.rec
[ "$(osteo-dump on-cpu.rec | jq -c .pred)" = "$(osteo-dump on-gpu.rec | jq -c .pred)" ] || fail "classes differ on the CPU"
[ "$(osteo-dump on-gpu5.rec | jq -c .pred)" = "$(osteo-dump on-gpu.rec | jq -c .pred)" ] || fail "classes differ with --batch 5"
close() { # the largest difference of a field between two streams, under a limit
	jq -n -e --slurpfile a <(osteo-dump --data "$1" | jq -c "[$3] | flatten") \
		--slurpfile b <(osteo-dump --data "$2" | jq -c "[$3] | flatten") \
		"[range(\$a | length) as \$i | range(\$a[\$i] | length) as \$j | (\$a[\$i][\$j] - \$b[\$i][\$j]) | fabs] | max < $4" >/dev/null
}
close on-cpu.rec on-gpu.rec .probs 1e-5 || fail "probabilities differ from the CPU's"
# heat maps and feature maps come from the device's activations
osteo-infer --device cpu --heatmap --feature-maps 2 -m gpu.model p/test.fused.rec >h-cpu.rec
"$GPU_BIN/osteo-infer" --device cuda --heatmap --feature-maps 2 -m gpu.model p/test.fused.rec >h-gpu.rec
close h-cpu.rec h-gpu.rec .tensors.heatmap.data 1e-4 || fail "heat maps differ from the CPU's"
close h-cpu.rec h-gpu.rec .tensors.features.data 1e-4 || fail "feature maps differ from the CPU's"
# TF32 products: close, not equal
"$GPU_BIN/osteo-train" $A --device cuda --tf32 -o tf.model --log tf.tsv p/train.fused.rec
awk -F'\t' 'NR > 1 && !($2 > 0 && $2 < 10) { exit 1 }' tf.tsv || fail "--tf32: $(cat tf.tsv)"
"$GPU_BIN/osteo-infer" --device cuda --tf32 -m tf.model p/test.fused.rec >/dev/null
# more than the device has (256 GiB of activations): a clear error, no model
expect_status 71 "$GPU_BIN/osteo-train" -q --device cuda --arch conv:1024 --batch 65536 -o x.model p/train.fused.rec 2>err
grep -q 'out of memory on cuda:0 for activations.*smaller --batch' err || fail "out of memory: $(cat err)"
[ ! -e x.model ] || fail "a model after running out of device memory"
# devices that are not there
expect_status 69 "$GPU_BIN/osteo-train" -q --device cuda:7 -o x.model p/train.fused.rec 2>err
grep -q 'only 1 CUDA device\|only [0-9]* CUDA devices' err || fail "cuda:7: $(cat err)"
expect_status 64 "$GPU_BIN/osteo-infer" -q --device cuda:x -m gpu.model p/test.fused.rec 2>/dev/null
[ ! -e x.model ] || fail "a model after an error"
