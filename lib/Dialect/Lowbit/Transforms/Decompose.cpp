//===- Decompose.cpp - Lower lowbit ops to plain upstream ops -------------===//
//
// The reference lowering: every lowbit op becomes arith/linalg/tensor code
// that computes exactly what the numerics core defines. A quantized tensor
// becomes its canonical packed bytes (tensor<Nxi8>); decoding reads codes
// with shifts and masks, looks them up in the format's code table (from
// lib/Numerics), and applies the block scale and zero point in the same
// order of f32 operations as the numerics core, so results are bit-exact.
//
//===----------------------------------------------------------------------===//

#include "DecomposeQuantize.h"
#include "HadamardLowering.h"
#include "PackedAccess.h"
#include "WeightUtils.h"

#include "lowbit/Dialect/Lowbit/IR/LowbitOps.h"
#include "lowbit/Dialect/Lowbit/Transforms/Passes.h"
#include "lowbit/Numerics/Codebooks.h"
#include "lowbit/Numerics/Layout.h"
#include "lowbit/Numerics/Quantize.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITDECOMPOSE
#include "lowbit/Dialect/Lowbit/Transforms/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
namespace nx = ::lowbit::numerics;

namespace {

/// Emits, inside a loop body, the decode of element (row, col) of a packed
/// tensor: the same arithmetic as nx::dequantize, step by step.
class PackedDecoder {
public:
  /// Creates the code tables at the current insertion point (outside the
  /// loop that will call decode()).
  PackedDecoder(OpBuilder &b, Location loc, QTensorType type, Value bytes)
      : reader(b, loc, type, bytes), scheme(reader.getScheme()),
        layout(reader.getLayout()) {
    codeTable = createF32Table(b, loc, nx::codeValues(scheme));
  }

  /// f32 value of element (row, col); both are index values.
  Value decode(OpBuilder &b, Location loc, Value row, Value col) {
    ImplicitLocOpBuilder ib(loc, b);
    unsigned bits = nx::codeBits(scheme.format);
    Value bitPos = arith::MulIOp::create(ib, col, idx(ib, bits));
    Value rowStart = arith::AddIOp::create(
        ib, idx(ib, layout.codes.offset),
        arith::MulIOp::create(ib, row, idx(ib, layout.rowBytes)));
    Value byteIndex = arith::AddIOp::create(
        ib, rowStart, arith::DivUIOp::create(ib, bitPos, idx(ib, 8)));
    Value code = reader.loadByte(ib, byteIndex);
    if (bits != 8) {
      Value shift = toI32(ib, arith::RemUIOp::create(ib, bitPos, idx(ib, 8)));
      if (bits == 3) {
        // A 3-bit code may straddle two bytes; the clamp keeps the read in
        // bounds for the last byte (its extra bits are masked away).
        Value next = arith::MinUIOp::create(
            ib, arith::AddIOp::create(ib, byteIndex, idx(ib, 1)),
            idx(ib, layout.totalBytes - 1));
        Value hi =
            arith::ShLIOp::create(ib, reader.loadByte(ib, next), i32(ib, 8));
        code = arith::OrIOp::create(ib, code, hi);
      }
      code = arith::AndIOp::create(ib, arith::ShRUIOp::create(ib, code, shift),
                                   i32(ib, (1 << bits) - 1));
    }
    Value value = tensor::ExtractOp::create(
        ib, codeTable,
        ValueRange{arith::IndexCastUIOp::create(ib, ib.getIndexType(), code)});

    Value block = row;
    if (layout.blocksPerRow != 1 || !scheme.isPerChannel()) {
      int64_t blockSize = layout.k / layout.blocksPerRow;
      block = arith::AddIOp::create(
          ib, arith::MulIOp::create(ib, row, idx(ib, layout.blocksPerRow)),
          arith::DivUIOp::create(ib, col, idx(ib, blockSize)));
    }
    Value scale = reader.loadBlockScale(ib, block);
    switch (scheme.zeroPoint) {
    case nx::ZeroPoint::None:
      return arith::MulFOp::create(ib, value, scale);
    case nx::ZeroPoint::Int: {
      Value zero = reader.loadIntZeroPoint(ib, block);
      return arith::MulFOp::create(ib, arith::SubFOp::create(ib, value, zero),
                                   scale);
    }
    case nx::ZeroPoint::Min: {
      Value min = reader.loadMinZeroPoint(ib, block);
      return arith::AddFOp::create(ib, arith::MulFOp::create(ib, value, scale),
                                   min);
    }
    }
    llvm_unreachable("unknown zero point kind");
  }

private:
  Value idx(ImplicitLocOpBuilder &b, int64_t v) {
    return arith::ConstantIndexOp::create(b, v);
  }
  Value i32(ImplicitLocOpBuilder &b, int64_t v) {
    return arith::ConstantIntOp::create(b, v, 32);
  }
  Value toI32(ImplicitLocOpBuilder &b, Value index) {
    return arith::IndexCastUIOp::create(b, b.getI32Type(), index);
  }

