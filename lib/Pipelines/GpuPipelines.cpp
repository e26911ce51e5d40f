//===- GpuPipelines.cpp - lowbit GPU pass pipelines -----------------------===//
//
// Besides the pipeline builders, three small passes that only these
// pipelines use (they are not part of the public pass list):
//  - map the kernel form's block forall to a gpu.launch (its block-level
//    allocas become workgroup memory) and its thread foralls to thread ids
//    with upstream's mapNestedForallToThreadsImpl (barriers between them);
//  - lower gpu.subgroup_reduce to warp shuffles (upstream patterns);
//  - on the CPU, replace a subgroup reduction of partials that a previous
//    thread forall stored by the sum of its lanes' entries.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Pipelines/GpuPipelines.h"
#include "GpuHost.h"

#include "lowbit/Dialect/Lowbit/Transforms/Passes.h"
#include "lowbit/Pipelines/Pipelines.h"

#include "mlir/Conversion/VectorToGPU/VectorToGPU.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/TransformOps/GPUTransformOps.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/GPU/Utils/GPUUtils.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/ErrorHandling.h"

using namespace mlir;

namespace lowbit {

const char *getDefaultCudaToolkitPath() {
#ifdef LOWBIT_CUDA_TOOLKIT_PATH
  return LOWBIT_CUDA_TOOLKIT_PATH;
#else
  return "";
#endif
}

namespace {

constexpr int64_t kWarpSize = 32;

/// The static trip count of a single-dimension normalized forall.
std::optional<int64_t> staticCount(scf::ForallOp forall) {
  if (forall.getRank() != 1 || !forall.isNormalized())
    return std::nullopt;
  return getConstantIntValue(forall.getMixedUpperBound()[0]);
}

bool hasMapping(scf::ForallOp forall, bool block) {
  std::optional<ArrayAttr> mapping = forall.getMapping();
  if (!mapping || mapping->size() != 1)
    return false;
  return block ? isa<gpu::GPUBlockMappingAttr>((*mapping)[0])
               : isa<gpu::GPUThreadMappingAttr>((*mapping)[0]);
}

bool hasWarpMapping(scf::ForallOp forall) {
  std::optional<ArrayAttr> mapping = forall.getMapping();
  return mapping && mapping->size() == 1 &&
         isa<gpu::GPUWarpMappingAttr>((*mapping)[0]);
}

/// scf.forall mapped to #gpu.block<x> -> gpu.launch.
struct MapKernelToLaunchPass
    : PassWrapper<MapKernelToLaunchPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(MapKernelToLaunchPass)
  StringRef getArgument() const override { return "lowbit-gpu-map-kernels"; }
  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<gpu::GPUDialect, arith::ArithDialect, affine::AffineDialect,
                    nvgpu::NVGPUDialect>();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<scf::ForallOp> kernels;
    module.walk([&](scf::ForallOp forall) {
      if (hasMapping(forall, /*block=*/true))
        kernels.push_back(forall);
    });
    IRRewriter rewriter(&getContext());
    for (scf::ForallOp forall : kernels)
      if (failed(mapKernel(rewriter, forall)))
        return signalPassFailure();
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    UnitAttr::get(&getContext()));
  }

  LogicalResult mapKernel(IRRewriter &rewriter, scf::ForallOp forall) {
    std::optional<int64_t> grid = staticCount(forall);
    if (!grid || !forall.getOutputs().empty())
      return forall.emitOpError("lowbit GPU mapping: a block forall must be "
                                "one-dimensional, normalized, static and "
                                "have no results");
    // Inline the alloca scopes that keep CPU loops from growing the stack:
    // on the GPU their allocas become workgroup memory.
    SmallVector<memref::AllocaScopeOp> scopes;
    for (Operation &op : forall.getBody()->without_terminator())
      if (auto scope = dyn_cast<memref::AllocaScopeOp>(op))
        scopes.push_back(scope);
    for (memref::AllocaScopeOp scope : scopes) {
      if (scope.getNumResults())
        return scope.emitOpError("lowbit GPU mapping: unexpected results");
      Block *inner = &scope.getBodyRegion().front();
      rewriter.eraseOp(inner->getTerminator());
      rewriter.inlineBlockBefore(inner, scope);
      rewriter.eraseOp(scope);
    }
    int64_t threads = 1;
    forall.getBody()->walk([&](scf::ForallOp inner) {
      std::optional<int64_t> count = staticCount(inner);
      if (!count)
        return;
      if (hasMapping(inner, /*block=*/false))
        threads = std::max(threads, *count);
      else if (hasWarpMapping(inner))
        threads = std::max(threads, *count * kWarpSize);
    });

    Location loc = forall.getLoc();
    rewriter.setInsertionPoint(forall);
    auto c = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    Value one = c(1);
    auto launch = gpu::LaunchOp::create(rewriter, loc, c(*grid), one, one,
                                        c(threads), one, one);
    Block &body = launch.getBody().front();
    if (body.empty() || !isa<gpu::TerminatorOp>(body.back())) {
      rewriter.setInsertionPointToEnd(&body);
      gpu::TerminatorOp::create(rewriter, loc);
    }

    Block *old = forall.getBody();
    rewriter.eraseOp(old->getTerminator());
    rewriter.inlineBlockBefore(old, body.getTerminator(),
                               ValueRange{launch.getBlockIds().x});
    rewriter.eraseOp(forall);

    // Static allocas at block level: one buffer per block, i.e. workgroup
    // memory.
    SmallVector<memref::AllocaOp> allocas;
    for (Operation &op : body)
      if (auto alloca = dyn_cast<memref::AllocaOp>(op))
        allocas.push_back(alloca);
    for (memref::AllocaOp alloca : allocas) {
      MemRefType type = alloca.getType();
      if (!type.hasStaticShape())
        return alloca.emitOpError("lowbit GPU mapping: a block-level buffer "
                                  "must have a static shape");
      auto shared = MemRefType::get(
          type.getShape(), type.getElementType(), MemRefLayoutAttrInterface(),
          gpu::AddressSpaceAttr::get(&getContext(),
                                     gpu::AddressSpace::Workgroup));
      Value buffer = launch.addWorkgroupAttribution(shared, alloca.getLoc());
      rewriter.replaceOp(alloca, buffer);
    }

    // Warp-level contractions of f16 tiles in shared memory (the tensor-core
    // kernel) become ldmatrix + mma.sync on the warp's lanes. Converted per
    // warp forall: upstream's conversion would take scalar arithmetic
    // elsewhere in the kernel for elementwise matrix operations.
    SmallVector<scf::ForallOp> warpLoops;
    body.walk([&](scf::ForallOp inner) {
      if (hasWarpMapping(inner))
        warpLoops.push_back(inner);
    });
    for (scf::ForallOp warpLoop : warpLoops) {
      RewritePatternSet prepare(&getContext());
      populatePrepareVectorToMMAPatterns(prepare, /*useNvGpu=*/true);
      if (failed(applyPatternsGreedily(warpLoop, std::move(prepare))) ||
          failed(convertVectorToNVVMCompatibleMMASync(rewriter, warpLoop)))
        return warpLoop.emitOpError(
            "lowbit GPU mapping: the warp's contractions could not be "
            "converted to mma.sync");
    }

    rewriter.setInsertionPointToStart(&body);
    DiagnosedSilenceableFailure mapped =
        transform::gpu::mapNestedForallToThreadsImpl(
            rewriter, std::nullopt, launch, {threads, 1, 1}, kWarpSize,
            /*syncAfterDistribute=*/true);
    if (!mapped.succeeded())
      return launch.emitOpError("lowbit GPU mapping: the thread foralls "
                                "could not be mapped to thread ids");
    return success();
  }
};

