# osteo-onnx --export: the model as ONNX that another runtime runs to the same
# probabilities as osteo-infer (tests/onnx/check.py: python3-onnx's checker and
# OpenCV's dnn module), for late fusion with a temperature, a clinical branch
# after global average pooling and a strided 5x5 convolution, and images
# alone; the free batch dimension; bad input.  osteo-onnx --import: a network
# torch exported (tests/fixtures/onnx/make-fixtures.py) gives OpenCV's answers
# in osteo-infer (residual networks too: an identity shortcut and a mini ResNet
# of torchvision's basic blocks), an exported model comes back bit for bit, and
# what osteo cannot run is 65 naming the node and op.
. "$TOP/tests/lib.sh"
/usr/bin/python3 -c 'import onnx, cv2' 2>/dev/null || { echo "python3-onnx or python3-opencv missing"; exit 77; }
make -s -f "$TOP/pipelines/prep.mk" OUT=p N=40 SEED=4 SIZE=32x32 COPIES=0 >/dev/null 2>&1
n=$(osteo-dump --count p/test.fused.rec | awk -F'\t' '$1 == "all" { print $3 }')
osteo-dump --data p/test.fused.rec >fused.json
osteo-dump --data p/test.norm.rec >norm.json
A="-q --epochs 2 --batch 8 --val p/val.fused.rec"
osteo-train $A --fusion late --calibrate -o late.model p/train.fused.rec
osteo-train $A --arch conv:8:5:2,pool,conv:16,gap,clin:4,dense:8 -o branch.model p/train.fused.rec
osteo-train -q --epochs 2 --batch 8 --arch conv:4,pool,dense:8 -o img.model p/train.norm.rec
osteo-dump late.model | jq -e '.meta["calibration.temperature"] != null' >/dev/null || fail "no temperature to test"
for m in late:fused branch:fused img:norm; do
	name=${m%%:*} in=${m#*:}
	osteo-onnx -q --export $name.model -o $name.onnx --batch "$n"
	osteo-infer -q -m $name.model p/test.$in.rec | osteo-dump >$name.pred.json
	/usr/bin/python3 "$TOP/tests/onnx/check.py" $name.onnx $in.json $name.pred.json || fail "$name: OpenCV's probabilities"
done
# a residual network (the reference layers train it): shortcuts as Add and Relu,
# a strided 1x1 projection whose padding ONNX must not see negative
make -s -f "$TOP/pipelines/prep.mk" OUT=q N=40 SEED=4 SIZE=16x16 COPIES=0 >/dev/null 2>&1
osteo-train -q --epochs 2 --batch 8 --arch conv:8,conv:8:3:2,cbn:8,route:-3,cbn:8:1:2,add:-3,gap,dense:8 \
	--val q/val.fused.rec -o res.model q/train.fused.rec
osteo-dump --data q/test.fused.rec >q-fused.json
osteo-onnx -q --export res.model -o res.onnx --batch "$(wc -l <q-fused.json)"
osteo-infer -q -m res.model q/test.fused.rec | osteo-dump >res.pred.json
/usr/bin/python3 "$TOP/tests/onnx/check.py" res.onnx q-fused.json res.pred.json || fail "residual: OpenCV's probabilities"
# the same model, the same bytes
osteo-onnx -q --export late.model -o again.onnx --batch "$n"
cmp late.onnx again.onnx || fail "two exports of one model differ"
# by default the batch dimension is free
osteo-onnx --export late.model -o free.onnx 2>err
contains 'late.model as [0-9]* ONNX nodes (opset 13), inputs image and clinical, output probs' err || fail "message: $(cat err)"
/usr/bin/python3 -c '
import sys, onnx
m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True)
dims = [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in list(m.graph.input) + list(m.graph.output)]
k = int(sys.argv[2])
assert dims == [["batch", 1, 32, 32], ["batch", k], ["batch", 3]], dims' free.onnx \
	"$(jq -s '.[0].tensors.clinical.shape[0]' fused.json)" || fail "the free batch's shapes"
