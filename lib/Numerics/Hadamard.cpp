//===- Hadamard.cpp - Blockwise Walsh-Hadamard rotation -------------------===//

#include "lowbit/Numerics/Hadamard.h"

#include "Parallel.h"

#include <cmath>
#include <string>
#include <utility>

namespace lowbit::numerics {

using detail::parallelFor;

bool isHadamardBlockSize(int64_t blockSize) {
  return blockSize >= 2 && (blockSize & (blockSize - 1)) == 0;
}

Status checkHadamardBlock(int64_t k, int64_t blockSize) {
  if (!isHadamardBlockSize(blockSize))
    return Status::error("Hadamard block size must be a power of two of at "
                         "least 2, got " +
                         std::to_string(blockSize));
  if (k <= 0 || k % blockSize != 0)
    return Status::error("Hadamard block size " + std::to_string(blockSize) +
                         " does not divide the dimension " + std::to_string(k));
  return Status::ok();
}

float hadamardScale(int64_t blockSize) {
  return static_cast<float>(1.0 / std::sqrt(static_cast<double>(blockSize)));
}

/// One row, in the order of operations Hadamard.h defines.
static void rotateRow(float *row, int64_t k, int64_t blockSize, float scale) {
  for (int64_t half = 1; half < blockSize; half *= 2) {
    bool last = 2 * half == blockSize;
    for (int64_t start = 0; start < k; start += 2 * half)
      for (int64_t j = start; j < start + half; ++j) {
        float u = row[j], v = row[j + half];
        float sum = u + v, diff = u - v;
        row[j] = last ? sum * scale : sum;
        row[j + half] = last ? diff * scale : diff;
      }
  }
}

Status hadamardRotateRows(float *data, int64_t rows, int64_t k,
                          int64_t blockSize, unsigned numThreads) {
  if (Status s = checkHadamardBlock(k, blockSize); !s)
    return s;
  if (rows < 0)
    return Status::error("negative row count " + std::to_string(rows));
  float scale = hadamardScale(blockSize);
  parallelFor(rows, numThreads, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      rotateRow(data + r * k, k, blockSize, scale);
  });
  return Status::ok();
}

Status hadamardRotateSymmetric(float *h, int64_t k, int64_t blockSize,
                               unsigned numThreads) {
  // Rows first: h·R. Its transpose is R·h (h and R are symmetric), whose
  // rows rotated give R·h·R.
  if (Status s = hadamardRotateRows(h, k, k, blockSize, numThreads); !s)
    return s;
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = i + 1; j < k; ++j)
      std::swap(h[i * k + j], h[j * k + i]);
  return hadamardRotateRows(h, k, k, blockSize, numThreads);
}

} // namespace lowbit::numerics
