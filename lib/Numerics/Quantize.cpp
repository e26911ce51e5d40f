//===- Quantize.cpp - Canonical quantization and dequantization -----------===//
//
// Drives the kernels row by row: convert a row to f32, find each block's
// statistics, choose and store its scale (and zero point), encode the codes
// and pack them into the row's bit stream. Double quantization of the scales
// runs after all rows, on the f32 first-level scales.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Numerics/Quantize.h"

#include "Kernels.h"
#include "Parallel.h"
#include "QuantizePlan.h"
#include "lowbit/Numerics/Codebooks.h"
#include "lowbit/Numerics/DoubleQuant.h"
#include "lowbit/Numerics/FloatTypes.h"

#include <atomic>
#include <cmath>
#include <cstring>

namespace lowbit::numerics {

using detail::Buffer;
using detail::parallelFor;

namespace {
constexpr std::string_view kElementTypeNames[] = {"f32", "f16", "bf16"};
} // namespace

std::string_view elementTypeName(ElementType type) {
  return kElementTypeNames[static_cast<unsigned>(type)];
}

std::optional<ElementType> parseElementType(std::string_view name) {
  for (unsigned i = 0; i < 3; ++i)
    if (kElementTypeNames[i] == name)
      return static_cast<ElementType>(i);
  return std::nullopt;
}

unsigned elementTypeBytes(ElementType type) {
  return type == ElementType::F32 ? 4 : 2;
}

namespace detail {

QuantizePlan makePlan(const Scheme &scheme) {
  QuantizePlan plan;
  plan.bits = codeBits(scheme.format);
  plan.divisor = scaleDivisor(scheme);
  std::vector<float> values = codeValues(scheme);
  plan.tableSize = values.size() > 16 ? 256 : 16;
  plan.decodeTable.assign(plan.tableSize, 0.0f);
  std::copy(values.begin(), values.end(), plan.decodeTable.begin());
  if (isIntegerFormat(scheme.format)) {
    plan.kind = QuantizePlan::Linear;
    CodeRange range = *integerCodeRange(scheme.format);
    plan.lo = range.quantMin;
    plan.hi = range.quantMax;
  } else if (scheme.format == Format::FP8) {
    plan.kind = QuantizePlan::FP8;
  } else {
    plan.kind = QuantizePlan::Table;
    plan.nearest = buildNearestTable(values.data(), unsigned(values.size()));
  }
  return plan;
}

/// Codes for a block whose scale is zero: the code nearest to 0.
void encodeZeroBlock(const QuantizePlan &plan, int zp, uint8_t *codes,
                     int64_t n) {
  uint8_t zero = 0;
  if (plan.kind == QuantizePlan::Linear)
    zero = uint8_t(zp);
  else if (plan.kind == QuantizePlan::Table)
    zero = plan.nearest.encode(0.0f);
  std::memset(codes, zero, size_t(n));
}

void encodeBlock(const kernels::KernelTable &kt, const QuantizePlan &plan,
                 const float *x, int64_t n, float s, uint8_t *codes) {
  if (s == 0.0f) {
    encodeZeroBlock(plan, 0, codes, n);
    return;
  }
  switch (plan.kind) {
  case QuantizePlan::Linear:
    kt.encodeLinear(x, n, 0.0f, s, 0, plan.lo, plan.hi, codes);
    break;
  case QuantizePlan::FP8:
    kt.encodeFP8(x, n, s, codes);
    break;
  case QuantizePlan::Table: {
    // Normalize by the reciprocal, as bitsandbytes does; s is normal
    // (flushTinyScale), so 1/s is finite.
    float inv = 1.0f / s;
    kt.encodeTable(x, n, inv, plan.nearest.thresholds.data(),
                   int(plan.nearest.thresholds.size()),
                   plan.nearest.rankToCode.data(), codes);
    break;
  }
  }
}

void encodeBlockWith(const kernels::KernelTable &kt, const QuantizePlan &plan,
                     ZeroPoint zeroPoint, const float *x, int64_t n, float s,
                     float offset, uint8_t *codes) {
  if (zeroPoint == ZeroPoint::None) {
    encodeBlock(kt, plan, x, n, s, codes);
    return;
  }
  if (!(s > 0.0f)) {
    encodeZeroBlock(plan, 0, codes, n);
    return;
  }
  const int qmax = (1 << plan.bits) - 1;
  if (zeroPoint == ZeroPoint::Int)
    kt.encodeLinear(x, n, 0.0f, s, int(offset), 0, qmax, codes);
  else
    kt.encodeLinear(x, n, offset, s, 0, 0, qmax, codes);
}

int decodeMode(ZeroPoint zeroPoint) {
  return zeroPoint == ZeroPoint::Int   ? kernels::DecodeIntZero
         : zeroPoint == ZeroPoint::Min ? kernels::DecodeMin
                                       : kernels::DecodeScaled;
}

float blockOffset(const Scheme &scheme, const PackedLayout &layout,
                  const uint8_t *packed, uint64_t block) {
  if (scheme.zeroPoint == ZeroPoint::Int)
    return float(packed[layout.zeroPoints.offset + block]);
  if (scheme.zeroPoint == ZeroPoint::Min)
    return loadScale(packed + layout.zeroPoints.offset +
                         block * scaleTypeBytes(scheme.scaleType),
                     scheme.scaleType);
  return 0.0f;
}

} // namespace detail

using detail::QuantizePlan;

namespace {

Status checkPointers(const void *a, const void *b) {
  if (!a || !b)
    return Status::error("null data pointer");
  return Status::ok();
}

void zeroGaps(const PackedLayout &layout, uint8_t *dst) {
  const Section sections[] = {layout.codes, layout.scales, layout.scaleScales,
                              layout.scaleOffset, layout.zeroPoints};
  uint64_t end = 0;
  for (const Section &s : sections) {
    if (s.size == 0)
      continue;
    if (s.offset > end)
      std::memset(dst + end, 0, s.offset - end);
    end = s.offset + s.size;
  }
}

/// Converts row `r` of the source into f32, or points into the source.
const float *rowAsF32(const kernels::KernelTable &kt, const void *src,
                      ElementType type, int64_t r, int64_t k, float *tmp) {
  if (type == ElementType::F32)
    return static_cast<const float *>(src) + r * k;
  const uint16_t *p = static_cast<const uint16_t *>(src) + r * k;
  if (type == ElementType::F16)
    kt.f16ToF32(p, tmp, k);
  else
    kt.bf16ToF32(p, tmp, k);
  return tmp;
}

/// Narrows each block's statistics by its clip ratio (QuantizeOptions).
void clipBlockRanges(ZeroPoint zeroPoint, const float *ratios, int64_t blocks,
                     float *stat0, float *stat1) {
  for (int64_t j = 0; j < blocks; ++j) {
    float a = ratios[j];
    if (zeroPoint == ZeroPoint::None) {
      stat0[j] *= a;
    } else if (zeroPoint == ZeroPoint::Int) {
      stat0[j] *= a;
      stat1[j] *= a;
    } else {
      float mid = 0.5f * stat0[j] + 0.5f * stat1[j];
      stat0[j] = mid + a * (stat0[j] - mid);
      stat1[j] = mid + a * (stat1[j] - mid);
    }
  }
}

struct RowScratch {
  Buffer<float> row, stat0, stat1;
  Buffer<uint8_t> codes;
  bool allocate(int64_t k, int64_t blocks) {
    return row.allocate(uint64_t(k)) && codes.allocate(uint64_t(k)) &&
           stat0.allocate(uint64_t(blocks)) && stat1.allocate(uint64_t(blocks));
  }
};

} // namespace

Status quantize(const Scheme &scheme, const void *src, ElementType srcType,
                int64_t rows, int64_t k, uint8_t *dst, uint64_t dstSize,
                const QuantizeOptions &options) {
  Result<PackedLayout> layoutOr = computeLayout(scheme, rows, k);
  if (!layoutOr)
    return layoutOr.status();
  const PackedLayout &layout = *layoutOr;
  if (Status s = checkPointers(src, dst); !s)
    return s;
  if (static_cast<unsigned>(srcType) > 2)
    return Status::error("unknown source element type");
  if (dstSize < layout.totalBytes)
    return Status::error("destination buffer too small: the packed tensor "
                         "needs " +
                         std::to_string(layout.totalBytes) + " bytes, got " +
                         std::to_string(dstSize));

  const kernels::KernelTable &kt = kernels::activeKernels();
  const QuantizePlan plan = detail::makePlan(scheme);
  const int64_t bpr = layout.blocksPerRow;
  const int64_t block = k / bpr;
  const unsigned scaleBytes = scaleTypeBytes(scheme.scaleType);
  const bool dq = scheme.hasDoubleQuant();
  const uint64_t numBlocks = uint64_t(rows) * uint64_t(bpr);
  const int qmax = (1 << plan.bits) - 1;

  if (options.clipRatios)
    for (uint64_t i = 0; i < uint64_t(rows) * uint64_t(layout.blocksPerRow);
         ++i)
      if (!(options.clipRatios[i] > 0.0f && options.clipRatios[i] <= 1.0f))
        return Status::error("clip ratio of block " + std::to_string(i) +
                             " is not in (0, 1]");

  Buffer<float> firstLevel; // f32 scales awaiting double quantization
  if (dq && !firstLevel.allocate(numBlocks))
    return Status::error("out of memory for " + std::to_string(numBlocks) +
                         " block scales");
  zeroGaps(layout, dst);

  std::atomic<bool> outOfMemory{false};
  auto work = [&](int64_t r0, int64_t r1) {
    RowScratch scratch;
    if (!scratch.allocate(k, bpr)) {
      outOfMemory = true;
      return;
    }
    for (int64_t r = r0; r < r1; ++r) {
      const float *x = rowAsF32(kt, src, srcType, r, k, scratch.row.data());
      uint8_t *codes = scratch.codes.data();
      uint64_t firstBlock = uint64_t(r) * uint64_t(bpr);
      if (scheme.zeroPoint == ZeroPoint::None)
        kt.blockAbsMax(x, k, block, scratch.stat0.data());
      else
        kt.blockMinMax(x, k, block, scratch.stat0.data(), scratch.stat1.data());
      if (options.clipRatios)
        clipBlockRanges(scheme.zeroPoint, options.clipRatios + r * bpr, bpr,
                        scratch.stat0.data(), scratch.stat1.data());
      for (int64_t j = 0; j < bpr; ++j) {
        const float *xb = x + j * block;
        uint8_t *cb = codes + j * block;
        uint64_t bi = firstBlock + uint64_t(j);
        uint8_t *scaleOut = dst + layout.scales.offset + bi * scaleBytes;
        if (scheme.zeroPoint == ZeroPoint::None) {
          float s = detail::flushTinyScale(scratch.stat0[j] / plan.divisor);
          if (dq)
            firstLevel[bi] = s;
          else
            storeScale(s = roundScale(s, scheme.scaleType), scheme.scaleType,
                       scaleOut);
          detail::encodeBlock(kt, plan, xb, block, s, cb);
        } else if (scheme.zeroPoint == ZeroPoint::Int) {
          float lo = std::fmin(scratch.stat0[j], 0.0f);
          float hi = std::fmax(scratch.stat1[j], 0.0f);
          float s = detail::flushTinyScale(
              std::fmin((hi - lo) / float(qmax), 3.40282347e38f));
          if (dq)
            firstLevel[bi] = s;
          else
            storeScale(s = roundScale(s, scheme.scaleType), scheme.scaleType,
                       scaleOut);
          int z = 0;
          if (s > 0.0f) {
            float zf = std::nearbyint(-lo / s);
            z = zf > float(qmax) ? qmax : int(zf);
          }
          detail::encodeBlockWith(kt, plan, ZeroPoint::Int, xb, block, s,
                                  float(z), cb);
          dst[layout.zeroPoints.offset + bi] = uint8_t(z);
        } else { // ZeroPoint::Min
          float m = roundScale(scratch.stat0[j], scheme.scaleType);
          float s = roundScale(
              detail::flushTinyScale((scratch.stat1[j] - scratch.stat0[j]) /
                                     float(qmax)),
              scheme.scaleType);
          storeScale(s, scheme.scaleType, scaleOut);
          storeScale(m, scheme.scaleType,
                     dst + layout.zeroPoints.offset + bi * scaleBytes);
          detail::encodeBlockWith(kt, plan, ZeroPoint::Min, xb, block, s, m,
                                  cb);
        }
      }
      kt.pack(codes, k, plan.bits,
              dst + layout.codes.offset + uint64_t(r) * layout.rowBytes);
    }
  };
  parallelFor(rows, options.numThreads, work);
  if (outOfMemory)
    return Status::error("out of memory for row scratch buffers");

  if (dq) {
    uint64_t numScaleBlocks = layout.scaleScales.size / 4;
    Buffer<float> scaleScales;
    if (!scaleScales.allocate(numScaleBlocks))
      return Status::error("out of memory for second-level scales");
    float offset = 0.0f;
    if (Status s = doubleQuantizeScales(
            scheme, firstLevel.data(), int64_t(numBlocks),
            dst + layout.scales.offset, scaleScales.data(), &offset);
        !s)
      return s;
    for (uint64_t i = 0; i < numScaleBlocks; ++i)
      storeScale(scaleScales[i], ScaleType::F32,
                 dst + layout.scaleScales.offset + 4 * i);
    storeScale(offset, ScaleType::F32, dst + layout.scaleOffset.offset);
  }
  return Status::ok();
}

Result<std::vector<uint8_t>> quantize(const Scheme &scheme, const float *src,
                                      int64_t rows, int64_t k,
                                      const QuantizeOptions &options) {
  Result<PackedLayout> layout = computeLayout(scheme, rows, k);
  if (!layout)
    return layout.status();
  std::vector<uint8_t> out(layout->totalBytes);
  if (Status s = quantize(scheme, src, ElementType::F32, rows, k, out.data(),
                          out.size(), options);
      !s)
    return s;
  return out;
}

Result<std::vector<float>> decodeScales(const Scheme &scheme,
                                        const uint8_t *src, uint64_t srcSize,
                                        int64_t rows, int64_t k) {
  Result<PackedLayout> layoutOr = computeLayout(scheme, rows, k);
  if (!layoutOr)
    return layoutOr.status();
  const PackedLayout &layout = *layoutOr;
  if (!src)
    return Status::error("null data pointer");
  if (srcSize < layout.totalBytes)
    return Status::error("packed buffer truncated: the layout needs " +
                         std::to_string(layout.totalBytes) + " bytes, got " +
                         std::to_string(srcSize));
  uint64_t numBlocks = uint64_t(rows) * uint64_t(layout.blocksPerRow);
  std::vector<float> scales(numBlocks);
  if (scheme.hasDoubleQuant()) {
    uint64_t numScaleBlocks = layout.scaleScales.size / 4;
    std::vector<float> scaleScales(numScaleBlocks);
    for (uint64_t i = 0; i < numScaleBlocks; ++i)
      scaleScales[i] =
          loadScale(src + layout.scaleScales.offset + 4 * i, ScaleType::F32);
    float offset = loadScale(src + layout.scaleOffset.offset, ScaleType::F32);
    if (Status s = doubleDequantizeScales(scheme, src + layout.scales.offset,
                                          scaleScales.data(), offset,
                                          int64_t(numBlocks), scales.data());
        !s)
      return s;
    return scales;
  }
  unsigned scaleBytes = scaleTypeBytes(scheme.scaleType);
  for (uint64_t i = 0; i < numBlocks; ++i)
    scales[i] = loadScale(src + layout.scales.offset + i * scaleBytes,
                          scheme.scaleType);
  return scales;
}

Status dequantize(const Scheme &scheme, const uint8_t *src, uint64_t srcSize,
                  int64_t rows, int64_t k, void *dst, ElementType dstType,
                  const QuantizeOptions &options) {
  if (Status s = checkPointers(src, dst); !s)
    return s;
  if (static_cast<unsigned>(dstType) > 2)
    return Status::error("unknown destination element type");
  Result<std::vector<float>> scalesOr =
      decodeScales(scheme, src, srcSize, rows, k);
  if (!scalesOr)
    return scalesOr.status();
  const std::vector<float> &scales = *scalesOr;
  const PackedLayout layout = *computeLayout(scheme, rows, k);

  const kernels::KernelTable &kt = kernels::activeKernels();
  const QuantizePlan plan = detail::makePlan(scheme);
  const int64_t bpr = layout.blocksPerRow;
  const int64_t block = k / bpr;
  const int mode = detail::decodeMode(scheme.zeroPoint);

  std::atomic<bool> outOfMemory{false};
  auto work = [&](int64_t r0, int64_t r1) {
    RowScratch scratch;
    if (!scratch.allocate(k, 0)) {
      outOfMemory = true;
      return;
    }
    for (int64_t r = r0; r < r1; ++r) {
      uint8_t *codes = scratch.codes.data();
      kt.unpack(src + layout.codes.offset + uint64_t(r) * layout.rowBytes, k,
                plan.bits, codes);
      float *out = dstType == ElementType::F32
                       ? static_cast<float *>(dst) + r * k
                       : scratch.row.data();
      for (int64_t j = 0; j < bpr; ++j) {
        uint64_t bi = uint64_t(r) * uint64_t(bpr) + uint64_t(j);
        kt.decode(codes + j * block, block, plan.decodeTable.data(),
                  plan.tableSize, mode, scales[bi],
                  detail::blockOffset(scheme, layout, src, bi),
                  out + j * block);
      }
      if (dstType == ElementType::F16)
        kt.f32ToF16(out, static_cast<uint16_t *>(dst) + r * k, k);
      else if (dstType == ElementType::BF16)
        kt.f32ToBF16(out, static_cast<uint16_t *>(dst) + r * k, k);
    }
  };
  parallelFor(rows, options.numThreads, work);
  if (outOfMemory)
    return Status::error("out of memory for row scratch buffers");
  return Status::ok();
}

Result<std::vector<float>> dequantize(const Scheme &scheme, const uint8_t *src,
                                      uint64_t srcSize, int64_t rows, int64_t k,
                                      const QuantizeOptions &options) {
  Result<PackedLayout> layout = computeLayout(scheme, rows, k);
  if (!layout)
    return layout.status();
  std::vector<float> out(uint64_t(rows) * uint64_t(k));
  if (Status s = dequantize(scheme, src, srcSize, rows, k, out.data(),
                            ElementType::F32, options);
      !s)
    return s;
  return out;
}

Result<double> bitsPerParameter(const Scheme &scheme, int64_t rows, int64_t k) {
  Result<PackedLayout> layout = computeLayout(scheme, rows, k);
  if (!layout)
    return layout.status();
  double bytes = double(layout->codes.size) + double(layout->scales.size) +
                 double(layout->scaleScales.size) +
                 double(layout->scaleOffset.size) +
                 double(layout->zeroPoints.size);
  return bytes * 8.0 / (double(rows) * double(k));
}

double nominalBitsPerParameter(const Scheme &scheme) {
  double bits = codeBits(scheme.format);
  if (scheme.isPerChannel())
    return bits;
  double block = double(scheme.blockSize);
  double scaleBits = 8.0 * scaleTypeBytes(scheme.scaleType);
  if (scheme.hasDoubleQuant())
    bits += 8.0 / block + 32.0 / (block * double(scheme.doubleQuantBlockSize));
  else
    bits += scaleBits / block;
  if (scheme.zeroPoint == ZeroPoint::Int)
    bits += 8.0 / block;
  else if (scheme.zeroPoint == ZeroPoint::Min)
    bits += scaleBits / block;
  return bits;
}

} // namespace lowbit::numerics