  PackedScalarReader reader;
  const nx::Scheme &scheme;
  const nx::PackedLayout &layout;
  Value codeTable;
};

/// Converts an f32 value to `type` (f32, f16 or bf16).
Value castFromF32(OpBuilder &b, Location loc, Value v, Type type) {
  if (type.isF32())
    return v;
  return arith::TruncFOp::create(b, loc, type, v);
}

Value castToF32(OpBuilder &b, Location loc, Value v) {
  if (v.getType().isF32())
    return v;
  return arith::ExtFOp::create(b, loc, b.getF32Type(), v);
}

/// The dequantized [rows, K] tensor of `elementType` for packed `bytes`.
Value emitDequantize2D(OpBuilder &b, Location loc, QTensorType type,
                       Value bytes, Type elementType) {
  PackedDecoder decoder(b, loc, type, bytes);
  auto resultType = RankedTensorType::get(
      {type.getNumRows(), type.getReductionSize()}, elementType);
  Value init =
      tensor::EmptyOp::create(b, loc, resultType.getShape(), elementType);
  AffineMap map = b.getMultiDimIdentityMap(2);
  auto generic = linalg::GenericOp::create(
      b, loc, resultType, ValueRange{}, ValueRange{init}, ArrayRef{map},
      SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location nloc, ValueRange) {
        Value row = linalg::IndexOp::create(nb, nloc, 0);
        Value col = linalg::IndexOp::create(nb, nloc, 1);
        Value v = decoder.decode(nb, nloc, row, col);
        linalg::YieldOp::create(nb, nloc,
                                castFromF32(nb, nloc, v, elementType));
      });
  return generic.getResult(0);
}

/// Reshapes a [rows, K] tensor to the quantized tensor's logical shape.
Value expandToShape(OpBuilder &b, Location loc, Value flat, QTensorType type,
                    Type elementType) {
  if (type.getRank() == 2)
    return flat;
  auto resultType = RankedTensorType::get(type.getShape(), elementType);
  if (type.getRank() == 1)
    return tensor::CollapseShapeOp::create(
        b, loc, resultType, flat, SmallVector<ReassociationIndices>{{0, 1}});
  ReassociationIndices leading;
  for (int64_t i = 0; i + 1 < type.getRank(); ++i)
    leading.push_back(i);
  return tensor::ExpandShapeOp::create(
      b, loc, resultType, flat,
      SmallVector<ReassociationIndices>{leading, {type.getRank() - 1}});
}

struct WeightLowering : OpConversionPattern<WeightOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(WeightOp op, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (!op.getData())
      return rewriter.notifyMatchFailure(op, "external weight");
    ElementsAttr data = *op.getData();
    RankedTensorType bytesType = getPackedBytesType(op.getQType());
    // ui8 data is reinterpreted as i8 bytes.
    if (data.getType() != bytesType) {
      std::vector<uint8_t> storage;
      FailureOr<ArrayRef<uint8_t>> raw = getInlineWeightBytes(op, storage);
      if (failed(raw))
        return rewriter.notifyMatchFailure(op, "inline data cannot be read");
      SmallVector<APInt> values;
      for (uint8_t v : *raw)
        values.emplace_back(8, v);
      data = DenseElementsAttr::get(bytesType, values);
    }
    rewriter.replaceOpWithNewOp<arith::ConstantOp>(op, bytesType,
                                                   cast<TypedAttr>(data));
    return success();
  }
};

