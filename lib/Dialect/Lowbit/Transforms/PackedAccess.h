//===- PackedAccess.h - Reading packed weights in lowered IR ----*- C++ -*-===//
//
// Shared by the lowerings of lowbit ops to upstream IR (lowbit-decompose,
// lowbit-lower-cpu): a quantized tensor is carried as its canonical packed
// bytes (tensor<Nxi8>), and per-block quantities (scales, double-quantized
// scales, zero points) are read from those bytes with the same f32
// arithmetic as the numerics core.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_PACKEDACCESS_H
#define LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_PACKEDACCESS_H

#include "lowbit/Dialect/Lowbit/IR/LowbitOps.h"
#include "lowbit/Numerics/Layout.h"
#include "lowbit/Numerics/Scheme.h"

#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::lowbit {

/// The type a quantized tensor is carried as: its packed bytes.
RankedTensorType getPackedBytesType(QTensorType type);

/// Converts every !lowbit.qtensor to its packed bytes type.
struct PackedBytesTypeConverter : TypeConverter {
  PackedBytesTypeConverter();
};

/// A constant rank-1 f32 tensor holding `values`.
Value createF32Table(OpBuilder &b, Location loc, ArrayRef<float> values);

/// Reads scalars of one packed tensor (a tensor<Nxi8> value) with
/// tensor.extract: bytes, and the decoded per-block scale and zero point;
/// also runs of consecutive blocks' quantities as vectors (little-endian
/// targets: multi-byte values are reinterpreted vector bytes).
class PackedScalarReader {
public:
  /// Creates the double-quantization table, if any, at the current insertion
  /// point (outside the loops that will read). With `wordReads`, multi-byte
  /// scalars are read as one little-endian vector.transfer_read of their
  /// bytes (one load after lowering) instead of byte by byte.
  PackedScalarReader(OpBuilder &b, Location loc, QTensorType type, Value bytes,
                     bool wordReads = false);

  const ::lowbit::numerics::Scheme &getScheme() const { return scheme; }
  const ::lowbit::numerics::PackedLayout &getLayout() const { return layout; }

  /// Byte at `index` (an index value), zero-extended to i32.
  Value loadByte(ImplicitLocOpBuilder &b, Value index);

  /// The f32 scale of `block` (row-major block number, an index value),
  /// undoing double quantization exactly as the numerics core does.
  Value loadBlockScale(ImplicitLocOpBuilder &b, Value block);

  /// zero_point = int: the block's zero point as f32 (exact).
  Value loadIntZeroPoint(ImplicitLocOpBuilder &b, Value block);

  /// zero_point = min: the block's minimum, widened to f32.
  Value loadMinZeroPoint(ImplicitLocOpBuilder &b, Value block);

  /// The same for `count` consecutive blocks from `first`, as
  /// vector<count x f32> with one load per section (and one gather from
  /// the double-quantization table) instead of one per block.
  Value loadBlockScales(ImplicitLocOpBuilder &b, Value first, int64_t count);
  Value loadIntZeroPoints(ImplicitLocOpBuilder &b, Value first, int64_t count);
  Value loadMinZeroPoints(ImplicitLocOpBuilder &b, Value first, int64_t count);

private:
  Value loadWord(ImplicitLocOpBuilder &b, uint64_t offset, Value element,
                 unsigned count);
  Value loadScaleValue(ImplicitLocOpBuilder &b, uint64_t offset, Value element);
  Value loadF32(ImplicitLocOpBuilder &b, uint64_t offset, Value element);
  Value loadWords(ImplicitLocOpBuilder &b, uint64_t offset, Value first,
                  int64_t count, unsigned size);
  Value loadScaleValues(ImplicitLocOpBuilder &b, uint64_t offset, Value first,
                        int64_t count);
  Value finishDoubleQuant(ImplicitLocOpBuilder &b, Value codeValue,
                          Value scaleScale, Value offset);

  Value bytes;
  ::lowbit::numerics::Scheme scheme;
  ::lowbit::numerics::PackedLayout layout;
  Value dqTable;
  bool wordReads;
};

/// Reports external weights (their bytes are only known at run time),
/// naming `passName`, so that a failure says why instead of a generic
/// legalization error.
LogicalResult checkPackedBytesKnown(Operation *root, StringRef passName);

/// The reference lowering of every lowbit op (defined in Decompose.cpp).
/// Other lowerings add these with a lower benefit than their own patterns.
void populateReferenceLoweringPatterns(const TypeConverter &converter,
                                       RewritePatternSet &patterns);

/// Applies `patterns` with lowbit ops illegal, converting qtensor values to
/// bytes in function signatures, calls, returns and branches too.
LogicalResult applyPackedBytesConversion(Operation *root,
                                         const TypeConverter &converter,
                                         RewritePatternSet &&patterns);

/// x [..., K] as an [M, K] matrix (M = product of the leading dimensions).
Value collapseToMatrix(OpBuilder &b, Location loc, Value x);

/// An [M, N] result back to `resultType` (x's leading dimensions, then N).
Value restoreBatchDims(OpBuilder &b, Location loc, Value y, Value x,
                       RankedTensorType resultType, int64_t n);

} // namespace mlir::lowbit

#endif // LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_PACKEDACCESS_H
