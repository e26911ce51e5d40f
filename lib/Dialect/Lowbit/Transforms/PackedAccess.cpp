//===- PackedAccess.cpp - Reading packed weights in lowered IR ------------===//

#include "PackedAccess.h"

#include "lowbit/Numerics/Codebooks.h"
#include "lowbit/Numerics/DoubleQuant.h"
#include "lowbit/Numerics/FloatTypes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Func/Transforms/FuncConversions.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::lowbit;
namespace nx = ::lowbit::numerics;

RankedTensorType mlir::lowbit::getPackedBytesType(QTensorType type) {
  return RankedTensorType::get({int64_t(type.getPackedSizeInBytes())},
                               IntegerType::get(type.getContext(), 8));
}

PackedBytesTypeConverter::PackedBytesTypeConverter() {
  addConversion([](Type type) { return type; });
  addConversion(
      [](QTensorType type) -> Type { return getPackedBytesType(type); });
}

Value mlir::lowbit::createF32Table(OpBuilder &b, Location loc,
                                   ArrayRef<float> values) {
  auto type = RankedTensorType::get({int64_t(values.size())}, b.getF32Type());
  return arith::ConstantOp::create(b, loc,
                                   DenseElementsAttr::get(type, values));
}

//===----------------------------------------------------------------------===//
// PackedScalarReader
//===----------------------------------------------------------------------===//

static Value idx(ImplicitLocOpBuilder &b, int64_t v) {
  return arith::ConstantIndexOp::create(b, v);
}
static Value i32(ImplicitLocOpBuilder &b, int64_t v) {
  return arith::ConstantIntOp::create(b, v, 32);
}

PackedScalarReader::PackedScalarReader(OpBuilder &b, Location loc,
                                       QTensorType type, Value bytes,
                                       bool wordReads)
    : bytes(bytes), scheme(type.getScheme().toNumerics()),
      layout(*nx::computeLayout(scheme, type.getNumRows(),
                                type.getReductionSize())),
      wordReads(wordReads) {
  if (scheme.hasDoubleQuant())
    dqTable =
        createF32Table(b, loc, nx::doubleQuantCodeValues(scheme.doubleQuant));
}

Value PackedScalarReader::loadByte(ImplicitLocOpBuilder &b, Value index) {
  Value byte = tensor::ExtractOp::create(b, bytes, ValueRange{index});
  return arith::ExtUIOp::create(b, b.getI32Type(), byte);
}

/// Little-endian integer of `count` bytes at offset + element * count.
Value PackedScalarReader::loadWord(ImplicitLocOpBuilder &b, uint64_t offset,
                                   Value element, unsigned count) {
  Value base = arith::AddIOp::create(
      b, idx(b, offset), arith::MulIOp::create(b, element, idx(b, count)));
  if (wordReads) {
    // The bytes as one vector, reinterpreted as one integer (x86 and the
    // packed layout are both little-endian; vector.bitcast follows the
    // target's byte order, so only little-endian targets take this path).
    Value pad = arith::ConstantIntOp::create(b, 0, 8);
    Value raw = vector::TransferReadOp::create(
        b, VectorType::get({int64_t(count)}, b.getI8Type()), bytes,
        ValueRange{base}, pad, ArrayRef<bool>{true});
    Type wordType = b.getIntegerType(8 * count);
    Value word = vector::ExtractOp::create(
        b, vector::BitCastOp::create(b, VectorType::get({1}, wordType), raw),
        ArrayRef<int64_t>{0});
    if (count == 4)
      return word;
    return arith::ExtUIOp::create(b, b.getI32Type(), word);
  }
  Value word = i32(b, 0);
  for (unsigned i = 0; i < count; ++i) {
    Value byte =
        loadByte(b, arith::AddIOp::create(b, base, idx(b, int64_t(i))));
    word = arith::OrIOp::create(b, word,
                                arith::ShLIOp::create(b, byte, i32(b, 8 * i)));
  }
  return word;
}

/// A value of the scale type stored at offset + element * size, as f32.
Value PackedScalarReader::loadScaleValue(ImplicitLocOpBuilder &b,
                                         uint64_t offset, Value element) {
  switch (scheme.scaleType) {
  case nx::ScaleType::F32:
    return arith::BitcastOp::create(b, b.getF32Type(),
                                    loadWord(b, offset, element, 4));
  case nx::ScaleType::F16:
  case nx::ScaleType::BF16: {
    Value half = arith::TruncIOp::create(b, b.getI16Type(),
                                         loadWord(b, offset, element, 2));
    Type type = scheme.scaleType == nx::ScaleType::F16 ? Type(b.getF16Type())
                                                       : Type(b.getBF16Type());
    Value narrow = arith::BitcastOp::create(b, type, half);
    return arith::ExtFOp::create(b, Type(b.getF32Type()), narrow);
  }
  }
  llvm_unreachable("unknown scale type");
}

