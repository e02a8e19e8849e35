#!/usr/bin/python3
# An exported model against osteo-infer, in a runtime that is not osteo's:
#   tests/onnx/check.py MODEL.onnx INPUTS.json PREDICTIONS.json [TOL]
# INPUTS and PREDICTIONS are osteo-dump --data of the records osteo-infer
# read and of what it wrote.  The graph's first output is compared, after
# a softmax when its last node is not one (a network that ends in scores,
# as torch exports them).  Gray records meet a 3-channel input replicated.  python3-onnx's checker (full, with shape
# inference) must pass the file, and OpenCV's dnn module (python3-opencv,
# its own ONNX importer and kernels) must give every record's
# probabilities within TOL (default 1e-5) of osteo-infer's.  Prints the
# largest difference; exits 1 on a mismatch.
import json
import sys

import cv2
import numpy as np
import onnx

path, inputs, preds = sys.argv[1:4]
tol = float(sys.argv[4]) if len(sys.argv) > 4 else 1e-5
model = onnx.load(path)
onnx.checker.check_model(model, full_check=True)
names = [i.name for i in model.graph.input]
recs = [json.loads(l) for l in open(inputs)]
want = np.array([json.loads(l)["probs"] for l in open(preds)], dtype=np.float64)
img = np.array([r["tensors"]["image"]["data"] for r in recs], dtype=np.float32)
img = img.reshape([len(recs)] + recs[0]["tensors"]["image"]["shape"])
# gray records for a network of 3 channels (osteo-onnx --import --gray):
# the gray image in all three
dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
if len(dims) == 4 and dims[1] == 3 and img.shape[1] == 1:
    img = np.repeat(img, 3, axis=1)
net = cv2.dnn.readNetFromONNX(path)
net.setInput(img, "image")
if "clinical" in names:
    clin = np.array([r["tensors"]["clinical"]["data"] for r in recs], dtype=np.float32)
    net.setInput(clin, "clinical")
out = model.graph.output[0].name
got = net.forward(out).astype(np.float64)
if model.graph.node[-1].op_type != "Softmax":
    e = np.exp(got - got.max(axis=1, keepdims=True))
    got = e / e.sum(axis=1, keepdims=True)
diff = np.abs(got - want).max()
print("%s: %d records, inputs %s, largest difference %.3g (tolerance %g)" % (path, len(recs), ",".join(names), diff, tol))
sys.exit(0 if diff <= tol else 1)
