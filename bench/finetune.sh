#!/bin/bash
# Fine-tuning an imported torchvision ResNet-18 on make demo's cohort, end
# to end, as the osteo-onnx(1) man page's three commands do it: the network
# exported by PyTorch (random weights with a seed: nothing is downloaded
# here; a user's would be ImageNet's), imported with --gray for the
# one-channel X-rays, trained with --init and --freeze N for each N in
# FREEZE, then its accuracy and macro F1 on the test split, its training
# time, and its export to ONNX run by OpenCV against osteo-infer.
#   bench/finetune.sh [DIR]    FREEZE="0 8" EPOCHS=10 (make demo's) N=2000
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$top/bin:$PATH"
. "$top/pipelines/defaults.sh"
w=${1:-$(mktemp -d)}
mkdir -p "$w"
epochs=${EPOCHS:-$DEMO_EPOCHS}
make -s -f "$top/pipelines/prep.mk" BIN="$top/bin/" OUT="$w/prep" N="${N:-$DEMO_N}" SEED="$DEMO_SEED" SIZE="$DEMO_SIZE" \
	COPIES="$DEMO_COPIES" COLUMNS="$DEMO_COLUMNS" MASKS=1 >/dev/null
side=${DEMO_SIZE%x*}
/usr/bin/python3 -c '
import sys, torch, torchvision
torch.manual_seed(0)
net = torchvision.models.resnet18().eval()
torch.onnx.export(net, torch.zeros(1, 3, int(sys.argv[2]), int(sys.argv[2])), sys.argv[1], opset_version=13)' \
	"$w/resnet18.onnx" "$side"
osteo-onnx -q --import "$w/resnet18.onnx" --gray --classes healthy,osteopenia,osteoporosis -o "$w/resnet18.model"
osteo-dump --data "$w/prep/test.fused.rec" >"$w/test.json"
ntest=$(wc -l <"$w/test.json")
printf '%-8s %8s %8s %8s %10s %12s\n' freeze 'of layers' accuracy macroF1 "train s" "OpenCV diff"
for f in ${FREEZE:-0 8}; do
	t0=$(date +%s.%N)
	osteo-train -q --init "$w/resnet18.model" --freeze "$f" --epochs "$epochs" --seed "$DEMO_SEED" \
		$DEMO_TRAIN --fusion "$DEMO_FUSION" --calibrate --val "$w/prep/val.fused.rec" -o "$w/tuned$f.model" \
		"$w/prep/train.fused.rec"
	t1=$(date +%s.%N)
	osteo-infer -q -m "$w/tuned$f.model" "$w/prep/test.fused.rec" >"$w/pred$f.rec"
	m=$(osteo-metrics --json "$w/pred$f.rec" | jq -r '"\(.accuracy) \(.macro.f1)"')
	# (OpenCV 4.6 needs the batch fixed for late fusion's clinical input)
	osteo-onnx -q --export "$w/tuned$f.model" --batch "$ntest" -o "$w/tuned$f.onnx"
	osteo-dump "$w/pred$f.rec" >"$w/pred$f.json"
	diff=$(/usr/bin/python3 "$top/tests/onnx/check.py" "$w/tuned$f.onnx" "$w/test.json" "$w/pred$f.json" |
		sed -n 's/.*largest difference \([^ ]*\).*/\1/p')
	printf '%-8s %8s %8.4f %8.4f %10.1f %12s\n' "$f" "$(osteo-dump "$w/tuned$f.model" | jq '.meta.arch | split(",") | length')" \
		${m% *} ${m#* } "$(echo "$t1 - $t0" | bc -l)" "$diff"
done