Value PackedScalarReader::loadF32(ImplicitLocOpBuilder &b, uint64_t offset,
                                  Value element) {
  return arith::BitcastOp::create(b, b.getF32Type(),
                                  loadWord(b, offset, element, 4));
}

/// An f32 constant shaped like `like` (f32 or a vector of f32).
static Value f32Like(ImplicitLocOpBuilder &b, Value like, float value) {
  if (auto type = dyn_cast<VectorType>(like.getType()))
    return arith::ConstantOp::create(b, DenseElementsAttr::get(type, value));
  return arith::ConstantFloatOp::create(b, b.getF32Type(), APFloat(value));
}

/// `type` with the element type of `like` replaced by `element`.
static Type withElement(Value like, Type element) {
  if (auto type = dyn_cast<VectorType>(like.getType()))
    return type.clone(element);
  return element;
}

/// code value · scale scale + offset, then nx::roundScale's clamp, NaN rule
/// and rounding to the scale type: like nx::doubleDequantizeScales, on
/// scalars or vectors of f32 alike.
Value PackedScalarReader::finishDoubleQuant(ImplicitLocOpBuilder &b,
                                            Value codeValue, Value scaleScale,
                                            Value offset) {
  Value s = arith::AddFOp::create(
      b, arith::MulFOp::create(b, codeValue, scaleScale), offset);
  float limit = nx::maxFiniteScale(scheme.scaleType);
  Value isNaN = arith::CmpFOp::create(b, arith::CmpFPredicate::UNO, s, s);
  Value clamped = arith::MaximumFOp::create(
      b, arith::MinimumFOp::create(b, s, f32Like(b, s, limit)),
      f32Like(b, s, -limit));
  Value zero = f32Like(b, s, 0.0f);
  s = arith::SelectOp::create(b, isNaN, zero, clamped);
  if (scheme.scaleType != nx::ScaleType::F32) {
    Type type = scheme.scaleType == nx::ScaleType::F16 ? Type(b.getF16Type())
                                                       : Type(b.getBF16Type());
    Value narrow = arith::TruncFOp::create(b, withElement(s, type), s);
    s = arith::ExtFOp::create(b, s.getType(), narrow);
  }
  // nx::roundScale turns -0 into +0.
  return arith::AddFOp::create(b, s, zero);
}

Value PackedScalarReader::loadBlockScale(ImplicitLocOpBuilder &b, Value block) {
  if (!scheme.hasDoubleQuant())
    return loadScaleValue(b, layout.scales.offset, block);
  Value code = loadByte(
      b, arith::AddIOp::create(b, idx(b, layout.scales.offset), block));
  Value codeValue = tensor::ExtractOp::create(
      b, dqTable,
      ValueRange{arith::IndexCastUIOp::create(b, b.getIndexType(), code)});
  Value group =
      arith::DivUIOp::create(b, block, idx(b, scheme.doubleQuantBlockSize));
  Value scaleScale = loadF32(b, layout.scaleScales.offset, group);
  Value offset = loadF32(b, layout.scaleOffset.offset, idx(b, 0));
  return finishDoubleQuant(b, codeValue, scaleScale, offset);
}

//===----------------------------------------------------------------------===//
// Runs of blocks as vectors
//===----------------------------------------------------------------------===//

/// `count` consecutive little-endian integers of `size` bytes from
/// offset + first * size, as vector<count x i(8 size)> (one load).
Value PackedScalarReader::loadWords(ImplicitLocOpBuilder &b, uint64_t offset,
                                    Value first, int64_t count, unsigned size) {
  Value base = arith::AddIOp::create(
      b, idx(b, offset), arith::MulIOp::create(b, first, idx(b, size)));
  Value pad = arith::ConstantIntOp::create(b, 0, 8);
  Value raw = vector::TransferReadOp::create(
      b, VectorType::get({count * size}, b.getI8Type()), bytes,
      ValueRange{base}, pad, ArrayRef<bool>{true});
  if (size == 1)
    return raw;
  return vector::BitCastOp::create(
      b, VectorType::get({count}, b.getIntegerType(8 * size)), raw);
}

