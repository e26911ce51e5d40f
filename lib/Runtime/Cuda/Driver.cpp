//===- Driver.cpp - the CUDA driver, loaded at run time -------------------===//

#include "Driver.h"
#include "Errors.h"

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <dlfcn.h>
#include <mutex>

namespace lowbit::cuda {

namespace {

constexpr const char *kDefaultDriver = "libcuda.so.1";

/// The outcome of loading the driver: the driver, or why there is none.
/// Allocated once and never freed, so that it outlives every destructor
/// that may still call into the runtime at exit.
struct LoadState {
  Driver driver;
  bool ok = false;
  std::string error;
};

LoadState *loadState = nullptr;
std::once_flag loadOnce;
std::atomic<const Driver *> loaded{nullptr};

void load() {
  auto *state = new LoadState();
  loadState = state;
  const char *env = std::getenv("LOWBIT_CUDA_DRIVER");
  bool overridden = env && *env;
  state->driver.path = overridden ? env : kDefaultDriver;
  void *handle = dlopen(state->driver.path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    if (overridden) {
      // dlerror names the file and says why ("... cannot open shared
      // object file: No such file or directory").
      const char *why = dlerror();
      state->error = "no CUDA driver (LOWBIT_CUDA_DRIVER: " +
                     (why ? std::string(why) : state->driver.path) + ")";
    } else {
      state->error = "no CUDA driver (libcuda.so.1 not found)";
    }
    return;
  }
  // The handle is never closed: the driver stays loaded for the process.
  DriverApi &api = state->driver.api;
#define LOWBIT_CUDA_RESOLVE(field, symbol, params)                             \
  api.field = reinterpret_cast<decltype(api.field)>(dlsym(handle, symbol));    \
  if (!api.field) {                                                            \
    state->error = "unusable CUDA driver " + state->driver.path +              \
                   ": it does not export " symbol;                             \
    return;                                                                    \
  }
  LOWBIT_CUDA_DRIVER_FUNCTIONS(LOWBIT_CUDA_RESOLVE)
#undef LOWBIT_CUDA_RESOLVE
#define LOWBIT_CUDA_RESOLVE_OPTIONAL(field, symbol, params)                    \
  api.field = reinterpret_cast<decltype(api.field)>(dlsym(handle, symbol));
  LOWBIT_CUDA_OPTIONAL_DRIVER_FUNCTIONS(LOWBIT_CUDA_RESOLVE_OPTIONAL)
#undef LOWBIT_CUDA_RESOLVE_OPTIONAL
  state->ok = true;
  loaded.store(&state->driver, std::memory_order_release);
}

/// The device chosen by mgpuSetDefaultDevice before initialization; -1:
/// none.
std::atomic<int> requestedOrdinal{-1};

struct DeviceState {
  Device device;
  bool ok = false;
  std::string error;
};

DeviceState *deviceState = nullptr;
std::once_flag deviceOnce;
std::atomic<int> activeOrdinal{-1};
std::atomic<const Device *> initializedDevice{nullptr};

/// $LOWBIT_CUDA_DEVICE as an ordinal, or an error message.
bool ordinalFromEnvironment(int &ordinal, std::string &error) {
  ordinal = 0;
  const char *env = std::getenv("LOWBIT_CUDA_DEVICE");
  if (!env || !*env)
    return true;
  char *end = nullptr;
  errno = 0;
  long value = std::strtol(env, &end, 10);
  if (errno || *end || value < 0 || value > INT_MAX) {
    error = std::string("LOWBIT_CUDA_DEVICE='") + env +
            "' is not a device ordinal (0, 1, ...)";
    return false;
  }
  ordinal = int(value);
  return true;
}

/// Whether buffers can be allocated and freed in stream order; if so, the
/// device's default pool keeps freed memory for the next call instead of
/// returning it to the driver at every synchronization (best effort).
bool useStreamOrderedAllocator(const Driver &d, CUdevice device) {
  const DriverApi &api = d.api;
  int supported = 0;
  if (!api.memAllocAsync || !api.memFreeAsync ||
      api.deviceGetAttribute(&supported,
                             CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED,
                             device) != CUDA_SUCCESS ||
      !supported)
    return false;
  CUmemoryPool pool = nullptr;
  if (api.deviceGetDefaultMemPool && api.memPoolSetAttribute &&
      api.deviceGetDefaultMemPool(&pool, device) == CUDA_SUCCESS) {
    uint64_t keepAll = UINT64_MAX;
    (void)api.memPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
                                  &keepAll);
  }
  return true;
}

void initialize(const Driver &d) {
  auto *state = new DeviceState();
  deviceState = state;
  const DriverApi &api = d.api;
  int ordinal = requestedOrdinal.load();
  if (ordinal < 0 && !ordinalFromEnvironment(ordinal, state->error))
    return;

  CUresult result = api.init(0);
  if (result == CUDA_ERROR_NO_DEVICE) {
    state->error = "no CUDA device (cuInit: " + describe(d, result) + ")";
    return;
  }
  if (result != CUDA_SUCCESS) {
    state->error = "cuInit failed with " + describe(d, result);
    return;
  }
  int count = 0;
  if ((result = api.deviceGetCount(&count)) != CUDA_SUCCESS) {
    state->error = "cuDeviceGetCount failed with " + describe(d, result);
    return;
  }
  if (count == 0) {
    state->error = "no CUDA device (the driver reports none)";
    return;
  }
  if (ordinal >= count) {
    state->error = "no CUDA device " + std::to_string(ordinal) +
                   " (the driver reports " + std::to_string(count) +
                   (count == 1 ? " device" : " devices") +
                   "; LOWBIT_CUDA_DEVICE selects one)";
    return;
  }
  Device &dev = state->device;
  dev.ordinal = ordinal;
  if ((result = api.deviceGet(&dev.handle, ordinal)) != CUDA_SUCCESS) {
    state->error = "cuDeviceGet failed with " + describe(d, result);
    return;
  }
  // The primary context is retained for the life of the process.
  if ((result = api.primaryCtxRetain(&dev.context, dev.handle)) !=
      CUDA_SUCCESS) {
    state->error =
        "cuDevicePrimaryCtxRetain failed with " + describe(d, result);
    return;
  }
  dev.streamOrdered = useStreamOrderedAllocator(d, dev.handle);
  state->ok = true;
  activeOrdinal.store(ordinal);
  initializedDevice.store(&state->device, std::memory_order_release);
}

} // namespace

