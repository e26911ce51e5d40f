//===- Passes.h - lowbit transformation passes ------------------*- C++ -*-===//

#ifndef LOWBIT_DIALECT_LOWBIT_TRANSFORMS_PASSES_H
#define LOWBIT_DIALECT_LOWBIT_TRANSFORMS_PASSES_H

#include "lowbit/Dialect/Lowbit/IR/LowbitDialect.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::lowbit {

#define GEN_PASS_DECL
#include "lowbit/Dialect/Lowbit/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "lowbit/Dialect/Lowbit/Transforms/Passes.h.inc"

} // namespace mlir::lowbit

#endif // LOWBIT_DIALECT_LOWBIT_TRANSFORMS_PASSES_H
