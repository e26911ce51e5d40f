//===- GptqTest.cpp - GPTQ against round-to-nearest and a direct solver ---===//

#include "lowbit/Numerics/Gptq.h"

#include "TestUtil.h"
#include "lowbit/Numerics/Codebooks.h"
#include "lowbit/Numerics/Layout.h"
#include "lowbit/Numerics/Quantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace lowbit::numerics;
using namespace lowbit::numerics::test;

namespace {

std::vector<float> diagonalHessian(int64_t k, uint32_t seed) {
  std::vector<float> h(size_t(k * k), 0.0f);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(0.5f, 4.0f);
  for (int64_t i = 0; i < k; ++i)
    h[size_t(i * k + i)] = dist(rng);
  return h;
}

/// H = Xᵀ·X / n for n inputs whose features are correlated (each mixes a
/// few shared factors), with a few features much louder than the rest, as
/// in transformer activations.
std::vector<float> correlatedHessian(int64_t k, int64_t n, uint32_t seed) {
  std::vector<float> factors = gaussian(size_t(n * 8), seed);
  std::vector<float> mixing = gaussian(size_t(8 * k), seed + 1);
  std::vector<float> noise = gaussian(size_t(n * k), seed + 2, 0.3f);
  std::vector<double> x(size_t(n * k));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < k; ++i) {
      double v = noise[size_t(r * k + i)];
      for (int64_t f = 0; f < 8; ++f)
        v += double(factors[size_t(r * 8 + f)]) * mixing[size_t(f * k + i)];
      x[size_t(r * k + i)] = i % 17 == 3 ? 6.0 * v : v;
    }
  std::vector<float> h(size_t(k * k));
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) {
      double s = 0.0;
      for (int64_t r = 0; r < n; ++r)
        s += x[size_t(r * k + i)] * x[size_t(r * k + j)];
      h[size_t(i * k + j)] = float(s / double(n));
    }
  return h;
}

std::vector<float> decoded(const Scheme &scheme,
                           const std::vector<uint8_t> &packed, int64_t rows,
                           int64_t k) {
  Result<std::vector<float>> out =
      dequantize(scheme, packed.data(), packed.size(), rows, k);
  EXPECT_TRUE(out.isOk()) << out.message();
  return out.isOk() ? *out : std::vector<float>();
}

double weightedError(const std::vector<float> &w,
                     const std::vector<float> &approx, int64_t rows, int64_t k,
                     const std::vector<float> &h) {
  Result<double> e =
      hessianWeightedError(w.data(), approx.data(), rows, k, h.data());
  EXPECT_TRUE(e.isOk()) << e.message();
  return e.isOk() ? *e : 0.0;
}

/// Bytes of every section but the codes: what fixes the block parameters.
std::vector<uint8_t> parameterBytes(const Scheme &scheme,
                                    const std::vector<uint8_t> &packed,
                                    int64_t rows, int64_t k) {
  PackedLayout layout = *computeLayout(scheme, rows, k);
  return std::vector<uint8_t>(packed.begin() + int64_t(layout.codes.size),
                              packed.end());
}

/// GPTQ without the clip search (block parameters exactly as
/// round-to-nearest chooses them).
Result<std::vector<uint8_t>>
gptqNoClip(const Scheme &scheme, const std::vector<float> &w, int64_t rows,
           int64_t k, const std::vector<float> &h, bool actOrder,
           unsigned refineSweeps = 0) {
  GptqOptions options;
  options.actOrder = actOrder;
  options.clipSearch = false;
  options.refineSweeps = refineSweeps;
  return quantizeGptq(scheme, w.data(), rows, k, h.data(), options);
}

std::vector<Scheme> nonDoubleQuantSchemes() {
  return {makeScheme(Format::I4, 32, ScaleType::F16),
          makeScheme(Format::U4, 64, ScaleType::F16, ZeroPoint::Int),
          makeScheme(Format::U4, 32, ScaleType::F16, ZeroPoint::Min),
          makeScheme(Format::NF4, 64, ScaleType::F16),
          makeScheme(Format::FP4, 32, ScaleType::BF16),
          makeScheme(Format::FP8, 32, ScaleType::F32),
          makeScheme(Format::I8, kPerChannel, ScaleType::F32),
          makeScheme(Format::I3, 128, ScaleType::F16),
          makeScheme(Format::U2, 32, ScaleType::F32, ZeroPoint::Int),
          makeScheme(Format::LUT, 64, ScaleType::F32)};
}

