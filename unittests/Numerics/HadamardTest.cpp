//===- HadamardTest.cpp - Blockwise Walsh-Hadamard rotation ---------------===//

#include "lowbit/Numerics/Hadamard.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

using namespace lowbit::numerics;

namespace {

/// Entry (i, j) of the Sylvester-Hadamard matrix: (-1)^popcount(i & j).
double sylvester(int64_t i, int64_t j) {
  return __builtin_popcountll(static_cast<uint64_t>(i & j)) % 2 ? -1.0 : 1.0;
}

std::vector<float> randomMatrix(int64_t rows, int64_t cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> m(static_cast<size_t>(rows * cols));
  for (float &v : m)
    v = normal(rng);
  return m;
}

/// row · diag(H_b/√b, ...) in double, straight from the definition.
std::vector<double> rotateByDefinition(const std::vector<float> &x,
                                       int64_t rows, int64_t k, int64_t b) {
  std::vector<double> out(x.size(), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < k; ++j) {
      int64_t start = j / b * b;
      double sum = 0.0;
      for (int64_t i = start; i < start + b; ++i)
        sum += x[r * k + i] * sylvester(i - start, j - start);
      out[r * k + j] = sum / std::sqrt(double(b));
    }
  return out;
}

TEST(HadamardTest, MatchesTheMatrixDefinition) {
  for (int64_t b : {2, 4, 16, 64, 128}) {
    int64_t rows = 3, k = 256;
    std::vector<float> x = randomMatrix(rows, k, unsigned(b));
    std::vector<double> want = rotateByDefinition(x, rows, k, b);
    ASSERT_TRUE(hadamardRotateRows(x.data(), rows, k, b, 2));
    for (size_t i = 0; i < x.size(); ++i)
      EXPECT_NEAR(x[i], want[i], 1e-4 * (1 + std::fabs(want[i])))
          << "block " << b << " element " << i;
  }
}

TEST(HadamardTest, IsItsOwnInverseAndKeepsNorms) {
  int64_t rows = 5, k = 384;
  std::vector<float> x = randomMatrix(rows, k, 1), y = x;
  ASSERT_TRUE(hadamardRotateRows(y.data(), rows, k, 128));
  for (int64_t r = 0; r < rows; ++r) {
    double a = 0, c = 0;
    for (int64_t j = 0; j < k; ++j) {
      a += double(x[r * k + j]) * x[r * k + j];
      c += double(y[r * k + j]) * y[r * k + j];
    }
    EXPECT_NEAR(std::sqrt(c), std::sqrt(a), 1e-4 * std::sqrt(a));
  }
  ASSERT_TRUE(hadamardRotateRows(y.data(), rows, k, 128));
  for (size_t i = 0; i < x.size(); ++i)
    EXPECT_NEAR(y[i], x[i], 1e-5f * (1 + std::fabs(x[i])));
}

TEST(HadamardTest, ThreadCountDoesNotChangeBits) {
  int64_t rows = 37, k = 128;
  std::vector<float> a = randomMatrix(rows, k, 3), b = a;
  ASSERT_TRUE(hadamardRotateRows(a.data(), rows, k, 64, 1));
  ASSERT_TRUE(hadamardRotateRows(b.data(), rows, k, 64, 0));
  EXPECT_EQ(a, b);
}

TEST(HadamardTest, SymmetricRotationIsRHR) {
  // H = XᵀX; the Hessian of the rotated inputs X·R is R·H·R = (XR)ᵀ(XR).
  int64_t n = 40, k = 32, b = 16;
  std::vector<float> x = randomMatrix(n, k, 5);
  std::vector<float> h(static_cast<size_t>(k * k), 0.0f);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j)
      for (int64_t r = 0; r < n; ++r)
        h[i * k + j] += x[r * k + i] * x[r * k + j];
  std::vector<float> xr = x;
  ASSERT_TRUE(hadamardRotateRows(xr.data(), n, k, b));
  ASSERT_TRUE(hadamardRotateSymmetric(h.data(), k, b));
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) {
      double want = 0;
      for (int64_t r = 0; r < n; ++r)
        want += double(xr[r * k + i]) * xr[r * k + j];
      EXPECT_NEAR(h[i * k + j], want, 1e-3 * (1 + std::fabs(want)));
    }
}

TEST(HadamardTest, RejectsBadBlocks) {
  std::vector<float> x(96, 1.0f);
  Status notPower = hadamardRotateRows(x.data(), 1, 96, 48);
  ASSERT_FALSE(notPower);
  EXPECT_EQ(notPower.message(),
            "Hadamard block size must be a power of two of at least 2, got 48");
  Status notDividing = hadamardRotateRows(x.data(), 1, 96, 64);
  ASSERT_FALSE(notDividing);
  EXPECT_EQ(notDividing.message(),
            "Hadamard block size 64 does not divide the dimension 96");
  EXPECT_FALSE(hadamardRotateRows(x.data(), 1, 96, 1));
  EXPECT_FALSE(hadamardRotateRows(x.data(), 1, 96, 0));
  EXPECT_FALSE(hadamardRotateRows(x.data(), -1, 96, 32));
  EXPECT_FALSE(checkHadamardBlock(0, 2));
  EXPECT_TRUE(checkHadamardBlock(96, 32));
}

} // namespace
