//===- Memory.cpp - device memory: allocation, copies, fills --------------===//
//
// Copies and fills are asynchronous on the caller's stream; the generated
// code synchronizes the stream before the host reads what they wrote. The
// driver's unified addressing lets one cuMemcpyAsync copy in every
// direction. Buffers of a stream are allocated and freed in stream order
// when the device supports it (no device-wide synchronization per free,
// and the pool reuses memory across calls); otherwise with cuMemAlloc and
// cuMemFree.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"
#include "Errors.h"
#include "lowbit/Runtime/lowbit_cuda.h"

using namespace lowbit::cuda;

namespace {

CUdeviceptr address(const void *pointer) {
  return CUdeviceptr(reinterpret_cast<uintptr_t>(pointer));
}

} // namespace

extern "C" void *mgpuMemAlloc(uint64_t size, void *stream, bool hostShared) {
  const Driver *d;
  const Device *device;
  if (!readyForWork(d, device))
    return nullptr;
  if (hostShared) {
    setError("mgpuMemAlloc: host-shared allocations are not supported by "
             "the lowbit CUDA runtime");
    return nullptr;
  }
  // An empty buffer is never accessed; the driver refuses size 0.
  if (size == 0)
    return nullptr;
  ScopedContext context(*d, *device);
  if (!context.ok())
    return nullptr;
  CUdeviceptr pointer = 0;
  std::string what = std::to_string(size) + " bytes on device " +
                     std::to_string(device->ordinal);
  bool ok = stream && device->streamOrdered
                ? check(*d,
                        d->api.memAllocAsync(&pointer, size_t(size),
                                             static_cast<CUstream>(stream)),
                        "cuMemAllocAsync", what)
                : check(*d, d->api.memAlloc(&pointer, size_t(size)),
                        "cuMemAlloc", what);
  if (!ok)
    return nullptr;
  return reinterpret_cast<void *>(uintptr_t(pointer));
}

extern "C" void mgpuMemFree(void *pointer, void *stream) {
  // Frees even after an error.
  const Driver *d;
  const Device *device;
  if (!pointer || !readyForRelease(d, device))
    return;
  ScopedContext context(*d, *device);
  if (!context.ok())
    return;
  if (stream && device->streamOrdered)
    check(*d,
          d->api.memFreeAsync(address(pointer), static_cast<CUstream>(stream)),
          "cuMemFreeAsync");
  else
    check(*d, d->api.memFree(address(pointer)), "cuMemFree");
}

extern "C" void mgpuMemcpy(void *dst, void *src, size_t size, void *stream) {
  const Driver *d;
  const Device *device;
  if (size == 0 || !readyForWork(d, device))
    return;
  if (!dst || !src) {
    setError("mgpuMemcpy: NULL " + std::string(dst ? "source" : "destination") +
             " for " + std::to_string(size) + " bytes");
    return;
  }
  ScopedContext context(*d, *device);
  if (context.ok())
    check(*d,
          d->api.memcpyAsync(address(dst), address(src), size,
                             static_cast<CUstream>(stream)),
          "cuMemcpyAsync", std::to_string(size) + " bytes");
}

extern "C" void mgpuMemset16(void *dst, unsigned short value, size_t count,
                             void *stream) {
  if (count == 0)
    return;
  callInContext(
      CallKind::Work, "cuMemsetD16Async",
      [&](const auto &api) {
        return api.memsetD16Async(address(dst), value, count,
                                  static_cast<CUstream>(stream));
      },
      std::to_string(count) + " elements");
}

extern "C" void mgpuMemset32(void *dst, unsigned int value, size_t count,
                             void *stream) {
  if (count == 0)
    return;
  callInContext(
      CallKind::Work, "cuMemsetD32Async",
      [&](const auto &api) {
        return api.memsetD32Async(address(dst), value, count,
                                  static_cast<CUstream>(stream));
      },
      std::to_string(count) + " elements");
}

extern "C" void mgpuMemHostRegisterMemRef(int64_t, void *, int64_t) {
  setError("mgpuMemHostRegisterMemRef: registering host memory is not "
           "supported by the lowbit CUDA runtime");
}

extern "C" void mgpuMemHostUnregisterMemRef(int64_t, void *, int64_t) {
  setError("mgpuMemHostUnregisterMemRef: registering host memory is not "
           "supported by the lowbit CUDA runtime");
}
