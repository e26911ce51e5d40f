//===- Modules.h - kernel modules and their bound globals -------*- C++ -*-===//
//
// What mgpuModuleLoad returns (a module the driver loads on first use,
// Modules.cpp), and the registry of device-global contents bound with
// lowbit_cuda_bind_global (Globals.cpp), which every module of the bound
// artifact receives when it is loaded.
//
// Lock order: a module's mutex before the registry's, never the reverse.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_RUNTIME_CUDA_MODULES_H
#define LOWBIT_LIB_RUNTIME_CUDA_MODULES_H

#include "Driver.h"

#include <mutex>

namespace lowbit::cuda {

/// What mgpuModuleLoad returns: the binary (owned by the artifact, which
/// outlives the handle) and, once loaded, the driver's module.
struct LazyModule {
  const void *data = nullptr;
  size_t size = 0;   // 0 for PTX text, which is NUL-terminated
  int jitLevel = -1; // PTX JIT optimization level, -1: a binary
  /// The shared object the binary lies in (dladdr), or null: the artifact
  /// whose bindings the module receives.
  const void *object = nullptr;
  /// Guards `module`: loading, and uploads into the loaded module.
  std::mutex mutex;
  CUmodule module = nullptr;
  /// Binds uploading into the module right now (guarded by the registry);
  /// mgpuModuleUnload waits for them.
  int pins = 0;
};

/// The base address of the shared object (or executable) that contains
/// `address`, or null when dladdr does not know it.
const void *objectContaining(const void *address);

/// Adds a module to the registry of live modules, where later bindings of
/// its artifact find it.
void trackModule(LazyModule &module);

/// Removes a module from the registry, once no bind is uploading into it.
/// When it was its artifact's last module, the artifact's bindings are
/// forgotten: the artifact is being unloaded, and an object loaded later at
/// the same address must not receive them.
void untrackModule(LazyModule &module);

/// Uploads every binding of the artifact of `lazy` into `module`, which
/// the driver just loaded for it (with `lazy.mutex` held and the device's
/// context current). False with an error recorded: a device global of
/// another size, a failed copy.
bool uploadBindings(const LazyModule &lazy, CUmodule module,
                    const Driver &driver);

} // namespace lowbit::cuda

#endif // LOWBIT_LIB_RUNTIME_CUDA_MODULES_H
