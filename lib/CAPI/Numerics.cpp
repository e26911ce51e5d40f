//===- Numerics.cpp - C API of the numerics core
//---------------------------===//

#include "lowbit-c/Numerics.h"

#include "lowbit/Numerics/Codebooks.h"
#include "lowbit/Numerics/ErrorStats.h"
#include "lowbit/Numerics/Gptq.h"
#include "lowbit/Numerics/Hadamard.h"
#include "lowbit/Numerics/Interchange.h"
#include "lowbit/Numerics/Isa.h"
#include "lowbit/Numerics/Layout.h"
#include "lowbit/Numerics/Quantize.h"

#include <algorithm>
#include <cstring>
#include <string>

using namespace lowbit::numerics;

namespace {
thread_local std::string lastError;

int fail(std::string message) {
  lastError = std::move(message);
  return LOWBIT_ERROR_INVALID_ARGUMENT;
}
int check(const Status &s) { return s ? LOWBIT_OK : fail(s.message()); }

/// Null-safe std::string_view of a C string.
std::string_view str(const char *s) { return s ? s : ""; }

Result<Scheme> toScheme(const lowbit_scheme *c) {
  if (!c)
    return Status::error("null scheme");
  Scheme s;
  if (c->format < 0 || c->format > int32_t(Format::LUT))
    return Status::error("unknown format value " + std::to_string(c->format));
  if (c->scale_type < 0 || c->scale_type > int32_t(ScaleType::BF16))
    return Status::error("unknown scale type value " +
                         std::to_string(c->scale_type));
  if (c->zero_point < 0 || c->zero_point > int32_t(ZeroPoint::Min))
    return Status::error("unknown zero point value " +
                         std::to_string(c->zero_point));
  if (c->double_quant < 0 || c->double_quant > int32_t(DoubleQuantFormat::Dyn8))
    return Status::error("unknown double quantization value " +
                         std::to_string(c->double_quant));
  s.format = Format(c->format);
  s.scaleType = ScaleType(c->scale_type);
  s.zeroPoint = ZeroPoint(c->zero_point);
  s.doubleQuant = DoubleQuantFormat(c->double_quant);
  s.blockSize = c->block_size;
  s.doubleQuantBlockSize = c->double_quant_block_size;
  std::copy(c->lut, c->lut + 16, s.lut.begin());
  if (Status st = verifyScheme(s); !st)
    return st;
  return s;
}

void fromScheme(const Scheme &s, lowbit_scheme *c) {
  c->format = int32_t(s.format);
  c->scale_type = int32_t(s.scaleType);
  c->zero_point = int32_t(s.zeroPoint);
  c->double_quant = int32_t(s.doubleQuant);
  c->block_size = s.blockSize;
  c->double_quant_block_size = s.doubleQuantBlockSize;
  std::copy(s.lut.begin(), s.lut.end(), c->lut);
}

Result<ElementType> elementType(const char *name) {
  if (auto t = parseElementType(str(name)))
    return *t;
  return Status::error("unknown element type '" + std::string(str(name)) +
                       "' (expected f32, f16 or bf16)");
}

Result<GgufType> ggufType(const char *name) {
  if (auto t = parseGgufType(str(name)))
    return *t;
  return Status::error("unknown GGUF type '" + std::string(str(name)) +
                       "' (expected q4_0, q4_1, q8_0 or q4_k)");
}

int copyTable(const float *begin, size_t n, float *out, uint64_t capacity,
              uint64_t *count) {
  if (count)
    *count = n;
  if (!out || capacity < n)
    return fail("table needs " + std::to_string(n) +
                " entries, got room "
                "for " +
                std::to_string(capacity));
  std::copy(begin, begin + n, out);
  return LOWBIT_OK;
}
} // namespace

