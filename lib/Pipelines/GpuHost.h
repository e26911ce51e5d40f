//===- GpuHost.h - host side of lowbit-gpu-pipeline{lower-host} -*- C++ -*-===//
//
// What makes the host side of the GPU pipeline executable through the
// lowbit CUDA runtime (docs/CudaRuntime.md): kernels get device copies of
// the host buffers they use, inline weights live on the device, host
// buffers are freed, and the host code is lowered to the LLVM dialect with
// gpu-to-llvm's mgpu* runtime calls.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_PIPELINES_GPUHOST_H
#define LOWBIT_LIB_PIPELINES_GPUHOST_H

#include "mlir/Pass/Pass.h"

#include <cstdint>

#include <memory>

namespace lowbit {

/// `lowbit-gpu-stage-buffers` (on gpu.launch, before outlining): constant
/// globals a kernel reads move into the kernel (outlining then copies them
/// into the GPU module: they become initialized device globals, uploaded
/// once with the module), and every other host buffer a kernel uses is
/// replaced by a device buffer (gpu.alloc) that is filled from it before
/// the launch (gpu.memcpy), copied back after it when the kernel writes it,
/// and freed (gpu.dealloc).
std::unique_ptr<mlir::Pass> createStageBuffersPass();

/// `lowbit-gpu-free-host-buffers` (after bufferization): frees every host
/// buffer allocated at the top level of a function before the function
/// returns, unless it escapes (returned, passed to a call, stored). The
/// upstream deallocation pipeline cannot see through gpu.launch_func.
std::unique_ptr<mlir::Pass> createFreeHostBuffersPass();

/// `lowbit-gpu-outline-device-weights` (on the LLVM dialect of the GPU
/// modules, before serialization): constant globals of at least `minBytes`
/// become zero-initialized `__lowbit_weight_<content hash>` globals (no
/// bytes in the binary; loads of them stay invariant), and their bytes move
/// to host globals of the same name marked kDeviceWeightAttr.
std::unique_ptr<mlir::Pass> createOutlineDeviceWeightsPass(uint64_t minBytes);

/// The host code to the LLVM dialect: gpu-async-region (one stream per
/// call, waits before host reads), loops, memref, arith, math (libm), func,
/// cf, and gpu-to-llvm (mgpu* calls; launch_func and gpu.binary stay for
/// the LLVM IR translation, which embeds the binary).
void buildGpuHostToLLVM(mlir::OpPassManager &pm);

} // namespace lowbit

#endif // LOWBIT_LIB_PIPELINES_GPUHOST_H