/// gpu.subgroup_reduce -> gpu.shuffle xor butterflies (warp shuffles), and
/// 1-D vector transfers -> vector loads.
struct LowerSubgroupReducePass
    : PassWrapper<LowerSubgroupReducePass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(LowerSubgroupReducePass)
  StringRef getArgument() const override {
    return "lowbit-gpu-subgroup-reduce-to-shuffles";
  }
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    // Packed scale words are read with 1-D transfers; the NVVM conversion
    // expects plain vector loads.
    vector::populateVectorTransferLoweringPatterns(patterns,
                                                   /*maxTransferRank=*/1);
    populateGpuLowerSubgroupReduceToShufflePatterns(patterns, kWarpSize);
    populateGpuLowerClusteredSubgroupReduceToShufflePatterns(patterns,
                                                             kWarpSize);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    // Constants (hoisted out of the launches by the rewrites) go back into
    // the kernels rather than becoming kernel arguments.
    SmallVector<gpu::LaunchOp> launches;
    getOperation().walk([&](gpu::LaunchOp op) { launches.push_back(op); });
    for (gpu::LaunchOp launch : launches)
      if (failed(sinkOperationsIntoLaunchOp(launch, [](Operation *op) {
            return isa<arith::ConstantOp>(op);
          })))
        return signalPassFailure();
  }
};

