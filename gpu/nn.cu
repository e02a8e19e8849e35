/*
 * nn.cu - the layers of gnn.h: CUDA kernels for what is not a matrix
 * product, cuBLAS for what is.  Kernels walk their elements with a
 * grid-stride loop, one thread per output element, and write each output
 * once (col2im and the pool's backward gather rather than scatter), so no
 * atomics and no run-to-run differences.  Reductions (batch norm, the
 * loss) sum per block in double and combine the blocks' sums in a fixed
 * order.
 */
#include <cfloat>
#include <cmath>

#include "check.h"
#include "gnn.h"
extern "C" {
#include "engine/spec/net.h"
}
#include "engine/spec/nnrow.h"

/* threads per block; tests/gpu/emu builds with fewer, each a real thread */
#ifndef THREADS
#define THREADS 256
#endif

static struct {
	int dev, open;
	cudaStream_t s;
	cublasHandle_t h;
	unsigned long long bytes;    /* what the calls so far read and wrote */
} G;

/* the bytes a call reads and writes once each, for make bench's bandwidth */
static void
moved(double floats)
{
	G.bytes += (unsigned long long)(floats * sizeof(float));
}

extern "C" unsigned long long
gnn_bytes(void)
{
	return G.bytes;
}

extern "C" cudaStream_t
gnn_stream(void)
{
	return G.s;
}

extern "C" void
gnn_open(int dev, int tf32)
{
	if (G.open && G.dev != dev)
		die(EX_SOFTWARE, "gnn_open: cuda:%d is open already, not cuda:%d", G.dev, dev);
	if (!G.open) {
		G.dev = dev;
		CUDA(cudaSetDevice(dev));
		CUDA(cudaStreamCreateWithFlags(&G.s, cudaStreamNonBlocking));
		CUBLAS(cublasCreate(&G.h));
		CUBLAS(cublasSetStream(G.h, G.s));
		G.open = 1;
	}
	CUBLAS(cublasSetMathMode(G.h, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
}

extern "C" void
gnn_sync(void)
{
	CUDA(cudaStreamSynchronize(G.s));
}

extern "C" size_t
gnn_free_memory(void)
{
	size_t fr = 0, total = 0;

	CUDA(cudaMemGetInfo(&fr, &total));
	return fr;
}

extern "C" void *
gnn_alloc(size_t bytes, const char *what)
{
	void *p = NULL;
	cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);

	if (e == cudaErrorMemoryAllocation) {
		size_t fr = 0, total = 0;
		cudaGetLastError();
		cudaMemGetInfo(&fr, &total);
		die(EX_OSERR, "cudaMalloc: out of memory on cuda:%d for %s (%.1f MiB wanted, %.1f of %.1f MiB "
		    "free); try a smaller --batch", G.dev, what, bytes / 1048576.0, fr / 1048576.0,
		    total / 1048576.0);
	}
	cuda_check(e, "cudaMalloc", __FILE__, __LINE__);
	return p;
}

extern "C" void
gnn_put(void *dst, const void *src, size_t bytes)
{
	CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, G.s));
	CUDA(cudaStreamSynchronize(G.s));
}

extern "C" void
gnn_get(void *dst, const void *src, size_t bytes)
{
	CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, G.s));
	CUDA(cudaStreamSynchronize(G.s));
}

extern "C" void
gnn_zero(void *p, size_t bytes)
{
	CUDA(cudaMemsetAsync(p, 0, bytes, G.s));
}

/* enough blocks to fill the card, not one per element: the loops stride */
static unsigned
grid(size_t n)
{
	size_t b = (n + THREADS - 1) / THREADS;

	return (unsigned)(b < 1 ? 1 : b > 65536 ? 65536 : b);
}

/* LAUNCH_BLOCK: a kernel whose threads cooperate within the block
 * (__syncthreads); the two are one on a device, not in tests/gpu/emu */
#ifndef LAUNCH
#define LAUNCH(k, blocks, threads) k<<<(blocks), (threads), 0, G.s>>>
#define LAUNCH_BLOCK LAUNCH
#endif

#define FOR_EACH(i, n) \
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

/* ---------------------------------------------------------------- */
/* products */

extern "C" void
gsgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
       int ldb, float beta, float *C, int ldc)
{
	moved((double)M * K + (double)K * N + (double)M * N * (beta != 0 ? 2 : 1));
	/* row-major C is column-major C^T = op(B)^T op(A)^T */
	CUBLAS(cublasSgemm(G.h, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K,
	                   &alpha, B, ldb, A, lda, &beta, C, ldc));
}

/* ---------------------------------------------------------------- */
/* moving batches */

__global__ static void
k_gather(float *out, const float *src, const int32_t *rows, int b, int C, int HW)
{
	size_t n = (size_t)C * b * HW, plane = (size_t)b * HW;

	FOR_EACH(i, n) {
		size_t c = i / plane, r = i % plane, j = r / HW, p = r % HW;
		size_t row = rows ? (size_t)rows[j] : j;
		out[i] = src[(row * C + c) * HW + p];
	}
}

extern "C" void
gnn_gather(float *out, const float *src, const int32_t *rows, int b, int C, int HW)
{
	size_t n = (size_t)C * b * HW;

	moved(2.0 * n);
	LAUNCH(k_gather, grid(n), THREADS)(out, src, rows, b, C, HW);
	LAUNCHED("k_gather");
}

__global__ static void
k_gather_rows(float *out, const float *src, int32_t *yout, const int32_t *ysrc, const int32_t *rows,
              int b, int K)
{
	size_t n = (size_t)b * K > (size_t)b ? (size_t)b * K : (size_t)b;

	FOR_EACH(i, n) {
		if (out && i < (size_t)b * K) {
			size_t j = i / K;
			size_t row = rows ? (size_t)rows[j] : j;
			out[i] = src[row * K + i % K];
		}
		if (yout && i < (size_t)b)
			yout[i] = ysrc[rows ? rows[i] : (int32_t)i];
	}
}

