//===- Gptq.h - Calibrated quantization with error feedback ----*- C++ -*-===//
//
// GPTQ (Frantar et al., 2022) chooses each weight's code knowing how the
// layer's inputs correlate: after rounding column k, the error is spread
// over the columns not yet rounded, weighted by the inverse Hessian
// H = sum over calibration rows of x xᵀ, so that ‖x·Wᵀ − x·Qᵀ‖ over the
// calibration inputs is small rather than ‖W − Q‖. The result is an
// ordinary canonical buffer of the scheme: decoders do not know it was made
// by GPTQ.
//
// Block parameters (scales, zero points, minimums, double quantization) are
// those of round-to-nearest quantize() on the original weights ("static
// groups"), optionally with each block's range clipped where that lowers
// the input-weighted error, so columns may be visited in any order
// (act-order) without changing the layout. Codes are then chosen against
// the parameters as the decoder sees them (after double quantization).
//
// GPTQ visits each column once and never revisits a choice. Optional
// refinement sweeps then run coordinate descent on the same objective
// (as QuantEase, Behdin et al., 2023): each code in turn is set to the
// level nearest to its optimum with all other codes fixed, which never
// increases the error on the calibration inputs.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_NUMERICS_GPTQ_H
#define LOWBIT_NUMERICS_GPTQ_H

#include "lowbit/Numerics/Scheme.h"
#include "lowbit/Numerics/Status.h"

#include <cstdint>
#include <vector>

namespace lowbit::numerics {

struct GptqOptions {
  /// Added to H's diagonal, as a fraction of its mean (AutoGPTQ's
  /// damp_percent / 100). Keeps the factorization stable when calibration
  /// inputs are few or correlated.
  double damping = 0.01;
  /// Visit columns in order of decreasing H diagonal (AutoGPTQ desc_act):
  /// the inputs with the most energy are rounded first, while the most
  /// columns remain to absorb their error.
  bool actOrder = true;
  /// Before GPTQ, narrow each block's range by the factor (1, 0.95, ...,
  /// 0.55) whose round-to-nearest error, weighted by H's diagonal (how
  /// loud each input is), is smallest: activation-aware clipping, as AWQ
  /// and llama.cpp's importance-weighted quantizers search it.
  bool clipSearch = true;
  /// Coordinate-descent passes over all codes after GPTQ (0: none). Each
  /// pass costs about as much as the GPTQ sweep; passes stop early once
  /// none changes a code.
  unsigned refineSweeps = 0;
  /// Worker threads over rows; 0 means one per hardware thread. Results do
  /// not depend on the thread count.
  unsigned numThreads = 1;
};

/// Quantizes the row-major f32 [rows x k] weight `w` into `dst` (which must
/// hold computeLayout(scheme, rows, k).totalBytes bytes) with GPTQ, given
/// `hessian`, the row-major f32 [k x k] matrix sum_i x_i x_iᵀ (any positive
/// multiple) over calibration inputs x_i of the layer. Columns whose
/// diagonal is zero (inputs never seen) are rounded to nearest. With a
/// diagonal H and no clip search the codes are those of quantize(), except
/// that double-quantized schemes round against the decoded scales. Fails when
/// the shapes do not fit the scheme, an element of `w` or `hessian` is not
/// finite, a diagonal entry is negative, or H plus damping is not positive
/// definite.
Status quantizeGptq(const Scheme &scheme, const float *w, int64_t rows,
                    int64_t k, const float *hessian, uint8_t *dst,
                    uint64_t dstSize, const GptqOptions &options = {});

/// Convenience overload returning a freshly allocated buffer.
Result<std::vector<uint8_t>> quantizeGptq(const Scheme &scheme, const float *w,
                                          int64_t rows, int64_t k,
                                          const float *hessian,
                                          const GptqOptions &options = {});

/// The weight to quantize when the quantized model's layer will not see the
/// float model's inputs x but perturbed ones x̃ (the quantized layers before
/// it change them). Minimizing ‖X·Wᵀ − X̃·Qᵀ‖² over the calibration rows is
/// GPTQ on the target W* = W·Cᵀ·H̃⁻¹ with the Hessian H̃ = Σ x̃ x̃ᵀ, where
/// C = Σ x̃ xᵀ (the asymmetric calibration of GPTAQ, Li et al., 2025): W*
/// is the least-squares weight that maps x̃ to the float outputs. With the
/// damping D that quantizeGptq adds to H̃'s diagonal (pass the same
/// damping), W* solves W*·(H̃ + D) = W·Cᵀ + W·D: ridge regression toward W,
/// so W* = W when x̃ = x, and directions the calibration rows barely span
/// keep W. Writes (1 − blend)·W + blend·W* to `out` ([rows x k], may
/// equal `w`); a blend below 1 shrinks the least-squares step further.
/// `hessian` and `cross` are row-major f32
/// [k x k] (cross[i][j] = Σ x̃_i x_j) with the same normalization. Fails on
/// non-finite input, a blend outside [0, 1], or an H̃ that damping does not
/// make positive definite.
Status asymmetricTarget(const float *w, int64_t rows, int64_t k,
                        const float *hessian, const float *cross,
                        double damping, double blend, float *out,
                        unsigned numThreads = 1);

/// The error GPTQ minimizes, relative to the output's size: with D = W − A,
/// sum_r D_r H D_rᵀ / sum_r W_r H W_rᵀ, i.e. ‖X·Dᵀ‖² / ‖X·Wᵀ‖² over the
/// calibration inputs that made H. `reference` and `approx` are row-major
/// [rows x k]; fails on non-finite input or a zero denominator.
Result<double> hessianWeightedError(const float *reference, const float *approx,
                                    int64_t rows, int64_t k,
                                    const float *hessian,
                                    unsigned numThreads = 1);

} // namespace lowbit::numerics

#endif // LOWBIT_NUMERICS_GPTQ_H
