/*
 * ref.h - the reference backend (ref.c), in llm.c's form: the layers, each
 * a pair of free functions, X_forward and X_backward, on plain pointers
 * with explicit sizes, shapes in the comments; then the walker that takes a
 * batch of a net.h network through them, forward and back, in the host
 * activation buffers of struct net.  Backward passes
 * *add* into the parameter gradients (the caller zeroes them once per
 * step) and *write* the input gradient.  Every matrix product goes through
 * sgemm() (oneDNN's) but inference's dense rows.  The CUDA backend mirrors these names and argument
 * orders in gpu/.
 *
 * This is the correctness reference: tests check each backward pass
 * against central finite differences.
 */
#ifndef OSTEO_REF_H
#define OSTEO_REF_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/rng.h"
#include "engine/spec/net.h"

/* C = alpha op(A) op(B) + beta C, row-major; op is a transpose when ta/tb */
void sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
           const float *B, int ldb, float beta, float *C, int ldc);

/* ---- convolution, k x k, stride, zero padding, through im2col + sgemm */
/* col is conv_col_size(C, k, OH, OW) (net.h), one image at a time */
/* inp (B,C,H,W), weight (OC, C*k*k), bias (OC), out (B,OC,OH,OW) */
void conv_forward(float *out, const float *inp, const float *weight, const float *bias, float *col,
                  int B, int C, int H, int W, int OC, int k, int stride, int pad);
/* dinp (B,C,H,W) written (may be NULL for the first layer), dweight, dbias added */
void conv_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                   const float *weight, float *col, int B, int C, int H, int W, int OC, int k,
                   int stride, int pad);

/* ---- batch normalisation over (B,H,W) per channel */
/* training: batch statistics; mean and rstd (C) are saved for backward,
 * running_mean/var (C) move by momentum */
void batchnorm_forward_train(float *out, float *mean, float *rstd, const float *inp,
                             const float *gamma, const float *beta, float *running_mean,
                             float *running_var, float momentum, float eps, int B, int C, int HW);
/* inference: running statistics */
void batchnorm_forward_infer(float *out, const float *inp, const float *gamma, const float *beta,
                             const float *running_mean, const float *running_var, float eps,
                             int B, int C, int HW);
void batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                        const float *inp, const float *mean, const float *rstd,
                        const float *gamma, int B, int C, int HW);

/* ---- ReLU; backward uses the output (x > 0 iff relu(x) > 0) */
void relu_forward(float *out, const float *inp, size_t n);
void relu_backward(float *dinp, const float *dout, const float *out, size_t n);

/* ---- 2x2 max pooling, stride 2 (odd edges dropped); idx (B,C,OH,OW)
 * remembers each output's source offset within its plane */
void maxpool_forward(float *out, int32_t *idx, const float *inp, int B, int C, int H, int W);
void maxpool_backward(float *dinp, const float *dout, const int32_t *idx, int B, int C, int H, int W);
/* maxpool:K:S, padding P, into OH x OW */
void maxpoolk_forward(float *out, int32_t *idx, const float *inp, int B, int C, int H, int W, int K, int S, int P,
                      int OH, int OW);
void maxpoolk_backward(float *dinp, const float *dout, const int32_t *idx, int B, int C, int H, int W, int OH,
                       int OW);
/* avgpool:K:S, padding P (not counted), into OH x OW; backward writes dinp */
void avgpoolk_forward(float *out, const float *inp, int B, int C, int H, int W, int K, int S, int P, int OH, int OW);
void avgpoolk_backward(float *dinp, const float *dout, int B, int C, int H, int W, int K, int S, int P, int OH,
                       int OW);

/* ---- global average pooling: each of n planes of P values to its mean */
void gap_forward(float *out, const float *inp, int n, int P);
void gap_backward(float *dinp, const float *dout, int n, int P);

/* ---- dense: inp (B,IN), weight (OUT,IN), bias (OUT), out (B,OUT) */
void dense_forward(float *out, const float *inp, const float *weight, const float *bias,
                   int B, int IN, int OUT);
/* the same, each row of out summed in one fixed order whatever B and
 * whatever rows share the batch: inference, where a record's
 * probabilities must not depend on the records around it */
void dense_forward_rows(float *out, const float *inp, const float *weight, const float *bias,
                        int B, int IN, int OUT);
/* dweight and dbias may be NULL when only dinp is wanted */
void dense_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                    const float *weight, int B, int IN, int OUT);

/* ---- inverted dropout: mask holds 0 or 1/(1-p) */
void dropout_forward(float *out, float *mask, const float *inp, size_t n, float p, struct rng *g);
void dropout_backward(float *dinp, const float *dout, const float *mask, size_t n);

/* ---- softmax alone, for inference: logits (B,K) to probs (B,K) */
void softmax_forward(float *probs, const float *logits, int B, int K);

/* ---- softmax with (optionally class-weighted) cross-entropy
 * logits (B,K), labels (B), weights (K) or NULL; probs (B,K) written;
 * returns the mean loss sum_b w[y_b] * -log p_b / sum_b w[y_b] */
float softmax_xent_forward(float *probs, const float *logits, const int32_t *labels,
                           const float *weights, int B, int K);
/* dlogits (B,K) written: the gradient of that mean loss */
void softmax_xent_backward(float *dlogits, const float *probs, const int32_t *labels,
                           const float *weights, int B, int K);

/* ---- Adam with decoupled weight decay (AdamW), step t from 1 */
void adam_update(float *param, const float *grad, float *m, float *v, size_t n, float lr,
                 float beta1, float beta2, float eps, float weight_decay, int t);

/* ---------------------------------------------------------------- */
/* the walker */

/* forward for b images x (b,c,h,w) and clinical (b,nclin); probabilities
 * in n->probs.  train: batch statistics and dropout (from g) */
void ref_forward(struct net *n, const float *x, const float *clin, int b, int train, struct rng *g);
/* the layers from.. only, on the output of layer from-1 in n->a[from-1]
 * (from = fuse_at: the dense tail, after a backend's convolution blocks) */
void ref_forward_from(struct net *n, int from, const float *x, const float *clin, int b, int train,
                      struct rng *g);
/* after ref_forward(train): loss, and gradients *added* to n->grads */
float ref_loss(struct net *n, const int32_t *labels, const float *weights, int b);
void ref_backward(struct net *n, const float *x, const int32_t *labels, const float *weights, int b);
/* the same from the loss down to the output of layer stop only; returns
 * the gradient there, (b, that layer's output) */
const float *ref_backward_to(struct net *n, const float *x, const int32_t *labels, const float *weights,
                             int b, int stop);

/* an Adam step over the parameters of unfrozen layers */
void ref_adam(struct net *n, float lr, float beta1, float beta2, float eps, float wd, int t);

/*
 * Grad-CAM after an inference ref_forward of b images: for image j and
 * class cls[j], the last convolution block's feature maps weighted by the
 * spatial mean of the class score's gradient, in cam (b, oh, ow) of that
 * layer, signed: Grad-CAM proper is its positive part (the caller's ReLU),
 * evidence against the class is its negative part.  Returns 0, or -1 when
 * there is no convolution.
 */
int ref_gradcam(struct net *n, const int *cls, int b, float *cam);

#endif