Scheme nf4DoubleQuant() {
  Scheme s = makeScheme(Format::NF4, 64, ScaleType::F32);
  s.doubleQuant = DoubleQuantFormat::Dyn8;
  s.doubleQuantBlockSize = 16;
  return s;
}

// With uncorrelated inputs there is no error to feed forward: GPTQ is
// round-to-nearest, byte for byte.
TEST(Gptq, DiagonalHessianIsRoundToNearest) {
  const int64_t rows = 24, k = 256;
  std::vector<float> w = gaussian(size_t(rows * k), 11);
  std::vector<float> h = diagonalHessian(k, 12);
  for (const Scheme &scheme : nonDoubleQuantSchemes()) {
    SCOPED_TRACE(std::string(formatName(scheme.format)));
    Result<std::vector<uint8_t>> rtn = quantize(scheme, w.data(), rows, k);
    ASSERT_TRUE(rtn.isOk()) << rtn.message();
    // Refinement keeps every code: each is already the nearest level to
    // its own optimum when the inputs are uncorrelated.
    for (bool actOrder : {false, true})
      for (unsigned refine : {0u, 2u}) {
        Result<std::vector<uint8_t>> gptq =
            gptqNoClip(scheme, w, rows, k, h, actOrder, refine);
        ASSERT_TRUE(gptq.isOk()) << gptq.message();
        EXPECT_EQ(*gptq, *rtn)
            << "act-order " << actOrder << ", refine " << refine;
      }
  }
}

// Double-quantized scales: round-to-nearest picks codes against the scale
// before its second quantization, GPTQ against the one the decoder uses, so
// no element gets worse and the parameter sections stay as they were.
TEST(Gptq, DiagonalHessianRoundsAgainstDecodedScales) {
  const int64_t rows = 16, k = 512;
  Scheme scheme = nf4DoubleQuant();
  std::vector<float> w = gaussian(size_t(rows * k), 21);
  std::vector<float> h = diagonalHessian(k, 22);
  std::vector<uint8_t> rtn = *quantize(scheme, w.data(), rows, k);
  GptqOptions noClip;
  noClip.clipSearch = false;
  Result<std::vector<uint8_t>> gptq =
      quantizeGptq(scheme, w.data(), rows, k, h.data(), noClip);
  ASSERT_TRUE(gptq.isOk()) << gptq.message();
  EXPECT_EQ(parameterBytes(scheme, *gptq, rows, k),
            parameterBytes(scheme, rtn, rows, k));
  std::vector<float> a = decoded(scheme, rtn, rows, k);
  std::vector<float> b = decoded(scheme, *gptq, rows, k);
  int64_t better = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    float ea = std::fabs(w[i] - a[i]), eb = std::fabs(w[i] - b[i]);
    EXPECT_LE(eb, ea * (1.0f + 1e-6f)) << "element " << i;
    better += eb < ea;
  }
  EXPECT_GT(better, 0);
}

