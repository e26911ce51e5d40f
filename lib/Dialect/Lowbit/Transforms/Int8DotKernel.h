//===- Int8DotKernel.h - Int8-activation GEMV kernels, vpdpbusd -*- C++ -*-===//
//
// lowbit-lower-cpu's opt-in `dot=i8` kernels for batch-1..8 decoding on
// AVX-512 VNNI: the activations are quantized to int8 once per call (one
// f32 scale per 128 elements, 256 for 2-bit codes), the weight codes
// become unsigned bytes in registers (split by their position in the
// byte, and a vpshufb table for codebooks), and
// vpdpbusd multiplies 64 byte pairs per instruction into int32 lanes that
// are scaled per block in f32. See docs/CodegenCPU.md.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_INT8DOTKERNEL_H
#define LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_INT8DOTKERNEL_H

#include "PackedAccess.h"

#include "lowbit/Numerics/Layout.h"
#include "lowbit/Numerics/Scheme.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <array>
#include <optional>

namespace mlir::lowbit {

/// How one weight's codes become the unsigned bytes u that vpdpbusd
/// multiplies: weight = s_b / factor · (u − offset − z_b) + m_b, with z_b
/// and m_b the block's integer zero point or minimum when the scheme has
/// one.
struct Int8DotPlan {
  unsigned bits = 0; ///< 2, 3, 4 or 8
  int64_t blockSize = 0;
  /// Codes become u as they are, by XOR with `xorMask` (two's complement
  /// to offset binary; for 3-bit codes applied to each extracted code),
  /// or through the 16-byte `table` (vpshufb) of round(t · factor) +
  /// offset.
  enum class Map { Identity, Xor, Table } map = Map::Identity;
  uint8_t xorMask = 0;
  std::array<uint8_t, 16> table = {};
  float factor = 1.0f;
  int offset = 0;

  /// Elements of x that share one int8 scale: a chunk, the codes of 64
  /// bytes of weights (of 128 for 8-bit codes, of 48 for 3-bit codes).
  int64_t chunk() const { return bits == 2 ? 256 : 128; }
  /// Codes per int32 accumulator: 16 lanes of 4 bytes of codes each
  /// (3-bit: the two vectors of one chunk's 48 bytes).
  int64_t group() const { return bits == 3 ? 128 : 64 * 8 / bits; }
  /// Consecutive codes whose products may share an int32 lane: a lane of
  /// 3-bit codes takes 8 codes from a window of 16.
  int64_t laneSpan() const { return bits == 3 ? 16 : group() / 16; }
  /// Elements of x per partial sum used for the offset and zero-point
  /// terms: one per block, at most one per chunk.
  int64_t sumSize() const { return std::min(blockSize, chunk()); }
  /// The element of a chunk of x at each position of its stored int8
  /// codes: the order in which the code vectors hold the weights' codes.
  SmallVector<int64_t> chunkOrder() const;
};

/// The plan for a weight, or nullopt when the kernel does not cover it:
/// 2- and 8-bit integers, 3-bit integers (with `vbmi`: vpermb and
/// vpmultishiftqb unpack them) or 4-bit codes (integer or a 16-entry
/// codebook), K a multiple of the chunk, and blocks that tile the
/// vpdpbusd lanes (a multiple of a lane's span dividing the accumulator's
/// group, or a multiple of the chunk).
std::optional<Int8DotPlan>
planInt8Dot(const ::lowbit::numerics::Scheme &scheme,
            const ::lowbit::numerics::PackedLayout &layout, bool vbmi);

/// x ([M, K], any float type) quantized once per call: `codes` [M, K] i8
/// (sub-byte plans: each chunk in Int8DotPlan::chunkOrder, the order of
/// the code vectors: for 4-bit codes the 64 even elements, then the 64 odd
/// ones), `scales` [M, K/chunk] f32 and `sums`
/// [M, K/sumSize] f32 (scale · Σ codes per sum group).
struct QuantizedActivations {
  Value codes, scales, sums;
};
QuantizedActivations emitQuantizedActivations(ImplicitLocOpBuilder &b, Value x,
                                              Value m, const Int8DotPlan &plan);

/// Σ_k x[m0 + i, k] · W[n, k] for i < tile and each row n of W in `ns`,
/// at index c * tile + i for ns[c], computed with vpdpbusd from `acts`.
SmallVector<Value> emitInt8DotRows(ImplicitLocOpBuilder &b, ModuleOp module,
                                   PackedScalarReader &reader, Value bytes,
                                   const Int8DotPlan &plan,
                                   const QuantizedActivations &acts, Value m0,
                                   int64_t tile, ArrayRef<Value> ns);

} // namespace mlir::lowbit

#endif // LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_INT8DOTKERNEL_H