Value PackedScalarReader::loadScaleValues(ImplicitLocOpBuilder &b,
                                          uint64_t offset, Value first,
                                          int64_t count) {
  Type element;
  switch (scheme.scaleType) {
  case nx::ScaleType::F32:
    element = b.getF32Type();
    break;
  case nx::ScaleType::F16:
    element = b.getF16Type();
    break;
  case nx::ScaleType::BF16:
    element = b.getBF16Type();
    break;
  }
  unsigned size = element.getIntOrFloatBitWidth() / 8;
  Value words = loadWords(b, offset, first, count, size);
  Value values =
      arith::BitcastOp::create(b, VectorType::get({count}, element), words);
  if (element.isF32())
    return values;
  return arith::ExtFOp::create(b, VectorType::get({count}, b.getF32Type()),
                               values);
}

Value PackedScalarReader::loadBlockScales(ImplicitLocOpBuilder &b, Value first,
                                          int64_t count) {
  if (!scheme.hasDoubleQuant())
    return loadScaleValues(b, layout.scales.offset, first, count);
  auto vecF32 = VectorType::get({count}, b.getF32Type());
  int64_t groupSize = scheme.doubleQuantBlockSize;
  if (count > groupSize) {
    // More blocks than a second-level group: block by block.
    SmallVector<Value> scales;
    for (int64_t i = 0; i < count; ++i)
      scales.push_back(
          loadBlockScale(b, arith::AddIOp::create(b, first, idx(b, i))));
    return vector::FromElementsOp::create(b, vecF32, scales);
  }
  // The codes' table values by one gather from the 256-entry table.
  Value codes = loadWords(b, layout.scales.offset, first, count, 1);
  Value indices = arith::IndexCastUIOp::create(
      b, VectorType::get({count}, b.getIndexType()),
      arith::ExtUIOp::create(b, VectorType::get({count}, b.getI32Type()),
                             codes));
  Value mask = arith::ConstantOp::create(
      b, DenseElementsAttr::get(VectorType::get({count}, b.getI1Type()), true));
  Value codeValues = vector::GatherOp::create(
      b, vecF32, dqTable, ValueRange{idx(b, 0)}, indices, mask,
      arith::ConstantOp::create(b, DenseElementsAttr::get(vecF32, 0.0f)));
  // The run spans at most two second-level groups (count <= group size):
  // lanes before the next group's first block take the first group's
  // scale, the others the next one's.
  Value group = arith::DivUIOp::create(b, first, idx(b, groupSize));
  Value last = arith::DivUIOp::create(
      b, arith::AddIOp::create(b, first, idx(b, count - 1)), idx(b, groupSize));
  Value firstScale = loadF32(b, layout.scaleScales.offset, group);
  Value lastScale = loadF32(b, layout.scaleScales.offset, last);
  Value boundary = arith::SubIOp::create(
      b,
      arith::MulIOp::create(b, arith::AddIOp::create(b, group, idx(b, 1)),
                            idx(b, groupSize)),
      first);
  SmallVector<int64_t> lanes;
  for (int64_t i = 0; i < count; ++i)
    lanes.push_back(i);
  auto vecIndex = VectorType::get({count}, b.getIndexType());
  Value inFirst = arith::CmpIOp::create(
      b, arith::CmpIPredicate::ult,
      arith::ConstantOp::create(
          b, DenseElementsAttr::get(vecIndex, ArrayRef<int64_t>(lanes))),
      vector::BroadcastOp::create(b, vecIndex, boundary));
  Value scaleScales = arith::SelectOp::create(
      b, inFirst, vector::BroadcastOp::create(b, vecF32, firstScale),
      vector::BroadcastOp::create(b, vecF32, lastScale));
  Value offset = vector::BroadcastOp::create(
      b, vecF32, loadF32(b, layout.scaleOffset.offset, idx(b, 0)));
  return finishDoubleQuant(b, codeValues, scaleScales, offset);
}

Value PackedScalarReader::loadIntZeroPoints(ImplicitLocOpBuilder &b,
                                            Value first, int64_t count) {
  Value codes = loadWords(b, layout.zeroPoints.offset, first, count, 1);
  return arith::UIToFPOp::create(
      b, VectorType::get({count}, b.getF32Type()),
      arith::ExtUIOp::create(b, VectorType::get({count}, b.getI32Type()),
                             codes));
}

