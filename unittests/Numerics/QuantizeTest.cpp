//===- QuantizeTest.cpp - Round trips, ties, special values, bad input ----===//

#include "lowbit/Numerics/Quantize.h"
#include "TestUtil.h"
#include "lowbit/Numerics/Codebooks.h"
#include "lowbit/Numerics/FloatTypes.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <tuple>

using namespace lowbit::numerics;
using namespace lowbit::numerics::test;

namespace {

std::vector<uint8_t> mustQuantize(const Scheme &s, const std::vector<float> &x,
                                  int64_t rows, int64_t k,
                                  unsigned threads = 1) {
  auto r = quantize(s, x.data(), rows, k, QuantizeOptions{threads});
  EXPECT_TRUE(r) << r.message();
  return r ? *r : std::vector<uint8_t>{};
}

std::vector<float> mustDequantize(const Scheme &s,
                                  const std::vector<uint8_t> &buf, int64_t rows,
                                  int64_t k) {
  auto r = dequantize(s, buf.data(), buf.size(), rows, k);
  EXPECT_TRUE(r) << r.message();
  return r ? *r : std::vector<float>{};
}

/// Values each scheme represents exactly, with every block's largest code
/// present so that the quantizer picks the same scale back.
std::vector<float> representable(const Scheme &s, int64_t rows, int64_t k,
                                 uint32_t seed) {
  std::mt19937 rng(seed);
  const int64_t block = s.isPerChannel() ? k : s.blockSize;
  const std::vector<float> values = codeValues(s);
  const int n = int(values.size());
  std::vector<float> x(size_t(rows * k));
  for (int64_t b = 0; b < rows * k / block; ++b) {
    float scale = std::ldexp(1.0f, int(rng() % 9) - 4);
    float *xb = x.data() + b * block;
    if (s.zeroPoint == ZeroPoint::Int) {
      int qmax = n - 1, z = int(rng() % unsigned(n));
      for (int64_t i = 0; i < block; ++i) {
        int q = i == 0 ? 0 : i == 1 ? qmax : int(rng() % unsigned(n));
        xb[i] = float(q - z) * scale;
      }
    } else if (s.zeroPoint == ZeroPoint::Min) {
      int qmax = n - 1;
      float m = -float(rng() % 20) * scale;
      for (int64_t i = 0; i < block; ++i) {
        int q = i == 0 ? 0 : i == 1 ? qmax : int(rng() % unsigned(n));
        xb[i] = float(q) * scale + m;
      }
    } else {
      float divisor = scaleDivisor(s);
      for (int64_t i = 0; i < block; ++i) {
        float v;
        do {
          v = values[rng() % unsigned(n)];
        } while (!std::isfinite(v) || std::fabs(v) > divisor ||
                 (isIntegerFormat(s.format) && v < -divisor));
        xb[i] = (i == 0 ? divisor : v) * scale;
      }
    }
  }
  return x;
}

using RoundTripParam = std::tuple<Format, ZeroPoint, ScaleType, int64_t>;

class RoundTripTest : public ::testing::TestWithParam<RoundTripParam> {};

TEST_P(RoundTripTest, RepresentableValuesAreExact) {
  auto [format, zp, scaleType, block] = GetParam();
  Scheme s = makeScheme(format, block, scaleType, zp);
  // Odd shapes: 3 rows; per-channel rows of 37 elements (not a multiple of
  // a byte for 3-bit codes, nor of any vector width).
  int64_t rows = 3, k = block == kPerChannel ? 37 : 3 * block;
  std::vector<float> x = representable(s, rows, k, 11);
  std::vector<uint8_t> q = mustQuantize(s, x, rows, k);
  std::vector<float> y = mustDequantize(s, q, rows, k);
  ASSERT_EQ(y.size(), x.size());
  for (size_t i = 0; i < x.size(); ++i)
    ASSERT_EQ(y[i], x[i]) << "element " << i;
}

std::vector<RoundTripParam> roundTripParams() {
  std::vector<RoundTripParam> params;
  const int64_t blocks[] = {16, 32, 64, 128, 256, kPerChannel};
  for (int64_t b : blocks)
    for (ScaleType st : {ScaleType::F32, ScaleType::F16, ScaleType::BF16}) {
      for (Format f : {Format::I8, Format::I4, Format::I3, Format::I2,
                       Format::NF4, Format::FP4, Format::FP8, Format::LUT})
        params.emplace_back(f, ZeroPoint::None, st, b);
      for (Format f : {Format::U8, Format::U4, Format::U3, Format::U2})
        for (ZeroPoint zp : {ZeroPoint::Int, ZeroPoint::Min})
          params.emplace_back(f, zp, st, b);
    }
  return params;
}

std::string roundTripName(const ::testing::TestParamInfo<RoundTripParam> &i) {
  auto [format, zp, st, block] = i.param;
  return std::string(formatName(format)) + "_" +
         std::string(zeroPointName(zp)) + "_" + std::string(scaleTypeName(st)) +
         "_" +
         (block == kPerChannel ? std::string("perchannel")
                               : "b" + std::to_string(block));
}

INSTANTIATE_TEST_SUITE_P(AllFormats, RoundTripTest,
                         ::testing::ValuesIn(roundTripParams()), roundTripName);

TEST(QuantizeTest, IntegerTiesRoundHalfToEven) {
  Scheme s = makeScheme(Format::I8, kPerChannel);
  std::vector<float> x = {127.0f, 2.5f, 3.5f, -2.5f, -3.5f, 0.5f, 1.5f, -0.5f};
  auto y = mustDequantize(s, mustQuantize(s, x, 1, 8), 1, 8);
  std::vector<float> expect = {127, 2, 4, -2, -4, 0, 2, -0.0f};
  EXPECT_EQ(y, expect);
}

TEST(QuantizeTest, ZeroPointTiesRoundHalfToEven) {
  // Range [-2.5, 12.5] over 15 steps: scale 1, zero point round(2.5) = 2.
  Scheme s = makeScheme(Format::U4, kPerChannel, ScaleType::F32);
  std::vector<float> x = {-2.5f, 12.5f, 0.0f, 1.5f};
  auto q = mustQuantize(s, x, 1, 4);
  auto layout = computeLayout(s, 1, 4);
  EXPECT_EQ(q[layout->zeroPoints.offset], 2);
  auto y = mustDequantize(s, q, 1, 4);
  std::vector<float> expect = {-2.0f, 12.0f, 0.0f, 2.0f};
  EXPECT_EQ(y, expect);
}

TEST(QuantizeTest, CodebookTiesGoToTheSmallerEntry) {
  Scheme s = makeScheme(Format::LUT, 16);
  std::vector<float> x(16, 0.0f);
  x[0] = 1.0f;      // absmax: scale 1
  x[1] = 0.09375f;  // midway between 0.0625 and 0.125
  x[2] = -0.03125f; // midway between -0.0625 and 0
  x[3] = 0.5625f;   // midway between 0.5 and 0.625
  auto y = mustDequantize(s, mustQuantize(s, x, 1, 16), 1, 16);
  EXPECT_EQ(y[1], 0.0625f);
  EXPECT_EQ(y[2], -0.0625f);
  EXPECT_EQ(y[3], 0.5f);
}

std::vector<Scheme> allSchemes(int64_t block, ScaleType st = ScaleType::F32) {
  std::vector<Scheme> schemes;
  for (Format f : {Format::I8, Format::I4, Format::I3, Format::I2, Format::NF4,
                   Format::FP4, Format::FP8, Format::LUT})
    schemes.push_back(makeScheme(f, block, st));
  for (Format f : {Format::U8, Format::U4, Format::U3, Format::U2}) {
    schemes.push_back(makeScheme(f, block, st, ZeroPoint::Int));
    schemes.push_back(makeScheme(f, block, st, ZeroPoint::Min));
  }
  Scheme dq = makeScheme(Format::NF4, block, st);
  for (DoubleQuantFormat d : {DoubleQuantFormat::I8, DoubleQuantFormat::FP8,
                              DoubleQuantFormat::Dyn8}) {
    dq.doubleQuant = d;
    schemes.push_back(dq);
  }
  Scheme dqInt = makeScheme(Format::U4, block, st, ZeroPoint::Int);
  dqInt.doubleQuant = DoubleQuantFormat::I8;
  dqInt.doubleQuantBlockSize = 3;
  schemes.push_back(dqInt);
  return schemes;
}

std::string describe(const Scheme &s) {
  return std::string(formatName(s.format)) + "/" +
         std::string(zeroPointName(s.zeroPoint)) + "/" +
         std::string(scaleTypeName(s.scaleType)) +
         "/dq=" + std::to_string(int(s.doubleQuant));
}

TEST(QuantizeTest, AllZeroBlocksDecodeToZero) {
  for (ScaleType st : {ScaleType::F32, ScaleType::F16, ScaleType::BF16})
    for (const Scheme &s : allSchemes(32, st)) {
      std::vector<float> x(64, 0.0f);
      auto y = mustDequantize(s, mustQuantize(s, x, 2, 32), 2, 32);
      for (float v : y)
        ASSERT_EQ(v, 0.0f) << describe(s);
    }
}

TEST(QuantizeTest, NaNAndInfinityAreHandled) {
  for (ScaleType st : {ScaleType::F32, ScaleType::F16, ScaleType::BF16})
    for (const Scheme &s : allSchemes(32, st)) {
      std::vector<float> x = gaussian(96, 5);
      x[3] = NAN;
      x[5] = INFINITY;
      x[7] = -INFINITY;
      for (int i = 64; i < 96; ++i) // a block without any finite value
        x[i] = i % 2 ? NAN : INFINITY;
      auto q = mustQuantize(s, x, 1, 96);
      auto y = mustDequantize(s, q, 1, 96);
      auto scales = decodeScales(s, q.data(), q.size(), 1, 96);
      ASSERT_TRUE(scales);
      for (float sc : *scales)
        ASSERT_TRUE(std::isfinite(sc)) << describe(s);
      float lo = INFINITY, hi = -INFINITY, amax = 0.0f;
      for (int i = 0; i < 32; ++i) {
        ASSERT_TRUE(std::isfinite(y[i])) << describe(s) << " " << i;
        lo = std::fmin(lo, y[i]);
        hi = std::fmax(hi, y[i]);
        if (std::isfinite(x[i]))
          amax = std::fmax(amax, std::fabs(x[i]));
      }
      // NaN quantizes as 0; +-Inf saturate to the block's extreme codes.
      float step = 2.0f * amax / 3.0f; // coarsest grid (2-bit) is 2*amax/3
      EXPECT_LE(std::fabs(y[3]), step) << describe(s);
      EXPECT_EQ(y[5], hi) << describe(s);
      if (s.zeroPoint == ZeroPoint::None) {
        EXPECT_EQ(y[7], lo) << describe(s);
      }
      for (int i = 64; i < 96; ++i)
        ASSERT_EQ(y[i], 0.0f) << describe(s) << " " << i;
    }
}

TEST(QuantizeTest, DenormalAndHugeBlocks) {
  for (ScaleType st : {ScaleType::F32, ScaleType::F16, ScaleType::BF16})
    for (const Scheme &s : allSchemes(16, st)) {
      std::vector<float> x(48);
      for (int i = 0; i < 16; ++i)
        x[i] = (i % 2 ? 1.0f : -1.0f) * 1e-40f * float(i + 1); // denormal
      for (int i = 16; i < 32; ++i)
        x[i] = (i % 2 ? 1.0f : -1.0f) * 3.0e38f; // scale overflows f16
      for (int i = 32; i < 48; ++i)
        x[i] = float(i - 40) * 1e-3f;
      auto q = mustQuantize(s, x, 1, 48);
      auto y = mustDequantize(s, q, 1, 48);
      for (int i = 0; i < 48; ++i)
        ASSERT_FALSE(std::isnan(y[i])) << describe(s) << " " << i;
      // Scales below the smallest normal f32 are flushed: the block is 0.
      for (int i = 0; i < 16; ++i)
        ASSERT_LE(std::fabs(y[i]), 1e-38f) << describe(s) << " " << i;
    }
}

TEST(QuantizeTest, FloatInputTypesAgree) {
  Scheme s = makeScheme(Format::NF4, 64);
  std::vector<float> x = gaussian(4 * 128, 9);
  std::vector<uint16_t> h(x.size()), b(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    h[i] = f32ToF16(x[i]);
    b[i] = f32ToBF16(x[i]);
  }
  for (auto [type, data] :
       {std::pair{ElementType::F16, &h}, std::pair{ElementType::BF16, &b}}) {
    std::vector<float> widened(x.size());
    for (size_t i = 0; i < x.size(); ++i)
      widened[i] = type == ElementType::F16 ? f16ToF32((*data)[i])
                                            : bf16ToF32((*data)[i]);
    auto layout = computeLayout(s, 4, 128);
    std::vector<uint8_t> fromHalf(layout->totalBytes);
    ASSERT_TRUE(quantize(s, data->data(), type, 4, 128, fromHalf.data(),
                         fromHalf.size()));
    EXPECT_EQ(fromHalf, mustQuantize(s, widened, 4, 128));
    // Dequantize to the half type: the f32 result rounded once.
    std::vector<float> y = mustDequantize(s, fromHalf, 4, 128);
    std::vector<uint16_t> out(x.size());
    ASSERT_TRUE(dequantize(s, fromHalf.data(), fromHalf.size(), 4, 128,
                           out.data(), type));
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_EQ(out[i],
                type == ElementType::F16 ? f32ToF16(y[i]) : f32ToBF16(y[i]));
  }
}

TEST(QuantizeTest, ResultsDoNotDependOnThreads) {
  for (const Scheme &s : allSchemes(64)) {
    std::vector<float> x = gaussian(7 * 256, 2);
    auto one = mustQuantize(s, x, 7, 256, 1);
    EXPECT_EQ(one, mustQuantize(s, x, 7, 256, 3)) << describe(s);
    EXPECT_EQ(one, mustQuantize(s, x, 7, 256, 0)) << describe(s);
    std::vector<float> a(x.size()), b(x.size());
    ASSERT_TRUE(dequantize(s, one.data(), one.size(), 7, 256, a.data(),
                           ElementType::F32, QuantizeOptions{1}));
    ASSERT_TRUE(dequantize(s, one.data(), one.size(), 7, 256, b.data(),
                           ElementType::F32, QuantizeOptions{4}));
    EXPECT_EQ(a, b);
  }
}

/// Every ISA level gives the same bytes and the same decoded bits, on
/// shapes whose rows end in partial vectors and data with specials.
TEST(QuantizeTest, IsaLevelsAgreeBitForBit) {
  IsaGuard guard;
  std::vector<IsaLevel> levels = supportedLevels();
  std::mt19937 rng(4);
  for (int64_t block : {int64_t(16), int64_t(32), int64_t(256), kPerChannel}) {
    int64_t k = block == kPerChannel ? 203 : 2 * block;
    int64_t rows = 5;
    std::vector<float> x = gaussian(size_t(rows * k), 17, 3.0f);
    for (size_t i = 0; i < x.size(); i += 37)
      x[i] = i % 3 == 0 ? NAN : (i % 3 == 1 ? INFINITY : 1e-41f);
    std::vector<uint16_t> h(x.size()), b(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      h[i] = f32ToF16(x[i]);
      b[i] = f32ToBF16(x[i]);
    }
    for (ScaleType st : {ScaleType::F32, ScaleType::BF16})
      for (const Scheme &s : allSchemes(block, st)) {
        auto layout = computeLayout(s, rows, k);
        ASSERT_TRUE(layout);
        for (ElementType in :
             {ElementType::F32, ElementType::F16, ElementType::BF16}) {
          const void *src = in == ElementType::F32   ? (const void *)x.data()
                            : in == ElementType::F16 ? (const void *)h.data()
                                                     : (const void *)b.data();
          std::vector<uint8_t> ref;
          std::vector<uint32_t> refOut;
          for (IsaLevel level : levels) {
            ASSERT_TRUE(setIsaLevel(level));
            std::vector<uint8_t> q(layout->totalBytes, 0xAA);
            ASSERT_TRUE(quantize(s, src, in, rows, k, q.data(), q.size()));
            std::vector<float> y(x.size());
            ASSERT_TRUE(dequantize(s, q.data(), q.size(), rows, k, y.data(),
                                   ElementType::F32));
            std::vector<uint16_t> yh(x.size()), yb(x.size());
            ASSERT_TRUE(dequantize(s, q.data(), q.size(), rows, k, yh.data(),
                                   ElementType::F16));
            ASSERT_TRUE(dequantize(s, q.data(), q.size(), rows, k, yb.data(),
                                   ElementType::BF16));
            std::vector<uint32_t> out;
            for (size_t i = 0; i < y.size(); ++i)
              out.push_back(bitsOf(y[i]) ^ (uint32_t(yh[i]) << 7) ^
                            (uint32_t(yb[i]) << 16));
            if (level == IsaLevel::Scalar) {
              ref = q;
              refOut = out;
              continue;
            }
            ASSERT_EQ(q, ref)
                << describe(s) << " " << isaLevelName(level) << " input "
                << elementTypeName(in) << " block " << block;
            ASSERT_EQ(out, refOut) << describe(s) << " " << isaLevelName(level);
          }
        }
      }
  }
}

TEST(QuantizeTest, PaddingAndGapsAreZero) {
  Scheme s = makeScheme(Format::I3, kPerChannel, ScaleType::F16);
  std::vector<float> x = gaussian(3 * 5, 1);
  auto layout = computeLayout(s, 3, 5);
  std::vector<uint8_t> q(layout->totalBytes, 0xFF);
  ASSERT_TRUE(
      quantize(s, x.data(), ElementType::F32, 3, 5, q.data(), q.size()));
  for (int r = 0; r < 3; ++r) // 15 bits per row: the top bit is padding
    EXPECT_EQ(q[r * 2 + 1] & 0x80, 0);
  for (uint64_t i = layout->codes.size; i < layout->scales.offset; ++i)
    EXPECT_EQ(q[i], 0) << i;
}

TEST(QuantizeTest, Int3PacksAcrossBytes) {
  // Codes 1..7 of a row of 8 i3 values -> a 24-bit little-endian stream.
  Scheme s = makeScheme(Format::I3, kPerChannel);
  std::vector<float> x = {3, 1, 2, 3, -1, -2, -3, 0};
  auto q = mustQuantize(s, x, 1, 8);
  uint32_t stream = q[0] | q[1] << 8 | q[2] << 16;
  for (int j = 0; j < 8; ++j) {
    int code = (stream >> (3 * j)) & 7;
    int value = code >= 4 ? code - 8 : code;
    EXPECT_EQ(value, int(x[j])) << j;
  }
}

TEST(QuantizeTest, BadInputIsAnError) {
  Scheme s = makeScheme(Format::I4, 32);
  std::vector<float> x(4 * 64, 1.0f);
  std::vector<uint8_t> buf(4096);
  Status st =
      quantize(s, x.data(), ElementType::F32, 4, 48, buf.data(), buf.size());
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("does not divide"), std::string::npos);
  st = quantize(s, x.data(), ElementType::F32, 4, 64, buf.data(), 10);
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("too small"), std::string::npos);
  st = quantize(s, nullptr, ElementType::F32, 4, 64, buf.data(), buf.size());
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("null"), std::string::npos);
  st = quantize(s, x.data(), static_cast<ElementType>(7), 4, 64, buf.data(),
                buf.size());
  EXPECT_FALSE(st);
  Scheme bad = s;
  bad.format = static_cast<Format>(42);
  st = quantize(bad, x.data(), ElementType::F32, 4, 64, buf.data(), buf.size());
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("unknown element format"), std::string::npos);

  auto q = mustQuantize(s, x, 4, 64);
  std::vector<float> y(4 * 64);
  st = dequantize(s, q.data(), q.size() - 1, 4, 64, y.data(), ElementType::F32);
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("truncated"), std::string::npos);
  auto r =
      dequantize(s, q.data(), q.size(), int64_t(1) << 62, int64_t(1) << 40);
  ASSERT_FALSE(r);
  EXPECT_NE(r.message().find("overflows"), std::string::npos);
  EXPECT_FALSE(bitsPerParameter(s, 0, 64));
}