/// The float constant a lowbit.quantize reads, if it reads one.
FailureOr<FloatConstant> readConstantInput(QuantizeOp op) {
  ElementsAttr attr;
  if (!matchPattern(op.getInput(), m_Constant(&attr)))
    return failure();
  return readFloatConstant(attr);
}

struct QuantizeLowering : OpConversionPattern<QuantizeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(QuantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    QTensorType type = op.getType();
    // Constant inputs are quantized here by the numerics core itself;
    // run-time tensors by IR that mirrors it step for step.
    FailureOr<FloatConstant> constant = readConstantInput(op);
    if (failed(constant)) {
      rewriter.replaceOp(
          op, emitQuantize(rewriter, op.getLoc(), type, adaptor.getInput()));
      return success();
    }
    nx::Scheme scheme = type.getScheme().toNumerics();
    std::vector<uint8_t> packed(type.getPackedSizeInBytes());
    if (nx::Status s =
            nx::quantize(scheme, constant->bytes.data(), constant->elementType,
                         type.getNumRows(), type.getReductionSize(),
                         packed.data(), packed.size());
        !s)
      return op.emitOpError() << s.message();
    SmallVector<APInt> values;
    for (uint8_t v : packed)
      values.emplace_back(8, v);
    RankedTensorType bytesType = getPackedBytesType(type);
    rewriter.replaceOpWithNewOp<arith::ConstantOp>(
        op, bytesType, DenseElementsAttr::get(bytesType, values));
    return success();
  }
};

struct DequantizeLowering : OpConversionPattern<DequantizeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(DequantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    QTensorType type = op.getInput().getType();
    Type elementType = type.getElementType();
    Value flat = emitDequantize2D(rewriter, op.getLoc(), type,
                                  adaptor.getInput(), elementType);
    rewriter.replaceOp(
        op, expandToShape(rewriter, op.getLoc(), flat, type, elementType));
    return success();
  }
};

/// y = x·Wᵀ (+ bias) (+ s·(x·Aᵀ)·Bᵀ), all in f32, then rounded once.
struct QMatmulLowering : OpConversionPattern<QMatmulOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(QMatmulOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    Type f32 = b.getF32Type();
    QTensorType weightType = op.getWeight().getType();
    int64_t n = weightType.getShape()[0];

    Value w =
        emitDequantize2D(b, loc, weightType, adaptor.getWeight(), f32); // [N,K]
    Value x = toF32Matrix(b, loc, op.getInput());                       // [M,K]
    Value y = matmulTransposeB(b, loc, x, w);                           // [M,N]
    if (Value bias = op.getBias())
      y = addBias(b, loc, y, toF32(b, loc, bias));
    if (op.hasLora()) {
      Value xa = matmulTransposeB(b, loc, x, toF32(b, loc, op.getLoraA()));
      Value xab = matmulTransposeB(b, loc, xa, toF32(b, loc, op.getLoraB()));
      y = addScaled(b, loc, y, xab, op.getLoraScaleValue());
    }
    RankedTensorType resultType = op.getType();
    y = castTensor(b, loc, y, resultType.getElementType());
    rewriter.replaceOp(
        op, restoreBatchDims(b, loc, y, op.getInput(), resultType, n));
    return success();
  }

