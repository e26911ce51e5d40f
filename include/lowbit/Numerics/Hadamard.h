//===- Hadamard.h - Blockwise Walsh-Hadamard rotation ----------*- C++ -*-===//
//
// Multiplying a weight by an orthogonal matrix R and its inputs by the same
// R leaves x·Wᵀ = (x·R)·(W·R)ᵀ unchanged, but spreads each input channel's
// magnitude over a block of channels: outlier columns of W are mixed with
// ordinary ones, so a block scale fits the rotated weight more tightly
// (QuaRot, Ashkboos et al., 2024; QuIP#, Tseng et al., 2024). lowbit uses
// R = diag(H_b/√b, H_b/√b, ...), the normalized Sylvester-Hadamard matrix
// of order b (a power of two) repeated along the diagonal. H_b/√b is
// symmetric and its own inverse, and x·R costs b·log2(b) additions per
// block with the fast Walsh-Hadamard transform.
//
// The transform is defined by its order of f32 operations so that every
// implementation (this one, lowbit.hadamard's lowering) agrees bit for bit:
// stages h = 1, 2, 4, ..., b/2 replace each pair (u, v) = (x[j], x[j+h]),
// j mod 2h < h, by (u + v, u − v); the last stage multiplies both by the
// f32 value of 1/√b.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_NUMERICS_HADAMARD_H
#define LOWBIT_NUMERICS_HADAMARD_H

#include "lowbit/Numerics/Status.h"

#include <cstdint>

namespace lowbit::numerics {

/// True when `blockSize` is a power of two of at least 2.
bool isHadamardBlockSize(int64_t blockSize);

/// Ok when `blockSize` is a power of two of at least 2 that divides `k`.
Status checkHadamardBlock(int64_t k, int64_t blockSize);

/// The f32 factor applied in the last stage: 1/√blockSize.
float hadamardScale(int64_t blockSize);

/// Rotates each of `rows` rows of `data` ([rows, k], row-major) in place:
/// row ← row · diag(H_b/√b, ...). numThreads 0: all cores.
Status hadamardRotateRows(float *data, int64_t rows, int64_t k,
                          int64_t blockSize, unsigned numThreads = 1);

/// h ← R·h·R for a symmetric [k, k] matrix (a Hessian of inputs x, which
/// become x·R): the Hessian of the rotated inputs.
Status hadamardRotateSymmetric(float *h, int64_t k, int64_t blockSize,
                               unsigned numThreads = 1);

} // namespace lowbit::numerics

#endif // LOWBIT_NUMERICS_HADAMARD_H
