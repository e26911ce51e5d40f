//===- CpuHadamard.cpp - lowbit.hadamard as CPU vector code ---------------===//
//
// A block of b elements is read into b/w vectors of w f32 lanes (w a power
// of two). Stage h of the butterfly pairs lane j with lane j + h: for
// h < w both are in one vector, which a shuffle (lane j ↔ lane j xor h)
// and a multiply-add with ±1 turn into (u + v, u − v) exactly; for h ≥ w
// they are whole vectors, added and subtracted. Every stage stays in
// registers, and the sums are rounded as in lib/Numerics/Hadamard.cpp, so
// the result is bit-exact with the numerics core.
//
//===----------------------------------------------------------------------===//

#include "CpuHadamard.h"
#include "CpuKernelSupport.h"
#include "PackedAccess.h"

#include "lowbit/Dialect/Lowbit/IR/LowbitOps.h"
#include "lowbit/Numerics/Hadamard.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::lowbit;

namespace {

/// Blocks of more vectors than this are left to the reference lowering
/// (unrolling them would only spill).
constexpr int64_t kMaxVectorsPerBlock = 64;

struct CpuHadamardLowering : OpConversionPattern<HadamardOp> {
  CpuHadamardLowering(const TypeConverter &converter, MLIRContext *ctx,
                      int64_t vectorWidth)
      : OpConversionPattern(converter, ctx, /*benefit=*/2),
        vectorWidth(vectorWidth) {}

  LogicalResult
  matchAndRewrite(HadamardOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    int64_t block = op.getBlockSize();
    int64_t lanes = 1;
    while (lanes * 2 <= std::min(vectorWidth, block))
      lanes *= 2;
    if (block / lanes > kMaxVectorsPerBlock)
      return rewriter.notifyMatchFailure(op, "block too large to unroll");

    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    auto type = cast<RankedTensorType>(op.getType());
    Type element = type.getElementType();
    int64_t k = type.getShape().back();
    Value x = collapseToMatrix(b, b.getLoc(), adaptor.getInput()); // [M, K]
    // Static sizes stay static, so the result reshapes back to x's type.
    OpFoldResult rowCount = tensor::getMixedSize(b, b.getLoc(), x, 0);
    Value rows = getValueOrCreateConstantIndexOp(b, b.getLoc(), rowCount);
    Value init = tensor::EmptyOp::create(
        b, ArrayRef<OpFoldResult>{rowCount, b.getIndexAttr(k)}, element);
    float scale = ::lowbit::numerics::hadamardScale(block);

    auto rowLoop = scf::ForOp::create(
        b, cIdx(b, 0), rows, cIdx(b, 1), ValueRange{init},
        [&](OpBuilder &rb, Location loc, Value row, ValueRange rowArgs) {
          auto blockLoop = scf::ForOp::create(
              rb, loc, cIdx(b, 0), cIdx(b, k), cIdx(b, block), rowArgs,
              [&](OpBuilder &bb, Location bloc, Value base, ValueRange args) {
                ImplicitLocOpBuilder ib(bloc, bb);
                Value out = rotateBlock(ib, x, args[0], row, base, block, lanes,
                                        scale, element);
                scf::YieldOp::create(ib, out);
              });
          scf::YieldOp::create(rb, loc, blockLoop.getResult(0));
        });
    rewriter.replaceOp(op, restoreBatchDims(b, b.getLoc(), rowLoop.getResult(0),
                                            adaptor.getInput(), type, k));
    return success();
  }

private:
  /// Rotates x[row, base : base + block] into `out`; returns the new `out`.
  static Value rotateBlock(ImplicitLocOpBuilder &b, Value x, Value out,
                           Value row, Value base, int64_t block, int64_t lanes,
                           float scale, Type element) {
    int64_t count = block / lanes;
    SmallVector<Value> v;
    for (int64_t i = 0; i < count; ++i)
      v.push_back(
          readRowChunk(b, x, row, addIdx(b, base, cIdx(b, i * lanes)), lanes));
    auto vecType = VectorType::get({lanes}, b.getF32Type());
    for (int64_t half = 1; half < block; half *= 2) {
      if (half < lanes) {
        SmallVector<int64_t> partner;
        SmallVector<float> sign;
        for (int64_t j = 0; j < lanes; ++j) {
          partner.push_back(j ^ half);
          sign.push_back(j & half ? -1.0f : 1.0f);
        }
        Value signs = arith::ConstantOp::create(
            b, DenseElementsAttr::get(vecType, ArrayRef<float>(sign)));
        // Lane j < its partner: u + v; otherwise: u − v with u the
        // partner's value. v·(±1) is exact, so the FMA rounds once like
        // the addition it stands for.
        for (Value &vec : v) {
          Value swapped = vector::ShuffleOp::create(b, vec, vec, partner);
          vec = vector::FMAOp::create(b, vec, signs, swapped);
        }
      } else {
        int64_t stride = half / lanes;
        for (int64_t i = 0; i < count; ++i) {
          if ((i / stride) % 2)
            continue;
          Value u = v[i], w = v[i + stride];
          v[i] = arith::AddFOp::create(b, u, w);
          v[i + stride] = arith::SubFOp::create(b, u, w);
        }
      }
    }
    Value factor = arith::ConstantOp::create(
        b, DenseElementsAttr::get(vecType, ArrayRef<float>(scale)));
    for (int64_t i = 0; i < count; ++i) {
      Value vec = arith::MulFOp::create(b, v[i], factor);
      if (!element.isF32())
        vec =
            arith::TruncFOp::create(b, VectorType::get({lanes}, element), vec);
      out =
          vector::TransferWriteOp::create(
              b, vec, out, ValueRange{row, addIdx(b, base, cIdx(b, i * lanes))},
              ArrayRef<bool>{true})
              .getResult();
    }
    return out;
  }

  int64_t vectorWidth;
};

} // namespace

void mlir::lowbit::populateCpuHadamardPatterns(const TypeConverter &converter,
                                               RewritePatternSet &patterns,
                                               int64_t vectorWidth) {
  patterns.add<CpuHadamardLowering>(converter, patterns.getContext(),
                                    vectorWidth);
}
