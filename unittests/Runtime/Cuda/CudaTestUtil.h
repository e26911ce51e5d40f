//===- CudaTestUtil.h - helpers for the CUDA runtime's tests ----*- C++ -*-===//
//
// Each test executable chooses its driver (none, the fake, the fake without
// a device, an incomplete fake) through $LOWBIT_CUDA_DRIVER and
// $FAKE_CUDA_DEVICES before main, since the runtime loads the driver once
// per process.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_UNITTESTS_RUNTIME_CUDA_CUDATESTUTIL_H
#define LOWBIT_UNITTESTS_RUNTIME_CUDA_CUDATESTUTIL_H

#include "lowbit/Runtime/lowbit_cuda.h"

#include <cstdlib>
#include <string>

namespace lowbit::cuda::test {

/// Sets an environment variable at static-initialization time.
inline bool setEnvironment(const char *name, const char *value) {
  return ::setenv(name, value, /*overwrite=*/1) == 0;
}

inline std::string lastError() { return lowbit_cuda_last_error(); }

/// Calls every mgpu* entry point that does work, as generated code would,
/// and releases what it got. Nothing may crash whatever the driver state.
inline void callEverything() {
  static const char image[] = "\x7f"
                              "ELF fake cubin";
  void *stream = mgpuStreamCreate();
  void *event = mgpuEventCreate();
  void *module = mgpuModuleLoad(const_cast<char *>(image), sizeof(image));
  void *function = mgpuModuleGetFunction(module, "kernel");
  void *device = mgpuMemAlloc(64, stream, false);
  float host[16] = {0};
  mgpuMemcpy(device, host, sizeof(host), stream);
  mgpuMemset32(device, 7, 16, stream);
  mgpuMemset16(device, 7, 32, stream);
  void *params[] = {&device};
  mgpuLaunchKernel(function, 1, 1, 1, 32, 1, 1, 0, stream, params, nullptr, 1);
  mgpuEventRecord(event, stream);
  mgpuStreamWaitEvent(stream, event);
  mgpuEventSynchronize(event);
  mgpuMemcpy(host, device, sizeof(host), stream);
  mgpuStreamSynchronize(stream);
  mgpuMemFree(device, stream);
  mgpuEventDestroy(event);
  mgpuStreamDestroy(stream);
  mgpuModuleUnload(module);
}

} // namespace lowbit::cuda::test

#endif // LOWBIT_UNITTESTS_RUNTIME_CUDA_CUDATESTUTIL_H
