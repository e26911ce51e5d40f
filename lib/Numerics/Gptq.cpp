//===- Gptq.cpp - Calibrated quantization with error feedback -------------===//
//
// Three steps: round-to-nearest quantize() fixes every block's parameters;
// the damped Hessian (columns permuted for act-order) gives U, the upper
// Cholesky factor of its inverse; then each row is swept column by column,
// rounding against the decoded block parameters and pushing the scaled
// rounding error onto the remaining columns along U's row. Rows are
// independent, so tiles of rows run in parallel and share each row of U
// while it is in cache. Optional refinement sweeps then revisit each
// tile's codes by coordinate descent on the damped Hessian.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Numerics/Gptq.h"

#include "Kernels.h"
#include "Parallel.h"
#include "QuantizePlan.h"
#include "lowbit/Numerics/Layout.h"
#include "lowbit/Numerics/Quantize.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>

namespace lowbit::numerics {

using detail::Buffer;
using detail::parallelFor;

namespace {

std::string position(int64_t row, int64_t column) {
  return "(row " + std::to_string(row) + ", column " + std::to_string(column) +
         ")";
}

Status checkFinite(const float *values, int64_t rows, int64_t k,
                   const char *what) {
  for (int64_t i = 0; i < rows * k; ++i)
    if (!std::isfinite(values[i]))
      return Status::error(std::string(what) + " element " +
                           position(i / k, i % k) + " is not finite");
  return Status::ok();
}

/// A block as the decoder sees it: its scale and its zero point (Int) or
/// minimum (Min), 0 for symmetric formats.
struct BlockParams {
  float scale = 0.0f;
  float offset = 0.0f;
};

Result<std::vector<BlockParams>> readBlockParams(const Scheme &scheme,
                                                 const PackedLayout &layout,
                                                 const uint8_t *packed) {
  Result<std::vector<float>> scales =
      decodeScales(scheme, packed, layout.totalBytes, layout.rows, layout.k);
  if (!scales)
    return scales.status();
  std::vector<BlockParams> params(scales->size());
  for (size_t i = 0; i < params.size(); ++i)
    params[i] = {(*scales)[i],
                 detail::blockOffset(scheme, layout, packed, uint64_t(i))};
  return params;
}

/// Rounds one value against its block's parameters and decodes a code with
/// the helpers quantize() and dequantize() use for whole blocks, so GPTQ
/// and round-to-nearest agree on what "nearest" means.
class ElementCoder {
public:
  explicit ElementCoder(const Scheme &scheme)
      : kt(kernels::activeKernels()), plan(detail::makePlan(scheme)),
        zeroPoint(scheme.zeroPoint), mode(detail::decodeMode(zeroPoint)) {}

  uint8_t encode(float v, BlockParams p) const {
    uint8_t code;
    detail::encodeBlockWith(kt, plan, zeroPoint, &v, 1, p.scale, p.offset,
                            &code);
    // Signed codes come back as two's complement bytes; the stored code is
    // their low bits, as the row packing keeps them.
    return uint8_t(code & ((1u << plan.bits) - 1));
  }

  float decode(uint8_t code, BlockParams p) const {
    float out;
    kt.decode(&code, 1, plan.decodeTable.data(), plan.tableSize, mode, p.scale,
              p.offset, &out);
    return out;
  }

  unsigned bits() const { return plan.bits; }
  const kernels::KernelTable &kernels() const { return kt; }

private:
  const kernels::KernelTable &kt;
  detail::QuantizePlan plan;
  ZeroPoint zeroPoint;
  int mode;
};

/// Column visiting order: by decreasing diagonal with act-order (ties keep
/// the lower column first), else 0..k-1.
std::vector<int64_t> columnOrder(const float *hessian, int64_t k,
                                 bool actOrder) {
  std::vector<int64_t> order(size_t(k), 0);
  std::iota(order.begin(), order.end(), int64_t(0));
  if (actOrder)
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return hessian[a * k + a] > hessian[b * k + b];
    });
  return order;
}

