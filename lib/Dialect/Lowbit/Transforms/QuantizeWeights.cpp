//===- QuantizeWeights.cpp - Quantize constant matmul weights -------------===//
//
// Rewrites matmuls with a constant float weight into lowbit.qmatmul on a
// packed lowbit.weight. Matching works on indexing maps (through
// linalg::inferContractionDims), so named matmuls, transposed-B matmuls,
// batch matmuls with a broadcast weight and generic contractions are one case.
//
//===----------------------------------------------------------------------===//

#include "Hessians.h"
#include "LoraMatchers.h"
#include "MatmulMatchers.h"
#include "WeightUtils.h"

#include "lowbit/Dialect/Lowbit/IR/LowbitOps.h"
#include "lowbit/Dialect/Lowbit/Transforms/PassCounters.h"
#include "lowbit/Dialect/Lowbit/Transforms/Passes.h"
#include "lowbit/Dialect/Lowbit/Transforms/SchemeOptions.h"
#include "lowbit/Numerics/ErrorStats.h"
#include "lowbit/Numerics/Gptq.h"
#include "lowbit/Numerics/Hadamard.h"
#include "lowbit/Numerics/Quantize.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"
#include "llvm/Support/Regex.h"

#include <cmath>

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITQUANTIZEWEIGHTS
#include "lowbit/Dialect/Lowbit/Transforms/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
namespace nx = ::lowbit::numerics;

