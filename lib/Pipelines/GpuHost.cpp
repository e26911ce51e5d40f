//===- GpuHost.cpp - host side of lowbit-gpu-pipeline{lower-host} ---------===//

#include "GpuHost.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Utils/GPUUtils.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/CallInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/ErrorHandling.h"

using namespace mlir;

namespace lowbit {

namespace {

/// Calls `visit` on every use of `buffer` and of the views derived from it
/// (subview, cast, reshape, ...). The views themselves are not visited.
void forEachUse(Value buffer, llvm::function_ref<void(OpOperand &)> visit) {
  SmallVector<Value> worklist = {buffer};
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    for (OpOperand &use : value.getUses()) {
      auto view = dyn_cast<ViewLikeOpInterface>(use.getOwner());
      if (view && view.getViewSource() == value) {
        llvm::append_range(worklist, use.getOwner()->getResults());
        continue;
      }
      visit(use);
    }
  }
}

/// Whether an op inside `region` may write `buffer` (or a view of it).
/// Ops that do not declare their memory effects count as writing.
bool mayWriteIn(Value buffer, Region &region) {
  bool writes = false;
  forEachUse(buffer, [&](OpOperand &use) {
    Operation *user = use.getOwner();
    if (writes || !region.isAncestor(user->getParentRegion()))
      return;
    auto effects = dyn_cast<MemoryEffectOpInterface>(user);
    if (!effects) {
      writes = true;
      return;
    }
    SmallVector<MemoryEffects::EffectInstance> list;
    effects.getEffects(list);
    for (const MemoryEffects::EffectInstance &effect : list)
      if (isa<MemoryEffects::Write>(effect.getEffect()) &&
          (!effect.getValue() || effect.getValue() == use.get()))
        writes = true;
  });
  return writes;
}

bool isConstantGlobal(Operation *op, SymbolTableCollection &symbols) {
  auto get = dyn_cast<memref::GetGlobalOp>(op);
  if (!get)
    return false;
  auto global =
      symbols.lookupNearestSymbolFrom<memref::GlobalOp>(get, get.getNameAttr());
  return global && global.getConstant();
}

struct StageBuffersPass
    : PassWrapper<StageBuffersPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(StageBuffersPass)
  StringRef getArgument() const override { return "lowbit-gpu-stage-buffers"; }
  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<gpu::GPUDialect, memref::MemRefDialect>();
  }

  void runOnOperation() override {
    SmallVector<gpu::LaunchOp> launches;
    getOperation().walk([&](gpu::LaunchOp op) { launches.push_back(op); });
    SymbolTableCollection symbols;
    for (gpu::LaunchOp launch : launches)
      if (failed(stage(launch, symbols)))
        return signalPassFailure();
  }

  LogicalResult stage(gpu::LaunchOp launch, SymbolTableCollection &symbols) {
    if (launch.getAsyncToken() || !launch.getAsyncDependencies().empty())
      return launch.emitOpError("lowbit GPU host lowering: asynchronous "
                                "launches are not supported");
    // Weights (constant globals) are read by the kernel from its own copy.
    if (failed(sinkOperationsIntoLaunchOp(launch, [&](Operation *op) {
          return isa<arith::ConstantOp>(op) || isConstantGlobal(op, symbols);
        })))
      return failure();

    llvm::SetVector<Value> captured;
    getUsedValuesDefinedAbove(launch.getBody(), captured);
    Location loc = launch.getLoc();
    OpBuilder before(launch);
    OpBuilder after(launch->getContext());
    after.setInsertionPointAfter(launch);
    for (Value host : captured) {
      auto type = dyn_cast<MemRefType>(host.getType());
      if (!type)
        continue;
      if (!type.hasStaticShape() || !type.getLayout().isIdentity() ||
          type.getMemorySpace())
        return launch.emitOpError("lowbit GPU host lowering: a kernel uses a "
                                  "buffer of type ")
               << type
               << "; only dense, statically shaped host buffers (identity "
                  "layout, default memory space) can be copied to the GPU";
      bool written = mayWriteIn(host, launch.getBody());
      auto device = gpu::AllocOp::create(before, loc, type,
                                         /*asyncToken=*/Type(), ValueRange(),
                                         ValueRange(), ValueRange(),
                                         /*hostShared=*/false);
      gpu::MemcpyOp::create(before, loc, /*asyncToken=*/Type(), ValueRange(),
                            device.getMemref(), host);
      replaceAllUsesInRegionWith(host, device.getMemref(), launch.getBody());
      if (written)
        gpu::MemcpyOp::create(after, loc, /*asyncToken=*/Type(), ValueRange(),
                              host, device.getMemref());
      gpu::DeallocOp::create(after, loc, /*asyncToken=*/Type(), ValueRange(),
                             device.getMemref());
    }
    return success();
  }
};