/// H with unseen columns given a unit diagonal and `damping` times the mean
/// diagonal added: the matrix both the GPTQ sweep (through its inverse) and
/// the refinement minimize against. Only the diagonal is stored; the rest
/// is read from the caller's k x k matrix, which can be large.
class DampedHessian {
public:
  DampedHessian(const float *hessian, int64_t k, double damping)
      : hessian(hessian), k(k), diagonal(size_t(k)) {
    double meanDiagonal = 0.0;
    for (int64_t i = 0; i < k; ++i) {
      double d = double(hessian[i * k + i]);
      diagonal[size_t(i)] = d == 0.0 ? 1.0 : d;
      meanDiagonal += diagonal[size_t(i)];
    }
    meanDiagonal /= double(k);
    for (double &d : diagonal)
      d += damping * meanDiagonal;
  }

  double at(int64_t i, int64_t j) const {
    return i == j ? diagonal[size_t(i)] : double(hessian[i * k + j]);
  }
  /// Row i as stored (undamped diagonal) and the damped diagonal entry.
  const float *row(int64_t i) const { return hessian + i * k; }
  double diagonalAt(int64_t i) const { return diagonal[size_t(i)]; }

private:
  const float *hessian;
  int64_t k;
  std::vector<double> diagonal;
};

/// U, upper triangular with Uᵀ·U = H⁻¹, where H is the damped hessian
/// permuted into `order`. Computed as the inverse of the "upper" Cholesky
/// factor Ũ (H = Ũ·Ũᵀ), which is the ordinary lower factor of H with rows
/// and columns reversed; one k x k double buffer holds the factor and then
/// its inverse.
Result<std::vector<float>>
inverseCholeskyUpper(const DampedHessian &damped, int64_t k,
                     const std::vector<int64_t> &order) {
  std::vector<double> a(size_t(k * k));
  // Reversed permuted order: a[i][j] = H[p[k-1-i]][p[k-1-j]].
  auto source = [&](int64_t i) { return order[size_t(k - 1 - i)]; };
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j <= i; ++j)
      a[size_t(i * k + j)] = damped.at(source(i), source(j));

  // Lower Cholesky factor L in place, row by row.
  for (int64_t i = 0; i < k; ++i) {
    double *ri = &a[size_t(i * k)];
    for (int64_t j = 0; j <= i; ++j) {
      const double *rj = &a[size_t(j * k)];
      double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      int64_t t = 0;
      for (; t + 4 <= j; t += 4) {
        s0 += ri[t] * rj[t];
        s1 += ri[t + 1] * rj[t + 1];
        s2 += ri[t + 2] * rj[t + 2];
        s3 += ri[t + 3] * rj[t + 3];
      }
      for (; t < j; ++t)
        s0 += ri[t] * rj[t];
      double s = ri[j] - ((s0 + s1) + (s2 + s3));
      if (j < i) {
        ri[j] = s / rj[j];
      } else if (s > 0.0 && std::isfinite(s)) {
        ri[i] = std::sqrt(s);
      } else {
        return Status::error(
            "the Hessian is not positive definite after damping (pivot of "
            "input column " +
            std::to_string(source(i)) +
            "); give more calibration inputs or a larger damping");
      }
    }
  }

  // X = L⁻¹ in place: row i of X is (e_i − Σ_{t<i} L[i][t]·X[t]) / L[i][i].
  std::vector<double> row(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) {
    double *ri = &a[size_t(i * k)];
    std::fill(row.begin(), row.begin() + i, 0.0);
    for (int64_t t = 0; t < i; ++t) {
      double c = ri[t];
      const double *xt = &a[size_t(t * k)];
      for (int64_t j = 0; j <= t; ++j)
        row[size_t(j)] -= c * xt[j];
    }
    double inv = 1.0 / ri[i];
    for (int64_t j = 0; j < i; ++j)
      ri[j] = row[size_t(j)] * inv;
    ri[i] = inv;
  }

  // U = J·X·J: U[i][j] = X[k-1-i][k-1-j] for j >= i.
  std::vector<float> u(size_t(k * k), 0.0f);
  for (int64_t i = 0; i < k; ++i) {
    const double *x = &a[size_t((k - 1 - i) * k)];
    for (int64_t j = i; j < k; ++j)
      u[size_t(i * k + j)] = float(x[k - 1 - j]);
  }
  return u;
}

