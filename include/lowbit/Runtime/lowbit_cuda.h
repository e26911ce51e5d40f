/*===- lowbit/Runtime/lowbit_cuda.h - The lowbit CUDA runtime -----*- C -*-===*\
|*                                                                            *|
|* liblowbit_cuda_runtime.so runs the code `lowbit-compile --target=cuda`     *|
|* writes. It loads the CUDA driver (libcuda.so.1, or $LOWBIT_CUDA_DRIVER)    *|
|* with dlopen the first time it is needed: it has no link-time dependency    *|
|* on CUDA, and loads (and fails cleanly) on machines without a driver or a   *|
|* GPU. It computes on device 0, or on $LOWBIT_CUDA_DEVICE.                   *|
|*                                                                            *|
|* Errors never print or abort: they are recorded as a message in a           *|
|* thread-local slot, naming the failing driver call and its CUDA error name  *|
|* ("cuMemAlloc failed with CUDA_ERROR_OUT_OF_MEMORY: out of memory (...)").  *|
|* Without a driver the message is "no CUDA driver (libcuda.so.1 not found)", *|
|* without a device it starts with "no CUDA device". docs/CudaRuntime.md      *|
|* describes the design.                                                      *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef LOWBIT_RUNTIME_LOWBIT_CUDA_H
#define LOWBIT_RUNTIME_LOWBIT_CUDA_H

#include <stddef.h>
#include <stdint.h>
#ifndef __cplusplus
#include <stdbool.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* What lowbit_cuda_device_info reports about the device in use. */
typedef struct lowbit_cuda_device {
  int32_t ordinal;       /* the device's ordinal */
  int32_t compute_major; /* compute capability, e.g. 9 and 0 for sm_90 */
  int32_t compute_minor;
  int32_t multiprocessors; /* streaming multiprocessors */
  int32_t driver_version;  /* cuDriverGetVersion, e.g. 13000 */
  int64_t total_memory;    /* bytes */
  char name[256];          /* e.g. "NVIDIA H100 80GB HBM3" */
} lowbit_cuda_device;

/* 1 when the driver loads and the device initializes, else 0 with the
 * reason in lowbit_cuda_last_error(). The first attempt's outcome holds for
 * the life of the process. */
int lowbit_cuda_available(void);

/* Fills *out for the device in use. Returns 0, or -1 with the reason in
 * lowbit_cuda_last_error() (no driver, no device, out == NULL). */
int lowbit_cuda_device_info(lowbit_cuda_device *out);

/* The calling thread's recorded error, "" when there is none. lowbit_cuda_*
 * calls clear it when they succeed; the mgpu* calls below keep the first
 * error until it is cleared. Valid until the next call into this runtime on
 * the thread. */
const char *lowbit_cuda_last_error(void);

/* Forgets the calling thread's recorded error. */
void lowbit_cuda_clear_error(void);

/* Benchmarks: while enabled on the calling thread, every kernel launch is
 * bracketed by CUDA events on its stream, and lowbit_cuda_end_call measures
 * the GPU time from the first kernel's start to the last kernel's end of
 * the call (host copies before the first and after the last kernel are
 * not included). Enabling or disabling forgets the last timed call.
 * Returns 0. */
int lowbit_cuda_set_kernel_timing(int enabled);

/* The last timed entry-point call of the thread: milliseconds and number of
 * kernels launched (either pointer may be NULL; a call without kernels is
 * timed as 0 ms). Returns 0, or -1 with the reason in
 * lowbit_cuda_last_error() when timing is not enabled, no call was timed
 * since it was enabled, or the last timed call failed. */
int lowbit_cuda_last_kernel_time(double *milliseconds, int64_t *kernels);

/*===--------------------------------------------------------------------===*\
|* For generated code                                                       *|
\*===--------------------------------------------------------------------===*/

/* A compiled entry point calls lowbit_cuda_begin_call() once it has checked
 * its buffers (it clears the thread's error), then its device code (the
 * mgpu* calls below), then lowbit_cuda_end_call(entry): NULL when every
 * call succeeded, else "<entry>: <the first error>" in a thread-local
 * buffer that stays valid until the next lowbit_cuda_end_call on the
 * thread; the thread's error is cleared then. */
void lowbit_cuda_begin_call(void);
const char *lowbit_cuda_end_call(const char *entry);

/* Device globals whose contents live outside the kernels' binaries (the
 * weights of `--weights=external` artifacts). Registers the `bytes` bytes at
 * `host` as the contents of the device global `symbol` in the kernels of the
 * artifact that contains `anchor` (any address of the artifact's code or
 * data: artifacts are told apart by the shared object they lie in, dladdr).
 * Each module of that artifact that defines `symbol` receives the bytes when
 * it is loaded (its first launch), or at once when it is loaded already;
 * binding again replaces the bytes (not while a call of the artifact runs).
 * `host` must stay valid while the artifact is loaded; its bindings are
 * forgotten when its last module is unloaded (dlclose). Returns NULL, or
 * the error message (also left in lowbit_cuda_last_error()): a NULL symbol
 * or host pointer, a device global of another size, a failed upload. A
 * module that cannot receive its bindings when it is loaded is unloaded
 * again and its call fails. Needs no driver until a module is loaded. */
const char *lowbit_cuda_bind_global(const void *anchor, const char *symbol,
                                    const void *host, size_t bytes);

/* The functions MLIR's gpu-to-llvm lowering and the GPU dialect's LLVM IR
 * translation call (MLIR 22 signatures). Handles are opaque pointers. A
 * call made while the thread has a recorded error does nothing and returns
 * NULL; releases (unload, destroy, free) and synchronizations always run.
 * mgpuModuleLoad does not touch the driver: the module is loaded on first
 * use by mgpuModuleGetFunction, on the calling thread, so that loading an
 * artifact never needs a GPU and load errors reach the entry point. */
void *mgpuModuleLoad(void *data, size_t size);
void *mgpuModuleLoadJIT(void *data, int32_t opt_level);
void mgpuModuleUnload(void *module);
void *mgpuModuleGetFunction(void *module, const char *name);
void mgpuLaunchKernel(void *function, intptr_t grid_x, intptr_t grid_y,
                      intptr_t grid_z, intptr_t block_x, intptr_t block_y,
                      intptr_t block_z, int32_t shared_bytes, void *stream,
                      void **params, void **extra, size_t param_count);
void *mgpuStreamCreate(void);
void mgpuStreamDestroy(void *stream);
void mgpuStreamSynchronize(void *stream);
void mgpuStreamWaitEvent(void *stream, void *event);
void *mgpuEventCreate(void);
void mgpuEventDestroy(void *event);
void mgpuEventSynchronize(void *event);
void mgpuEventRecord(void *event, void *stream);
void *mgpuMemAlloc(uint64_t size, void *stream, bool host_shared);
void mgpuMemFree(void *pointer, void *stream);
void mgpuMemcpy(void *dst, void *src, size_t size, void *stream);
void mgpuMemset16(void *dst, unsigned short value, size_t count, void *stream);
void mgpuMemset32(void *dst, unsigned int value, size_t count, void *stream);
void mgpuSetDefaultDevice(int32_t device);
/* Not supported (recorded as an error): host registration. */
void mgpuMemHostRegisterMemRef(int64_t rank, void *descriptor,
                               int64_t element_size);
void mgpuMemHostUnregisterMemRef(int64_t rank, void *descriptor,
                                 int64_t element_size);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* LOWBIT_RUNTIME_LOWBIT_CUDA_H */