namespace {

/// y[..., n] = init + sum_k x[..., k] * W(n, k), W a float constant, possibly
/// widened to the matmul's element type on the way.
struct ConstantWeightMatmul {
  MatmulMatch matmul;
  /// The constant as stored, before any widening: f16/bf16 checkpoints are
  /// quantized from their 16-bit values (which widen to f32 exactly).
  ElementsAttr weight;
};

static std::optional<ConstantWeightMatmul>
matchConstantWeightMatmul(linalg::LinalgOp op) {
  std::optional<MatmulMatch> matmul = matchMatmulWithWeight(op);
  ElementsAttr weight;
  if (!matmul || !matchPattern(lookThroughFloatExtension(matmul->weight),
                               m_Constant(&weight)))
    return std::nullopt;
  return ConstantWeightMatmul{*matmul, weight};
}

/// Names a matmul for the skip list: the function, a `lowbit.name`
/// attribute and any name in its location.
static SmallVector<std::string> matmulNames(Operation *op) {
  SmallVector<std::string> names;
  if (auto func = op->getParentOfType<func::FuncOp>())
    names.push_back(func.getSymName().str());
  if (auto name = op->getAttrOfType<StringAttr>(LowbitDialect::kNameAttrName))
    names.push_back(name.str());
  op->getLoc()->walk([&](Location loc) {
    if (auto nameLoc = dyn_cast<NameLoc>(loc))
      names.push_back(nameLoc.getName().str());
    return WalkResult::advance();
  });
  return names;
}

/// What the pattern needs from the pass: the scheme, the filters, and the
/// statistics it updates.
struct QuantizeState {
  SchemeAttr scheme;
  /// The scheme of weights matched by int8Patterns.
  SchemeAttr int8Scheme;
  SmallVector<llvm::Regex> skipPatterns;
  SmallVector<llvm::Regex> int8Patterns;
  /// Matmuls against LoRA factors: adapters stay in higher precision.
  llvm::SmallPtrSet<Operation *, 8> loraFactors;
  int64_t minSize = 0;
  unsigned threads = 0;
  bool measureError = false;
  /// Calibration Hessians: weights with one are quantized with GPTQ.
  HessianFile *hessians = nullptr;
  nx::GptqOptions gptq;
  /// How far a weight with a cross-covariance moves toward its asymmetric
  /// least-squares target (0: not at all).
  double targetBlend = 0.5;
  /// Order of the Hadamard blocks weights are rotated by (0: none).
  int64_t hadamardBlock = 0;
  /// Set when a Hessian is malformed: the pass fails.
  bool failed = false;
  PassCounters counters{"weights-quantized",
                        "weights-skipped",
                        "bytes-before",
                        "bytes-after",
                        "mean-relative-rms-error-ppm",
                        "weights-int8",
                        "weights-gptq",
                        "mean-output-error-ppm",
                        "weights-rotated",
                        "weights-asymmetric"};
  double errorSum = 0.0;
  unsigned errorCount = 0;
  double outputErrorSum = 0.0;
  unsigned outputErrorCount = 0;
};

struct QuantizeConstantWeightMatmul
    : OpInterfaceRewritePattern<linalg::LinalgOp> {
  QuantizeConstantWeightMatmul(MLIRContext *context, QuantizeState &state)
      : OpInterfaceRewritePattern(context), state(state) {}

  LogicalResult matchAndRewrite(linalg::LinalgOp op,
                                PatternRewriter &rewriter) const override {
    if (state.loraFactors.contains(op))
      return failure();
    std::optional<ConstantWeightMatmul> match = matchConstantWeightMatmul(op);
    if (!match)
      return failure();
    return quantizeOne(rewriter, op, *match);
  }

private:
  static bool matchesAny(Operation *op, ArrayRef<llvm::Regex> patterns) {
    for (const std::string &name : matmulNames(op))
      for (const llvm::Regex &pattern : patterns)
        if (pattern.match(name))
          return true;
    return false;
  }

  LogicalResult skipWith(Operation *op, const Twine &reason) const {
    if (!reason.isTriviallyEmpty())
      op->emitRemark("weight not quantized: ") << reason;
    ++state.counters["weights-skipped"];
    return failure();
  }

  /// Quantizes one weight; returns its relative RMS error when rewritten.
  LogicalResult quantizeOne(PatternRewriter &rewriter, linalg::LinalgOp op,
                            const ConstantWeightMatmul &match) const {
    FailureOr<FloatConstant> constant = readFloatConstant(match.weight);
    if (failed(constant)) {
      return skipWith(op, "its constant is not a readable f32, f16 or bf16 "
                          "tensor");
    }
    // A constant widened to another type (say f16 to f64) must still give a
    // qmatmul on f32, f16 or bf16 tensors.
    Type computeType = getElementTypeOrSelf(match.matmul.input);
    if (!isa<Float32Type, Float16Type, BFloat16Type>(computeType))
      return skipWith(op, "the matmul computes in a type other than f32, f16 "
                          "or bf16");
    int64_t rows = constant->shape[0], cols = constant->shape[1];
    bool storedKN = !match.matmul.weightIsNK;
    int64_t n = storedKN ? cols : rows;
    int64_t k = storedKN ? rows : cols;
    if (n * k < state.minSize || matchesAny(op, state.skipPatterns))
      return skipWith(op, "");
    bool toInt8 = matchesAny(op, state.int8Patterns);
    SchemeAttr scheme = toInt8 ? state.int8Scheme : state.scheme;
    nx::Scheme numericsScheme = scheme.toNumerics();
    nx::Result<nx::PackedLayout> layout =
        nx::computeLayout(numericsScheme, n, k);
    if (!layout)
      return skipWith(op, layout.message());
    unsigned elementBytes = nx::elementTypeBytes(constant->elementType);
    std::vector<uint8_t> transposed;
    ArrayRef<uint8_t> weightNK = constant->bytes;
    if (storedKN) {
      transposed =
          transposeBytes(constant->bytes, k, n, elementBytes, state.threads);
      weightNK = transposed;
    }
    FailureOr<std::optional<std::vector<float>>> hessian = findHessian(op, k);
    if (failed(hessian))
      return failure();
    // What is quantized: the weight as stored, its asymmetric target, or
    // either times R, in f32.
    nx::ElementType quantType = constant->elementType;
    std::vector<float> target;
    if (*hessian) {
      FailureOr<std::optional<std::vector<float>>> cross = findCross(op, k);
      if (failed(cross))
        return failure();
      if (*cross && state.targetBlend > 0.0) {
        target = toF32(weightNK, quantType);
        if (nx::Status s = nx::asymmetricTarget(
                target.data(), n, k, (*hessian)->data(), (*cross)->data(),
                state.gptq.damping, state.targetBlend, target.data(),
                state.threads);
            !s) {
          state.failed = true;
          return op->emitError("asymmetric GPTQ target: ") << s.message();
        }
        weightNK =
            ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(target.data()),
                              target.size() * sizeof(float));
        quantType = nx::ElementType::F32;
        ++state.counters["weights-asymmetric"];
      }
    }
    std::vector<float> rotated;
    bool rotate = state.hadamardBlock != 0 && !toInt8;
    if (rotate && ShapedType::isDynamic(
                      cast<RankedTensorType>(match.matmul.input.getType())
                          .getShape()
                          .back())) {
      op->emitRemark("weight not rotated: the input's last dimension is "
                     "dynamic");
      rotate = false;
    }
    if (rotate && k % state.hadamardBlock != 0) {
      op->emitRemark("weight not rotated: K = ")
          << k << " is not a multiple of hadamard-block-size "
          << state.hadamardBlock;
      rotate = false;
    }
    if (rotate) {
      rotated = toF32(weightNK, constant->elementType);
      if (nx::Status s = nx::hadamardRotateRows(
              rotated.data(), n, k, state.hadamardBlock, state.threads);
          !s)
        return skipWith(op, s.message());
      if (*hessian)
        if (nx::Status s = nx::hadamardRotateSymmetric(
                (*hessian)->data(), k, state.hadamardBlock, state.threads);
            !s)
          return skipWith(op, s.message());
      weightNK =
          ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(rotated.data()),
                            rotated.size() * sizeof(float));
      quantType = nx::ElementType::F32;
    }
    std::vector<uint8_t> packed(layout->totalBytes);
    nx::QuantizeOptions qopts;
    qopts.numThreads = state.threads;
    if (*hessian) {
      // A rotated weight is already f32.
      std::vector<float> widened;
      if (!rotate)
        widened = toF32(weightNK, quantType);
      const float *weightF32 = rotate ? rotated.data() : widened.data();
      nx::GptqOptions gopts = state.gptq;
      gopts.numThreads = state.threads;
      if (nx::Status s = nx::quantizeGptq(numericsScheme, weightF32, n, k,
                                          (*hessian)->data(), packed.data(),
                                          packed.size(), gopts);
          !s) {
        state.failed = true;
        return op->emitError("GPTQ failed: ") << s.message();
      }
      ++state.counters["weights-gptq"];
    } else if (nx::Status s =
                   nx::quantize(numericsScheme, weightNK.data(), quantType, n,
                                k, packed.data(), packed.size(), qopts);
               !s) {
      return skipWith(op, s.message());
    }
    // The errors are only reported, so they are only computed when asked
    // for.
    if (state.measureError)
      measureErrors(numericsScheme, weightNK, quantType, packed, n, k,
                    *hessian ? &**hessian : nullptr, qopts);

