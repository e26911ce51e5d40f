//===- GptqAsymmetricTest.cpp - GPTQ's target for perturbed inputs --------===//
//
// asymmetricTarget against the normal equations it solves, its blend, its
// input checks, and GPTQ on the target against GPTQ on W when the layer's
// inputs are perturbed (as by quantized layers before it).
//
//===----------------------------------------------------------------------===//

#include "lowbit/Numerics/Gptq.h"

#include "TestUtil.h"
#include "lowbit/Numerics/Quantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace lowbit::numerics;
using namespace lowbit::numerics::test;

namespace {

/// Calibration rows of one layer: x (float model) and x̃ = x + noise that
/// depends on x (quantized model), with correlated features, and the
/// statistics asymmetric calibration keeps: H̃ = X̃ᵀX̃ / n, C = X̃ᵀX / n.
struct PerturbedInputs {
  int64_t n, k;
  std::vector<double> x, xt;
  std::vector<float> hessian, cross;

  PerturbedInputs(int64_t n, int64_t k, float noise, uint32_t seed)
      : n(n), k(k), x(size_t(n * k)), xt(size_t(n * k)), hessian(size_t(k * k)),
        cross(size_t(k * k)) {
    std::vector<float> factors = gaussian(size_t(n * 6), seed);
    std::vector<float> mixing = gaussian(size_t(6 * k), seed + 1);
    std::vector<float> own = gaussian(size_t(n * k), seed + 2, 0.4f);
    std::vector<float> err = gaussian(size_t(n * k), seed + 3, noise);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t i = 0; i < k; ++i) {
        double v = own[size_t(r * k + i)];
        for (int64_t f = 0; f < 6; ++f)
          v += double(factors[size_t(r * 6 + f)]) * mixing[size_t(f * k + i)];
        x[size_t(r * k + i)] = v;
        // A systematic part (a shrink) and a random part, as quantization
        // noise has both.
        xt[size_t(r * k + i)] = 0.95 * v + err[size_t(r * k + i)];
      }
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j) {
        double h = 0.0, c = 0.0;
        for (int64_t r = 0; r < n; ++r) {
          h += xt[size_t(r * k + i)] * xt[size_t(r * k + j)];
          c += xt[size_t(r * k + i)] * x[size_t(r * k + j)];
        }
        hessian[size_t(i * k + j)] = float(h / double(n));
        cross[size_t(i * k + j)] = float(c / double(n));
      }
  }

  /// Σ_r ‖W·x_r − A·x̃_r‖² / Σ_r ‖W·x_r‖²: how far the layer with weight
  /// `a` on perturbed inputs is from the float layer on clean ones.
  double asymmetricError(const std::vector<float> &w,
                         const std::vector<float> &a, int64_t rows) const {
    double error = 0.0, signal = 0.0;
    for (int64_t r = 0; r < n; ++r)
      for (int64_t o = 0; o < rows; ++o) {
        double clean = 0.0, perturbed = 0.0;
        for (int64_t i = 0; i < k; ++i) {
          clean += double(w[size_t(o * k + i)]) * x[size_t(r * k + i)];
          perturbed += double(a[size_t(o * k + i)]) * xt[size_t(r * k + i)];
        }
        error += (clean - perturbed) * (clean - perturbed);
        signal += clean * clean;
      }
    return error / signal;
  }
};

/// max |T·(H̃ + λI) − W·Cᵀ − λ·W| relative to max |W·Cᵀ + λ·W|: how far
/// T is from solving the damped normal equations.
double normalEquationsResidual(const std::vector<float> &t,
                               const std::vector<float> &w, int64_t rows,
                               const PerturbedInputs &in, double lambda) {
  const int64_t k = in.k;
  double worst = 0.0, scale = 0.0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < k; ++j) {
      double lhs = lambda * t[size_t(r * k + j)];
      double rhs = lambda * w[size_t(r * k + j)];
      for (int64_t i = 0; i < k; ++i) {
        lhs += double(t[size_t(r * k + i)]) * in.hessian[size_t(i * k + j)];
        rhs += double(w[size_t(r * k + i)]) * in.cross[size_t(j * k + i)];
      }
      worst = std::max(worst, std::fabs(lhs - rhs));
      scale = std::max(scale, std::fabs(rhs));
    }
  return worst / scale;
}

std::vector<float> target(const std::vector<float> &w, int64_t rows,
                          const PerturbedInputs &in, double damping,
                          double blend, unsigned threads = 1) {
  std::vector<float> out(w.size());
  Status s =
      asymmetricTarget(w.data(), rows, in.k, in.hessian.data(), in.cross.data(),
                       damping, blend, out.data(), threads);
  EXPECT_TRUE(s.isOk()) << s.message();
  return out;
}

TEST(GptqAsymmetric, SolvesTheNormalEquations) {
  const int64_t rows = 5, k = 40;
  PerturbedInputs in(400, k, 0.3f, 11);
  std::vector<float> w = gaussian(size_t(rows * k), 12);
  std::vector<float> t = target(w, rows, in, 0.0, 1.0);
  // T·H̃ = W·Cᵀ.
  EXPECT_LT(normalEquationsResidual(t, w, rows, in, 0.0), 1e-4);
  // The least-squares weight fits the float outputs better than W does.
  EXPECT_LT(in.asymmetricError(w, t, rows),
            0.8 * in.asymmetricError(w, w, rows));
}