/// Workgroup buffers aligned to 16 bytes: the tensor-core kernel's tiles are
/// stored with 128-bit stores and read by ldmatrix, which need it (LLVM
/// would otherwise align a buffer to its element type only).
struct AlignWorkgroupBuffersPass
    : PassWrapper<AlignWorkgroupBuffersPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(AlignWorkgroupBuffersPass)
  StringRef getArgument() const override {
    return "lowbit-gpu-align-workgroup-buffers";
  }
  void runOnOperation() override {
    Builder b(&getContext());
    getOperation().walk([&](gpu::GPUFuncOp func) {
      for (unsigned i = 0, e = func.getNumWorkgroupAttributions(); i < e; ++i)
        func.setWorkgroupAttributionAttr(
            i, LLVM::LLVMDialect::getAlignAttrName(), b.getI64IntegerAttr(16));
    });
  }
};

/// Registers what gpu-module-to-binary needs to translate NVVM to LLVM IR
/// (lowbit-opt's registry has the dialects but not their translations).
struct RegisterNvvmTranslationPass
    : PassWrapper<RegisterNvvmTranslationPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(RegisterNvvmTranslationPass)
  StringRef getArgument() const override {
    return "lowbit-gpu-register-translations";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    registerBuiltinDialectTranslation(registry);
    registerGPUDialectTranslation(registry);
    registerLLVMDialectTranslation(registry);
    registerNVVMDialectTranslation(registry);
  }
  void runOnOperation() override {}
};

/// On the CPU, a thread forall is a loop, so a subgroup reduction cannot
/// see the other lanes' values. The kernel form only reduces values that a
/// previous thread forall stored in a block-level buffer, indexed by the
/// thread: `gpu.subgroup_reduce add (memref.load %buf[..., %t])` is the sum
/// of %buf[..., g] over the lanes g of %t's cluster.
struct EmulateSubgroupReduce : OpRewritePattern<gpu::SubgroupReduceOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(gpu::SubgroupReduceOp op,
                                PatternRewriter &rewriter) const override {
    auto load = op.getValue().getDefiningOp<memref::LoadOp>();
    std::optional<uint32_t> cluster = op.getClusterSize();
    if (op.getOp() != gpu::AllReduceOperation::ADD || !cluster ||
        op.getClusterStride() != 1 || !load || load.getIndices().empty() ||
        !isa<FloatType>(op.getType()))
      return rewriter.notifyMatchFailure(op, "not a reduction of partials");
    Value t = load.getIndices().back();
    auto forall = scf::getForallOpThreadIndexOwner(t);
    std::optional<int64_t> count = forall ? staticCount(forall) : std::nullopt;
    if (!count || !hasMapping(forall, /*block=*/false) || *count % *cluster)
      return rewriter.notifyMatchFailure(op, "not indexed by a thread");
    Location loc = op.getLoc();
    auto c = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    Value first = arith::MulIOp::create(
        rewriter, loc, arith::DivUIOp::create(rewriter, loc, t, c(*cluster)),
        c(*cluster));
    Value zero = arith::ConstantOp::create(rewriter, loc,
                                           rewriter.getZeroAttr(op.getType()));
    auto sum = scf::ForOp::create(
        rewriter, loc, c(0), c(*cluster), c(1), ValueRange{zero},
        [&](OpBuilder &b, Location l, Value lane, ValueRange acc) {
          SmallVector<Value> indices(load.getIndices());
          indices.back() = arith::AddIOp::create(b, l, first, lane);
          Value v = memref::LoadOp::create(b, l, load.getMemRef(), indices);
          scf::YieldOp::create(
              b, l, ValueRange{arith::AddFOp::create(b, l, acc[0], v)});
        });
    rewriter.replaceOp(op, sum.getResult(0));
    return success();
  }
};