extern "C" void
gnn_gather_rows(float *out, const float *src, int32_t *yout, const int32_t *ysrc,
                const int32_t *rows, int b, int K)
{
	size_t n = (size_t)b * K > (size_t)b ? (size_t)b * K : (size_t)b;

	if (K == 0)
		out = NULL;
	if (!out && !yout)
		return;
	moved(3.0 * n);
	LAUNCH(k_gather_rows, grid(n), THREADS)(out, src, yout, ysrc, rows, b, K);
	LAUNCHED("k_gather_rows");
}

__global__ static void
k_to_bchw(float *out, const float *in, int C, int B, int HW)
{
	size_t n = (size_t)B * C * HW;

	FOR_EACH(i, n) {
		size_t b = i / ((size_t)C * HW), c = i / HW % C, p = i % HW;
		out[i] = in[(c * B + b) * HW + p];
	}
}

extern "C" void
gnn_to_bchw(float *out, const float *in, int C, int B, int HW)
{
	size_t n = (size_t)B * C * HW;

	moved(2.0 * n);
	LAUNCH(k_to_bchw, grid(n), THREADS)(out, in, C, B, HW);
	LAUNCHED("k_to_bchw");
}

/* ---------------------------------------------------------------- */
/* convolution */

__global__ static void
k_im2col(float *col, const float *inp, int C, int B, int H, int W, int k, int stride, int pad,
         int OH, int OW, int b0, int nb)
{
	size_t P = (size_t)OH * OW, cols = (size_t)nb * P, n = (size_t)C * k * k * cols;

	FOR_EACH(i, n) {
		size_t row = i / cols, cc = i % cols, j = cc / P, p = cc % P;
		int c = (int)(row / (k * k)), ky = (int)(row / k % k), kx = (int)(row % k);
		int y = (int)(p / OW) * stride - pad + ky, x = (int)(p % OW) * stride - pad + kx;
		col[i] = y >= 0 && y < H && x >= 0 && x < W
		             ? inp[(((size_t)c * B + b0 + j) * H + y) * W + x] : 0.0f;
	}
}

extern "C" void
gnn_im2col(float *col, const float *inp, int C, int B, int H, int W, int k, int stride, int pad,
           int OH, int OW, int b0, int nb)
{
	size_t n = (size_t)C * k * k * nb * OH * OW;

	moved((double)n + (double)C * nb * H * W);
	LAUNCH(k_im2col, grid(n), THREADS)(col, inp, C, B, H, W, k, stride, pad, OH, OW, b0, nb);
	LAUNCHED("k_im2col");
}

/* each input pixel sums the col entries that came from it, in nn.c's
 * (ky, kx) order */
__global__ static void
k_col2im(float *dinp, const float *col, int C, int B, int H, int W, int k, int stride, int pad,
         int OH, int OW, int b0, int nb)
{
	size_t P = (size_t)OH * OW, cols = (size_t)nb * P, n = (size_t)C * nb * H * W;

	FOR_EACH(i, n) {
		size_t c = i / ((size_t)nb * H * W), r = i % ((size_t)nb * H * W);
		size_t j = r / ((size_t)H * W);
		int y = (int)(r / W % H), x = (int)(r % W);
		float s = 0;
		for (int ky = 0; ky < k; ky++) {
			int ty = y + pad - ky;
			if (ty < 0 || ty % stride || ty / stride >= OH)
				continue;
			for (int kx = 0; kx < k; kx++) {
				int tx = x + pad - kx;
				if (tx < 0 || tx % stride || tx / stride >= OW)
					continue;
				s += col[((c * k + ky) * k + kx) * cols + j * P + (size_t)(ty / stride) * OW + tx / stride];
			}
		}
		dinp[(((size_t)c * B + b0 + j) * H + y) * W + x] = s;
	}
}

extern "C" void
gnn_col2im(float *dinp, const float *col, int C, int B, int H, int W, int k, int stride, int pad,
           int OH, int OW, int b0, int nb)
{
	size_t n = (size_t)C * nb * H * W;

	moved((double)n + (double)C * k * k * nb * OH * OW);
	LAUNCH(k_col2im, grid(n), THREADS)(dinp, col, C, B, H, W, k, stride, pad, OH, OW, b0, nb);
	LAUNCHED("k_col2im");
}

/* images per im2col chunk so col stays within budget floats */
static int
conv_chunk(int C, int k, int OH, int OW, int B, size_t budget)
{
	size_t per = (size_t)C * k * k * OH * OW, nb = per ? budget / per : (size_t)B;

	return nb < 1 ? 1 : nb > (size_t)B ? B : (int)nb;
}

extern "C" void
gconv_forward(float *out, const float *inp, const float *weight, float *col, size_t colbudget,
              int B, int C, int H, int W, int OC, int k, int stride, int pad)
{
	int OH = conv_out(H, k, stride, pad), OW = conv_out(W, k, stride, pad), P = OH * OW, CK = C * k * k;
	int nb = conv_chunk(C, k, OH, OW, B, colbudget);

	for (int b0 = 0; b0 < B; b0 += nb) {
		int m = B - b0 < nb ? B - b0 : nb;
		gnn_im2col(col, inp, C, B, H, W, k, stride, pad, OH, OW, b0, m);
		/* out (OC, B*P) columns b0*P.. = weight (OC,CK) . col (CK, m*P) */
		gsgemm(0, 0, OC, m * P, CK, 1, weight, CK, col, m * P, 0, out + (size_t)b0 * P, B * P);
	}
}

