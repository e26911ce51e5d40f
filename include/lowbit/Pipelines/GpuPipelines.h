//===- GpuPipelines.h - lowbit GPU pass pipelines ---------------*- C++ -*-===//
//
// The GPU kernels of lowbit-lower-gpu, compiled for NVIDIA GPUs or run on
// the CPU to check their numerics without a GPU (docs/CodegenGPU.md).
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_PIPELINES_GPUPIPELINES_H
#define LOWBIT_PIPELINES_GPUPIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

#include <string>

namespace lowbit {

/// The CUDA toolkit found when lowbit was configured ("" if none); its
/// ptxas turns PTX into cubins.
const char *getDefaultCudaToolkitPath();

/// Options of `lowbit-gpu-pipeline`.
struct GpuPipelineOptions : mlir::PassPipelineOptions<GpuPipelineOptions> {
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("NVIDIA architecture (sm_80, "
                                          "sm_90, ...)"),
                           llvm::cl::init("sm_90")};
  Option<std::string> features{
      *this, "features",
      llvm::cl::desc("PTX features, e.g. +ptx80 (empty: the default)"),
      llvm::cl::init("")};
  Option<std::string> format{
      *this, "format",
      llvm::cl::desc("What the gpu.binary holds: isa (PTX text), bin "
                     "(cubin, through the toolkit's ptxas) or fatbin"),
      llvm::cl::init("bin")};
  Option<std::string> cudaPath{
      *this, "cuda-path",
      llvm::cl::desc("CUDA toolkit root for ptxas/fatbinary (default: the "
                     "toolkit found when lowbit was configured)"),
      llvm::cl::init(getDefaultCudaToolkitPath())};
  Option<int64_t> optLevel{*this, "opt-level",
                           llvm::cl::desc("LLVM optimization level of the "
                                          "device code"),
                           llvm::cl::init(3)};
  Option<bool> lowerHost{
      *this, "lower-host",
      llvm::cl::desc("Make the host side executable: device copies of the "
                     "buffers kernels use, inline weights as device globals, "
                     "host code lowered to the LLVM dialect with mgpu* calls "
                     "(liblowbit_cuda_runtime, docs/CudaRuntime.md)"),
      llvm::cl::init(false)};
  Option<int64_t> externalWeightsMinBytes{
      *this, "external-weights-min-bytes",
      llvm::cl::desc("Keep constants of at least this many bytes out of the "
                     "kernels' binaries: uninitialized device globals filled "
                     "at run time (lowbit_cuda_bind_global), their bytes in "
                     "host globals marked lowbit.device_weight for the "
                     "weights file; 0 keeps every constant in the binary"),
      llvm::cl::init(0)};
};

/// lowbit-lower-gpu, bufferization, the kernel form mapped to gpu.launch
/// (blocks and threads), subgroup reductions to warp shuffles, kernel
/// outlining, NVVM, and serialization to PTX or a cubin. Host code stays at
/// the memref level unless `lower-host` is set; then it is lowered to the
/// LLVM dialect and calls the lowbit CUDA runtime.
void buildGpuPipeline(mlir::OpPassManager &pm,
                      const GpuPipelineOptions &options);

/// lowbit-lower-gpu, then the kernel form executed on the CPU: subgroup
/// reductions become sums of the lanes' stored partials, foralls loops, and
/// the rest is lowbit-cpu-pipeline's lowering to LLVM (mlir-runner runs it).
void buildGpuKernelCpuPipeline(mlir::OpPassManager &pm);

/// Registers the GPU pipelines with the global registry.
void registerLowbitGpuPipelines();

} // namespace lowbit

#endif // LOWBIT_PIPELINES_GPUPIPELINES_H