// The point of GPTQ: on correlated inputs the layer's output error is much
// smaller than round-to-nearest's, for every kind of scheme, with the block
// parameters unchanged.
TEST(Gptq, ReducesOutputErrorOnCorrelatedInputs) {
  const int64_t rows = 48, k = 256;
  std::vector<float> w = gaussian(size_t(rows * k), 31, 0.05f);
  std::vector<float> h = correlatedHessian(k, 2048, 32);
  std::vector<Scheme> schemes = {
      makeScheme(Format::I4, 32, ScaleType::F16),
      makeScheme(Format::U4, 128, ScaleType::F16, ZeroPoint::Int),
      makeScheme(Format::U4, 32, ScaleType::F16, ZeroPoint::Min),
      makeScheme(Format::I3, 64, ScaleType::F16),
      nf4DoubleQuant(),
      makeScheme(Format::I8, kPerChannel, ScaleType::F32)};
  for (const Scheme &scheme : schemes) {
    SCOPED_TRACE(std::string(formatName(scheme.format)));
    std::vector<uint8_t> rtn = *quantize(scheme, w.data(), rows, k);
    double rtnError =
        weightedError(w, decoded(scheme, rtn, rows, k), rows, k, h);
    for (bool actOrder : {false, true}) {
      Result<std::vector<uint8_t>> gptq =
          gptqNoClip(scheme, w, rows, k, h, actOrder);
      ASSERT_TRUE(gptq.isOk()) << gptq.message();
      EXPECT_EQ(parameterBytes(scheme, *gptq, rows, k),
                parameterBytes(scheme, rtn, rows, k));
      double error =
          weightedError(w, decoded(scheme, *gptq, rows, k), rows, k, h);
      EXPECT_LT(error, 0.6 * rtnError)
          << "act-order " << actOrder << ": " << error << " vs " << rtnError;
    }
  }
}

/// GPTQ as first described (optimal brain quantization): after rounding
/// column q, subtract err·H⁻¹[q,:]/H⁻¹[q,q] from the remaining columns and
/// remove q from H⁻¹ by one Gaussian elimination step. Double precision,
/// explicit inverse, no Cholesky: an independent route to the same codes.
std::vector<float> directGptq(const Scheme &scheme, const std::vector<float> &w,
                              int64_t rows, int64_t k,
                              const std::vector<float> &h, double damping) {
  std::vector<uint8_t> rtn = *quantize(scheme, w.data(), rows, k);
  std::vector<float> scales =
      *decodeScales(scheme, rtn.data(), rtn.size(), rows, k);
  int64_t block = scheme.isPerChannel() ? k : scheme.blockSize;
  int64_t bpr = k / block;
  float divisor = 7.0f; // int4, symmetric: codes -7..7
  // Damped H, inverted by Gauss-Jordan.
  std::vector<double> a(size_t(k * k)), inv(size_t(k * k), 0.0);
  double mean = 0.0;
  for (int64_t i = 0; i < k; ++i)
    mean += h[size_t(i * k + i)];
  mean /= double(k);
  for (int64_t i = 0; i < k; ++i) {
    for (int64_t j = 0; j < k; ++j)
      a[size_t(i * k + j)] = h[size_t(i * k + j)];
    a[size_t(i * k + i)] += damping * mean;
    inv[size_t(i * k + i)] = 1.0;
  }
  for (int64_t c = 0; c < k; ++c) {
    double p = a[size_t(c * k + c)];
    for (int64_t j = 0; j < k; ++j) {
      a[size_t(c * k + j)] /= p;
      inv[size_t(c * k + j)] /= p;
    }
    for (int64_t r = 0; r < k; ++r) {
      if (r == c)
        continue;
      double f = a[size_t(r * k + c)];
      for (int64_t j = 0; j < k; ++j) {
        a[size_t(r * k + j)] -= f * a[size_t(c * k + j)];
        inv[size_t(r * k + j)] -= f * inv[size_t(c * k + j)];
      }
    }
  }
  std::vector<float> out(w.size());
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<double> hinv = inv, x(w.begin() + r * k, w.begin() + r * k + k);
    for (int64_t q = 0; q < k; ++q) {
      float s = scales[size_t(r * bpr + q / block)];
      double code = std::nearbyint(
          std::fmin(std::fmax(float(x[size_t(q)]) / s, -divisor), divisor));
      double value = double(float(code) * s);
      out[size_t(r * k + q)] = float(value);
      double d = hinv[size_t(q * k + q)];
      double err = (x[size_t(q)] - value) / d;
      for (int64_t j = q + 1; j < k; ++j)
        x[size_t(j)] -= err * hinv[size_t(q * k + j)];
      for (int64_t i = q + 1; i < k; ++i)
        for (int64_t j = q + 1; j < k; ++j)
          hinv[size_t(i * k + j)] -=
              hinv[size_t(i * k + q)] * hinv[size_t(q * k + j)] / d;
    }
  }
  return out;
}

