/*
 * nogpu.c - the CUDA backend's functions for a build without nvcc
 * (make GPU=0): every answer is "no device", so device_select() never
 * picks one and the gnet_* functions are never reached.
 */
#include "gpu.h"
#include "common/base/util.h"

#define NO_GPU "built without the CUDA backend (GPU=0, or no nvcc)"

int
gpu_compiled(void)
{
	return 0;
}

int
gpu_count(const char **why)
{
	*why = NO_GPU;
	return 0;
}

int
gpu_query(int dev, struct gpu_info *info, const char **why)
{
	(void)dev;
	(void)info;
	*why = NO_GPU;
	return -1;
}

static void __attribute__((noreturn))
unreachable(const char *fn)
{
	die(EX_SOFTWARE, "%s: %s", fn, NO_GPU);
}

struct gnet *gnet_open(struct net *n, int dev, int tf32, int maxb, int keep) { unreachable(__func__); }
void gnet_close(struct gnet *g) { unreachable(__func__); }
int gnet_dataset(struct gnet *g, const float *x, const float *clin, const int32_t *y, int n, int resident) { unreachable(__func__); }
void gnet_stage(struct gnet *g, int set, const int *rows, int b) { unreachable(__func__); }
void gnet_forward(struct gnet *g, int train, struct rng *rng) { unreachable(__func__); }
const int32_t *gnet_labels(struct gnet *g) { unreachable(__func__); }
float gnet_loss(struct gnet *g, const float *weights) { unreachable(__func__); }
void gnet_backward(struct gnet *g, const float *weights) { unreachable(__func__); }
void gnet_adam(struct gnet *g, float lr, float beta1, float beta2, float eps, float wd, int t) { unreachable(__func__); }
const float *gnet_probs(struct gnet *g) { unreachable(__func__); }
void gnet_fetch(struct gnet *g) { unreachable(__func__); }
void gnet_pull(struct gnet *g) { unreachable(__func__); }
