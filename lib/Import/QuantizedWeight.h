//===- QuantizedWeight.h - GGUF blocks as qtensor weights -------*- C++ -*-===//
//
// A GGUF tensor stored in Q4_0, Q4_1, Q8_0 or Q4_K blocks imports without
// loss as a `!lowbit.qtensor` under the scheme the numerics core maps its
// type to (`ggufCanonicalScheme`, docs/Formats.md §7.1). It is referenced
// with `lowbit.weight external` (lowbit-load-weights converts the blocks
// when it reads the file) or, for --inline-weights, converted to the
// canonical packed layout at import time.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_IMPORT_QUANTIZEDWEIGHT_H
#define LOWBIT_LIB_IMPORT_QUANTIZEDWEIGHT_H

#include "TensorSource.h"

#include "lowbit/Dialect/Lowbit/IR/LowbitOps.h"

#include "mlir/IR/Builders.h"

namespace lowbit::import {

/// `!lowbit.qtensor<shape x f32, scheme>` of a tensor with `quant` set.
mlir::lowbit::QTensorType quantizedType(mlir::MLIRContext *context,
                                        const SourceTensor &t);

/// The `lowbit.weight` of a tensor with `quant` set: `external "name" in
/// "file"`, or (`inlineBytes`) the canonical packed bytes in a
/// `dense_resource` blob named `blobName`. Fails when the blocks do not
/// convert.
Result<mlir::Value> emitQuantizedWeight(mlir::OpBuilder &b, mlir::Location loc,
                                        const SourceTensor &t, bool inlineBytes,
                                        const std::string &blobName);

} // namespace lowbit::import

#endif // LOWBIT_LIB_IMPORT_QUANTIZEDWEIGHT_H