TEST(Gptq, MatchesDirectSolver) {
  const int64_t rows = 12, k = 64;
  Scheme scheme = makeScheme(Format::I4, 16, ScaleType::F32);
  std::vector<float> w = gaussian(size_t(rows * k), 41);
  std::vector<float> h = correlatedHessian(k, 512, 42);
  GptqOptions options;
  options.actOrder = false;
  options.clipSearch = false;
  options.damping = 0.01;
  std::vector<uint8_t> gptq =
      *quantizeGptq(scheme, w.data(), rows, k, h.data(), options);
  std::vector<float> ours = decoded(scheme, gptq, rows, k);
  std::vector<float> direct = directGptq(scheme, w, rows, k, h, 0.01);
  int64_t same = 0;
  for (size_t i = 0; i < ours.size(); ++i)
    same += ours[i] == direct[i];
  // Rounding decisions near a midpoint may differ between f32 and f64
  // arithmetic (and then the rest of the row follows another path).
  EXPECT_GE(double(same), 0.97 * double(ours.size()));
  double e0 = weightedError(w, ours, rows, k, h);
  double e1 = weightedError(w, direct, rows, k, h);
  EXPECT_NEAR(e0, e1, 0.05 * e1);
}

/// Gaussian weights with a few large outliers: clipping them buys finer
/// steps for the rest.
std::vector<float> heavyTailed(size_t n, uint32_t seed) {
  std::vector<float> w = gaussian(n, seed);
  for (size_t i = 0; i < n; i += 37)
    w[i] *= 4.0f;
  return w;
}

// Clip search picks, per block, the range with the lowest input-weighted
// error: on heavy-tailed weights that beats the full range, before and
// after GPTQ's error feedback.
TEST(Gptq, ClipSearchLowersWeightedError) {
  const int64_t rows = 32, k = 256;
  std::vector<float> w = heavyTailed(size_t(rows * k), 81);
  for (const Scheme &scheme :
       {makeScheme(Format::I4, 64, ScaleType::F16),
        makeScheme(Format::U4, 128, ScaleType::F16, ZeroPoint::Int),
        makeScheme(Format::U3, 64, ScaleType::F32, ZeroPoint::Min),
        nf4DoubleQuant()}) {
    SCOPED_TRACE(std::string(formatName(scheme.format)));
    for (const std::vector<float> &h :
         {diagonalHessian(k, 82), correlatedHessian(k, 1024, 83)}) {
      double error[2];
      for (bool clip : {false, true}) {
        GptqOptions options;
        options.clipSearch = clip;
        Result<std::vector<uint8_t>> q =
            quantizeGptq(scheme, w.data(), rows, k, h.data(), options);
        ASSERT_TRUE(q.isOk()) << q.message();
        error[clip] =
            weightedError(w, decoded(scheme, *q, rows, k), rows, k, h);
      }
      EXPECT_LT(error[1], 0.97 * error[0])
          << "clipped " << error[1] << " vs full range " << error[0];
    }
  }
}

TEST(Gptq, ResultDoesNotDependOnThreads) {
  const int64_t rows = 70, k = 128;
  Scheme scheme = makeScheme(Format::U4, 32, ScaleType::F16, ZeroPoint::Int);
  std::vector<float> w = gaussian(size_t(rows * k), 51);
  std::vector<float> h = correlatedHessian(k, 256, 52);
  for (unsigned refine : {0u, 2u}) {
    GptqOptions one, many;
    one.refineSweeps = many.refineSweeps = refine;
    many.numThreads = 5;
    EXPECT_EQ(*quantizeGptq(scheme, w.data(), rows, k, h.data(), one),
              *quantizeGptq(scheme, w.data(), rows, k, h.data(), many))
        << "refine " << refine;
  }
}

