/*
 * gnn.h - the layers of nn.h on the device.  Pointers are device pointers;
 * every call is queued on the backend's compute stream and returns at once.
 *
 * Layout: the convolution stage keeps its activations channel-major,
 * (C,B,H,W) rather than nn.h's (B,C,H,W), so a convolution over a whole
 * batch is one matrix product (weights x im2col of the batch) whose result
 * is already in place, and batch norm reduces over contiguous rows.  The
 * fusion layer turns it into nn.h's (B, features) rows; after it the
 * layouts agree.  Max-pool indices are the winner's place in its 2x2
 * window (0..3), one byte.
 *
 * The kernels are compiled without FMA contraction (--fmad=false), so an
 * elementwise kernel does the float arithmetic of its CPU twin in the same
 * order (CUDA's expf may differ from glibc's in the last bit).  Where they
 * reduce, they sum in double as nn.c does, in another order, and batch
 * norm's variance is E[x^2] - mean^2 of those double sums (nn.c subtracts
 * the mean first): the two agree to float rounding, not bit for bit.
 */
#ifndef OSTEO_GNN_H
#define OSTEO_GNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* the device, its streams and cuBLAS handle; tf32: let cuBLAS use TF32
 * tensor cores for the products (changes results in the 4th digit) */
void gnn_open(int dev, int tf32);
void gnn_sync(void);
/* device memory: dies naming what and how much when it cannot be had */
void *gnn_alloc(size_t bytes, const char *what);
void gnn_put(void *dst, const void *src, size_t bytes);     /* synchronous */
void gnn_get(void *dst, const void *src, size_t bytes);     /* synchronous */
void gnn_zero(void *p, size_t bytes);                       /* queued */
size_t gnn_free_memory(void);
/* the bytes the calls so far read and wrote in device memory, each
 * operand counted once (a lower bound of the traffic, for make bench) */
unsigned long long gnn_bytes(void);

/* row-major C = alpha op(A) op(B) + beta C through cuBLAS, as nn.h's sgemm */
void gsgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
            const float *B, int ldb, float beta, float *C, int ldc);

/* the batch: out (C,b,HW) from rows[j] (or j when rows is NULL) of
 * src (N,C,HW); clinical (b,K) and labels likewise (NULL skips them) */
void gnn_gather(float *out, const float *src, const int32_t *rows, int b, int C, int HW);
void gnn_gather_rows(float *out, const float *src, int32_t *yout, const int32_t *ysrc,
                     const int32_t *rows, int b, int K);
/* (C,B,HW) to (B,C,HW), for activations a person asked to see */
void gnn_to_bchw(float *out, const float *in, int C, int B, int HW);

/* convolution over images b0..b0+nb-1 of a (C,B,H,W) batch:
 * col (C*k*k, nb*OH*OW); col2im writes (not adds) those images of dinp */
void gnn_im2col(float *col, const float *inp, int C, int B, int H, int W, int k, int stride,
                int pad, int OH, int OW, int b0, int nb);
void gnn_col2im(float *dinp, const float *col, int C, int B, int H, int W, int k, int stride,
                int pad, int OH, int OW, int b0, int nb);
/* out (OC,B,OH,OW) = conv(inp (C,B,H,W)), weight (OC, C*k*k), no bias */
void gconv_forward(float *out, const float *inp, const float *weight, float *col, size_t colbudget,
                   int B, int C, int H, int W, int OC, int k, int stride, int pad);
/* dweight added; dinp written unless NULL */
void gconv_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                    const float *weight, float *col, size_t colbudget, int B, int C, int H, int W,
                    int OC, int k, int stride, int pad);

/* batch norm + ReLU on (C,B,HW) = (C,N) (relu 0: batch norm alone, cbn);
 * with pool, also the 2x2 max pool of each (H,W) plane: out (C,B,H/2,W/2)
 * and idx, and the normalised plane itself is never stored.  Training:
 * batch statistics into mean and rstd (C), running ones moved by momentum;
 * part is scratch of gnn_bn_parts(C, N) doubles.  Inference (train 0): the
 * running ones. */
size_t gnn_bn_parts(int C, size_t N);
void gbn_relu_forward(float *out, uint8_t *idx, const float *z, float *mean, float *rstd,
                      const float *gamma, const float *beta, float *rmean, float *rvar,
                      double *part, int train, float momentum, float eps, int C, int B, int H,
                      int W, int pool, int relu);
