//===- Driver.h - the CUDA driver, loaded at run time -----------*- C++ -*-===//
//
// libcuda.so.1 is opened with dlopen the first time the runtime needs it
// (never at load time, so the runtime and the artifacts linked against it
// load on machines without a driver), its entry points are resolved once,
// and device 0 (or $LOWBIT_CUDA_DEVICE) is initialized with its primary
// context. Every failure is recorded in the thread's error slot
// (Errors.h) with the name of the failing call and the CUDA error name.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_RUNTIME_CUDA_DRIVER_H
#define LOWBIT_LIB_RUNTIME_CUDA_DRIVER_H

#include "DriverApi.h"

#include <string>

namespace lowbit::cuda {

/// The loaded driver library.
struct Driver {
  DriverApi api;
  std::string path; // as given to dlopen
};

/// The driver, loading it on first use; null after recording why it is
/// unusable ("no CUDA driver (libcuda.so.1 not found)"). The library path
/// is $LOWBIT_CUDA_DRIVER when set, else libcuda.so.1. The outcome of the
/// first attempt holds for the life of the process.
const Driver *driver();

/// The driver if an earlier call loaded it, else null; records nothing.
/// Releases use it: there is nothing to release without a driver.
const Driver *loadedDriver();

/// The device the runtime computes on.
struct Device {
  int ordinal = 0;
  CUdevice handle = 0;
  CUcontext context = nullptr; // the device's primary context
  bool streamOrdered = false;  // cuMemAllocAsync / cuMemFreeAsync usable
};

/// The device, initializing the driver (cuInit) and the device's primary
/// context on first use; null after recording why not ("no CUDA device
/// ..."). The ordinal is the one mgpuSetDefaultDevice requested before,
/// else $LOWBIT_CUDA_DEVICE, else 0. The outcome holds for the process.
const Device *device();

/// For a call that does work: the driver and the device, or false when
/// the thread already has an error or the device cannot be used (the reason
/// is recorded).
bool readyForWork(const Driver *&driver, const Device *&device);

/// For a release (free, destroy, synchronize), which runs even after an
/// error: the driver and the device when both were initialized before, else
/// false (there is nothing to release). Records nothing.
bool readyForRelease(const Driver *&driver, const Device *&device);

/// Asks for device `ordinal`. Before initialization this chooses the
/// device; afterwards only the device in use is accepted (false, with an
/// error recorded, for another one).
bool requestDevice(int ordinal);

/// "CUDA_ERROR_OUT_OF_MEMORY: out of memory" for a result code.
std::string describe(const Driver &driver, CUresult result);

/// Records "<call> failed with <name>: <text>" (plus " (<context>)" when
/// given) unless `result` is CUDA_SUCCESS; returns whether it is.
bool check(const Driver &driver, CUresult result, const char *call,
           const std::string &context = std::string());

/// Makes the device's primary context current on the calling thread for
/// its lifetime (cuCtxPushCurrent / cuCtxPopCurrent), so the runtime
/// neither needs nor disturbs the caller's current context.
class ScopedContext {
public:
  ScopedContext(const Driver &driver, const Device &device);
  ~ScopedContext();
  ScopedContext(const ScopedContext &) = delete;
  ScopedContext &operator=(const ScopedContext &) = delete;
  /// False (with an error recorded) when the push failed.
  bool ok() const { return pushed; }

private:
  const Driver &driver;
  bool pushed = false;
};

/// Which readiness a driver call needs: work (nothing runs after an error)
/// or a release (runs after an error, as long as there is a device).
enum class CallKind { Work, Release };

/// The common shape of an mgpu* call: check readiness, make the device's
/// context current, run `call(api)` (returning a CUresult) and record a
/// failure as `name` (with `context`). Returns whether the call ran and
/// succeeded.
template <typename Call>
bool callInContext(CallKind kind, const char *name, Call call,
                   const std::string &context = std::string()) {
  const Driver *driver;
  const Device *device;
  if (!(kind == CallKind::Work ? readyForWork(driver, device)
                               : readyForRelease(driver, device)))
    return false;
  ScopedContext scoped(*driver, *device);
  return scoped.ok() && check(*driver, call(driver->api), name, context);
}

} // namespace lowbit::cuda

#endif // LOWBIT_LIB_RUNTIME_CUDA_DRIVER_H