/// Coordinate descent on Σ_r (w_r − q_r)·H·(w_r − q_r)ᵀ over one tile of
/// `n` rows whose GPTQ codes are in `codes` ([n x k], column order). With
/// g_r = H·(w_r − q_r) kept current, the best value of q_rj with every
/// other code fixed is q_rj + g_rj / H_jj; the code moves to the level
/// nearest to it (a convex quadratic along that coordinate, so the error
/// cannot grow), and a move by δ subtracts δ·H[j] from g_r. Columns are
/// visited in GPTQ's order; returns after `sweeps` passes or a pass that
/// changes nothing.
class TileRefiner {
public:
  TileRefiner(const ElementCoder &coder, const std::vector<BlockParams> &params,
              const DampedHessian &h, const std::vector<int64_t> &order,
              int64_t k, int64_t bpr)
      : coder(coder), params(params), h(h), order(order), k(k), bpr(bpr),
        block(k / bpr) {}

  bool allocate(int64_t rows) {
    return values.allocate(uint64_t(rows * k)) &&
           gradient.allocate(uint64_t(rows * k)) &&
           residual.allocate(uint64_t(rows * k));
  }

  void refine(const float *w, int64_t r0, int64_t n, uint8_t *codes,
              unsigned sweeps) {
    initialize(w, r0, n, codes);
    for (unsigned sweep = 0; sweep < sweeps; ++sweep) {
      bool changed = false;
      for (int64_t column : order) {
        const float *hj = h.row(column);
        const double hjj = h.diagonalAt(column);
        // The stored row's diagonal entry is undamped; the update adds the
        // difference at `column`.
        const double diagonalExcess = hjj - double(hj[column]);
        const double inverseDiagonal = 1.0 / hjj;
        for (int64_t r = 0; r < n; ++r) {
          double *q = &values[uint64_t(r * k)];
          double *g = &gradient[uint64_t(r * k)];
          double target = q[column] + g[column] * inverseDiagonal;
          if (!std::isfinite(target))
            continue;
          BlockParams p = blockOf(r0 + r, column);
          uint8_t code = coder.encode(float(target), p);
          uint8_t &current = codes[r * k + column];
          if (code == current)
            continue;
          current = code;
          double delta = double(coder.decode(code, p)) - q[column];
          if (delta == 0.0)
            continue;
          q[column] += delta;
          for (int64_t m = 0; m < k; ++m)
            g[m] -= delta * double(hj[m]);
          g[column] -= delta * diagonalExcess;
          changed = true;
        }
      }
      if (!changed)
        return;
    }
  }

private:
  BlockParams blockOf(int64_t row, int64_t column) const {
    return params[size_t(row * bpr + column / block)];
  }

  /// q_r from the codes and g_r = H·(w_r − q_r) for the tile's rows,
  /// streaming each row of H once per tile rather than once per weight row;
  /// four partial sums per entry so that the loop vectorizes.
  void initialize(const float *w, int64_t r0, int64_t n, const uint8_t *codes) {
    for (int64_t r = 0; r < n; ++r)
      for (int64_t j = 0; j < k; ++j) {
        uint64_t at = uint64_t(r * k + j);
        values[at] = double(coder.decode(codes[at], blockOf(r0 + r, j)));
        residual[at] = double(w[(r0 + r) * k + j]) - values[at];
      }
    for (int64_t i = 0; i < k; ++i) {
      const float *hi = h.row(i);
      const double diagonalExcess = h.diagonalAt(i) - double(hi[i]);
      for (int64_t r = 0; r < n; ++r) {
        const double *e = &residual[uint64_t(r * k)];
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int64_t j = 0;
        for (; j + 4 <= k; j += 4) {
          s0 += double(hi[j]) * e[j];
          s1 += double(hi[j + 1]) * e[j + 1];
          s2 += double(hi[j + 2]) * e[j + 2];
          s3 += double(hi[j + 3]) * e[j + 3];
        }
        for (; j < k; ++j)
          s0 += double(hi[j]) * e[j];
        gradient[uint64_t(r * k + i)] =
            (s0 + s1) + (s2 + s3) + diagonalExcess * e[i];
      }
    }
  }

  const ElementCoder &coder;
  const std::vector<BlockParams> &params;
  const DampedHessian &h;
  const std::vector<int64_t> &order;
  const int64_t k, bpr, block;
  Buffer<double> values, gradient, residual;
};

