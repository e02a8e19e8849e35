# torchvision's ResNet-18, -34 and -50, and a small net of average pooling
# (random weights and batch-norm
# statistics, made by tests/fixtures/onnx/make-resnets.py as the test runs:
# nothing downloaded) imported by osteo-onnx and run by osteo-infer (on
# oneDNN, on the reference layers and on the CUDA engine in tests/gpu/emu's
# stand-in) give PyTorch's probabilities within
# 1e-4 of the largest, and OpenCV's on the
# same ONNX files; --arch resnet18 builds the same network the import reads
# (parameter for parameter); a model trained with --arch resnet18 exports
# back to ONNX that OpenCV runs to osteo-infer's answers; --gray takes gray
# records into the 3-channel stem.
. "$TOP/tests/lib.sh"
/usr/bin/python3 -c 'import torchvision, onnx, cv2' 2>/dev/null ||
	{ echo "python3-torchvision, python3-onnx or python3-opencv missing"; exit 77; }
mkdir -p imgs/healthy imgs/osteoporosis
/usr/bin/python3 -c '
import numpy as np, cv2
g = np.random.default_rng(1)
for i in range(6):
    cv2.imwrite("imgs/%s/im%d.png" % ("healthy" if i % 2 else "osteoporosis", i), (g.random((48, 48, 3)) * 255).astype(np.uint8))'
osteo-decode -q imgs | osteo-normalize -q --size 48x48 --keep-channels --method zscore >rgb.rec
osteo-dump --data rgb.rec >rgb.json
OMP_NUM_THREADS=2 /usr/bin/python3 "$FIX/onnx/make-resnets.py" . rgb.json resnet18,resnet34,resnet50,avgnet
# on oneDNN's path for residual networks (engine/cpu/res.c), on the
# reference layers, and on the CUDA engine's kernels in the stand-in for a
# GPU (tests/gpu/emu, built by make check)
emu=$TOP/build/emu/bin/osteo-infer
for m in resnet18 resnet34 resnet50 avgnet; do
	osteo-onnx -q --import $m.onnx -o $m.model
	for cpu in "" reference cuda; do
		# (outside the pipeline: a continue in its subshell goes nowhere)
		[ "$cpu" != cuda ] || [ -x "$emu" ] || continue
		if [ "$cpu" = cuda ]; then
			"$emu" -q --no-check --device cuda -m $m.model rgb.rec
		else
			OSTEO_CPU=$cpu osteo-infer -q --no-check -m $m.model rgb.rec
		fi | osteo-dump >$m.pred.json
		paste <(jq -c .probs $m.pred.json) $m.torch.json | jq -R -e -s '
			split("\n") | map(select(length > 0) | split("\t") | map(fromjson)) |
			(map(.[0] | max) | max) as $top |
			all(.[0] as $a | .[1] as $b | [range(3)] | all((($a[.] - $b[.]) | fabs) <= 1e-4 * $top))' >/dev/null ||
			fail "$m (${cpu:-oneDNN}): osteo's probabilities are not PyTorch's: $(paste <(jq -c .probs $m.pred.json) $m.torch.json | head -2)"
		[ $m = avgnet ] || /usr/bin/python3 "$TOP/tests/onnx/check.py" $m.onnx rgb.json $m.pred.json 1e-4 >/dev/null ||
			fail "$m (${cpu:-oneDNN}): not OpenCV's"
	done
done
# --gray: the 3-channel ResNet-18 on gray records gives what OpenCV gives with
# the gray image in all three channels, and its first layer takes one
osteo-decode -q imgs | osteo-normalize -q --size 48x48 --method zscore >gray.rec
osteo-dump --data gray.rec >gray.json
osteo-onnx -q --import resnet18.onnx --gray -o gray.model
osteo-dump gray.model | jq -e '.tensors["L1.w"].shape == [64, 1, 7, 7] and .meta["norm.gray"] == true' >/dev/null ||
	fail "--gray: the first layer's weights"
osteo-infer -q --no-check -m gray.model gray.rec | osteo-dump >gray.pred.json
/usr/bin/python3 "$TOP/tests/onnx/check.py" resnet18.onnx gray.json gray.pred.json >/dev/null ||
	fail "--gray: not OpenCV's answers for the image in three channels"
expect_status 65 osteo-onnx -q --import "$FIX/onnx/small.onnx" --gray -o bad.model 2>err
contains 'gray input for a network of 1 input channels (3 wanted)' err || fail "--gray on one channel: $(cat err)"
# a fresh torchvision ResNet-18 as PyTorch exports it by default: ImageNet's
# 1000 classes, and equal folded tensors shared through Identity nodes; the
# import keeps the backbone and makes a new classifier for --classes
/usr/bin/python3 -c '
import torch, torchvision, onnx
torch.manual_seed(0)
torch.onnx.export(torchvision.models.resnet18().eval(), torch.zeros(1, 3, 48, 48), "fresh.onnx", opset_version=13)
g = onnx.load("fresh.onnx").graph
assert any(n.op_type == "Identity" for n in g.node), "no Identity nodes to test"'
expect_status 65 osteo-onnx -q --import fresh.onnx -o fresh.model 2>err
contains '1000 class scores; osteo takes 2 to 256: --classes names' err || fail "1000 classes: $(cat err)"
osteo-onnx -q --import fresh.onnx --gray --classes healthy,osteoporosis -o fresh.model ||
	fail "a default export of ResNet-18 does not import"
osteo-dump fresh.model | jq -e '.meta.classes == "healthy,osteoporosis" and (.tensors | to_entries[-1].value.shape == [2])' \
	>/dev/null || fail "the new classifier: $(osteo-dump fresh.model | jq -c '.tensors | to_entries[-1]')"
# osteo-train --init without --arch builds the imported network; its
# classifier is trained from the new one
osteo-train -q --init fresh.model --epochs 1 --batch 6 --lr 1e-4 -o tuned.model gray.rec
[ "$(osteo-dump tuned.model | jq -r .meta.arch)" = "$(osteo-dump fresh.model | jq -r .meta.arch)" ] ||
	fail "--init without --arch: $(osteo-dump tuned.model | jq -r .meta.arch)"
# the preset is the imported network, tensor for tensor (basic blocks and
# bottlenecks; resnet34 is resnet18's blocks, more of them)
for m in resnet18 resnet50; do
	osteo-dump $m.model | jq -c '[.tensors | to_entries[] | [.key, .value.shape]]' >imported.shapes
	# (one Adam step of 1e-3 leaves running statistics that blow the logits
	# 80 apart, where float rounding alone moves a probability by 2e-5:
	# 1e-4 keeps the model one a user would export)
	osteo-train -q --arch $m --epochs 1 --batch 6 --lr 1e-4 -o preset.model rgb.rec
	osteo-dump preset.model | jq -c '[.tensors | to_entries[] | select(.key | test("^(L|C)[0-9]")) | [.key, .value.shape]]' >preset.shapes
	jq -c '[.[] | select(.[0] | test("^(L|C)[0-9]"))]' imported.shapes | cmp - preset.shapes ||
		fail "--arch $m differs from torchvision's $m"
	[ $m = resnet18 ] || continue
	osteo-onnx -q --export preset.model -o preset.onnx --batch 6
	osteo-infer -q -m preset.model rgb.rec | osteo-dump >preset.pred.json
	/usr/bin/python3 "$TOP/tests/onnx/check.py" preset.onnx rgb.json preset.pred.json >/dev/null || fail "--arch resnet18's export"
done
exit 0