Value PackedScalarReader::loadMinZeroPoints(ImplicitLocOpBuilder &b,
                                            Value first, int64_t count) {
  return loadScaleValues(b, layout.zeroPoints.offset, first, count);
}

Value PackedScalarReader::loadIntZeroPoint(ImplicitLocOpBuilder &b,
                                           Value block) {
  return arith::UIToFPOp::create(
      b, b.getF32Type(),
      loadByte(b, arith::AddIOp::create(b, idx(b, layout.zeroPoints.offset),
                                        block)));
}

Value PackedScalarReader::loadMinZeroPoint(ImplicitLocOpBuilder &b,
                                           Value block) {
  return loadScaleValue(b, layout.zeroPoints.offset, block);
}

//===----------------------------------------------------------------------===//
// Conversion driver
//===----------------------------------------------------------------------===//

LogicalResult mlir::lowbit::checkPackedBytesKnown(Operation *root,
                                                  StringRef passName) {
  WalkResult result = root->walk([&](Operation *op) {
    if (auto weight = dyn_cast<WeightOp>(op); weight && !weight.getData()) {
      if (passName == "lowbit-decompose")
        weight.emitOpError("external weights cannot be decomposed: their "
                           "bytes are only known at run time");
      else
        weight.emitOpError("external weights are not supported by ")
            << passName << ": their bytes are only known at run time";
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return failure(result.wasInterrupted());
}

LogicalResult
mlir::lowbit::applyPackedBytesConversion(Operation *root,
                                         const TypeConverter &converter,
                                         RewritePatternSet &&patterns) {
  MLIRContext *ctx = root->getContext();
  ConversionTarget target(*ctx);
  target.addIllegalDialect<LowbitDialect>();
  target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect,
                         tensor::TensorDialect, scf::SCFDialect,
                         vector::VectorDialect>();
  target.markUnknownOpDynamicallyLegal([&](Operation *op) {
    if (auto func = dyn_cast<FunctionOpInterface>(op)) {
      // Other function types (llvm.func helpers) never carry qtensors.
      auto type = dyn_cast<FunctionType>(func.getFunctionType());
      return !type || (converter.isSignatureLegal(type) &&
                       converter.isLegal(&func.getFunctionBody()));
    }
    return converter.isLegal(op);
  });
  populateFunctionOpInterfaceTypeConversionPattern<func::FuncOp>(patterns,
                                                                 converter);
  populateReturnOpTypeConversionPattern(patterns, converter);
  populateCallOpTypeConversionPattern(patterns, converter);
  populateBranchOpInterfaceTypeConversionPattern(patterns, converter);
  return applyPartialConversion(root, target, std::move(patterns));
}

//===----------------------------------------------------------------------===//
// Shapes
//===----------------------------------------------------------------------===//

Value mlir::lowbit::collapseToMatrix(OpBuilder &b, Location loc, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  if (rank == 1) {
    auto expanded =
        RankedTensorType::get({1, type.getShape()[0]}, type.getElementType());
    return tensor::ExpandShapeOp::create(
        b, loc, expanded, x, SmallVector<ReassociationIndices>{{0, 1}});
  }
  if (rank == 2)
    return x;
  ReassociationIndices leading;
  for (int64_t i = 0; i + 1 < rank; ++i)
    leading.push_back(i);
  return tensor::CollapseShapeOp::create(
      b, loc, x, SmallVector<ReassociationIndices>{leading, {rank - 1}});
}

Value mlir::lowbit::restoreBatchDims(OpBuilder &b, Location loc, Value y,
                                     Value x, RankedTensorType resultType,
                                     int64_t n) {
  int64_t rank = resultType.getRank();
  if (rank == 2)
    return tensor::CastOp::create(b, loc, resultType, y);
  if (rank == 1)
    return tensor::CollapseShapeOp::create(
        b, loc, resultType, y, SmallVector<ReassociationIndices>{{0, 1}});
  ReassociationIndices leading;
  for (int64_t i = 0; i + 1 < rank; ++i)
    leading.push_back(i);
  SmallVector<OpFoldResult> shape;
  for (int64_t i = 0; i + 1 < rank; ++i)
    shape.push_back(tensor::getMixedSize(b, loc, x, i));
  shape.push_back(b.getIndexAttr(n));
  return tensor::ExpandShapeOp::create(
      b, loc, resultType, y,
      SmallVector<ReassociationIndices>{leading, {rank - 1}}, shape);
}
