//===- Modules.cpp - kernels: loading modules and launching ---------------===//
//
// The GPU dialect's LLVM IR translation loads each embedded binary from a
// global constructor (mgpuModuleLoad at dlopen time) and looks the kernel
// up before every launch (mgpuModuleGetFunction). Loading at dlopen time
// would need a GPU to load an artifact and would lose the error, so
// mgpuModuleLoad only records where the binary is; the driver loads it on
// the first lookup, on the thread of the call that needs it, and uploads
// the device globals bound to the artifact into it (Globals.cpp).
//
//===----------------------------------------------------------------------===//

#include "Modules.h"
#include "Driver.h"
#include "Errors.h"
#include "Timing.h"
#include "lowbit/Runtime/lowbit_cuda.h"

#include <climits>
#include <new>

using namespace lowbit::cuda;

namespace {

/// "device 0 is sm_86": helps when a binary is for another GPU.
std::string architecture(const Driver &d, const Device &device) {
  int major = 0, minor = 0;
  if (d.api.deviceGetAttribute(&major,
                               CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                               device.handle) != CUDA_SUCCESS ||
      d.api.deviceGetAttribute(&minor,
                               CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                               device.handle) != CUDA_SUCCESS)
    return "the device's architecture is unknown";
  return "device " + std::to_string(device.ordinal) + " is sm_" +
         std::to_string(major) + std::to_string(minor);
}

/// Loads the module of `lazy` if needed; false with an error recorded.
bool ensureLoaded(LazyModule &lazy, const Driver &d, const Device &device) {
  std::lock_guard<std::mutex> lock(lazy.mutex);
  if (lazy.module)
    return true;
  ScopedContext context(d, device);
  if (!context.ok())
    return false;
  CUmodule module = nullptr;
  if (lazy.jitLevel < 0) {
    CUresult result = d.api.moduleLoadData(&module, lazy.data);
    if (result != CUDA_SUCCESS) {
      check(d, result, "cuModuleLoadData",
            "loading the artifact's kernels; " + architecture(d, device));
      return false;
    }
  } else {
    // PTX: the driver compiles it; its log says what went wrong.
    char log[1024] = {0};
    CUjit_option options[] = {CU_JIT_OPTIMIZATION_LEVEL,
                              CU_JIT_ERROR_LOG_BUFFER,
                              CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void *values[] = {reinterpret_cast<void *>(intptr_t(lazy.jitLevel)), log,
                      reinterpret_cast<void *>(sizeof(log) - 1)};
    CUresult result =
        d.api.moduleLoadDataEx(&module, lazy.data, 3, options, values);
    if (result != CUDA_SUCCESS) {
      std::string what =
          "compiling the artifact's PTX; " + architecture(d, device);
      if (log[0])
        what += "; " + std::string(log);
      check(d, result, "cuModuleLoadDataEx", what);
      return false;
    }
  }
  if (!uploadBindings(lazy, module, d)) {
    // Never run without the bound weights: the next call loads it again.
    (void)d.api.moduleUnload(module);
    return false;
  }
  lazy.module = module;
  return true;
}

std::string launchShape(const intptr_t (&sizes)[6]) {
  auto dims = [&](int first) {
    return std::to_string(sizes[first]) + "x" +
           std::to_string(sizes[first + 1]) + "x" +
           std::to_string(sizes[first + 2]);
  };
  return "grid " + dims(0) + ", block " + dims(3);
}

void *newModule(const void *data, size_t size, int jitLevel) {
  // Bookkeeping only, whatever the thread's error: artifacts call this
  // from their constructors, on the thread that happens to load them.
  if (!data) {
    setError("mgpuModuleLoad: the kernel binary is NULL");
    return nullptr;
  }
  auto *lazy = new (std::nothrow) LazyModule();
  if (!lazy) {
    setError("mgpuModuleLoad: out of host memory");
    return nullptr;
  }
  lazy->data = data;
  lazy->size = size;
  lazy->jitLevel = jitLevel;
  lazy->object = objectContaining(data);
  trackModule(*lazy);
  return lazy;
}

} // namespace

extern "C" void *mgpuModuleLoad(void *data, size_t size) {
  return newModule(data, size, /*jitLevel=*/-1);
}

extern "C" void *mgpuModuleLoadJIT(void *data, int32_t optLevel) {
  return newModule(data, 0, optLevel < 0 ? 0 : optLevel > 4 ? 4 : optLevel);
}

extern "C" void mgpuModuleUnload(void *module) {
  // Runs from the artifact's destructors (dlclose, exit): it records no
  // error, and the driver may already be shutting down.
  auto *lazy = static_cast<LazyModule *>(module);
  if (!lazy)
    return;
  untrackModule(*lazy);
  const Driver *d;
  const Device *device;
  if (lazy->module && readyForRelease(d, device)) {
    // In the module's context; failures (a driver already shut down at
    // exit) are ignored.
    bool pushed = d->api.ctxPushCurrent(device->context) == CUDA_SUCCESS;
    (void)d->api.moduleUnload(lazy->module);
    CUcontext popped = nullptr;
    if (pushed)
      (void)d->api.ctxPopCurrent(&popped);
  }
  delete lazy;
}

extern "C" void *mgpuModuleGetFunction(void *module, const char *name) {
  if (hasError())
    return nullptr;
  auto *lazy = static_cast<LazyModule *>(module);
  if (!lazy || !name) {
    // A module whose load failed at dlopen time (out of memory) lands here.
    setError("mgpuModuleGetFunction: no module or no kernel name");
    return nullptr;
  }
  const Driver *d;
  const Device *device;
  if (!readyForWork(d, device) || !ensureLoaded(*lazy, *d, *device))
    return nullptr;
  CUfunction function = nullptr;
  if (!check(*d, d->api.moduleGetFunction(&function, lazy->module, name),
             "cuModuleGetFunction", std::string("kernel ") + name))
    return nullptr;
  return function;
}

extern "C" void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                                 intptr_t gridZ, intptr_t blockX,
                                 intptr_t blockY, intptr_t blockZ,
                                 int32_t sharedBytes, void *stream,
                                 void **params, void **extra,
                                 size_t /*paramCount*/) {
  if (hasError())
    return;
  if (!function) {
    setError("mgpuLaunchKernel: no kernel function");
    return;
  }
  const intptr_t sizes[6] = {gridX, gridY, gridZ, blockX, blockY, blockZ};
  for (intptr_t size : sizes)
    if (size <= 0 || uintptr_t(size) > UINT_MAX) {
      setError("mgpuLaunchKernel: " + launchShape(sizes) +
               " is not a valid launch");
      return;
    }
  if (sharedBytes < 0) {
    setError("mgpuLaunchKernel: negative dynamic shared memory size");
    return;
  }
  const Driver *d;
  const Device *device;
  if (!readyForWork(d, device))
    return;
  ScopedContext context(*d, *device);
  auto cuStream = static_cast<CUstream>(stream);
  if (!context.ok() || !beforeTimedLaunch(*d, cuStream))
    return;
  if (check(*d,
            d->api.launchKernel(static_cast<CUfunction>(function),
                                unsigned(gridX), unsigned(gridY),
                                unsigned(gridZ), unsigned(blockX),
                                unsigned(blockY), unsigned(blockZ),
                                unsigned(sharedBytes), cuStream, params, extra),
            "cuLaunchKernel", launchShape(sizes)))
    afterTimedLaunch(*d, cuStream);
}