    // The quantized tensor stands for the weight as stored (f16 for an f16
    // checkpoint); qmatmul converts it to f32 like the extension did.
    auto elementType = cast<FloatType>(match.weight.getElementType());
    auto qtype =
        QTensorType::get(op->getContext(), {n, k}, elementType, scheme);
    rewriter.setInsertionPoint(op);
    Location loc = op.getLoc();
    WeightOp weight =
        createInlineWeight(rewriter, loc, qtype, packed, "lowbit_weight");
    Type resultType = op->getResult(0).getType();
    Value input = match.matmul.input;
    if (rotate) {
      input =
          HadamardOp::create(rewriter, loc, input.getType(), input,
                             rewriter.getI64IntegerAttr(state.hadamardBlock));
      ++state.counters["weights-rotated"];
    }
    Value result = QMatmulOp::create(rewriter, loc, resultType, input, weight,
                                     Value(), Value(), Value(), FloatAttr());
    if (!isZeroTensor(match.matmul.init))
      result = arith::AddFOp::create(rewriter, loc, match.matmul.init, result);
    rewriter.replaceOp(op, result);

    ++state.errorCount;
    ++state.counters["weights-quantized"];
    if (toInt8)
      ++state.counters["weights-int8"];
    state.counters["bytes-before"] += uint64_t(n) * k * elementBytes;
    state.counters["bytes-after"] += packed.size();
    return success();
  }

  /// The Hessian of `op` when a file was given and holds one; fails (with
  /// an error) when it does not fit the weight.
  FailureOr<std::optional<std::vector<float>>> findHessian(Operation *op,
                                                           int64_t k) const {
    if (!state.hessians)
      return std::optional<std::vector<float>>();
    auto key = op->getAttrOfType<StringAttr>(LowbitDialect::kNameAttrName);
    if (!key) {
      op->emitRemark("no Hessian: the matmul has no lowbit.name; rounded to "
                     "nearest");
      return std::optional<std::vector<float>>();
    }
    FailureOr<std::optional<std::vector<float>>> found =
        state.hessians->lookup(op, key.getValue(), k);
    if (failed(found)) {
      state.failed = true;
      return failure();
    }
    if (!*found)
      op->emitRemark("no Hessian named '")
          << key.getValue() << "' in " << state.hessians->path()
          << "; rounded to nearest";
    return found;
  }

  /// The cross-covariance Σ x̃ xᵀ stored beside the Hessian of `op` (by
  /// asymmetric calibration), if any; fails when it does not fit.
  FailureOr<std::optional<std::vector<float>>> findCross(Operation *op,
                                                         int64_t k) const {
    auto key = op->getAttrOfType<StringAttr>(LowbitDialect::kNameAttrName);
    FailureOr<std::optional<std::vector<float>>> found =
        state.hessians->lookup(op, HessianFile::crossName(key.getValue()), k);
    if (failed(found))
      state.failed = true;
    return found;
  }

  /// Adds ‖W − dequant(quant(W))‖ / ‖W‖ (from the numerics core's
  /// statistics) and, given the weight's Hessian, ‖X·(W − Q)ᵀ‖² / ‖X·Wᵀ‖²
  /// on the calibration inputs behind it to the pass's error sums.
  void measureErrors(const nx::Scheme &scheme, ArrayRef<uint8_t> weight,
                     nx::ElementType type, const std::vector<uint8_t> &packed,
                     int64_t n, int64_t k, const std::vector<float> *hessian,
                     const nx::QuantizeOptions &options) const {
    state.outputErrorCount += hessian != nullptr;
    std::vector<float> reference = toF32(weight, type);
    nx::Result<std::vector<float>> approx =
        nx::dequantize(scheme, packed.data(), packed.size(), n, k, options);
    if (!approx)
      return;
    nx::Result<nx::ErrorStats> stats =
        nx::computeErrorStats(reference.data(), approx->data(), n * k);
    if (stats && !std::isinf(stats->snrDb))
      state.errorSum += std::pow(10.0, -stats->snrDb / 20.0);
    if (!hessian)
      return;
    nx::Result<double> error =
        nx::hessianWeightedError(reference.data(), approx->data(), n, k,
                                 hessian->data(), options.numThreads);
    if (error)
      state.outputErrorSum += *error;
  }

  QuantizeState &state;
};