TEST(QuantizeTest, BitsPerParameter) {
  Scheme nf4 = makeScheme(Format::NF4, 64);
  nf4.doubleQuant = DoubleQuantFormat::Dyn8;
  EXPECT_NEAR(nominalBitsPerParameter(nf4), 4.127, 5e-4);
  auto bpp = bitsPerParameter(nf4, 4096, 4096);
  ASSERT_TRUE(bpp);
  EXPECT_NEAR(*bpp, 4.127, 5e-4);
  EXPECT_EQ(nominalBitsPerParameter(makeScheme(Format::I4, 32, ScaleType::F16)),
            4.5);
  EXPECT_EQ(nominalBitsPerParameter(
                makeScheme(Format::U4, 32, ScaleType::F16, ZeroPoint::Min)),
            5.0);
}

} // namespace

// Clip ratios narrow each block's range before its scale is chosen: a
// ratio of 1 changes nothing, 0.5 halves a symmetric block's scale and
// moves a min-format block's range towards its middle; out of (0, 1] is
// an error naming the block.
TEST(QuantizeTest, ClipRatiosNarrowBlockRanges) {
  const int64_t rows = 2, k = 64;
  std::vector<float> w = gaussian(size_t(rows * k), 91);
  Scheme sym = makeScheme(Format::I4, 32, ScaleType::F32);
  std::vector<float> ones(4, 1.0f), halves(4, 0.5f);
  QuantizeOptions withOnes, withHalves;
  withOnes.clipRatios = ones.data();
  withHalves.clipRatios = halves.data();
  std::vector<uint8_t> plain = *quantize(sym, w.data(), rows, k);
  EXPECT_EQ(*quantize(sym, w.data(), rows, k, withOnes), plain);
  std::vector<uint8_t> clipped = *quantize(sym, w.data(), rows, k, withHalves);
  std::vector<float> s0 =
      *decodeScales(sym, plain.data(), plain.size(), rows, k);
  std::vector<float> s1 =
      *decodeScales(sym, clipped.data(), clipped.size(), rows, k);
  for (size_t b = 0; b < s0.size(); ++b)
    EXPECT_FLOAT_EQ(s1[b], 0.5f * s0[b]) << "block " << b;

  Scheme min = makeScheme(Format::U4, 32, ScaleType::F32, ZeroPoint::Min);
  std::vector<float> shifted(w.size());
  for (size_t i = 0; i < w.size(); ++i)
    shifted[i] = w[i] + 10.0f; // all positive: the range is [lo, hi] > 0
  std::vector<float> approx = *dequantize(
      min, quantize(min, shifted.data(), rows, k, withHalves)->data(),
      computeLayout(min, rows, k)->totalBytes, rows, k);
  for (int64_t b = 0; b < rows * k / 32; ++b) {
    float lo = shifted[size_t(b * 32)], hi = lo;
    for (int64_t i = b * 32; i < (b + 1) * 32; ++i) {
      lo = std::fmin(lo, shifted[size_t(i)]);
      hi = std::fmax(hi, shifted[size_t(i)]);
    }
    float mid = 0.5f * (lo + hi), half = 0.25f * (hi - lo);
    for (int64_t i = b * 32; i < (b + 1) * 32; ++i) {
      EXPECT_GE(approx[size_t(i)], mid - half - 1e-4f) << "element " << i;
      EXPECT_LE(approx[size_t(i)], mid + half + 1e-4f) << "element " << i;
    }
  }

  for (float bad : {0.0f, 1.5f, -0.25f, std::nanf("")}) {
    std::vector<float> ratios(4, 1.0f);
    ratios[2] = bad;
    QuantizeOptions options;
    options.clipRatios = ratios.data();
    Result<std::vector<uint8_t>> r = quantize(sym, w.data(), rows, k, options);
    ASSERT_FALSE(r.isOk());
    EXPECT_NE(r.message().find("clip ratio of block 2"), std::string::npos)
        << r.message();
  }
}
