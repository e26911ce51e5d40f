//===- MatmulMatchers.h - Recognize matmuls against a weight ----*- C++ -*-===//
//
// Shared by the passes that rewrite matmuls into lowbit.qmatmul: decides
// whether a linalg op computes y[..., n] = init[..., n] + sum_k x[..., k] *
// W(n, k) for a 2-D weight W stored [N, K] or [K, N], and which operand is the
// weight.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_MATMULMATCHERS_H
#define LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_MATMULMATCHERS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/PatternMatch.h"

#include <optional>

namespace mlir::lowbit {

/// A linalg op recognized as y = init + x·Wᵀ with a 2-D weight.
struct MatmulMatch {
  linalg::LinalgOp op;
  /// The activation x, [..., K]; its leading dimensions are y's leading
  /// dimensions in the same order.
  Value input;
  /// The weight operand of `op` (3-D or more for a batch matmul).
  OpOperand *weightOperand = nullptr;
  /// The 2-D weight: the operand itself, or for a batch matmul the input of
  /// the `linalg.broadcast` that replicates it across the batch.
  Value weight;
  /// The broadcast looked through to find `weight`, if any.
  linalg::BroadcastOp broadcast;
  /// True when `weight` is [N, K] (lowbit.qmatmul's layout), false for
  /// [K, N].
  bool weightIsNK = true;
  /// The accumulator (outs operand); the result is init + x·Wᵀ.
  Value init;
  int64_t n = 0;
  int64_t k = 0;
};

/// Recognizes `op` as a matmul with a 2-D weight: a contraction (mul-add
/// body, `linalg::isaContractionOpInterface`) with one reduction dimension K
/// and one weight-side parallel dimension N, all operands tensors of one
/// float element type, whose maps are x: (..., k), init: (..., n) with the
/// same leading dims in the same order, and W: (n, k) or (k, n) -- or, when W
/// also carries batch dims, a `linalg.broadcast` adding exactly those leading
/// dims to a 2-D tensor. Covers `linalg.matmul` with default or transposed-B
/// maps, `linalg.batch_matmul` (and its transposed-B form) with a broadcast
/// weight, `linalg.matvec`-like generics and `linalg.generic` contractions.
/// N and K must be static.
std::optional<MatmulMatch> matchMatmulWithWeight(linalg::LinalgOp op);

/// When `v` widens a float tensor elementwise to a wider float type, that
/// narrower tensor: `v` is an `arith.extf` on tensors, or the result of a
/// linalg op on tensors (`linalg.generic`, `linalg.map`, ...) with one input,
/// identity maps and only parallel loops whose body yields `arith.extf` of
/// the input element. Otherwise null.
Value getFloatExtensionInput(Value v);

/// `v` with float extensions (`getFloatExtensionInput`) looked through: the
/// tensor it was widened from, or `v` itself. The extension is exact, so
/// the result holds the same values in its own (narrower) type.
Value lookThroughFloatExtension(Value v);

/// True when `v` is known to be all zeros: a zero splat constant or a
/// `linalg.fill` of a zero constant.
bool isZeroTensor(Value v);

/// When `v` is a `linalg.transpose` of a 2-D tensor with permutation [1, 0],
/// the transposed tensor; otherwise null.
Value getTransposeInput(Value v);

/// Returns `w` as a [N, K] tensor for a match whose weight is [K, N]:
/// looks through a `linalg.transpose` when there is one, and
/// otherwise materializes a `linalg.transpose` at `loc`.
Value getWeightAsNK(OpBuilder &b, Location loc, Value w, bool weightIsNK);

/// The value that replaces the matched op once `product` (x·Wᵀ, of the op's
/// result type) is computed: `product` when the init is zero
/// (`isZeroTensor`), `arith.addf(init, product)` otherwise.
Value addMatmulInit(OpBuilder &b, Location loc, const MatmulMatch &match,
                    Value product);

} // namespace mlir::lowbit

#endif // LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_MATMULMATCHERS_H
