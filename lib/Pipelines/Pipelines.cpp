//===- Pipelines.cpp - lowbit pass pipelines ------------------------------===//

#include "lowbit/Pipelines/Pipelines.h"
#include "lowbit/Pipelines/GpuPipelines.h"

#include "lowbit/Dialect/Lowbit/Transforms/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/TargetParser/Host.h"

using mlir::OpPassManager;

namespace lowbit {

void buildQuantizePipeline(OpPassManager &pm,
                           const QuantizePipelineOptions &options) {
  mlir::lowbit::LowbitQuantizeWeightsOptions quantize;
  quantize.format = options.format;
  quantize.blockSize = options.blockSize;
  quantize.perChannel = options.perChannel;
  quantize.symmetric = options.symmetric;
  quantize.scaleType = options.scaleType;
  quantize.doubleQuant = options.doubleQuant;
  quantize.doubleQuantFormat = options.doubleQuantFormat;
  quantize.doubleQuantBlockSize = options.doubleQuantBlockSize;
  quantize.skip.assign(options.skip.begin(), options.skip.end());
  quantize.int8.assign(options.int8.begin(), options.int8.end());
  quantize.hessians = options.hessians;
  quantize.gptqDamping = options.gptqDamping;
  quantize.gptqActOrder = options.gptqActOrder;
  quantize.gptqClip = options.gptqClip;
  quantize.gptqRefine = options.gptqRefine;
  quantize.gptqTargetBlend = options.gptqTargetBlend;
  quantize.hadamardBlockSize = options.hadamardBlockSize;
  quantize.minSize = options.minSize;
  quantize.stats = options.stats;

  pm.addPass(mlir::lowbit::createLowbitFuseDequantMatmul({options.stats}));
  pm.addPass(mlir::lowbit::createLowbitQuantizeWeights(quantize));
  pm.addPass(mlir::lowbit::createLowbitFuseLora({options.stats}));
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addPass(mlir::createCSEPass());
}

void buildReferencePipeline(OpPassManager &pm) {
  pm.addPass(mlir::lowbit::createLowbitDecompose());
  pm.addPass(mlir::createCanonicalizerPass());
  // The rest is upstream's standard tensor-to-LLVM lowering; the textual
  // form keeps this list readable and equal to what a user would type.
  mlir::LogicalResult parsed = mlir::parsePassPipeline(
      "convert-elementwise-to-linalg,"
      "one-shot-bufferize{bufferize-function-boundaries "
      "function-boundary-type-conversion=identity-layout-map},"
      "buffer-deallocation-pipeline,"
      "convert-linalg-to-loops,"
      "expand-strided-metadata,"
      "lower-affine,"
      "convert-scf-to-cf,"
      "convert-math-to-llvm,"
      "convert-math-to-libm,"
      "convert-arith-to-llvm,"
      "convert-index-to-llvm,"
      "finalize-memref-to-llvm,"
      "convert-func-to-llvm,"
      "convert-cf-to-llvm,"
      "reconcile-unrealized-casts",
      pm);
  if (failed(parsed))
    llvm::report_fatal_error("lowbit: the reference pipeline does not parse");
}

/// The `isa` for lowbit-lower-cpu: `host` becomes the best the machine
/// running the pipeline has (the JIT compiles for that machine).
static std::string resolveCpuIsa(const std::string &isa) {
  if (isa != "host")
    return isa;
#if defined(__x86_64__) || defined(_M_X64)
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  if (features.lookup("avx512f"))
    return "avx512";
  if (features.lookup("avx2"))
    return "avx2";
#endif
  return "generic";
}

/// The `vbmi` for lowbit-lower-cpu: `host` becomes whether the machine
/// running the pipeline has AVX-512 VBMI.
static bool resolveVbmi(CpuFeature vbmi) {
  if (vbmi != CpuFeature::Host)
    return vbmi == CpuFeature::Yes;
#if defined(__x86_64__) || defined(_M_X64)
  return llvm::sys::getHostCPUFeatures().lookup("avx512vbmi");
#else
  return false;
#endif
}

void buildCpuPipeline(OpPassManager &pm, const CpuPipelineOptions &options) {
  mlir::lowbit::LowbitLowerCpuOptions lower;
  lower.vectorWidth = options.vectorWidth;
  lower.batchTile = options.batchTile;
  lower.nTile = options.nTile;
  lower.isa = resolveCpuIsa(options.isa);
  lower.gemmMinBatch = options.gemmMinBatch;
  lower.pairMinK = options.pairMinK;
  lower.dot = options.dot;
  lower.vbmi = resolveVbmi(options.vbmi);
  pm.addPass(mlir::lowbit::createLowbitLowerCpu(lower));
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addPass(mlir::createCSEPass());
  // The float linalg ops left (float matmuls, attention, softmax, norms,
  // activations) become tiled vector code on tensors; what the pass cannot
  // handle stays for convert-linalg-to-loops below.
  if (options.vectorizeLinalg) {
    mlir::lowbit::LowbitVectorizeLinalgOptions vectorize;
    vectorize.vectorWidth = options.vectorWidth;
    pm.addPass(mlir::lowbit::createLowbitVectorizeLinalg(vectorize));
    pm.addPass(mlir::createCanonicalizerPass());
    pm.addPass(mlir::createCSEPass());
  }
  // Bufferization turns the packed weight constants into read-only globals
  // that the kernels' vector reads address directly. The kernels' scf.forall
  // over output tiles becomes an OpenMP worksharing loop (libomp at run
  // time, no MLIR runtime) or a plain loop. Floating-point reductions may
  // be reassociated: the order of the f32 additions inside a dot product is
  // not part of lowbit.qmatmul's contract. The vector ops are lowered to
  // generic LLVM vectors; instruction selection for the host's features
  // happens when mlir-runner (or an AOT driver) compiles.
  std::string pipeline =
      "convert-elementwise-to-linalg,"
      "one-shot-bufferize{bufferize-function-boundaries "
      "function-boundary-type-conversion=identity-layout-map},";
  pipeline +=
      options.parallel ? "scf-forall-to-parallel," : "scf-forall-to-for,";
  // A result that is an argument (an exposed matmul input) leaves a
  // bufferization.clone: convert-bufferization-to-memref copies it.
  pipeline += "buffer-deallocation-pipeline,"
              "convert-bufferization-to-memref,"
              "convert-linalg-to-loops,"
              "convert-vector-to-scf,"
              "expand-strided-metadata,"
              "lower-affine,";
  // Late, so that no canonicalization puts ops next to the omp.loop_nest
  // in its omp.wsloop wrapper; the memref.alloca_scope it wraps the body in
  // is lowered before the loops inside become several blocks.
  if (options.parallel)
    pipeline +=
        "convert-scf-to-openmp{num-threads=" + std::to_string(options.threads) +
        "},"
        "finalize-memref-to-llvm,";
  pipeline += "convert-scf-to-cf,"
              "convert-vector-to-llvm{reassociate-fp-reductions";
  if (options.x86Vector)
    pipeline += " enable-x86vector";
  pipeline += "},"
              "convert-math-to-llvm,"
              "convert-math-to-libm,"
              "convert-arith-to-llvm,"
              "convert-ub-to-llvm,"
              "convert-index-to-llvm,"
              "finalize-memref-to-llvm,";
  if (options.parallel)
    pipeline += "convert-openmp-to-llvm,";
  pipeline += "convert-func-to-llvm,"
              "convert-cf-to-llvm,"
              "reconcile-unrealized-casts";
  if (failed(mlir::parsePassPipeline(pipeline, pm)))
    llvm::report_fatal_error("lowbit: the CPU pipeline does not parse");
}

void registerLowbitPipelines() {
  registerLowbitGpuPipelines();
  mlir::PassPipelineRegistration<QuantizePipelineOptions>(
      "lowbit-quantize-pipeline",
      "Quantize constant weights and fuse dequantization and LoRA into "
      "lowbit.qmatmul",
      buildQuantizePipeline);
  mlir::PassPipelineRegistration<>(
      "lowbit-reference-pipeline",
      "Lower lowbit ops through lowbit-decompose to the LLVM dialect "
      "(reference, executable with mlir-runner)",
      buildReferencePipeline);
  mlir::PassPipelineRegistration<CpuPipelineOptions>(
      "lowbit-cpu-pipeline",
      "Lower lowbit ops through lowbit-lower-cpu (fused vector kernels) to "
      "the LLVM dialect, executable with mlir-runner",
      buildCpuPipeline);
}

} // namespace lowbit
