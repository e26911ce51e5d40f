//===- QuantizedWeight.cpp - GGUF blocks as !lowbit.qtensor weights -------===//

#include "QuantizedWeight.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

namespace lowbit::import {

using namespace mlir;
namespace nx = ::lowbit::numerics;

mlir::lowbit::QTensorType quantizedType(MLIRContext *context,
                                        const SourceTensor &t) {
  auto scheme = mlir::lowbit::SchemeAttr::fromNumerics(
      context, nx::ggufCanonicalScheme(*t.quant));
  return mlir::lowbit::QTensorType::get(context, t.shape,
                                        Float32Type::get(context), scheme);
}

Result<Value> emitQuantizedWeight(OpBuilder &b, Location loc,
                                  const SourceTensor &t, bool inlineBytes,
                                  const std::string &blobName) {
  mlir::lowbit::QTensorType type = quantizedType(b.getContext(), t);
  if (!inlineBytes)
    return Value(mlir::lowbit::WeightOp::create(b, loc, type, ElementsAttr(),
                                                b.getStringAttr(t.name),
                                                b.getStringAttr(t.file)));

  // Rows are every dimension but the last (K, the blocks' axis).
  int64_t k = t.shape.back();
  int64_t rows = int64_t(t.elements() / uint64_t(k));
  uint64_t size = type.getPackedSizeInBytes();
  AsmResourceBlob blob = HeapAsmResourceBlob::allocate(size, /*align=*/64);
  MutableArrayRef<char> dst = blob.getMutableData();
  if (nx::Status st = nx::ggufToCanonical(
          *t.quant, t.bytes.data, t.bytes.size, rows, k,
          reinterpret_cast<uint8_t *>(dst.data()), dst.size());
      !st)
    return nx::Status::error(t.file + ": tensor '" + t.name + "' (" +
                             t.dtypeName + "): " + st.message());
  auto bytesType = RankedTensorType::get({int64_t(size)}, b.getIntegerType(8));
  auto data =
      DenseResourceElementsAttr::get(bytesType, blobName, std::move(blob));
  return Value(mlir::lowbit::WeightOp::create(b, loc, type, data, StringAttr(),
                                              StringAttr()));
}

} // namespace lowbit::import