extern "C" void
gconv_backward(float *dinp, float *dweight, const float *dout, const float *inp, const float *weight,
               float *col, size_t colbudget, int B, int C, int H, int W, int OC, int k, int stride,
               int pad)
{
	int OH = conv_out(H, k, stride, pad), OW = conv_out(W, k, stride, pad), P = OH * OW, CK = C * k * k;
	int nb = conv_chunk(C, k, OH, OW, B, colbudget);

	for (int b0 = 0; b0 < B; b0 += nb) {
		int m = B - b0 < nb ? B - b0 : nb;
		const float *d = dout + (size_t)b0 * P;
		gnn_im2col(col, inp, C, B, H, W, k, stride, pad, OH, OW, b0, m);
		/* dweight (OC,CK) += dout (OC, m*P) . col^T */
		gsgemm(0, 1, OC, CK, m * P, 1, d, B * P, col, m * P, 1, dweight, CK);
		if (!dinp)
			continue;
		/* dcol (CK, m*P) = weight^T . dout, then back to the images */
		gsgemm(1, 0, CK, m * P, OC, 1, weight, CK, d, B * P, 0, col, m * P);
		gnn_col2im(dinp, col, C, B, H, W, k, stride, pad, OH, OW, b0, m);
	}
}

/* ---------------------------------------------------------------- */
/* batch norm + ReLU (+ pool) */

/* blocks per channel for the reductions: enough to fill the card */
static int
bn_splits(int C, size_t N)
{
	size_t s = (1024 + C - 1) / C, most = (N + 4095) / 4096;

	s = s < most ? s : most;
	return s < 1 ? 1 : (int)s;
}

extern "C" size_t
gnn_bn_parts(int C, size_t N)
{
	/* two sums per block, then two per channel for the backward pass */
	return (size_t)C * bn_splits(C, N) * 2 + (size_t)C * 2;
}

/* a block's two double sums to thread 0 */
__device__ static void
block_sum2(double &a, double &b)
{
	__shared__ double sa[THREADS], sb[THREADS];

	sa[threadIdx.x] = a;
	sb[threadIdx.x] = b;
	__syncthreads();
	for (unsigned s = THREADS / 2; s > 0; s /= 2) {
		if (threadIdx.x < s) {
			sa[threadIdx.x] += sa[threadIdx.x + s];
			sb[threadIdx.x] += sb[threadIdx.x + s];
		}
		__syncthreads();
	}
	a = sa[0];
	b = sb[0];
}

/* nn.c's batch norm in training, then ReLU (unless relu is 0: cbn) */
__device__ static inline float
bn_relu_train(float x, float m, float r, float g, float b, int relu = 1)
{
	float y = bn_norm(x, m, r, g, b);
	return !relu || y > 0 ? y : 0;
}

/* grid (splits, C): sums of x and x^2 over a segment of channel c */
__global__ static void
k_bn_sums(double *part, const float *z, size_t N)
{
	int c = blockIdx.y, S = gridDim.x;
	size_t seg = (N + S - 1) / S, start = blockIdx.x * seg, end = start + seg < N ? start + seg : N;
	const float *x = z + (size_t)c * N;
	double s = 0, s2 = 0;

	for (size_t i = start + threadIdx.x; i < end; i += THREADS) {
		s += x[i];
		s2 += (double)x[i] * x[i];
	}
	block_sum2(s, s2);
	if (threadIdx.x == 0) {
		part[((size_t)c * S + blockIdx.x) * 2] = s;
		part[((size_t)c * S + blockIdx.x) * 2 + 1] = s2;
	}
}

__global__ static void
k_bn_stats(float *mean, float *rstd, float *rmean, float *rvar, const double *part, int C, int S,
           size_t N, float momentum, float eps)
{
	int c = blockIdx.x * blockDim.x + threadIdx.x;
	double n = (double)N, s = 0, s2 = 0;

	if (c >= C)
		return;
	for (int j = 0; j < S; j++) {
		s += part[((size_t)c * S + j) * 2];
		s2 += part[((size_t)c * S + j) * 2 + 1];
	}
	double m = s / n, var = s2 / n - m * m;
	var = var > 0 ? var : 0;
	mean[c] = (float)m;
	rstd[c] = (float)(1 / sqrt(var + eps));
	/* PyTorch's convention: the running variance is unbiased */
	double unbiased = n > 1 ? var * n / (n - 1) : var;
	rmean[c] = (float)((1 - momentum) * rmean[c] + momentum * m);
	rvar[c] = (float)((1 - momentum) * rvar[c] + momentum * unbiased);
}

/* per channel: the scale and shift that inference applies (nn.c's
 * batchnorm_forward_infer), or the batch's mean and rstd in training */
template <bool TRAIN>
__device__ static inline float
bn_relu(float x, int c, const float *mean, const float *rstd, const float *gamma, const float *beta,
        const float *rmean, const float *rvar, float eps, int relu)
{
	if (TRAIN)
		return bn_relu_train(x, mean[c], rstd[c], gamma[c], beta[c], relu);
	float sc, sh;
	bn_affine(rmean[c], rvar[c], gamma[c], beta[c], eps, &sc, &sh);
	float y = x * sc + sh;
	return !relu || y > 0 ? y : 0;
}

template <bool TRAIN>
__global__ static void
k_bn_relu(float *out, const float *z, const float *mean, const float *rstd, const float *gamma,
          const float *beta, const float *rmean, const float *rvar, float eps, int C, size_t N, int relu)
{
	FOR_EACH(i, (size_t)C * N)
		out[i] = bn_relu<TRAIN>(z[i], (int)(i / N), mean, rstd, gamma, beta, rmean, rvar, eps, relu);
}

