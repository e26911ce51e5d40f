//===- VectorizeLinalg.cpp - Tile and vectorize float linalg ops ----------===//
//
// lowbit-lower-cpu turns lowbit.qmatmul into vector kernels; everything
// else (float matmuls, attention's batch matmuls, softmax, LayerNorm, GELU,
// bias adds, transposes) would reach convert-linalg-to-loops and run as
// scalar loops. This pass tiles and vectorizes those ops on tensors with
// upstream transforms:
//
//   1. tensor arith ops become linalg.generic (convert-elementwise-to-
//      linalg's patterns), and a contraction whose B is read along K
//      (`[N, K]` weights, attention's K) gets B transposed to `[K, N]`:
//      folded when B is a constant, else a linalg.transpose that step 2
//      vectorizes too;
//   2. each op is tiled with scf::tileUsingSCF (static tile sizes that
//      divide the static shapes, so no masks) and vectorized with
//      linalg::vectorize: contractions in register blocks of m-tile x
//      n-tile outputs with a K loop inside, other ops one row of their
//      innermost dimension at a time;
//   3. n-D vectors are unrolled to rows (vector unrolling patterns), the
//      accumulator rows are hoisted out of the K loops
//      (hoistLoopInvariantSubsets), unit dimensions are cast away, and
//      vector.contract is lowered to outer products, i.e. broadcast + FMA,
//      and vector.multi_reduction to vector.reduction.
//
// The result has only 1-D vectors and transfers, which the rest of
// lowbit-cpu-pipeline lowers (convert-vector-to-scf, convert-vector-to-llvm)
// without changes.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Dialect/Lowbit/Transforms/PassCounters.h"
#include "lowbit/Dialect/Lowbit/Transforms/Passes.h"

#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/TilingInterface.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/LoopInvariantCodeMotionUtils.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITVECTORIZELINALG
#include "lowbit/Dialect/Lowbit/Transforms/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;

//===----------------------------------------------------------------------===//
// Tile sizes
//===----------------------------------------------------------------------===//

/// The largest divisor of `size` not above `cap`, preferring multiples of
/// `multiple` (tiles then never need masks).
static int64_t pickTile(int64_t size, int64_t cap, int64_t multiple = 1) {
  cap = std::max<int64_t>(1, std::min(cap, size));
  if (multiple > 1)
    for (int64_t d = cap - cap % multiple; d >= multiple; d -= multiple)
      if (size % d == 0)
        return d;
  for (int64_t d = cap; d > 1; --d)
    if (size % d == 0)
      return d;
  return 1;
}

namespace {
/// What the pass knows about a contraction it can register-block.
struct ContractionInfo {
  unsigned m, n, k;
  SmallVector<unsigned> batch;
  /// The input read with (k, n) (or (n, k) before the transposition).
  unsigned rhsInput;
};
} // namespace

static bool isFloatTensor(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor && tensor.hasStaticShape() &&
         isa<FloatType>(tensor.getElementType());
}

/// Position of loop dimension `dim` among `map`'s results, if a result.
static std::optional<unsigned> resultPosition(AffineMap map, unsigned dim) {
  for (auto [i, expr] : llvm::enumerate(map.getResults()))
    if (auto d = dyn_cast<AffineDimExpr>(expr); d && d.getPosition() == dim)
      return i;
  return std::nullopt;
}

/// A contraction with one M, N and K dimension (plus batch dimensions),
/// static float operands, projected-permutation maps and an output whose
/// innermost dimension is N.
static std::optional<ContractionInfo> matchContraction(linalg::LinalgOp op) {
  if (!op.hasPureTensorSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || !linalg::isaContractionOpInterface(op))
    return std::nullopt;
  for (Value v : op->getOperands())
    if (!isFloatTensor(v.getType()))
      return std::nullopt;
  FailureOr<linalg::ContractionDimensions> dims =
      linalg::inferContractionDims(op);
  if (failed(dims) || dims->m.size() != 1 || dims->n.size() != 1 ||
      dims->k.size() != 1)
    return std::nullopt;
  ContractionInfo info{
      dims->m[0], dims->n[0], dims->k[0],
      SmallVector<unsigned>(dims->batch.begin(), dims->batch.end()), 0};
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  for (AffineMap map : maps)
    if (!map.isProjectedPermutation())
      return std::nullopt;
  AffineMap out = maps[2];
  if (out.getNumResults() == 0 ||
      resultPosition(out, info.n) != out.getNumResults() - 1)
    return std::nullopt;
  info.rhsInput = resultPosition(maps[1], info.n) ? 1 : 0;
  AffineMap rhs = maps[info.rhsInput];
  if (!resultPosition(rhs, info.k) || resultPosition(rhs, info.m))
    return std::nullopt;
  return info;
}

