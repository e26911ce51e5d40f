//===- HadamardLowering.cpp - lowbit.hadamard as linalg -------------------===//
//
// Stage h of the fast Walsh-Hadamard transform pairs element j with j + h
// inside each run of 2h elements. Viewing the [M, K] input as
// [M, K/2h, 2, h] puts the pair at indices 0 and 1 of the third dimension,
// so a stage is one parallel linalg.generic that reads its input twice
// (with the third index fixed to 0 and to 1) and writes u + v where the
// index is 0 and u − v where it is 1.
//
//===----------------------------------------------------------------------===//

#include "HadamardLowering.h"
#include "PackedAccess.h"

#include "lowbit/Numerics/Hadamard.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::lowbit;

/// One butterfly stage on an [M, K] tensor; the last one scales by 1/√b
/// and rounds to `resultElement`.
static Value emitStage(OpBuilder &b, Location loc, Value x, int64_t half,
                       Type resultElement, std::optional<float> scale) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t k = type.getShape()[1];
  OpFoldResult rows = tensor::getMixedSize(b, loc, x, 0);
  SmallVector<OpFoldResult> viewSizes{rows, b.getIndexAttr(k / (2 * half)),
                                      b.getIndexAttr(2), b.getIndexAttr(half)};
  SmallVector<int64_t> staticView{type.getShape()[0], k / (2 * half), 2, half};
  SmallVector<ReassociationIndices> split{{0}, {1, 2, 3}};
  Value view = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(staticView, type.getElementType()), x,
      split, viewSizes);
  Value init = tensor::EmptyOp::create(b, loc, viewSizes, resultElement);

  MLIRContext *ctx = b.getContext();
  auto pairMember = [&](int64_t which) {
    return AffineMap::get(4, 0,
                          {getAffineDimExpr(0, ctx), getAffineDimExpr(1, ctx),
                           getAffineConstantExpr(which, ctx),
                           getAffineDimExpr(3, ctx)},
                          ctx);
  };
  SmallVector<AffineMap> maps{pairMember(0), pairMember(1),
                              b.getMultiDimIdentityMap(4)};
  auto stage = linalg::GenericOp::create(
      b, loc, init.getType(), ValueRange{view, view}, ValueRange{init}, maps,
      SmallVector<utils::IteratorType>(4, utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Type f32 = nb.getF32Type();
        auto widen = [&](Value v) -> Value {
          return v.getType().isF32() ? v
                                     : arith::ExtFOp::create(nb, nloc, f32, v);
        };
        Value u = widen(args[0]), v = widen(args[1]);
        Value sum = arith::AddFOp::create(nb, nloc, u, v);
        Value diff = arith::SubFOp::create(nb, nloc, u, v);
        Value index = linalg::IndexOp::create(nb, nloc, 2);
        Value zero = arith::ConstantIndexOp::create(nb, nloc, 0);
        Value first = arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::eq,
                                            index, zero);
        Value out = arith::SelectOp::create(nb, nloc, first, sum, diff);
        if (scale) {
          Value s = arith::ConstantFloatOp::create(nb, nloc, nb.getF32Type(),
                                                   APFloat(*scale));
          out = arith::MulFOp::create(nb, nloc, out, s);
          if (!resultElement.isF32())
            out = arith::TruncFOp::create(nb, nloc, resultElement, out);
        }
        linalg::YieldOp::create(nb, nloc, out);
      });
  return tensor::CollapseShapeOp::create(b, loc, stage.getResult(0), split);
}

Value mlir::lowbit::emitHadamard(OpBuilder &b, Location loc, Value x,
                                 int64_t blockSize) {
  auto type = cast<RankedTensorType>(x.getType());
  Value matrix = collapseToMatrix(b, loc, x);
  float scale = ::lowbit::numerics::hadamardScale(blockSize);
  for (int64_t half = 1; half < blockSize; half *= 2) {
    bool last = 2 * half == blockSize;
    matrix = emitStage(b, loc, matrix, half,
                       last ? type.getElementType() : b.getF32Type(),
                       last ? std::optional<float>(scale) : std::nullopt);
  }
  return restoreBatchDims(b, loc, matrix, x, type, type.getShape().back());
}