// Coordinate descent after GPTQ: without damping it minimizes exactly the
// error hessianWeightedError measures, so no pass may raise it, the
// parameter sections stay, and a few passes lower it measurably.
TEST(Gptq, RefinementNeverRaisesTheError) {
  const int64_t rows = 32, k = 256;
  std::vector<float> w = gaussian(size_t(rows * k), 91, 0.05f);
  std::vector<float> h = correlatedHessian(k, 2048, 92);
  for (const Scheme &scheme :
       {makeScheme(Format::I4, 32, ScaleType::F16),
        makeScheme(Format::U4, 128, ScaleType::F16, ZeroPoint::Int),
        makeScheme(Format::U3, 64, ScaleType::F32, ZeroPoint::Min),
        makeScheme(Format::FP4, 32, ScaleType::BF16), nf4DoubleQuant()}) {
    SCOPED_TRACE(std::string(formatName(scheme.format)));
    std::vector<uint8_t> first;
    double previous = 0.0;
    for (unsigned refine = 0; refine <= 4; ++refine) {
      GptqOptions options;
      options.damping = 0.0;
      options.refineSweeps = refine;
      Result<std::vector<uint8_t>> q =
          quantizeGptq(scheme, w.data(), rows, k, h.data(), options);
      ASSERT_TRUE(q.isOk()) << q.message();
      double error = weightedError(w, decoded(scheme, *q, rows, k), rows, k, h);
      if (refine == 0) {
        first = *q;
      } else {
        EXPECT_EQ(parameterBytes(scheme, *q, rows, k),
                  parameterBytes(scheme, first, rows, k));
        EXPECT_LE(error, previous * (1.0 + 1e-9)) << "pass " << refine;
      }
      if (refine == 4) {
        double gptqError =
            weightedError(w, decoded(scheme, first, rows, k), rows, k, h);
        EXPECT_LT(error, 0.97 * gptqError);
      }
      previous = error;
    }
  }
}

// Run to convergence, refinement leaves no single code whose move to
// another level of its block would lower the damped objective
// (w − q)·H·(w − q)ᵀ: checked by brute force over every level.
TEST(Gptq, RefinementReachesACoordinatewiseMinimum) {
  const int64_t rows = 6, k = 64;
  const double damping = 0.01;
  std::vector<float> w = gaussian(size_t(rows * k), 95);
  std::vector<float> h = correlatedHessian(k, 512, 96);
  for (const Scheme &scheme : {makeScheme(Format::I4, 16, ScaleType::F32),
                               makeScheme(Format::NF4, 32, ScaleType::F32)}) {
    SCOPED_TRACE(std::string(formatName(scheme.format)));
    GptqOptions options;
    options.damping = damping;
    options.refineSweeps = 100;
    std::vector<uint8_t> packed =
        *quantizeGptq(scheme, w.data(), rows, k, h.data(), options);
    std::vector<float> q = decoded(scheme, packed, rows, k);
    std::vector<float> scales =
        *decodeScales(scheme, packed.data(), packed.size(), rows, k);
    std::vector<float> levels = codeValues(scheme);
    std::vector<double> hd(h.begin(), h.end());
    double mean = 0.0;
    for (int64_t i = 0; i < k; ++i)
      mean += hd[size_t(i * k + i)] / double(k);
    for (int64_t i = 0; i < k; ++i)
      hd[size_t(i * k + i)] += damping * mean;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < k; ++j) {
        // g_j = (H·(w − q))_j; moving q_j by d changes the objective by
        // d²·H_jj − 2·d·g_j.
        double g = 0.0;
        for (int64_t m = 0; m < k; ++m)
          g += hd[size_t(j * k + m)] *
               (double(w[size_t(r * k + m)]) - q[size_t(r * k + m)]);
        double hjj = hd[size_t(j * k + j)];
        float scale =
            scales[size_t(r * (k / scheme.blockSize) + j / scheme.blockSize)];
        for (float level : levels) {
          double d = double(level * scale) - q[size_t(r * k + j)];
          EXPECT_GE(d * d * hjj - 2.0 * d * g, -1e-6 * hjj * scale * scale)
              << "row " << r << ", column " << j << ", level " << level;
        }
      }
  }
}