# --import: torch's network (BN with its running statistics, a conv bias before
# BN, a strided 5x5 conv with a bias and no BN, gap, dense) at 16x16
osteo-dump --data q/test.norm.rec >small-in.json
osteo-onnx --import "$FIX/onnx/small.onnx" -o small.model 2>err
contains 'as conv:8,pool,conv:16,pool,conv:16:5:2,gap,dense:12, 3 classes' err || fail "import message: $(cat err)"
# an imported network knows its input's size, not how it was prepared
expect_status 65 osteo-infer -q -m small.model q/test.norm.rec >/dev/null 2>err
osteo-infer -q --no-check -m small.model q/test.norm.rec | osteo-dump >small-pred.json
/usr/bin/python3 "$TOP/tests/onnx/check.py" "$FIX/onnx/small.onnx" small-in.json small-pred.json ||
	fail "the imported network's probabilities are not OpenCV's"
# residual networks: an identity shortcut; torchvision's basic block with an
# identity and then a strided projection shortcut, as cbn, route and add
for m in residual:"conv:8,cbn:8,add:1,gap" \
	miniresnet:"conv:8,conv:8,cbn:8,add:1,conv:16:3:2,cbn:16,route:4,cbn:16:1:2,add:6,gap"; do
	osteo-onnx -q --import "$FIX/onnx/${m%%:*}.onnx" -o ${m%%:*}.model
	[ "$(osteo-dump ${m%%:*}.model | jq -r .meta.arch)" = "${m#*:}" ] || fail "${m%%:*}: $(osteo-dump ${m%%:*}.model | jq -r .meta.arch)"
	osteo-infer -q --no-check -m ${m%%:*}.model q/test.norm.rec | osteo-dump >${m%%:*}-pred.json
	/usr/bin/python3 "$TOP/tests/onnx/check.py" "$FIX/onnx/${m%%:*}.onnx" small-in.json ${m%%:*}-pred.json ||
		fail "${m%%:*}: the imported network's probabilities are not OpenCV's"
done
osteo-onnx -q --import "$FIX/onnx/small.onnx" --classes a,b,c -o named.model
osteo-dump named.model | jq -e '.meta.classes == "a,b,c"' >/dev/null || fail "--classes"
# --classes of another number: the file's layers but its classifier, which
# is new (a backbone's new head), and said so
osteo-onnx --import "$FIX/onnx/small.onnx" --classes a,b -o head.model 2>err
contains 'its 3 class scores left out: a new classifier for --classes'"'"' 2' err || fail "--classes count: $(cat err)"
osteo-dump head.model | jq -c '.tensors | to_entries | map(select(.key | test("^L[0-9]")) | [.key, .value.shape])' >head.shapes
osteo-dump named.model | jq -c '.tensors | to_entries | map(select(.key | test("^L[0-9]")) | [.key, .value.shape])' >named.shapes
last=$(jq -r '.[-1][0] | split(".")[0]' named.shapes)
[ "$(jq -c --arg l "$last" 'map(select(.[0] | startswith($l + ".") | not))' head.shapes)" = \
	"$(jq -c --arg l "$last" 'map(select(.[0] | startswith($l + ".") | not))' named.shapes)" ] &&
	[ "$(jq -c --arg l "$last." 'map(select(.[0] | startswith($l))) | map(.[1][0])' head.shapes)" = "[2,2]" ] ||
	fail "--classes a,b: $(cat head.shapes)"
cmp <(osteo-dump --data head.model | jq -c '.tensors["L1.w"].data') <(osteo-dump --data named.model | jq -c '.tensors["L1.w"].data') ||
	fail "--classes a,b: the first layer's weights are not the file's"
# export, import: the same network and the same probabilities, bit for bit (a
# residual one too)
osteo-onnx -q --export res.model -o res-free.onnx
osteo-onnx -q --import res-free.onnx --classes healthy,osteopenia,osteoporosis -o res-back.model
cmp <(osteo-infer -q --no-check -m res-back.model q/test.fused.rec | osteo-dump | jq -c .probs) \
	<(osteo-infer -q -m res.model q/test.fused.rec | osteo-dump | jq -c .probs) || fail "residual: export, import"
# average pooling as PyTorch exports avg_pool2d (padded, the padding not
# counted; a Pad of no width, then 2x2), whose answers resnet.sh holds to
# PyTorch's; out and back in as AveragePool that says count_include_pad 0
osteo-onnx -q --import "$FIX/onnx/avgpool.onnx" -o avgpool.model
[ "$(osteo-dump avgpool.model | jq -r .meta.arch)" = conv:8,avgpool:3:2,conv:8,avgpool:2:2 ] ||
	fail "avgpool: $(osteo-dump avgpool.model | jq -r .meta.arch)"