extern "C" {

const char *lowbit_last_error(void) { return lastError.c_str(); }

int lowbit_scheme_init(lowbit_scheme *scheme, const char *format,
                       int64_t block_size, const char *scale_type,
                       const char *zero_point, const char *double_quant,
                       int64_t double_quant_block_size, const float *lut) {
  if (!scheme)
    return fail("null scheme");
  Scheme s;
  auto f = parseFormat(str(format));
  if (!f)
    return fail("unknown format '" + std::string(str(format)) + "'");
  s.format = *f;
  auto st = parseScaleType(scale_type ? str(scale_type) : "f32");
  if (!st)
    return fail("unknown scale type '" + std::string(str(scale_type)) + "'");
  s.scaleType = *st;
  if (zero_point && str(zero_point) != "none") {
    auto zp = parseZeroPoint(str(zero_point));
    if (!zp)
      return fail("unknown zero point '" + std::string(str(zero_point)) +
                  "' (expected none, int or min)");
    s.zeroPoint = *zp;
  }
  if (double_quant && str(double_quant) != "none") {
    auto dq = parseDoubleQuantFormat(str(double_quant));
    if (!dq)
      return fail("unknown double quantization format '" +
                  std::string(str(double_quant)) +
                  "' (expected none, i8, fp8 or dyn8)");
    s.doubleQuant = *dq;
  }
  s.blockSize = block_size;
  s.doubleQuantBlockSize = double_quant_block_size;
  if (lut)
    std::copy(lut, lut + 16, s.lut.begin());
  else if (s.format == Format::LUT)
    return fail("format 'lut' needs its 16 table values");
  if (Status v = verifyScheme(s); !v)
    return fail(v.message());
  fromScheme(s, scheme);
  return LOWBIT_OK;
}

int lowbit_compute_layout(const lowbit_scheme *scheme, int64_t rows, int64_t k,
                          lowbit_layout *out) {
  auto s = toScheme(scheme);
  if (!s)
    return check(s.status());
  if (!out)
    return fail("null layout");
  auto l = computeLayout(*s, rows, k);
  if (!l)
    return check(l.status());
  *out = lowbit_layout{l->rows,
                       l->k,
                       l->blocksPerRow,
                       l->rowBytes,
                       l->codes.offset,
                       l->codes.size,
                       l->scales.offset,
                       l->scales.size,
                       l->scaleScales.offset,
                       l->scaleScales.size,
                       l->scaleOffset.offset,
                       l->scaleOffset.size,
                       l->zeroPoints.offset,
                       l->zeroPoints.size,
                       l->totalBytes};
  return LOWBIT_OK;
}

int lowbit_quantize(const lowbit_scheme *scheme, const void *src,
                    const char *src_type, int64_t rows, int64_t k, uint8_t *dst,
                    uint64_t dst_size, uint32_t threads) {
  auto s = toScheme(scheme);
  if (!s)
    return check(s.status());
  auto t = elementType(src_type);
  if (!t)
    return check(t.status());
  return check(
      quantize(*s, src, *t, rows, k, dst, dst_size, QuantizeOptions{threads}));
}

int lowbit_quantize_gptq(const lowbit_scheme *scheme, const float *w,
                         int64_t rows, int64_t k, const float *hessian,
                         double damping, int act_order, int clip_search,
                         uint32_t refine_sweeps, uint8_t *dst,
                         uint64_t dst_size, uint32_t threads) {
  auto s = toScheme(scheme);
  if (!s)
    return check(s.status());
  GptqOptions options;
  options.damping = damping;
  options.actOrder = act_order != 0;
  options.clipSearch = clip_search != 0;
  options.refineSweeps = refine_sweeps;
  options.numThreads = threads;
  return check(quantizeGptq(*s, w, rows, k, hessian, dst, dst_size, options));
}

int lowbit_gptq_asymmetric_target(const float *w, int64_t rows, int64_t k,
                                  const float *hessian, const float *cross,
                                  double damping, double blend, float *out,
                                  uint32_t threads) {
  return check(asymmetricTarget(w, rows, k, hessian, cross, damping, blend, out,
                                threads));
}

int lowbit_hadamard_rotate(float *data, int64_t rows, int64_t k,
                           int64_t block_size, uint32_t threads) {
  return check(hadamardRotateRows(data, rows, k, block_size, threads));
}

int lowbit_dequantize(const lowbit_scheme *scheme, const uint8_t *src,
                      uint64_t src_size, int64_t rows, int64_t k, void *dst,
                      const char *dst_type, uint32_t threads) {
  auto s = toScheme(scheme);
  if (!s)
    return check(s.status());
  auto t = elementType(dst_type);
  if (!t)
    return check(t.status());
  return check(dequantize(*s, src, src_size, rows, k, dst, *t,
                          QuantizeOptions{threads}));
}

int lowbit_decode_scales(const lowbit_scheme *scheme, const uint8_t *src,
                         uint64_t src_size, int64_t rows, int64_t k,
                         float *scales, uint64_t capacity) {
  auto s = toScheme(scheme);
  if (!s)
    return check(s.status());
  auto r = decodeScales(*s, src, src_size, rows, k);
  if (!r)
    return check(r.status());
  return copyTable(r->data(), r->size(), scales, capacity, nullptr);
}

int lowbit_error_stats_compute(const float *reference, const float *approx,
                               int64_t n, lowbit_error_stats *stats) {
  if (!stats)
    return fail("null stats");
  auto r = computeErrorStats(reference, approx, n);
  if (!r)
    return check(r.status());
  *stats =
      lowbit_error_stats{r->count, r->skipped, r->maxAbs, r->rms, r->snrDb};
  return LOWBIT_OK;
}

int lowbit_bits_per_parameter(const lowbit_scheme *scheme, int64_t rows,
                              int64_t k, double *bits) {
  auto s = toScheme(scheme);
  if (!s)
    return check(s.status());
  if (!bits)
    return fail("null output");
  auto r = bitsPerParameter(*s, rows, k);
  if (!r)
    return check(r.status());
  *bits = *r;
  return LOWBIT_OK;
}

double lowbit_nominal_bits_per_parameter(const lowbit_scheme *scheme) {
  auto s = toScheme(scheme);
  if (!s) {
    (void)check(s.status());
    return -1.0;
  }
  return nominalBitsPerParameter(*s);
}

int lowbit_code_values(const lowbit_scheme *scheme, float *values,
                       uint64_t capacity, uint64_t *count) {
  auto s = toScheme(scheme);
  if (!s)
    return check(s.status());
  std::vector<float> v = codeValues(*s);
  return copyTable(v.data(), v.size(), values, capacity, count);
}

int lowbit_named_table(const char *name, float *values, uint64_t capacity,
                       uint64_t *count) {
  std::string_view n = str(name);
  if (n == "nf4")
    return copyTable(nf4Values().data(), 16, values, capacity, count);
  if (n == "fp4")
    return copyTable(fp4Values().data(), 16, values, capacity, count);
  if (n == "fp8")
    return copyTable(fp8E4M3Values().data(), 256, values, capacity, count);
  if (n == "dyn8")
    return copyTable(dyn8Values().data(), 256, values, capacity, count);
  return fail("unknown table '" + std::string(n) +
              "' (expected nf4, fp4, fp8 or dyn8)");
}

int lowbit_set_isa(const char *name) {
  auto level = parseIsaLevel(str(name));
  if (!level)
    return fail("unknown instruction set '" + std::string(str(name)) +
                "' (expected scalar, avx2 or avx512)");
  return check(setIsaLevel(*level));
}

const char *lowbit_active_isa(void) {
  return isaLevelName(activeIsaLevel()).data();
}
const char *lowbit_detected_isa(void) {
  return isaLevelName(detectedIsaLevel()).data();
}

int lowbit_gguf_tensor_bytes(const char *type, int64_t rows, int64_t k,
                             uint64_t *bytes) {
  auto t = ggufType(type);
  if (!t)
    return check(t.status());
  if (!bytes)
    return fail("null output");
  auto r = ggufTensorBytes(*t, rows, k);
  if (!r)
    return check(r.status());
  *bytes = *r;
  return LOWBIT_OK;
}

int lowbit_gguf_canonical_scheme(const char *type, lowbit_scheme *scheme) {
  auto t = ggufType(type);
  if (!t)
    return check(t.status());
  if (!scheme)
    return fail("null scheme");
  fromScheme(ggufCanonicalScheme(*t), scheme);
  return LOWBIT_OK;
}

int lowbit_gguf_quantize(const char *type, const float *src, int64_t rows,
                         int64_t k, uint8_t *dst, uint64_t dst_size,
                         uint32_t threads) {
  auto t = ggufType(type);
  if (!t)
    return check(t.status());
  return check(
      ggufQuantize(*t, src, rows, k, dst, dst_size, QuantizeOptions{threads}));
}

int lowbit_gguf_to_canonical(const char *type, const uint8_t *src,
                             uint64_t src_size, int64_t rows, int64_t k,
                             uint8_t *dst, uint64_t dst_size) {
  auto t = ggufType(type);
  if (!t)
    return check(t.status());
  return check(ggufToCanonical(*t, src, src_size, rows, k, dst, dst_size));
}

int lowbit_canonical_to_gguf(const char *type, const uint8_t *src,
                             uint64_t src_size, int64_t rows, int64_t k,
                             uint8_t *dst, uint64_t dst_size) {
  auto t = ggufType(type);
  if (!t)
    return check(t.status());
  return check(canonicalToGguf(*t, src, src_size, rows, k, dst, dst_size));
}

int lowbit_bnb_nf4_sizes(int64_t rows, int64_t k, int64_t block_size,
                         int64_t nested_block_size, uint64_t *packed_bytes,
                         uint64_t *absmax_count,
                         uint64_t *nested_absmax_count) {
  if (!packed_bytes || !absmax_count || !nested_absmax_count)
    return fail("null output");
  auto r = bnbNF4Sizes(rows, k, block_size, nested_block_size);
  if (!r)
    return check(r.status());
  *packed_bytes = r->packedBytes;
  *absmax_count = r->absmaxCount;
  *nested_absmax_count = r->nestedAbsmaxCount;
  return LOWBIT_OK;
}

int lowbit_bnb_nf4_scheme(int64_t block_size, int64_t nested_block_size,
                          lowbit_scheme *scheme) {
  if (!scheme)
    return fail("null scheme");
  Scheme s = bnbNF4Scheme(block_size, nested_block_size);
  if (Status v = verifyScheme(s); !v)
    return fail(v.message());
  fromScheme(s, scheme);
  return LOWBIT_OK;
}

int lowbit_bnb_nf4_to_canonical(const uint8_t *packed, uint64_t packed_bytes,
                                const uint8_t *absmax, uint64_t absmax_count,
                                const float *nested_absmax,
                                uint64_t nested_absmax_count, float offset,
                                const float *nested_code,
                                const float *quant_map, int64_t rows, int64_t k,
                                int64_t block_size, int64_t nested_block_size,
                                uint8_t *dst, uint64_t dst_size) {
  BnbNF4View view{packed,       packed_bytes,  absmax,
                  absmax_count, nested_absmax, nested_absmax_count,
                  offset,       nested_code,   quant_map};
  return check(bnbNF4ToCanonical(view, rows, k, block_size, nested_block_size,
                                 dst, dst_size));
}

int lowbit_canonical_to_bnb_nf4(const lowbit_scheme *scheme, const uint8_t *src,
                                uint64_t src_size, int64_t rows, int64_t k,
                                uint8_t *packed, uint64_t packed_bytes,
                                uint8_t *absmax, uint64_t absmax_count,
                                float *nested_absmax,
                                uint64_t nested_absmax_count, float *offset,
                                float *nested_code, float *quant_map) {
  auto s = toScheme(scheme);
  if (!s)
    return check(s.status());
  BnbNF4Buffers out{packed,       packed_bytes,  absmax,
                    absmax_count, nested_absmax, nested_absmax_count,
                    offset,       nested_code,   quant_map};
  return check(canonicalToBnbNF4(*s, src, src_size, rows, k, out));
}

} // extern "C"