// Inputs never seen in calibration (zero rows and columns of H) keep their
// nearest codes and do not stop the factorization, even without damping.
TEST(Gptq, UnseenInputsRoundToNearest) {
  const int64_t rows = 8, k = 64;
  Scheme scheme = makeScheme(Format::I4, 32, ScaleType::F32);
  std::vector<float> w = gaussian(size_t(rows * k), 61);
  std::vector<float> h = correlatedHessian(k, 256, 62);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t dead : {int64_t(5), int64_t(40)}) {
      h[size_t(i * k + dead)] = 0.0f;
      h[size_t(dead * k + i)] = 0.0f;
    }
  GptqOptions options;
  options.damping = 0.0;
  options.clipSearch = false;
  Result<std::vector<uint8_t>> gptq =
      quantizeGptq(scheme, w.data(), rows, k, h.data(), options);
  ASSERT_TRUE(gptq.isOk()) << gptq.message();
  std::vector<float> rtn =
      decoded(scheme, *quantize(scheme, w.data(), rows, k), rows, k);
  std::vector<float> ours = decoded(scheme, *gptq, rows, k);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t dead : {int64_t(5), int64_t(40)})
      EXPECT_EQ(ours[size_t(r * k + dead)], rtn[size_t(r * k + dead)]);
}

TEST(Gptq, RejectsBadInput) {
  const int64_t rows = 4, k = 32;
  Scheme scheme = makeScheme(Format::I4, 32, ScaleType::F32);
  std::vector<float> w = gaussian(size_t(rows * k), 71);
  std::vector<float> h = diagonalHessian(k, 72);
  auto message = [&](const std::vector<float> &wv, const std::vector<float> &hv,
                     GptqOptions options = {}) {
    Result<std::vector<uint8_t>> r =
        quantizeGptq(scheme, wv.data(), rows, k, hv.data(), options);
    return r.isOk() ? std::string("ok") : r.message();
  };
  std::vector<float> badW = w;
  badW[size_t(2 * k + 7)] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_NE(message(badW, h).find("weight element (row 2, column 7)"),
            std::string::npos);
  std::vector<float> badH = h;
  badH[size_t(3 * k + 1)] = std::numeric_limits<float>::infinity();
  EXPECT_NE(message(w, badH).find("Hessian element (row 3, column 1)"),
            std::string::npos);
  badH = h;
  badH[size_t(9 * k + 9)] = -1.0f;
  EXPECT_NE(message(w, badH).find("diagonal element 9 is negative"),
            std::string::npos);
  GptqOptions negative;
  negative.damping = -0.5;
  EXPECT_NE(message(w, h, negative).find("damping"), std::string::npos);
  // Rank one: not invertible without damping.
  std::vector<float> rankOne(size_t(k * k));
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j)
      rankOne[size_t(i * k + j)] = float((i + 1) * (j + 1));
  GptqOptions undamped;
  undamped.damping = 0.0;
  EXPECT_NE(message(w, rankOne, undamped).find("not positive definite"),
            std::string::npos);
  EXPECT_EQ(message(w, rankOne), "ok");
  // Shapes the scheme cannot take, and a short destination.
  Result<std::vector<uint8_t>> odd =
      quantizeGptq(scheme, w.data(), 4, 24, h.data());
  EXPECT_FALSE(odd.isOk());
  std::vector<uint8_t> small(16);
  EXPECT_FALSE(quantizeGptq(scheme, w.data(), rows, k, h.data(), small.data(),
                            small.size())
                   .isOk());
}

TEST(Gptq, HessianWeightedError) {
  const int64_t rows = 3, k = 4;
  std::vector<float> w = {1, 2, 3, 4, 0, 1, 0, 1, 2, 2, 2, 2};
  std::vector<float> a = w;
  a[1] += 0.5f;
  a[11] -= 1.0f;
  std::vector<float> identity(size_t(k * k), 0.0f);
  for (int64_t i = 0; i < k; ++i)
    identity[size_t(i * k + i)] = 1.0f;
  // With H = I it is ‖W − A‖² / ‖W‖² = 1.25 / 48.
  EXPECT_NEAR(weightedError(w, a, rows, k, identity), 1.25 / 48.0, 1e-12);
  std::vector<float> zero(w.size(), 0.0f);
  EXPECT_FALSE(
      hessianWeightedError(zero.data(), a.data(), rows, k, identity.data())
          .isOk());
}

} // namespace
