//===- Graph.h - Building blocks of transformer graphs ----------*- C++ -*-===//
//
// Emits the tensor-level pieces the model builders compose: transposed-B
// matmuls, elementwise and reduction linalg.generics (LayerNorm, RMSNorm,
// softmax, GELU, SiLU), head reshapes, rotary embeddings. Everything
// computes in f32 on static shapes; the forms are the ones the lowbit passes
// recognize (docs/Import.md, "Emitted IR").
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_IMPORT_GRAPH_H
#define LOWBIT_LIB_IMPORT_GRAPH_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"

#include <functional>

namespace lowbit::import {

using mlir::Value;

/// Layout of the rotary pairs: Hugging Face's rotate_half (dimension i pairs
/// with i + D/2) or GPT-J/llama.cpp's interleaved pairs (2i, 2i+1).
enum class RopeLayout { HalfSplit, Interleaved };

class Graph {
public:
  using Body =
      std::function<Value(mlir::OpBuilder &, mlir::Location, mlir::ValueRange)>;

  Graph(mlir::OpBuilder &builder, mlir::Location loc);

  mlir::OpBuilder &builder() { return b; }
  mlir::Location location() const { return loc; }
  mlir::MLIRContext *context() { return b.getContext(); }
  mlir::Type f32() { return b.getF32Type(); }

  mlir::RankedTensorType tensorType(llvm::ArrayRef<int64_t> shape,
                                    mlir::Type element = {});
  static llvm::SmallVector<int64_t> shapeOf(Value v);

  Value empty(llvm::ArrayRef<int64_t> shape, mlir::Type element = {});
  /// linalg.fill of an f32 constant.
  Value fill(llvm::ArrayRef<int64_t> shape, double value);
  Value scalar(double value);
  /// An f32 tensor constant of the given values (row-major).
  Value constant(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<float> values);
  /// The affine map (d0..d{n-1}) -> (d[dims[0]], ...).
  mlir::AffineMap map(unsigned numDims, llvm::ArrayRef<unsigned> dims);
  mlir::AffineMap identity(unsigned numDims);

  /// `arith.extf` of a f16/bf16 tensor to f32; f32 tensors pass through.
  Value toF32(Value t);
  /// `arith.extf` of a scalar to f32 when needed (inside bodies).
  static Value scalarToF32(mlir::OpBuilder &b, mlir::Location loc, Value v);

  /// A linalg.generic with one f32 result of `shape`, all loops parallel,
  /// the result indexed by the identity map. `maps` are the inputs' maps.
  Value elementwise(llvm::ArrayRef<int64_t> shape, mlir::ValueRange inputs,
                    llvm::ArrayRef<mlir::AffineMap> maps, const Body &body);
  /// An elementwise op on same-shape inputs (identity maps).
  Value map(mlir::ValueRange inputs, const Body &body);
  /// Reduces the last dimension of `x` (rank n) into an f32 tensor of rank
  /// n-1 initialized to `init`; `body` gets (element, accumulator) and any
  /// `extra` inputs, which are indexed by the leading n-1 dimensions.
  Value reduceLast(Value x, double init, mlir::ValueRange extra,
                   const Body &body);

  Value add(Value a, Value b);
  Value mul(Value a, Value b);
  /// y[m, n] + bias[n].
  Value addRowVector(Value y, Value bias);

  /// x [M, K] · wᵀ for w [N, K]: a transposed-B linalg.matmul into a zero
  /// linalg.fill, f32.
  Value matmulTransposeB(Value x, Value w);
  /// [B, M, K] · [B, K, N] and [B, M, K] · [B, N, K]ᵀ.
  Value batchMatmul(Value a, Value b);
  Value batchMatmulTransposeB(Value a, Value b);

  Value expand(Value v, llvm::ArrayRef<int64_t> shape,
               llvm::ArrayRef<mlir::ReassociationIndices> groups);
  Value collapse(Value v, llvm::ArrayRef<mlir::ReassociationIndices> groups);
  Value transpose(Value v, llvm::ArrayRef<int64_t> permutation);
  /// Static slice with unit strides, of type `resultShape` (which may drop
  /// unit dimensions of `sizes`).
  Value slice(Value v, llvm::ArrayRef<int64_t> offsets,
              llvm::ArrayRef<int64_t> sizes,
              llvm::ArrayRef<int64_t> resultShape);

  /// LayerNorm over the last dimension of x [M, N] (biased variance).
  Value layerNorm(Value x, Value gamma, Value beta, double eps);
  /// RMSNorm over the last dimension of x [M, N].
  Value rmsNorm(Value x, Value weight, double eps);
  /// Exact GELU, 0.5·x·(1 + erf(x/√2)).
  Value gelu(Value x);
  /// silu(a) · b.
  Value siluMul(Value a, Value b);
  /// Softmax over the last dimension of x [B, H, S, T] after
  /// z = x·scale + bias, where `keyBias` [B, T] (or null) is added to every
  /// row and `causal` adds the f32 minimum where t > s.
  Value softmaxScores(Value x, double scale, Value keyBias, bool causal);
  /// Rotary embedding of x [B, S, N, D] with cos/sin tables [S, D/2].
  Value rope(Value x, Value cos, Value sin, RopeLayout layout);

  /// Rows of `table` [V, H] (any float type) picked by `ids` [B, S] (i64,
  /// clamped to [0, V)), in f32, plus `addends` indexed by (b, s, h) through
  /// `addendMaps`: [B, S, H].
  Value gather(Value ids, Value table, mlir::ValueRange addends,
               llvm::ArrayRef<mlir::AffineMap> addendMaps);
  /// (1 - mask) · f32-min for an i64 attention mask [B, S]: the additive
  /// bias of masked keys.
  Value maskBias(Value mask);

  /// Multi-head attention on projected q [B·S, N·D], k and v [B·S, Nkv·D]:
  /// heads split with expand_shape + transpose, rotary embedding when
  /// `cos` is given, key/value heads shared by N/Nkv query heads (query head
  /// j reads key/value head j / (N/Nkv)), QKᵀ and PV as batch matmuls,
  /// softmax of QKᵀ/√D + bias. Returns [B·S, N·D].
  struct AttentionShape {
    int64_t batch, seq, heads, kvHeads, headDim;
  };
  Value attention(Value q, Value k, Value v, const AttentionShape &shape,
                  Value keyBias, bool causal, Value cos = {}, Value sin = {},
                  RopeLayout layout = RopeLayout::HalfSplit);

  /// Mask-weighted mean over S of x [B, S, H] (i64 mask [B, S]), divided by
  /// max(sum of the mask, 1e-9): [B, H].
  Value meanPool(Value x, Value mask);
  /// p / max(‖p‖₂, 1e-12) per row of p [B, H].
  Value l2Normalize(Value p);

private:
  mlir::OpBuilder &b;
  mlir::Location loc;
};

} // namespace lowbit::import

#endif // LOWBIT_LIB_IMPORT_GRAPH_H
