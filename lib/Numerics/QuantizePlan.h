//===- QuantizePlan.h - Per-scheme encode/decode tables --------*- C++ -*-===//
//
// Internal: what the row loops need to know about a format, computed once
// per call.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_NUMERICS_QUANTIZEPLAN_H
#define LOWBIT_LIB_NUMERICS_QUANTIZEPLAN_H

#include "Kernels.h"
#include "lowbit/Numerics/Codebooks.h"
#include "lowbit/Numerics/Layout.h"
#include "lowbit/Numerics/Scheme.h"

#include <vector>

namespace lowbit::numerics::detail {

struct QuantizePlan {
  enum Kind { Linear, Table, FP8 } kind = Linear;
  unsigned bits = 0;
  /// scale = absmax / divisor (symmetric formats).
  float divisor = 1.0f;
  /// Code range of Linear formats, as signed integers.
  int lo = 0, hi = 0;
  NearestTable nearest;
  /// Value of each code, padded to 16 or 256 entries.
  std::vector<float> decodeTable;
  int tableSize = 16;
};

QuantizePlan makePlan(const Scheme &scheme);

/// Scales below the smallest normal f32 are flushed to zero, so the
/// reciprocal used by table formats always exists.
inline float flushTinyScale(float s) { return s < 1.17549435e-38f ? 0.0f : s; }

/// Encodes a symmetric block with scale s (0: all codes nearest to zero).
void encodeBlock(const kernels::KernelTable &kt, const QuantizePlan &plan,
                 const float *x, int64_t n, float s, uint8_t *codes);
void encodeZeroBlock(const QuantizePlan &plan, int zp, uint8_t *codes,
                     int64_t n);
/// Encodes a block of any zero-point kind against its stored parameters:
/// scale s and `offset`, the integer zero point (Int) or the minimum (Min);
/// ignored for ZeroPoint::None. A zero scale gives the codes of a zero
/// block. Signed codes come out as two's complement bytes.
void encodeBlockWith(const kernels::KernelTable &kt, const QuantizePlan &plan,
                     ZeroPoint zeroPoint, const float *x, int64_t n, float s,
                     float offset, uint8_t *codes);

/// The kernels' decode mode for a zero-point kind.
int decodeMode(ZeroPoint zeroPoint);
/// The stored offset of block `block` (row-major over rows and blocks):
/// its zero point (Int) or minimum (Min), 0 for symmetric schemes.
float blockOffset(const Scheme &scheme, const PackedLayout &layout,
                  const uint8_t *packed, uint64_t block);

} // namespace lowbit::numerics::detail

#endif // LOWBIT_LIB_NUMERICS_QUANTIZEPLAN_H
