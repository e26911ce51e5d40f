//===- Quantize.h - Quantize and dequantize a [rows x K] tensor -*- C++ -*-===//
//
// Round-to-nearest quantization of a row-major [rows x K] tensor, blocked
// along K, into the canonical packed layout of Layout.h, and back. This is
// the one implementation of every format's numerics; docs/Formats.md gives
// the exact rules (scale choice, rounding, ties, NaN/Inf handling).
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_NUMERICS_QUANTIZE_H
#define LOWBIT_NUMERICS_QUANTIZE_H

#include "lowbit/Numerics/Layout.h"
#include "lowbit/Numerics/Scheme.h"
#include "lowbit/Numerics/Status.h"

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace lowbit::numerics {

/// Element type of the unquantized side.
enum class ElementType : uint8_t { F32, F16, BF16 };

std::string_view elementTypeName(ElementType type);
std::optional<ElementType> parseElementType(std::string_view name);
unsigned elementTypeBytes(ElementType type);

struct QuantizeOptions {
  /// Worker threads over row ranges; 0 means one per hardware thread.
  /// Results do not depend on the thread count.
  unsigned numThreads = 1;
  /// Null, or rows * blocksPerRow factors in (0, 1], one per block: the
  /// block's range is narrowed by its factor before the scale is chosen,
  /// so outliers are clipped in exchange for finer steps (towards 0 for
  /// symmetric formats and integer zero points, which keep 0 in range;
  /// around the middle for ZeroPoint::Min). GPTQ's clip search sets them.
  const float *clipRatios = nullptr;
};

/// Quantizes `src` (rows * k elements of `srcType`, row-major, contiguous)
/// into `dst`, which must hold computeLayout(...).totalBytes bytes. Bytes
/// between sections and the padding bits of each row are written as zero.
Status quantize(const Scheme &scheme, const void *src, ElementType srcType,
                int64_t rows, int64_t k, uint8_t *dst, uint64_t dstSize,
                const QuantizeOptions &options = {});

/// Convenience overload returning a freshly allocated buffer.
Result<std::vector<uint8_t>> quantize(const Scheme &scheme, const float *src,
                                      int64_t rows, int64_t k,
                                      const QuantizeOptions &options = {});

/// Dequantizes a canonical buffer of `srcSize` bytes into rows * k elements
/// of `dstType` at `dst`. Fails when the buffer is shorter than the layout.
Status dequantize(const Scheme &scheme, const uint8_t *src, uint64_t srcSize,
                  int64_t rows, int64_t k, void *dst, ElementType dstType,
                  const QuantizeOptions &options = {});

Result<std::vector<float>> dequantize(const Scheme &scheme, const uint8_t *src,
                                      uint64_t srcSize, int64_t rows, int64_t k,
                                      const QuantizeOptions &options = {});

/// The per-block scales of a canonical buffer as f32, after undoing double
/// quantization: rows * blocksPerRow values, row-major.
Result<std::vector<float>> decodeScales(const Scheme &scheme,
                                        const uint8_t *src, uint64_t srcSize,
                                        int64_t rows, int64_t k);

/// Bits of storage per tensor element: all sections' bytes (without the
/// alignment gaps) * 8 / (rows * k).
Result<double> bitsPerParameter(const Scheme &scheme, int64_t rows, int64_t k);

/// The same for an unbounded tensor with K a multiple of the block size:
/// code bits + per-block storage / block size (per-channel blocks count as
/// free). NF4, block 64, dyn8 double quantization in blocks of 256:
/// 4 + 8/64 + 32/(64*256) = 4.127.
double nominalBitsPerParameter(const Scheme &scheme);

} // namespace lowbit::numerics

#endif // LOWBIT_NUMERICS_QUANTIZE_H
