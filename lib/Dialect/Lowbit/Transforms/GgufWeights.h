//===- GgufWeights.h - Weights from llama.cpp GGUF files --------*- C++ -*-===//
//
// lowbit-load-weights' reader of GGUF files. A quantized weight takes a
// tensor in Q4_0, Q4_1, Q8_0 or Q4_K blocks whose type the numerics core
// maps to the op's scheme (ggufCanonicalScheme), converted bit-exactly to
// the canonical packed layout; a float weight takes an F32 or F16 tensor of
// its element type. GGUF lists dimensions contiguous-first (ne[0] is the
// row length), so they are compared with the op's shape reversed.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_GGUFWEIGHTS_H
#define LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_GGUFWEIGHTS_H

#include "lowbit/Dialect/Lowbit/IR/LowbitOps.h"
#include "lowbit/ModelIO/Gguf.h"

#include "mlir/IR/Builders.h"

namespace mlir::lowbit {

/// True when `path` is to be read as GGUF: the file starts with the "GGUF"
/// magic or, when fewer than 4 bytes can be read, its name ends in ".gguf".
bool isGgufPath(StringRef path);

/// The value that replaces the external weight `op`, built with `b` from
/// the tensor of `file` that `op` names: an inline `lowbit.weight` of the
/// canonical packed bytes for a qtensor result (discardable attributes
/// copied), an `arith.constant` for a float one. Every mismatch between the
/// tensor and the op's type is emitted at `op`.
FailureOr<Value> buildGgufWeight(OpBuilder &b, WeightOp op,
                                 const ::lowbit::modelio::GgufFile &file);

} // namespace mlir::lowbit

#endif // LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_GGUFWEIGHTS_H