/* one thread per pooled output; the first of equal values wins, as in nn.c */
template <bool TRAIN>
__global__ static void
k_bn_relu_pool(float *out, uint8_t *idx, const float *z, const float *mean, const float *rstd,
               const float *gamma, const float *beta, const float *rmean, const float *rvar,
               float eps, int C, int B, int H, int W)
{
	int OH = H / 2, OW = W / 2;
	size_t Q = (size_t)OH * OW, n = (size_t)C * B * Q;

	FOR_EACH(i, n) {
		size_t plane = i / Q, q = i % Q;
		int c = (int)(plane / B), oy = (int)(q / OW), ox = (int)(q % OW);
		const float *x = z + plane * H * W + (size_t)2 * oy * W + 2 * ox;
		float v[4] = { x[0], x[1], x[W], x[W + 1] };
		for (int j = 0; j < 4; j++)
			v[j] = bn_relu<TRAIN>(v[j], c, mean, rstd, gamma, beta, rmean, rvar, eps, 1);
		int best = max4_first(v[0], v[1], v[2], v[3]);
		out[i] = v[best];
		idx[i] = (uint8_t)best;
	}
}

extern "C" void
gbn_relu_forward(float *out, uint8_t *idx, const float *z, float *mean, float *rstd,
                 const float *gamma, const float *beta, float *rmean, float *rvar, double *part,
                 int train, float momentum, float eps, int C, int B, int H, int W, int pool, int relu)
{
	size_t N = (size_t)B * H * W;
	size_t n = pool ? (size_t)C * B * (H / 2) * (W / 2) : (size_t)C * N;

	/* training reads z twice (statistics, then the normalisation) */
	moved((double)C * N * (train ? 2 : 1) + (double)n * (pool ? 1.25 : 1));
	if (train) {
		int S = bn_splits(C, N);
		LAUNCH_BLOCK(k_bn_sums, dim3(S, C), THREADS)(part, z, N);
		LAUNCHED("k_bn_sums");
		LAUNCH(k_bn_stats, (C + 127) / 128, 128)(mean, rstd, rmean, rvar, part, C, S, N, momentum, eps);
		LAUNCHED("k_bn_stats");
	}
	if (pool && train)
		LAUNCH(k_bn_relu_pool<true>, grid(n), THREADS)(out, idx, z, mean, rstd, gamma, beta, rmean,
		                                                   rvar, eps, C, B, H, W);
	else if (pool)
		LAUNCH(k_bn_relu_pool<false>, grid(n), THREADS)(out, idx, z, mean, rstd, gamma, beta, rmean,
		                                                    rvar, eps, C, B, H, W);
	else if (train)
		LAUNCH(k_bn_relu<true>, grid(n), THREADS)(out, z, mean, rstd, gamma, beta, rmean, rvar, eps, C, N, relu);
	else
		LAUNCH(k_bn_relu<false>, grid(n), THREADS)(out, z, mean, rstd, gamma, beta, rmean, rvar, eps, C, N, relu);
	LAUNCHED("k_bn_relu");
}

/* the gradient reaching element i of a (C,B,H,W) block output: through the
 * pool when idx is given, then the ReLU's mask (relu 0: none) */
__device__ static inline float
block_grad(size_t i, const float *dout, const uint8_t *idx, float zi, float m, float r, float g,
           float b, int H, int W, int relu)
{
	size_t HW = (size_t)H * W, plane = i / HW, p = i % HW;
	float d;

	if (idx) {
		int OH = H / 2, OW = W / 2, y = (int)(p / W), x = (int)(p % W);
		if (y / 2 >= OH || x / 2 >= OW)
			return 0;
		size_t j = plane * OH * OW + (size_t)(y / 2) * OW + x / 2;
		d = idx[j] == (y & 1) * 2 + (x & 1) ? dout[j] : 0;
	} else
		d = dout[i];
	return !relu || bn_relu_train(zi, m, r, g, b) > 0 ? d : 0;
}

/* grid (splits, C): sums of dy and dy * xhat */
__global__ static void
k_bn_bwd_sums(double *part, const float *dout, const uint8_t *idx, const float *z, const float *mean,
              const float *rstd, const float *gamma, const float *beta, int B, int H, int W, int relu)
{
	int c = blockIdx.y, S = gridDim.x;
	size_t N = (size_t)B * H * W, seg = (N + S - 1) / S, start = blockIdx.x * seg;
	size_t end = start + seg < N ? start + seg : N;
	float m = mean[c], r = rstd[c], g = gamma[c], b = beta[c];
	double sdy = 0, sdyx = 0;

	for (size_t e = start + threadIdx.x; e < end; e += THREADS) {
		size_t i = (size_t)c * N + e;
		float dy = block_grad(i, dout, idx, z[i], m, r, g, b, H, W, relu);
		sdy += dy;
		sdyx += dy * (z[i] - m) * r;
	}
	block_sum2(sdy, sdyx);
	if (threadIdx.x == 0) {
		part[((size_t)c * S + blockIdx.x) * 2] = sdy;
		part[((size_t)c * S + blockIdx.x) * 2 + 1] = sdyx;
	}
}

__global__ static void
k_bn_bwd_stats(float *dgamma, float *dbeta, double *ms, const double *part, int C, int S, size_t N)
{
	int c = blockIdx.x * blockDim.x + threadIdx.x;
	double sdy = 0, sdyx = 0;

	if (c >= C)
		return;
	for (int j = 0; j < S; j++) {
		sdy += part[((size_t)c * S + j) * 2];
		sdyx += part[((size_t)c * S + j) * 2 + 1];
	}
	dgamma[c] += (float)sdyx;
	dbeta[c] += (float)sdy;
	ms[2 * c] = sdy / (double)N;
	ms[2 * c + 1] = sdyx / (double)N;
}