/// Per block, the clip factor (QuantizeOptions::clipRatios) whose
/// round-to-nearest error sum_i H_ii (w_i - q_i)^2 is smallest; ties keep
/// the wider range.
Result<std::vector<float>>
searchClipRatios(const Scheme &scheme, const PackedLayout &layout,
                 const float *w, const float *hessian, unsigned threads) {
  const int64_t rows = layout.rows, k = layout.k;
  const int64_t bpr = layout.blocksPerRow, block = k / bpr;
  const size_t blocks = size_t(rows * bpr);
  std::vector<float> best(blocks, 1.0f), trial(blocks);
  std::vector<double> bestError(blocks, 0.0);
  std::vector<uint8_t> packed(layout.totalBytes);
  std::vector<float> approx(size_t(rows * k));
  QuantizeOptions options;
  options.numThreads = threads;
  options.clipRatios = trial.data();
  for (int step = 0; step < 10; ++step) {
    float ratio = 1.0f - 0.05f * float(step);
    std::fill(trial.begin(), trial.end(), ratio);
    if (Status s = quantize(scheme, w, ElementType::F32, rows, k, packed.data(),
                            packed.size(), options);
        !s)
      return s;
    if (Status s = dequantize(scheme, packed.data(), packed.size(), rows, k,
                              approx.data(), ElementType::F32, options);
        !s)
      return s;
    parallelFor(rows, threads, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t j = 0; j < bpr; ++j) {
          double error = 0.0;
          for (int64_t i = j * block; i < (j + 1) * block; ++i) {
            double d = double(w[r * k + i]) - double(approx[size_t(r * k + i)]);
            error += double(hessian[i * k + i]) * d * d;
          }
          size_t b = size_t(r * bpr + j);
          if (step == 0 || error < bestError[b]) {
            bestError[b] = error;
            best[b] = ratio;
          }
        }
    });
  }
  return best;
}

/// A finite [k x k] matrix with a non-negative diagonal.
Status checkHessian(const float *hessian, int64_t k) {
  if (Status s = checkFinite(hessian, k, k, "Hessian"); !s)
    return s;
  for (int64_t i = 0; i < k; ++i)
    if (hessian[i * k + i] < 0.0f)
      return Status::error("Hessian diagonal element " + std::to_string(i) +
                           " is negative");
  return Status::ok();
}

} // namespace

