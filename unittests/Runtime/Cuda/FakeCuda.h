/*===- FakeCuda.h - a fake CUDA driver for the runtime's tests ----*- C -*-===*\
|*                                                                            *|
|* FakeCuda.c builds a shared library exporting the driver functions the      *|
|* lowbit CUDA runtime resolves. "Device memory" is host memory, kernels do   *|
|* nothing, and every object is counted so that tests can check the runtime's *|
|* bookkeeping. A module's device globals are found in its image (a `.global` *|
|* declaration of PTX, the symbol table of a cubin or of the uncompressed     *|
|* cubins of a fatbin) and start zero-filled. cuEventElapsedTime reports 0.5  *|
|* ms per kernel launched between the two events. Environment:                *|
|* FAKE_CUDA_DEVICES=N (default 1; 0 makes cuInit fail with                   *|
|* CUDA_ERROR_NO_DEVICE), FAKE_CUDA_TRACE=1 (one line per call on stderr, for *|
|* lit tests), FAKE_CUDA_NO_POOLS=1 (no stream-ordered allocator).            *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef LOWBIT_UNITTESTS_RUNTIME_CUDA_FAKECUDA_H
#define LOWBIT_UNITTESTS_RUNTIME_CUDA_FAKECUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fake_cuda_counters {
  int64_t inits;              /* cuInit calls */
  int64_t live_allocations;   /* cuMemAlloc(Async) minus cuMemFree(Async) */
  int64_t async_allocations;  /* of which cuMemAllocAsync */
  int64_t pool_threshold_set; /* cuMemPoolSetAttribute(release threshold) */
  int64_t live_modules;       /* loaded minus unloaded */
  int64_t modules_loaded;     /* cuModuleLoadData(Ex) successes */
  int64_t jit_loads;          /* of which cuModuleLoadDataEx */
  int64_t live_streams;
  int64_t live_events;
  int64_t context_depth; /* pushes minus pops */
  int64_t launches;
  int64_t bytes_copied;
  int64_t synchronizations; /* cuStreamSynchronize + cuEventSynchronize */
  int64_t global_lookups;   /* cuModuleGetGlobal calls that found one */
  int64_t uploads;          /* cuMemcpyHtoD calls */
  int64_t bytes_uploaded;
  unsigned last_grid[3];
  unsigned last_block[3];
  char last_kernel[64];
} fake_cuda_counters;

/* Makes every later call of the exported function `symbol` (e.g.
 * "cuMemAlloc_v2") return `code`; NULL clears. */
void fake_cuda_fail(const char *symbol, int code);

/* A snapshot of the counters. */
void fake_cuda_get_counters(fake_cuda_counters *out);

/* The "device memory" (host memory, freed when its module is unloaded) of
 * the device global `name` of the most recently loaded live module loaded
 * from `image` (any module when NULL) that looked it up
 * (cuModuleGetGlobal), with its size in *bytes; NULL when there is none. */
unsigned char *fake_cuda_global(const void *image, const char *name,
                                size_t *bytes);

#ifdef __cplusplus
}
#endif

#endif /* LOWBIT_UNITTESTS_RUNTIME_CUDA_FAKECUDA_H */
