//===- DriverApi.h - the CUDA driver API entry points used ------*- C++ -*-===//
//
// The few types, constants and functions of the CUDA driver API (cuda.h)
// that the lowbit CUDA runtime calls, declared here so that it builds
// without the CUDA toolkit. The functions are resolved from libcuda.so.1 at
// run time (Driver.cpp) under their exported names: several are versioned
// (`cuMemAlloc_v2`), as cuda.h's macros spell them.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_RUNTIME_CUDA_DRIVERAPI_H
#define LOWBIT_LIB_RUNTIME_CUDA_DRIVERAPI_H

#include <cstddef>
#include <cstdint>

namespace lowbit::cuda {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;
using CUjit_option = int;
using CUmemoryPool = struct CUmemPoolHandle_st *;

constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_INVALID_VALUE = 1;
constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;
constexpr CUresult CUDA_ERROR_NOT_FOUND = 500;

constexpr int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr int CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED = 115;
constexpr int CU_MEMPOOL_ATTR_RELEASE_THRESHOLD = 4;
constexpr unsigned CU_STREAM_NON_BLOCKING = 1;
constexpr unsigned CU_EVENT_DISABLE_TIMING = 2;
constexpr CUjit_option CU_JIT_ERROR_LOG_BUFFER = 5;
constexpr CUjit_option CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
constexpr CUjit_option CU_JIT_OPTIMIZATION_LEVEL = 7;

/// X(field, exported symbol, return type, parameters): every driver
/// function the runtime resolves. All are required: a driver without one
/// of them is reported as unusable.
#define LOWBIT_CUDA_DRIVER_FUNCTIONS(X)                                        \
  X(getErrorName, "cuGetErrorName", (CUresult, const char **))                 \
  X(getErrorString, "cuGetErrorString", (CUresult, const char **))             \
  X(init, "cuInit", (unsigned))                                                \
  X(driverGetVersion, "cuDriverGetVersion", (int *))                           \
  X(deviceGetCount, "cuDeviceGetCount", (int *))                               \
  X(deviceGet, "cuDeviceGet", (CUdevice *, int))                               \
  X(deviceGetAttribute, "cuDeviceGetAttribute", (int *, int, CUdevice))        \
  X(deviceGetName, "cuDeviceGetName", (char *, int, CUdevice))                 \
  X(deviceTotalMem, "cuDeviceTotalMem_v2", (size_t *, CUdevice))               \
  X(primaryCtxRetain, "cuDevicePrimaryCtxRetain", (CUcontext *, CUdevice))     \
  X(ctxPushCurrent, "cuCtxPushCurrent_v2", (CUcontext))                        \
  X(ctxPopCurrent, "cuCtxPopCurrent_v2", (CUcontext *))                        \
  X(moduleLoadData, "cuModuleLoadData", (CUmodule *, const void *))            \
  X(moduleLoadDataEx, "cuModuleLoadDataEx",                                    \
    (CUmodule *, const void *, unsigned, CUjit_option *, void **))             \
  X(moduleUnload, "cuModuleUnload", (CUmodule))                                \
  X(moduleGetFunction, "cuModuleGetFunction",                                  \
    (CUfunction *, CUmodule, const char *))                                    \
  X(launchKernel, "cuLaunchKernel",                                            \
    (CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,   \
     unsigned, CUstream, void **, void **))                                    \
  X(memAlloc, "cuMemAlloc_v2", (CUdeviceptr *, size_t))                        \
  X(memFree, "cuMemFree_v2", (CUdeviceptr))                                    \
  X(memcpyAsync, "cuMemcpyAsync",                                              \
    (CUdeviceptr, CUdeviceptr, size_t, CUstream))                              \
  X(memsetD16Async, "cuMemsetD16Async",                                        \
    (CUdeviceptr, unsigned short, size_t, CUstream))                           \
  X(memsetD32Async, "cuMemsetD32Async",                                        \
    (CUdeviceptr, unsigned, size_t, CUstream))                                 \
  X(streamCreate, "cuStreamCreate", (CUstream *, unsigned))                    \
  X(streamSynchronize, "cuStreamSynchronize", (CUstream))                      \
  X(streamDestroy, "cuStreamDestroy_v2", (CUstream))                           \
  X(streamWaitEvent, "cuStreamWaitEvent", (CUstream, CUevent, unsigned))       \
  X(eventCreate, "cuEventCreate", (CUevent *, unsigned))                       \
  X(eventRecord, "cuEventRecord", (CUevent, CUstream))                         \
  X(eventSynchronize, "cuEventSynchronize", (CUevent))                         \
  X(eventDestroy, "cuEventDestroy_v2", (CUevent))                              \
  X(eventElapsedTime, "cuEventElapsedTime", (float *, CUevent, CUevent))       \
  X(moduleGetGlobal, "cuModuleGetGlobal_v2",                                   \
    (CUdeviceptr *, size_t *, CUmodule, const char *))                         \
  X(memcpyHtoD, "cuMemcpyHtoD_v2", (CUdeviceptr, const void *, size_t))

/// Functions the runtime uses when the driver has them: the stream-ordered
/// allocator (CUDA 11.2), which lets a call allocate and free its buffers
/// without synchronizing the device.
#define LOWBIT_CUDA_OPTIONAL_DRIVER_FUNCTIONS(X)                               \
  X(memAllocAsync, "cuMemAllocAsync", (CUdeviceptr *, size_t, CUstream))       \
  X(memFreeAsync, "cuMemFreeAsync", (CUdeviceptr, CUstream))                   \
  X(deviceGetDefaultMemPool, "cuDeviceGetDefaultMemPool",                      \
    (CUmemoryPool *, CUdevice))                                                \
  X(memPoolSetAttribute, "cuMemPoolSetAttribute", (CUmemoryPool, int, void *))

/// The resolved driver functions (the optional ones may be null).
struct DriverApi {
#define LOWBIT_CUDA_FIELD(field, symbol, params)                               \
  CUresult(*field) params = nullptr;
  LOWBIT_CUDA_DRIVER_FUNCTIONS(LOWBIT_CUDA_FIELD)
  LOWBIT_CUDA_OPTIONAL_DRIVER_FUNCTIONS(LOWBIT_CUDA_FIELD)
#undef LOWBIT_CUDA_FIELD
};

} // namespace lowbit::cuda

#endif // LOWBIT_LIB_RUNTIME_CUDA_DRIVERAPI_H