Status quantizeGptq(const Scheme &scheme, const float *w, int64_t rows,
                    int64_t k, const float *hessian, uint8_t *dst,
                    uint64_t dstSize, const GptqOptions &options) {
  Result<PackedLayout> layoutOr = computeLayout(scheme, rows, k);
  if (!layoutOr)
    return layoutOr.status();
  const PackedLayout &layout = *layoutOr;
  if (!w || !hessian || !dst)
    return Status::error("null data pointer");
  if (!(options.damping >= 0.0) || !std::isfinite(options.damping))
    return Status::error("GPTQ damping must be a finite number >= 0, got " +
                         std::to_string(options.damping));
  if (Status s = checkFinite(w, rows, k, "weight"); !s)
    return s;
  if (Status s = checkHessian(hessian, k); !s)
    return s;

  // Round-to-nearest, with the searched clipping, fixes the block
  // parameters (and fails on a short destination).
  QuantizeOptions rtn;
  rtn.numThreads = options.numThreads;
  std::vector<float> clipRatios;
  if (options.clipSearch) {
    Result<std::vector<float>> searched =
        searchClipRatios(scheme, layout, w, hessian, options.numThreads);
    if (!searched)
      return searched.status();
    clipRatios = std::move(*searched);
    rtn.clipRatios = clipRatios.data();
  }
  if (Status s =
          quantize(scheme, w, ElementType::F32, rows, k, dst, dstSize, rtn);
      !s)
    return s;
  Result<std::vector<BlockParams>> paramsOr =
      readBlockParams(scheme, layout, dst);
  if (!paramsOr)
    return paramsOr.status();
  const std::vector<BlockParams> &params = *paramsOr;

  std::vector<int64_t> order = columnOrder(hessian, k, options.actOrder);
  const DampedHessian damped(hessian, k, options.damping);
  Result<std::vector<float>> uOr = inverseCholeskyUpper(damped, k, order);
  if (!uOr)
    return uOr.status();
  const std::vector<float> &u = *uOr;

  const ElementCoder coder(scheme);
  const int64_t bpr = layout.blocksPerRow;
  const int64_t block = k / bpr;
  constexpr int64_t kTileRows = 16;
  const int64_t tiles = (rows + kTileRows - 1) / kTileRows;
  std::atomic<bool> outOfMemory{false};
  auto sweep = [&](int64_t t0, int64_t t1) {
    Buffer<float> work, error;
    Buffer<uint8_t> codes;
    TileRefiner refiner(coder, params, damped, order, k, bpr);
    if (!work.allocate(uint64_t(kTileRows * k)) ||
        !codes.allocate(uint64_t(kTileRows * k)) ||
        !error.allocate(uint64_t(kTileRows)) ||
        (options.refineSweeps && !refiner.allocate(kTileRows))) {
      outOfMemory = true;
      return;
    }
    for (int64_t tile = t0; tile < t1; ++tile) {
      int64_t r0 = tile * kTileRows;
      int64_t n = std::min(kTileRows, rows - r0);
      for (int64_t r = 0; r < n; ++r)
        for (int64_t i = 0; i < k; ++i)
          work[uint64_t(r * k + i)] = w[(r0 + r) * k + order[size_t(i)]];
      for (int64_t i = 0; i < k; ++i) {
        int64_t column = order[size_t(i)];
        const float *ui = &u[size_t(i * k)];
        for (int64_t r = 0; r < n; ++r) {
          float v = work[uint64_t(r * k + i)];
          BlockParams p = params[size_t((r0 + r) * bpr + column / block)];
          uint8_t code = coder.encode(v, p);
          codes[uint64_t(r * k + column)] = code;
          error[uint64_t(r)] = (v - coder.decode(code, p)) / ui[i];
        }
        for (int64_t r = 0; r < n; ++r) {
          float e = error[uint64_t(r)];
          if (e == 0.0f)
            continue;
          float *wr = &work[uint64_t(r * k)];
          for (int64_t j = i + 1; j < k; ++j)
            wr[j] -= e * ui[j];
        }
      }
      if (options.refineSweeps)
        refiner.refine(w, r0, n, codes.data(), options.refineSweeps);
      for (int64_t r = 0; r < n; ++r)
        coder.kernels().pack(&codes[uint64_t(r * k)], k, coder.bits(),
                             dst + layout.codes.offset +
                                 uint64_t(r0 + r) * layout.rowBytes);
    }
  };
  parallelFor(tiles, options.numThreads, sweep);
  if (outOfMemory)
    return Status::error("out of memory for GPTQ row tiles");
  return Status::ok();
}

Result<std::vector<uint8_t>> quantizeGptq(const Scheme &scheme, const float *w,
                                          int64_t rows, int64_t k,
                                          const float *hessian,
                                          const GptqOptions &options) {
  Result<PackedLayout> layout = computeLayout(scheme, rows, k);
  if (!layout)
    return layout.status();
  std::vector<uint8_t> out(layout->totalBytes);
  if (Status s = quantizeGptq(scheme, w, rows, k, hessian, out.data(),
                              out.size(), options);
      !s)
    return s;
  return out;
}