struct QuantizeWeightsPass
    : mlir::lowbit::impl::LowbitQuantizeWeightsBase<QuantizeWeightsPass> {
  using LowbitQuantizeWeightsBase::LowbitQuantizeWeightsBase;

  LogicalResult initialize(MLIRContext *context) override {
    SchemeOptions options;
    options.format = format;
    options.blockSize = blockSize;
    options.perChannel = perChannel;
    options.symmetric = symmetric;
    options.scaleType = scaleType;
    options.doubleQuant = doubleQuant;
    options.doubleQuantFormat = doubleQuantFormat;
    options.doubleQuantBlockSize = doubleQuantBlockSize;
    nx::Result<nx::Scheme> built = buildScheme(options);
    if (!built)
      return emitError(UnknownLoc::get(context))
             << "lowbit-quantize-weights: " << built.message();
    scheme = SchemeAttr::fromNumericsChecked(
        [&] {
          return emitError(UnknownLoc::get(context))
                 << "lowbit-quantize-weights: ";
        },
        context, *built);
    if (!scheme)
      return failure();
    // Per-channel int8 with f32 scales: the int8 preset's scheme.
    SchemeOptions int8Options;
    int8Options.format = "int8";
    int8Options.perChannel = true;
    int8Options.scaleType = "f32";
    nx::Result<nx::Scheme> int8Built = buildScheme(int8Options);
    if (!int8Built)
      return emitError(UnknownLoc::get(context))
             << "lowbit-quantize-weights: " << int8Built.message();
    int8Scheme = SchemeAttr::fromNumerics(context, *int8Built);
    for (auto [list, patterns, what] :
         {std::make_tuple(&skip, &skipPatterns, "skip"),
          std::make_tuple(&int8, &int8Patterns, "int8")}) {
      patterns->clear();
      for (const std::string &pattern : *list) {
        std::string error;
        llvm::Regex regex(pattern);
        if (!regex.isValid(error))
          return emitError(UnknownLoc::get(context))
                 << "lowbit-quantize-weights: invalid " << what << " pattern '"
                 << pattern << "': " << error;
        patterns->push_back(pattern);
      }
    }
    if (!(gptqDamping >= 0.0) || !std::isfinite(gptqDamping))
      return emitError(UnknownLoc::get(context))
             << "lowbit-quantize-weights: gptq-damping must be a finite "
                "number >= 0, got "
             << double(gptqDamping);
    if (!(gptqTargetBlend >= 0.0 && gptqTargetBlend <= 1.0))
      return emitError(UnknownLoc::get(context))
             << "lowbit-quantize-weights: gptq-target-blend must be in "
                "[0, 1], got "
             << double(gptqTargetBlend);
    if (hadamardBlockSize != 0 && !nx::isHadamardBlockSize(hadamardBlockSize))
      return emitError(UnknownLoc::get(context))
             << "lowbit-quantize-weights: hadamard-block-size must be 0 or a "
                "power of two of at least 2, got "
             << int64_t(hadamardBlockSize);
    if (minSize < 0)
      return emitError(UnknownLoc::get(context))
             << "lowbit-quantize-weights: min-size must not be negative, got "
             << int64_t(minSize);
    return success();
  }

  void runOnOperation() override {
    QuantizeState state;
    state.scheme = scheme;
    state.int8Scheme = int8Scheme;
    for (const std::string &pattern : skipPatterns)
      state.skipPatterns.emplace_back(pattern);
    for (const std::string &pattern : int8Patterns)
      state.int8Patterns.emplace_back(pattern);
    state.minSize = minSize;
    state.hadamardBlock = hadamardBlockSize;
    state.loraFactors = findLoraFactorMatmuls(getOperation());
    state.threads = threads;
    state.measureError = stats;
    std::optional<HessianFile> hessianFile;
    if (!hessians.empty()) {
      FailureOr<HessianFile> opened = HessianFile::open(hessians, [&] {
        return getOperation().emitError() << "lowbit-quantize-weights: ";
      });
      if (failed(opened))
        return signalPassFailure();
      hessianFile = std::move(*opened);
      state.hessians = &*hessianFile;
      state.gptq.damping = gptqDamping;
      state.gptq.actOrder = gptqActOrder;
      state.gptq.clipSearch = gptqClip;
      state.gptq.refineSweeps = gptqRefine;
      state.targetBlend = gptqTargetBlend;
    }

    // One visit per op: a weight left float is reported once.
    RewritePatternSet patterns(&getContext());
    patterns.add<QuantizeConstantWeightMatmul>(&getContext(), state);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
    if (state.failed)
      return signalPassFailure();
    if (hessianFile)
      reportUnusedHessians(*hessianFile);
    if (state.outputErrorCount)
      state.counters["mean-output-error-ppm"] = uint64_t(
          std::llround(state.outputErrorSum / state.outputErrorCount * 1e6));
    if (state.errorCount)
      state.counters["mean-relative-rms-error-ppm"] =
          uint64_t(std::llround(state.errorSum / state.errorCount * 1e6));
    if (stats)
      state.counters.report(getOperation(), getArgument());
  }

private:
  /// Hessians that name no quantized matmul usually mean a file made for
  /// another model (or another import of it).
  void reportUnusedHessians(const HessianFile &file) {
    std::vector<std::string> unused = file.unusedNames();
    if (unused.empty())
      return;
    InFlightDiagnostic diag = getOperation().emitWarning()
                              << unused.size() << " Hessians in " << file.path()
                              << " name no quantized matmul: ";
    for (auto [i, name] : llvm::enumerate(unused)) {
      if (i == 3) {
        diag << ", ...";
        break;
      }
      diag << (i ? ", " : "") << "'" << name << "'";
    }
  }

  SchemeAttr scheme, int8Scheme;
  SmallVector<std::string> skipPatterns, int8Patterns;
};

} // namespace