__global__ static void
k_bn_bwd_apply(float *dz, const float *dout, const uint8_t *idx, const float *z, const float *mean,
               const float *rstd, const float *gamma, const float *beta, const double *ms, int C,
               int B, int H, int W, int relu)
{
	size_t N = (size_t)B * H * W;

	FOR_EACH(i, (size_t)C * N) {
		int c = (int)(i / N);
		float m = mean[c], r = rstd[c], g = gamma[c];
		float dy = block_grad(i, dout, idx, z[i], m, r, g, beta[c], H, W, relu);
		dz[i] = bn_dx(dy, z[i], m, r, g, (float)ms[2 * c], (float)ms[2 * c + 1]);
	}
}

extern "C" void
gbn_relu_backward(float *dz, float *dgamma, float *dbeta, const float *dout, const uint8_t *idx,
                  const float *z, const float *mean, const float *rstd, const float *gamma,
                  const float *beta, double *part, int C, int B, int H, int W, int relu)
{
	size_t N = (size_t)B * H * W;
	int S = bn_splits(C, N);
	double *ms = part + (size_t)C * S * 2;
	size_t nout = idx ? (size_t)C * B * (H / 2) * (W / 2) : (size_t)C * N;

	/* z and the gradient read twice, dz written once */
	moved(2.0 * C * N + 2.0 * nout * (idx ? 1.25 : 1) + (double)C * N);

	LAUNCH_BLOCK(k_bn_bwd_sums, dim3(S, C), THREADS)(part, dout, idx, z, mean, rstd, gamma, beta, B, H, W,
	                                                            relu);
	LAUNCHED("k_bn_bwd_sums");
	LAUNCH(k_bn_bwd_stats, (C + 127) / 128, 128)(dgamma, dbeta, ms, part, C, S, N);
	LAUNCHED("k_bn_bwd_stats");
	LAUNCH(k_bn_bwd_apply, grid((size_t)C * N), THREADS)(dz, dout, idx, z, mean, rstd, gamma, beta,
	                                                         ms, C, B, H, W, relu);
	LAUNCHED("k_bn_bwd_apply");
}

/* ---------------------------------------------------------------- */
/* max pool */

__global__ static void
k_maxpool(float *out, uint8_t *idx, const float *inp, int P, int H, int W)
{
	int OH = H / 2, OW = W / 2;
	size_t Q = (size_t)OH * OW;

	FOR_EACH(i, (size_t)P * Q) {
		size_t plane = i / Q, q = i % Q;
		const float *x = inp + plane * H * W + 2 * (q / OW) * W + 2 * (q % OW);
		float v[4] = { x[0], x[1], x[W], x[W + 1] };
		int best = max4_first(v[0], v[1], v[2], v[3]);
		out[i] = v[best];
		idx[i] = (uint8_t)best;
	}
}

__global__ static void
k_maxpool_bwd(float *dinp, const float *dout, const uint8_t *idx, int P, int H, int W)
{
	int OH = H / 2, OW = W / 2;
	size_t HW = (size_t)H * W;

	FOR_EACH(i, (size_t)P * HW) {
		size_t plane = i / HW, p = i % HW;
		int y = (int)(p / W), x = (int)(p % W);
		float d = 0;
		if (y / 2 < OH && x / 2 < OW) {
			size_t j = plane * OH * OW + (size_t)(y / 2) * OW + x / 2;
			d = idx[j] == (y & 1) * 2 + (x & 1) ? dout[j] : 0;
		}
		dinp[i] = d;
	}
}

/* i runs over the (B,C) output; it reads the (C,B) indices */
__global__ static void
k_pool_offsets(int32_t *off, const uint8_t *idx, int C, int B, int H, int W)
{
	int OW = W / 2;
	size_t Q = (size_t)(H / 2) * OW;

	FOR_EACH(i, (size_t)B * C * Q) {
		size_t b = i / ((size_t)C * Q), c = i / Q % C, q = i % Q;
		int v = idx[(c * B + b) * Q + q], oy = (int)(q / OW), ox = (int)(q % OW);
		off[i] = (2 * oy + (v >> 1)) * W + 2 * ox + (v & 1);
	}
}

extern "C" void
gmaxpool_forward(float *out, uint8_t *idx, const float *inp, int P, int H, int W)
{
	moved((double)P * H * W + 1.25 * P * (H / 2) * (W / 2));
	LAUNCH(k_maxpool, grid((size_t)P * (H / 2) * (W / 2)), THREADS)(out, idx, inp, P, H, W);
	LAUNCHED("k_maxpool");
}

extern "C" void
gmaxpool_backward(float *dinp, const float *dout, const uint8_t *idx, int P, int H, int W)
{
	moved((double)P * H * W + 1.25 * P * (H / 2) * (W / 2));
	LAUNCH(k_maxpool_bwd, grid((size_t)P * H * W), THREADS)(dinp, dout, idx, P, H, W);
	LAUNCHED("k_maxpool_bwd");
}

extern "C" void
gnn_pool_offsets(int32_t *off, const uint8_t *idx, int C, int B, int H, int W)
{
	LAUNCH(k_pool_offsets, grid((size_t)C * B * (H / 2) * (W / 2)), THREADS)(off, idx, C, B, H, W);
	LAUNCHED("k_pool_offsets");
}

/* KxK windows, stride S, padding P (which never wins): the first of the
 * largest, as nn.c's maxpoolk_forward scans them */
