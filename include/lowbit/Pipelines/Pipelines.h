//===- Pipelines.h - lowbit pass pipelines ----------------------*- C++ -*-===//
//
// Pipelines are C++ builders: lowbit-opt registers them by name and the
// compiler drivers call the same functions, so a pipeline seen in a test is
// the pipeline users run.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_PIPELINES_PIPELINES_H
#define LOWBIT_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

#include <string>

namespace lowbit {

/// Options of `lowbit-quantize-pipeline`, the same knobs as
/// `lowbit-quantize-weights`.
struct QuantizePipelineOptions
    : mlir::PassPipelineOptions<QuantizePipelineOptions> {
  Option<std::string> format{*this, "format",
                             llvm::cl::desc("int8, int4, int3, int2, nf4, "
                                            "fp4 or fp8"),
                             llvm::cl::init("int4")};
  Option<int64_t> blockSize{*this, "block-size",
                            llvm::cl::desc("Elements along K per scale"),
                            llvm::cl::init(128)};
  Option<bool> perChannel{*this, "per-channel",
                          llvm::cl::desc("One scale per output row"),
                          llvm::cl::init(false)};
  Option<bool> symmetric{*this, "symmetric",
                         llvm::cl::desc("Integer formats without zero point"),
                         llvm::cl::init(true)};
  Option<std::string> scaleType{*this, "scale-type",
                                llvm::cl::desc("f32, f16 or bf16"),
                                llvm::cl::init("f16")};
  Option<bool> doubleQuant{*this, "double-quant",
                           llvm::cl::desc("QLoRA double quantization"),
                           llvm::cl::init(false)};
  Option<std::string> doubleQuantFormat{*this, "double-quant-format",
                                        llvm::cl::desc("dyn8, i8 or fp8"),
                                        llvm::cl::init("dyn8")};
  Option<int64_t> doubleQuantBlockSize{
      *this, "double-quant-block-size",
      llvm::cl::desc("Scales per double-quantization block"),
      llvm::cl::init(256)};
  ListOption<std::string> skip{*this, "skip",
                               llvm::cl::desc("Regexes of matmuls to keep "
                                              "in float")};
  ListOption<std::string> int8{*this, "int8",
                               llvm::cl::desc("Regexes of matmuls to quantize "
                                              "to per-channel int8 instead")};
  Option<std::string> hessians{
      *this, "hessians",
      llvm::cl::desc("Calibration Hessians (safetensors): quantize the "
                     "weights that have one with GPTQ")};
  Option<double> gptqDamping{*this, "gptq-damping",
                             llvm::cl::desc("GPTQ: diagonal damping, as a "
                                            "fraction of its mean"),
                             llvm::cl::init(0.01)};
  Option<bool> gptqActOrder{*this, "gptq-act-order",
                            llvm::cl::desc("GPTQ: largest Hessian diagonal "
                                           "first"),
                            llvm::cl::init(true)};
  Option<bool> gptqClip{*this, "gptq-clip",
                        llvm::cl::desc("GPTQ: search each block's clipping "
                                       "first"),
                        llvm::cl::init(true)};
  Option<unsigned> gptqRefine{*this, "gptq-refine",
                              llvm::cl::desc("GPTQ: coordinate-descent "
                                             "passes over the codes after"),
                              llvm::cl::init(0)};
  Option<double> gptqTargetBlend{
      *this, "gptq-target-blend",
      llvm::cl::desc("GPTQ: with asymmetric calibration, how far to move "
                     "toward the least-squares weight for the quantized "
                     "model's inputs (0 to 1)"),
      llvm::cl::init(0.5)};
  Option<int64_t> hadamardBlockSize{
      *this, "hadamard-block-size",
      llvm::cl::desc("Rotate weights and inputs by blockwise Hadamard "
                     "matrices of this order (0: none)"),
      llvm::cl::init(0)};
  Option<int64_t> minSize{*this, "min-size",
                          llvm::cl::desc("Smaller weights stay float"),
                          llvm::cl::init(0)};
  Option<bool> stats{*this, "stats",
                     llvm::cl::desc("Each pass reports its counters in a "
                                    "remark"),
                     llvm::cl::init(false)};
};

/// Fuses explicit dequantization, quantizes constant weights, folds LoRA
/// branches into the quantized matmuls, and cleans up.
void buildQuantizePipeline(mlir::OpPassManager &pm,
                           const QuantizePipelineOptions &options);

/// Lowers a lowbit program through lowbit-decompose to the LLVM dialect
/// with plain loops: the slow reference that mlir-runner can execute.
void buildReferencePipeline(mlir::OpPassManager &pm);

/// Options of `lowbit-cpu-pipeline`.
/// Whether a target CPU has a feature: as the machine running the
/// pipeline does, or as stated.
enum class CpuFeature { Host, Yes, No };

struct CpuPipelineOptions : mlir::PassPipelineOptions<CpuPipelineOptions> {
  Option<int64_t> vectorWidth{
      *this, "vector-width",
      llvm::cl::desc("f32 lanes per chunk of K (16: AVX-512, 8: AVX2)"),
      llvm::cl::init(16)};
  Option<int64_t> batchTile{
      *this, "batch-tile",
      llvm::cl::desc("Most rows of x sharing one decode of the weights"),
      llvm::cl::init(8)};
  Option<int64_t> nTile{
      *this, "n-tile",
      llvm::cl::desc("Output columns per parallel task (rows of W)"),
      llvm::cl::init(32)};
  Option<std::string> isa{
      *this, "isa",
      llvm::cl::desc("Instructions the kernels name directly: host (the "
                     "best this machine has), generic, avx2 or avx512"),
      llvm::cl::init("host")};
  Option<int64_t> gemmMinBatch{
      *this, "gemm-min-batch",
      llvm::cl::desc("Static batches of at least this many rows use the "
                     "GEMM strategy (decoded tiles shared by all rows); 0: "
                     "never"),
      llvm::cl::init(16)};
  Option<int64_t> pairMinK{
      *this, "pair-min-k",
      llvm::cl::desc("K from which GEMV kernels decode two rows of W per "
                     "pass over x (0: never)"),
      llvm::cl::init(8192)};
  Option<std::string> dot{
      *this, "dot",
      llvm::cl::desc("Dot products of the kernels: f32 (exact decode) or "
                     "i8 (activations quantized to int8 per 128 elements, "
                     "vpdpbusd, every batch; needs AVX-512 VNNI)"),
      llvm::cl::init("f32")};
  Option<CpuFeature> vbmi{
      *this, "vbmi",
      llvm::cl::desc("Whether the target has AVX-512 VBMI, which dot=i8 "
                     "needs for 3-bit codes"),
      llvm::cl::init(CpuFeature::Host),
      llvm::cl::values(
          clEnumValN(CpuFeature::Host, "host", "whether this machine has it"),
          clEnumValN(CpuFeature::Yes, "true", "the target has it"),
          clEnumValN(CpuFeature::No, "false", "the target lacks it"))};
  Option<bool> parallel{
      *this, "parallel",
      llvm::cl::desc("Run the kernels' output tiles on threads (OpenMP: "
                     "the program then needs libomp)"),
      llvm::cl::init(false)};
  Option<int64_t> threads{
      *this, "threads",
      llvm::cl::desc("With parallel: threads per kernel; 0 = the OpenMP "
                     "runtime's default (OMP_NUM_THREADS or all cores)"),
      llvm::cl::init(0)};
  Option<bool> vectorizeLinalg{
      *this, "vectorize-linalg",
      llvm::cl::desc("Tile and vectorize the float linalg ops that are not "
                     "lowbit.qmatmul (lowbit-vectorize-linalg); off: "
                     "scalar loops"),
      llvm::cl::init(true)};
  Option<bool> x86Vector {
    *this, "x86-vector",
        llvm::cl::desc("Allow x86vector dialect ops in the vector lowering"),
#if defined(__x86_64__) || defined(_M_X64)
        llvm::cl::init(true)
#else
        llvm::cl::init(false)
#endif
  };
};

/// Lowers a lowbit program through lowbit-lower-cpu (fused dequant-matmul
/// vector kernels) to the LLVM dialect, executable with mlir-runner.
void buildCpuPipeline(mlir::OpPassManager &pm,
                      const CpuPipelineOptions &options);

/// Registers the pipelines above with the global registry.
void registerLowbitPipelines();

} // namespace lowbit

#endif // LOWBIT_PIPELINES_PIPELINES_H
