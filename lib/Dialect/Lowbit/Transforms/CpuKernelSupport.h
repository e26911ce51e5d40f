//===- CpuKernelSupport.h - Builders shared by the CPU kernels --*- C++ -*-===//
//
// Small IR builders that lowbit-lower-cpu's kernels (the exact f32 kernels
// and the int8 dot-product kernel) share: index arithmetic, row reads of
// activations, and calls of x86 intrinsics.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_CPUKERNELSUPPORT_H
#define LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_CPUKERNELSUPPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::lowbit {

Value cIdx(ImplicitLocOpBuilder &b, int64_t v);
Value addIdx(ImplicitLocOpBuilder &b, Value a, Value c);
Value mulIdx(ImplicitLocOpBuilder &b, Value a, int64_t c);

/// `v` (a float scalar or vector) widened to f32.
Value toF32(ImplicitLocOpBuilder &b, Value v);

/// `count` elements of row `row` of a rank-2 tensor from column `col`
/// (a float tensor's widened to f32). The caller guarantees the read is
/// in bounds.
Value readRowChunk(ImplicitLocOpBuilder &b, Value matrix, Value row, Value col,
                   int64_t count);

/// vector<count> padded with zeros to vector<width>.
Value widenWithZeros(ImplicitLocOpBuilder &b, Value v, int64_t width);

/// Calls the LLVM intrinsic `intrinsic` on `args`, returning `result`,
/// through an internal, always-inlined llvm.func created once per module:
/// buffer deallocation rejects a bare llvm.call_intrinsic (its memory
/// effects are unknown) but accepts a call, and LLVM inlines it back.
Value callIntrinsic(ImplicitLocOpBuilder &b, ModuleOp module,
                    StringRef intrinsic, Type result, ValueRange args);

} // namespace mlir::lowbit

#endif // LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_CPUKERNELSUPPORT_H