__global__ static void
k_maxpoolk(float *out, int32_t *idx, const float *inp, int np, int H, int W, int K, int S, int P, int OH, int OW)
{
	size_t Q = (size_t)OH * OW;

	FOR_EACH(i, (size_t)np * Q) {
		size_t plane = i / Q, q = i % Q;
		int oy = (int)(q / OW), ox = (int)(q % OW), best = -1;
		const float *x = inp + plane * H * W;
		for (int ky = 0; ky < K; ky++)
			for (int kx = 0; kx < K; kx++) {
				int y = oy * S + ky - P, xx = ox * S + kx - P;
				if (y < 0 || xx < 0 || y >= H || xx >= W)
					continue;
				if (best < 0 || x[y * W + xx] > x[best])
					best = y * W + xx;
			}
		out[i] = best < 0 ? 0 : x[best];
		idx[i] = best < 0 ? 0 : best;
	}
}

/* the outputs o0..o1 along one side whose KxK windows (stride S, padding
 * P) hold input position y */
__device__ static inline void
windows_over(int y, int K, int S, int P, int *o0, int *o1)
{
	*o0 = y + P - K + 1 > 0 ? (y + P - K + 1 + S - 1) / S : 0;
	*o1 = (y + P) / S;
}

/* one thread per input: the windows that hold it, in nn.c's order of
 * outputs, so overlapping windows sum as maxpoolk_backward sums them (no
 * atomics, the same bits every run) */
__global__ static void
k_maxpoolk_bwd(float *dinp, const float *dout, const int32_t *idx, int np, int H, int W, int K, int S, int P,
               int OH, int OW)
{
	size_t HW = (size_t)H * W, Q = (size_t)OH * OW;

	FOR_EACH(i, (size_t)np * HW) {
		size_t plane = i / HW;
		int p = (int)(i % HW), y0, y1, x0, x1;
		windows_over(p / W, K, S, P, &y0, &y1);
		windows_over(p % W, K, S, P, &x0, &x1);
		float d = 0;
		for (int oy = y0; oy <= y1 && oy < OH; oy++)
			for (int ox = x0; ox <= x1 && ox < OW; ox++) {
				size_t j = plane * Q + (size_t)oy * OW + ox;
				if (idx[j] == p)
					d += dout[j];
			}
		dinp[i] = d;
	}
}

extern "C" void
gmaxpoolk_forward(float *out, int32_t *idx, const float *inp, int np, int H, int W, int K, int S, int P, int OH,
                  int OW)
{
	moved((double)np * H * W + 2.0 * np * OH * OW);
	LAUNCH(k_maxpoolk, grid((size_t)np * OH * OW), THREADS)(out, idx, inp, np, H, W, K, S, P, OH, OW);
	LAUNCHED("k_maxpoolk");
}

extern "C" void
gmaxpoolk_backward(float *dinp, const float *dout, const int32_t *idx, int np, int H, int W, int K, int S, int P,
                   int OH, int OW)
{
	moved((double)np * H * W + 2.0 * np * OH * OW);
	LAUNCH(k_maxpoolk_bwd, grid((size_t)np * H * W), THREADS)(dinp, dout, idx, np, H, W, K, S, P, OH, OW);
	LAUNCHED("k_maxpoolk_bwd");
}

/* avgpool:K:S: each window's mean over its values inside the image, in
 * nn.c's order; backward gathers each input's share of the windows that
 * hold it, in nn.c's order of outputs */
__device__ static inline void
window_in(int oy, int ox, int H, int W, int K, int S, int P, int *y0, int *y1, int *x0, int *x1)
{
	*y0 = oy * S - P;
	*x0 = ox * S - P;
	*y1 = *y0 + K < H ? *y0 + K : H;
	*x1 = *x0 + K < W ? *x0 + K : W;
	*y0 = *y0 > 0 ? *y0 : 0;
	*x0 = *x0 > 0 ? *x0 : 0;
}

__global__ static void
k_avgpoolk(float *out, const float *inp, int np, int H, int W, int K, int S, int P, int OH, int OW)
{
	size_t Q = (size_t)OH * OW;

	FOR_EACH(i, (size_t)np * Q) {
		size_t plane = i / Q, q = i % Q;
		int y0, y1, x0, x1;
		const float *x = inp + plane * H * W;
		float s = 0;
		window_in((int)(q / OW), (int)(q % OW), H, W, K, S, P, &y0, &y1, &x0, &x1);
		for (int y = y0; y < y1; y++)
			for (int xx = x0; xx < x1; xx++)
				s += x[y * W + xx];
		int cnt = (y1 - y0) * (x1 - x0);
		out[i] = cnt > 0 ? s / cnt : 0;
	}
}

__global__ static void
k_avgpoolk_bwd(float *dinp, const float *dout, int np, int H, int W, int K, int S, int P, int OH, int OW)
{
	size_t HW = (size_t)H * W, Q = (size_t)OH * OW;

	FOR_EACH(i, (size_t)np * HW) {
		size_t plane = i / HW;
		int p = (int)(i % HW), oy0, oy1, ox0, ox1;
		windows_over(p / W, K, S, P, &oy0, &oy1);
		windows_over(p % W, K, S, P, &ox0, &ox1);
		float d = 0;
		for (int oy = oy0; oy <= oy1 && oy < OH; oy++)
			for (int ox = ox0; ox <= ox1 && ox < OW; ox++) {
				int y0, y1, x0, x1;
				window_in(oy, ox, H, W, K, S, P, &y0, &y1, &x0, &x1);
				int cnt = (y1 - y0) * (x1 - x0);
				d += cnt > 0 ? dout[plane * Q + (size_t)oy * OW + ox] / cnt : 0;
			}
		dinp[i] = d;
	}
}

extern "C" void
gavgpoolk_forward(float *out, const float *inp, int np, int H, int W, int K, int S, int P, int OH, int OW)
{
	moved((double)np * H * W + (double)np * OH * OW);
	LAUNCH(k_avgpoolk, grid((size_t)np * OH * OW), THREADS)(out, inp, np, H, W, K, S, P, OH, OW);
	LAUNCHED("k_avgpoolk");
}

