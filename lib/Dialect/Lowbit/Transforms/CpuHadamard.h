//===- CpuHadamard.h - lowbit.hadamard as CPU vector code ------*- C++ -*-===//

#ifndef LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_CPUHADAMARD_H
#define LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_CPUHADAMARD_H

#include "mlir/Transforms/DialectConversion.h"

namespace mlir::lowbit {

/// Lowers lowbit.hadamard to a loop over rows and blocks whose body holds
/// one block in f32 vectors of up to `vectorWidth` lanes and runs the
/// butterfly stages in registers (outranks the reference lowering).
void populateCpuHadamardPatterns(const TypeConverter &converter,
                                 RewritePatternSet &patterns,
                                 int64_t vectorWidth);

} // namespace mlir::lowbit

#endif // LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_CPUHADAMARD_H
