//===- CApi.cpp - the lowbit_cuda_* C API ---------------------------------===//

#include "Driver.h"
#include "Errors.h"
#include "Timing.h"
#include "lowbit/Runtime/lowbit_cuda.h"

#include <cstring>

using namespace lowbit::cuda;

extern "C" int lowbit_cuda_available(void) {
  clearError();
  const Driver *d;
  const Device *device;
  return readyForWork(d, device) ? 1 : 0;
}

extern "C" int lowbit_cuda_device_info(lowbit_cuda_device *out) {
  clearError();
  if (!out) {
    setError("lowbit_cuda_device_info: out is NULL");
    return -1;
  }
  std::memset(out, 0, sizeof(*out));
  const Driver *d;
  const Device *device;
  if (!readyForWork(d, device))
    return -1;
  const DriverApi &api = d->api;
  CUdevice handle = device->handle;
  int version = 0;
  size_t memory = 0;
  bool ok =
      check(*d,
            api.deviceGetAttribute(&out->compute_major,
                                   CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                                   handle),
            "cuDeviceGetAttribute") &&
      check(*d,
            api.deviceGetAttribute(&out->compute_minor,
                                   CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                                   handle),
            "cuDeviceGetAttribute") &&
      check(*d,
            api.deviceGetAttribute(&out->multiprocessors,
                                   CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
                                   handle),
            "cuDeviceGetAttribute") &&
      check(*d, api.deviceGetName(out->name, int(sizeof(out->name)), handle),
            "cuDeviceGetName") &&
      check(*d, api.deviceTotalMem(&memory, handle), "cuDeviceTotalMem") &&
      check(*d, api.driverGetVersion(&version), "cuDriverGetVersion");
  if (!ok)
    return -1;
  out->name[sizeof(out->name) - 1] = '\0';
  out->ordinal = device->ordinal;
  out->driver_version = version;
  out->total_memory = int64_t(memory);
  return 0;
}

extern "C" const char *lowbit_cuda_last_error(void) { return lastError(); }

extern "C" void lowbit_cuda_clear_error(void) { clearError(); }

extern "C" void lowbit_cuda_begin_call(void) {
  clearError();
  beginTimedCall();
}

extern "C" const char *lowbit_cuda_end_call(const char *entry) {
  // Waiting for the kernels' time may fail too: part of the call.
  endTimedCall();
  if (!hasError())
    return nullptr;
  // Trivially destructible, like the error slot (Errors.cpp).
  static thread_local char message[2304];
  const char *name = entry ? entry : "(unknown entry)";
  size_t used = 0;
  auto append = [&](const char *text) {
    size_t length = std::strlen(text);
    size_t room = sizeof(message) - 1 - used;
    if (length > room)
      length = room;
    std::memcpy(message + used, text, length);
    used += length;
  };
  append(name);
  append(": ");
  append(lastError());
  message[used] = '\0';
  // The error now belongs to the entry point; the thread starts clean.
  clearError();
  return message;
}
