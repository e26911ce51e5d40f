//===- HadamardLowering.h - lowbit.hadamard as linalg ---------*- C++ -*-===//

#ifndef LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_HADAMARDLOWERING_H
#define LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_HADAMARDLOWERING_H

#include "mlir/IR/Builders.h"

namespace mlir::lowbit {

/// x·R for x [..., K] (f32, f16 or bf16, K a multiple of blockSize): one
/// elementwise linalg.generic per butterfly stage of the fast
/// Walsh-Hadamard transform, in f32, in lib/Numerics/Hadamard.cpp's order
/// of operations. Returns a tensor of x's type.
Value emitHadamard(OpBuilder &b, Location loc, Value x, int64_t blockSize);

} // namespace mlir::lowbit

#endif // LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_HADAMARDLOWERING_H