const Driver *driver() {
  std::call_once(loadOnce, load);
  if (!loadState->ok) {
    setError(loadState->error);
    return nullptr;
  }
  return &loadState->driver;
}

const Driver *loadedDriver() { return loaded.load(std::memory_order_acquire); }

const Device *device() {
  const Driver *d = driver();
  if (!d)
    return nullptr;
  std::call_once(deviceOnce, [d] { initialize(*d); });
  if (!deviceState->ok) {
    setError(deviceState->error);
    return nullptr;
  }
  return &deviceState->device;
}

bool readyForWork(const Driver *&d, const Device *&dev) {
  if (hasError())
    return false;
  d = driver();
  dev = d ? device() : nullptr;
  return dev != nullptr;
}

bool readyForRelease(const Driver *&d, const Device *&dev) {
  d = loadedDriver();
  dev = initializedDevice.load(std::memory_order_acquire);
  return d && dev;
}

bool requestDevice(int ordinal) {
  if (ordinal < 0) {
    setError("device ordinal " + std::to_string(ordinal) + " is negative");
    return false;
  }
  int active = activeOrdinal.load();
  if (active < 0) {
    requestedOrdinal.store(ordinal);
    return true;
  }
  if (active == ordinal)
    return true;
  setError("the lowbit CUDA runtime already computes on device " +
           std::to_string(active) + "; device " + std::to_string(ordinal) +
           " must be chosen before the first CUDA call");
  return false;
}

std::string describe(const Driver &d, CUresult result) {
  const char *name = nullptr;
  const char *text = nullptr;
  if (d.api.getErrorName(result, &name) != CUDA_SUCCESS || !name)
    name = nullptr;
  if (d.api.getErrorString(result, &text) != CUDA_SUCCESS || !text)
    text = nullptr;
  std::string out =
      name ? std::string(name) : "CUDA error " + std::to_string(result);
  if (text)
    out += std::string(": ") + text;
  return out;
}

bool check(const Driver &d, CUresult result, const char *call,
           const std::string &context) {
  if (result == CUDA_SUCCESS)
    return true;
  std::string message =
      std::string(call) + " failed with " + describe(d, result);
  if (!context.empty())
    message += " (" + context + ")";
  setError(std::move(message));
  return false;
}

ScopedContext::ScopedContext(const Driver &driver, const Device &device)
    : driver(driver) {
  pushed = check(driver, driver.api.ctxPushCurrent(device.context),
                 "cuCtxPushCurrent");
}

ScopedContext::~ScopedContext() {
  if (!pushed)
    return;
  CUcontext popped = nullptr;
  // Popping what was pushed cannot fail short of a broken driver; a
  // failure is recorded like any other.
  check(driver, driver.api.ctxPopCurrent(&popped), "cuCtxPopCurrent");
}

} // namespace lowbit::cuda