extern "C" void
gavgpoolk_backward(float *dinp, const float *dout, int np, int H, int W, int K, int S, int P, int OH, int OW)
{
	moved((double)np * H * W + (double)np * OH * OW);
	LAUNCH(k_avgpoolk_bwd, grid((size_t)np * H * W), THREADS)(dinp, dout, np, H, W, K, S, P, OH, OW);
	LAUNCHED("k_avgpoolk_bwd");
}

/* ---------------------------------------------------------------- */
/* residual: the add's forward, a gradient's sum */

__global__ static void
k_add_relu(float *out, const float *a, const float *b, size_t n)
{
	FOR_EACH(i, n) {
		float s = a[i] + b[i];
		out[i] = s > 0 ? s : 0;
	}
}

__global__ static void
k_add(float *y, const float *x, size_t n)
{
	FOR_EACH(i, n)
		y[i] += x[i];
}

extern "C" void
gadd_relu(float *out, const float *a, const float *b, size_t n)
{
	moved(3.0 * n);
	LAUNCH(k_add_relu, grid(n), THREADS)(out, a, b, n);
	LAUNCHED("k_add_relu");
}

extern "C" void
gnn_add(float *y, const float *x, size_t n)
{
	moved(3.0 * n);
	LAUNCH(k_add, grid(n), THREADS)(y, x, n);
	LAUNCHED("k_add");
}

/* ---------------------------------------------------------------- */
/* dense, ReLU, dropout, fusion */

__global__ static void
k_fill_rows(float *z, const float *bias, int B, int OUT)
{
	FOR_EACH(i, (size_t)B * OUT)
		z[i] = bias[i % OUT];
}

__global__ static void
k_relu(float *a, const float *z, size_t n)
{
	FOR_EACH(i, n)
		a[i] = z[i] > 0 ? z[i] : 0;
}

__global__ static void
k_relu_bwd(float *dinp, const float *dout, const float *out, size_t n)
{
	FOR_EACH(i, n)
		dinp[i] = out[i] > 0 ? dout[i] : 0;
}

/* in nn.c's order: bias[o] += dout[0][o], then dout[1][o], ... */
__global__ static void
k_colsum_add(float *dbias, const float *dout, int B, int OUT)
{
	FOR_EACH(o, (size_t)OUT) {
		float s = dbias[o];
		for (int b = 0; b < B; b++)
			s += dout[(size_t)b * OUT + o];
		dbias[o] = s;
	}
}

extern "C" void
gdense_forward(float *z, float *a, const float *inp, const float *weight, const float *bias, int B,
               int IN, int OUT)
{
	size_t n = (size_t)B * OUT;

	moved((double)n);
	LAUNCH(k_fill_rows, grid(n), THREADS)(z, bias, B, OUT);
	LAUNCHED("k_fill_rows");
	gsgemm(0, 1, B, OUT, IN, 1, inp, IN, weight, IN, 1, z, OUT);
	if (a) {
		moved(2.0 * n);
		LAUNCH(k_relu, grid(n), THREADS)(a, z, n);
		LAUNCHED("k_relu");
	}
}

extern "C" void
gdense_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                const float *weight, int B, int IN, int OUT)
{
	if (dbias) {
		moved((double)B * OUT);
		LAUNCH(k_colsum_add, grid(OUT), THREADS)(dbias, dout, B, OUT);
		LAUNCHED("k_colsum_add");
	}
	if (dweight)
		gsgemm(1, 0, OUT, IN, B, 1, dout, OUT, inp, IN, 1, dweight, IN);
	if (dinp)
		gsgemm(0, 0, B, IN, OUT, 1, dout, OUT, weight, IN, 0, dinp, IN);
}

extern "C" void
grelu_backward(float *dinp, const float *dout, const float *out, size_t n)
{
	moved(3.0 * n);
	LAUNCH(k_relu_bwd, grid(n), THREADS)(dinp, dout, out, n);
	LAUNCHED("k_relu_bwd");
}

__global__ static void
k_dropout(float *out, const float *inp, const float *mask, int C, int B, int HW)
{
	size_t plane = (size_t)B * HW;

	FOR_EACH(i, (size_t)C * plane) {
		size_t c = i / plane, b = i % plane / HW, p = i % HW;
		out[i] = inp[i] * mask[(b * C + c) * HW + p];
	}
}

extern "C" void
gdropout(float *out, const float *inp, const float *mask, int C, int B, int HW)
{
	moved(3.0 * C * B * HW);
	LAUNCH(k_dropout, grid((size_t)C * B * HW), THREADS)(out, inp, mask, C, B, HW);
	LAUNCHED("k_dropout");
}

__global__ static void
k_fuse(float *fused, const float *img, const float *clin, int C, int B, int HW, int K)
{
	size_t F = (size_t)C * HW, row = F + K;

	FOR_EACH(i, (size_t)B * row) {
		size_t b = i / row, f = i % row;
		fused[i] = f < F ? img[((f / HW) * B + b) * HW + f % HW] : clin[b * K + (f - F)];
	}
}

__global__ static void
k_unfuse(float *dimg, const float *dfused, int C, int B, int HW, int K)
{
	size_t plane = (size_t)B * HW, row = (size_t)C * HW + K;

	FOR_EACH(i, (size_t)C * plane) {
		size_t c = i / plane, b = i % plane / HW, p = i % HW;
		dimg[i] = dfused[b * row + c * HW + p];
	}
}

extern "C" void
gfuse_forward(float *fused, const float *img, const float *clin, int C, int B, int HW, int K)
{
	moved(2.0 * B * ((double)C * HW + K));
	LAUNCH(k_fuse, grid((size_t)B * ((size_t)C * HW + K)), THREADS)(fused, img, clin, C, B, HW, K);
	LAUNCHED("k_fuse");
}

