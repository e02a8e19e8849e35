/*
 * cuda_runtime.h - a stand-in for the CUDA runtime that runs the .cu files of gpu/ on
 * the CPU, so the kernels' index arithmetic, the network's buffer plumbing
 * and the tests of tests/gpu are exercised on machines without a GPU (as CI
 * is).  It is a test harness, not a backend: "device" memory is host
 * memory, copies happen at once, streams and events are no-ops, so it
 * cannot find races, host/device pointer mix-ups or launch limits; the
 * real device runs the same tests where one is present.
 *
 * A kernel launched with LAUNCH runs its threads one after another, first
 * to last, or last to first when EMU_REVERSE is set in the environment:
 * a kernel whose threads read what other threads of the launch write gives
 * different answers in the two orders, which the tests then see.  One
 * launched with LAUNCH_BLOCK (its threads meet at __syncthreads) runs each
 * block's threads as real threads at a barrier.  __shared__ is static:
 * blocks run one at a time.
 */
#ifndef EMU_CUDA_RUNTIME_H
#define EMU_CUDA_RUNTIME_H

#include <barrier>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __shared__ static

struct dim3 {
	unsigned x, y, z;
	dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};

inline thread_local dim3 blockIdx, threadIdx, blockDim, gridDim;
inline thread_local std::barrier<> *emu_barrier;

inline void
__syncthreads()
{
	emu_barrier->arrive_and_wait();
}

template <typename... P>
struct emu_launch {
	dim3 g, t;
	bool cooperative;
	void (*k)(P...);

	template <typename... A>
	void operator()(A... a) const
	{
		static const bool reverse = getenv("EMU_REVERSE") != nullptr;

		for (unsigned by = 0; by < g.y; by++)
			for (unsigned bx = 0; bx < g.x; bx++) {
				if (!cooperative) {
					gridDim = g;
					blockDim = t;
					blockIdx = dim3(reverse ? g.x - 1 - bx : bx, reverse ? g.y - 1 - by : by);
					for (unsigned tx = 0; tx < t.x; tx++) {
						threadIdx = dim3(reverse ? t.x - 1 - tx : tx);
						k(a...);
					}
					continue;
				}
				std::barrier<> bar((std::ptrdiff_t)t.x);
				std::vector<std::thread> th;
				for (unsigned tx = 0; tx < t.x; tx++)
					th.emplace_back([&, tx, bx, by] {
						gridDim = g;
						blockDim = t;
						blockIdx = dim3(bx, by);
						threadIdx = dim3(tx);
						emu_barrier = &bar;
						k(a...);
					});
				for (auto &x : th)
					x.join();
			}
	}
};

template <typename... P>
emu_launch<P...>
emu_kernel(void (*k)(P...), dim3 g, dim3 t, bool cooperative)
{
	return emu_launch<P...>{ g, t, cooperative, k };
}

#define LAUNCH(k, blocks, threads) emu_kernel(k, dim3(blocks), dim3(threads), false)
#define LAUNCH_BLOCK(k, blocks, threads) emu_kernel(k, dim3(blocks), dim3(threads), true)

/* the stand-in's device has 4 GiB */
#define EMU_MEMORY ((size_t)1 << 32)

enum cudaError_t { cudaSuccess = 0, cudaErrorMemoryAllocation = 2 };
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
typedef struct emu_stream *cudaStream_t;
typedef struct emu_event *cudaEvent_t;
#define cudaStreamNonBlocking 1
#define cudaEventDisableTiming 2

struct cudaDeviceProp {
	char name[256];
	int major, minor, multiProcessorCount;
	size_t totalGlobalMem;
};

inline const char *cudaGetErrorString(cudaError_t e) { return e ? "out of memory" : "no error"; }
inline cudaError_t cudaGetLastError(void) { return cudaSuccess; }
inline cudaError_t cudaGetDeviceCount(int *n) { *n = 1; return cudaSuccess; }
inline cudaError_t
cudaGetDeviceProperties(cudaDeviceProp *p, int dev)
{
	memset(p, 0, sizeof *p);
	strcpy(p->name, "emulated on the CPU (tests/gpu/emu)");
	p->major = 9;
	p->multiProcessorCount = 1;
	p->totalGlobalMem = EMU_MEMORY;
	return cudaSuccess;
}
enum cudaDeviceAttr { cudaDevAttrMemoryClockRate = 36, cudaDevAttrGlobalMemoryBusWidth = 37 };
inline cudaError_t cudaDeviceGetAttribute(int *v, cudaDeviceAttr a, int) { *v = a == cudaDevAttrMemoryClockRate ? 1000000 : 64; return cudaSuccess; }
inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned) { *s = nullptr; return cudaSuccess; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned) { return cudaSuccess; }
inline cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned) { *e = nullptr; return cudaSuccess; }
inline cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
inline cudaError_t cudaMemGetInfo(size_t *fr, size_t *total) { *fr = *total = EMU_MEMORY; return cudaSuccess; }
inline cudaError_t
cudaMalloc(void **p, size_t n)
{
	/* garbage, as on a device, so a kernel that reads what nothing wrote
	 * is likely to show */
	*p = n <= EMU_MEMORY ? malloc(n) : nullptr;
	if (*p)
		memset(*p, 0xa5, n);
	return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
inline cudaError_t cudaMallocHost(void **p, size_t n) { return cudaMalloc(p, n); }
inline cudaError_t cudaFree(void *p) { free(p); return cudaSuccess; }
inline cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, cudaMemcpyKind, cudaStream_t) { memmove(d, s, n); return cudaSuccess; }
inline cudaError_t cudaMemsetAsync(void *p, int v, size_t n, cudaStream_t) { memset(p, v, n); return cudaSuccess; }

#endif
