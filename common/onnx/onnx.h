/*
 * onnx.h - osteo's models as ONNX files (export.c), through protobuf-c and
 * the onnx.proto that Debian's libonnx-dev ships, compiled by protoc-c at
 * build time (build/gen/onnx.pb-c.[ch]): no hand-written wire format.
 *
 * The graph gives what osteo-infer gives: inputs "image" (batch, c, h, w)
 * and, when the model takes clinical values, "clinical" (batch, k), both
 * float and prepared as osteo-infer's records are (normalised, fused);
 * output "probs" (batch, classes), after late fusion and the temperature
 * when the model has them.  Every node is a standard operator of opset
 * 13 that OpenCV's dnn module (4.6) also runs, which is why some are
 * spelt plainly (a floor as Mul, Add and Relu rather than Max or Clip).
 */
#ifndef OSTEO_ONNX_H
#define OSTEO_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "common/model/model.h"

#define ONNX_OPSET 13
#define ONNX_MIN_OPSET 9
#define ONNX_MAX_OPSET 17
#define ONNX_MAX_BYTES ((uint64_t)1 << 30)
#define ONNX_IR_VERSION 7

/*
 * The model m as an ONNX file at path (written atomically); batch 0 leaves
 * the batch dimension free ("batch"), n > 0 fixes it (runtimes that need
 * static shapes: OpenCV's).  Dies with 70 when protobuf-c cannot pack it,
 * 73/74 when the file cannot be written.  Returns the number of nodes.
 */
int onnx_export(const struct model *m, int batch, const char *path);

/*
 * The ONNX file at path as a model (import.c): a graph of the layers
 * osteo runs (Conv with BatchNormalization or a bias, with Relu or not;
 * an Add of an earlier layer's output and Relu; MaxPool 2x2,
 * GlobalAveragePool, Flatten or Reshape, Gemm or MatMul and Add with Relu,
 * a clinical input joined by Concat after its own Gemm and Relu layers,
 * Dropout, Identity, Softmax), opsets 9 to 17, its weights in the
 * network net_new builds from the spec it reads as.  classes names the
 * classes (NULL: class0, class1, ...).  gray: a network of 3 input
 * channels takes gray images, its first convolution's weights summed over
 * the channels (the same answers as the gray image in all three, at a
 * third of that layer's products).  0; or -1 with err set, naming the node
 * and op, for anything else: a truncated file, another opset, shapes that
 * do not fit (m is then empty).  Dies with 66 when the file cannot be
 * opened, 64 on a bad classes list.
 */
int onnx_import(const char *path, const char *classes, int gray, struct model *m, char *err, size_t errlen);

#endif