private:
  static Value
  elementwise(OpBuilder &b, Location loc, ValueRange inputs, Type elementType,
              function_ref<Value(OpBuilder &, Location, ValueRange)> body,
              ArrayRef<AffineMap> inputMaps = {}) {
    auto firstType = cast<RankedTensorType>(inputs[0].getType());
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, inputs[0]);
    Value init = tensor::EmptyOp::create(b, loc, sizes, elementType);
    unsigned rank = firstType.getRank();
    SmallVector<AffineMap> maps(inputMaps);
    while (maps.size() < inputs.size())
      maps.push_back(b.getMultiDimIdentityMap(rank));
    maps.push_back(b.getMultiDimIdentityMap(rank));
    return linalg::GenericOp::create(
               b, loc, init.getType(), inputs, ValueRange{init}, maps,
               SmallVector<utils::IteratorType>(rank,
                                                utils::IteratorType::parallel),
               [&](OpBuilder &nb, Location nloc, ValueRange args) {
                 linalg::YieldOp::create(nb, nloc,
                                         body(nb, nloc, args.drop_back()));
               })
        .getResult(0);
  }

  static Value castTensor(OpBuilder &b, Location loc, Value v, Type type) {
    auto tensorType = cast<RankedTensorType>(v.getType());
    if (tensorType.getElementType() == type)
      return v;
    return elementwise(b, loc, {v}, type,
                       [&](OpBuilder &nb, Location nloc, ValueRange args) {
                         Value e = args[0];
                         return type.isF32() ? castToF32(nb, nloc, e)
                                             : castFromF32(nb, nloc, e, type);
                       });
  }

  static Value toF32(OpBuilder &b, Location loc, Value v) {
    return castTensor(b, loc, v, b.getF32Type());
  }

  /// x [..., K] as an f32 [M, K] matrix.
  static Value toF32Matrix(OpBuilder &b, Location loc, Value x) {
    return toF32(b, loc, collapseToMatrix(b, loc, x));
  }

  /// a [M, K] · bᵀ for b [N, K], accumulated in f32 from zero.
  static Value matmulTransposeB(OpBuilder &b, Location loc, Value lhs,
                                Value rhs) {
    SmallVector<OpFoldResult> sizes{tensor::getMixedSize(b, loc, lhs, 0),
                                    tensor::getMixedSize(b, loc, rhs, 0)};
    Value empty = tensor::EmptyOp::create(b, loc, sizes, b.getF32Type());
    Value zero =
        arith::ConstantFloatOp::create(b, loc, b.getF32Type(), APFloat(0.0f));
    Value init = linalg::FillOp::create(b, loc, zero, empty).getResult(0);
    return linalg::MatmulTransposeBOp::create(
               b, loc, init.getType(), ValueRange{lhs, rhs}, ValueRange{init})
        .getResult(0);
  }

  static Value addBias(OpBuilder &b, Location loc, Value y, Value bias) {
    MLIRContext *ctx = b.getContext();
    AffineMap identity = b.getMultiDimIdentityMap(2);
    AffineMap column = AffineMap::get(2, 0, {getAffineDimExpr(1, ctx)}, ctx);
    return elementwise(
        b, loc, {y, bias}, b.getF32Type(),
        [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
          return arith::AddFOp::create(nb, nloc, args[0], args[1]);
        },
        {identity, column});
  }

  static Value addScaled(OpBuilder &b, Location loc, Value y, Value lora,
                         float scale) {
    return elementwise(
        b, loc, {y, lora}, b.getF32Type(),
        [&](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
          Value s = arith::ConstantFloatOp::create(nb, nloc, nb.getF32Type(),
                                                   APFloat(scale));
          return arith::AddFOp::create(
              nb, nloc, args[0], arith::MulFOp::create(nb, nloc, s, args[1]));
        });
  }
};

struct HadamardLowering : OpConversionPattern<HadamardOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(HadamardOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, emitHadamard(rewriter, op.getLoc(),
                                        adaptor.getInput(), op.getBlockSize()));
    return success();
  }
};

struct DecomposePass : mlir::lowbit::impl::LowbitDecomposeBase<DecomposePass> {
  void runOnOperation() override {
    if (failed(checkPackedBytesKnown(getOperation(), "lowbit-decompose")))
      return signalPassFailure();
    PackedBytesTypeConverter converter;
    RewritePatternSet patterns(&getContext());
    populateReferenceLoweringPatterns(converter, patterns);
    if (failed(applyPackedBytesConversion(getOperation(), converter,
                                          std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::lowbit::populateReferenceLoweringPatterns(
    const TypeConverter &converter, RewritePatternSet &patterns) {
  patterns.add<WeightLowering, QuantizeLowering, DequantizeLowering,
               QMatmulLowering, HadamardLowering>(converter,
                                                  patterns.getContext());
}