//===----------------------------------------------------------------------===//
// Step 1: B along N
//===----------------------------------------------------------------------===//

/// `attr` with dimensions `a` and `b` swapped (raw bytes; whole-byte
/// element types only).
static std::optional<DenseElementsAttr> swapDims(RankedTensorType type,
                                                 ArrayRef<char> raw, bool splat,
                                                 RankedTensorType newType,
                                                 unsigned a, unsigned b) {
  unsigned bits = type.getElementTypeBitWidth();
  if (bits % 8 != 0)
    return std::nullopt;
  size_t bytes = bits / 8;
  if (splat)
    return DenseElementsAttr::getFromRawBuffer(newType, raw);
  ArrayRef<int64_t> shape = type.getShape();
  int64_t rank = shape.size();
  // Strides of the source, permuted into the order of the result's dims.
  SmallVector<int64_t> strides(rank, 1);
  for (int64_t i = rank - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  std::swap(strides[a], strides[b]);
  ArrayRef<int64_t> newShape = newType.getShape();
  std::vector<char> out(raw.size());
  SmallVector<int64_t> index(rank, 0);
  int64_t count = newType.getNumElements();
  int64_t src = 0;
  for (int64_t i = 0; i < count; ++i) {
    std::memcpy(out.data() + i * bytes, raw.data() + src * bytes, bytes);
    for (int64_t d = rank - 1; d >= 0; --d) {
      src += strides[d];
      if (++index[d] < newShape[d])
        break;
      src -= strides[d] * newShape[d];
      index[d] = 0;
    }
  }
  return DenseElementsAttr::getFromRawBuffer(newType, out);
}

/// A constant `value` with dimensions `a` and `b` swapped, if it is one.
static Value foldSwappedConstant(PatternRewriter &rewriter, Location loc,
                                 Value value, RankedTensorType newType,
                                 unsigned a, unsigned b) {
  Attribute attr;
  if (!matchPattern(value, m_Constant(&attr)))
    return nullptr;
  auto type = cast<RankedTensorType>(value.getType());
  std::optional<DenseElementsAttr> swapped;
  if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    if (dense.getElementType().isInteger(1))
      return nullptr;
    swapped =
        swapDims(type, dense.getRawData(), dense.isSplat(), newType, a, b);
  } else if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob)
      return nullptr;
    ArrayRef<char> raw = blob->getData();
    if (int64_t(raw.size()) * 8 !=
        type.getNumElements() * type.getElementTypeBitWidth())
      return nullptr;
    swapped = swapDims(type, raw, false, newType, a, b);
  }
  if (!swapped)
    return nullptr;
  return arith::ConstantOp::create(rewriter, loc, newType, *swapped);
}