/* the gradient at the block's output (dout, pooled when idx is given) back
 * to dz (C,B,HW): through the pool, the ReLU and batch norm; dgamma and
 * dbeta added */
void gbn_relu_backward(float *dz, float *dgamma, float *dbeta, const float *dout,
                       const uint8_t *idx, const float *z, const float *mean, const float *rstd,
                       const float *gamma, const float *beta, double *part, int C, int B, int H,
                       int W, int relu);

/* 2x2 max pool of P planes H x W, and back (dinp written) */
void gmaxpool_forward(float *out, uint8_t *idx, const float *inp, int P, int H, int W);
void gmaxpool_backward(float *dinp, const float *dout, const uint8_t *idx, int P, int H, int W);
/* maxpool:K:S, padding P, of np planes H x W into OH x OW: idx the
 * winner's offset in its plane, as nn.h keeps it; backward writes dinp */
void gmaxpoolk_forward(float *out, int32_t *idx, const float *inp, int np, int H, int W, int K, int S, int P,
                       int OH, int OW);
void gmaxpoolk_backward(float *dinp, const float *dout, const int32_t *idx, int np, int H, int W, int K, int S,
                        int P, int OH, int OW);
/* avgpool:K:S, padding P (not counted), the same way */
void gavgpoolk_forward(float *out, const float *inp, int np, int H, int W, int K, int S, int P, int OH, int OW);
void gavgpoolk_backward(float *dinp, const float *dout, int np, int H, int W, int K, int S, int P, int OH, int OW);
/* residual networks: out = relu(a + b); y += x (n values, any layout) */
void gadd_relu(float *out, const float *a, const float *b, size_t n);
void gnn_add(float *y, const float *x, size_t n);
/* pool indices of (C,B) planes as nn.h's offsets within the plane, in
 * nn.h's (B,C) order */
void gnn_pool_offsets(int32_t *off, const uint8_t *idx, int C, int B, int H, int W);

/* dense: z (B,OUT) = inp . weight^T + bias; a = relu(z) unless a is NULL */
void gdense_forward(float *z, float *a, const float *inp, const float *weight, const float *bias,
                    int B, int IN, int OUT);
/* dout is the gradient at z (after the ReLU's mask); dweight, dbias added,
 * dinp written; any may be NULL */
void gdense_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                     const float *weight, int B, int IN, int OUT);
void grelu_backward(float *dinp, const float *dout, const float *out, size_t n);

/* inverted dropout on (C,B,HW) with a mask drawn on the host in nn.h's
 * (B,C,HW) order (C = 1 for rows) */
void gdropout(float *out, const float *inp, const float *mask, int C, int B, int HW);

/* the fusion layer: fused (B, C*HW + K) from img (C,B,HW) and clin (B,K);
 * backward the image part of dfused to dimg (C,B,HW) */
void gfuse_forward(float *fused, const float *img, const float *clin, int C, int B, int HW, int K);
void gfuse_backward(float *dimg, const float *dfused, int C, int B, int HW, int K);
/* zeros over the clinical part of fused (B, F + K) where keep[b] is 0 */
void gfuse_hide(float *fused, const float *keep, int F, int B, int K);
/* the clinical part of dfused (B, F + K) to dclin (B, K) */
void gfuse_clin_backward(float *dclin, const float *dfused, int F, int B, int K);

/* global average pooling: n planes of P values (any layout of planes) */
void ggap_forward(float *out, const float *inp, int n, int P);
void ggap_backward(float *dinp, const float *dout, int n, int P);

/* softmax of logits (B,K); the weighted cross-entropy of labels into
 * *loss and its weight sum into *wsum (device scalars); the gradient */
void gsoftmax(float *probs, const float *logits, int B, int K);
void gxent_forward(float *loss, double *wsum, const float *logits, const int32_t *labels,
                   const float *weights, int B, int K);
void gxent_backward(float *dlogits, const float *probs, const int32_t *labels,
                    const float *weights, const double *wsum, int B, int K);

/* AdamW, as nn.h's adam_update */
void gadam(float *param, const float *grad, float *m, float *v, size_t n, float lr, float beta1,
           float beta2, float eps, float weight_decay, int t);

#ifdef __cplusplus
}
#endif
#endif