extern "C" void
gfuse_backward(float *dimg, const float *dfused, int C, int B, int HW, int K)
{
	moved(2.0 * C * B * HW);
	LAUNCH(k_unfuse, grid((size_t)C * B * HW), THREADS)(dimg, dfused, C, B, HW, K);
	LAUNCHED("k_unfuse");
}

__global__ static void
k_fuse_clin(float *dclin, const float *dfused, int F, int B, int K)
{
	FOR_EACH(i, (size_t)B * K)
		dclin[i] = dfused[i / K * ((size_t)F + K) + F + i % K];
}

__global__ static void
k_fuse_hide(float *fused, const float *keep, int F, int B, int K)
{
	FOR_EACH(i, (size_t)B * K)
		if (!keep[i / K])
			fused[i / K * ((size_t)F + K) + F + i % K] = 0;
}

extern "C" void
gfuse_hide(float *fused, const float *keep, int F, int B, int K)
{
	moved((double)B * K + B);
	LAUNCH(k_fuse_hide, grid((size_t)B * K), THREADS)(fused, keep, F, B, K);
	LAUNCHED("k_fuse_hide");
}

extern "C" void
gfuse_clin_backward(float *dclin, const float *dfused, int F, int B, int K)
{
	moved(2.0 * B * K);
	LAUNCH(k_fuse_clin, grid((size_t)B * K), THREADS)(dclin, dfused, F, B, K);
	LAUNCHED("k_fuse_clin");
}

/* ---------------------------------------------------------------- */
/* global average pooling: a thread per plane, summed in net.c's order */

__global__ static void
k_gap(float *out, const float *inp, int n, int P)
{
	FOR_EACH(i, (size_t)n) {
		float s = 0;
		for (int p = 0; p < P; p++)
			s += inp[i * P + p];
		out[i] = s / (float)P;
	}
}

__global__ static void
k_gap_backward(float *dinp, const float *dout, int n, int P)
{
	FOR_EACH(i, (size_t)n * P)
		dinp[i] = dout[i / P] / (float)P;
}

extern "C" void
ggap_forward(float *out, const float *inp, int n, int P)
{
	moved((double)n * P + n);
	LAUNCH(k_gap, grid(n), THREADS)(out, inp, n, P);
	LAUNCHED("k_gap");
}

extern "C" void
ggap_backward(float *dinp, const float *dout, int n, int P)
{
	moved((double)n * P + n);
	LAUNCH(k_gap_backward, grid((size_t)n * P), THREADS)(dinp, dout, n, P);
	LAUNCHED("k_gap_backward");
}

/* ---------------------------------------------------------------- */
/* softmax, loss, Adam */

__global__ static void
k_softmax(float *probs, const float *logits, int B, int K)
{
	FOR_EACH(b, (size_t)B)
		softmax_row(probs + b * K, logits + b * K, K);
}

extern "C" void
gsoftmax(float *probs, const float *logits, int B, int K)
{
	LAUNCH(k_softmax, grid(B), THREADS)(probs, logits, B, K);
	LAUNCHED("k_softmax");
}

/* one block: the batch's weighted mean loss and weight sum */
__global__ static void
k_xent(float *loss, double *wsum, const float *logits, const int32_t *labels, const float *weights,
       int B, int K)
{
	double l = 0, ws = 0;

	for (int b = threadIdx.x; b < B; b += THREADS) {
		double w = weights ? weights[labels[b]] : 1;
		l += w * xent_row(logits + (size_t)b * K, labels[b], K);
		ws += w;
	}
	block_sum2(l, ws);
	if (threadIdx.x == 0) {
		*loss = ws > 0 ? (float)(l / ws) : 0;
		*wsum = ws;
	}
}

extern "C" void
gxent_forward(float *loss, double *wsum, const float *logits, const int32_t *labels,
              const float *weights, int B, int K)
{
	LAUNCH_BLOCK(k_xent, 1, THREADS)(loss, wsum, logits, labels, weights, B, K);
	LAUNCHED("k_xent");
}

__global__ static void
k_xent_bwd(float *dlogits, const float *probs, const int32_t *labels, const float *weights,
           const double *wsum, int B, int K)
{
	FOR_EACH(i, (size_t)B * K) {
		int b = (int)(i / K), k = (int)(i % K), y = labels[b];
		float w = (float)((weights ? weights[y] : 1) / *wsum);
		dlogits[i] = w * (probs[i] - (k == y));
	}
}

extern "C" void
gxent_backward(float *dlogits, const float *probs, const int32_t *labels, const float *weights,
               const double *wsum, int B, int K)
{
	LAUNCH(k_xent_bwd, grid((size_t)B * K), THREADS)(dlogits, probs, labels, weights, wsum, B, K);
	LAUNCHED("k_xent_bwd");
}

__global__ static void
k_adam(float *param, const float *grad, float *m, float *v, size_t n, float lr, float beta1,
       float beta2, float eps, float wd, float c1, float c2)
{
	FOR_EACH(i, n)
		adam_one(&param[i], grad[i], &m[i], &v[i], lr, beta1, beta2, eps, wd, c1, c2);
}

extern "C" void
gadam(float *param, const float *grad, float *m, float *v, size_t n, float lr, float beta1,
      float beta2, float eps, float weight_decay, int t)
{
	/* the bias corrections on the host, with nn.c's powf */
	float c1 = 1 - powf(beta1, (float)t), c2 = 1 - powf(beta2, (float)t);

	moved(7.0 * n);
	LAUNCH(k_adam, grid(n), THREADS)(param, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, c1, c2);
	LAUNCHED("k_adam");
}