Status asymmetricTarget(const float *w, int64_t rows, int64_t k,
                        const float *hessian, const float *cross,
                        double damping, double blend, float *out,
                        unsigned numThreads) {
  if (!w || !hessian || !cross || !out)
    return Status::error("null data pointer");
  if (rows <= 0 || k <= 0)
    return Status::error("the shape must be positive");
  if (!(damping >= 0.0) || !std::isfinite(damping))
    return Status::error("GPTQ damping must be a finite number >= 0, got " +
                         std::to_string(damping));
  if (!(blend >= 0.0 && blend <= 1.0))
    return Status::error("the target blend must be in [0, 1], got " +
                         std::to_string(blend));
  if (Status s = checkFinite(w, rows, k, "weight"); !s)
    return s;
  if (Status s = checkHessian(hessian, k); !s)
    return s;
  if (Status s = checkFinite(cross, k, k, "cross-covariance"); !s)
    return s;
  if (blend == 0.0) {
    if (out != w)
      std::copy(w, w + rows * k, out);
    return Status::ok();
  }

  // H̃⁻¹ = Uᵀ·U in natural column order, from the same damped matrix GPTQ
  // factors.
  std::vector<int64_t> natural(size_t(k), 0);
  std::iota(natural.begin(), natural.end(), int64_t(0));
  const DampedHessian damped(hessian, k, damping);
  Result<std::vector<float>> uOr = inverseCholeskyUpper(damped, k, natural);
  if (!uOr)
    return uOr.status();
  const std::vector<float> &u = *uOr;

  // The damping pulls the least-squares weight toward W (not toward 0):
  // T·(H̃ + D) = W·Cᵀ + W·D, with D the damping added to H̃'s diagonal, so
  // that T = W exactly when x̃ = x (C = H̃). Per row: m = C·w + D·w,
  // y = U·m, target = Uᵀ·y.
  parallelFor(rows, numThreads, [&](int64_t r0, int64_t r1) {
    std::vector<double> m(static_cast<size_t>(k)), y(static_cast<size_t>(k)),
        target(static_cast<size_t>(k));
    for (int64_t r = r0; r < r1; ++r) {
      const float *wr = w + r * k;
      for (int64_t i = 0; i < k; ++i) {
        const float *ci = cross + i * k;
        double sum = 0.0;
        for (int64_t j = 0; j < k; ++j)
          sum += double(ci[j]) * double(wr[j]);
        double ridge = damped.diagonalAt(i) - double(hessian[i * k + i]);
        m[size_t(i)] = sum + ridge * double(wr[i]);
      }
      for (int64_t i = 0; i < k; ++i) {
        const float *ui = &u[size_t(i * k)];
        double sum = 0.0;
        for (int64_t j = i; j < k; ++j)
          sum += double(ui[j]) * m[size_t(j)];
        y[size_t(i)] = sum;
      }
      std::fill(target.begin(), target.end(), 0.0);
      for (int64_t i = 0; i < k; ++i) {
        const float *ui = &u[size_t(i * k)];
        double yi = y[size_t(i)];
        for (int64_t j = i; j < k; ++j)
          target[size_t(j)] += ui[j] * yi;
      }
      float *o = out + r * k;
      for (int64_t j = 0; j < k; ++j)
        o[j] = float((1.0 - blend) * double(wr[j]) + blend * target[size_t(j)]);
    }
  });
  return Status::ok();
}

Result<double> hessianWeightedError(const float *reference, const float *approx,
                                    int64_t rows, int64_t k,
                                    const float *hessian, unsigned numThreads) {
  if (!reference || !approx || !hessian)
    return Status::error("null data pointer");
  if (rows <= 0 || k <= 0)
    return Status::error("the shape must be positive");
  for (auto [values, what] : {std::make_pair(reference, "reference"),
                              std::make_pair(approx, "approximation")})
    if (Status s = checkFinite(values, rows, k, what); !s)
      return s;
  if (Status s = checkFinite(hessian, k, k, "Hessian"); !s)
    return s;
  // Per-row terms, summed in row order afterwards: the result does not
  // depend on the thread count.
  std::vector<double> errorTerms(static_cast<size_t>(rows)),
      signalTerms(static_cast<size_t>(rows));
  auto quadratic = [&](const std::vector<double> &v) {
    double sum = 0.0;
    for (int64_t i = 0; i < k; ++i) {
      double hv = 0.0;
      for (int64_t j = 0; j < k; ++j)
        hv += double(hessian[i * k + j]) * v[size_t(j)];
      sum += v[size_t(i)] * hv;
    }
    return sum;
  };
  parallelFor(rows, numThreads, [&](int64_t r0, int64_t r1) {
    std::vector<double> d(static_cast<size_t>(k)), x(static_cast<size_t>(k));
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t i = 0; i < k; ++i) {
        x[size_t(i)] = double(reference[r * k + i]);
        d[size_t(i)] = x[size_t(i)] - double(approx[r * k + i]);
      }
      errorTerms[size_t(r)] = quadratic(d);
      signalTerms[size_t(r)] = quadratic(x);
    }
  });
  double error = std::accumulate(errorTerms.begin(), errorTerms.end(), 0.0);
  double signal = std::accumulate(signalTerms.begin(), signalTerms.end(), 0.0);
  if (!(signal > 0.0))
    return Status::error("the reference's Hessian-weighted norm is not "
                         "positive");
  return error / signal;
}

} // namespace lowbit::numerics