TEST(GptqAsymmetric, UnperturbedInputsKeepTheWeight) {
  const int64_t rows = 3, k = 24;
  PerturbedInputs in(300, k, 0.2f, 21);
  // x̃ = x: C = H̃, so the target is W, with or without damping (which
  // pulls toward W, not toward 0).
  in.cross = in.hessian;
  std::vector<float> w = gaussian(size_t(rows * k), 22);
  for (double damping : {0.0, 0.01, 0.5}) {
    std::vector<float> t = target(w, rows, in, damping, 1.0);
    for (size_t i = 0; i < w.size(); ++i)
      EXPECT_NEAR(t[i], w[i], 1e-4) << i << " damping " << damping;
  }
}

TEST(GptqAsymmetric, BlendInterpolatesAndWorksInPlace) {
  const int64_t rows = 4, k = 32;
  PerturbedInputs in(300, k, 0.3f, 31);
  std::vector<float> w = gaussian(size_t(rows * k), 32);
  std::vector<float> none = target(w, rows, in, 0.01, 0.0);
  std::vector<float> full = target(w, rows, in, 0.01, 1.0);
  std::vector<float> half = target(w, rows, in, 0.01, 0.5);
  EXPECT_EQ(none, w);
  for (size_t i = 0; i < w.size(); ++i)
    EXPECT_NEAR(half[i], 0.5f * (w[i] + full[i]), 1e-5f) << i;
  std::vector<float> inPlace = w;
  ASSERT_TRUE(asymmetricTarget(inPlace.data(), rows, k, in.hessian.data(),
                               in.cross.data(), 0.01, 0.5, inPlace.data())
                  .isOk());
  EXPECT_EQ(inPlace, half);
  EXPECT_EQ(target(w, rows, in, 0.01, 0.5, 3), half);
}

TEST(GptqAsymmetric, DampsLikeGptq) {
  const int64_t rows = 3, k = 32;
  PerturbedInputs in(300, k, 0.3f, 41);
  std::vector<float> w = gaussian(size_t(rows * k), 42);
  const double damping = 0.05;
  std::vector<float> t = target(w, rows, in, damping, 1.0);
  // T·(H̃ + λI) = W·Cᵀ + λ·W, λ = damping·mean(diag H̃).
  double mean = 0.0;
  for (int64_t i = 0; i < k; ++i)
    mean += in.hessian[size_t(i * k + i)];
  mean /= double(k);
  EXPECT_LT(normalEquationsResidual(t, w, rows, in, damping * mean), 1e-4);
}

/// The point of the target: GPTQ on it, with H̃, leaves the quantized layer
/// on perturbed inputs closer to the float layer on clean ones than GPTQ
/// on W with the same H̃ (and than plain GPTQ with the float model's H).
TEST(GptqAsymmetric, GptqOnTheTargetFitsTheFloatOutputs) {
  const int64_t rows = 32, k = 64;
  PerturbedInputs in(800, k, 0.25f, 51);
  std::vector<float> w = gaussian(size_t(rows * k), 52);
  Scheme scheme = makeScheme(Format::I4, 32, ScaleType::F16);
  GptqOptions options;
  auto quantized = [&](const std::vector<float> &weight) {
    Result<std::vector<uint8_t>> packed = quantizeGptq(
        scheme, weight.data(), rows, k, in.hessian.data(), options);
    EXPECT_TRUE(packed.isOk()) << packed.message();
    Result<std::vector<float>> back =
        dequantize(scheme, packed->data(), packed->size(), rows, k);
    EXPECT_TRUE(back.isOk()) << back.message();
    return *back;
  };
  double onW = in.asymmetricError(w, quantized(w), rows);
  double onTarget = in.asymmetricError(
      w, quantized(target(w, rows, in, options.damping, 1.0)), rows);
  EXPECT_LT(onTarget, 0.8 * onW) << onTarget << " vs " << onW;
}

TEST(GptqAsymmetric, RejectsBadInput) {
  const int64_t rows = 2, k = 8;
  PerturbedInputs in(50, k, 0.3f, 61);
  std::vector<float> w = gaussian(size_t(rows * k), 62), out(w.size());
  auto run = [&](const std::vector<float> &h, const std::vector<float> &c,
                 double damping, double blend) {
    return asymmetricTarget(w.data(), rows, k, h.data(), c.data(), damping,
                            blend, out.data());
  };
  EXPECT_TRUE(run(in.hessian, in.cross, 0.01, 0.5).isOk());
  for (double blend : {-0.1, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
    Status s = run(in.hessian, in.cross, 0.01, blend);
    ASSERT_FALSE(s.isOk());
    EXPECT_NE(s.message().find("blend"), std::string::npos) << s.message();
  }
  EXPECT_FALSE(run(in.hessian, in.cross, -1.0, 0.5).isOk());
  std::vector<float> badCross = in.cross;
  badCross[5] = std::numeric_limits<float>::infinity();
  Status s = run(in.hessian, badCross, 0.01, 0.5);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("cross-covariance"), std::string::npos);
  std::vector<float> negative = in.hessian;
  negative[3 * k + 3] = -1.0f;
  EXPECT_FALSE(run(negative, in.cross, 0.01, 0.5).isOk());
  // Rank one: not positive definite without damping.
  std::vector<float> rankOne(size_t(k * k));
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j)
      rankOne[size_t(i * k + j)] = float((i + 1) * (j + 1));
  s = run(rankOne, in.cross, 0.0, 0.5);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("positive definite"), std::string::npos);
  EXPECT_FALSE(asymmetricTarget(nullptr, rows, k, in.hessian.data(),
                                in.cross.data(), 0.01, 0.5, out.data())
                   .isOk());
  EXPECT_FALSE(asymmetricTarget(w.data(), 0, k, in.hessian.data(),
                                in.cross.data(), 0.01, 0.5, out.data())
                   .isOk());
}

} // namespace