osteo-infer -q --no-check -m avgpool.model q/test.norm.rec | osteo-dump >avgpool-pred.json
osteo-onnx -q --export avgpool.model -o avg-out.onnx
/usr/bin/python3 "$TOP/tests/onnx/check.py" avg-out.onnx small-in.json avgpool-pred.json >/dev/null ||
	fail "avgpool: the exported network is not OpenCV's"
osteo-onnx -q --import avg-out.onnx -o avg-back.model
cmp <(osteo-infer -q --no-check -m avg-back.model q/test.norm.rec | osteo-dump | jq -c .probs) \
	<(jq -c .probs avgpool-pred.json) || fail "avgpool: export, import"
osteo-onnx -q --export branch.model -o branch-free.onnx
osteo-onnx -q --import branch-free.onnx --classes healthy,osteopenia,osteoporosis -o back.model
[ "$(osteo-dump back.model | jq -r .meta.arch)" = "$(osteo-dump branch.model | jq -r .meta.arch)" ] || fail "arch back"
osteo-infer -q --no-check -m back.model p/test.fused.rec | osteo-dump | jq -c .probs >back.probs
osteo-infer -q -m branch.model p/test.fused.rec | osteo-dump | jq -c .probs >branch.probs
cmp back.probs branch.probs || fail "an exported and imported model answers otherwise"
# what osteo cannot run: 65, the node and op named, no model
for f in sigmoid:"(Sigmoid): op 'Sigmoid' is not one osteo reads" opset8:"opset 8; osteo reads opsets 9 to 17" \
	shapes:"node '/fc1/Gemm': a product of 17 inputs to 12 where osteo's layer there has 16 to 12" \
	truncated:"not an ONNX model (truncated, or not protobuf)" \
	avgpad:"(Pad): padding of some width (average pooling that counts its padding, say)"; do
	expect_status 65 osteo-onnx -q --import "$FIX/onnx/${f%%:*}.onnx" -o bad.model 2>err
	contains -F "${f#*:}" err || fail "${f%%:*}: $(cat err)"
	[ ! -e bad.model ] || fail "${f%%:*}: a model was written"
done
expect_status 65 osteo-onnx -q --import late.onnx -o bad.model 2>err
contains "(LogSoftmax): op 'LogSoftmax' is not one osteo reads" err || fail "late fusion: $(cat err)"
: >empty.onnx
expect_status 65 osteo-onnx -q --import empty.onnx -o bad.model 2>err
expect_status 66 osteo-onnx -q --import missing.onnx -o bad.model 2>err
expect_status 64 osteo-onnx -q --import "$FIX/onnx/small.onnx" --export late.model -o bad.model 2>err
# a full disk (ENOSPC on the first write, by strace): 74, the file named, nothing left
for args in "--export late.model -o full.onnx" "--import $FIX/onnx/small.onnx -o full.model"; do
	expect_status 74 strace -f -qq -o /dev/null -e trace=write -e inject=write:error=ENOSPC:when=1 \
		osteo-onnx -q $args 2>err
	contains 'tmp.[0-9]*: write error: No space left on device' err || fail "full disk, $args: $(cat err)"
	[ -z "$(ls -d full.* 2>/dev/null)" ] || fail "full disk, $args: left $(ls -d full.*)"
done
# bad input: nothing written
expect_status 64 osteo-onnx --export late.model 2>err
contains '\-o names the ONNX file' err || fail "no -o: $(cat err)"
expect_status 66 osteo-onnx --export missing.model -o x.onnx 2>err
expect_status 65 osteo-onnx --export p/test.fused.rec -o x.onnx 2>err
contains 'p/test.fused.rec' err || fail "not a model: $(cat err)"
head -c 3000 late.model >cut.model
expect_status 65 osteo-onnx --export cut.model -o x.onnx 2>err
expect_status 73 osteo-onnx --export late.model -o nodir/x.onnx 2>err
[ ! -e x.onnx ] && [ -z "$(ls -d x.onnx.tmp.* nodir 2>/dev/null)" ] || fail "left $(ls)"
exit 0