namespace {
/// `C += A · B` with B read as (…, n, k) becomes the same contraction on
/// Bᵀ read as (…, k, n), so that a row of B along N is one vector load.
struct TransposeContractionRhs
    : public OpInterfaceRewritePattern<linalg::LinalgOp> {
  using OpInterfaceRewritePattern::OpInterfaceRewritePattern;

  LogicalResult matchAndRewrite(linalg::LinalgOp op,
                                PatternRewriter &rewriter) const override {
    std::optional<ContractionInfo> info = matchContraction(op);
    if (!info)
      return rewriter.notifyMatchFailure(op, "not a supported contraction");
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    AffineMap rhsMap = maps[info->rhsInput];
    unsigned nPos = *resultPosition(rhsMap, info->n);
    unsigned kPos = *resultPosition(rhsMap, info->k);
    if (nPos == rhsMap.getNumResults() - 1)
      return rewriter.notifyMatchFailure(op, "B is already along N");
    if (kPos != rhsMap.getNumResults() - 1)
      return rewriter.notifyMatchFailure(op, "B is read along neither N nor K");

    Location loc = op.getLoc();
    Value rhs = op.getDpsInputOperand(info->rhsInput)->get();
    auto rhsType = cast<RankedTensorType>(rhs.getType());
    SmallVector<int64_t> perm =
        llvm::to_vector(llvm::seq<int64_t>(0, rhsType.getRank()));
    std::swap(perm[nPos], perm[kPos]);
    SmallVector<int64_t> shape = applyPermutation(rhsType.getShape(), perm);
    auto newType = rhsType.clone(shape);

    Value swapped =
        foldSwappedConstant(rewriter, loc, rhs, newType, nPos, kPos);
    if (!swapped) {
      Value init = tensor::EmptyOp::create(rewriter, loc, shape,
                                           rhsType.getElementType());
      swapped = linalg::TransposeOp::create(rewriter, loc, rhs, init, perm)
                    .getResult()[0];
    }

    SmallVector<AffineExpr> exprs(rhsMap.getResults());
    std::swap(exprs[nPos], exprs[kPos]);
    maps[info->rhsInput] =
        AffineMap::get(rhsMap.getNumDims(), 0, exprs, op.getContext());
    SmallVector<Value> inputs = op.getDpsInputs();
    inputs[info->rhsInput] = swapped;

    FailureOr<linalg::GenericOp> generic = failure();
    if (auto existing = dyn_cast<linalg::GenericOp>(op.getOperation()))
      generic = existing;
    else
      generic = linalg::generalizeNamedOp(rewriter, op);
    if (failed(generic))
      return failure();
    auto replacement = linalg::GenericOp::create(
        rewriter, loc, generic->getResultTypes(), inputs,
        generic->getDpsInits(), maps, generic->getIteratorTypesArray());
    rewriter.inlineRegionBefore(generic->getRegion(), replacement.getRegion(),
                                replacement.getRegion().begin());
    rewriter.replaceOp(*generic, replacement->getResults());
    return success();
  }
};
} // namespace

//===----------------------------------------------------------------------===//
// Step 2: tiling and vectorization
//===----------------------------------------------------------------------===//

