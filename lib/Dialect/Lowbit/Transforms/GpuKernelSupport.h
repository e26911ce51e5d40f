//===- GpuKernelSupport.h - Builders shared by the GPU kernels --*- C++ -*-===//
//
// lowbit-lower-gpu has two kernel forms for lowbit.qmatmul, the decode-
// regime kernel (SIMT, a warp per row of W) and the tensor-core kernel
// (GpuMmaKernel.h). Both are built from foralls mapped to blocks, warps and
// threads, and both finish an output the same way (bias, LoRA, rounding).
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_GPUKERNELSUPPORT_H
#define LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_GPUKERNELSUPPORT_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::lowbit {

/// Threads of a warp on NVIDIA GPUs; the cluster of the subgroup sums.
constexpr int64_t kGpuWarpSize = 32;

/// The buffers of one lowbit.qmatmul in kernel form (memrefs) and its
/// shape: x [M, K], packed W (N rows of K codes), y [M, N]; bias [N],
/// xa = x·Aᵀ [M, r] (f32) and B [N, r] when present.
struct GpuMatmulBuffers {
  Value x, weight, y;
  Value bias, xa, loraB;
  double loraScale = 0.0;
  int64_t m = 0, n = 0, k = 0, rank = 0;
};

Value gpuF32(ImplicitLocOpBuilder &b, float v);

/// Largest power of two dividing every value, at most 16 bytes (the widest
/// load or store a GPU thread issues): the alignment of an access whose
/// address is a sum of multiples of `values`.
int64_t gpuCommonAlignment(ArrayRef<int64_t> values);

/// The first row of the tile of x that block `id` handles when blocks are
/// numbered column tile fastest: (id / colTiles) * rows, or the constant 0
/// when there is one row tile (so that row indices fold to constants).
Value firstTileRow(ImplicitLocOpBuilder &b, Value id, int64_t colTiles,
                   int64_t rows, int64_t rowTiles);

/// A read-only buffer of a ranked tensor (the kernel form works on buffers;
/// one-shot bufferization folds these into the real ones).
Value gpuToBuffer(ImplicitLocOpBuilder &b, Value tensor);

/// scf.forall %iv in (count) with `mapping` (block, warp or thread), body
/// built by `body(iv)`.
void createGpuForall(ImplicitLocOpBuilder &b, int64_t count, Attribute mapping,
                     function_ref<void(ImplicitLocOpBuilder &, Value)> body);

/// A region whose block-level allocas are one buffer per GPU block (shared
/// memory) and, on the CPU, are freed when a loop over blocks moves on.
void createBlockScope(ImplicitLocOpBuilder &b,
                      function_ref<void(ImplicitLocOpBuilder &)> body);

/// min(row, count - 1): rows past the end of a partial tile read the last
/// row (their results are not stored), so that loads need no guards.
Value clampRow(ImplicitLocOpBuilder &b, Value row, int64_t count);

/// Builds `body` inside `if (cond)` at the current point.
void emitIfThen(ImplicitLocOpBuilder &b, Value cond,
                function_ref<void(ImplicitLocOpBuilder &)> body);

/// body(row, i) for rows firstRow + i, i < rows, of a tile of x; when the
/// last tile may be partial (M not a multiple of `rows`), each is guarded
/// by row < m.
void forEachTileRow(
    ImplicitLocOpBuilder &b, int64_t rows, Value firstRow, int64_t m,
    function_ref<void(ImplicitLocOpBuilder &, Value, int64_t)> body);

/// y[i, row] = rounded(sum + bias[row] + scale · Σ_j xa[i, j]·B[row, j]).
void storeGpuOutput(ImplicitLocOpBuilder &b, const GpuMatmulBuffers &q, Value i,
                    Value row, Value sum);

/// xa = x·Aᵀ in f32, once per call: a block of one warp per row of A and
/// tile of 16 rows of x, lanes striding over K, summed across the warp.
void emitGpuLoraDown(ImplicitLocOpBuilder &b, const GpuMatmulBuffers &q,
                     Value loraA);

/// A block of `threads` threads (a multiple of 32) that each compute `m`
/// partial sums and then sum them across the 32 lanes of each warp:
/// partial(t) gives a thread's m values; finish(t, sums) gets the sums.
void emitWarpSums(
    ImplicitLocOpBuilder &b, int64_t m, int64_t threads,
    function_ref<SmallVector<Value>(ImplicitLocOpBuilder &, Value)> partial,
    function_ref<void(ImplicitLocOpBuilder &, Value, ArrayRef<Value>)> finish);

} // namespace mlir::lowbit

#endif // LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_GPUKERNELSUPPORT_H
