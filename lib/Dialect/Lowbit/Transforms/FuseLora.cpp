//===- FuseLora.cpp - Fold LoRA branches into lowbit.qmatmul --------------===//
//
// `qmatmul(x, W) + s·((x·Aᵀ)·Bᵀ)` becomes `qmatmul(x, W) lora(A, B) scale s`,
// so the runtime computes the adapter next to the quantized matmul instead
// of as two extra matmuls, a multiply and an add.
//
//===----------------------------------------------------------------------===//

#include "LoraMatchers.h"
#include "MatmulMatchers.h"

#include "lowbit/Dialect/Lowbit/IR/LowbitDialect.h"
#include "lowbit/Dialect/Lowbit/IR/LowbitOps.h"
#include "lowbit/Dialect/Lowbit/Transforms/PassCounters.h"
#include "lowbit/Dialect/Lowbit/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITFUSELORA
#include "lowbit/Dialect/Lowbit/Transforms/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;

/// `b` multiplied elementwise by `s` (unchanged when s is 1).
static Value scaleTensor(PatternRewriter &rewriter, Location loc, Value b,
                         double s) {
  if (s == 1.0)
    return b;
  auto type = cast<RankedTensorType>(b.getType());
  auto elt = cast<FloatType>(type.getElementType());
  Value c = arith::ConstantOp::create(
      rewriter, loc,
      DenseElementsAttr::get(type, rewriter.getFloatAttr(elt, s)));
  return arith::MulFOp::create(rewriter, loc, b, c);
}

/// The factor a LoRA matmul reads, as stored: a factor widened from f16 or
/// bf16 (lowbit-import's 16-bit adapters) enters the qmatmul unwidened, since
/// qmatmul converts its operands to f32 exactly as the extension did.
static Value getStoredFactor(Value factor) {
  Value stored = lookThroughFloatExtension(factor);
  if (isa<Float32Type, Float16Type, BFloat16Type>(getElementTypeOrSelf(stored)))
    return stored;
  return factor;
}

/// True when `v`'s elements are of type `elt` or of a narrower float type.
static bool canWidenTo(Value v, Type elt) {
  auto from = cast<FloatType>(getElementTypeOrSelf(v));
  return from == elt || from.getWidth() < cast<FloatType>(elt).getWidth();
}

/// `v` with its elements widened to `elt` (`canWidenTo`).
static Value widenTo(PatternRewriter &rewriter, Location loc, Value v,
                     Type elt) {
  auto type = cast<RankedTensorType>(v.getType());
  if (type.getElementType() == elt)
    return v;
  return arith::ExtFOp::create(rewriter, loc, type.clone(elt), v);
}

/// Folds the branch on one side of an add into the qmatmul on the other.
static LogicalResult fuseLoraAdd(Operation *add, Value lhs, Value rhs,
                                 PatternRewriter &rewriter, int64_t &count) {
  for (auto [base, branch] : {std::pair(lhs, rhs), std::pair(rhs, lhs)}) {
    auto qmm = base.getDefiningOp<QMatmulOp>();
    if (!qmm || !base.hasOneUse() ||
        qmm.getType() != add->getResult(0).getType())
      continue;
    std::optional<LoraBranch> lora = matchLoraBranch(branch, qmm.getInput());
    if (!lora)
      continue;
    QTensorType wType = qmm.getWeight().getType();
    int64_t n = wType.getShape()[0], k = wType.getShape()[1];
    if (lora->down.k != k || lora->up.n != n)
      return rewriter.notifyMatchFailure(add, "LoRA shapes do not match W");
    // Both matmuls compute in the type of x.
    Type branchType = getElementTypeOrSelf(lora->down.weight);
    if (qmm.hasLora() && (!canWidenTo(qmm.getLoraA(), branchType) ||
                          !canWidenTo(qmm.getLoraB(), branchType)))
      return rewriter.notifyMatchFailure(add, "adapter element types differ");

    Location loc = add->getLoc();
    FloatAttr scaleAttr;
    Value a, b;
    if (qmm.hasLora()) {
      // Another adapter: stack along r, with each scale folded into its B, in
      // the type the branches compute in (factors that an earlier fusion kept
      // in 16 bits are widened back, so that the scales do not round).
      a = getWeightAsNK(rewriter, loc, lora->down.weight,
                        lora->down.weightIsNK);
      b = getWeightAsNK(rewriter, loc, lora->up.weight, lora->up.weightIsNK);
      a = tensor::ConcatOp::create(
          rewriter, loc, /*dim=*/0,
          ValueRange{widenTo(rewriter, loc, qmm.getLoraA(), branchType), a});
      Value oldB = scaleTensor(
          rewriter, loc, widenTo(rewriter, loc, qmm.getLoraB(), branchType),
          qmm.getLoraScaleValue());
      b = tensor::ConcatOp::create(
          rewriter, loc, /*dim=*/1,
          ValueRange{oldB, scaleTensor(rewriter, loc, b, lora->scale)});
    } else {
      a = getWeightAsNK(rewriter, loc, getStoredFactor(lora->down.weight),
                        lora->down.weightIsNK);
      b = getWeightAsNK(rewriter, loc, getStoredFactor(lora->up.weight),
                        lora->up.weightIsNK);
      if (lora->scale != 1.0)
        scaleAttr = rewriter.getF32FloatAttr(float(lora->scale));
    }
    rewriter.replaceOpWithNewOp<QMatmulOp>(add, qmm.getType(), qmm.getInput(),
                                           qmm.getWeight(), qmm.getBias(), a, b,
                                           scaleAttr);
    ++count;
    return success();
  }
  return rewriter.notifyMatchFailure(add, "not qmatmul + LoRA branch");
}

namespace {
/// `qmatmul + branch` as `arith.addf`, `linalg.add` or an elementwise
/// `linalg.generic` adding its two inputs.
template <typename AddOp> struct FuseLoraIntoQMatmul : OpRewritePattern<AddOp> {
  FuseLoraIntoQMatmul(MLIRContext *ctx, int64_t &count)
      : OpRewritePattern<AddOp>(ctx), count(count) {}

  LogicalResult matchAndRewrite(AddOp op,
                                PatternRewriter &rewriter) const override {
    auto operands = matchElementwiseAdd(op);
    if (!operands)
      return failure();
    return fuseLoraAdd(op, operands->first, operands->second, rewriter, count);
  }

  int64_t &count;
};
} // namespace

//===----------------------------------------------------------------------===//
// Pass
//===----------------------------------------------------------------------===//

namespace {
struct LowbitFuseLoraPass
    : mlir::lowbit::impl::LowbitFuseLoraBase<LowbitFuseLoraPass> {
  using LowbitFuseLoraBase::LowbitFuseLoraBase;

  void runOnOperation() override {
    int64_t fused = 0;
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseLoraIntoQMatmul<arith::AddFOp>,
                 FuseLoraIntoQMatmul<linalg::AddOp>,
                 FuseLoraIntoQMatmul<linalg::GenericOp>>(&getContext(), fused);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
    if (stats) {
      PassCounters counters{"adapters-fused"};
      counters["adapters-fused"] = fused;
      counters.report(getOperation(), getArgument());
    }
  }
};
} // namespace