struct EmulateSubgroupsPass
    : PassWrapper<EmulateSubgroupsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(EmulateSubgroupsPass)
  StringRef getArgument() const override {
    return "lowbit-gpu-emulate-subgroups";
  }
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<EmulateSubgroupReduce>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    WalkResult left = getOperation().walk([](gpu::SubgroupReduceOp op) {
      op.emitOpError("cannot run on the CPU: lowbit emulates only subgroup "
                     "sums of partials stored by a previous thread forall");
      return WalkResult::interrupt();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace

void buildGpuKernelCpuPipeline(OpPassManager &pm) {
  pm.addPass(mlir::lowbit::createLowbitLowerGpu());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(std::make_unique<EmulateSubgroupsPass>());
  // The rest is the CPU pipeline: its lowbit-lower-cpu finds nothing left
  // to lower, and scf-forall-to-for turns blocks and threads into loops.
  CpuPipelineOptions cpu;
  cpu.isa = "generic";
  buildCpuPipeline(pm, cpu);
}

void buildGpuPipeline(OpPassManager &pm, const GpuPipelineOptions &options) {
  pm.addPass(mlir::lowbit::createLowbitLowerGpu());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (options.lowerHost) {
    // Without lowbit ops left, functions inline (lowbit-compile's entry
    // twins call the public functions): host buffers then do not cross
    // function boundaries, and the host pipeline can free them.
    pm.addPass(createInlinerPass());
    pm.addPass(createSymbolDCEPass());
  }
  // Executable host code may hold elementwise tensor ops of other lowbit
  // ops' reference lowering; they bufferize as linalg.
  std::string pipeline =
      options.lowerHost ? "convert-elementwise-to-linalg," : "";
  pipeline += "one-shot-bufferize{bufferize-function-boundaries "
              "function-boundary-type-conversion=identity-layout-map},"
              "canonicalize";
  if (failed(parsePassPipeline(pipeline, pm)))
    llvm::report_fatal_error("lowbit: the GPU pipeline does not parse");
  pm.addPass(std::make_unique<MapKernelToLaunchPass>());
  pm.addPass(std::make_unique<LowerSubgroupReducePass>());
  if (options.lowerHost)
    pm.addPass(createStageBuffersPass());
  std::string attach = "nvvm-attach-target{chip=" + options.chip.getValue() +
                       " O=" + std::to_string(options.optLevel);
  if (!options.features.empty())
    attach += " features=" + options.features.getValue();
  attach += "}";
  std::string binary = "gpu-module-to-binary{format=" + options.format;
  if (!options.cudaPath.empty())
    binary += " toolkit=" + options.cudaPath.getValue();
  binary += "}";
  // Device code: vector transfers and structured control flow are lowered
  // first, then everything to NVVM in one conversion.
  pm.addPass(std::make_unique<RegisterNvvmTranslationPass>());
  if (failed(parsePassPipeline("gpu-kernel-outlining", pm)))
    llvm::report_fatal_error("lowbit: the GPU pipeline does not parse");
  pm.addPass(std::make_unique<AlignWorkgroupBuffersPass>());
  pipeline = attach +
             ",gpu.module(convert-vector-to-scf,expand-strided-metadata,"
             "lower-affine,convert-scf-to-cf,convert-math-to-llvm,"
             "convert-nvgpu-to-nvvm,convert-gpu-to-nvvm,canonicalize,cse,"
             "reconcile-unrealized-casts)";
  if (failed(parsePassPipeline(pipeline, pm)))
    llvm::report_fatal_error("lowbit: the GPU pipeline does not parse");
  if (options.externalWeightsMinBytes > 0)
    pm.addPass(createOutlineDeviceWeightsPass(
        uint64_t(options.externalWeightsMinBytes.getValue())));
  if (failed(parsePassPipeline(binary, pm)))
    llvm::report_fatal_error("lowbit: the GPU pipeline does not parse");
  if (!options.lowerHost)
    return;
  // Host copies of weights that only kernels read are dead now.
  pm.addPass(createSymbolDCEPass());
  pm.addPass(createFreeHostBuffersPass());
  buildGpuHostToLLVM(pm);
  // The host lowering drops the last reads of host weight copies that only
  // kernels needed.
  pm.addPass(createSymbolDCEPass());
}

void registerLowbitGpuPipelines() {
  PassPipelineRegistration<GpuPipelineOptions>(
      "lowbit-gpu-pipeline",
      "Lower lowbit.qmatmul through lowbit-lower-gpu to NVIDIA GPU kernels "
      "(PTX or cubin in a gpu.binary)",
      buildGpuPipeline);
  PassPipelineRegistration<>(
      "lowbit-gpu-kernel-cpu-pipeline",
      "Lower lowbit.qmatmul through lowbit-lower-gpu and run the GPU kernel "
      "form on the CPU (LLVM dialect for mlir-runner)",
      buildGpuKernelCpuPipeline);
}

} // namespace lowbit