/// Whether `buffer` or a view of it leaves the function: returned, passed
/// to a call, or stored in memory.
bool escapes(Value buffer) {
  bool escaped = false;
  forEachUse(buffer, [&](OpOperand &use) {
    Operation *user = use.getOwner();
    if (isa<func::ReturnOp, CallOpInterface>(user))
      escaped = true;
    else if (auto store = dyn_cast<memref::StoreOp>(user))
      escaped |= store.getValueToStore() == use.get();
  });
  return escaped;
}

struct FreeHostBuffersPass
    : PassWrapper<FreeHostBuffersPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(FreeHostBuffersPass)
  StringRef getArgument() const override {
    return "lowbit-gpu-free-host-buffers";
  }

  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isDeclaration())
        continue;
      if (failed(freeBuffers(func)))
        return signalPassFailure();
    }
  }

  LogicalResult freeBuffers(func::FuncOp func) {
    SmallVector<memref::AllocOp> allocs;
    WalkResult walked = func.walk([&](memref::AllocOp alloc) {
      if (alloc->getBlock() != &func.getBody().front()) {
        alloc.emitOpError("lowbit GPU host lowering: a host buffer allocated "
                          "inside a loop or branch is not freed "
                          "automatically yet");
        return WalkResult::interrupt();
      }
      allocs.push_back(alloc);
      return WalkResult::advance();
    });
    if (walked.wasInterrupted())
      return failure();
    SmallVector<func::ReturnOp> returns(func.getOps<func::ReturnOp>());
    for (memref::AllocOp alloc : allocs) {
      if (escapes(alloc.getResult()))
        continue;
      for (func::ReturnOp ret : returns) {
        OpBuilder b(ret);
        memref::DeallocOp::create(b, alloc.getLoc(), alloc.getResult());
      }
    }
    return success();
  }
};

} // namespace

std::unique_ptr<Pass> createStageBuffersPass() {
  return std::make_unique<StageBuffersPass>();
}

std::unique_ptr<Pass> createFreeHostBuffersPass() {
  return std::make_unique<FreeHostBuffersPass>();
}

void buildGpuHostToLLVM(OpPassManager &pm) {
  const char *pipeline = "func.func(gpu-async-region),"
                         "convert-linalg-to-loops,"
                         "convert-vector-to-scf,"
                         "expand-strided-metadata,"
                         "lower-affine,"
                         "convert-scf-to-cf,"
                         "convert-vector-to-llvm,"
                         "convert-math-to-llvm,"
                         "convert-math-to-libm,"
                         "convert-arith-to-llvm,"
                         "convert-index-to-llvm,"
                         "finalize-memref-to-llvm,"
                         "convert-func-to-llvm,"
                         "convert-cf-to-llvm,"
                         "gpu-to-llvm,"
                         "reconcile-unrealized-casts";
  if (failed(parsePassPipeline(pipeline, pm)))
    llvm::report_fatal_error("lowbit: the GPU host pipeline does not parse");
}

} // namespace lowbit
