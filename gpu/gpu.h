/*
 * gpu.h - what the CUDA backend offers the programs.  Built from the .cu files here
 * when nvcc is found; without it, gpu/nogpu.c gives the same functions
 * answering "no device", so no program needs an #ifdef.
 */
#ifndef OSTEO_GPU_H
#define OSTEO_GPU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gpu_info {
	char name[256];
	int major, minor;       /* compute capability */
	size_t memory;          /* bytes */
	int multiprocessors;
	int cublas_version;
	double bandwidth;       /* peak memory bandwidth, bytes/s */
};

/* 1 when the backend was compiled in */
int gpu_compiled(void);
/* the number of usable devices; 0 with *why set when there are none */
int gpu_count(const char **why);
/* 0, or -1 with *why set */
int gpu_query(int dev, struct gpu_info *info, const char **why);

/*
 * The network of engine/spec/net.h on a device (gpu/net.cu); engine/engine.h is
 * what programs call, and it calls these.  A gnet keeps the weights, Adam's
 * moments, the running statistics and a batch's activations on the device
 * from gnet_open to gnet_close; the host net's arrays are read at open and
 * written by gnet_pull.  Datasets are uploaded once when they fit (half of
 * the free memory), or else staged a batch at a time through pinned host
 * buffers, the next batch's copy overlapping the current batch's compute.
 */
struct net;
struct rng;
struct gnet;
/* keep: store every layer's activations (no conv+pool fusion) so
 * gnet_fetch can hand them to the host, for heat maps and feature maps */
struct gnet *gnet_open(struct net *n, int dev, int tf32, int maxb, int keep);
void gnet_close(struct gnet *g);
/* x (N,C,H,W), clin (N,K), y (N) or NULL, all kept by the caller; returns
 * the set's number.  resident 0 always stages from the host (a buffer
 * the caller refills each batch). */
int gnet_dataset(struct gnet *g, const float *x, const float *clin, const int32_t *y, int n, int resident);
/* the next batch: rows[0..b) of a set (rows NULL: 0..b-1) */
void gnet_stage(struct gnet *g, int set, const int *rows, int b);
/* forward the batch staged last; its labels (for sets with labels) */
void gnet_forward(struct gnet *g, int train, struct rng *rng);
const int32_t *gnet_labels(struct gnet *g);
float gnet_loss(struct gnet *g, const float *weights);
/* zero the gradients and back-propagate the loss of gnet_loss */
void gnet_backward(struct gnet *g, const float *weights);
void gnet_adam(struct gnet *g, float lr, float beta1, float beta2, float eps, float wd, int t);
/* the last forward's probabilities (b, nclasses), on the host */
const float *gnet_probs(struct gnet *g);
/* its activations into the host net (net_reserve'd for the batch) */
void gnet_fetch(struct gnet *g);
/* the weights, moments and running statistics into the host net */
void gnet_pull(struct gnet *g);

#ifdef __cplusplus
}
#endif
#endif