/// True for ops whose body only computes (no tensor reads of their own,
/// e.g. the embedding gather's tensor.extract).
static bool hasPlainBody(linalg::LinalgOp op) {
  if (op->getNumRegions() != 1)
    return false;
  WalkResult walk = op->getRegion(0).walk([](Operation *inner) {
    if (isa<linalg::YieldOp, linalg::IndexOp>(inner))
      return WalkResult::advance();
    Dialect *dialect = inner->getDialect();
    if (!isa_and_present<arith::ArithDialect, math::MathDialect>(dialect))
      return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return !walk.wasInterrupted();
}

/// Static loop ranges of `op`, or none.
static std::optional<SmallVector<int64_t>> staticRanges(linalg::LinalgOp op) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (llvm::any_of(ranges, ShapedType::isDynamic))
    return std::nullopt;
  return ranges;
}

namespace {
struct TilePlan {
  SmallVector<int64_t> sizes;
  SmallVector<int64_t> interchange;
  bool contraction = false;
  /// Loop dimensions that stay even when their tile is 1 (a contraction's
  /// M, N and K, so that it stays a contraction).
  SmallVector<unsigned> keep;
};
} // namespace

namespace {
struct LowbitVectorizeLinalgPass
    : public mlir::lowbit::impl::LowbitVectorizeLinalgBase<
          LowbitVectorizeLinalgPass> {
  using Base::Base;

  void runOnOperation() override;

private:
  std::optional<TilePlan> plan(linalg::LinalgOp op) const;
  LogicalResult tileAndVectorize(RewriterBase &rewriter, linalg::LinalgOp op,
                                 const TilePlan &plan) const;
};
} // namespace

std::optional<TilePlan>
LowbitVectorizeLinalgPass::plan(linalg::LinalgOp op) const {
  if (!op.hasPureTensorSemantics() || op.getNumDpsInits() == 0 ||
      isa<linalg::ConvolutionOpInterface>(op.getOperation()) ||
      !hasPlainBody(op))
    return std::nullopt;
  std::optional<SmallVector<int64_t>> ranges = staticRanges(op);
  if (!ranges || ranges->empty())
    return std::nullopt;
  for (Value v : op->getOperands())
    if (auto t = dyn_cast<ShapedType>(v.getType()); t && !t.hasStaticShape())
      return std::nullopt;
  // Integer ops (masks, packed bytes) stay scalar.
  if (!llvm::all_of(op->getResultTypes(), [](Type t) {
        return isa<FloatType>(getElementTypeOrSelf(t));
      }))
    return std::nullopt;
  if (failed(linalg::vectorizeOpPrecondition(op)))
    return std::nullopt;

  unsigned numLoops = ranges->size();
  TilePlan result;
  result.sizes.assign(numLoops, 1);
  if (std::optional<ContractionInfo> info = matchContraction(op)) {
    AffineMap rhs = op.getIndexingMapsArray()[info->rhsInput];
    if (resultPosition(rhs, info->n) == rhs.getNumResults() - 1) {
      int64_t n = nTile > 0 ? nTile : 2 * vectorWidth;
      result.sizes[info->m] = pickTile((*ranges)[info->m], mTile);
      result.sizes[info->n] =
          pickTile((*ranges)[info->n], n, std::min<int64_t>(vectorWidth, 8));
      result.sizes[info->k] = pickTile((*ranges)[info->k], kTile);
      // Loops: batch, M, N outside, K innermost.
      result.interchange.append(info->batch.begin(), info->batch.end());
      result.interchange.append({info->m, info->n, info->k});
      if (result.interchange.size() != numLoops)
        return std::nullopt;
      result.contraction = true;
      result.keep = {info->m, info->n, info->k};
      return result;
    }
  }
  // Vectors run along the loop dimension that is contiguous in the largest
  // input (the output for ops without inputs, e.g. fills); every other
  // dimension, reductions included, is a loop of size-1 steps. An
  // all-parallel op that writes another dimension contiguously (a
  // transpose) gets square tiles instead, transposed in registers.
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  auto innermostDim = [&](OpOperand &operand) -> std::optional<unsigned> {
    AffineMap map = maps[operand.getOperandNumber()];
    if (map.getNumResults() == 0)
      return std::nullopt;
    if (auto d = dyn_cast<AffineDimExpr>(map.getResults().back()))
      return d.getPosition();
    return std::nullopt;
  };
  OpOperand *largest = nullptr;
  int64_t largestSize = -1;
  for (OpOperand *input : op.getDpsInputOperands()) {
    auto type = dyn_cast<ShapedType>(input->get().getType());
    if (type && type.getNumElements() > largestSize) {
      largest = input;
      largestSize = type.getNumElements();
    }
  }
  if (!largest)
    largest = op.getDpsInitOperand(0);
  std::optional<unsigned> vdim = innermostDim(*largest);
  if (!vdim)
    vdim = numLoops - 1;
  std::optional<unsigned> outDim = innermostDim(*op.getDpsInitOperand(0));
  bool transposing = outDim && *outDim != *vdim && (*ranges)[*outDim] > 1 &&
                     op.getNumParallelLoops() == numLoops;
  if (transposing) {
    result.sizes[*vdim] = pickTile((*ranges)[*vdim], 2 * 8, 8);
    result.sizes[*outDim] = pickTile((*ranges)[*outDim], 2 * 8, 8);
    // A 16x1 tile is a column gather, whose vector lowering does not
    // terminate; such transposes (a prime dimension) stay scalar loops.
    if (result.sizes[*vdim] == 1 || result.sizes[*outDim] == 1)
      return std::nullopt;
  } else {
    // A reduction along the vector runs over the whole row (up to
    // max-vector-size, one vector.reduction per row); elementwise ops take
    // a few registers at a time.
    bool reducing =
        op.getIteratorTypesArray()[*vdim] == utils::IteratorType::reduction;
    int64_t cap = reducing ? maxVectorSize
                           : std::min<int64_t>(maxVectorSize, 4 * vectorWidth);
    result.sizes[*vdim] = pickTile((*ranges)[*vdim], cap, vectorWidth);
  }
  return result;
}

LogicalResult LowbitVectorizeLinalgPass::tileAndVectorize(
    RewriterBase &rewriter, linalg::LinalgOp op, const TilePlan &plan) const {
  rewriter.setInsertionPoint(op);
  scf::SCFTilingOptions options;
  options.setTileSizes(getAsIndexOpFoldResult(op.getContext(), plan.sizes));
  if (!plan.interchange.empty())
    options.setInterchange(plan.interchange);
  FailureOr<scf::SCFTilingResult> tiled = scf::tileUsingSCF(
      rewriter, cast<TilingInterface>(op.getOperation()), options);
  if (failed(tiled))
    return failure();
  rewriter.replaceOp(op, tiled->replacements);

  for (Operation *tiledOp : tiled->tiledOps) {
    // The tile's size-1 dimensions are dropped first (rank-reducing
    // slices), so that a row tile vectorizes to 1-D vectors and a register
    // block to 2-D ones, with no unit dimensions to cast away later.
    rewriter.setInsertionPoint(tiledOp);
    auto generic = dyn_cast<linalg::GenericOp>(tiledOp);
    if (!generic) {
      FailureOr<linalg::GenericOp> generalized =
          linalg::generalizeNamedOp(rewriter, cast<linalg::LinalgOp>(tiledOp));
      if (failed(generalized))
        return failure();
      generic = *generalized;
    }
    linalg::ControlDropUnitDims control;
    control.rankReductionStrategy =
        linalg::ControlDropUnitDims::RankReductionStrategy::ExtractInsertSlice;
    control.controlFn = [&](Operation *op) {
      SmallVector<unsigned> dims;
      for (unsigned d : llvm::seq(cast<linalg::GenericOp>(op).getNumLoops()))
        if (!llvm::is_contained(plan.keep, d))
          dims.push_back(d);
      return dims;
    };
    FailureOr<linalg::DropUnitDimsResult> dropped =
        linalg::dropUnitDims(rewriter, generic, control);
    if (succeeded(dropped)) {
      rewriter.replaceOp(generic, dropped->replacements);
      generic = cast<linalg::GenericOp>(dropped->resultOp.getOperation());
    }
    rewriter.setInsertionPoint(generic);
    FailureOr<linalg::VectorizationResult> vectorized = linalg::vectorize(
        rewriter, generic, /*inputVectorSizes=*/{},
        /*inputScalableVecDims=*/{}, /*vectorizeNDExtract=*/false,
        /*flatten1DDepthwiseConv=*/false,
        /*assumeDynamicDimsMatchVecSizes=*/false,
        /*createNamedContraction=*/plan.contraction);
    if (failed(vectorized))
      return failure();
    rewriter.replaceOp(generic, vectorized->replacements);
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Step 3: 1-D vectors
//===----------------------------------------------------------------------===//

/// Rows for the n-D elementwise ops left (e.g. a tile whose vector
/// dimension does not divide further): every dimension 1 but the innermost.
static std::optional<SmallVector<int64_t>> rowShape(Operation *op) {
  if (!OpTrait::hasElementwiseMappableTraits(op) || op->getNumResults() != 1)
    return std::nullopt;
  auto type = dyn_cast<VectorType>(op->getResult(0).getType());
  if (!type || type.getRank() < 2)
    return std::nullopt;
  SmallVector<int64_t> row(type.getRank(), 1);
  row.back() = type.getShape().back();
  return row;
}

namespace {
/// Math ops without an LLVM intrinsic (math.erf, math.tanh, ...) reach
/// convert-math-to-libm, which only calls libm for scalars and runs after
/// the vector lowering: on vectors they are split into one scalar op per
/// element here (the same libm call per element as the scalar loops).
struct ScalarizeVectorMath : public RewritePattern {
  ScalarizeVectorMath(MLIRContext *context)
      : RewritePattern(MatchAnyOpTypeTag(), /*benefit=*/1, context) {}

  LogicalResult matchAndRewrite(Operation *op,
                                PatternRewriter &rewriter) const override {
    if (!isa_and_present<math::MathDialect>(op->getDialect()) ||
        op->getNumResults() != 1 || op->getNumRegions() != 0 ||
        !OpTrait::hasElementwiseMappableTraits(op))
      return failure();
    // Those convert-math-to-llvm lowers on vectors.
    if (isa<math::AbsFOp, math::CeilOp, math::CopySignOp, math::CosOp,
            math::SinOp, math::ExpOp, math::Exp2Op, math::ExpM1Op,
            math::FloorOp, math::FmaOp, math::LogOp, math::Log10Op,
            math::Log1pOp, math::Log2Op, math::PowFOp, math::RoundOp,
            math::RsqrtOp, math::SqrtOp, math::CountLeadingZerosOp,
            math::CountTrailingZerosOp, math::CtPopOp>(op))
      return failure();
    auto type = dyn_cast<VectorType>(op->getResult(0).getType());
    if (!type || type.getRank() != 1 || type.isScalable())
      return failure();
    for (Value operand : op->getOperands())
      if (operand.getType() != type &&
          !(isa<VectorType>(operand.getType()) &&
            cast<VectorType>(operand.getType()).getShape() == type.getShape()))
        return failure();

    Location loc = op->getLoc();
    SmallVector<ValueRange> elements;
    for (Value operand : op->getOperands())
      elements.push_back(
          vector::ToElementsOp::create(rewriter, loc, operand).getResults());
    SmallVector<Value> results;
    for (int64_t i = 0; i < type.getNumElements(); ++i) {
      SmallVector<Value> scalars;
      for (ValueRange range : elements)
        scalars.push_back(range[i]);
      OperationState state(loc, op->getName(), scalars,
                           TypeRange{type.getElementType()}, op->getAttrs());
      results.push_back(rewriter.create(state)->getResult(0));
    }
    rewriter.replaceOpWithNewOp<vector::FromElementsOp>(op, type, results);
    return success();
  }
};
} // namespace

/// Every canonicalization pattern of the ops and dialects the pass produces
/// (what -canonicalize would apply to them).
static void addCanonicalizations(RewritePatternSet &patterns) {
  MLIRContext *context = patterns.getContext();
  auto wanted = [](StringRef ns) {
    return llvm::is_contained(
        ArrayRef<StringRef>{"arith", "affine", "scf", "tensor", "vector"}, ns);
  };
  for (Dialect *dialect : context->getLoadedDialects())
    if (wanted(dialect->getNamespace()))
      dialect->getCanonicalizationPatterns(patterns);
  for (RegisteredOperationName op : context->getRegisteredOperations())
    if (wanted(op.getDialectNamespace()))
      op.getCanonicalizationPatterns(patterns, context);
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

void LowbitVectorizeLinalgPass::runOnOperation() {
  Operation *root = getOperation();
  // A failed rewrite is an error at the root, never a silent failure.
  auto fail = [&](StringRef what) {
    root->emitError("lowbit-vectorize-linalg: ") << what;
    signalPassFailure();
  };
  MLIRContext *context = &getContext();
  PassCounters counters{"contractions-vectorized", "ops-vectorized", "ops-left",
                        "nd-vector-ops"};

  // 1. Tensor arith ops to linalg.generic; B along N.
  {
    RewritePatternSet patterns(context);
    linalg::populateElementwiseToLinalgConversionPatterns(patterns);
    patterns.add<TransposeContractionRhs>(context);
    if (failed(applyPatternsGreedily(root, std::move(patterns))))
      return fail("rewrites did not converge");
  }

  // 2. Tile and vectorize, op by op.
  SmallVector<linalg::LinalgOp> candidates;
  root->walk([&](linalg::LinalgOp op) {
    if (op.hasPureTensorSemantics())
      candidates.push_back(op);
  });
  IRRewriter rewriter(context);
  for (linalg::LinalgOp op : candidates) {
    std::optional<TilePlan> opPlan = plan(op);
    if (!opPlan) {
      ++counters["ops-left"];
      continue;
    }
    if (failed(tileAndVectorize(rewriter, op, *opPlan))) {
      op.emitError("lowbit-vectorize-linalg: failed to vectorize");
      return signalPassFailure();
    }
    ++counters[opPlan->contraction ? "contractions-vectorized"
                                   : "ops-vectorized"];
  }

  // 3a. Clean up (what vectorize_children_and_apply_patterns applies):
  // tensor slices folded into the transfers, transfers with permutation
  // maps made minor identities plus transposes.
  {
    RewritePatternSet patterns(context);
    tensor::populateFoldTensorSubsetOpPatterns(patterns);
    if (failed(applyPatternsGreedily(root, std::move(patterns))))
      return fail("rewrites did not converge");
  }
  {
    RewritePatternSet patterns(context);
    vector::populateVectorTransferPermutationMapLoweringPatterns(patterns);
    vector::populateVectorReductionToContractPatterns(patterns);
    vector::populateSinkVectorOpsPatterns(patterns);
    tensor::populateFoldTensorSubsetOpPatterns(patterns);
    vector::populateVectorStepLoweringPatterns(patterns);
    vector::populateCastAwayVectorLeadingOneDimPatterns(patterns);
    addCanonicalizations(patterns);
    if (failed(applyPatternsGreedily(root, std::move(patterns))))
      return fail("rewrites did not converge");
  }

  // 3b. Contractions to outer products (a broadcast and an FMA per row and
  // K step), reductions to vector.reduction per row, transposes and
  // broadcasts to rows.
  {
    RewritePatternSet patterns(context);
    vector::populateVectorContractLoweringPatterns(
        patterns, vector::VectorContractLowering::OuterProduct);
    vector::populateVectorMultiReductionLoweringPatterns(
        patterns, vector::VectorMultiReductionLowering::InnerReduction);
    vector::populateVectorTransposeLoweringPatterns(
        patterns, vector::VectorTransposeLowering::EltWise);
    vector::populateVectorBroadcastLoweringPatterns(patterns);
    vector::populateVectorUnrollPatterns(
        patterns, vector::UnrollVectorOptions().setNativeShapeFn(rowShape));
    vector::populateVectorInsertExtractStridedSliceTransforms(patterns);
    vector::populateCastAwayVectorLeadingOneDimPatterns(patterns);
    // Not every canonicalization: some undo these lowerings (insertion
    // chains back into broadcasts); folds still apply.
    vector::populateVectorToVectorCanonicalizationPatterns(patterns);
    if (failed(applyPatternsGreedily(root, std::move(patterns))))
      return fail("rewrites did not converge");
  }

  // 3c. n-D transfers to rows (1-D transfers).
  {
    RewritePatternSet patterns(context);
    populateVectorToSCFConversionPatterns(patterns, VectorTransferToSCFOptions()
                                                        .enableFullUnroll()
                                                        .enableLowerTensors()
                                                        .setTargetRank(1));
    addCanonicalizations(patterns);
    if (failed(applyPatternsGreedily(root, std::move(patterns))))
      return fail("rewrites did not converge");
  }

  // 3d. Accumulator rows out of the K loops (innermost loops first): the
  // loop-invariant index computations first, then the matching
  // read/write pairs become iter_args.
  SmallVector<scf::ForOp> loops;
  root->walk([&](scf::ForOp loop) { loops.push_back(loop); });
  for (scf::ForOp loop : loops) {
    moveLoopInvariantCode(loop);
    (void)hoistLoopInvariantSubsets(rewriter, loop);
  }

  // 3e. Final clean-up; math ops without vector lowerings to scalars.
  {
    RewritePatternSet patterns(context);
    vector::populateCastAwayVectorLeadingOneDimPatterns(patterns);
    addCanonicalizations(patterns);
    patterns.add<ScalarizeVectorMath>(context);
    if (failed(applyPatternsGreedily(root, std::move(patterns))))
      return fail("rewrites did not converge");
  }
  root->walk([&](Operation *op) {
    if (llvm::any_of(op->getResultTypes(), [](Type t) {
          auto v = dyn_cast<VectorType>(t);
          return v && v.getRank() > 1;
        }))
      ++counters["nd-vector-ops"];
  });

  if (stats)
    counters.report(root, getArgument());
}
